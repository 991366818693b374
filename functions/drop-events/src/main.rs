//! `GET /admin/drops/{drop_id}/events` — see `burst::api::drop_events`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::drop_events).await
}
