//! WebSocket $default: an error frame for anything else — see `burst::ws::unknown`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    burst::ws::run(burst::ws::unknown).await
}
