//! WebSocket $connect: records the connection (personal with a valid ?token=) — see `burst::ws::connect`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    burst::ws::run(burst::ws::connect).await
}
