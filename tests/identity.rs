//! Identity: from the JWT authorizer's claims in AWS, from locally signed tokens in development,
//! and never from any other header.

use burst::auth::mint_dev_token;
use burst_tests::{Caller, TestEnv, drop_body, event_with_headers, id_of, queued_drop_body};
use chrono::Utc;
use serde_json::json;

const SECRET: &str = "test-dev-secret";

fn create_request(headers: serde_json::Value) -> lambda_http::Request {
    event_with_headers(
        "POST",
        "/admin/drops",
        &[],
        Some(&drop_body(5, json!({})).to_string()),
        Caller::Anonymous,
        headers,
    )
}

#[tokio::test]
async fn dev_tokens_signed_with_the_local_secret_identify_the_caller() {
    let env = TestEnv::with_dev_secret(SECRET).await;
    let now = Utc::now().timestamp();
    let admin = mint_dev_token(SECRET, "alice", true, now, 600);
    let reply = env
        .call(create_request(
            json!({ "authorization": format!("Bearer {admin}") }),
        ))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);

    let shopper = mint_dev_token(SECRET, "bob", false, now, 600);
    let reply = env
        .call(create_request(
            json!({ "authorization": format!("Bearer {shopper}") }),
        ))
        .await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn forged_expired_or_missing_tokens_are_401() {
    let env = TestEnv::with_dev_secret(SECRET).await;
    let now = Utc::now().timestamp();
    let cases = [
        json!({}),
        json!({ "authorization": format!("Bearer {}", mint_dev_token("other-secret", "eve", true, now, 600)) }),
        json!({ "authorization": format!("Bearer {}", mint_dev_token(SECRET, "eve", true, now - 700, 600)) }),
        json!({ "authorization": "Bearer not.a.jwt" }),
        json!({ "authorization": "Basic YWRtaW46YWRtaW4=" }),
        // Identity headers a client might hope a naive service trusts.
        json!({ "x-user-id": "alice", "x-admin": "true", "x-amzn-oidc-identity": "alice" }),
    ];
    for headers in cases {
        let reply = env.call(create_request(headers.clone())).await;
        assert_eq!(reply.status, 401, "{headers}");
        assert_eq!(reply.error_code(), "unauthenticated");
    }
    assert_eq!(env.count_items("DROP#").await, 0);
}

#[tokio::test]
async fn without_the_dev_secret_only_authorizer_claims_count() {
    let env = TestEnv::new().await;
    let token = mint_dev_token(SECRET, "alice", true, Utc::now().timestamp(), 600);
    // A perfectly signed dev token is worthless in AWS mode: only the authorizer's claims count.
    let reply = env
        .call(create_request(
            json!({ "authorization": format!("Bearer {token}") }),
        ))
        .await;
    assert_eq!(reply.status, 401);
    let reply = env
        .post_drop(Caller::Admin("alice"), &drop_body(5, json!({})).to_string())
        .await;
    assert_eq!(reply.status, 201);
}

/// A request of the shopper holding `token` (a dev token: its expiry is checked as the JWT
/// authorizer checks a Cognito token's).
async fn as_bearer(
    env: &TestEnv,
    token: &str,
    route: &str,
    drop_id: &str,
    body: Option<&str>,
) -> burst_tests::Reply {
    let (method, path) = route.split_once(' ').unwrap();
    env.call(event_with_headers(
        method,
        path,
        &[("drop_id", drop_id)],
        body,
        Caller::Anonymous,
        json!({ "authorization": format!("Bearer {token}") }),
    ))
    .await
}

/// Joins with `token`, solving the queue's challenge first.
async fn join_as_bearer(env: &TestEnv, token: &str, drop_id: &str) -> burst_tests::Reply {
    let challenge = as_bearer(env, token, "GET /drops/{drop_id}/challenge", drop_id, None).await;
    assert_eq!(challenge.status, 200, "challenge: {:?}", challenge.body);
    let challenge = serde_json::from_value(challenge.body["challenge"].clone()).unwrap();
    let body = json!({ "altcha": burst::model::pow::solve(&challenge).unwrap() }).to_string();
    as_bearer(
        env,
        token,
        "POST /drops/{drop_id}/queue",
        drop_id,
        Some(&body),
    )
    .await
}

/// The queue knows a shopper by their subject, not by their token: a token that expires while
/// they wait costs a refresh (docs/capacity.md § 11.3), never their ticket or their place.
#[tokio::test]
async fn a_token_that_expires_while_queued_costs_a_refresh_not_the_ticket_or_its_place() {
    let env = TestEnv::with_dev_secret(SECRET).await;
    let drop_id = id_of(
        &env.create_drop(queued_drop_body(
            2,
            60_000,
            json!({ "queue": {
                    "opens_at": (Utc::now() - chrono::Duration::seconds(1)).to_rfc3339(),
                    "proof_of_work": true
                } }),
        ))
        .await,
    );
    // Fetched just under four hours ago: two seconds of it left.
    let lifetime = 240 * 60;
    let first = mint_dev_token(
        SECRET,
        "ann",
        false,
        Utc::now().timestamp() + 2 - lifetime,
        lifetime,
    );
    let joined = join_as_bearer(&env, &first, &drop_id).await;
    assert_eq!(joined.status, 201, "{:?}", joined.body);
    let ticket_id = joined.body["ticket"]["id"].clone();
    for shopper in ["bea", "cal", "dee"] {
        env.ticket_for(shopper, &drop_id).await;
    }

    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let expired = as_bearer(
        &env,
        &first,
        "GET /drops/{drop_id}/queue/me",
        &drop_id,
        None,
    )
    .await;
    assert_eq!(expired.status, 401, "the expired token is refused");

    let refreshed = mint_dev_token(SECRET, "ann", false, Utc::now().timestamp(), lifetime);
    let mine = as_bearer(
        &env,
        &refreshed,
        "GET /drops/{drop_id}/queue/me",
        &drop_id,
        None,
    )
    .await;
    assert_eq!(
        (mine.status, &mine.body["ticket"]["id"]),
        (200, &ticket_id),
        "the same ticket under a new token"
    );
    let again = join_as_bearer(&env, &refreshed, &drop_id).await;
    assert_eq!(
        (again.status, &again.body["ticket"]["id"]),
        (200, &ticket_id),
        "joining again is not a new place at the back"
    );

    // The draw places the ticket held since before the token expired, and the refreshed token
    // reads that place.
    let drop = env.start_in(&drop_id, 300).await;
    let starts_at = chrono::DateTime::parse_from_rfc3339(drop["starts_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let wait = (starts_at - Utc::now()).num_milliseconds().max(0) + 50;
    tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
    assert!(env.tick(&drop_id).await.drew);
    let drawn = env.drawn_order(&drop_id).await;
    let order: Vec<&String> = drawn.early.iter().chain(&drawn.cohort).collect();
    let place = order
        .iter()
        .position(|id| **id == ticket_id)
        .expect("her ticket was drawn") as u64
        + 1;
    let mine = as_bearer(
        &env,
        &refreshed,
        "GET /drops/{drop_id}/queue/me",
        &drop_id,
        None,
    )
    .await;
    assert_eq!(mine.status, 200);
    assert_eq!(
        mine.body["ticket"]["position"],
        json!(place),
        "{:?}",
        mine.body
    );
}
