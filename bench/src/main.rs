//! `make bench`: the claim benchmark. Runs the release `claim` binary as a pool of Lambda
//! execution environments (see runtime_api.rs) against a fresh DynamoDB Local, prints the
//! figures and appends them to bench/RESULTS.md. Every figure of one report comes from one run.
//! Then the waiting room (queue.rs, bots.rs) and the live fan-out to 1,000 WebSocket clients
//! (fanout.rs), each against a DynamoDB Local of its own.

mod bots;
mod dev_herd;
mod fanout;
mod footprint;
mod meter;
mod million;
mod queue;
mod report;
mod runtime_api;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use burst::model::reservation::{Allocation, Reservation};
use burst::store::cache::Caching;
use burst::store::ledger::ClaimOutcome;
use burst_tests::{Caller, TestEnv, drop_body, dynamodb_local, event_json, herd};
use chrono::Utc;
use report::{append_results, dynamodb_local_version, git_commit, percentile, sibling_binary};
use runtime_api::{Outcome, Pool};
use serde_json::{Value, json};

/// Lambda execution environments serving claims at once (and DynamoDB Local's backlog of 50
/// connection attempts is comfortable with this many steady connections).
pub const CONCURRENCY: usize = 64;
const HERD_SHOPPERS: usize = 10_000;
const HERD_UNITS: u32 = 100;
const LIMIT_TRANSACTIONS: usize = 2_000;
const COLD_STARTS: usize = 5;

#[tokio::main]
async fn main() {
    match std::env::args().nth(1).as_deref() {
        None => {
            claims().await;
            waiting_room(true, true).await;
            fanout::run().await;
        }
        Some("claims") => claims().await,
        Some("queue") => waiting_room(true, false).await,
        Some("bots") => waiting_room(false, true).await,
        Some("fanout") => fanout::run().await,
        Some("dev-herd") => dev_herd::run().await,
        Some("meter") => meter_check().await,
        Some("million") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            match million::Options::parse(&args) {
                Ok(options) => million::run(options).await,
                Err(error) => {
                    eprintln!(
                        "usage: burst-bench million [--members N] [--arrivals M]   ({error})"
                    );
                    std::process::exit(2);
                }
            }
        }
        Some(other) => {
            eprintln!(
                "usage: burst-bench [claims | queue | bots | fanout | dev-herd | meter | million]   (unknown: {other})"
            );
            std::process::exit(2);
        }
    }
}

/// `burst-bench meter`: the capacity meter's self-check against a DynamoDB Local of its own.
async fn meter_check() {
    let port = dynamodb_local::start_own();
    let lines = meter::check::run(&format!("http://127.0.0.1:{port}")).await;
    let report = format!(
        "\n## {} — commit {}, DynamoDB Local {}: the capacity meter\n\n{}\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        git_commit(),
        dynamodb_local_version(),
        lines.join("\n")
    );
    println!("{report}");
    append_results(&report);
}

/// The bench's proof-of-work difficulty: a tenth of the production default, so 1,100 solves fit
/// this machine in a minute; bots and humans pay alike.
const BENCH_POW_TRIES: u32 = 100;

/// The waiting-room scenarios, in-process against a DynamoDB Local of their own.
async fn waiting_room(queue: bool, bots: bool) {
    let port = dynamodb_local::start_own();
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = TestEnv::builder()
        .endpoint(&endpoint)
        // As in a Lambda container: views are reused for a second, refusal counts written in
        // batches.
        .caching(Caching {
            view_ttl: Caching::CONTAINER.view_ttl,
            count_batch: Caching::CONTAINER.count_batch,
            ..Caching::NONE
        })
        .pow_tries(BENCH_POW_TRIES)
        .build()
        .await;
    let env = Arc::new(env);
    let started = Utc::now();
    let mut report = format!(
        "\n## {} — commit {}, {} cores, DynamoDB Local {}: the waiting room\n\nHandlers in-process, the admission controller ticking every second.\n\n",
        started.format("%Y-%m-%d %H:%M UTC"),
        git_commit(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        dynamodb_local_version(),
    );
    if queue {
        for line in queue::run(env.clone()).await.lines {
            report.push_str(&line);
            report.push('\n');
        }
    }
    if bots {
        for line in bots::run(env.clone(), BENCH_POW_TRIES).await {
            report.push_str(&line);
            report.push('\n');
        }
    }
    println!("{report}");
    append_results(&report);
}

/// The claim scenarios: herds through the real claim binary against a fresh DynamoDB Local.
async fn claims() {
    let claim_binary = sibling_binary("claim");
    let port = dynamodb_local::start_own();
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = TestEnv::builder().endpoint(&endpoint).build().await;
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
        "- **footprint**: {}; \
         the x86_64 release claim binary run here {:.2} MB; \
         peak RSS {:.1} MB (max over the {CONCURRENCY} environments, all scenarios), \
         cold start (spawn → first answered claim, alone) median {:.1} ms, max {:.1} ms over {COLD_STARTS}",
        footprint::summary(),
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

pub struct Limit {
    wall: Duration,
    transactions: usize,
    p50_ms: f64,
}

impl Limit {
    pub fn per_second(&self) -> f64 {
        self.transactions as f64 / self.wall.as_secs_f64()
    }
}

/// The claim's own `TransactWriteItems`, built by the store exactly as the handler builds it,
/// issued with no handler, no shard read and no HTTP in front.
pub async fn raw_transaction_limit(env: &TestEnv) -> Limit {
    // The drop is created as an admin creates it; only the claims skip the handler.
    let created = env
        .create_drop(drop_body(LIMIT_TRANSACTIONS as u32, json!({})))
        .await;
    let drop = env
        .app
        .store
        .drop(created["id"].as_str().expect("drop id"))
        .await
        .unwrap()
        .expect("the drop just created");
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
            let id = burst::model::ids::new_id();
            let reservation =
                Reservation::new_hold(id, &drop, &format!("limit-{i}"), 1, vec![allocation], now);
            let sent = Instant::now();
            let outcome = app
                .store
                .commit_claim(&reservation, 1, None, drop.claim_gate(&[]), now, 0)
                .await;
            assert!(
                matches!(outcome, Ok(ClaimOutcome::Committed)),
                "{outcome:?}"
            );
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

async fn cold_start(
    binary: &std::path::Path,
    env: &[(&str, String)],
    drop_id: &str,
    i: usize,
) -> Duration {
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
