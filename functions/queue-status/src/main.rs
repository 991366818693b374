//! `GET /drops/{drop_id}/queue` — see `burst::api::queue_status`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::queue_status).await
}
