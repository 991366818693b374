//! `POST /admin/drops` — see `burst::api::create_drop`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::create_drop).await
}
