//! `PATCH /admin/drops/{drop_id}` — see `burst::api::patch_drop`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::patch_drop).await
}
