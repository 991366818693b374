//! Money and units never get stuck: Stripe's real behaviour (foreign events, retries, lost
//! webhooks, refunds and disputes made at Stripe), faults at Stripe, and the sweeper's bounds.
//! Every test ends with a consistent ledger.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use burst::domain::drops::input::parse_new_drop;
use burst::domain::holds::Budget;
use burst::domain::sweeper::{pending_lookup_minute, sweep, sweep_within};
use burst::model::drop::{AdminAction, AdminEvent};
use burst::payments::CheckoutRequest;
use burst_tests::checkout::{
    PRICE, hold_on, hold_with_checkout, lapse, order_status, reservation_status,
};
use burst_tests::{Caller, TestEnv, assert_consistent, drop_body, herd, id_of};
use chrono::{Duration as Span, Timelike, Utc};
use serde_json::{Value, json};
use stripe_emulator::PaymentMethod;

fn session_event(kind: &str, session: Value) -> Value {
    json!({
        "id": format!("evt_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "type": kind,
        "data": { "object": session },
    })
}

#[tokio::test]
async fn events_for_sessions_burst_did_not_create_are_ignored_and_touch_nothing() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 3).await;
    let foreign_sessions = [
        // A Payment Link of the same account: no metadata, no reference.
        json!({ "id": "cs_test_paymentlink", "object": "checkout.session", "status": "complete",
                "payment_status": "paid", "amount_total": 5000, "currency": "eur",
                "payment_intent": "pi_foreign1", "metadata": {} }),
        // Another shop's integration naming an id that is not a reservation of ours.
        json!({ "id": "cs_test_othershop", "object": "checkout.session", "status": "complete",
                "payment_status": "paid", "amount_total": 5000, "currency": "eur",
                "client_reference_id": "order-77", "payment_intent": "pi_foreign2",
                "metadata": { "reservation_id": "order-77" } }),
        // A session naming our reservation that is not the session we created for it.
        json!({ "id": "cs_test_impostor", "object": "checkout.session", "status": "complete",
                "payment_status": "paid", "amount_total": PRICE, "currency": "eur",
                "client_reference_id": hold.reservation_id, "payment_intent": "pi_foreign3",
                "metadata": { "reservation_id": hold.reservation_id, "drop_id": hold.drop_id } }),
    ];
    for session in foreign_sessions {
        for kind in [
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded",
            "checkout.session.expired",
        ] {
            let reply = env.deliver(&session_event(kind, session.clone())).await;
            assert_eq!(
                (reply.status, reply.body["outcome"].clone()),
                (200, json!("ignored")),
                "{kind} {}",
                session["id"]
            );
        }
    }
    for charge_event in [
        json!({ "id": "evt_c1", "type": "charge.refunded", "data": { "object": {
            "id": "ch_x", "object": "charge", "payment_intent": "pi_foreign1", "amount": 5000,
            "amount_refunded": 5000, "refunded": true } } }),
        json!({ "id": "evt_d1", "type": "charge.dispute.created", "data": { "object": {
            "id": "du_x", "object": "dispute", "payment_intent": "pi_foreign2", "status": "needs_response" } } }),
    ] {
        let reply = env.deliver(&charge_event).await;
        assert_eq!(reply.body["outcome"], "ignored");
    }
    assert!(
        env.emulator().refunds().is_empty(),
        "nobody else's money moved"
    );
    assert_eq!(
        env.count_items("STRIPE_EVENT#").await,
        0,
        "nothing recorded"
    );
    assert_eq!(env.count_items("PAYMENT#").await, 0);
    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "held"
    );
    assert_eq!(assert_consistent(&env, &hold.drop_id).await["held"], 1);
}

#[tokio::test]
async fn a_wrong_amount_ends_the_hold_returns_the_units_and_frees_the_shopper() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 2).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, Some(PRICE - 100))
        .unwrap();
    assert_eq!(env.deliver(&completed).await.body["outcome"], "processed");

    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "refunded"
    );
    assert_eq!(
        order_status(&env, "ann", &hold.reservation_id).await,
        "refunded"
    );
    assert_eq!(env.emulator().refunds().len(), 1);
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (
            audit["available"].clone(),
            audit["held"].clone(),
            audit["sold"].clone()
        ),
        (json!(2), json!(0), json!(0))
    );
    // The owner's release answers the final state, and the shopper may claim again.
    let release = env
        .release(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(
        (
            release.status,
            release.body["reservation"]["status"].clone()
        ),
        (200, json!("refunded"))
    );
    assert_eq!(
        env.claim(Caller::Shopper("ann"), &hold.drop_id, None)
            .await
            .status,
        201
    );
    // A redelivery changes nothing and refunds nothing twice.
    let mut again = completed.clone();
    again["id"] = json!("evt_redelivered");
    env.deliver(&again).await;
    assert_eq!(env.emulator().refunds().len(), 1);
    assert_consistent(&env, &hold.drop_id).await;
}

#[tokio::test]
async fn a_refund_is_recorded_before_it_is_sent_so_a_retry_never_sells_the_unit() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 1).await;
    lapse(&env, &hold).await;
    let bob = env.hold("bob", &hold.drop_id).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, None)
        .unwrap();

    // Stripe is down when the refund is sent: the webhook fails (Stripe will retry) …
    env.emulator().fail_next_requests(1);
    let failed = env.deliver(&completed).await;
    assert_eq!(
        (failed.status, failed.error_code()),
        (502, "payment_provider_error")
    );
    assert_eq!(
        order_status(&env, "ann", &hold.reservation_id).await,
        "refunding"
    );
    // … meanwhile bob gives his unit back, so stock is there when the retry comes.
    assert_eq!(env.release(Caller::Shopper("bob"), &bob).await.status, 200);
    let mut retry = completed.clone();
    retry["id"] = json!(format!("{}-retry", completed["id"].as_str().unwrap()));
    assert_eq!(env.deliver(&retry).await.body["outcome"], "processed");

    assert_eq!(
        order_status(&env, "ann", &hold.reservation_id).await,
        "refunded",
        "the recorded decision stands: refunded, not sold"
    );
    assert_eq!(env.emulator().refunds().len(), 1);
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (audit["sold"].clone(), audit["available"].clone()),
        (json!(0), json!(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_deliveries_of_a_late_payment_converge_on_one_outcome() {
    for round in 0..6 {
        let env = Arc::new(TestEnv::with_stripe().await);
        let hold = hold_with_checkout(&env, "ann", json!({}), 1).await;
        lapse(&env, &hold).await;
        if round % 2 == 1 {
            // Odd rounds: the unit is gone, so the only outcome is a refund.
            env.hold("bob", &hold.drop_id).await;
        }
        let completed = env
            .emulator()
            .complete(&hold.session_id, PaymentMethod::Card, None)
            .unwrap();
        let replies = herd(4, 4, |i| {
            let env = env.clone();
            let mut event = completed.clone();
            event["id"] = json!(format!("evt_overlap_{i}"));
            async move { env.deliver(&event).await }
        })
        .await;
        assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
        let status = order_status(&env, "ann", &hold.reservation_id).await;
        let refunds = env.emulator().refunds().len();
        match status.as_str() {
            "paid" => assert_eq!(refunds, 0),
            "refunded" => assert_eq!(refunds, 1),
            other => panic!("round {round}: order {other}"),
        }
        if round % 2 == 1 {
            assert_eq!(status, "refunded");
        }
        assert_consistent(&env, &hold.drop_id).await;
    }
}

#[tokio::test]
async fn a_late_payment_over_the_shoppers_limit_is_refunded_once() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 3).await;
    lapse(&env, &hold).await;
    // ann claimed again after her hold lapsed: a unit for the lapsed hold would pass her limit.
    env.hold("ann", &hold.drop_id).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, None)
        .unwrap();
    env.emulator().fail_next_requests(1);
    assert_eq!(env.deliver(&completed).await.status, 502);
    let order = env
        .get_order(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(
        (
            order.body["order"]["status"].clone(),
            order.body["order"]["refund_reason"].clone()
        ),
        (json!("refunding"), json!("per_user_limit"))
    );
    let mut retry = completed.clone();
    retry["id"] = json!("evt_limit_retry");
    env.deliver(&retry).await;
    assert_eq!(
        order_status(&env, "ann", &hold.reservation_id).await,
        "refunded"
    );
    assert_eq!(env.emulator().refunds().len(), 1);
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (audit["sold"].clone(), audit["held"].clone()),
        (json!(0), json!(1))
    );
}

#[tokio::test]
async fn a_late_payment_after_the_drop_ended_is_refunded_not_sold() {
    let env = TestEnv::with_stripe().await;
    // Long enough that the hold is made before the end on a loaded machine; the payment comes
    // after it, however long that took.
    let ends_at = Utc::now() + Span::seconds(8);
    let hold = hold_with_checkout(&env, "ann", json!({ "ends_at": ends_at.to_rfc3339() }), 3).await;
    lapse(&env, &hold).await;
    let until_end = (ends_at - Utc::now()).num_milliseconds().max(0) as u64 + 100;
    tokio::time::sleep(Duration::from_millis(until_end)).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, None)
        .unwrap();
    env.deliver(&completed).await;
    let order = env
        .get_order(Caller::Shopper("ann"), &hold.reservation_id)
        .await;
    assert_eq!(
        (
            order.body["order"]["status"].clone(),
            order.body["order"]["refund_reason"].clone()
        ),
        (json!("refunded"), json!("drop_ended"))
    );
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (audit["sold"].clone(), audit["available"].clone()),
        (json!(0), json!(3))
    );
}

#[tokio::test]
async fn a_checkout_retried_after_a_crash_gets_the_same_session_from_stripe() {
    let env = TestEnv::with_stripe().await;
    let drop = env.create_drop(drop_body(2, json!({}))).await;
    let reservation_id = env.hold("ann", &id_of(&drop)).await;
    let reservation = env
        .app
        .store
        .reservation(&reservation_id)
        .await
        .unwrap()
        .unwrap();
    // The first call reached Stripe, then the function died before saving the session.
    let gateway = env.app.payments.as_ref().unwrap();
    let request = CheckoutRequest {
        reservation_id: reservation_id.clone(),
        drop_id: id_of(&drop),
        product_name: "Test drop".into(),
        unit_amount: PRICE,
        currency: "EUR".into(),
        quantity: 1,
        expires_at: reservation.checkout_expires_at,
    };
    let crashed = gateway.create_checkout(&request).await.unwrap();
    // Seconds later the shopper tries again: the same parameters under the same key.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let retry = env.checkout(Caller::Shopper("ann"), &reservation_id).await;
    assert_eq!(retry.status, 201, "{:?}", retry.body);
    assert_eq!(retry.body["session_id"], crashed.id.as_str());
    assert_eq!(env.emulator().sessions_created(), 1);
    assert!(
        env.emulator().refusals().is_empty(),
        "{:?}",
        env.emulator().refusals()
    );
}

#[tokio::test]
async fn the_emulator_refuses_a_key_reused_with_other_parameters_as_stripe_does() {
    let env = TestEnv::with_stripe().await;
    let drop = env.create_drop(drop_body(2, json!({}))).await;
    let reservation_id = env.hold("ann", &id_of(&drop)).await;
    let gateway = env.app.payments.as_ref().unwrap();
    let request = CheckoutRequest {
        reservation_id,
        drop_id: id_of(&drop),
        product_name: "Test drop".into(),
        unit_amount: PRICE,
        currency: "EUR".into(),
        quantity: 1,
        expires_at: Utc::now().timestamp() + 40 * 60,
    };
    gateway.create_checkout(&request).await.unwrap();
    // What the old code did: a new expires_at on every try.
    let changed = CheckoutRequest {
        expires_at: request.expires_at + 1,
        ..request.clone()
    };
    let refused = gateway.create_checkout(&changed).await;
    assert!(refused.is_err());
    let refusals = env.emulator().refusals();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0]["status"], 400);
    assert_eq!(refusals[0]["error"]["type"], "idempotency_error");
    assert_eq!(env.emulator().sessions_created(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checkouts_of_one_hold_wait_out_stripes_409_and_share_one_session() {
    let env = Arc::new(TestEnv::with_stripe_latency(Duration::from_millis(300)).await);
    let drop = env.create_drop(drop_body(2, json!({}))).await;
    let reservation_id = env.hold("ann", &id_of(&drop)).await;
    let replies = herd(3, 3, |_| {
        let env = env.clone();
        let id = reservation_id.clone();
        async move { env.checkout(Caller::Shopper("ann"), &id).await }
    })
    .await;
    let sessions: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| {
            assert!(r.status == 201 || r.status == 200, "{:?}", r.body);
            r.body["session_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(sessions.len(), 1);
    assert_eq!(env.emulator().sessions_created(), 1);
    assert!(
        env.emulator()
            .refusals()
            .iter()
            .any(|r| r["status"] == 409 && r["error"]["code"] == "idempotency_key_in_use"),
        "Stripe's 409 was met and waited out"
    );
}

#[tokio::test]
async fn the_sweeper_settles_a_completed_checkout_whose_webhook_never_came() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({ "hold_seconds": 1 }), 2).await;
    // Paid at Stripe; the event is lost.
    env.emulator()
        .complete(&hold.session_id, PaymentMethod::Card, None)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let soon = sweep(&env.app, Utc::now()).await.unwrap();
    assert_eq!(
        soon.payments_reconciled, 0,
        "the webhook gets its chance first"
    );
    let later = sweep(&env.app, Utc::now() + Span::minutes(6))
        .await
        .unwrap();
    assert_eq!(later.payments_reconciled, 1);
    assert_eq!(
        reservation_status(&env, "ann", &hold.reservation_id).await,
        "paid"
    );
    assert_eq!(
        order_status(&env, "ann", &hold.reservation_id).await,
        "paid"
    );
    let audit = assert_consistent(&env, &hold.drop_id).await;
    assert_eq!(
        (audit["sold"].clone(), audit["available"].clone()),
        (json!(1), json!(1))
    );
}

#[tokio::test]
async fn the_sweeper_settles_a_delayed_payment_whose_outcome_event_was_lost() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 2).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Delayed, None)
        .unwrap();
    env.deliver(&completed).await;
    env.emulator()
        .settle_delayed(&hold.session_id, true)
        .unwrap();
    // Looked up about hourly, in the minute its id picks.
    let base = Utc::now() + Span::hours(2);
    let minute = pending_lookup_minute(&hold.reservation_id);
    let at = base + Span::minutes(i64::from((minute + 60 - base.minute()) % 60));
    let report = sweep(&env.app, at).await.unwrap();
    assert_eq!(report.payments_reconciled, 1);
    assert_eq!(
        order_status(&env, "ann", &hold.reservation_id).await,
        "paid"
    );
    assert_consistent(&env, &hold.drop_id).await;
}

#[tokio::test]
async fn the_sweeper_finishes_a_refund_whose_webhook_retries_stopped() {
    let env = TestEnv::with_stripe().await;
    let hold = hold_with_checkout(&env, "ann", json!({}), 1).await;
    let completed = env
        .emulator()
        .complete(&hold.session_id, PaymentMethod::Card, Some(PRICE + 1))
        .unwrap();
    env.emulator().fail_next_requests(1);
    assert_eq!(env.deliver(&completed).await.status, 502);
    assert_eq!(
        order_status(&env, "ann", &hold.reservation_id).await,
        "refunding"
    );
    let report = sweep(&env.app, Utc::now()).await.unwrap();
    assert_eq!(report.refunds_finished, 1);
    // What the refund-stuck alarm reads: pending when the run began, none at the next.
    assert_eq!(report.refunds_pending, 1);
    assert_eq!(
        order_status(&env, "ann", &hold.reservation_id).await,
        "refunded"
    );
    assert_eq!(env.count_items("REFUNDING#").await, 0);
    assert_eq!(
        sweep(&env.app, Utc::now()).await.unwrap().refunds_pending,
        0
    );
    assert_eq!(assert_consistent(&env, &hold.drop_id).await["available"], 1);
}

#[tokio::test]
async fn refunds_and_disputes_made_at_stripe_show_on_the_order_and_keep_units_sold() {
    let env = TestEnv::with_stripe().await;
    let drop = env
        .create_drop(drop_body(5, json!({ "per_user_limit": 1 })))
        .await;
    let drop_id = id_of(&drop);
    let mut paid = Vec::new();
    for shopper in ["ann", "bob", "cy"] {
        let hold = hold_on(&env, shopper, &drop_id).await;
        let completed = env
            .emulator()
            .complete(&hold.session_id, PaymentMethod::Card, None)
            .unwrap();
        env.deliver(&completed).await;
        let payment_intent = completed["data"]["object"]["payment_intent"]
            .as_str()
            .unwrap()
            .to_string();
        paid.push((shopper, hold, payment_intent));
    }
    let emulator = env.emulator();
    // ann: fully refunded from the Dashboard; bob: partly; cy: disputed, then won.
    env.deliver(&emulator.charge_refunded(&paid[0].2, PRICE).unwrap())
        .await;
    env.deliver(&emulator.charge_refunded(&paid[1].2, 2500).unwrap())
        .await;
    env.deliver(
        &emulator
            .dispute("created", &paid[2].2, "needs_response")
            .unwrap(),
    )
    .await;

    let ann = env
        .get_order(Caller::Shopper("ann"), &paid[0].1.reservation_id)
        .await;
    assert_eq!(ann.body["order"]["status"], "refunded");
    assert_eq!(ann.body["order"]["refund_reason"], "refunded_at_stripe");
    let bob = env
        .get_order(Caller::Shopper("bob"), &paid[1].1.reservation_id)
        .await;
    assert_eq!(
        (
            bob.body["order"]["status"].clone(),
            bob.body["order"]["amount_refunded"].clone()
        ),
        (json!("paid"), json!(2500))
    );
    assert_eq!(
        order_status(&env, "cy", &paid[2].1.reservation_id).await,
        "disputed"
    );
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (
            audit["sold"].clone(),
            audit["refunded_after_sale"].clone(),
            audit["disputed"].clone()
        ),
        (json!(3), json!(1), json!(1)),
        "units are not put back on sale"
    );
    assert_eq!(audit["available"], 2);

    env.deliver(&emulator.dispute("closed", &paid[2].2, "won").unwrap())
        .await;
    assert_eq!(
        order_status(&env, "cy", &paid[2].1.reservation_id).await,
        "paid"
    );
    assert_eq!(assert_consistent(&env, &drop_id).await["disputed"], 0);
}

#[tokio::test]
async fn the_sweeper_pages_past_holds_it_cannot_end_and_keeps_to_its_budget() {
    let env = TestEnv::with_stripe().await;
    let drop = env
        .create_drop(drop_body(
            120,
            json!({ "hold_seconds": 1, "shard_count": 1 }),
        ))
        .await;
    let drop_id = id_of(&drop);
    // 101 holds whose Checkout Stripe cannot close come first in expiry order, then 5 plain ones.
    for i in 0..101 {
        let hold = hold_on(&env, &format!("stuck-{i:03}"), &drop_id).await;
        env.emulator().fail_session(&hold.session_id);
    }
    for i in 0..5 {
        env.hold(&format!("plain-{i}"), &drop_id).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let calls_before = env.emulator().api_requests();
    let mut small = Budget::new(30, 10);
    let bounded = sweep_within(&env.app, Utc::now(), &mut small)
        .await
        .unwrap();
    assert!(
        env.emulator().api_requests() - calls_before <= 10,
        "Stripe calls stay in budget"
    );
    assert_eq!(
        bounded.holds_expired, 5,
        "the plain holds behind the stuck ones go back"
    );

    // Enough Stripe calls for all (a scheduled run allows 200: two per stuck hold).
    let mut ample = Budget::new(30, 1000);
    let report = sweep_within(&env.app, Utc::now(), &mut ample)
        .await
        .unwrap();
    assert_eq!(report.holds_expired, 0);
    assert_eq!(
        report.holds_skipped, 101,
        "every stuck hold was tried and paged past"
    );
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(audit["expired_pending"], 101);
    assert_eq!(audit["available"], 120 - 101);

    let mut spent = Budget::new(0, 100);
    assert!(
        sweep_within(&env.app, Utc::now(), &mut spent)
            .await
            .unwrap()
            .incomplete
    );
}

#[tokio::test]
async fn the_listing_is_paged_cached_and_leaves_long_ended_drops_out() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    for name in ["one", "two", "three"] {
        env.create_drop(drop_body(1, json!({ "name": name }))).await;
    }
    // Drops that ended yesterday-and-more and an hour ago, written as they were created then.
    for (name, ended) in [("long gone", Span::days(3)), ("just ended", Span::hours(1))] {
        let mut past = parse_new_drop(
            drop_body(
                1,
                json!({ "name": name, "ends_at": (now + Span::days(1)).to_rfc3339() }),
            ),
            now,
        )
        .unwrap();
        past.starts_at = now - Span::days(5);
        past.ends_at = Some(now - ended);
        let created = AdminEvent::new(&past.id, "tester", AdminAction::Created, json!({}), now);
        env.app
            .store
            .put_drop(&past, &past.initial_shards(), None, &created)
            .await
            .unwrap();
    }
    // An item in the listing that does not decode (a bad migration, a hand edit).
    env.client
        .put_item()
        .table_name(env.app.store.table())
        .item(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S("DROP#broken".into()),
        )
        .item(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S("META".into()),
        )
        .item(
            "GSI1PK",
            aws_sdk_dynamodb::types::AttributeValue::S("DROPS".into()),
        )
        .item(
            "GSI1SK",
            aws_sdk_dynamodb::types::AttributeValue::S("9999-12-31T23:59:59.999Z#broken".into()),
        )
        .item(
            "name",
            aws_sdk_dynamodb::types::AttributeValue::N("7".into()),
        )
        .send()
        .await
        .unwrap();

    let all = env.list_drops().await;
    assert_eq!(all.status, 200);
    assert_eq!(all.header("cache-control"), Some("public, max-age=1"));
    let mut names: Vec<&str> = all.body["drops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["just ended", "one", "three", "two"]);
    assert_eq!(all.body["drops"][0]["status"], "ended");

    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "2")];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let page = env.list_drops_with(&query).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        seen += page.body["drops"].as_array().unwrap().len();
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, 4);
    // A cursor forged from a real one: DynamoDB refuses empty or oversized key values and a
    // place outside the listing's window (a forged or stale cursor), which must be the client's
    // 400, not a 500. One naming an item that does not exist inside the window is a place in the
    // index like any other.
    let first = env.list_drops_with(&[("limit", "2")]).await;
    let real = first.body["next_cursor"].as_str().unwrap();
    let forge = |change: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut key: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(real).unwrap()).unwrap();
        change(&mut key);
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&key).unwrap())
    };
    let empty = forge(&|key| {
        key.insert("SK".into(), "".into());
        key.insert("GSI1SK".into(), "".into());
    });
    let oversized = forge(&|key| {
        key.insert("GSI1SK".into(), "x".repeat(2_000).into());
    });
    let elsewhere = forge(&|key| {
        key.insert("PK".into(), "DROP#nowhere".into());
        key.insert("SK".into(), "DROP".into());
        key.insert("GSI1SK".into(), "~".into());
    });
    let outside = forge(&|key| {
        key.insert("GSI1SK".into(), "0".into());
    });
    let reply = env.list_drops_with(&[("cursor", elsewhere.as_str())]).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    // "~" sorts after every closing time: nothing lies beyond it.
    assert_eq!(reply.body["drops"], json!([]), "{:?}", reply.body);
    assert_eq!(reply.body["next_cursor"], Value::Null);
    for bad in [
        ("cursor", "bm90LWEta2V5"),
        ("cursor", "%%%"),
        ("cursor", empty.as_str()),
        ("cursor", oversized.as_str()),
        ("cursor", outside.as_str()),
        ("limit", "0"),
        ("limit", "x"),
    ] {
        let reply = env.list_drops_with(&[bad]).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (400, "invalid_request"),
            "{bad:?}"
        );
    }
    // The sweeper reads holds only where the shards say units are held.
    assert_eq!(sweep(&env.app, now).await.unwrap().drops_with_holds, 0);
    let one = all.body["drops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "one")
        .map(id_of)
        .unwrap();
    env.hold("ann", &one).await;
    assert_eq!(sweep(&env.app, now).await.unwrap().drops_with_holds, 1);
}

#[tokio::test]
async fn prices_stripe_would_refuse_are_refused_at_creation() {
    let env = TestEnv::new().await;
    let cases = [
        (
            json!({ "amount": 100, "currency": "XYZ" }),
            json!(1),
            "price.currency",
        ),
        (
            json!({ "amount": 49, "currency": "EUR" }),
            json!(1),
            "price.amount",
        ),
        (
            json!({ "amount": 29, "currency": "GBP" }),
            json!(1),
            "price.amount",
        ),
        (
            json!({ "amount": 60_000_000, "currency": "USD" }),
            json!(2),
            "price.amount",
        ),
        (
            json!({ "amount": 150, "currency": "ISK" }),
            json!(1),
            "price.amount",
        ),
    ];
    for (price, limit, field) in cases {
        let body = drop_body(10, json!({ "price": price, "per_user_limit": limit }));
        let reply = env
            .post_drop(Caller::Admin("root"), &body.to_string())
            .await;
        assert_eq!(
            (reply.status, reply.body["error"]["field"].as_str()),
            (400, Some(field)),
            "{price}: {:?}",
            reply.body
        );
    }
    assert_eq!(env.count_items("DROP#").await, 0);
    // Zero-decimal currencies are whole units: 50 JPY is fine.
    let yen = drop_body(10, json!({ "price": { "amount": 50, "currency": "JPY" } }));
    assert_eq!(
        env.post_drop(Caller::Admin("root"), &yen.to_string())
            .await
            .status,
        201
    );
}

/// A Secrets Manager that answers one secret, over plain HTTP, as the SDK speaks to it.
async fn fake_secrets_manager(
    secret: serde_json::Value,
) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            loop {
                let read = stream.read(&mut buffer).await.unwrap_or(0);
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        seen.lock().unwrap().push(body.to_string());
                        break;
                    }
                }
                if read == 0 {
                    break;
                }
            }
            let answer =
                json!({ "ARN": "arn:aws:secretsmanager:us-east-1:1:secret:burst/stripe-AbCdEf",
                "Name": "burst/stripe", "SecretString": secret.to_string() })
                .to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    (format!("http://{address}"), asked)
}

#[tokio::test]
async fn stripe_keys_come_from_secrets_manager_at_cold_start_not_the_environment() {
    let (endpoint, asked) = fake_secrets_manager(json!({
        "secret_key": "sk_test_from_the_secret", "webhook_secret": "whsec_from_the_secret" }))
    .await;
    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "local", "local", None, None, "tests",
            ))
            .endpoint_url(endpoint)
            .build(),
    );
    let fields = burst::secrets::fetch_json(&client, "burst/stripe")
        .await
        .unwrap();
    let env = TestEnv::new().await;
    let mut config = env.app.config.clone();
    config.use_stripe_secret(&fields);
    assert_eq!(config.stripe.unwrap().secret_key, "sk_test_from_the_secret");
    assert_eq!(
        config.stripe_webhook_secret.as_deref(),
        Some("whsec_from_the_secret")
    );
    assert!(
        asked.lock().unwrap()[0].contains("burst/stripe"),
        "the secret was asked for by name"
    );
}

#[test]
fn the_template_keeps_secrets_out_of_the_environment_and_payments_out_of_a_herds_way() {
    let template: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../template.yaml")).unwrap();
    let text = include_str!("../template.yaml");
    // The one exception is the origin-verify value, which CloudFront's distribution config holds
    // in the clear anyway (see the next test); it is resolved exactly where it is used.
    assert_eq!(
        text.matches("{{resolve:secretsmanager").count(),
        2,
        "no secret is resolved into an environment but the origin-verify value"
    );
    let resources = &template["Resources"];
    for function in [
        "CheckoutFunction",
        "StripeWebhookFunction",
        "ReleaseReservationFunction",
        "SweeperFunction",
    ] {
        let variables = &resources[function]["Properties"]["Environment"]["Variables"];
        assert!(
            reference(&variables["STRIPE_SECRET_ID"]) == Some("StripeSecretName"),
            "{function} reads the secret by id"
        );
        assert!(
            variables["STRIPE_SECRET_KEY"].is_null(),
            "{function} has no key in its environment"
        );
    }
    for (function, reserved) in [
        ("CheckoutFunction", "PaymentConcurrency"),
        ("StripeWebhookFunction", "PaymentConcurrency"),
        ("ClaimFunction", "ClaimConcurrency"),
    ] {
        assert_eq!(
            reference(&resources[function]["Properties"]["ReservedConcurrentExecutions"]),
            Some(reserved),
            "{function}"
        );
    }
}

/// A default account: 1,000 concurrent Lambda executions, 10,000 API requests/s (steady).
const ACCOUNT_CONCURRENCY: i64 = 1_000;
const ACCOUNT_REQUESTS_PER_SECOND: i64 = 10_000;

#[test]
fn the_concurrency_plan_fits_a_default_account_with_headroom() {
    let template: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../template.yaml")).unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    let at_default = |value: &serde_yaml::Value| -> i64 {
        match reference(value) {
            Some(parameter) => template["Parameters"][parameter]["Default"]
                .as_i64()
                .unwrap_or_else(|| panic!("{parameter} has a numeric default")),
            None => value.as_i64().expect("a number or a !Ref"),
        }
    };

    // Reservations are carved out of the account's pool; what is left serves every other
    // function. At the account's whole API rate and 50 ms a request they need 500, plus one
    // fan-out per stream shard (≤ 32) and the WebSocket routes (stage throttle 1,000/s × 40 ms):
    // 572. The plan keeps 40 % above that.
    let reserved: i64 = resources
        .values()
        .filter_map(|resource| {
            let value = &resource["Properties"]["ReservedConcurrentExecutions"];
            (!value.is_null()).then(|| at_default(value))
        })
        .sum();
    let unreserved_need = ACCOUNT_REQUESTS_PER_SECOND * 50 / 1_000 + 32 + 1_000 * 40 / 1_000;
    assert!(
        ACCOUNT_CONCURRENCY - reserved >= unreserved_need * 14 / 10,
        "reservations of {reserved} leave {} of {ACCOUNT_CONCURRENCY}, under 1.4 × {unreserved_need}",
        ACCOUNT_CONCURRENCY - reserved
    );

    // Every route with a throttle of its own takes it from a parameter, and a function with a
    // reservation gets 429s from API Gateway before Lambda throttles it: its route's rate times
    // its duration (docs/capacity.md § 1) fits in its reservation.
    let api = &template["Resources"]["HttpApi"]["Properties"];
    let routes = api["RouteSettings"].as_mapping().unwrap();
    for (route, settings) in routes {
        for limit in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
            assert!(
                reference(&settings[limit]).is_some(),
                "{route:?} {limit} is a parameter"
            );
        }
    }
    for limit in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
        assert!(reference(&api["DefaultRouteSettings"][limit]).is_some());
    }
    for (function, route, milliseconds) in [
        ("ClaimFunction", "POST /drops/{drop_id}/claims", 50),
        (
            "CheckoutFunction",
            "POST /reservations/{reservation_id}/checkout",
            400,
        ),
        ("StripeWebhookFunction", "POST /webhooks/stripe", 50),
    ] {
        let reservation =
            at_default(&resources[function]["Properties"]["ReservedConcurrentExecutions"]);
        let rate = at_default(&api["RouteSettings"][route]["ThrottlingRateLimit"]);
        assert!(
            rate * milliseconds <= reservation * 1_000,
            "{route}: {rate}/s × {milliseconds} ms needs more than {function}'s {reservation}"
        );
    }
    for route in [
        "POST /drops/{drop_id}/queue",
        "GET /drops/{drop_id}/challenge",
        "GET /drops/{drop_id}/queue/me",
    ] {
        assert!(routes.contains_key(route), "{route} has its own throttle");
    }

    // Even with every throttled route and one more at their limits at once, the HTTP API stays
    // inside the account's rate (the WebSocket posts share the rest).
    let throttled: i64 = routes
        .values()
        .map(|settings| at_default(&settings["ThrottlingRateLimit"]))
        .sum::<i64>()
        + at_default(&api["DefaultRouteSettings"]["ThrottlingRateLimit"]);
    assert!(
        throttled <= ACCOUNT_REQUESTS_PER_SECOND,
        "the throttles add up to {throttled}/s"
    );
}

#[test]
fn the_user_pool_names_its_tier_and_tokens_outlast_a_drops_window() {
    let template: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../template.yaml")).unwrap();
    let parameters = &template["Parameters"];
    let pool = &template["Resources"]["UserPool"]["Properties"];
    // A pool without a tier is Essentials, ≈ 3× Lite's price at a million monthly users.
    assert_eq!(reference(&pool["UserPoolTier"]), Some("UserPoolTier"));
    assert_eq!(parameters["UserPoolTier"]["Default"].as_str(), Some("LITE"));
    // A token fetched up to an hour before the pre-queue opens lasts through the pre-queue
    // (30 min) and an hour of sale, so that nobody refreshes at the open.
    let client = &template["Resources"]["StorefrontClient"]["Properties"];
    assert_eq!(
        client["TokenValidityUnits"]["AccessToken"].as_str(),
        Some("minutes")
    );
    for token in ["AccessTokenValidity", "IdTokenValidity"] {
        let parameter = reference(&client[token]).expect("a parameter");
        let minutes = parameters[parameter]["Default"].as_i64().unwrap();
        assert!(minutes >= 30 + 60 + 60, "{token}: {minutes} minutes");
    }
}

/// The origin-verify value decides whose address the per-address limits count: it is a random
/// secret generated by Secrets Manager, not derived from the stack's id (whose first group is
/// public in the Hosted UI's domain), and CloudFront sends the very value the functions expect.
#[test]
fn the_origin_verify_secret_is_generated_not_derived_from_the_stack_id() {
    let template: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../template.yaml")).unwrap();
    let resources = &template["Resources"];
    let in_functions =
        &template["Globals"]["Function"]["Environment"]["Variables"]["ORIGIN_VERIFY_SECRET"];
    let origins = resources["Distribution"]["Properties"]["DistributionConfig"]["Origins"]
        .as_sequence()
        .unwrap();
    let api = origins.iter().find(|origin| origin["Id"] == "api").unwrap();
    let at_cloudfront = api["OriginCustomHeaders"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|header| header["HeaderName"] == "X-Burst-Origin-Verify")
        .map(|header| &header["HeaderValue"])
        .unwrap();
    for (use_, value) in [("functions", in_functions), ("CloudFront", at_cloudfront)] {
        let written = serde_yaml::to_string(value).unwrap();
        assert!(!written.contains("StackId"), "{use_}: {written}");
    }
    let secret = resolved_secret(in_functions).expect("the functions resolve a secret");
    assert_eq!(
        resolved_secret(at_cloudfront),
        Some(secret),
        "CloudFront sends the secret the functions expect"
    );
    let generated = &resources[secret];
    assert_eq!(generated["Type"], "AWS::SecretsManager::Secret");
    let generate = &generated["Properties"]["GenerateSecretString"];
    assert_eq!(generate["ExcludePunctuation"], true, "a header-safe value");
    assert!(generate["PasswordLength"].as_u64().unwrap() >= 32);
    assert!(
        generate["SecretStringTemplate"].is_null(),
        "the secret string is the value itself"
    );
    for (name, resource) in resources.as_mapping().unwrap() {
        let variables = &resource["Properties"]["Environment"]["Variables"];
        assert!(
            variables["ORIGIN_VERIFY_SECRET"].is_null(),
            "{name:?} keeps the global origin-verify value"
        );
    }
}

/// The secret resource of `!Sub "{{resolve:secretsmanager:${Secret}:SecretString}}"`.
fn resolved_secret(value: &serde_yaml::Value) -> Option<&str> {
    match value {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "Sub" => tagged
            .value
            .as_str()?
            .strip_prefix("{{resolve:secretsmanager:${")?
            .strip_suffix("}:SecretString}}"),
        _ => None,
    }
}

/// The parameter a `!Ref` names.
fn reference(value: &serde_yaml::Value) -> Option<&str> {
    match value {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        _ => None,
    }
}

/// CloudFront's path patterns: `*` any run of characters (`/` included), `?` exactly one.
fn path_pattern_matches(pattern: &[u8], path: &[u8]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            path_pattern_matches(&pattern[1..], path)
                || (!path.is_empty() && path_pattern_matches(pattern, &path[1..]))
        }
        (Some(b'?'), Some(_)) => path_pattern_matches(&pattern[1..], &path[1..]),
        (Some(p), Some(c)) if p == c => path_pattern_matches(&pattern[1..], &path[1..]),
        _ => false,
    }
}

#[test]
fn the_edge_caches_public_routes_only_never_a_shoppers_answer() {
    let template: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../template.yaml")).unwrap();
    let behaviours =
        template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"]
            .as_sequence()
            .expect("the distribution's cache behaviours")
            .clone();
    const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
    let first_match = |path: &str| {
        behaviours
            .iter()
            .find(|b| {
                path_pattern_matches(
                    b["PathPattern"].as_str().unwrap().as_bytes(),
                    path.as_bytes(),
                )
            })
            .cloned()
    };
    let mut cached_public = Vec::new();
    for route in burst::api::ROUTES {
        let path = route
            .path
            .replace("{drop_id}", "0123456789abcdef0123456789abcdef")
            .replace("{reservation_id}", "0123456789abcdef0123456789abcdef")
            .replace("{order_id}", "0123456789abcdef0123456789abcdef")
            .replace("{page}", "m-00");
        let Some(behaviour) = first_match(&path) else {
            continue;
        };
        let cached = behaviour["CachePolicyId"].as_str() != Some(CACHING_DISABLED);
        if cached && route.method == "GET" {
            assert!(
                route.public,
                "{} {} is personal but {} caches it at the edge",
                route.method,
                route.path,
                behaviour["PathPattern"].as_str().unwrap_or_default()
            );
            cached_public.push(route.path);
        }
    }
    for wanted in [
        "/drops",
        "/drops/{drop_id}",
        "/drops/{drop_id}/queue",
        "/drops/{drop_id}/queue/proof",
        "/drops/{drop_id}/queue/proof/{page}",
        "/drops/{drop_id}/integrity",
    ] {
        assert!(
            cached_public.contains(&wanted),
            "{wanted} is cached at the edge"
        );
    }
    assert!(!path_pattern_matches(
        b"/drops/????",
        b"/drops/abcd/queue/me"
    ));
}
