//! `make dev-herd`: a herd of claims through the running `make dev` stack (HTTP → `cargo lambda
//! watch` → the claim function → DynamoDB Local), against the raw claim-transaction limit of the
//! same DynamoDB Local measured in the same run.
//!
//! Environment: `API_URL` (http://127.0.0.1:9000), `DYNAMODB_LOCAL_PORT` (8000),
//! `BURST_DEV_JWT_SECRET` (the one `make dev` uses).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use burst::auth::mint_dev_token;
use burst_tests::{TestEnv, drop_body, herd};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::report::{append_results, git_commit, percentile};
use crate::{CONCURRENCY, raw_transaction_limit};

const SHOPPERS: usize = 2_000;

type Http = Client<HttpConnector, Full<Bytes>>;

pub async fn run() {
    let api = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:9000".into());
    let port = std::env::var("DYNAMODB_LOCAL_PORT").unwrap_or_else(|_| "8000".into());
    let secret =
        std::env::var("BURST_DEV_JWT_SECRET").unwrap_or_else(|_| "burst-local-dev-secret".into());
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(CONCURRENCY)
        .build_http();
    let now = chrono::Utc::now().timestamp();
    let admin = mint_dev_token(&secret, "dev-herd-admin", true, now, 3600);

    println!("limit: claim transactions straight to the DynamoDB Local of make dev ...");
    let env = TestEnv::builder()
        .endpoint(&format!("http://127.0.0.1:{port}"))
        .build()
        .await;
    let limit = raw_transaction_limit(&env).await;

    let mut rows = Vec::new();
    // The first wave starts every function instance (cargo lambda watch starts them all on the
    // first request); it is not measured.
    for (name, units) in [
        ("warm-up", CONCURRENCY as u32 * 2),
        ("all-win", SHOPPERS as u32),
        ("herd", 100),
    ] {
        println!("{name}: {SHOPPERS} shoppers for {units} units through {api} ...");
        let body = drop_body(units, json!({ "name": format!("dev-herd {name}") }));
        let (status, drop) = send(&http, &api, "POST", "/admin/drops", &admin, &body).await;
        assert_eq!(status, 201, "create the drop through make dev: {drop}");
        let drop_id = drop["id"].as_str().expect("drop id").to_string();
        let http = http.clone();
        let api = api.clone();
        let secret = Arc::new(secret.clone());
        let started = Instant::now();
        let shoppers = if name == "warm-up" {
            units as usize
        } else {
            SHOPPERS
        };
        let run = uuid::Uuid::new_v4().simple().to_string();
        let results = herd(shoppers, CONCURRENCY, |i| {
            let http = http.clone();
            let api = api.clone();
            let secret = secret.clone();
            let path = format!("/drops/{drop_id}/claims");
            let run = run.clone();
            async move {
                let token =
                    mint_dev_token(&secret, &format!("dev-herd-{run}-{i}"), false, now, 3600);
                let sent = Instant::now();
                let (status, _) = send(&http, &api, "POST", &path, &token, &json!({})).await;
                (status, sent.elapsed())
            }
        })
        .await;
        if name != "warm-up" {
            rows.push((name, units, started.elapsed(), results));
        }
    }

    let mut report = String::new();
    let _ = writeln!(
        report,
        "\n## {} — commit {}: herds through `make dev` (cargo lambda watch, {CONCURRENCY} clients)\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        git_commit()
    );
    let _ = writeln!(
        report,
        "| scenario | shoppers | units | wall s | claims/s | p50 ms | p99 ms | statuses | claims/s ÷ limit |"
    );
    let _ = writeln!(report, "|---|---|---|---|---|---|---|---|---|");
    for (name, units, wall, results) in rows {
        let mut durations: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
        durations.sort();
        let mut statuses: HashMap<u16, usize> = HashMap::new();
        for (status, _) in &results {
            *statuses.entry(*status).or_default() += 1;
        }
        let mut statuses: Vec<_> = statuses.into_iter().collect();
        statuses.sort();
        let per_second = SHOPPERS as f64 / wall.as_secs_f64();
        let _ = writeln!(
            report,
            "| {name} | {SHOPPERS} | {units} | {:.2} | {per_second:.0} | {:.1} | {:.1} | {statuses:?} | {:.2} |",
            wall.as_secs_f64(),
            percentile(&durations, 0.5),
            percentile(&durations, 0.99),
            per_second / limit.per_second(),
        );
    }
    let _ = writeln!(
        report,
        "\n- **limit** (the same DynamoDB Local, claim transactions with no handler, {CONCURRENCY} at once): **{:.0} tx/s**",
        limit.per_second()
    );
    println!("{report}");
    append_results(&report);
}

async fn send(
    http: &Http,
    api: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> (u16, Value) {
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("{api}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a request");
    match http.request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        }
        Err(_) => (0, Value::Null),
    }
}
