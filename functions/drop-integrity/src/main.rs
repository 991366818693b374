//! `GET /drops/{drop_id}/integrity` — see `burst::api::drop_integrity`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::drop_integrity).await
}
