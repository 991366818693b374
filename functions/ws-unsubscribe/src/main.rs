//! WebSocket route unsubscribe: stop watching a drop — see `burst::ws::unsubscribe`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    burst::ws::run(burst::ws::unsubscribe).await
}
