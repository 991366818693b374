//! `POST /drops/{drop_id}/queue` — see `burst::api::join_queue`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::join_queue).await
}
