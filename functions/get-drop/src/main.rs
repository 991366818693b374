//! `GET /drops/{drop_id}` — see `burst::api::get_drop`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::get_drop).await
}
