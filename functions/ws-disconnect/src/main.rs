//! WebSocket $disconnect: forgets the connection — see `burst::ws::disconnect`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    burst::ws::run(burst::ws::disconnect).await
}
