//! `GET /drops/{drop_id}/queue/proof/{page}` — see `burst::api::queue_proof_page`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::queue_proof_page).await
}
