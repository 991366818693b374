//! DynamoDB under load, injected on the wire: conflicts and throttling are retried with backoff
//! and end, when they never stop, in `429 busy` or `503 unavailable` with `Retry-After` — never a
//! 500, and never anything half-written.

use std::sync::Arc;

use burst_tests::{
    Caller, Fault, FaultInjector, TestEnv, assert_consistent, drop_body, herd, id_of,
};
use serde_json::json;

async fn env_with_drop(units: u32, shards: u32) -> (Arc<TestEnv>, FaultInjector, String) {
    let injector = FaultInjector::new();
    let env = Arc::new(TestEnv::with_faults(injector.clone()).await);
    let drop_id = id_of(
        &env.create_drop(drop_body(units, json!({ "shard_count": shards })))
            .await,
    );
    (env, injector, drop_id)
}

/// 200 shoppers for 20 units while the first 40 transactions are cancelled by `fault`.
async fn herd_through(fault: Fault) {
    let (env, injector, drop_id) = env_with_drop(20, 2).await;
    // Armed after the drop exists: its creation is a transaction too.
    injector.arm(fault, 40);
    let replies = herd(200, 64, |i| {
        let env = env.clone();
        let drop_id = drop_id.clone();
        async move {
            env.claim(Caller::Shopper(&format!("s{i}")), &drop_id, None)
                .await
        }
    })
    .await;
    assert_eq!(injector.injected(), 40, "every injected fault was met");
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 20);
    let others: Vec<String> = replies
        .iter()
        .filter(|r| r.status != 201 && r.error_code() != "sold_out")
        .map(|r| format!("{} {}", r.status, r.raw))
        .collect();
    assert!(
        others.is_empty(),
        "nothing but wins and sold-outs: {others:?}"
    );
    assert_consistent(&env, &drop_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transaction_conflicts_are_retried_with_backoff() {
    herd_through(Fault::TransactionConflict).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttled_transactions_are_retried_with_backoff() {
    herd_through(Fault::TransactionThrottled).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_over_provisioned_capacity_are_retried_with_backoff() {
    herd_through(Fault::TransactionOverCapacity).await;
}

#[tokio::test]
async fn endless_contention_ends_in_busy_with_retry_after_and_nothing_written() {
    for fault in [
        Fault::TransactionConflict,
        Fault::TransactionThrottled,
        Fault::TransactionOverCapacity,
    ] {
        let (env, injector, drop_id) = env_with_drop(5, 1).await;
        injector.arm(fault, 10_000);
        let reply = env.claim(Caller::Shopper("unlucky"), &drop_id, None).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (429, "busy"),
            "{fault:?}"
        );
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert_eq!(reply.body["error"]["retry_after_seconds"], 1);
        injector.disarm();
        assert_eq!(env.count_items("RES#").await, 0);
        assert_eq!(env.count_items("USER#").await, 0);
        assert_eq!(assert_consistent(&env, &drop_id).await["available"], 5);
    }
}

#[tokio::test]
async fn plain_throttling_is_retried_by_the_sdk_and_then_answered_503() {
    let (env, injector, drop_id) = env_with_drop(5, 1).await;
    // Two throttled calls: the SDK's own retries absorb them.
    injector.arm(Fault::Throttled, 2);
    let reply = env.claim(Caller::Shopper("ann"), &drop_id, None).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(injector.injected(), 2);
    let held = id_of(&reply.body["reservation"]);

    // Throttled without end: a 503 the client may retry, never a 500.
    injector.arm(Fault::Throttled, 10_000);
    let reply = env.claim(Caller::Shopper("bob"), &drop_id, None).await;
    assert_eq!((reply.status, reply.error_code()), (503, "unavailable"));
    assert_eq!(reply.header("retry-after"), Some("1"));
    let release = env.release(Caller::Shopper("ann"), &held).await;
    assert_eq!((release.status, release.error_code()), (503, "unavailable"));
    injector.disarm();
    assert_eq!(env.count_items("RES#").await, 1, "only ann's hold");
    assert_eq!(assert_consistent(&env, &drop_id).await["available"], 4);
}
