//! `GET /drops/{drop_id}/challenge` — see `burst::api::pow_challenge`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::pow_challenge).await
}
