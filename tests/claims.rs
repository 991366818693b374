//! The claim engine under real concurrency against DynamoDB Local: never oversold, never twice,
//! never a 5xx.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use burst_tests::{Caller, TestEnv, assert_consistent, drop_body, herd, id_of};
use chrono::{Duration, Utc};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_herd_of_2000_shoppers_gets_exactly_100_units() {
    let env = Arc::new(TestEnv::new().await);
    let drop_id = id_of(&env.create_drop(drop_body(100, json!({}))).await);

    let replies = herd(2000, 64, |i| {
        let env = env.clone();
        let drop_id = drop_id.clone();
        async move {
            let shopper = format!("shopper-{i:04}");
            (
                shopper.clone(),
                env.claim(Caller::Shopper(&shopper), &drop_id, None).await,
            )
        }
    })
    .await;

    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for (_, reply) in &replies {
        *by_status.entry(reply.status).or_default() += 1;
    }
    assert_eq!(by_status.get(&201), Some(&100), "{by_status:?}");
    assert_eq!(by_status.get(&409), Some(&1900), "{by_status:?}");
    assert_eq!(by_status.len(), 2, "only 201 and 409: {by_status:?}");
    assert!(
        replies
            .iter()
            .filter(|(_, r)| r.status == 409)
            .all(|(_, r)| r.error_code() == "sold_out")
    );

    let winners: HashSet<&String> = replies
        .iter()
        .filter(|(_, r)| r.status == 201)
        .map(|(s, _)| s)
        .collect();
    assert_eq!(winners.len(), 100, "no shopper holds two");
    for (_, reply) in replies.iter().filter(|(_, r)| r.status == 201) {
        let reservation = &reply.body["reservation"];
        assert_eq!(reservation["status"], "held");
        assert_eq!(reservation["quantity"], 1);
        assert_eq!(reservation["drop_id"], drop_id.as_str());
    }

    assert_eq!(
        env.count_items("RES#").await,
        100,
        "one reservation per winner"
    );
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (audit["available"].clone(), audit["held"].clone()),
        (json!(0), json!(100))
    );
    let drop = env.get_drop(&drop_id).await;
    assert_eq!(drop.body["status"], "sold_out");
    assert_eq!(drop.body["held"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_shopper_firing_50_parallel_claims_gets_one_hold() {
    let env = Arc::new(TestEnv::new().await);
    let drop_id = id_of(&env.create_drop(drop_body(100, json!({}))).await);
    let replies = herd(50, 50, |_| {
        let env = env.clone();
        let drop_id = drop_id.clone();
        async move { env.claim(Caller::Shopper("greedy"), &drop_id, None).await }
    })
    .await;
    let won: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(won.len(), 1);
    let held_id = won[0].body["reservation"]["id"].clone();
    for refused in replies.iter().filter(|r| r.status != 201) {
        assert_eq!(
            (refused.status, refused.error_code()),
            (409, "already_claimed")
        );
        assert_eq!(refused.body["error"]["reservation_id"], held_id);
    }
    assert_eq!(env.count_items("RES#").await, 1);
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(audit["available"], 99);
}

#[tokio::test]
async fn the_per_shopper_limit_counts_every_hold() {
    let env = TestEnv::new().await;
    let drop_id = id_of(
        &env.create_drop(drop_body(10, json!({ "per_user_limit": 2 })))
            .await,
    );
    let first = env
        .claim(Caller::Shopper("ann"), &drop_id, Some(r#"{"quantity":1}"#))
        .await;
    assert_eq!(first.status, 201);
    let second = env
        .claim(Caller::Shopper("ann"), &drop_id, Some(r#"{"quantity":1}"#))
        .await;
    assert_eq!(second.status, 201);
    let third = env
        .claim(Caller::Shopper("ann"), &drop_id, Some(r#"{"quantity":1}"#))
        .await;
    assert_eq!((third.status, third.error_code()), (409, "already_claimed"));
    assert_eq!(
        third.body["error"]["reservation_id"],
        second.body["reservation"]["id"]
    );

    let pair = env
        .claim(Caller::Shopper("ben"), &drop_id, Some(r#"{"quantity":2}"#))
        .await;
    assert_eq!(
        (pair.status, pair.body["reservation"]["quantity"].clone()),
        (201, json!(2))
    );
    let over = env
        .claim(Caller::Shopper("cat"), &drop_id, Some(r#"{"quantity":3}"#))
        .await;
    assert_eq!(
        (over.status, over.body["error"]["field"].clone()),
        (400, json!("quantity"))
    );

    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (audit["held"].clone(), audit["available"].clone()),
        (json!(4), json!(6))
    );
}

#[tokio::test]
async fn a_claim_may_take_units_from_several_shards() {
    let env = TestEnv::new().await;
    let drop_id = id_of(
        &env.create_drop(drop_body(
            4,
            json!({ "shard_count": 4, "per_user_limit": 4 }),
        ))
        .await,
    );
    let all = env
        .claim(
            Caller::Shopper("collector"),
            &drop_id,
            Some(r#"{"quantity":4}"#),
        )
        .await;
    assert_eq!(all.status, 201, "{:?}", all.body);
    let audit = assert_consistent(&env, &drop_id).await;
    assert!(
        audit["shards"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["held"] == 1)
    );
    let late = env.claim(Caller::Shopper("late"), &drop_id, None).await;
    assert_eq!((late.status, late.error_code()), (409, "sold_out"));
}

#[tokio::test]
async fn claims_are_refused_clearly_and_write_nothing() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    let live = id_of(&env.create_drop(drop_body(5, json!({}))).await);
    let upcoming = env
        .create_drop(drop_body(
            5,
            json!({ "starts_at": (now + Duration::hours(1)).to_rfc3339() }),
        ))
        .await;

    let anonymous = env.claim(Caller::Anonymous, &live, None).await;
    assert_eq!(
        (anonymous.status, anonymous.error_code()),
        (401, "unauthenticated")
    );
    let unknown = env
        .claim(
            Caller::Shopper("a"),
            "0123456789abcdef0123456789abcdef",
            None,
        )
        .await;
    assert_eq!((unknown.status, unknown.error_code()), (404, "not_found"));
    let early = env
        .claim(Caller::Shopper("a"), &id_of(&upcoming), None)
        .await;
    assert_eq!((early.status, early.error_code()), (403, "drop_not_live"));
    assert_eq!(early.body["error"]["starts_at"], upcoming["starts_at"]);
    for body in [
        "{oops",
        r#"{"quantity":0}"#,
        r#"{"quantity":"1"}"#,
        r#"{"quantity":2}"#,
        r#"{"qty":1}"#,
        "[]",
    ] {
        let reply = env.claim(Caller::Shopper("a"), &live, Some(body)).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (400, "invalid_request"),
            "{body}"
        );
    }
    assert_eq!(env.count_items("RES#").await, 0);
    assert_eq!(env.count_items("USER#").await, 0);
    assert_eq!(assert_consistent(&env, &live).await["available"], 5);
}
