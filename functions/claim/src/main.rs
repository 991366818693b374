//! `POST /drops/{drop_id}/claims` — see `burst::api::claim`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::claim).await
}
