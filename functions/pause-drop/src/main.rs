//! `POST /admin/drops/{drop_id}/pause` — see `burst::api::pause_drop`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::pause_drop).await
}
