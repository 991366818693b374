//! `POST /admin/drops/{drop_id}/resume` — see `burst::api::resume_drop`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::resume_drop).await
}
