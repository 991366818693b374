//! `GET /drops/{drop_id}/queue/me` — see `burst::api::my_ticket`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::my_ticket).await
}
