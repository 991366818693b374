//! Identity: from the JWT authorizer's claims in AWS, from locally signed tokens in development,
//! and never from any other header.

use burst::auth::mint_dev_token;
use burst_tests::{Caller, TestEnv, drop_body, event_with_headers};
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
