//! `POST /reservations/{reservation_id}/checkout` — see `burst::api::checkout`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::checkout).await
}
