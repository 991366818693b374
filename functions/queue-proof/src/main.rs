//! `GET /drops/{drop_id}/queue/proof` — see `burst::api::queue_proof`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::queue_proof).await
}
