//! Live updates, the whole chain locally: real WebSocket clients → the local gateway → the route
//! handlers (real API Gateway WebSocket events) → the table → DynamoDB Local's stream → the pump →
//! the fan-out (real stream events) → `PostToConnection` through aws-sdk-apigatewaymanagement →
//! the gateway's `@connections` API → the clients.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use burst::App;
use burst::auth::mint_dev_token;
use burst::push::ApiGatewayPush;
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
            let report = burst::stream::handle(&self.app, &self.push, event)
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
    let env = TestEnv::with_dev_secret(DEV_SECRET).await;
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
    let pump = Pump::for_table(&sdk_config(), env.app.store.table(), invoker, "fan-out")
        .await
        .unwrap();
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
    let moved = next_of(&mut watcher, "drop", WAIT)
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
    assert_eq!(stack.env.count_items(&format!("WSDROP#{drop_id}")).await, 2);

    stack.env.hold("ann", &drop_id).await;
    next_of(&mut live, "drop", WAIT)
        .await
        .expect("the live one still hears");
    tokio::time::sleep(Duration::from_millis(500)).await;
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
