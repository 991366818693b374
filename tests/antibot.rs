//! Bots pay and gain nothing: every place in a queue costs a solved, single-use challenge bound to
//! the drop and the shopper; velocity limits cap how fast anyone asks; the integrity report
//! counts what each layer refused.

use std::sync::Arc;

use burst::model::pow;
use burst::store::cache::Caching;
use burst_tests::{
    Caller, FaultInjector, TEST_ORIGIN_SECRET, TEST_POW_TRIES, TestEnv, drop_body,
    event_with_headers, id_of, queued_drop_body,
};
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn open_queue(extra: Value) -> Value {
    let mut queue = json!({ "opens_at": (Utc::now() - chrono::Duration::seconds(1)).to_rfc3339() });
    if let (Value::Object(base), Value::Object(extra)) = (&mut queue, extra) {
        base.extend(extra);
    }
    queue
}

/// Waits, if need be, until at least `seconds` remain in the current minute: velocity limits
/// count in windows of one calendar minute, so a burst that straddles a minute's end is two
/// bursts of the limit's size, and a test's `429` would come one request late.
async fn clear_of_a_minute_boundary(seconds: i64) {
    let into_minute = Utc::now().timestamp_millis().rem_euclid(60_000);
    let left = 60_000 - into_minute;
    if left < seconds * 1000 {
        tokio::time::sleep(std::time::Duration::from_millis(left as u64 + 50)).await;
    }
}

/// The tests' proof-of-work configuration (as `TestEnv` sets it).
fn test_pow() -> pow::PowConfig {
    pow::PowConfig {
        challenge_secret: "test-pow-challenge-secret".into(),
        key_secret: "test-pow-key-secret".into(),
        base_tries: TEST_POW_TRIES,
    }
}

fn altcha_body(payload: &str) -> String {
    json!({ "altcha": payload }).to_string()
}

#[tokio::test]
async fn joining_needs_a_fresh_solution_bound_to_the_drop_and_the_shopper() {
    let env = TestEnv::new().await;
    let drop_id = id_of(
        &env.create_drop(queued_drop_body(5, 60_000, json!({})))
            .await,
    );
    let other_drop = id_of(
        &env.create_drop(queued_drop_body(5, 60_000, json!({})))
            .await,
    );

    // The challenge is the ALTCHA v2 shape the widget takes, bound in its signed data.
    let reply = env.challenge(Caller::Shopper("ann"), &drop_id).await;
    let challenge = &reply.body["challenge"];
    assert_eq!(challenge["parameters"]["algorithm"], "PBKDF2/SHA-256");
    assert_eq!(challenge["parameters"]["data"]["drop"], drop_id.as_str());
    assert_eq!(challenge["parameters"]["data"]["sub"], "ann");
    let expires = challenge["parameters"]["expiresAt"].as_i64().unwrap();
    assert!(expires > Utc::now().timestamp() && expires <= Utc::now().timestamp() + 300);

    let refuse = |status: u16, code: &str| (status, code.to_string());
    let missing = env.join(Caller::Shopper("ann"), &drop_id, None).await;
    assert_eq!(
        (missing.status, missing.error_code().to_string()),
        refuse(403, "pow_required")
    );

    let anns = env.solved_join_body("ann", &drop_id).await;
    let payload = serde_json::from_str::<Value>(&anns).unwrap()["altcha"]
        .as_str()
        .unwrap()
        .to_string();
    // Another shopper's solution, another drop's, a tampered one, an expired one: invalid.
    let bobs_try = env
        .join(Caller::Shopper("bob"), &drop_id, Some(&anns))
        .await;
    assert_eq!(
        (bobs_try.status, bobs_try.error_code().to_string()),
        refuse(403, "pow_invalid")
    );
    let elsewhere = env
        .join(Caller::Shopper("ann"), &other_drop, Some(&anns))
        .await;
    assert_eq!(
        (elsewhere.status, elsewhere.error_code().to_string()),
        refuse(403, "pow_invalid")
    );
    let mut tampered: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &payload).unwrap(),
    )
    .unwrap();
    tampered["challenge"]["parameters"]["cost"] = json!(1);
    let tampered = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        tampered.to_string(),
    );
    for bad in [tampered.as_str(), "not base64!", "e30="] {
        let reply = env
            .join(Caller::Shopper("ann"), &drop_id, Some(&altcha_body(bad)))
            .await;
        assert_eq!(
            (reply.status, reply.error_code().to_string()),
            refuse(403, "pow_invalid")
        );
    }
    let old = pow::challenge(
        &test_pow(),
        &drop_id,
        "ann",
        0,
        Utc::now() - chrono::Duration::seconds(301),
    )
    .unwrap();
    let expired = pow::solve(&old).unwrap();
    let reply = env
        .join(
            Caller::Shopper("ann"),
            &drop_id,
            Some(&altcha_body(&expired)),
        )
        .await;
    assert_eq!(
        (reply.status, reply.error_code().to_string()),
        refuse(403, "pow_invalid")
    );
    assert_eq!(env.count_items("USER#").await, 0, "no ticket so far");

    // The real thing works; a challenge that was spent before is a replay.
    let joined = env
        .join(Caller::Shopper("ann"), &drop_id, Some(&anns))
        .await;
    assert_eq!(joined.status, 201);
    let dee = env.solved_join_body("dee", &drop_id).await;
    let dee_payload = serde_json::from_str::<Value>(&dee).unwrap()["altcha"]
        .as_str()
        .unwrap()
        .to_string();
    let verified = pow::verify(&test_pow(), Some(&dee_payload), &drop_id, "dee").unwrap();
    assert!(
        env.app
            .store
            .spend_challenge(&verified.nonce, verified.expires_at)
            .await
            .unwrap()
    );
    let replayed = env.join(Caller::Shopper("dee"), &drop_id, Some(&dee)).await;
    assert_eq!(
        (replayed.status, replayed.error_code().to_string()),
        refuse(403, "pow_replayed")
    );
    // A shopper with a ticket gets it back without a new proof.
    let again = env.join(Caller::Shopper("ann"), &drop_id, None).await;
    assert_eq!(
        (again.status, again.body["ticket"]["id"].clone()),
        (200, joined.body["ticket"]["id"].clone())
    );
    assert_eq!(
        env.count_items("POW#").await,
        2,
        "ann's and dee's challenges are spent"
    );
}

#[tokio::test]
async fn velocity_limits_answer_429_with_retry_after_per_shopper_and_per_address() {
    let env = TestEnv::new().await;
    let queue = open_queue(json!({ "ip_joins_per_minute": 3, "proof_of_work": false }));
    let drop_id = id_of(
        &env.create_drop(queued_drop_body(5, 60_000, json!({ "queue": queue })))
            .await,
    );

    // One shopper asking for challenges: six a minute.
    clear_of_a_minute_boundary(30).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(env.challenge(Caller::Shopper("eager"), &drop_id).await);
    }
    assert!(statuses[..6].iter().all(|r| r.status == 200));
    let limited = &statuses[6];
    assert_eq!(
        (limited.status, limited.error_code()),
        (429, "rate_limited")
    );
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(limited.body["error"]["retry_after_seconds"], retry_after);

    // One address: three joins a minute for this drop (shared addresses get 300 by default).
    let mut joins = Vec::new();
    for shopper in ["a", "b", "c", "d"] {
        joins.push(
            env.join(Caller::Shopper(shopper), &drop_id, None)
                .await
                .status,
        );
    }
    assert_eq!(joins, [201, 201, 201, 429]);
    assert_eq!(env.count_items("USER#").await, 3);

    // A drop without a queue has no velocity gate: its operator chose none.
    let plain = id_of(&env.create_drop(drop_body(50, json!({}))).await);
    for i in 0..12 {
        let reply = env
            .claim(Caller::Shopper(&format!("p{i}")), &plain, None)
            .await;
        assert_eq!(reply.status, 201);
    }
}

/// Behind CloudFront every request comes from an edge address: the shopper's own is
/// `CloudFront-Viewer-Address`, believed only on requests carrying the distribution's secret
/// origin header (the API's own URL stays reachable, and anyone can send that header there).
#[tokio::test]
async fn per_address_limits_count_the_viewer_behind_cloudfront_never_a_forged_header() {
    let env = TestEnv::new().await;
    let queue = open_queue(json!({ "ip_joins_per_minute": 2, "proof_of_work": false }));
    let drop_id = id_of(
        &env.create_drop(queued_drop_body(50, 60_000, json!({ "queue": queue })))
            .await,
    );
    let join = |shopper: &'static str, headers: Value| {
        let request = event_with_headers(
            "POST",
            "/drops/{drop_id}/queue",
            &[("drop_id", &drop_id)],
            None,
            Caller::Shopper(shopper),
            headers,
        );
        let env = &env;
        async move { env.call(request).await.status }
    };
    let via_cloudfront = |viewer: &str| json!({ "x-burst-origin-verify": TEST_ORIGIN_SECRET, "cloudfront-viewer-address": viewer });
    clear_of_a_minute_boundary(30).await;
    let mut statuses = Vec::new();
    for shopper in ["a", "b", "c"] {
        statuses.push(join(shopper, via_cloudfront("198.51.100.1:40001")).await);
    }
    statuses.push(join("d", via_cloudfront("2001:db8::7:40002")).await);
    assert_eq!(
        statuses,
        [201, 201, 429, 201],
        "one viewer's limit, another's own"
    );
    // Without the origin secret (or with a wrong one), the viewer header is a client's claim:
    // these count against the address API Gateway saw.
    let forged = |viewer: &str, secret: &str| json!({ "x-burst-origin-verify": secret, "cloudfront-viewer-address": viewer });
    let statuses = [
        join("e", json!({ "cloudfront-viewer-address": "203.0.113.1:1" })).await,
        join("f", forged("203.0.113.2:1", "guess")).await,
        join("g", forged("203.0.113.3:1", "")).await,
    ];
    assert_eq!(statuses, [201, 201, 429]);
}

/// One IPv6 subscriber gets a whole /64 and can take a fresh address for every request: the
/// per-address limit counts the /64. An IPv4-mapped IPv6 address is the IPv4 address.
#[tokio::test]
async fn per_address_limits_count_an_ipv6_network_by_its_64() {
    let env = TestEnv::new().await;
    let queue = open_queue(json!({ "ip_joins_per_minute": 2, "proof_of_work": false }));
    let drop_id = id_of(
        &env.create_drop(queued_drop_body(50, 60_000, json!({ "queue": queue })))
            .await,
    );
    let join = |shopper: &'static str, viewer: &'static str| {
        let request = event_with_headers(
            "POST",
            "/drops/{drop_id}/queue",
            &[("drop_id", &drop_id)],
            None,
            Caller::Shopper(shopper),
            json!({ "x-burst-origin-verify": TEST_ORIGIN_SECRET, "cloudfront-viewer-address": viewer }),
        );
        let env = &env;
        async move { env.call(request).await.status }
    };
    clear_of_a_minute_boundary(30).await;
    let one_64 = [
        join("a", "2001:db8:1:2::1:40001").await,
        join("b", "2001:db8:1:2:aaaa:bbbb:cccc:dddd:40002").await,
        join("c", "2001:db8:1:2:ffff::9:40003").await,
    ];
    assert_eq!(one_64, [201, 201, 429], "three addresses of one /64");
    assert_eq!(
        join("d", "2001:db8:1:3::1:40004").await,
        201,
        "the next /64 is another network"
    );
    let ipv4 = [
        join("e", "198.51.100.9:40005").await,
        join("f", "::ffff:198.51.100.9:40006").await,
        join("g", "198.51.100.9:40007").await,
        join("h", "198.51.100.10:40008").await,
    ];
    assert_eq!(
        ipv4,
        [201, 201, 429, 201],
        "IPv4 counts each address, mapped or not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_integrity_report_counts_every_refusal_and_digests_the_draw() {
    let env = Arc::new(TestEnv::new().await);
    let drop = env
        .create_drop(queued_drop_body(3, 600_000, json!({})))
        .await;
    let drop_id = id_of(&drop);
    let early = env.integrity(&drop_id).await;
    assert_eq!((early.status, early.error_code()), (403, "drop_not_live"));
    for shopper in ["h1", "h2", "h3", "h4"] {
        env.ticket_for(shopper, &drop_id).await;
    }
    env.join(Caller::Shopper("bot1"), &drop_id, None).await; // proof missing
    env.join(
        Caller::Shopper("bot2"),
        &drop_id,
        Some(&altcha_body("e30=")),
    )
    .await; // invalid
    env.join(Caller::Shopper("h1"), &drop_id, None).await; // one ticket each
    let claim = env.claim(Caller::Shopper("bot1"), &drop_id, None).await; // no admission
    assert_eq!(claim.error_code(), "drop_not_live");
    // The crowd and the bots have had their go: the start comes now.
    let drop = env.start_in(&drop_id, 200).await;
    let starts_at =
        chrono::DateTime::parse_from_rfc3339(drop["starts_at"].as_str().unwrap()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(
        (starts_at.with_timezone(&Utc) - Utc::now())
            .num_milliseconds()
            .max(0) as u64
            + 50,
    ))
    .await;
    env.tick(&drop_id).await;
    let claim = env.claim(Caller::Shopper("bot1"), &drop_id, None).await;
    assert_eq!(claim.error_code(), "admission_required");
    let forged = env
        .claim(
            Caller::Shopper("bot2"),
            &drop_id,
            Some(r#"{"admission_token":"a.b"}"#),
        )
        .await;
    assert_eq!(forged.error_code(), "admission_invalid");

    let report = env.integrity(&drop_id).await;
    assert_eq!(report.status, 200, "{:?}", report.body);
    let r = &report.body;
    assert_eq!(r["joins"]["received"], 7);
    assert_eq!(r["joins"]["tickets"], 4);
    assert_eq!(r["joins"]["cohort"], 4);
    assert_eq!(r["joins"]["refused"]["proof_missing"], 1);
    assert_eq!(r["joins"]["refused"]["proof_invalid"], 1);
    assert_eq!(r["joins"]["refused"]["one_ticket"], 1);
    assert_eq!(r["challenges"]["issued"], 4);
    assert_eq!(r["claims"]["refused"]["admission_missing"], 1);
    assert_eq!(r["claims"]["refused"]["admission_invalid"], 1);
    assert_eq!(r["admitted"], 3);
    let proof = env.queue_proof(&drop_id).await;
    let digest = hex::encode(Sha256::digest(proof.raw.as_bytes()));
    assert_eq!(
        r["draw_sha256"],
        digest.as_str(),
        "the digest of the published proof"
    );
}

/// A bot's claim must be the cheapest answer Burst gives: without a valid admission token it is
/// refused by CPU alone (an Ed25519 check against the cached drop), before the velocity limits'
/// writes, and its count for the integrity report joins the container's next batch instead of
/// a write of its own. Every refusal is still counted once the batch is written.
#[tokio::test]
async fn a_claim_without_a_valid_admission_costs_dynamodb_nothing() {
    let injector = FaultInjector::new();
    let env = TestEnv::builder()
        .faults(injector.clone())
        .caching(Caching::CONTAINER)
        .build()
        .await;
    let drop_id = id_of(&env.create_drop(queued_drop_body(5, 200, json!({}))).await);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let forged = |shopper: &'static str| {
        let body = json!({ "admission_token": "eyJkcm9wIjoieCJ9.c2lnbmF0dXJl" }).to_string();
        let env = &env;
        let drop_id = &drop_id;
        async move {
            env.claim(Caller::Shopper(shopper), drop_id, Some(&body))
                .await
                .error_code()
                .to_string()
        }
    };
    // The container reads the drop once (then reuses it for a second).
    assert_eq!(forged("bot-0").await, "admission_invalid");
    injector.take_calls();

    let refusals = [
        forged("bot-1").await,
        forged("bot-2").await,
        env.claim(Caller::Shopper("bot-3"), &drop_id, None)
            .await
            .error_code()
            .to_string(),
    ];
    assert_eq!(
        refusals,
        [
            "admission_invalid",
            "admission_invalid",
            "admission_required"
        ]
    );
    assert_eq!(
        injector.take_calls(),
        Vec::<String>::new(),
        "refusals made no DynamoDB call"
    );

    // Past the batch's window, the next refusal writes the batch, itself included.
    tokio::time::sleep(Caching::CONTAINER.count_batch).await;
    assert_eq!(forged("bot-4").await, "admission_invalid");
    let writes: Vec<String> = injector
        .take_calls()
        .into_iter()
        .filter(|call| call != "GetItem")
        .collect();
    assert_eq!(writes, ["UpdateItem"], "one write for the whole batch");
    let counted = env.app.store.queue_counters(&drop_id).await.unwrap();
    assert_eq!(counted.get("claim_admission_invalid"), Some(&4));
    assert_eq!(counted.get("claim_admission_missing"), Some(&1));
}
