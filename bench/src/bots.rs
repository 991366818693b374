//! The bot scenario: 1,000 humans and 100 bot identities on a queued drop with proof of work.
//!
//! Humans solve one challenge, join before the start, poll their ticket at `poll_after_ms` and
//! claim when admitted, each from an address of their own. Bots (from a farm of five addresses)
//! also solve and join — one ticket is what an identity gets — and then try everything speed and
//! volume could buy: (a) hammer join and claim as fast as they can, (b) replay solutions and
//! admission tokens (their own, spent, and each other's), (c) claim without an admission. The
//! handlers run in-process; what each request cost the server is timed around the handler.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burst_tests::{Caller, TestEnv, drop_body, event_json, herd, id_of};
use chrono::Utc;
use serde_json::{Value, json};

use crate::report::percentile;

const HUMANS: usize = 1_000;
const BOTS: usize = 100;
const UNITS: u32 = 100;
const BOT_ADDRESSES: usize = 5;

/// Server time per request, by who sent it.
#[derive(Default)]
struct Timings {
    human: Mutex<Vec<Duration>>,
    bot: Mutex<Vec<Duration>>,
}

/// Who sends a request.
#[derive(Clone, Copy)]
struct Who<'a> {
    bot: bool,
    shopper: &'a str,
    address: &'a str,
}

struct Client {
    env: Arc<TestEnv>,
    timings: Arc<Timings>,
}

impl Client {
    /// One request from `shopper` at `address`, timed around the handler.
    async fn send(
        &self,
        who: Who<'_>,
        (method, route): (&str, &str),
        drop_id: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut event = event_json(
            method,
            route,
            &[("drop_id", drop_id)],
            body,
            Caller::Shopper(who.shopper),
            json!({}),
        );
        event["requestContext"]["http"]["sourceIp"] = json!(who.address);
        let request = lambda_http::request::from_str(&event.to_string()).expect("an event");
        let started = Instant::now();
        let reply = self.env.call(request).await;
        let took = started.elapsed();
        let timings = if who.bot {
            &self.timings.bot
        } else {
            &self.timings.human
        };
        timings.lock().unwrap().push(took);
        (reply.status, reply.body)
    }

    async fn challenge_and_solve(
        &self,
        bot: bool,
        drop_id: &str,
        shopper: &str,
        address: &str,
    ) -> Option<String> {
        let (status, body) = self
            .send(
                Who {
                    bot,
                    shopper,
                    address,
                },
                ("GET", "/drops/{drop_id}/challenge"),
                drop_id,
                None,
            )
            .await;
        if status != 200 {
            return None;
        }
        let challenge = serde_json::from_value(body["challenge"].clone()).ok()?;
        burst::model::pow::solve(&challenge)
    }

    async fn join(
        &self,
        bot: bool,
        drop_id: &str,
        shopper: &str,
        address: &str,
        altcha: Option<&str>,
    ) -> (u16, Value) {
        let body = altcha.map(|payload| json!({ "altcha": payload }).to_string());
        self.send(
            Who {
                bot,
                shopper,
                address,
            },
            ("POST", "/drops/{drop_id}/queue"),
            drop_id,
            body.as_deref(),
        )
        .await
    }

    async fn ticket(&self, bot: bool, drop_id: &str, shopper: &str, address: &str) -> Value {
        let (_, body) = self
            .send(
                Who {
                    bot,
                    shopper,
                    address,
                },
                ("GET", "/drops/{drop_id}/queue/me"),
                drop_id,
                None,
            )
            .await;
        body["ticket"].clone()
    }

    async fn claim(
        &self,
        bot: bool,
        drop_id: &str,
        shopper: &str,
        address: &str,
        token: Option<&str>,
    ) -> (u16, Value) {
        let body = json!({ "quantity": 1, "admission_token": token }).to_string();
        self.send(
            Who {
                bot,
                shopper,
                address,
            },
            ("POST", "/drops/{drop_id}/claims"),
            drop_id,
            Some(&body),
        )
        .await
    }
}

pub async fn run(env: Arc<TestEnv>, base_tries: u32) -> Vec<String> {
    let client = Arc::new(Client {
        env: env.clone(),
        timings: Arc::default(),
    });
    let now = Utc::now();
    let lead = chrono::Duration::seconds(90);
    let drop = env
        .create_drop(drop_body(
            UNITS,
            json!({
                "starts_at": (now + lead).to_rfc3339(),
                "queue": { "opens_at": (now - chrono::Duration::seconds(1)).to_rfc3339(), "proof_of_work": true },
            }),
        ))
        .await;
    let drop_id = id_of(&drop);
    println!(
        "bots: {HUMANS} humans and {BOTS} bots join ({} s to the start) ...",
        lead.num_seconds()
    );

    // Everyone joins before the start: humans once, from their own addresses.
    let humans = herd(HUMANS, 32, |i| {
        let client = client.clone();
        let drop_id = drop_id.clone();
        async move {
            let shopper = format!("human-{i:04}");
            let address = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
            let payload = client
                .challenge_and_solve(false, &drop_id, &shopper, &address)
                .await;
            let (status, _) = client
                .join(false, &drop_id, &shopper, &address, payload.as_deref())
                .await;
            (shopper, address, status)
        }
    })
    .await;
    // Bots: join properly once, then hammer and replay.
    let bots = herd(BOTS, 32, |i| {
        let client = client.clone();
        let drop_id = drop_id.clone();
        async move {
            let shopper = format!("bot-{i:03}");
            let address = format!("203.0.113.{}", i % BOT_ADDRESSES);
            let payload = client
                .challenge_and_solve(true, &drop_id, &shopper, &address)
                .await;
            let (status, _) = client
                .join(true, &drop_id, &shopper, &address, payload.as_deref())
                .await;
            // (a) and (b): rejoin as fast as possible, with no proof, the spent proof, and the
            // proof passed to the next bot.
            let neighbour = format!("bot-{:03}", (i + 1) % BOTS);
            for _ in 0..5 {
                client.join(true, &drop_id, &shopper, &address, None).await;
                client
                    .join(true, &drop_id, &neighbour, &address, payload.as_deref())
                    .await;
                client
                    .join(
                        true,
                        &drop_id,
                        &format!("sybil-{i}-{}", rand_suffix()),
                        &address,
                        payload.as_deref(),
                    )
                    .await;
            }
            (shopper, address, status, payload)
        }
    })
    .await;
    let human_joins = humans.iter().filter(|(_, _, s)| *s == 201).count();
    let bot_joins = bots.iter().filter(|(_, _, s, _)| *s == 201).count();

    let controller = {
        let app = env.app.clone();
        tokio::spawn(async move {
            burst::domain::queue::controller::run(&app, Duration::from_secs(600)).await
        })
    };
    let starts_at = now + lead;
    tokio::time::sleep((starts_at - Utc::now()).to_std().unwrap_or_default()).await;
    println!("bots: open; humans poll at poll_after_ms, bots hammer ...");
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();

    let human_tasks: Vec<_> = humans
        .into_iter()
        .filter(|(_, _, status)| *status == 201)
        .map(|(shopper, address, _)| {
            let client = client.clone();
            let drop_id = drop_id.clone();
            let done = done.clone();
            tokio::spawn(async move {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let ticket = client.ticket(false, &drop_id, &shopper, &address).await;
                    match ticket["status"].as_str() {
                        Some("admitted") => {
                            let token = ticket["admission"]["token"].as_str().map(str::to_string);
                            let (status, _) = client
                                .claim(false, &drop_id, &shopper, &address, token.as_deref())
                                .await;
                            return status == 201;
                        }
                        Some("waiting") => {
                            let wait = ticket["poll_after_ms"].as_u64().unwrap_or(2_000);
                            tokio::time::sleep(Duration::from_millis(wait)).await;
                        }
                        _ => return false,
                    }
                }
                false
            })
        })
        .collect();
    let bot_tasks: Vec<_> = bots
        .into_iter()
        .filter(|(_, _, status, _)| *status == 201)
        .map(|(shopper, address, _, _)| {
            let client = client.clone();
            let drop_id = drop_id.clone();
            let done = done.clone();
            let tokens = tokens.clone();
            tokio::spawn(async move {
                let mut won = false;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    // (c) claim without an admission, as fast as it can.
                    client.claim(true, &drop_id, &shopper, &address, None).await;
                    // (b) someone else's admission token.
                    let stolen = tokens.lock().unwrap().last().cloned();
                    if let Some(stolen) = stolen {
                        client
                            .claim(true, &drop_id, &shopper, &address, Some(&stolen))
                            .await;
                    }
                    let ticket = client.ticket(true, &drop_id, &shopper, &address).await;
                    if let Some(token) = ticket["admission"]["token"].as_str() {
                        tokens.lock().unwrap().push(token.to_string());
                        let (status, _) = client
                            .claim(true, &drop_id, &shopper, &address, Some(token))
                            .await;
                        won |= status == 201;
                        // (b) the same token again.
                        client
                            .claim(true, &drop_id, &shopper, &address, Some(token))
                            .await;
                    }
                    if ticket["status"] == "closed" || ticket["status"] == "claimed" {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                won
            })
        })
        .collect();
    // Until the units are gone.
    let sale_started = Instant::now();
    loop {
        let audit = env.audit(&drop_id).await;
        if audit["available"] == 0 || sale_started.elapsed() > Duration::from_secs(240) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut human_units = 0;
    for task in human_tasks {
        human_units += usize::from(task.await.unwrap_or(false));
    }
    let mut bot_units = 0;
    for task in bot_tasks {
        bot_units += usize::from(task.await.unwrap_or(false));
    }
    controller.abort();

    let report = env.integrity(&drop_id).await.body;
    let audit = env.audit(&drop_id).await;
    let human_times = {
        let mut times = client.timings.human.lock().unwrap().clone();
        times.sort();
        times
    };
    let bot_times = {
        let mut times = client.timings.bot.lock().unwrap().clone();
        times.sort();
        times
    };
    let identities = (human_joins + bot_joins) as f64;
    let units = (human_units + bot_units).max(1) as f64;
    let r = &report;
    vec![
        format!(
            "- **bots** ({HUMANS} humans, each from its own address, polling at `poll_after_ms`; {BOTS} bots from {BOT_ADDRESSES} addresses hammering, replaying and claiming without admission; {UNITS} units; proof of work at a mean of {base_tries} tries): bots hold **{bot_units} of {} units = {:.1}%** against **{:.1}% of the identities** with a ticket ({bot_joins} of {}); humans {human_units}; audit {}",
            human_units + bot_units,
            100.0 * bot_units as f64 / units,
            100.0 * bot_joins as f64 / identities,
            human_joins + bot_joins,
            if audit["consistent"] == true {
                "consistent"
            } else {
                "INCONSISTENT"
            },
        ),
        format!(
            "- **refused by layer**: joins received {}: proof missing {}, proof invalid (another identity's, tampered) {}, proof replayed {}, rate limited {}, one ticket per shopper {}; challenges issued {} (rate limited {}); claims without admission {}, with an invalid or spent admission {}, rate limited {}",
            r["joins"]["received"],
            r["joins"]["refused"]["proof_missing"],
            r["joins"]["refused"]["proof_invalid"],
            r["joins"]["refused"]["proof_replayed"],
            r["joins"]["refused"]["rate_limited"],
            r["joins"]["refused"]["one_ticket"],
            r["challenges"]["issued"],
            r["challenges"]["rate_limited"],
            r["claims"]["refused"]["admission_missing"],
            r["claims"]["refused"]["admission_invalid"],
            r["claims"]["refused"]["rate_limited"],
        ),
        format!(
            "- **server time per request** (in-process handler, incl. DynamoDB Local): bot median {:.2} ms over {} requests, human median {:.2} ms over {} requests (ratio {:.2}); refusals before any write cost the least",
            percentile(&bot_times, 0.5),
            bot_times.len(),
            percentile(&human_times, 0.5),
            human_times.len(),
            percentile(&bot_times, 0.5) / percentile(&human_times, 0.5).max(1e-9),
        ),
    ]
}

fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}
