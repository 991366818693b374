//! Holds end on time whatever the sweeper does, units come back exactly once, and only the
//! owner sees or releases a reservation.

use std::sync::Arc;
use std::time::Duration;

use burst::domain::sweeper::sweep;
use burst_tests::{Caller, TestEnv, assert_consistent, drop_body, herd, id_of};
use chrono::Utc;
use serde_json::json;

#[tokio::test]
async fn an_expired_hold_reads_expired_at_once_and_the_sweeper_returns_its_units() {
    let env = TestEnv::new().await;
    let drop_id = id_of(
        &env.create_drop(drop_body(3, json!({ "hold_seconds": 2 })))
            .await,
    );
    let held: Vec<String> = {
        let mut ids = Vec::new();
        for shopper in ["a", "b", "c"] {
            ids.push(env.hold(shopper, &drop_id).await);
        }
        ids
    };
    let live = env.get_reservation(Caller::Shopper("a"), &held[0]).await;
    assert_eq!(live.body["reservation"]["status"], "held");
    assert!(live.body["reservation"]["seconds_left"].as_i64().unwrap() <= 2);

    tokio::time::sleep(Duration::from_millis(2300)).await;
    // Past expires_at, before any sweep: already expired to every reader.
    let overdue = env.get_reservation(Caller::Shopper("a"), &held[0]).await;
    assert_eq!(overdue.body["reservation"]["status"], "expired");
    assert_eq!(overdue.body["reservation"]["seconds_left"], 0);
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (audit["expired_pending"].clone(), audit["held"].clone()),
        (json!(3), json!(0))
    );

    let report = sweep(&env.app, Utc::now()).await.unwrap();
    assert_eq!(report.holds_expired, 3);
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (audit["available"].clone(), audit["expired_pending"].clone()),
        (json!(3), json!(0))
    );
    assert_eq!(
        sweep(&env.app, Utc::now()).await.unwrap().holds_expired,
        0,
        "nothing twice"
    );

    // The units are claimable again, by someone new and by a shopper whose hold lapsed.
    env.hold("d", &drop_id).await;
    env.hold("a", &drop_id).await;
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (audit["available"].clone(), audit["held"].clone()),
        (json!(1), json!(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sweepers_racing_each_other_return_each_unit_once() {
    let env = Arc::new(TestEnv::new().await);
    let drop_id = id_of(
        &env.create_drop(drop_body(
            30,
            json!({ "hold_seconds": 1, "shard_count": 3 }),
        ))
        .await,
    );
    for i in 0..30 {
        env.hold(&format!("s{i}"), &drop_id).await;
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let reports = herd(4, 4, |_| {
        let env = env.clone();
        async move { sweep(&env.app, Utc::now()).await.unwrap() }
    })
    .await;
    let released: u32 = reports.iter().map(|r| r.holds_expired).sum();
    assert_eq!(released, 30, "{reports:?}");
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (audit["available"].clone(), audit["held"].clone()),
        (json!(30), json!(0))
    );
}

#[tokio::test]
async fn a_claim_on_an_empty_drop_returns_overdue_holds_itself() {
    let env = TestEnv::new().await;
    let drop_id = id_of(
        &env.create_drop(drop_body(2, json!({ "hold_seconds": 2 })))
            .await,
    );
    env.hold("a", &drop_id).await;
    env.hold("b", &drop_id).await;
    let refused = env.claim(Caller::Shopper("c"), &drop_id, None).await;
    assert_eq!(refused.error_code(), "sold_out");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // No sweeper has run: the claim itself finds and returns the overdue holds.
    env.hold("c", &drop_id).await;
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (audit["held"].clone(), audit["available"].clone()),
        (json!(1), json!(1))
    );
}

#[tokio::test]
async fn the_owner_releases_a_hold_once_and_nobody_else_can() {
    let env = TestEnv::new().await;
    let drop_id = id_of(&env.create_drop(drop_body(5, json!({}))).await);
    let reservation = env.hold("owner", &drop_id).await;

    let stranger = env.release(Caller::Shopper("stranger"), &reservation).await;
    assert_eq!((stranger.status, stranger.error_code()), (404, "not_found"));
    let anonymous = env.release(Caller::Anonymous, &reservation).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(env.get_drop(&drop_id).await.body["available"], 4);

    let released = env.release(Caller::Shopper("owner"), &reservation).await;
    assert_eq!(released.status, 200);
    assert_eq!(released.body["reservation"]["status"], "released");
    let again = env.release(Caller::Shopper("owner"), &reservation).await;
    assert_eq!(
        (again.status, again.body["reservation"]["status"].clone()),
        (200, json!("released"))
    );
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (audit["available"].clone(), audit["held"].clone()),
        (json!(5), json!(0))
    );

    // Released, the shopper may claim again.
    env.hold("owner", &drop_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_releases_and_a_sweeper_return_the_units_once() {
    let env = Arc::new(TestEnv::new().await);
    let drop_id = id_of(
        &env.create_drop(drop_body(4, json!({ "hold_seconds": 1 })))
            .await,
    );
    let reservation = env.hold("owner", &drop_id).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let replies = herd(12, 12, |i| {
        let env = env.clone();
        let reservation = reservation.clone();
        async move {
            if i % 4 == 0 {
                sweep(&env.app, Utc::now()).await.unwrap();
                200
            } else {
                env.release(Caller::Shopper("owner"), &reservation)
                    .await
                    .status
            }
        }
    })
    .await;
    assert!(replies.iter().all(|&status| status == 200), "{replies:?}");
    let reservation = env
        .get_reservation(Caller::Shopper("owner"), &reservation)
        .await;
    assert_eq!(reservation.body["reservation"]["status"], "expired");
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(audit["available"], 4);
}

#[tokio::test]
async fn only_the_owner_sees_a_reservation() {
    let env = TestEnv::new().await;
    let drop_id = id_of(&env.create_drop(drop_body(5, json!({}))).await);
    let reservation = env.hold("owner", &drop_id).await;
    let own = env
        .get_reservation(Caller::Shopper("owner"), &reservation)
        .await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["reservation"]["id"], reservation.as_str());
    assert!(own.body["reservation"]["seconds_left"].as_i64().unwrap() > 590);
    let other = env
        .get_reservation(Caller::Shopper("other"), &reservation)
        .await;
    assert_eq!((other.status, other.error_code()), (404, "not_found"));
    let unknown = env
        .get_reservation(Caller::Shopper("owner"), "0123456789abcdef0123456789abcdef")
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        env.get_reservation(Caller::Anonymous, &reservation)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn the_audit_is_for_admins() {
    let env = TestEnv::new().await;
    let drop_id = id_of(&env.create_drop(drop_body(5, json!({}))).await);
    assert_eq!(
        env.audit_as(Caller::Shopper("s"), &drop_id).await.status,
        403
    );
    assert_eq!(env.audit_as(Caller::Anonymous, &drop_id).await.status, 401);
    assert_eq!(
        env.audit_as(Caller::Admin("a"), "0123456789abcdef0123456789abcdef")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_lapsed_hold_does_not_block_its_shopper_before_any_sweep() {
    let env = TestEnv::new().await;
    let drop_id = id_of(
        &env.create_drop(drop_body(5, json!({ "hold_seconds": 1 })))
            .await,
    );
    let first = env.hold("ann", &drop_id).await;
    let refused = env.claim(Caller::Shopper("ann"), &drop_id, None).await;
    assert_eq!(refused.error_code(), "already_claimed");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // No sweeper has run: the claim returns the lapsed hold itself and takes a new one.
    let second = env.hold("ann", &drop_id).await;
    assert_ne!(first, second);
    let lapsed = env.get_reservation(Caller::Shopper("ann"), &first).await;
    assert_eq!(lapsed.body["reservation"]["status"], "expired");
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (audit["held"].clone(), audit["available"].clone()),
        (json!(1), json!(4))
    );
}
