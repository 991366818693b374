//! `GET /reservations/{reservation_id}` — see `burst::api::get_reservation`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::get_reservation).await
}
