//! `POST /webhooks/stripe` — see `burst::api::stripe_webhook`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::stripe_webhook).await
}
