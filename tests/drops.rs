//! `POST /admin/drops`, `GET /drops`, `GET /drops/{drop_id}` through the real handlers.

use burst_tests::{Caller, TestEnv, drop_body};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

#[tokio::test]
async fn an_admin_creates_a_drop_with_defaults_and_it_reads_back_live() {
    let env = TestEnv::new().await;
    let created = env.create_drop(drop_body(100, json!({}))).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert_eq!(created["per_user_limit"], 1);
    assert_eq!(created["hold_seconds"], 600);
    assert_eq!(created["shard_count"], 10);
    assert_eq!(
        created["price"],
        json!({ "amount": 12500, "currency": "EUR" })
    );
    assert_eq!(created["status"], "live");
    assert_eq!(created["available"], 100);

    let read = env.get_drop(id).await;
    assert_eq!(read.status, 200);
    for (field, expected) in [
        ("total_units", json!(100)),
        ("available", json!(100)),
        ("held", json!(0)),
        ("sold", json!(0)),
        ("status", json!("live")),
        ("name", json!("Test drop")),
    ] {
        assert_eq!(read.body[field], expected, "{field}");
    }
    assert_eq!(
        env.count_items(&format!("DROP#{id}")).await,
        12,
        "drop + 10 shards + the creation's event"
    );
}

#[tokio::test]
async fn drops_list_in_start_order_with_status() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    let later = env
        .create_drop(drop_body(
            5,
            json!({ "name": "Later", "starts_at": (now + Duration::hours(2)).to_rfc3339() }),
        ))
        .await;
    let live = env
        .create_drop(drop_body(5, json!({ "name": "Now" })))
        .await;
    let reply = env.list_drops().await;
    assert_eq!(reply.status, 200);
    let drops = reply.body["drops"].as_array().unwrap();
    let names: Vec<&str> = drops.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Now", "Later"]);
    assert_eq!(drops[0]["id"], live["id"]);
    assert_eq!(drops[0]["status"], "live");
    assert_eq!(drops[1]["id"], later["id"]);
    assert_eq!(drops[1]["status"], "upcoming");
    assert_eq!(drops[1]["available"], 5);
}

#[tokio::test]
async fn an_ended_drop_says_so() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    let drop = env
        .create_drop(drop_body(
            3,
            json!({
                "starts_at": (now - Duration::hours(2)).to_rfc3339(),
                "ends_at": (now + Duration::seconds(1)).to_rfc3339(),
            }),
        ))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let read = env.get_drop(drop["id"].as_str().unwrap()).await;
    assert_eq!(read.body["status"], "ended");
}

#[tokio::test]
async fn unknown_drops_are_404_json() {
    let env = TestEnv::new().await;
    for id in ["0123456789abcdef0123456789abcdef", "not-an-id", "DROP%23x"] {
        let reply = env.get_drop(id).await;
        assert_eq!(reply.status, 404, "{id}");
        assert_eq!(reply.error_code(), "not_found");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("drop")
        );
    }
}

#[tokio::test]
async fn creating_needs_an_admin_token() {
    let env = TestEnv::new().await;
    let body = drop_body(10, json!({})).to_string();
    let anonymous = env.post_drop(Caller::Anonymous, &body).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.error_code(), "unauthenticated");
    let shopper = env.post_drop(Caller::Shopper("mallory"), &body).await;
    assert_eq!(shopper.status, 403);
    assert_eq!(shopper.error_code(), "forbidden");
    assert_eq!(env.count_items("DROP#").await, 0, "nothing written");
}

#[tokio::test]
async fn every_bad_field_gets_its_own_400() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    let past = (now - Duration::hours(1)).to_rfc3339();
    let cases: Vec<(&str, Value)> = vec![
        ("name", json!({ "name": "" })),
        ("name", json!({ "name": 7 })),
        ("name", json!({ "name": "x".repeat(121) })),
        ("description", json!({ "description": ["no"] })),
        ("price", json!({ "price": 100 })),
        (
            "price.amount",
            json!({ "price": { "amount": 0, "currency": "EUR" } }),
        ),
        (
            "price.amount",
            json!({ "price": { "amount": 12.5, "currency": "EUR" } }),
        ),
        ("price.amount", json!({ "price": { "currency": "EUR" } })),
        (
            "price.currency",
            json!({ "price": { "amount": 100, "currency": "EURO" } }),
        ),
        ("price.currency", json!({ "price": { "amount": 100 } })),
        (
            "price.tax",
            json!({ "price": { "amount": 100, "currency": "EUR", "tax": 1 } }),
        ),
        ("total_units", json!({ "total_units": 0 })),
        ("total_units", json!({ "total_units": -5 })),
        ("total_units", json!({ "total_units": "100" })),
        ("starts_at", json!({ "starts_at": "tomorrow" })),
        ("starts_at", json!({ "starts_at": null })),
        ("ends_at", json!({ "ends_at": "2026-13-01T00:00:00Z" })),
        (
            "ends_at",
            json!({ "starts_at": now.to_rfc3339(), "ends_at": past }),
        ),
        ("per_user_limit", json!({ "per_user_limit": 0 })),
        ("per_user_limit", json!({ "per_user_limit": 101 })),
        ("hold_seconds", json!({ "hold_seconds": 0 })),
        ("hold_seconds", json!({ "hold_seconds": 3601 })),
        ("shard_count", json!({ "shard_count": 33 })),
        ("totalUnits", json!({ "totalUnits": 5 })),
    ];
    for (field, overrides) in cases {
        let reply = env
            .post_drop(
                Caller::Admin("admin-1"),
                &drop_body(100, overrides.clone()).to_string(),
            )
            .await;
        assert_eq!(reply.status, 400, "{overrides}");
        assert_eq!(reply.error_code(), "invalid_request", "{overrides}");
        assert_eq!(reply.body["error"]["field"], field, "{overrides}");
        assert!(!reply.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let missing_name = {
        let mut body = drop_body(100, json!({}));
        body.as_object_mut().unwrap().remove("name");
        body
    };
    let reply = env
        .post_drop(Caller::Admin("admin-1"), &missing_name.to_string())
        .await;
    assert_eq!(
        (reply.status, reply.body["error"]["field"].clone()),
        (400, json!("name"))
    );
    assert_eq!(env.count_items("DROP#").await, 0, "no bad drop was written");
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_400() {
    let env = TestEnv::new().await;
    for body in ["{not json", "", "[1,2]", "\"drop\""] {
        let reply = env.post_drop(Caller::Admin("admin-1"), body).await;
        assert_eq!(reply.status, 400, "{body:?}");
        assert_eq!(reply.error_code(), "invalid_request");
    }
}
