//! The live fan-out scenario: 1,000 WebSocket clients watch one drop while a herd of shoppers
//! claims it. The whole local chain of tests/live.rs, on free ports and a DynamoDB Local of its
//! own: real clients (tokio-tungstenite) → the local gateway (tools/ws-gateway) → the `ws-*` route
//! handlers in-process → the table → DynamoDB Local's stream → the gateway's pump → the fan-out
//! (`stream::changes_of` + `live::fan_out`, what `stream::handle` runs) → `PostToConnection`
//! through aws-sdk-apigatewaymanagement → the gateway's `@connections` API → the clients.
//!
//! What is measured, exactly:
//! - **connects/s**: sockets opened `CONCURRENCY` at a time, each from the TCP connect to the
//!   `101` (which waits for `$connect` and its PutItem); then `subscribe` frames to the
//!   `subscribed` answer.
//! - **commit → client**: for each committed claim, from the moment its claim call returned (the
//!   transaction had committed) to the moment each socket received the first `drop` message
//!   composed after it (the message carries its composition time as `at`; the fan-out runs with
//!   a `now` taken by this benchmark). One sample per (claim, socket). A drop is pushed at most
//!   once per window (`PUSH_WINDOW` here), so this is bounded by the window plus delivery.
//! - **coalescing**: claims committed versus `drop` messages composed and posts sent, with the
//!   stream's records spread over `STREAM_SHARDS` shards by the pump: at most one `drop` message
//!   per drop per window, however many shards carry its changes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use burst::App;
use burst::push::ApiGatewayPush;
use burst_tests::{Caller, TestEnv, drop_body, dynamodb_local, herd, id_of};
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use ws_gateway::gateway::{Routes, listen};
use ws_gateway::pump::Pump;
use ws_gateway::{Gateway, InvokeFuture, Invoker};

use crate::CONCURRENCY;
use crate::report::{append_results, dynamodb_local_version, git_commit};

const WATCHERS: usize = 1_000;
const SHOPPERS: usize = 3_000;
const UNITS: u32 = 1_000;
/// Single claims, one at a time, before the herd: the chain's latency when nothing queues.
const PROBES: u32 = 10;
/// How long every socket may take to see the final numbers after the last claim.
const SETTLE: Duration = Duration::from_secs(30);
/// Stream shards the pump spreads the records over (a drop's 32 inventory items sit on several
/// in AWS).
const STREAM_SHARDS: usize = 8;
/// The push window of this run: short, so the herd spans several (AWS default: 30 s).
const PUSH_WINDOW: Duration = Duration::from_secs(2);
/// How long one fan-out invocation may post (Lambda's 30 s timeout less its wrap-up).
const FAN_OUT_BUDGET: Duration = Duration::from_secs(25);
/// The raw figure: rounds of one `PostToConnection` to every socket, nothing else.
const RAW_ROUNDS: usize = 3;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One invocation of the fan-out: one stream batch.
struct Batch {
    /// The `now` the fan-out ran with, which its `drop` message carries as `at` (ns).
    at: i64,
    composed: Instant,
    finished: Instant,
    records: usize,
    shard_changes: usize,
    drop_messages: usize,
    /// Drops whose change came inside another message's window.
    held_back: usize,
    posts: usize,
    gone: usize,
}

/// The functions, in-process, as the gateway and the pump invoke them; the fan-out's batches
/// are recorded.
struct InProcess {
    app: Arc<App>,
    push: ApiGatewayPush,
    batches: Arc<Mutex<Vec<Batch>>>,
}

impl Invoker for InProcess {
    fn invoke<'a>(&'a self, name: &'a str, event: Value) -> InvokeFuture<'a> {
        Box::pin(async move {
            match name {
                "fan-out" => self.fan_out(event).await,
                other => burst_tests::invoke_ws_route(self.app.clone(), other, event)
                    .await
                    .unwrap_or_else(|| Err(format!("no function {other}"))),
            }
        })
    }
}

impl InProcess {
    /// `stream::handle`, with the clock read here so the batch can be told apart at the client.
    async fn fan_out(&self, event: Value) -> Result<Value, String> {
        let event: aws_lambda_events::dynamodb::Event =
            serde_json::from_value(event).map_err(|e| e.to_string())?;
        let changes = burst::stream::changes_of(&event.records);
        let now = Utc::now();
        let composed = Instant::now();
        let run = burst::domain::live::Run {
            now,
            deadline: composed + FAN_OUT_BUDGET,
            batch_id: burst::stream::batch_id(&event.records),
        };
        let report = burst::domain::live::fan_out(&self.app, &self.push, &changes, &run)
            .await
            .map_err(|e| e.to_string())?;
        let batch = Batch {
            at: nanos(now),
            composed,
            finished: Instant::now(),
            records: changes.len(),
            shard_changes: changes
                .iter()
                .filter(|c| c.pk.starts_with("DROP#") && c.pk.contains("#SHARD#"))
                .count(),
            drop_messages: report.drop_messages,
            held_back: report.held_back,
            posts: report.posts,
            gone: report.gone,
        };
        self.batches.lock().unwrap().push(batch);
        serde_json::to_value(report).map_err(|e| e.to_string())
    }
}

fn nanos(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "bench"),
        ))
        .endpoint_url(endpoint)
        .build()
}

/// A `drop` message as one socket received it.
struct Received {
    at: i64,
    received: Instant,
}

/// One committed claim: when its call returned, on both clocks.
struct Committed {
    returned: Instant,
    returned_at: i64,
}

impl Committed {
    fn now() -> Self {
        Self {
            returned: Instant::now(),
            returned_at: nanos(Utc::now()),
        }
    }
}

/// 1,000 sockets need about 2,000 descriptors in this process (client and gateway ends): raise
/// the soft limit to the hard one (scripts/bench.sh raises it as well).
fn raise_descriptor_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
        limit.rlim_cur
    }
}

/// The scenario, phase by phase: the chain, the sockets, a few claims one at a time, the herd,
/// the settling, the report.
pub async fn run() {
    let descriptors = raise_descriptor_limit();
    assert!(
        descriptors >= (2 * WATCHERS + 256) as u64,
        "{WATCHERS} sockets need more file descriptors than the limit {descriptors}: `ulimit -n 4096`"
    );
    let started_at = Utc::now();
    let chain = Chain::start().await;
    let opened = open_sockets(&chain).await;
    let readers = Readers::spawn(opened.sockets).await;

    // Whatever the connects and subscribes put on the stream is fanned out before the probes.
    quiet(&chain.batches, Duration::from_secs(1)).await;
    let before_probes = chain.batches.lock().unwrap().len();
    let probes = probe_claims(&chain, &readers).await;
    quiet(&chain.batches, Duration::from_secs(1)).await;
    let before_herd = chain.batches.lock().unwrap().len();
    let herd = herd_claims(&chain).await;

    // Every socket should come to show the final numbers.
    let final_available = i64::from(UNITS) - herd.committed.len() as i64;
    all_show(&readers.last_available, final_available, SETTLE).await;
    quiet(&chain.batches, Duration::from_secs(1)).await;
    let settled = herd.last_commit.elapsed();
    let at_final = readers
        .last_available
        .iter()
        .filter(|a| a.load(Ordering::Relaxed) == final_available)
        .count();
    let raw_posts = raw_post_rate(
        &chain.env,
        &chain.drop_id,
        &chain.endpoint,
        &chain.management_url,
    )
    .await;
    let (received, sockets, duplicates) = readers.stop().await;
    chain.pump.abort();

    let batches = std::mem::take(&mut *chain.batches.lock().unwrap());
    let probe = Figures::compute(&batches[before_probes..before_herd], &probes, &received);
    let herd_batches = &batches[before_herd..];
    let figures = Figures::compute(herd_batches, &herd.committed, &received);
    let report_text = report(Report {
        started_at,
        opened: &opened.timings,
        probe: &probe,
        herd: &herd,
        herd_batches: herd_batches.len(),
        figures: &figures,
        duplicates,
        raw_posts,
        at_final,
        final_available,
        settled,
    });
    println!("{report_text}");
    append_results(&report_text);
    close(sockets).await;
}

/// The local chain: a DynamoDB Local of its own with the drop, the gateway (WebSocket and
/// `@connections` ports) and the stream's pump, the functions in-process.
struct Chain {
    env: Arc<TestEnv>,
    drop_id: String,
    endpoint: String,
    ws_url: String,
    management_url: String,
    gateway: Arc<Gateway>,
    batches: Arc<Mutex<Vec<Batch>>>,
    pump: tokio::task::JoinHandle<()>,
}

impl Chain {
    async fn start() -> Self {
        let port = dynamodb_local::start_own();
        let endpoint = format!("http://127.0.0.1:{port}");
        let env = Arc::new(
            TestEnv::builder()
                .endpoint(&endpoint)
                .push_window(PUSH_WINDOW)
                .stream()
                .build()
                .await,
        );
        let drop_id = id_of(&env.create_drop(drop_body(UNITS + PROBES, json!({}))).await);

        let ws = listen(0).await.expect("a port for the gateway");
        let management = listen(0).await.expect("a port for @connections");
        let ws_url = format!("ws://{}", ws.local_addr().expect("bound"));
        let management_url = format!("http://{}", management.local_addr().expect("bound"));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let invoker: Arc<dyn Invoker> = Arc::new(InProcess {
            app: env.app.clone(),
            push: ApiGatewayPush::new(&sdk_config(&endpoint), &management_url),
            batches: batches.clone(),
        });
        let gateway = Gateway::new(invoker.clone(), Routes::default());
        gateway.serve(ws, management);
        let pump = Pump::for_table(
            &sdk_config(&endpoint),
            env.app.store.table(),
            invoker,
            "fan-out",
        )
        .await
        .expect("the table's stream")
        .with_shards(STREAM_SHARDS);
        let pump = tokio::spawn(pump.run());
        // The pump reads from now on: let it take its iterators first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Self {
            env,
            drop_id,
            endpoint,
            ws_url,
            management_url,
            gateway,
            batches,
            pump,
        }
    }
}

/// How long opening and subscribing the sockets took.
struct OpenTimings {
    connect_wall: Duration,
    /// Sorted.
    connect_times: Vec<Duration>,
    subscribe_wall: Duration,
    /// Sorted.
    subscribe_times: Vec<Duration>,
}

struct Opened {
    sockets: Vec<Socket>,
    timings: OpenTimings,
}

/// Connects every socket, then subscribes each to the drop, `CONCURRENCY` at a time.
async fn open_sockets(chain: &Chain) -> Opened {
    println!("fanout: {WATCHERS} sockets connect and subscribe ...");
    let connect_started = Instant::now();
    let opened = herd(WATCHERS, CONCURRENCY, |_| {
        let url = chain.ws_url.clone();
        async move {
            let sent = Instant::now();
            let socket = connect_async(url).await.expect("connected").0;
            (socket, sent.elapsed())
        }
    })
    .await;
    let connect_wall = connect_started.elapsed();
    let mut connect_times: Vec<Duration> = opened.iter().map(|(_, took)| *took).collect();
    connect_times.sort();
    assert_eq!(chain.gateway.connection_count(), WATCHERS);

    let sockets: Vec<Arc<tokio::sync::Mutex<Option<Socket>>>> = opened
        .into_iter()
        .map(|(socket, _)| Arc::new(tokio::sync::Mutex::new(Some(socket))))
        .collect();
    let subscribe_started = Instant::now();
    let mut subscribe_times = herd(WATCHERS, CONCURRENCY, |i| {
        let socket = sockets[i].clone();
        let drop_id = chain.drop_id.clone();
        async move {
            let mut guard = socket.lock().await;
            let socket = guard.as_mut().expect("a socket");
            let sent = Instant::now();
            let frame = json!({ "action": "subscribe", "drop_id": drop_id }).to_string();
            socket.send(Message::text(frame)).await.expect("subscribe");
            loop {
                let Some(Ok(Message::Text(text))) = socket.next().await else {
                    panic!("the socket closed before `subscribed`");
                };
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if value["type"] == "subscribed" {
                    assert_eq!(value["drop"]["available"], UNITS + PROBES, "{value}");
                    return sent.elapsed();
                }
            }
        }
    })
    .await;
    let subscribe_wall = subscribe_started.elapsed();
    subscribe_times.sort();
    let mut open = Vec::with_capacity(WATCHERS);
    for socket in sockets {
        open.push(socket.lock().await.take().expect("a socket"));
    }
    Opened {
        sockets: open,
        timings: OpenTimings {
            connect_wall,
            connect_times,
            subscribe_wall,
            subscribe_times,
        },
    }
}

/// Every socket's reader: it records each `drop` message and the last `available` it saw.
struct Readers {
    stop: watch::Sender<bool>,
    last_available: Arc<Vec<AtomicI64>>,
    duplicates: Arc<AtomicUsize>,
    handles: Vec<tokio::task::JoinHandle<(Vec<Received>, Socket)>>,
}

impl Readers {
    async fn spawn(sockets: Vec<Socket>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let last_available: Arc<Vec<AtomicI64>> = Arc::new(
            (0..WATCHERS)
                .map(|_| AtomicI64::new(i64::from(UNITS + PROBES)))
                .collect(),
        );
        let duplicates = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::with_capacity(WATCHERS);
        for (i, mut socket) in sockets.into_iter().enumerate() {
            let mut stopped = stopped.clone();
            let last_available = last_available.clone();
            let duplicates = duplicates.clone();
            handles.push(tokio::spawn(async move {
                let mut received: Vec<Received> = Vec::new();
                let mut seen = HashSet::new();
                loop {
                    tokio::select! {
                        _ = stopped.changed() => break,
                        frame = socket.next() => {
                            let Some(Ok(Message::Text(text))) = frame else { break };
                            let now = Instant::now();
                            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                            if value["type"] != "drop" {
                                continue;
                            }
                            let at = serde_json::from_value::<DateTime<Utc>>(value["at"].clone())
                                .map(nanos)
                                .unwrap_or(i64::MAX);
                            if !seen.insert(at) {
                                duplicates.fetch_add(1, Ordering::Relaxed);
                            }
                            if let Some(available) = value["available"].as_i64() {
                                last_available[i].store(available, Ordering::Relaxed);
                            }
                            received.push(Received { at, received: now });
                        }
                    }
                }
                (received, socket)
            }));
        }
        Self {
            stop,
            last_available,
            duplicates,
            handles,
        }
    }

    /// Stops every reader: what each socket received, the sockets (still open), and how many
    /// messages arrived twice.
    async fn stop(self) -> (Vec<Vec<Received>>, Vec<Socket>, usize) {
        let _ = self.stop.send(true);
        let mut received = Vec::with_capacity(WATCHERS);
        let mut sockets = Vec::with_capacity(WATCHERS);
        for handle in self.handles {
            let (messages, socket) = handle.await.expect("a reader");
            received.push(messages);
            sockets.push(socket);
        }
        (received, sockets, self.duplicates.load(Ordering::Relaxed))
    }
}

/// `PROBES` single claims, each after every socket has seen the one before: the chain's latency
/// with nothing queued.
async fn probe_claims(chain: &Chain, readers: &Readers) -> Vec<Committed> {
    println!("fanout: {PROBES} single claims, one at a time ...");
    let mut probes = Vec::new();
    for i in 0..PROBES {
        let reply = chain
            .env
            .claim(
                Caller::Shopper(&format!("probe-{i:02}")),
                &chain.drop_id,
                None,
            )
            .await;
        let returned = Committed::now();
        assert_eq!(reply.status, 201, "probe claim: {}", reply.body);
        probes.push(returned);
        let expected = i64::from(UNITS + PROBES - i - 1);
        all_show(&readers.last_available, expected, Duration::from_secs(5)).await;
        // A window of its own, off the pump's 250 ms polling rhythm.
        tokio::time::sleep(PUSH_WINDOW + Duration::from_millis(37 * u64::from(i))).await;
    }
    probes
}

/// What the herd's claims came to.
struct Herd {
    wall: Duration,
    last_commit: Instant,
    committed: Vec<Committed>,
    sold_out: usize,
    other: usize,
}

/// `SHOPPERS` shoppers claim the drop's `UNITS`, `CONCURRENCY` at a time, while the sockets watch.
async fn herd_claims(chain: &Chain) -> Herd {
    println!("fanout: {SHOPPERS} shoppers claim {UNITS} units while {WATCHERS} sockets watch ...");
    let herd_started = Instant::now();
    let claims = herd(SHOPPERS, CONCURRENCY, |i| {
        let env = chain.env.clone();
        let drop_id = chain.drop_id.clone();
        async move {
            let shopper = format!("fanout-{i:05}");
            let reply = env.claim(Caller::Shopper(&shopper), &drop_id, None).await;
            (reply.status, reply.body, Committed::now())
        }
    })
    .await;
    let mut herd = Herd {
        wall: herd_started.elapsed(),
        last_commit: Instant::now(),
        committed: Vec::new(),
        sold_out: 0,
        other: 0,
    };
    for (status, body, returned) in claims {
        match status {
            201 => herd.committed.push(returned),
            409 if body["error"]["code"] == "sold_out" => herd.sold_out += 1,
            _ => herd.other += 1,
        }
    }
    herd
}

/// Everything the report states.
struct Report<'a> {
    started_at: DateTime<Utc>,
    opened: &'a OpenTimings,
    probe: &'a Figures,
    herd: &'a Herd,
    herd_batches: usize,
    figures: &'a Figures,
    duplicates: usize,
    raw_posts: f64,
    at_final: usize,
    final_available: i64,
    settled: Duration,
}

/// The run's section of bench/RESULTS.md.
fn report(run: Report<'_>) -> String {
    let Report {
        started_at,
        opened,
        probe,
        herd,
        herd_batches,
        figures: report,
        duplicates,
        raw_posts,
        at_final,
        final_available,
        settled,
    } = run;
    let committed = &herd.committed;
    let fan_out_posts =
        report.posts as f64 * 1e3 / report.batch_durations.iter().sum::<f64>().max(1.0);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mut lines = vec![
        format!(
            "\n## {} — commit {}, {cores} cores, DynamoDB Local {}: live fan-out\n",
            started_at.format("%Y-%m-%d %H:%M UTC"),
            git_commit(),
            dynamodb_local_version(),
        ),
        format!(
            "{WATCHERS} WebSocket clients (tokio-tungstenite) → tools/ws-gateway → the `ws-*` handlers in-process → DynamoDB Local → its stream → the gateway's pump (polled every 250 ms; the records spread over {STREAM_SHARDS} stream shards by partition key, each shard's batches of ≤ 100 records invoked one at a time and the shards concurrently; AWS: ≤ 1,000 records, ≤ 1 s batching window) → the fan-out (`live::fan_out`: at most one `drop` message per drop per {} s window, watchers over 16 stripes) → `PostToConnection` (aws-sdk-apigatewaymanagement) → the gateway's `@connections` → the clients, all in one process with the claim herd (the claim handler in-process).\n",
            PUSH_WINDOW.as_secs(),
        ),
        format!(
            "- **connects**: {WATCHERS} sockets opened {CONCURRENCY} at a time in {:.2} s = **{:.0} connects/s** (TCP connect → `101`, which waits for `$connect` and its PutItem: p50 {:.1} ms, p99 {:.1} ms); subscribes {:.0}/s (frame → `subscribed`, p50 {:.1} ms, p99 {:.1} ms)",
            opened.connect_wall.as_secs_f64(),
            WATCHERS as f64 / opened.connect_wall.as_secs_f64(),
            crate::report::percentile(&opened.connect_times, 0.5),
            crate::report::percentile(&opened.connect_times, 0.99),
            WATCHERS as f64 / opened.subscribe_wall.as_secs_f64(),
            crate::report::percentile(&opened.subscribe_times, 0.5),
            crate::report::percentile(&opened.subscribe_times, 0.99),
        ),
        format!(
            "- **one claim at a time** ({PROBES} claims, each after every socket had seen the last, nothing queued): claim returned → message at the socket **p50 {:.0} ms, p99 {:.0} ms** over {} (claim, socket) pairs; claim returned → message composed p50 {:.0} ms (the stream and the pump's 250 ms polling; each probe waits out a window first), message composed → socket p50 {:.0} ms, p99 {:.0} ms",
            quantile(&probe.latencies, 0.5),
            quantile(&probe.latencies, 0.99),
            probe.latencies.len(),
            quantile(&probe.to_message, 0.5),
            quantile(&probe.delivery, 0.5),
            quantile(&probe.delivery, 0.99),
        ),
        format!(
            "- **herd**: {SHOPPERS} shoppers claimed {UNITS} units, {CONCURRENCY} at a time, in {:.2} s ({:.0} claims/s): **{} committed**, {} sold out, {} other",
            herd.wall.as_secs_f64(),
            SHOPPERS as f64 / herd.wall.as_secs_f64(),
            committed.len(),
            herd.sold_out,
            herd.other,
        ),
        format!(
            "- **coalescing**: the {} commits reached the fan-out as {} stream records ({} shard changes) in **{} batches** over {STREAM_SHARDS} stream shards; it composed **{} `drop` messages** and held back {} (a change inside another message's window); **at most {} `drop` message(s) in any {} s window** ({}; closest two composed {:.0} ms apart) and sent {} posts ({} gone); the sockets received {} `drop` messages ({}–{} per socket, {} duplicates). **Messages per commit {:.3}** (coalescing ratio 1 : {:.1}); one message per commit would have been {} posts",
            committed.len(),
            report.records,
            report.shard_changes,
            herd_batches,
            report.drop_messages,
            report.held_back,
            report.max_per_window,
            PUSH_WINDOW.as_secs(),
            if report.max_per_window <= 1 {
                "one per drop per window"
            } else {
                "MORE THAN ONE PER DROP PER WINDOW"
            },
            report.min_gap,
            report.posts,
            report.gone,
            report.received,
            report.received_min,
            report.received_max,
            duplicates,
            report.drop_messages as f64 / committed.len().max(1) as f64,
            committed.len() as f64 / report.drop_messages.max(1) as f64,
            committed.len() * WATCHERS,
        ),
        format!(
            "- **commit → client** (claim call returned, its transaction committed → the socket received the first `drop` message composed after it; {} (claim, socket) pairs): **p50 {:.0} ms, p99 {:.0} ms**, max {:.0} ms (bounded by the {} s window plus delivery); of which claim returned → message composed (the stream, the pump's polling, and the rest of the window) p50 {:.0} ms, p99 {:.0} ms, and message composed → socket (fan-out reads, {WATCHERS} posts over 16 stripes, gateway, socket) p50 {:.0} ms, p99 {:.0} ms; a push took p50 {:.0} ms, max {:.0} ms ({:.0} posts/s while in the fan-out, **{:.2}× the raw post rate** below, which is measured after the herd with nothing else to do). Claims with no message composed after them: {}; pairs never delivered: {}",
            report.latencies.len(),
            quantile(&report.latencies, 0.5),
            quantile(&report.latencies, 0.99),
            report.latencies.last().copied().unwrap_or(0.0),
            PUSH_WINDOW.as_secs(),
            quantile(&report.to_message, 0.5),
            quantile(&report.to_message, 0.99),
            quantile(&report.delivery, 0.5),
            quantile(&report.delivery, 0.99),
            quantile(&report.batch_durations, 0.5),
            report.batch_durations.last().copied().unwrap_or(0.0),
            fan_out_posts,
            fan_out_posts / raw_posts,
            report.unmatched_claims,
            report.undelivered,
        ),
        format!(
            "- **raw posts** (the fan-out's ceiling on this machine: `PostToConnection` alone through aws-sdk-apigatewaymanagement and the gateway, {CONCURRENCY} at a time as the fan-out posts, {RAW_ROUNDS} rounds to every socket, no stream and no DynamoDB): **{raw_posts:.0} posts/s**"
        ),
        format!(
            "- **final numbers**: {at_final}/{WATCHERS} sockets showed available = {final_available} (all settled {:.2} s after the last claim returned, including 1 s of quiet)",
            settled.as_secs_f64(),
        ),
    ];
    lines.push(String::new());
    lines.join("\n")
}

/// Closes the sockets (each `$disconnect` removes its connection's items).
async fn close(sockets: Vec<Socket>) {
    let sockets: Vec<_> = sockets
        .into_iter()
        .map(|s| Arc::new(tokio::sync::Mutex::new(Some(s))))
        .collect();
    herd(sockets.len(), CONCURRENCY, move |i| {
        let socket = sockets[i].clone();
        async move {
            if let Some(mut socket) = socket.lock().await.take() {
                let _ = socket.close(None).await;
            }
        }
    })
    .await;
}

/// `PostToConnection` alone: `RAW_ROUNDS` posts to every watcher of the drop, `CONCURRENCY` at a
/// time (as `live::fan_out` posts), through the SDK and the gateway; posts per second. The
/// sockets' readers skip the frames (their type is not `drop`).
async fn raw_post_rate(env: &TestEnv, drop_id: &str, endpoint: &str, management_url: &str) -> f64 {
    use burst::push::Push;
    let push = ApiGatewayPush::new(&sdk_config(endpoint), management_url);
    let watchers = env.app.store.watchers(drop_id).await.expect("the watchers");
    let frame = json!({ "type": "raw" }).to_string().into_bytes();
    let posts: Vec<&String> = (0..RAW_ROUNDS).flat_map(|_| watchers.iter()).collect();
    let started = Instant::now();
    let delivered = futures::stream::iter(posts)
        .map(|connection| {
            let push = &push;
            let frame = &frame;
            async move { push.post(connection, frame).await }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|outcome| {
            std::future::ready(matches!(outcome, Ok(burst::push::PostOutcome::Delivered)))
        })
        .count()
        .await;
    assert_eq!(
        delivered,
        RAW_ROUNDS * watchers.len(),
        "every raw post delivered"
    );
    delivered as f64 / started.elapsed().as_secs_f64()
}

/// Waits until every socket has seen `available`, or `limit` passed.
async fn all_show(last_available: &[AtomicI64], available: i64, limit: Duration) {
    let started = Instant::now();
    while last_available
        .iter()
        .any(|a| a.load(Ordering::Relaxed) != available)
        && started.elapsed() < limit
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until no fan-out batch has started for `quiet`.
async fn quiet(batches: &Mutex<Vec<Batch>>, quiet: Duration) {
    let mut count = batches.lock().unwrap().len();
    let mut since = Instant::now();
    while since.elapsed() < quiet {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = batches.lock().unwrap().len();
        if now != count {
            count = now;
            since = Instant::now();
        }
    }
}

/// Signed milliseconds from `from` to `to`.
fn ms_between(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64() * 1e3
    } else {
        -((from - to).as_secs_f64() * 1e3)
    }
}

/// `q` of sorted milliseconds.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

struct Figures {
    records: usize,
    shard_changes: usize,
    drop_messages: usize,
    held_back: usize,
    /// The most `drop` messages composed within any one window.
    max_per_window: usize,
    /// The shortest time between two `drop` messages' compositions, ms.
    min_gap: f64,
    posts: usize,
    gone: usize,
    received: usize,
    received_min: usize,
    received_max: usize,
    /// Sorted, ms.
    latencies: Vec<f64>,
    to_message: Vec<f64>,
    delivery: Vec<f64>,
    batch_durations: Vec<f64>,
    unmatched_claims: usize,
    undelivered: usize,
}

impl Figures {
    fn compute(batches: &[Batch], committed: &[Committed], received: &[Vec<Received>]) -> Self {
        // When each `drop` message was composed (one drop: at most one message per batch).
        let mut composed: Vec<(i64, Instant)> = batches
            .iter()
            .filter(|b| b.drop_messages > 0)
            .map(|b| (b.at, b.composed))
            .collect();
        composed.sort_by_key(|(at, _)| *at);
        let by_socket: Vec<HashMap<i64, Instant>> = received
            .iter()
            .map(|messages| messages.iter().map(|m| (m.at, m.received)).collect())
            .collect();
        let mut latencies = Vec::with_capacity(committed.len() * received.len());
        let mut to_message = Vec::with_capacity(committed.len());
        let (mut unmatched_claims, mut undelivered) = (0, 0);
        for claim in committed {
            // The first message composed after the claim returned carries it.
            let next = composed.partition_point(|(at, _)| *at < claim.returned_at);
            let Some((at, when)) = composed.get(next) else {
                unmatched_claims += 1;
                continue;
            };
            to_message.push(ms_between(claim.returned, *when));
            for socket in &by_socket {
                match socket.get(at) {
                    Some(received) => latencies.push(ms_between(claim.returned, *received)),
                    None => undelivered += 1,
                }
            }
        }
        let mut delivery = Vec::new();
        for (at, when) in &composed {
            for socket in &by_socket {
                if let Some(received) = socket.get(at) {
                    delivery.push(ms_between(*when, *received));
                }
            }
        }
        let mut batch_durations: Vec<f64> = batches
            .iter()
            .filter(|b| b.drop_messages > 0)
            .map(|b| ms_between(b.composed, b.finished))
            .collect();
        for list in [
            &mut latencies,
            &mut to_message,
            &mut delivery,
            &mut batch_durations,
        ] {
            list.sort_by(f64::total_cmp);
        }
        let window = i64::try_from(PUSH_WINDOW.as_nanos()).unwrap_or(i64::MAX);
        let max_per_window = composed
            .iter()
            .enumerate()
            .map(|(i, (at, _))| composed[i..].partition_point(|(later, _)| later - at < window))
            .max()
            .unwrap_or(0);
        let min_gap = composed
            .windows(2)
            .map(|pair| (pair[1].0 - pair[0].0) as f64 / 1e6)
            .fold(f64::INFINITY, f64::min);
        let herd_ats: HashSet<i64> = composed.iter().map(|(at, _)| *at).collect();
        let per_socket: Vec<usize> = received
            .iter()
            .map(|messages| messages.iter().filter(|m| herd_ats.contains(&m.at)).count())
            .collect();
        Self {
            records: batches.iter().map(|b| b.records).sum(),
            shard_changes: batches.iter().map(|b| b.shard_changes).sum(),
            drop_messages: batches.iter().map(|b| b.drop_messages).sum(),
            held_back: batches.iter().map(|b| b.held_back).sum(),
            max_per_window,
            min_gap,
            posts: batches.iter().map(|b| b.posts).sum(),
            gone: batches.iter().map(|b| b.gone).sum(),
            received: per_socket.iter().sum(),
            received_min: per_socket.iter().copied().min().unwrap_or(0),
            received_max: per_socket.iter().copied().max().unwrap_or(0),
            latencies,
            to_message,
            delivery,
            batch_durations,
            unmatched_claims,
            undelivered,
        }
    }
}
