//! `GET /drops` — see `burst::api::list_drops`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::list_drops).await
}
