//! The waiting-room scenario: 10,000 pre-queue joins and 2,000 joins after the open for 500
//! units, every admitted shopper claiming at once, the admission controller ticking every second
//! as it does in AWS. The handlers run in-process against a fresh DynamoDB Local; every figure
//! is compared with a raw DynamoDB Local figure from the same run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use burst::domain::queue::controller;
use burst_tests::{Caller, TestEnv, drop_body, herd, id_of};
use chrono::Utc;
use serde_json::{Value, json};

use crate::CONCURRENCY;
use crate::report::percentile;

const PREQUEUE: usize = 10_000;
const AFTER_OPEN: usize = 2_000;
const UNITS: u32 = 500;
const RAW_PUTS: usize = 4_000;
const ETA_SAMPLE: usize = 200;

pub struct QueueReport {
    pub lines: Vec<String>,
}

/// One join as the client saw it.
#[derive(Clone)]
struct Joined {
    shopper: String,
    sent: Instant,
    answered: Instant,
}

pub async fn run(env: Arc<TestEnv>) -> QueueReport {
    let mut lines = Vec::new();
    let raw_puts = raw_put_rate(&env).await;

    // Estimate how long the pre-queue takes from a first slice, then set the start after it.
    let probe = env.create_drop(queue_drop(UNITS, 3_600_000, None)).await;
    let probe_id = id_of(&probe);
    let started = Instant::now();
    join_all(&env, &probe_id, "probe", 500).await;
    let per_join = started.elapsed().as_secs_f64() / 500.0;
    let lead_ms = (per_join * PREQUEUE as f64 * 1300.0) as i64 + 5_000;

    let drop = env.create_drop(queue_drop(UNITS, lead_ms, None)).await;
    let drop_id = id_of(&drop);
    let starts_at = chrono::DateTime::parse_from_rfc3339(drop["starts_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    println!(
        "queue: {PREQUEUE} pre-queue joins (start in {:.0} s) ...",
        lead_ms as f64 / 1000.0
    );
    let joins_started = Instant::now();
    let early = join_all(&env, &drop_id, "early", PREQUEUE).await;
    let join_rate = PREQUEUE as f64 / joins_started.elapsed().as_secs_f64();
    assert!(
        Utc::now() < starts_at,
        "the pre-queue joins overran the start"
    );

    // The controller, as the queue-controller function runs it.
    let controller = {
        let app = env.app.clone();
        tokio::spawn(async move { controller::run(&app, Duration::from_secs(600)).await })
    };
    tokio::time::sleep((starts_at - Utc::now()).to_std().unwrap_or_default()).await;
    let open = Instant::now();
    println!("queue: open; {AFTER_OPEN} joins after the open while admitted shoppers claim ...");
    let late = {
        let env = env.clone();
        let drop_id = drop_id.clone();
        tokio::spawn(async move { join_all(&env, &drop_id, "late", AFTER_OPEN).await })
    };
    let claim_times = claim_as_admitted(&env, &drop_id, open).await;
    let sold_out = open.elapsed();
    let late = late.await.expect("late joins");
    // Let the controller number the last arrivals before it stops.
    tokio::time::sleep(Duration::from_secs(3)).await;
    controller.abort();

    // Positions.
    let mut position_of: HashMap<String, u64> = HashMap::new();
    for joined in early.iter().chain(late.iter()) {
        let reply = env
            .my_ticket(Caller::Shopper(&joined.shopper), &drop_id)
            .await;
        if let Some(position) = reply.body["ticket"]["position"].as_u64() {
            position_of.insert(joined.shopper.clone(), position);
        }
    }
    let early_order: Vec<f64> = early
        .iter()
        .map(|j| position_of[&j.shopper] as f64)
        .collect();
    let tau_pre = kendall_tau(&early_order);
    let chi = chi_square_deciles(&early_order);
    let mut late_sorted = late.clone();
    late_sorted.sort_by_key(|j| j.answered);
    let late_positions: Vec<f64> = late_sorted
        .iter()
        .map(|j| position_of[&j.shopper] as f64)
        .collect();
    let tau_late = kendall_tau(&late_positions);
    let (fifo_pairs, fifo_broken) = fifo_violations(&late, &position_of);

    let state = env.app.store.queue_state(&drop_id).await.unwrap().unwrap();
    let audit = env.audit(&drop_id).await;
    let claim_rate = claim_times.len() as f64 / claim_times.last().map_or(1.0, |t| t.as_secs_f64());
    let raw_claims = crate::raw_transaction_limit(&env).await.per_second();
    let handler_claims = handler_claim_rate(&env).await;
    let ideal = f64::from(UNITS) / handler_claims;

    lines.push(format!(
        "- **queue joins**: {PREQUEUE} pre-queue joins at **{join_rate:.0} joins/s** against DynamoDB Local's raw PutItem {raw_puts:.0}/s (ratio {:.2}; a join is a 2-item transaction plus a counter, a velocity check and reads)",
        join_rate / raw_puts
    ));
    lines.push(format!(
        "- **open → sold out**: {:.1} s for {UNITS} units (claims landed at {claim_rate:.0}/s while {AFTER_OPEN} more shoppers joined); ideal {UNITS} ÷ the claim handler's own rate {handler_claims:.0}/s (an unqueued all-win herd, same run; raw claim transactions {raw_claims:.0}/s) = {ideal:.1} s → **{:.2}× the ideal** (the draw, the first admissions and each shopper's ticket read come first); admitted {}, admissions unused {}, audit {}",
        sold_out.as_secs_f64(),
        sold_out.as_secs_f64() / ideal,
        state.serving,
        state.expired,
        if audit["consistent"] == true { "consistent" } else { "INCONSISTENT" },
    ));
    lines.push(format!(
        "- **fairness**: Kendall τ(pre-queue arrival, position) = **{tau_pre:.3}** (≈ 0: the draw ignores who came first); χ² over arrival × position deciles = {:.1} (81 df; 5% critical value 103.0: {}); after the open τ(arrival, position) = **{tau_late:.3}**, and of {fifo_pairs} pairs where one join was answered before the other was sent, **{fifo_broken} out of order**",
        chi,
        if chi < 103.0 { "no dependence detected" } else { "DEPENDENT" },
    ));
    let eta_errors = paced_eta(&env).await;
    if !eta_errors.is_empty() {
        let mut absolute: Vec<Duration> = eta_errors.iter().map(|(e, _)| *e).collect();
        absolute.sort();
        let within = eta_errors.iter().filter(|(_, inside)| *inside).count();
        lines.push(format!(
            "- **ETA**: over {} waiting tickets, |admitted − shown p50| median {:.1} s, p90 {:.1} s; admitted within the shown [now, p90] for {:.0}%",
            eta_errors.len(),
            percentile(&absolute, 0.5) / 1e3,
            percentile(&absolute, 0.9) / 1e3,
            100.0 * within as f64 / eta_errors.len() as f64,
        ));
    }
    QueueReport { lines }
}

pub fn queue_drop(units: u32, starts_in_ms: i64, admit_per_minute: Option<u32>) -> Value {
    let now = Utc::now();
    drop_body(
        units,
        json!({
            "starts_at": (now + chrono::Duration::milliseconds(starts_in_ms)).to_rfc3339(),
            "queue": {
                "opens_at": (now - chrono::Duration::seconds(1)).to_rfc3339(),
                // Proof of work is the bot scenario's subject; here the crowd is measured alone.
                "proof_of_work": false,
                "ip_joins_per_minute": 1_000_000,
                "admit_per_minute": admit_per_minute,
            },
        }),
    )
}

/// ETAs are only worth measuring where admission takes a while: a paced drop (300 units, 600
/// admissions a minute, 1,000 in the pre-queue). Reads the ETA of sampled waiting tickets a few
/// seconds after the open, then when each was admitted.
async fn paced_eta(env: &Arc<TestEnv>) -> Vec<(Duration, bool)> {
    println!("queue: paced drop for the ETA ...");
    let drop = env.create_drop(queue_drop(300, 20_000, Some(600))).await;
    let drop_id = id_of(&drop);
    let joined = join_all(env, &drop_id, "paced", 1_000).await;
    let starts_at = chrono::DateTime::parse_from_rfc3339(drop["starts_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let controller = {
        let app = env.app.clone();
        tokio::spawn(async move { controller::run(&app, Duration::from_secs(120)).await })
    };
    tokio::time::sleep((starts_at - Utc::now()).to_std().unwrap_or_default()).await;
    let claimer = {
        let env = env.clone();
        let drop_id = drop_id.clone();
        tokio::spawn(async move { claim_until(&env, &drop_id, Instant::now(), 300).await })
    };
    let errors = eta_sample(env, &drop_id, &joined).await;
    claimer.abort();
    controller.abort();
    errors
}

async fn join_all(env: &Arc<TestEnv>, drop_id: &str, prefix: &str, count: usize) -> Vec<Joined> {
    herd(count, CONCURRENCY, |i| {
        let env = env.clone();
        let drop_id = drop_id.to_string();
        let shopper = format!("{prefix}-{i:05}");
        async move {
            let sent = Instant::now();
            let reply = env.join(Caller::Shopper(&shopper), &drop_id, None).await;
            assert_eq!(reply.status, 201, "join: {:?}", reply.body);
            Joined {
                shopper,
                sent,
                answered: Instant::now(),
            }
        }
    })
    .await
}

/// Every admitted shopper claims as soon as admitted (a claimer watches `serving`); returns the
/// time of each successful claim since the open, in order.
async fn claim_as_admitted(env: &Arc<TestEnv>, drop_id: &str, open: Instant) -> Vec<Duration> {
    claim_until(env, drop_id, open, UNITS).await
}

async fn claim_until(
    env: &Arc<TestEnv>,
    drop_id: &str,
    open: Instant,
    units: u32,
) -> Vec<Duration> {
    let mut claimed_through = 0u64;
    let mut times = Vec::new();
    loop {
        let state = env.app.store.queue_state(drop_id).await.unwrap().unwrap();
        if state.serving > claimed_through {
            let positions: Vec<u64> = (claimed_through + 1..=state.serving).collect();
            let outcomes = herd(positions.len(), CONCURRENCY, |i| {
                let env = env.clone();
                let drop_id = drop_id.to_string();
                let position = positions[i];
                async move { claim_position(&env, &drop_id, position).await }
            })
            .await;
            for won in outcomes.into_iter().flatten() {
                if won {
                    times.push(open.elapsed());
                }
            }
            claimed_through = state.serving;
        }
        if times.len() as u32 >= units || open.elapsed() > Duration::from_secs(300) {
            times.sort();
            return times;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The shopper at `position` reads their ticket and claims with its admission.
async fn claim_position(env: &TestEnv, drop_id: &str, position: u64) -> Option<bool> {
    let drop = env.app.store.drop(drop_id).await.ok()??;
    let state = env.app.store.queue_state(&drop.id).await.ok()??;
    let chunk = env
        .app
        .store
        .order_at(&drop.id, &state, position)
        .await
        .ok()??;
    let (_, shopper) = chunk.at(position)?.clone();
    let ticket = env.my_ticket(Caller::Shopper(&shopper), drop_id).await;
    let token = ticket.body["ticket"]["admission"]["token"].as_str()?;
    let reply = env.claim_admitted(&shopper, drop_id, token).await;
    Some(reply.status == 201)
}

/// Reads ETAs of waiting tickets a few seconds after the open, then when they were admitted:
/// `(|admitted − (read + p50)|, admitted within [read, read + p90])`.
async fn eta_sample(env: &Arc<TestEnv>, drop_id: &str, early: &[Joined]) -> Vec<(Duration, bool)> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut shown = Vec::new();
    let admitted_by_now = env
        .app
        .store
        .queue_state(drop_id)
        .await
        .unwrap()
        .unwrap()
        .serving;
    for joined in early.iter().step_by(early.len() / ETA_SAMPLE) {
        let read_at = Utc::now();
        let reply = env
            .my_ticket(Caller::Shopper(&joined.shopper), drop_id)
            .await;
        let ticket = &reply.body["ticket"];
        if let (Some(p50), Some(p90)) = (
            ticket["eta_seconds"]["p50"].as_i64(),
            ticket["eta_seconds"]["p90"].as_i64(),
        ) && ticket["position"]
            .as_u64()
            .is_some_and(|p| p > admitted_by_now && p <= 300)
        {
            shown.push((joined.shopper.clone(), read_at, p50, p90));
        }
    }
    // Wait for the paced sale to admit them (300 at 10 a second).
    tokio::time::sleep(Duration::from_secs(35)).await;
    let mut errors = Vec::new();
    for (shopper, read_at, p50, p90) in shown {
        let Some(ticket) = env.app.store.ticket(&shopper, drop_id).await.ok().flatten() else {
            continue;
        };
        let Some(admitted_at) = ticket.admitted_at else {
            continue;
        };
        let predicted = read_at + chrono::Duration::seconds(p50);
        let error = (admitted_at - predicted).num_milliseconds().unsigned_abs();
        let inside = admitted_at <= read_at + chrono::Duration::seconds(p90);
        errors.push((Duration::from_millis(error), inside));
    }
    errors
}

/// Claims per second through the claim handler alone: 500 shoppers, 500 units, no queue.
async fn handler_claim_rate(env: &Arc<TestEnv>) -> f64 {
    let drop_id = id_of(&env.create_drop(drop_body(UNITS, json!({}))).await);
    let started = Instant::now();
    herd(UNITS as usize, CONCURRENCY, |i| {
        let env = env.clone();
        let drop_id = drop_id.clone();
        async move {
            let reply = env
                .claim(Caller::Shopper(&format!("rate-{i}")), &drop_id, None)
                .await;
            assert_eq!(reply.status, 201);
        }
    })
    .await;
    f64::from(UNITS) / started.elapsed().as_secs_f64()
}

/// DynamoDB Local's own PutItem rate for items the size of a ticket, 64 at once.
pub async fn raw_put_rate(env: &Arc<TestEnv>) -> f64 {
    let started = Instant::now();
    herd(RAW_PUTS, CONCURRENCY, |i| {
        let env = env.clone();
        async move {
            env.client
                .put_item()
                .table_name(env.app.store.table())
                .item(
                    "PK",
                    aws_sdk_dynamodb::types::AttributeValue::S(format!("RAW#{i}")),
                )
                .item(
                    "SK",
                    aws_sdk_dynamodb::types::AttributeValue::S("PUT".into()),
                )
                .item(
                    "payload",
                    aws_sdk_dynamodb::types::AttributeValue::S("x".repeat(300)),
                )
                .send()
                .await
                .expect("a raw put");
        }
    })
    .await;
    RAW_PUTS as f64 / started.elapsed().as_secs_f64()
}

/// Kendall τ-b between the order of `values` and their ranks (1 = same order, 0 = unrelated).
pub fn kendall_tau(values: &[f64]) -> f64 {
    let (mut concordant, mut discordant, mut ties) = (0i64, 0i64, 0i64);
    for i in 0..values.len() {
        for j in i + 1..values.len() {
            match values[j].partial_cmp(&values[i]) {
                Some(std::cmp::Ordering::Greater) => concordant += 1,
                Some(std::cmp::Ordering::Less) => discordant += 1,
                _ => ties += 1,
            }
        }
    }
    let pairs = (concordant + discordant + ties) as f64;
    (concordant - discordant) as f64 / (pairs * (pairs - ties as f64)).sqrt()
}

/// χ² of independence between arrival decile and position decile (10 × 10, 81 df).
fn chi_square_deciles(positions: &[f64]) -> f64 {
    let n = positions.len();
    let mut ranked: Vec<(usize, f64)> = positions.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut position_decile = vec![0usize; n];
    for (rank, (index, _)) in ranked.iter().enumerate() {
        position_decile[*index] = rank * 10 / n;
    }
    let mut table = [[0f64; 10]; 10];
    for (arrival, decile) in position_decile.iter().enumerate() {
        table[arrival * 10 / n][*decile] += 1.0;
    }
    let expected = n as f64 / 100.0;
    table
        .iter()
        .flatten()
        .map(|observed| (observed - expected).powi(2) / expected)
        .sum()
}

/// Pairs of joins where one was answered before the other was sent (so arrival order is
/// unambiguous), and how many of them got positions in the other order.
fn fifo_violations(joins: &[Joined], position_of: &HashMap<String, u64>) -> (u64, u64) {
    let (mut pairs, mut broken) = (0, 0);
    for a in joins {
        for b in joins {
            if a.answered < b.sent {
                pairs += 1;
                if position_of.get(&a.shopper) > position_of.get(&b.shopper) {
                    broken += 1;
                }
            }
        }
    }
    (pairs, broken)
}
