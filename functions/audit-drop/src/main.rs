//! `GET /admin/drops/{drop_id}/audit` — see `burst::api::audit_drop`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::audit_drop).await
}
