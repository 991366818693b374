//! The waiting room against DynamoDB Local: one ticket per shopper, a draw anyone can check,
//! admission strictly in position order at the pace the stock allows, and claims that spend a
//! signed, single-use admission.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use burst::model::admission::{AdmissionClaims, AdmissionKeys, new_private_hex};
use burst::model::draw;
use burst_tests::{
    Caller, TEST_ADMISSION_KEY, TestEnv, assert_consistent, drop_body, herd, id_of,
    just_after_admission, queued_drop_body,
};
use chrono::Utc;
use serde_json::{Value, json};

/// The queue object of a drop whose queue is open, with `extra` settings.
fn open_queue(extra: Value) -> Value {
    let mut queue = json!({ "opens_at": (Utc::now() - chrono::Duration::seconds(1)).to_rfc3339() });
    if let (Value::Object(base), Value::Object(extra)) = (&mut queue, extra) {
        base.extend(extra);
    }
    queue
}

/// Waits until the drop has started.
async fn until_start(drop: &Value) {
    let starts_at =
        chrono::DateTime::parse_from_rfc3339(drop["starts_at"].as_str().unwrap()).unwrap();
    let wait = (starts_at.with_timezone(&Utc) - Utc::now()).num_milliseconds() + 50;
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

async fn ticket_of(env: &TestEnv, shopper: &str, drop_id: &str) -> Value {
    let reply = env.my_ticket(Caller::Shopper(shopper), drop_id).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["ticket"].clone()
}

#[tokio::test]
async fn a_queued_drop_has_a_committed_seed_and_refuses_what_its_queue_does_not_allow() {
    let env = TestEnv::new().await;
    let later = Utc::now() + chrono::Duration::hours(1);
    let upcoming = env
        .create_drop(drop_body(
            5,
            json!({ "starts_at": (later + chrono::Duration::hours(1)).to_rfc3339(),
                    "queue": { "opens_at": later.to_rfc3339(), "admit_per_minute": 60 } }),
        ))
        .await;
    assert_eq!(upcoming["queue"]["admission_seconds"], 120);
    assert_eq!(
        upcoming["queue"]["proof_of_work"], true,
        "queued drops need a proof by default"
    );
    assert_eq!(upcoming["queue"]["ip_joins_per_minute"], 300);
    assert_eq!(upcoming["queue"]["admit_per_minute"], 60);
    let id = id_of(&upcoming);
    let early = env.join(Caller::Shopper("ann"), &id, None).await;
    assert_eq!((early.status, early.error_code()), (403, "queue_not_open"));
    assert_eq!(
        early.body["error"]["opens_at"],
        upcoming["queue"]["opens_at"]
    );
    let status = env.queue_status(&id).await;
    assert_eq!(status.body["phase"], "upcoming");
    assert_eq!(status.body["seed"], Value::Null);
    assert_eq!(status.body["seed_commitment"].as_str().unwrap().len(), 64);

    let plain = id_of(&env.create_drop(drop_body(5, json!({}))).await);
    let not_queued = env.join(Caller::Shopper("ann"), &plain, None).await;
    assert_eq!(
        (not_queued.status, not_queued.error_code()),
        (400, "not_queued")
    );
    assert_eq!(env.queue_status(&plain).await.error_code(), "not_queued");
    let unknown = env
        .join(
            Caller::Shopper("ann"),
            "0123456789abcdef0123456789abcdef",
            None,
        )
        .await;
    assert_eq!((unknown.status, unknown.error_code()), (404, "not_found"));
    assert_eq!(
        env.my_ticket(Caller::Shopper("ann"), &id)
            .await
            .error_code(),
        "not_in_queue"
    );

    // A live queued drop: claims need an admission.
    let live = id_of(
        &env.create_drop(queued_drop_body(5, -1_000, json!({})))
            .await,
    );
    let claim = env.claim(Caller::Shopper("ann"), &live, None).await;
    assert_eq!(
        (claim.status, claim.error_code()),
        (403, "admission_required")
    );
    for bad in [
        json!({ "opens_at": "yesterday" }),
        json!({ "opens_at": (later + chrono::Duration::days(3)).to_rfc3339() }),
        json!({ "opens_at": later.to_rfc3339(), "surprise": 1 }),
        json!({ "opens_at": later.to_rfc3339(), "admission_seconds": 0 }),
        json!({ "opens_at": later.to_rfc3339(), "proof_of_work": "yes" }),
    ] {
        let body = drop_body(
            5,
            json!({ "starts_at": (later + chrono::Duration::hours(1)).to_rfc3339(), "queue": bad }),
        );
        let reply = env
            .post_drop(Caller::Admin("root"), &body.to_string())
            .await;
        assert_eq!(reply.status, 400, "{bad}");
        assert!(
            reply.body["error"]["field"]
                .as_str()
                .unwrap()
                .starts_with("queue")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_joins_of_one_shopper_make_one_ticket() {
    let env = Arc::new(TestEnv::new().await);
    // No proof of work here: 50 solved challenges would take requests the velocity limits
    // refuse first.
    let body = queued_drop_body(
        5,
        60_000,
        json!({ "queue": open_queue(json!({ "proof_of_work": false })) }),
    );
    let drop_id = id_of(&env.create_drop(body).await);
    let replies = herd(50, 50, |_| {
        let env = env.clone();
        let drop_id = drop_id.clone();
        async move { env.join(Caller::Shopper("eager"), &drop_id, None).await }
    })
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.error_code().to_string()))
            .collect::<Vec<_>>()
    );
    // Past the per-shopper limit of 10 joins a minute the rest are refused, never a second ticket.
    assert!(
        replies
            .iter()
            .all(|r| r.status == 201 || r.status == 200 || r.error_code() == "rate_limited")
    );
    let ids: HashSet<&str> = replies
        .iter()
        .filter_map(|r| r.body["ticket"]["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "everyone got the same ticket");
    assert_eq!(env.count_items(&format!("QDRAW#{drop_id}")).await, 1);
    let ticket = &replies.iter().find(|r| r.status == 201).unwrap().body["ticket"];
    assert_eq!(ticket["status"], "waiting");
    assert_eq!(
        ticket["position"],
        Value::Null,
        "placed by the draw at the start"
    );
    assert_eq!(ticket["eta_seconds"], Value::Null);
}

#[tokio::test]
async fn the_draw_is_published_verifiable_and_later_joiners_follow_in_arrival_order() {
    let env = TestEnv::new().await;
    let drop = env
        .create_drop(queued_drop_body(100, 600_000, json!({})))
        .await;
    let drop_id = id_of(&drop);
    let commitment = env.queue_status(&drop_id).await.body["seed_commitment"].clone();
    let early: Vec<String> = (0..40).map(|i| format!("early-{i:02}")).collect();
    let env = Arc::new(env);
    herd(early.len(), 8, |i| {
        let env = env.clone();
        let drop_id = drop_id.clone();
        let shopper = early[i].clone();
        async move { env.ticket_for(&shopper, &drop_id).await }
    })
    .await;
    let pending = env.queue_proof(&drop_id).await;
    assert_eq!(
        (pending.status, pending.error_code()),
        (409, "draw_pending")
    );
    // Everyone is in: the start comes now.
    let drop = env.start_in(&drop_id, 300).await;
    until_start(&drop).await;
    assert!(env.tick(&drop_id).await.drew);

    let status = env.queue_status(&drop_id).await;
    assert_eq!(status.body["phase"], "open");
    assert_eq!(status.body["cohort_size"], 40);
    assert_eq!(
        status.body["seed_commitment"], commitment,
        "the commitment never changed"
    );
    let proof = env.drawn_order(&drop_id).await;
    let seed = proof.seed.as_str();
    let cohort = proof.cohort.clone();
    assert_eq!(cohort.len(), 40);
    assert!(draw::verify(seed, commitment.as_str().unwrap(), &cohort));
    assert_eq!(status.body["seed"], seed);
    // Every shopper finds their own ticket at the position the proof gives it.
    for shopper in &early {
        let ticket = ticket_of(&env, shopper, &drop_id).await;
        let id = ticket["id"].as_str().unwrap();
        let index = cohort.iter().position(|t| t == id).expect("in the cohort") as u64;
        assert_eq!(ticket["position"], index + 1, "{shopper}");
    }

    // After the start: positions 41, 42, … in arrival order.
    let late: Vec<String> = (0..5).map(|i| format!("late-{i}")).collect();
    for shopper in &late {
        env.ticket_for(shopper, &drop_id).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    env.tick(&drop_id).await;
    for (i, shopper) in late.iter().enumerate() {
        let ticket = ticket_of(&env, shopper, &drop_id).await;
        assert_eq!(ticket["position"], 41 + i as u64, "{shopper}");
    }
}

/// A drop of `units` whose `shoppers` joined before a start a moment away, drawn.
async fn drawn_queue(
    env: &TestEnv,
    units: u32,
    shoppers: usize,
    queue: Value,
) -> (String, Vec<String>) {
    let body = queued_drop_body(units, 600_000, json!({ "queue": open_queue(queue) }));
    let drop_id = id_of(&env.create_drop(body).await);
    let names: Vec<String> = (0..shoppers).map(|i| format!("q-{i:04}")).collect();
    for name in &names {
        env.ticket_for(name, &drop_id).await;
    }
    // Everyone joined before the start, however long that took: the start comes now.
    let drop = env.start_in(&drop_id, 300).await;
    until_start(&drop).await;
    assert!(env.tick(&drop_id).await.drew);
    // Shoppers in position order.
    let cohort = env.drawn_order(&drop_id).await.cohort;
    let shopper_of: std::collections::HashMap<String, String> = env
        .app
        .store
        .tickets(&drop_id, &names)
        .await
        .unwrap()
        .into_iter()
        .map(|ticket| (ticket.id, ticket.shopper))
        .collect();
    let by_position: Vec<String> = cohort.iter().map(|id| shopper_of[id].clone()).collect();
    (drop_id, by_position)
}

#[tokio::test]
async fn admission_is_strictly_in_position_order_and_tokens_are_checked() {
    let env = TestEnv::new().await;
    let (drop_id, line) = drawn_queue(&env, 4, 10, json!({})).await;
    // The draw's tick admitted as many as there are units: positions 1..4.
    for (i, shopper) in line.iter().enumerate() {
        let ticket = ticket_of(&env, shopper, &drop_id).await;
        let admitted = i < 4;
        assert_eq!(
            ticket["status"],
            if admitted { "admitted" } else { "waiting" },
            "position {}",
            i + 1
        );
        assert_eq!(ticket["admission"].is_object(), admitted);
        if !admitted {
            assert_eq!(ticket["ahead"], i as u64 - 4);
        }
    }
    let first = ticket_of(&env, &line[0], &drop_id).await;
    let token = first["admission"]["token"].as_str().unwrap().to_string();
    let keys = AdmissionKeys::from_private_hex(TEST_ADMISSION_KEY).unwrap();
    let claims = |sub: &str, drop: &str, exp: i64| AdmissionClaims {
        drop: drop.to_string(),
        sub: sub.to_string(),
        ticket: first["id"].as_str().unwrap().to_string(),
        position: 1,
        exp,
    };
    let future = Utc::now().timestamp() + 60;
    let forged = AdmissionKeys::from_private_hex(&new_private_hex())
        .unwrap()
        .issue(&claims(&line[0], &drop_id, future))
        .unwrap();
    let expired = keys
        .issue(&claims(&line[0], &drop_id, Utc::now().timestamp() - 1))
        .unwrap();
    let other_drop = keys
        .issue(&claims(
            &line[0],
            "0123456789abcdef0123456789abcdef",
            future,
        ))
        .unwrap();
    for (case, shopper, token) in [
        ("forged", line[0].as_str(), forged.as_str()),
        ("expired", line[0].as_str(), expired.as_str()),
        ("another drop's", line[0].as_str(), other_drop.as_str()),
        ("another shopper's", line[5].as_str(), token.as_str()),
        ("garbage", line[0].as_str(), "not.a-token"),
    ] {
        let reply = env.claim_admitted(shopper, &drop_id, token).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (403, "admission_invalid"),
            "{case}"
        );
    }
    // A waiting ticket has no admission to spend, even with a well-signed token for it.
    let waiting = ticket_of(&env, &line[6], &drop_id).await;
    let premature = keys
        .issue(&AdmissionClaims {
            drop: drop_id.clone(),
            sub: line[6].clone(),
            ticket: waiting["id"].as_str().unwrap().into(),
            position: 7,
            exp: future,
        })
        .unwrap();
    let reply = env.claim_admitted(&line[6], &drop_id, &premature).await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (403, "admission_invalid")
    );

    let won = env.claim_admitted(&line[0], &drop_id, &token).await;
    assert_eq!(won.status, 201, "{:?}", won.body);
    let again = env.claim_admitted(&line[0], &drop_id, &token).await;
    assert_eq!(
        (again.status, again.error_code()),
        (409, "already_claimed"),
        "a ticket claims once"
    );
    assert_eq!(
        ticket_of(&env, &line[0], &drop_id).await["status"],
        "claimed"
    );
    assert_eq!(env.count_items("RES#").await, 1);
    assert_consistent(&env, &drop_id).await;
}

#[tokio::test]
async fn an_unused_admission_expires_and_its_slot_passes_to_the_next_position() {
    let env = TestEnv::new().await;
    // Long enough that the second claims within its admission however loaded the machine is;
    // the controller's clock then moves past it.
    let (drop_id, line) = drawn_queue(&env, 2, 5, json!({ "admission_seconds": 300 })).await;
    let first = ticket_of(&env, &line[0], &drop_id).await;
    let second = ticket_of(&env, &line[1], &drop_id).await;
    let claimed = env
        .claim_admitted(
            &line[1],
            &drop_id,
            second["admission"]["token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(claimed.status, 201, "{:?}", claimed.body);
    // Position 1 never claims.
    let report = env.tick_at(&drop_id, just_after_admission(&first)).await;
    // One of two admissions went unused: the no-show factor rises to 1.5, so positions 3 and 4
    // share the one unit that is free, in order.
    assert_eq!((report.expired, report.admitted), (1, 2));
    assert_eq!(
        ticket_of(&env, &line[0], &drop_id).await["status"],
        "expired"
    );
    assert_eq!(
        ticket_of(&env, &line[2], &drop_id).await["status"],
        "admitted"
    );
    assert_eq!(
        ticket_of(&env, &line[3], &drop_id).await["status"],
        "admitted"
    );
    assert_eq!(
        ticket_of(&env, &line[4], &drop_id).await["status"],
        "waiting"
    );
    let late = env
        .claim_admitted(&line[0], &drop_id, "expired.token")
        .await;
    assert_eq!(late.status, 403);
    assert_eq!(env.queue_status(&drop_id).await.body["serving"], 4);
}

#[tokio::test]
async fn units_that_come_back_reopen_admission_and_the_queue_closes_when_all_are_gone() {
    let env = TestEnv::new().await;
    let (drop_id, line) = drawn_queue(&env, 2, 4, json!({})).await;
    let mut holds = Vec::new();
    for shopper in &line[..2] {
        let ticket = ticket_of(&env, shopper, &drop_id).await;
        let reply = env
            .claim_admitted(
                shopper,
                &drop_id,
                ticket["admission"]["token"].as_str().unwrap(),
            )
            .await;
        holds.push(id_of(&reply.body["reservation"]));
    }
    assert_eq!(
        env.tick(&drop_id).await.admitted,
        0,
        "no stock, but holds may return"
    );
    // Two units are held and may come back: positions 3 and 4 are not beyond the stock.
    let third = ticket_of(&env, &line[2], &drop_id).await;
    assert_eq!(
        (third["status"].clone(), third["beyond_stock"].clone()),
        (json!("waiting"), json!(false))
    );
    assert_eq!(
        env.release(Caller::Shopper(&line[0]), &holds[0])
            .await
            .status,
        200
    );
    assert_eq!(env.tick(&drop_id).await.admitted, 1);
    let third = ticket_of(&env, &line[2], &drop_id).await;
    assert_eq!(third["status"], "admitted");
    env.claim_admitted(
        &line[2],
        &drop_id,
        third["admission"]["token"].as_str().unwrap(),
    )
    .await;
    // Every unit is held: position 4 still waits, in case one comes back.
    env.tick(&drop_id).await;
    assert_eq!(
        ticket_of(&env, &line[3], &drop_id).await["status"],
        "waiting"
    );
    assert_consistent(&env, &drop_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_joiners_for_100_units_the_first_100_positions_hold_them() {
    let env = Arc::new(TestEnv::new().await);
    // Proof of work is tested on its own (tests/antibot.rs); here the crowd only queues.
    let crowd = json!({ "queue": open_queue(json!({ "ip_joins_per_minute": 100_000, "proof_of_work": false })) });
    let drop = env.create_drop(queued_drop_body(100, 600_000, crowd)).await;
    let drop_id = id_of(&drop);
    let shoppers: Vec<String> = (0..2000).map(|i| format!("crowd-{i:04}")).collect();
    herd(2000, 48, |i| {
        let env = env.clone();
        let drop_id = drop_id.clone();
        let shopper = shoppers[i].clone();
        async move { env.ticket_for(&shopper, &drop_id).await }
    })
    .await;
    let drop = env.start_in(&drop_id, 300).await;
    until_start(&drop).await;
    let mut serving = env.tick(&drop_id).await.serving as usize;
    // Anyone whose join landed after the start is numbered after the cohort.
    tokio::time::sleep(Duration::from_millis(400)).await;
    env.tick(&drop_id).await;
    let mut by_position = vec![String::new(); 2001];
    for shopper in &shoppers {
        let ticket = ticket_of(&env, shopper, &drop_id).await;
        let position = ticket["position"]
            .as_u64()
            .expect("every ticket has a place") as usize;
        assert!(
            by_position[position].is_empty(),
            "position {position} given twice"
        );
        by_position[position] = shopper.clone();
        if position == 500 {
            assert_eq!(
                ticket["beyond_stock"], true,
                "399 waiting + 100 admitted ahead of 100 units"
            );
        }
    }

    // Everyone claims as soon as admitted; the controller keeps ticking.
    let mut winners: Vec<usize> = Vec::new();
    let mut seen = 0;
    loop {
        for (position, shopper) in by_position
            .iter()
            .enumerate()
            .take(serving + 1)
            .skip(seen + 1)
        {
            let ticket = ticket_of(&env, shopper, &drop_id).await;
            let token = ticket["admission"]["token"].as_str().expect("admitted");
            let reply = env.claim_admitted(shopper, &drop_id, token).await;
            if reply.status == 201 {
                winners.push(position);
            } else {
                assert_eq!(reply.error_code(), "sold_out", "{:?}", reply.body);
            }
        }
        seen = serving;
        let report = env.tick(&drop_id).await;
        serving = report.serving as usize;
        if report.admitted == 0 {
            break;
        }
    }
    winners.sort();
    assert_eq!(
        winners,
        (1..=100).collect::<Vec<_>>(),
        "exactly the first 100 positions"
    );
    assert_eq!(serving, 100, "nobody past the stock was admitted");
    assert_eq!(env.count_items("RES#").await, 100);
    let audit = assert_consistent(&env, &drop_id).await;
    assert_eq!(
        (audit["held"].clone(), audit["available"].clone()),
        (json!(100), json!(0))
    );
    assert_eq!(
        ticket_of(&env, &by_position[101], &drop_id).await["status"],
        "waiting"
    );
}

#[tokio::test]
async fn the_integrity_report_counts_claims_and_unused_admissions_exactly_and_refused_joins() {
    let env = TestEnv::new().await;
    let opens_at = Utc::now() + chrono::Duration::minutes(5);
    let drop_id = id_of(
        &env.create_drop(queued_drop_body(
            2,
            600_000,
            json!({ "queue": { "opens_at": opens_at.to_rfc3339(), "proof_of_work": false,
                               "admission_seconds": 300 } }),
        ))
        .await,
    );
    let early = env.join(Caller::Shopper("too-early"), &drop_id, None).await;
    assert_eq!(early.error_code(), "queue_not_open", "{:?}", early.body);
    env.open_queue_now(&drop_id).await;
    for shopper in ["first", "second", "third"] {
        env.ticket_for(shopper, &drop_id).await;
    }
    let drop = env.start_in(&drop_id, 300).await;
    until_start(&drop).await;
    assert_eq!(env.tick(&drop_id).await.admitted, 2);
    // Position 2 claims; position 1 lets its admission run out.
    let line = env.drawn_order(&drop_id).await.cohort;
    let mut by_position = Vec::new();
    for id in &line {
        for shopper in ["first", "second", "third"] {
            let ticket = ticket_of(&env, shopper, &drop_id).await;
            if ticket["id"] == id.as_str() {
                by_position.push((shopper, ticket));
            }
        }
    }
    let (second, ticket) = &by_position[1];
    let token = ticket["admission"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{ticket}"));
    let claimed = env.claim_admitted(second, &drop_id, token).await;
    assert_eq!(claimed.status, 201, "{:?}", claimed.body);
    let report = env.integrity(&drop_id).await.body;
    assert_eq!(
        (report["claimed"].clone(), report["expired_unused"].clone()),
        (json!(1), json!(0)),
        "a claim counts at once, an admission still running is neither: {report}"
    );
    let report = env
        .tick_at(&drop_id, just_after_admission(&by_position[0].1))
        .await;
    assert_eq!(
        (report.expired, report.admitted),
        (1, 1),
        "the slot passed on"
    );
    let r = env.integrity(&drop_id).await.body;
    assert_eq!(
        (
            r["admitted"].clone(),
            r["claimed"].clone(),
            r["expired_unused"].clone()
        ),
        (json!(3), json!(1), json!(1)),
        "{r}"
    );
    assert_eq!(r["joins"]["refused"]["not_open"], 1);
    assert_eq!(r["joins"]["received"], 4);
}
