//! WebSocket route subscribe: watch a drop — see `burst::ws::subscribe`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    burst::ws::run(burst::ws::subscribe).await
}
