//! Checkout and the Stripe webhook against DynamoDB Local and the Stripe emulator: every paid
//! order exactly once, every payment that cannot buy a unit refunded, whatever order events come.

use std::sync::Arc;
use std::time::Duration;

use burst::domain::holds::{EndHoldOutcome, end_hold};
use burst::domain::sweeper::sweep;
use burst::model::reservation::ReservationStatus;
use burst::store::ledger::ReleaseGuard;
use burst_tests::checkout::{PRICE, hold_on, hold_with_checkout, lapse, reservation_status};
use burst_tests::{Caller, TestEnv, assert_consistent, drop_body};
use chrono::Utc;
use serde_json::json;
use stripe_emulator::PaymentMethod;

#[tokio::test]
async fn checkout_creates_one_session_per_hold_and_returns_it_again() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({ "per_user_limit": 2 }), 5).await;
    let again = env
        .checkout(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["session_id"], hold.session_id.as_str());
    assert!(
        again.body["checkout_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/pay/{}", hold.session_id))
    );
    assert_eq!(env.emulator().sessions_created(), 1);

    let session = env.emulator().session(&hold.session_id).unwrap();
    assert_eq!(session["client_reference_id"], hold.reservation_id.as_str());
    assert_eq!(
        session["metadata"]["reservation_id"],
        hold.reservation_id.as_str()
    );
    assert_eq!(session["metadata"]["drop_id"], hold.drop_id.as_str());
    assert_eq!(session["amount_total"], PRICE);
    assert_eq!(session["currency"], "eur");
    assert_eq!(session["mode"], "payment");
    assert!(session["expires_at"].as_i64().unwrap() >= Utc::now().timestamp() + 30 * 60);
    assert!(
        session["success_url"]
            .as_str()
            .unwrap()
            .starts_with("http://shop.test/")
    );

    let stranger = env
        .checkout(Caller::Shopper("eve"), &hold.reservation_id)
        .await;
    assert_eq!((stranger.status, stranger.error_code()), (404, "not_found"));
    assert_eq!(
        env.checkout(Caller::Anonymous, &hold.reservation_id)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn checkout_of_an_expired_hold_is_gone() {
    let env = TestEnv::with_stripe().await;
    let drop = env
        .create_drop(drop_body(3, json!({ "hold_seconds": 1 })))
        .await;
    let id = env.hold("ann", drop["id"].as_str().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let reply = env.checkout(Caller::Shopper("ann"), &id).await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (410, "reservation_expired")
    );
    assert_eq!(env.emulator().sessions_created(), 0);
}

#[tokio::test]
async fn only_correctly_signed_fresh_events_are_accepted() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 5).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, None)
        .unwrap();
    let payload = completed.to_string();
    let now = Utc::now().timestamp();

    let tampered = payload.replace("\"paid\"", "\"paid\" ");
    let cases: Vec<(&str, String, Option<String>)> = vec![
        (
            "tampered body",
            tampered.clone(),
            Some(env.emulator().sign(&payload, now)),
        ),
        (
            "stale",
            payload.clone(),
            Some(env.emulator().sign(&payload, now - 301)),
        ),
        ("missing", payload.clone(), None),
        ("garbage", payload.clone(), Some("t=1,v1=nothex".into())),
        (
            "other secret",
            payload.clone(),
            Some(burst::payments::signature::sign(
                "whsec_other",
                now,
                payload.as_bytes(),
            )),
        ),
    ];
    for (case, body, signature) in cases {
        let reply = env.deliver_raw(&body, signature.as_deref()).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (400, "invalid_signature"),
            "{case}"
        );
    }
    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "held",
        "nothing changed"
    );
    assert_eq!(env.count_items("STRIPE_EVENT#").await, 0);

    let accepted = env.deliver(&completed).await;
    assert_eq!(
        (accepted.status, accepted.body["outcome"].clone()),
        (200, json!("processed"))
    );
    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "paid"
    );
}

#[tokio::test]
async fn a_paid_checkout_makes_exactly_one_order_however_often_it_is_delivered() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 5).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, None)
        .unwrap();

    let first = env.deliver(&completed).await;
    assert_eq!(first.body["outcome"], "processed");
    let again = env.deliver(&completed).await;
    assert_eq!(
        (again.status, again.body["outcome"].clone()),
        (200, json!("duplicate"))
    );
    // The same news under a new event id (Stripe resends as new events too) changes nothing.
    let mut resent = completed.clone();
    resent["id"] = json!("evt_resent");
    assert_eq!(env.deliver(&resent).await.body["outcome"], "processed");

    let order = env
        .get_order(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(order.status, 200);
    assert_eq!(order.body["order"]["status"], "paid");
    assert_eq!(order.body["order"]["amount"], PRICE);
    assert_eq!(order.body["order"]["currency"], "EUR");
    assert!(order.body["order"]["paid_at"].is_string());
    let mine = env.my_orders(Caller::Shopper("ann")).await;
    assert_eq!(mine.body["orders"].as_array().unwrap().len(), 1);
    assert_eq!(
        env.count_items("USER#ann").await,
        2,
        "claim record + one order"
    );
    assert_eq!(
        env.get_order(Caller::Shopper("eve"), &hold.reservation_id)
            .await
            .status,
        404
    );

    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (
            audit["sold"].clone(),
            audit["held"].clone(),
            audit["available"].clone()
        ),
        (json!(1), json!(0), json!(4))
    );
    assert_eq!(env.get_drop(&hold.drop_id).await.body["sold"], 1);
    assert!(env.emulator().refunds().is_empty());
    // Paid: the owner can no longer release it.
    let release = env
        .release(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(
        (release.status, release.error_code()),
        (409, "reservation_not_held")
    );
}

#[tokio::test]
async fn events_in_any_order_settle_the_same_way() {
    let env = TestEnv::with_stripe().await;
    // `expired` after `completed`: the order stands.
    let paid = hold_with_checkout(&env, "ann", json!({ "per_user_limit": 1 }), 5).await;
    let completed = env
        .emulator()
        .complete(&paid.session_id, PaymentMethod::Card, None)
        .unwrap();
    let expired_late = env
        .emulator()
        .event("checkout.session.expired", &paid.session_id)
        .unwrap();
    env.deliver(&completed).await;
    assert_eq!(env.deliver(&expired_late).await.status, 200);
    assert_eq!(
        reservation_status(&env, "ann", &paid.reservation_id).await,
        "paid"
    );

    // `expired` first (the hold goes back), then a `completed` for it: a late payment, re-claimed.
    let other = hold_on(&env, "bob", &paid.drop_id).await;
    let expired_first = env
        .emulator()
        .event("checkout.session.expired", &other.session_id)
        .unwrap();
    assert_eq!(env.deliver(&expired_first).await.status, 200);
    assert_eq!(
        reservation_status(&env, "bob", &other.reservation_id).await,
        "expired"
    );
    let completed_late = env
        .emulator()
        .complete(&other.session_id, PaymentMethod::Card, None)
        .unwrap();
    env.deliver(&completed_late).await;
    let order = env
        .get_order(Caller::Shopper("bob"), &other.reservation_id)
        .await;
    assert_eq!(order.body["order"]["status"], "paid");

    let unknown = json!({ "id": "evt_x", "type": "customer.created", "data": { "object": {} } });
    assert_eq!(env.deliver(&unknown).await.body["outcome"], "ignored");
    let audit = assert_consistent(&env, &paid.drop_id).await;
    assert_eq!(
        (audit["sold"].clone(), audit["available"].clone()),
        (json!(2), json!(3))
    );
}

#[tokio::test]
async fn a_wrong_amount_is_refunded_and_sells_nothing() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 5).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, Some(PRICE - 100))
        .unwrap();
    assert_eq!(env.deliver(&completed).await.status, 200);
    let refunds = env.emulator().refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        refunds[0]["payment_intent"],
        completed["data"]["object"]["payment_intent"]
    );
    let order = env
        .get_order(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(order.body["order"]["status"], "refunded");
    assert_eq!(order.body["order"]["refund_reason"], "amount_mismatch");
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(audit["sold"], 0);
}

#[tokio::test]
async fn a_late_payment_is_reclaimed_while_units_are_left() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 3).await;
    lapse(&env, &hold).await;
    assert_eq!(env.get_drop(&hold.drop_id).await.body["available"], 3);
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, None)
        .unwrap();
    env.deliver(&completed).await;
    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "paid"
    );
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (audit["sold"].clone(), audit["available"].clone()),
        (json!(1), json!(2))
    );
    assert!(env.emulator().refunds().is_empty());
}

#[tokio::test]
async fn a_late_payment_for_a_sold_out_drop_is_refunded() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 1).await;
    lapse(&env, &hold).await;
    let taken = env.claim(Caller::Shopper("bob"), &hold.drop_id, None).await;
    assert_eq!(taken.status, 201);
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, None)
        .unwrap();
    env.deliver(&completed).await;
    assert_eq!(env.emulator().refunds().len(), 1);
    let order = env
        .get_order(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(
        (
            order.body["order"]["status"].clone(),
            order.body["order"]["refund_reason"].clone()
        ),
        (json!("refunded"), json!("sold_out"))
    );
    // A redelivery refunds nothing twice (Stripe's idempotency key is per session).
    let mut resent = completed.clone();
    resent["id"] = json!("evt_again");
    env.deliver(&resent).await;
    assert_eq!(env.emulator().refunds().len(), 1);
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (audit["sold"].clone(), audit["held"].clone()),
        (json!(0), json!(1))
    );
}

#[tokio::test]
async fn the_sweeper_closes_the_checkout_of_an_expired_hold() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({ "hold_seconds": 1 }), 2).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(sweep(&env.app, Utc::now()).await.unwrap().holds_expired, 1);
    assert_eq!(
        env.emulator().session(&hold.session_id).unwrap()["status"],
        "expired"
    );
    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "expired"
    );
    assert_eq!(assert_consistent(&env, &hold.drop_id).await["available"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_racing_the_sweeper_ends_one_way_every_time() {
    let env = Arc::new(TestEnv::with_stripe().await);
    let drop = env
        .create_drop(drop_body(40, json!({ "hold_seconds": 1 })))
        .await;
    let drop_id = drop["id"].as_str().unwrap().to_string();
    let rounds = 12;
    let mut holds = Vec::new();
    for round in 0..rounds {
        holds.push(hold_on(&env, &format!("racer-{round}"), &drop_id).await);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (mut paid, mut expired) = (0, 0);
    for (round, hold) in holds.iter().enumerate() {
        let shopper = format!("racer-{round}");
        let payer = {
            let env = env.clone();
            let session_id = hold.session_id.clone();
            tokio::spawn(async move {
                if let Some(completed) =
                    env.emulator()
                        .complete(&session_id, PaymentMethod::Card, None)
                {
                    env.deliver(&completed).await;
                }
            })
        };
        let sweeper = {
            let env = env.clone();
            tokio::spawn(async move { sweep(&env.app, Utc::now()).await.unwrap() })
        };
        payer.await.unwrap();
        sweeper.await.unwrap();
        // Whichever won, the other found nothing to do: one outcome, never both.
        match reservation_status(&env, &shopper, &hold.reservation_id)
            .await
            .as_str()
        {
            "paid" => {
                paid += 1;
                let order = env
                    .get_order(Caller::Shopper(&shopper), &hold.reservation_id)
                    .await;
                assert_eq!(order.body["order"]["status"], "paid");
            }
            "expired" => {
                expired += 1;
                assert_eq!(
                    env.emulator().session(&hold.session_id).unwrap()["status"],
                    "expired"
                );
                assert_eq!(
                    env.get_order(Caller::Shopper(&shopper), &hold.reservation_id)
                        .await
                        .status,
                    404
                );
            }
            other => panic!("round {round}: unexpected status {other}"),
        }
        assert_consistent(&env, &drop_id).await;
    }
    assert_eq!(paid + expired, rounds);
    assert!(
        env.emulator().refunds().is_empty(),
        "nobody paid for a unit that went back"
    );
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(audit["sold"], paid as i64);
    assert_eq!(audit["available"], 40 - paid as i64);
}

#[tokio::test]
async fn a_delayed_payment_holds_the_units_until_it_succeeds() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({ "hold_seconds": 1 }), 3).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Delayed, None)
        .unwrap();
    env.deliver(&completed).await;
    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "payment_pending"
    );
    let order = env
        .get_order(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(order.body["order"]["status"], "payment_pending");

    // Past the hold's window, the sweeper leaves a pending payment alone.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(sweep(&env.app, Utc::now()).await.unwrap().holds_expired, 0);
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(audit["payment_pending"], 1);
    assert_eq!(audit["available"], 2);

    let succeeded = env
        .emulator()
        .settle_delayed(&hold.session_id, true)
        .unwrap();
    env.deliver(&succeeded).await;
    let order = env
        .get_order(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(order.body["order"]["status"], "paid");
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (audit["sold"].clone(), audit["payment_pending"].clone()),
        (json!(1), json!(0))
    );
}

#[tokio::test]
async fn a_failed_delayed_payment_returns_the_units() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 3).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Delayed, None)
        .unwrap();
    env.deliver(&completed).await;
    let failed = env
        .emulator()
        .settle_delayed(&hold.session_id, false)
        .unwrap();
    env.deliver(&failed).await;
    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "released"
    );
    let order = env
        .get_order(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(order.body["order"]["status"], "payment_failed");
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (audit["available"].clone(), audit["sold"].clone()),
        (json!(3), json!(0))
    );
    // Released, the shopper may claim again.
    assert_eq!(
        env.claim(Caller::Shopper("ann"), &hold.drop_id, None)
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn a_release_from_a_stale_snapshot_still_closes_the_checkout() {
    let env = TestEnv::with_stripe().await;
    let drop = env
        .create_drop(drop_body(2, json!({ "hold_seconds": 1 })))
        .await;
    let id = env.hold("ann", drop["id"].as_str().unwrap()).await;
    // What a sweeper read from the hold index before the shopper started checkout.
    let snapshot = env.app.store.reservation(&id).await.unwrap().unwrap();
    let checkout = env.checkout(Caller::Shopper("ann"), &id).await;
    let session_id = checkout.body["session_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let ended = end_hold(
        &env.app,
        &snapshot,
        ReservationStatus::Expired,
        ReleaseGuard::Overdue,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(ended, EndHoldOutcome::Released);
    assert_eq!(
        env.emulator().session(&session_id).unwrap()["status"],
        "expired",
        "nobody can pay for it now"
    );
    assert_eq!(reservation_status(&env, "ann", &id).await, "expired");
    assert_eq!(
        assert_consistent(&env, drop["id"].as_str().unwrap()).await["available"],
        2
    );
}

#[tokio::test]
async fn a_claim_leaves_an_overdue_hold_with_a_checkout_to_the_sweeper() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({ "hold_seconds": 1 }), 1).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // The claim path never calls Stripe, so it cannot close that session: it does not touch it.
    let early = env.claim(Caller::Shopper("bob"), &hold.drop_id, None).await;
    assert_eq!((early.status, early.error_code()), (409, "sold_out"));
    assert_eq!(
        env.emulator().session(&hold.session_id).unwrap()["status"],
        "open"
    );
    // The sweeper closes the session first, then returns the unit.
    assert_eq!(sweep(&env.app, Utc::now()).await.unwrap().holds_expired, 1);
    assert_eq!(
        env.emulator().session(&hold.session_id).unwrap()["status"],
        "expired"
    );
    assert_eq!(
        env.claim(Caller::Shopper("bob"), &hold.drop_id, None)
            .await
            .status,
        201
    );
    assert_consistent(&env, &hold.drop_id).await;
}

#[tokio::test]
async fn the_sweeper_leaves_a_completed_checkout_to_the_webhook() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({ "hold_seconds": 1 }), 2).await;
    // The shopper pays just before the window closes; Stripe's event is still on its way.
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, None)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(sweep(&env.app, Utc::now()).await.unwrap().holds_expired, 0);
    assert_eq!(
        env.emulator().session(&hold.session_id).unwrap()["status"],
        "complete"
    );
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (audit["expired_pending"].clone(), audit["available"].clone()),
        (json!(1), json!(1))
    );

    env.deliver(&completed).await;
    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "paid"
    );
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (audit["sold"].clone(), audit["available"].clone()),
        (json!(1), json!(1))
    );
    assert!(env.emulator().refunds().is_empty());
}

#[tokio::test]
async fn order_routes_need_a_shopper_and_payments_need_configuration() {
    let env = TestEnv::new().await;
    let anonymous = env.my_orders(Caller::Anonymous).await;
    assert_eq!(
        (anonymous.status, anonymous.error_code()),
        (401, "unauthenticated")
    );
    let any_id = "0123456789abcdef0123456789abcdef";
    assert_eq!(env.get_order(Caller::Anonymous, any_id).await.status, 401);
    assert_eq!(
        env.get_order(Caller::Shopper("ann"), any_id).await.status,
        404
    );
    assert_eq!(
        env.my_orders(Caller::Shopper("ann")).await.body,
        json!({ "orders": [] })
    );

    // Without Stripe configured, checkout and the webhook say so instead of failing obscurely.
    let drop = env.create_drop(drop_body(2, json!({}))).await;
    let id = env.hold("ann", drop["id"].as_str().unwrap()).await;
    let checkout = env.checkout(Caller::Shopper("ann"), &id).await;
    assert_eq!(
        (checkout.status, checkout.error_code()),
        (503, "payments_unavailable")
    );
    let webhook = env.deliver_raw("{}", Some("t=1,v1=00")).await;
    assert_eq!(
        (webhook.status, webhook.error_code()),
        (503, "payments_unavailable")
    );
}

#[tokio::test]
async fn a_webhook_body_that_api_gateway_base64_encoded_verifies_over_the_raw_bytes() {
    use base64::Engine;
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 2).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, None)
        .unwrap();
    // Stripe's exact bytes, including a non-ASCII character and a trailing newline.
    let payload = format!(
        "{}\n",
        completed
            .to_string()
            .replacen('{', "{\"note\":\"café\",", 1)
    );
    let signature = env.emulator().sign(&payload, Utc::now().timestamp());
    let mut event = burst_tests::event_json(
        "POST",
        "/webhooks/stripe",
        &[],
        None,
        Caller::Anonymous,
        json!({ "stripe-signature": signature }),
    );
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(payload.as_bytes()));
    event["isBase64Encoded"] = json!(true);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let reply = env.call(request).await;
    assert_eq!(
        (reply.status, reply.body["outcome"].clone()),
        (200, json!("processed"))
    );
    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "paid"
    );
}
