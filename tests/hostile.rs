//! A battery of hostile input through every handler: malformed JSON, deep nesting, huge numbers,
//! a megabyte of body, odd ids, bad tokens, bad signatures. Every answer is a 4xx JSON error,
//! nothing panics, and no drop, hold or order changes.

use burst_tests::{Caller, TestEnv, assert_consistent, drop_body, event_json, id_of, with_query};
use serde_json::{Value, json};

/// The routes the battery runs through, each with the path parameter it takes (the routes of
/// the queue and the admin's pause are left out: an admitted call to them writes by design).
fn routes() -> Vec<(&'static str, Option<&'static str>)> {
    vec![
        ("POST /admin/drops", None),
        ("GET /drops", None),
        ("GET /drops/{drop_id}", Some("drop_id")),
        ("POST /drops/{drop_id}/claims", Some("drop_id")),
        ("GET /reservations/{reservation_id}", Some("reservation_id")),
        (
            "DELETE /reservations/{reservation_id}",
            Some("reservation_id"),
        ),
        (
            "POST /reservations/{reservation_id}/checkout",
            Some("reservation_id"),
        ),
        ("POST /webhooks/stripe", None),
        ("GET /orders/{order_id}", Some("order_id")),
        ("GET /me/orders", None),
        ("GET /admin/drops/{drop_id}/audit", Some("drop_id")),
    ]
}

fn hostile_bodies() -> Vec<(&'static str, String)> {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let megabyte = format!("{{\"name\":\"{}\"}}", "x".repeat(1 << 20));
    vec![
        ("truncated JSON", "{\"quantity\":".into()),
        ("not JSON", "quantity=1".into()),
        ("deep nesting", deep),
        ("a megabyte", megabyte),
        ("huge number", "{\"quantity\": 1e400}".into()),
        ("past u64", "{\"quantity\": 18446744073709551616}".into()),
        ("negative", "{\"quantity\": -1}".into()),
        ("wrong type", "[\"quantity\", 1]".into()),
        ("a string", "\"claim\"".into()),
        (
            "a drop full of extremes",
            json!({ "name": "x", "price": { "amount": i64::MAX, "currency": "EUR" },
                    "total_units": u64::MAX, "starts_at": "-999999-01-01T00:00:00Z",
                    "hold_seconds": -5, "shard_count": 1e9 })
            .to_string(),
        ),
        (
            "unknown fields",
            "{\"quantity\": 1, \"__proto__\": {}}".into(),
        ),
        (
            "NUL and invalid escapes",
            "{\"name\": \"\\u0000\\ud800\"}".into(),
        ),
    ]
}

const ODD_IDS: [&str; 8] = [
    "DROP#x#SHARD#00",
    "../../../../etc/passwd",
    "%00",
    "0123456789ABCDEF0123456789ABCDEF",
    "ffffffffffffffffffffffffffffffff\u{202e}",
    "' OR 1=1 --",
    "{drop_id}",
    "a",
];

/// The event sent to the route its `routeKey` names.
async fn call(env: &TestEnv, event: Value) -> (u16, Value) {
    let request = lambda_http::request::from_str(&event.to_string()).expect("an event");
    let reply = env.call(request).await;
    (reply.status, reply.body)
}

fn assert_refused(what: &str, status: u16, body: &Value) {
    assert!(
        (400..500).contains(&status),
        "{what}: expected a 4xx, got {status} {body}"
    );
    assert!(
        body["error"]["code"].is_string() && body["error"]["message"].is_string(),
        "{what}: not a JSON error: {body}"
    );
}

/// How many items of each kind the table holds: nothing hostile may change them.
async fn footprint(env: &TestEnv) -> Vec<usize> {
    let mut counts = Vec::new();
    for prefix in ["DROP#", "RES#", "USER#", "STRIPE_EVENT#", "PAYMENT#"] {
        counts.push(env.count_items(prefix).await);
    }
    counts
}

#[tokio::test]
async fn hostile_input_through_every_handler_is_refused_with_a_json_4xx_and_changes_nothing() {
    let env = TestEnv::with_stripe().await;
    let drop_id = id_of(&env.create_drop(drop_body(3, json!({}))).await);
    let reservation_id = env.hold("ann", &drop_id).await;
    let before = footprint(&env).await;
    let mut checked = 0;

    for (route_key, param) in routes() {
        let (method, route) = route_key.split_once(' ').unwrap();
        let real_id = match param {
            Some("drop_id") => drop_id.as_str(),
            Some(_) => reservation_id.as_str(),
            None => "",
        };
        let params: Vec<(&str, &str)> = param.map(|p| (p, real_id)).into_iter().collect();
        let caller = if route.starts_with("/admin") {
            Caller::Admin("root")
        } else {
            Caller::Shopper("mallory")
        };

        // Bodies, on the real ids (for routes that read a body, and those that ignore one).
        for (what, body) in hostile_bodies() {
            let event = event_json(method, route, &params, Some(&body), caller, json!({}));
            let (status, reply) = call(&env, event).await;
            // Routes that take no body may ignore it and answer as usual, but never a 5xx.
            assert!(status < 500, "{route_key} with {what}: {status} {reply}");
            if method == "POST" && route != "/reservations/{reservation_id}/checkout" {
                assert_refused(&format!("{route_key} with {what}"), status, &reply);
            }
            checked += 1;
        }
        // Odd ids in the path.
        if let Some(param) = param {
            for odd in ODD_IDS {
                let event = event_json(method, route, &[(param, odd)], None, caller, json!({}));
                let (status, reply) = call(&env, event).await;
                if route_key != "POST /webhooks/stripe" {
                    assert_eq!(status, 404, "{route_key} with id {odd:?}: {reply}");
                }
                assert_refused(&format!("{route_key} with id {odd:?}"), status, &reply);
                checked += 1;
            }
        }
        // Identities no identity provider issues.
        if route_key != "GET /drops"
            && !route_key.starts_with("GET /drops/{")
            && route != "/webhooks/stripe"
        {
            for sub in ["", &"s".repeat(5_000), "ann\u{0}admin"] {
                let mut event =
                    event_json(method, route, &params, None, Caller::Anonymous, json!({}));
                event["requestContext"]["authorizer"] = json!({ "jwt": { "claims": { "sub": sub, "cognito:groups": "[admin]" }, "scopes": null } });
                let (status, reply) = call(&env, event).await;
                assert_eq!(
                    status,
                    401,
                    "{route_key} with sub of {} chars: {reply}",
                    sub.len()
                );
                checked += 1;
            }
        }
    }

    // Query strings of the listing.
    for query in [
        ("limit", "-1"),
        ("limit", "1e9"),
        ("limit", "99999999999999999999"),
        ("cursor", "!!!"),
        ("cursor", "e30"),
    ] {
        let mut event = event_json("GET", "/drops", &[], None, Caller::Anonymous, json!({}));
        with_query(&mut event, &[query]);
        let (status, reply) = call(&env, event).await;
        assert_refused(
            &format!("GET /drops?{}={}", query.0, query.1),
            status,
            &reply,
        );
        checked += 1;
    }

    // Signatures Stripe never sends, and signed payloads that are not Stripe events.
    let now = chrono::Utc::now().timestamp();
    let payload =
        json!({ "id": "evt_1", "type": "checkout.session.completed", "data": { "object": {} } })
            .to_string();
    let signatures = [
        "t=-9223372036854775808,v1=00".to_string(),
        "t=9223372036854775807,v1=00".to_string(),
        "t=99999999999999999999999,v1=00".to_string(),
        format!("t={now},v1={}", "0".repeat(100_000)),
        format!("t={now},v1=zz"),
        format!("t={now}"),
        ",,,,=,=".to_string(),
        "t=1,t=2,v1=00,v0=11".to_string(),
    ];
    for signature in &signatures {
        let reply = env.deliver_raw(&payload, Some(signature)).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (400, "invalid_signature"),
            "{signature:.60}"
        );
        checked += 1;
    }
    let signed_garbage = [
        "{".to_string(),
        "[]".to_string(),
        json!({ "id": "evt_2", "type": "checkout.session.completed", "data": { "object": { "id": 5 } } }).to_string(),
        json!({ "id": "evt_3", "type": "charge.refunded", "data": { "object": [] } }).to_string(),
        json!({ "id": "x".repeat(3_000), "type": "charge.refunded", "data": { "object": {} } }).to_string(),
        json!({ "id": "evt_4#STRIPE", "type": "customer.created", "data": { "object": {} } }).to_string(),
        format!("{{\"id\":\"evt_5\",\"type\":\"x\",\"data\":{{\"object\":{}}}}}", "[".repeat(10_000) + &"]".repeat(10_000)),
        format!("{{\"id\":\"evt_6\",\"pad\":\"{}\"}}", "x".repeat(300 * 1024)),
    ];
    for body in &signed_garbage {
        let signature = env.emulator().sign(body, now);
        let reply = env.deliver_raw(body, Some(&signature)).await;
        assert_refused(&format!("signed {:.40}", body), reply.status, &reply.body);
        checked += 1;
    }

    // Bad bearer tokens where the functions verify tokens themselves (local development).
    let dev = TestEnv::with_dev_secret("hostile-secret").await;
    let forged_none = format!(
        "{}.{}.",
        base64_url(br#"{"alg":"none","typ":"JWT"}"#),
        base64_url(br#"{"sub":"root","cognito:groups":["admin"],"exp":99999999999}"#)
    );
    for token in [
        "Bearer".to_string(),
        "Bearer x.y.z".to_string(),
        format!("Bearer {}", "a".repeat(20_000)),
        format!("Bearer {forged_none}"),
        "Basic cm9vdDpyb290".to_string(),
        format!("Bearer {}.{}.{}", "e30", "e30", "%%%"),
    ] {
        let event = event_json(
            "POST",
            "/admin/drops",
            &[],
            Some(&drop_body(1, json!({})).to_string()),
            Caller::Anonymous,
            json!({ "authorization": token }),
        );
        let (status, reply) = call(&dev, event).await;
        assert_eq!(status, 401, "{token:.40}: {reply}");
        checked += 1;
    }
    assert_eq!(dev.count_items("DROP#").await, 0);

    assert_eq!(footprint(&env).await, before, "nothing was written");
    assert_consistent(&env, &drop_id).await;
    assert!(checked > 200, "the battery ran ({checked} requests)");
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
