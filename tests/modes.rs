//! Drop modes against DynamoDB Local: a raffle drawn from the committed seed, early access for a
//! Cognito group only, prices locked into holds while a published schedule moves, and the
//! operator's controls (pause, resume, edits until the drop opens, every action recorded).

use std::sync::Arc;
use std::time::Duration;

use burst::model::draw;
use burst_tests::checkout::{PRICE, hold_on};
use burst_tests::{
    Caller, TestEnv, assert_consistent, drop_body, event_with_headers, herd, id_of,
    just_after_admission, queued_drop_body,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use stripe_emulator::PaymentMethod;

fn in_ms(ms: i64) -> String {
    (Utc::now() + chrono::Duration::milliseconds(ms)).to_rfc3339()
}

/// Sleeps until just past the RFC 3339 instant `at`.
async fn sleep_past(at: &Value) {
    let at = DateTime::parse_from_rfc3339(at.as_str().expect("a timestamp")).unwrap();
    let wait = (at.with_timezone(&Utc) - Utc::now()).num_milliseconds() + 100;
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

async fn ticket(env: &TestEnv, shopper: &str, drop_id: &str) -> Value {
    let reply = env.my_ticket(Caller::Shopper(shopper), drop_id).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["ticket"].clone()
}

fn token_of(ticket: &Value) -> String {
    ticket["admission"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("an admitted ticket: {ticket}"))
        .to_string()
}

#[tokio::test]
async fn a_raffle_of_50_entries_admits_exactly_10_and_unused_wins_pass_on() {
    let env = Arc::new(TestEnv::new().await);
    let close = in_ms(600_000);
    let drop = env
        .create_drop(drop_body(
            10,
            json!({
                "starts_at": close,
                "mode": "raffle",
                "queue": { "opens_at": in_ms(-1_000), "proof_of_work": false },
                "raffle": { "entries_close_at": close, "claim_window_seconds": 300 },
            }),
        ))
        .await;
    assert_eq!(drop["mode"], "raffle");
    let id = id_of(&drop);
    let shoppers: Vec<String> = (0..50).map(|i| format!("entrant-{i:02}")).collect();
    let entries = herd(50, 25, |i| {
        let env = env.clone();
        let shopper = shoppers[i].clone();
        let id = id.clone();
        async move { env.join(Caller::Shopper(&shopper), &id, None).await.status }
    })
    .await;
    assert!(entries.iter().all(|status| *status == 201), "{entries:?}");
    let status = env.queue_status(&id).await;
    assert_eq!(status.body["phase"], "prequeue");
    assert_eq!(status.body["draw_at"], drop["raffle"]["entries_close_at"]);
    assert_eq!(env.queue_proof(&id).await.error_code(), "draw_pending");

    // Every entry is in: the entries close now.
    let drop = env.start_in(&id, 300).await;
    sleep_past(&drop["raffle"]["entries_close_at"]).await;
    let late = env.join(Caller::Shopper("latecomer"), &id, None).await;
    assert_eq!((late.status, late.error_code()), (409, "queue_closed"));
    let report = env.tick(&id).await;
    assert!(report.drew);
    assert_eq!(report.admitted, 10, "exactly the stock is admitted");

    // The published proof recomputes the draw, and the winners are its first ten entries.
    let proof = env.drawn_order(&id).await;
    let cohort = proof.cohort;
    assert_eq!(cohort.len(), 50);
    assert_eq!(proof.cohort_start, 1);
    assert!(draw::verify(&proof.seed, &proof.seed_commitment, &cohort));
    let mut by_position: Vec<(u64, String, Value)> = Vec::new();
    for shopper in &shoppers {
        let ticket = ticket(&env, shopper, &id).await;
        let position = ticket["position"].as_u64().expect("every entry is placed");
        assert_eq!(
            cohort[position as usize - 1],
            ticket["id"].as_str().unwrap()
        );
        by_position.push((position, shopper.clone(), ticket));
    }
    by_position.sort_by_key(|(position, _, _)| *position);
    for (position, _, ticket) in &by_position {
        let expected = if *position <= 10 {
            "admitted"
        } else {
            "waiting"
        };
        assert_eq!(ticket["status"], expected, "position {position}");
    }

    // Losers cannot claim, with or without somebody else's win.
    let (_, loser, _) = &by_position[20];
    let refused = env.claim(Caller::Shopper(loser), &id, None).await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (403, "admission_required")
    );
    let borrowed = token_of(&by_position[0].2);
    let refused = env.claim_admitted(loser, &id, &borrowed).await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (403, "admission_invalid")
    );
    // Eight winners claim; two let their window pass, and their wins pass to entries 11 and 12.
    for (_, winner, ticket) in &by_position[..8] {
        let reply = env.claim_admitted(winner, &id, &token_of(ticket)).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }
    // The controller's clock moves past the window (however long the machine took so far).
    let report = env
        .tick_at(&id, just_after_admission(&by_position[9].2))
        .await;
    assert_eq!((report.expired, report.admitted), (2, 2));
    for (position, shopper, _) in &by_position[8..13] {
        let expected = match position {
            9 | 10 => "expired",
            11 | 12 => "admitted",
            _ => "waiting",
        };
        assert_eq!(ticket(&env, shopper, &id).await["status"], expected);
    }
    let next = ticket(&env, &by_position[10].1, &id).await;
    let reply = env
        .claim_admitted(&by_position[10].1, &id, &token_of(&next))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let audit = assert_consistent(&env, &id).await;
    assert_eq!(
        (audit["held"].clone(), audit["available"].clone()),
        (json!(9), json!(1))
    );
}

#[tokio::test]
async fn early_access_opens_the_claim_to_its_group_only() {
    let env = TestEnv::new().await;
    let drop = env
        .create_drop(drop_body(
            5,
            json!({
                "starts_at": in_ms(3_600_000),
                "early_access": [{ "group": "vip", "starts_at": in_ms(-1_000) }],
            }),
        ))
        .await;
    let id = id_of(&drop);
    assert_eq!(drop["status"], "upcoming");
    let member = env.claim(Caller::Member("vera", "vip"), &id, None).await;
    assert_eq!(member.status, 201, "{:?}", member.body);
    for caller in [Caller::Shopper("sam"), Caller::Member("gil", "gold")] {
        let refused = env.claim(caller, &id, None).await;
        assert_eq!(
            (refused.status, refused.error_code()),
            (403, "drop_not_live")
        );
        assert_eq!(refused.body["error"]["starts_at"], drop["starts_at"]);
    }
    // A group named in a header the client chose is not a group.
    let forged = event_with_headers(
        "POST",
        "/drops/{drop_id}/claims",
        &[("drop_id", &id)],
        None,
        Caller::Shopper("mallory"),
        json!({ "cognito-groups": "vip", "x-cognito-groups": "[vip]" }),
    );
    let refused = env.call(forged).await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (403, "drop_not_live")
    );
    let audit = assert_consistent(&env, &id).await;
    assert_eq!(audit["held"], 1);
}

#[tokio::test]
async fn a_queued_drop_draws_and_admits_its_early_cohort_first() {
    let env = TestEnv::new().await;
    let drop = env
        .create_drop(queued_drop_body(
            5,
            1_200_000,
            json!({
                "queue": { "opens_at": in_ms(-1_000), "proof_of_work": false },
                "early_access": [{ "group": "vip", "starts_at": in_ms(600_000) }],
            }),
        ))
        .await;
    let id = id_of(&drop);
    for (caller, shopper) in [
        (Caller::Member("ann", "vip"), "ann"),
        (Caller::Shopper("bob"), "bob"),
        (Caller::Member("amy", "vip"), "amy"),
    ] {
        let joined = env.join(caller, &id, None).await;
        assert_eq!(joined.status, 201, "{shopper}: {:?}", joined.body);
    }
    assert!(
        !env.tick(&id).await.drew,
        "nothing is drawn before the early start"
    );
    // Everyone is in: the early start comes now, the general start ten minutes later (it is
    // brought forward once the early phase is checked, however loaded the machine).
    let drop = env.start_in(&id, 300).await;

    sleep_past(&drop["early_access"][0]["starts_at"]).await;
    let report = env.tick(&id).await;
    assert!(report.drew);
    assert_eq!(report.admitted, 2, "the early cohort, ahead of everyone");
    let status = env.queue_status(&id).await.body;
    assert_eq!(
        (status["phase"].clone(), status["early_cohort_size"].clone()),
        (json!("prequeue"), json!(2))
    );
    for vip in ["ann", "amy"] {
        let ticket = ticket(&env, vip, &id).await;
        assert!(ticket["position"].as_u64().unwrap() <= 2);
        let body = json!({ "admission_token": token_of(&ticket) }).to_string();
        let claim = env
            .claim(Caller::Member(vip, "vip"), &id, Some(&body))
            .await;
        assert_eq!(
            claim.status, 201,
            "early members claim before the start: {:?}",
            claim.body
        );
    }
    assert_eq!(ticket(&env, "bob", &id).await["status"], "waiting");

    let drop = env.general_start_in(&id, 300).await;
    sleep_past(&drop["starts_at"]).await;
    assert!(env.tick(&id).await.drew);
    let bob = ticket(&env, "bob", &id).await;
    assert_eq!(
        (bob["position"].clone(), bob["status"].clone()),
        (json!(3), json!("admitted"))
    );
    let proof = env.drawn_order(&id).await;
    assert_eq!(proof.early.len(), 2);
    assert!(draw::verify(
        &proof.seed,
        &proof.seed_commitment,
        &proof.early
    ));
    assert_eq!(proof.cohort_start, 3);
    assert_eq!(proof.cohort, vec![bob["id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn the_locked_price_survives_a_schedule_step_and_underpayment_is_refunded() {
    let env = TestEnv::with_stripe().await;
    let step = in_ms(2_000);
    let drop = env
        .create_drop(drop_body(
            5,
            json!({ "price_schedule": [{ "at": step, "amount": PRICE + 2_500 }] }),
        ))
        .await;
    let id = id_of(&drop);
    assert_eq!(drop["price_now"]["amount"], PRICE);
    let early = env.hold("ann", &id).await;
    let underpaid = hold_on(&env, "uma", &id).await;

    sleep_past(&json!(step)).await;
    assert_eq!(
        env.get_drop(&id).await.body["price_now"]["amount"],
        PRICE + 2_500
    );
    // Checkout after the step still charges the price locked into the hold.
    let checkout = env.checkout(Caller::Shopper("ann"), &early).await;
    assert_eq!(checkout.status, 201, "{:?}", checkout.body);
    let session_id = checkout.body["session_id"].as_str().unwrap();
    assert_eq!(
        env.emulator().session(session_id).unwrap()["amount_total"],
        PRICE
    );
    let paid = env
        .emulator()
        .complete(session_id, PaymentMethod::Card, None)
        .unwrap();
    assert_eq!(env.deliver(&paid).await.status, 200);
    let order = env.get_order(Caller::Shopper("ann"), &early).await.body["order"].clone();
    assert_eq!(order["status"], "paid");
    assert_eq!(
        order["unit_price"],
        json!({ "amount": PRICE, "currency": "EUR" })
    );

    let short = env
        .emulator()
        .complete(&underpaid.session_id, PaymentMethod::Card, Some(PRICE - 1))
        .unwrap();
    assert_eq!(env.deliver(&short).await.status, 200);
    let order = env
        .get_order(Caller::Shopper("uma"), &underpaid.reservation_id)
        .await
        .body["order"]
        .clone();
    assert_eq!(
        (order["status"].clone(), order["refund_reason"].clone()),
        (json!("refunded"), json!("amount_mismatch"))
    );
    assert_eq!(env.emulator().refunds().len(), 1);

    // A hold made after the step locks the new price.
    let later = env.claim(Caller::Shopper("lee"), &id, None).await;
    assert_eq!(later.body["reservation"]["price"]["amount"], PRICE + 2_500);
    let audit = assert_consistent(&env, &id).await;
    assert_eq!(
        (audit["sold"].clone(), audit["held"].clone()),
        (json!(1), json!(1))
    );
}

#[tokio::test]
async fn a_price_never_rises_for_a_shopper_already_admitted() {
    let env = TestEnv::new().await;
    let drop = env
        .create_drop(queued_drop_body(
            5,
            1_000,
            json!({
                "queue": { "opens_at": in_ms(-1_000), "proof_of_work": false },
                "price_schedule": [{ "at": in_ms(4_000), "amount": PRICE * 2 }],
            }),
        ))
        .await;
    let id = id_of(&drop);
    assert_eq!(
        env.join(Caller::Shopper("ann"), &id, None).await.status,
        201
    );
    sleep_past(&drop["starts_at"]).await;
    assert_eq!(env.tick(&id).await.admitted, 1);
    let admitted = ticket(&env, "ann", &id).await;
    sleep_past(&drop["price_schedule"][0]["at"]).await;
    let claim = env.claim_admitted("ann", &id, &token_of(&admitted)).await;
    assert_eq!(claim.status, 201, "{:?}", claim.body);
    assert_eq!(claim.body["reservation"]["price"]["amount"], PRICE);
}

#[tokio::test]
async fn pause_stops_claims_and_admission_at_once_and_everything_is_recorded() {
    let env = TestEnv::new().await;
    let direct = id_of(&env.create_drop(drop_body(5, json!({}))).await);
    let paused = env.set_paused(Caller::Admin("ops"), &direct, true).await;
    assert_eq!(paused.status, 200, "{:?}", paused.body);
    assert_eq!(
        (
            paused.body["paused"].clone(),
            paused.body["version"].clone()
        ),
        (json!(true), json!(1))
    );
    let refused = env.claim(Caller::Shopper("ann"), &direct, None).await;
    assert_eq!((refused.status, refused.error_code()), (403, "drop_paused"));
    let not_admin = env.set_paused(Caller::Shopper("ann"), &direct, false).await;
    assert_eq!(
        (not_admin.status, not_admin.error_code()),
        (403, "forbidden")
    );
    assert_eq!(
        env.set_paused(Caller::Admin("ops"), &direct, false)
            .await
            .status,
        200
    );
    assert_eq!(
        env.claim(Caller::Shopper("ann"), &direct, None)
            .await
            .status,
        201
    );

    let drop = env
        .create_drop(queued_drop_body(
            5,
            1_000,
            json!({ "queue": { "opens_at": in_ms(-1_000), "proof_of_work": false } }),
        ))
        .await;
    let queued = id_of(&drop);
    for shopper in ["amy", "ben"] {
        assert_eq!(
            env.join(Caller::Shopper(shopper), &queued, None)
                .await
                .status,
            201
        );
    }
    env.set_paused(Caller::Admin("ops"), &queued, true).await;
    sleep_past(&drop["starts_at"]).await;
    let report = env.tick(&queued).await;
    assert_eq!(report.admitted, 0, "no admission while paused");
    assert_eq!(env.queue_status(&queued).await.body["phase"], "paused");
    env.set_paused(Caller::Admin("ops"), &queued, false).await;
    assert_eq!(env.tick(&queued).await.admitted, 2);
    assert_eq!(env.queue_status(&queued).await.body["phase"], "open");

    let events = env.drop_events(Caller::Admin("ops"), &direct).await;
    assert_eq!(events.status, 200, "{:?}", events.body);
    let actions: Vec<(String, String)> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["actor"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("created".to_string(), "admin-1".to_string()),
            ("paused".into(), "ops".into()),
            ("resumed".into(), "ops".into()),
        ]
    );
    let refused = env.drop_events(Caller::Shopper("ann"), &direct).await;
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn edits_are_validated_versioned_and_refused_once_the_drop_opens() {
    let env = TestEnv::new().await;
    let upcoming = env
        .create_drop(drop_body(5, json!({ "starts_at": in_ms(3_600_000) })))
        .await;
    let id = id_of(&upcoming);
    let admin = Caller::Admin("ops");
    let renamed = env
        .patch_drop(admin, &id, json!({ "name": "Renamed", "version": 0, "price_schedule": [{ "at": in_ms(7_200_000), "amount": 9_900 }] }))
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(
        (
            renamed.body["name"].clone(),
            renamed.body["version"].clone()
        ),
        (json!("Renamed"), json!(1))
    );
    assert_eq!(renamed.body["price_schedule"][0]["amount"], 9_900);

    let stale = env
        .patch_drop(admin, &id, json!({ "name": "Again", "version": 0 }))
        .await;
    assert_eq!((stale.status, stale.error_code()), (409, "drop_changed"));
    assert_eq!(stale.body["error"]["version"], 1);
    for (body, field) in [
        (json!({ "total_units": 9 }), "total_units"),
        (
            json!({ "price": { "amount": 1, "currency": "EUR" } }),
            "price",
        ),
        (json!({ "starts_at": in_ms(-60_000) }), "starts_at"),
        (
            json!({ "ends_at": in_ms(60_000), "starts_at": in_ms(120_000) }),
            "ends_at",
        ),
        (json!({ "queue": { "opens_at": in_ms(60_000) } }), "queue"),
        (json!({ "surprise": true }), "surprise"),
    ] {
        let reply = env.patch_drop(admin, &id, body.clone()).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (400, "invalid_request"),
            "{body}"
        );
        assert_eq!(reply.body["error"]["field"], field, "{body}");
    }
    let stored = env.get_drop(&id).await.body;
    assert_eq!(
        (stored["name"].clone(), stored["version"].clone()),
        (json!("Renamed"), json!(1))
    );
    let not_admin = env
        .patch_drop(Caller::Shopper("ann"), &id, json!({ "name": "x" }))
        .await;
    assert_eq!(not_admin.status, 403);

    let live = id_of(&env.create_drop(drop_body(5, json!({}))).await);
    let locked = env
        .patch_drop(admin, &live, json!({ "name": "Too late" }))
        .await;
    assert_eq!((locked.status, locked.error_code()), (409, "drop_locked"));

    let events = env.drop_events(admin, &id).await.body["events"].clone();
    assert_eq!(
        events.as_array().unwrap().len(),
        2,
        "created, then one edit: {events}"
    );
    assert_eq!(events[1]["action"], "updated");
    assert_eq!(events[1]["details"]["name"], "Renamed");
}

/// A raffle admits exactly as many winners as units, so a win is for one unit: with more, the
/// first winners to claim would take the units of the later ones. A raffle cannot be created or
/// edited with `per_user_limit` above 1, and one stored before that rule still sells one unit
/// per win.
#[tokio::test]
async fn a_raffle_win_is_for_one_unit() {
    let env = TestEnv::new().await;
    let close = in_ms(600_000);
    let raffle = |queue_opens_in_ms: i64, extra: Value| {
        let mut body = drop_body(
            2,
            json!({
                "starts_at": close,
                "mode": "raffle",
                "queue": { "opens_at": in_ms(queue_opens_in_ms), "proof_of_work": false },
                "raffle": { "entries_close_at": close, "claim_window_seconds": 60 },
            }),
        );
        if let (Value::Object(base), Value::Object(extra)) = (&mut body, extra) {
            base.extend(extra);
        }
        body
    };
    let admin = Caller::Admin("admin-1");
    let refused = env
        .post_drop(
            admin,
            &raffle(-1_000, json!({ "per_user_limit": 2 })).to_string(),
        )
        .await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (400, "invalid_request"),
        "{:?}",
        refused.body
    );
    assert_eq!(refused.body["error"]["field"], "per_user_limit");
    // Edited before its queue opens (once it has, nothing can change).
    let upcoming = id_of(&env.create_drop(raffle(300_000, json!({}))).await);
    let refused = env
        .patch_drop(admin, &upcoming, json!({ "per_user_limit": 2 }))
        .await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (400, "invalid_request"),
        "{:?}",
        refused.body
    );
    assert_eq!(refused.body["error"]["field"], "per_user_limit");

    // A raffle stored before the rule, two units for two winners at up to two units each.
    let id = id_of(&env.create_drop(raffle(-1_000, json!({}))).await);
    let stored = env.app.store.drop_now(&id).await.unwrap().unwrap();
    let mut before_the_rule = burst::model::drop::DropSpec::clone(&stored);
    before_the_rule.per_user_limit = 2;
    before_the_rule.version += 1;
    let event = burst::model::drop::AdminEvent::new(
        &id,
        "before-the-rule",
        burst::model::drop::AdminAction::Updated,
        json!({ "per_user_limit": 2 }),
        Utc::now(),
    );
    let replaced = env
        .app
        .store
        .replace_drop(&before_the_rule, stored.version, &event);
    assert!(replaced.await.unwrap());
    for shopper in ["first", "second"] {
        assert_eq!(
            env.join(Caller::Shopper(shopper), &id, None).await.status,
            201
        );
    }
    let drop = env.start_in(&id, 300).await;
    sleep_past(&drop["raffle"]["entries_close_at"]).await;
    assert_eq!(env.tick(&id).await.admitted, 2);
    let first = token_of(&ticket(&env, "first", &id).await);
    let greedy = json!({ "quantity": 2, "admission_token": first }).to_string();
    let refused = env
        .claim(Caller::Shopper("first"), &id, Some(&greedy))
        .await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (400, "invalid_request"),
        "{:?}",
        refused.body
    );
    assert_eq!(refused.body["error"]["field"], "quantity");
    assert_eq!(env.claim_admitted("first", &id, &first).await.status, 201);
    let second = token_of(&ticket(&env, "second", &id).await);
    let reply = env.claim_admitted("second", &id, &second).await;
    assert_eq!(reply.status, 201, "the second winner's unit is still there");
    let audit = assert_consistent(&env, &id).await;
    assert_eq!(audit["held"], 2);
}
