//! Reads the table's DynamoDB Stream and posts `drop`, `ticket` and `reservation` messages to
//! WebSocket connections — see `burst::stream` and `burst::domain::live::fan_out`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    burst::stream::run().await
}
