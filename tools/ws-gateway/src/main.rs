//! `ws-gateway`: what `make dev` runs in place of API Gateway's WebSocket API and the stream
//! trigger of the fan-out. See the library.
//!
//! Environment: `WS_PORT` (9001), `WS_MANAGEMENT_PORT` (9002: the functions'
//! `WS_MANAGEMENT_ENDPOINT`), `INVOKE_URL` (`cargo lambda watch`, http://127.0.0.1:9000),
//! `WS_STREAM_SHARDS` (4: stream shards the pump spreads records over, as a table's partitions
//! do in AWS), `TABLE_NAME` and the standard AWS variables (DynamoDB Local's endpoint).

use std::sync::Arc;

use ws_gateway::gateway::{Routes, listen};
use ws_gateway::pump::Pump;
use ws_gateway::{Gateway, Invoker, WatchInvoker};

#[tokio::main]
async fn main() {
    burst::telemetry::init();
    let port = |name: &str, default: u16| {
        std::env::var(name)
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(default)
    };
    let invoke_url = std::env::var("INVOKE_URL").unwrap_or_else(|_| "http://127.0.0.1:9000".into());
    let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "burst".into());
    let invoker: Arc<dyn Invoker> = Arc::new(WatchInvoker::new(&invoke_url));

    let gateway = Gateway::new(invoker.clone(), Routes::default());
    let ws = listen(port("WS_PORT", 9001)).await.expect("bind WS_PORT");
    let management = listen(port("WS_MANAGEMENT_PORT", 9002))
        .await
        .expect("bind WS_MANAGEMENT_PORT");
    tracing::info!(ws = %ws.local_addr().expect("bound"), management = %management.local_addr().expect("bound"),
        "WebSocket gateway listening");
    gateway.serve(ws, management);

    let sdk = aws_config::load_from_env().await;
    let pump = Pump::for_table(&sdk, &table, invoker, "fan-out")
        .await
        .expect("the table's stream")
        .with_shards(port("WS_STREAM_SHARDS", 4).into());
    pump.run().await;
}
