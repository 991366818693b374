//! Live updates, the whole chain locally: real WebSocket clients → the local gateway → the route
//! handlers (real API Gateway WebSocket events) → the table → DynamoDB Local's stream → the pump →
//! the fan-out (real stream events) → `PostToConnection` through aws-sdk-apigatewaymanagement →
//! the gateway's `@connections` API → the clients.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use burst::App;
use burst::auth::mint_dev_token;
use burst::domain::live::{self, Change, Run};
use burst::push::{ApiGatewayPush, PostOutcome, Push, PushFuture};
use burst::store::keys;
use burst_tests::{Caller, TestEnv, drop_body, dynamodb_local, id_of, invoke_ws_route};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use ws_gateway::gateway::{Routes, listen};
use ws_gateway::pump::Pump;
use ws_gateway::{Gateway, InvokeFuture, Invoker};

const DEV_SECRET: &str = "live-test-secret";
/// How long one fan-out invocation may post (Lambda's 30 s timeout less its wrap-up).
const FAN_OUT_BUDGET: Duration = Duration::from_secs(25);
/// The chain's push window: short, so a test sees a window end.
const WINDOW: Duration = Duration::from_secs(2);

/// The functions, in-process, as the gateway and the pump invoke them.
struct InProcess {
    app: Arc<App>,
    push: ApiGatewayPush,
}

impl Invoker for InProcess {
    fn invoke<'a>(&'a self, name: &'a str, event: Value) -> InvokeFuture<'a> {
        Box::pin(async move {
            if name != "fan-out" {
                return invoke_ws_route(self.app.clone(), name, event)
                    .await
                    .unwrap_or_else(|| Err(format!("no function {name}")));
            }
            let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
            let deadline = std::time::Instant::now() + FAN_OUT_BUDGET;
            let report = burst::stream::handle(&self.app, &self.push, event, deadline)
                .await
                .map_err(|e| e.to_string())?;
            serde_json::to_value(report).map_err(|e| e.to_string())
        })
    }
}

fn sdk_config() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "tests"),
        ))
        .endpoint_url(dynamodb_local::endpoint())
        .build()
}

struct Stack {
    env: TestEnv,
    ws_url: String,
    gateway: Arc<Gateway>,
}

/// The local chain on free ports, over a fresh table.
async fn stack() -> Stack {
    let env = TestEnv::builder()
        .dev_secret(DEV_SECRET)
        .push_window(WINDOW)
        .stream()
        .build()
        .await;
    let ws = listen(0).await.unwrap();
    let management = listen(0).await.unwrap();
    let ws_url = format!("ws://{}", ws.local_addr().unwrap());
    let management_url = format!("http://{}", management.local_addr().unwrap());
    let invoker: Arc<dyn Invoker> = Arc::new(InProcess {
        app: env.app.clone(),
        push: ApiGatewayPush::new(&sdk_config(), &management_url),
    });
    let gateway = Gateway::new(invoker.clone(), Routes::default());
    gateway.serve(ws, management);
    // Several stream shards, as a table has in AWS: a drop's changes reach several fan-outs.
    let pump = Pump::for_table(&sdk_config(), env.app.store.table(), invoker, "fan-out")
        .await
        .unwrap()
        .with_shards(4);
    tokio::spawn(pump.run());
    // The pump reads from now on: let it take its iterators first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Stack {
        env,
        ws_url,
        gateway,
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn open(stack: &Stack, shopper: Option<&str>) -> Socket {
    let url = match shopper {
        Some(sub) => {
            let token = mint_dev_token(DEV_SECRET, sub, false, chrono::Utc::now().timestamp(), 600);
            format!("{}/?token={token}", stack.ws_url)
        }
        None => stack.ws_url.clone(),
    };
    connect_async(url).await.expect("connected").0
}

async fn send(socket: &mut Socket, frame: Value) {
    socket.send(Message::text(frame.to_string())).await.unwrap();
}

/// The next frame of `kind` within `wait`, skipping others.
async fn next_of(socket: &mut Socket, kind: &str, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(text) = frame {
            let value: Value = serde_json::from_str(&text).ok()?;
            if value["type"] == kind {
                return Some(value);
            }
        }
    }
}

const WAIT: Duration = Duration::from_secs(8);

/// The next `drop` message showing `available` within `wait`: a push owed from before (the
/// drop's creation, say) may come first with older numbers.
async fn next_showing(socket: &mut Socket, available: i64, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let message = next_of(socket, "drop", left).await?;
        if message["available"] == available {
            return Some(message);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_sees_a_claim_move_the_drop_and_stops_after_unsubscribing() {
    let stack = stack().await;
    let drop_id = id_of(&stack.env.create_drop(drop_body(5, json!({}))).await);
    let mut watcher = open(&stack, None).await;
    send(
        &mut watcher,
        json!({ "action": "subscribe", "drop_id": drop_id }),
    )
    .await;
    let subscribed = next_of(&mut watcher, "subscribed", WAIT)
        .await
        .expect("subscribed");
    assert_eq!(subscribed["drop"]["available"], 5);

    stack.env.hold("ann", &drop_id).await;
    let moved = next_showing(&mut watcher, 4, WAIT)
        .await
        .expect("a drop message");
    assert_eq!(
        (
            moved["drop_id"].clone(),
            moved["available"].clone(),
            moved["held"].clone()
        ),
        (json!(drop_id), json!(4), json!(1))
    );
    assert_eq!(moved["status"], "live");

    send(
        &mut watcher,
        json!({ "action": "unsubscribe", "drop_id": drop_id }),
    )
    .await;
    next_of(&mut watcher, "unsubscribed", WAIT)
        .await
        .expect("unsubscribed");
    stack.env.hold("bob", &drop_id).await;
    assert!(
        next_of(&mut watcher, "drop", Duration::from_secs(2))
            .await
            .is_none(),
        "no more messages"
    );
    assert_eq!(stack.env.count_items("WSDROP#").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn personal_events_reach_only_their_owner() {
    let stack = stack().await;
    let drop_id = id_of(&stack.env.create_drop(drop_body(5, json!({}))).await);
    let mut ann = open(&stack, Some("ann")).await;
    let mut bob = open(&stack, Some("bob")).await;
    let mut anonymous = open(&stack, None).await;
    let hold = stack.env.hold("ann", &drop_id).await;
    assert_eq!(
        stack
            .env
            .release(Caller::Shopper("ann"), &hold)
            .await
            .status,
        200
    );
    let event = next_of(&mut ann, "reservation", WAIT)
        .await
        .expect("ann hears of her hold");
    assert_eq!(
        (event["reservation_id"].clone(), event["status"].clone()),
        (json!(hold), json!("released"))
    );
    assert!(
        next_of(&mut bob, "reservation", Duration::from_secs(2))
            .await
            .is_none()
    );
    assert!(
        next_of(&mut anonymous, "reservation", Duration::from_millis(500))
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_token_refuses_the_connection_and_bad_frames_get_errors() {
    let stack = stack().await;
    let refused = connect_async(format!("{}/?token=not.a.token", stack.ws_url)).await;
    let status = match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        other => panic!("expected a refused handshake, got {:?}", other.map(|_| ())),
    };
    assert_eq!(status, 401);
    assert_eq!(stack.env.count_items("WSCONN#").await, 0);

    let mut socket = open(&stack, None).await;
    socket.send(Message::text("hello")).await.unwrap();
    assert_eq!(
        next_of(&mut socket, "error", WAIT).await.unwrap()["code"],
        "malformed_frame"
    );
    send(&mut socket, json!({ "action": "dance" })).await;
    assert_eq!(
        next_of(&mut socket, "error", WAIT).await.unwrap()["code"],
        "unknown_action"
    );
    send(
        &mut socket,
        json!({ "action": "subscribe", "drop_id": "nope" }),
    )
    .await;
    assert_eq!(
        next_of(&mut socket, "error", WAIT).await.unwrap()["code"],
        "not_found"
    );
    // Still usable.
    let drop_id = id_of(&stack.env.create_drop(drop_body(2, json!({}))).await);
    send(
        &mut socket,
        json!({ "action": "subscribe", "drop_id": drop_id }),
    )
    .await;
    assert!(next_of(&mut socket, "subscribed", WAIT).await.is_some());
    assert_eq!(stack.gateway.connection_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_that_left_without_disconnect_is_forgotten_on_410() {
    let stack = stack().await;
    let drop_id = id_of(&stack.env.create_drop(drop_body(5, json!({}))).await);
    // A watcher whose $disconnect never came (API Gateway's is best effort).
    let stale = burst::model::connection::Connection {
        connection_id: "c3RhbGVjb25uZWN0aW9u".into(),
        shopper: None,
        connected_at: chrono::Utc::now(),
        drops: Vec::new(),
    };
    stack.env.app.store.put_connection(&stale).await.unwrap();
    assert!(
        stack
            .env
            .app
            .store
            .watch(&stale.connection_id, &drop_id)
            .await
            .unwrap()
    );
    let mut live = open(&stack, None).await;
    send(
        &mut live,
        json!({ "action": "subscribe", "drop_id": drop_id }),
    )
    .await;
    next_of(&mut live, "subscribed", WAIT).await.unwrap();
    // Both watch (unless a push owed since the drop's creation already met the gone one's 410).
    let watching = stack.env.count_items(&format!("WSDROP#{drop_id}")).await;
    assert!((1..=2).contains(&watching), "{watching} watchers");

    stack.env.hold("ann", &drop_id).await;
    next_showing(&mut live, 4, WAIT)
        .await
        .expect("the live one still hears");
    // The push forgets the gone one once its stripes are done.
    let forgotten = tokio::time::Instant::now() + WAIT;
    while stack.env.count_items(&format!("WSDROP#{drop_id}")).await > 1
        && tokio::time::Instant::now() < forgotten
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        stack.env.count_items(&format!("WSDROP#{drop_id}")).await,
        1,
        "the gone one is forgotten"
    );
    assert!(
        stack
            .env
            .app
            .store
            .connection(&stale.connection_id)
            .await
            .unwrap()
            .is_none()
    );
}

/// `PostToConnection` in memory: records what reached whom; can fail every post after the first
/// `fail_after`, and take `delay` per post.
#[derive(Default)]
struct Recorder {
    posts: std::sync::Mutex<Vec<(String, Value)>>,
    fail_after: Option<usize>,
    delay: Duration,
}

impl Recorder {
    fn failing_after(posts: usize) -> Self {
        Self {
            fail_after: Some(posts),
            ..Default::default()
        }
    }

    fn slow(delay: Duration) -> Self {
        Self {
            delay,
            ..Default::default()
        }
    }

    /// The connections that received a `drop` message.
    fn drop_receivers(&self) -> Vec<String> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, message)| message["type"] == "drop")
            .map(|(connection, _)| connection.clone())
            .collect()
    }
}

impl Push for Recorder {
    fn post<'a>(&'a self, connection_id: &'a str, data: &'a [u8]) -> PushFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            let mut posts = self.posts.lock().unwrap();
            if self.fail_after.is_some_and(|limit| posts.len() >= limit) {
                return Err(burst::error::ApiError::Store(
                    burst::error::StoreError::Invariant("throttled (injected)".into()),
                ));
            }
            posts.push((
                connection_id.to_string(),
                serde_json::from_slice(data).unwrap(),
            ));
            Ok(PostOutcome::Delivered)
        })
    }
}

/// A drop of `units` watched by `count` connections (recorded directly, as `subscribe` does).
async fn watched_drop(env: &TestEnv, units: u32, count: usize) -> (String, Vec<String>) {
    let drop_id = id_of(&env.create_drop(drop_body(units, json!({}))).await);
    let mut connections = Vec::new();
    for i in 0..count {
        let connection = burst::model::connection::Connection {
            connection_id: format!("conn-{i:04}"),
            shopper: None,
            connected_at: chrono::Utc::now(),
            drops: Vec::new(),
        };
        env.app.store.put_connection(&connection).await.unwrap();
        assert!(
            env.app
                .store
                .watch(&connection.connection_id, &drop_id)
                .await
                .unwrap()
        );
        connections.push(connection.connection_id);
    }
    connections.sort();
    (drop_id, connections)
}

/// A stream record of one of the drop's inventory shards.
fn shard_change(drop_id: &str, shard: u32) -> Change {
    let (pk, sk) = keys::shard_key(drop_id, shard);
    Change {
        pk,
        sk,
        ..Default::default()
    }
}

/// The stream record of a write to the drop's push state (a handoff, an owed push, a wake-up).
fn push_state_change(drop_id: &str) -> Change {
    let (pk, sk) = keys::push_state_key(drop_id);
    Change {
        pk,
        sk,
        ..Default::default()
    }
}

fn run(batch_id: &str, budget: Duration) -> Run {
    Run {
        now: chrono::Utc::now(),
        deadline: std::time::Instant::now() + budget,
        batch_id: batch_id.to_string(),
    }
}

fn sorted(mut connections: Vec<String>) -> Vec<String> {
    connections.sort();
    connections
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_stream_shards_of_one_drop_within_a_window_make_one_drop_push() {
    let window = Duration::from_secs(3);
    let env = TestEnv::builder().push_window(window).build().await;
    let (drop_id, watchers) = watched_drop(&env, 8, 40).await;
    // Watchers are spread over several partition keys.
    let stripes: std::collections::BTreeSet<u32> =
        watchers.iter().map(|c| keys::watcher_stripe(c)).collect();
    assert!(
        stripes.len() > 8,
        "40 watchers over {} stripes",
        stripes.len()
    );
    assert_eq!(env.count_items(&format!("WSDROP#{drop_id}#")).await, 40);

    // Four stream shards each bring a batch with a change of the drop, at the same time.
    env.hold("ann", &drop_id).await;
    let push = Recorder::default();
    let reports = futures::future::join_all((0..4).map(|shard| {
        let changes = vec![shard_change(&drop_id, shard)];
        let push = &push;
        let app = &env.app;
        async move {
            live::fan_out(
                app,
                push,
                &changes,
                &run(&format!("batch-{shard}"), FAN_OUT_BUDGET),
            )
            .await
            .unwrap()
        }
    }))
    .await;
    assert_eq!(
        reports.iter().map(|r| r.drop_messages).sum::<usize>(),
        1,
        "{reports:?}"
    );
    assert_eq!(reports.iter().map(|r| r.held_back).sum::<usize>(), 3);
    assert_eq!(sorted(push.drop_receivers()), watchers, "each watcher once");

    // A change inside the window waits for it to end; the owed push then carries the last numbers.
    env.hold("bob", &drop_id).await;
    let late = live::fan_out(
        &env.app,
        &push,
        &[shard_change(&drop_id, 5)],
        &run("batch-5", FAN_OUT_BUDGET),
    )
    .await
    .unwrap();
    assert_eq!((late.drop_messages, late.held_back), (0, 1));
    let waiting = live::fan_out(
        &env.app,
        &push,
        &[push_state_change(&drop_id)],
        &run("batch-6", FAN_OUT_BUDGET),
    )
    .await
    .unwrap();
    assert_eq!(waiting.drop_messages, 0, "the window is not over");
    tokio::time::sleep(window).await;
    let owed = live::fan_out(
        &env.app,
        &push,
        &[push_state_change(&drop_id)],
        &run("batch-7", FAN_OUT_BUDGET),
    )
    .await
    .unwrap();
    assert_eq!(owed.drop_messages, 1);
    let messages: Vec<Value> = push
        .posts
        .lock()
        .unwrap()
        .iter()
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(messages.len(), 80);
    assert!(messages[40..].iter().all(|m| m["available"] == 6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_after_failed_posts_posts_only_to_the_watchers_that_missed_the_message() {
    let env = TestEnv::new().await;
    let (drop_id, watchers) = watched_drop(&env, 8, 120).await;
    let changes = [shard_change(&drop_id, 0)];

    // Throttled after 70 posts: the invocation fails and Lambda retries the same batch.
    let failing = Recorder::failing_after(70);
    let failed = live::fan_out(
        &env.app,
        &failing,
        &changes,
        &run("batch-1", FAN_OUT_BUDGET),
    )
    .await;
    assert!(failed.is_err(), "failed posts fail the invocation");
    let first = failing.drop_receivers();
    assert_eq!(first.len(), 70);

    let retry_push = Recorder::default();
    let retry = live::fan_out(
        &env.app,
        &retry_push,
        &changes,
        &run("batch-1", FAN_OUT_BUDGET),
    )
    .await
    .unwrap();
    assert_eq!(retry.drop_messages, 1);
    let second = retry_push.drop_receivers();
    assert_eq!(second.len(), 50, "only the rest");
    assert!(second.iter().all(|c| !first.contains(c)), "nobody twice");
    assert_eq!(sorted([first, second].concat()), watchers);

    // Another batch in the same window is held back, not a second message.
    let later = live::fan_out(
        &env.app,
        &retry_push,
        &changes,
        &run("batch-2", FAN_OUT_BUDGET),
    )
    .await
    .unwrap();
    assert_eq!((later.drop_messages, later.held_back), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fan_out_out_of_time_hands_the_rest_on_and_the_next_one_finishes_it() {
    let env = TestEnv::new().await;
    let (drop_id, watchers) = watched_drop(&env, 8, 200).await;
    // Posts of 1 s, 64 at a time, and 1.5 s to start them: one or two waves of the four.
    let slow = Recorder::slow(Duration::from_secs(1));
    let first = live::fan_out(
        &env.app,
        &slow,
        &[shard_change(&drop_id, 0)],
        &run("batch-1", Duration::from_millis(1_500)),
    )
    .await
    .unwrap();
    assert_eq!(first.handed_off, 1, "{first:?}");
    let reached = slow.drop_receivers();
    assert!(
        !reached.is_empty() && reached.len() < 200,
        "{}",
        reached.len()
    );
    let state = env.app.store.push_state(&drop_id).await.unwrap().unwrap();
    assert_eq!(state.handoff.as_deref(), Some("batch-1"));

    // The handoff's write comes back through the stream to the next invocation.
    let next = Recorder::default();
    let second = live::fan_out(
        &env.app,
        &next,
        &[push_state_change(&drop_id)],
        &run("batch-2", FAN_OUT_BUDGET),
    )
    .await
    .unwrap();
    assert_eq!((second.drop_messages, second.handed_off), (1, 0));
    let rest = next.drop_receivers();
    assert!(rest.iter().all(|c| !reached.contains(c)), "nobody twice");
    assert_eq!(sorted([reached, rest].concat()), watchers);
    let state = env.app.store.push_state(&drop_id).await.unwrap().unwrap();
    assert_eq!(state.handoff, None, "finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_herd_through_the_chain_pushes_once_per_window_and_ends_on_the_last_numbers() {
    let stack = stack().await;
    let drop_id = id_of(&stack.env.create_drop(drop_body(20, json!({}))).await);
    let mut watcher = open(&stack, None).await;
    send(
        &mut watcher,
        json!({ "action": "subscribe", "drop_id": drop_id }),
    )
    .await;
    next_of(&mut watcher, "subscribed", WAIT).await.unwrap();
    // Let the drop's creation's own window pass.
    tokio::time::sleep(WINDOW).await;
    let claims = async {
        for i in 0..12 {
            stack.env.hold(&format!("herd-{i}"), &drop_id).await;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let listen = async {
        let mut seen = Vec::new();
        while let Some(message) = next_of(&mut watcher, "drop", WINDOW * 3).await {
            let at: chrono::DateTime<chrono::Utc> =
                serde_json::from_value(message["at"].clone()).unwrap();
            seen.push((at, message["available"].clone()));
            if message["available"] == 8 {
                break;
            }
        }
        seen
    };
    let ((), seen) = tokio::join!(claims, listen);
    assert_eq!(
        seen.last().map(|(_, a)| a.clone()),
        Some(json!(8)),
        "{seen:?}"
    );
    // One message per window: composed at least a window apart.
    for pair in seen.windows(2) {
        assert!(
            pair[1].0 - pair[0].0 >= chrono::Duration::from_std(WINDOW).unwrap(),
            "{seen:?}"
        );
    }
}
