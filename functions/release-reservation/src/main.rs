//! `DELETE /reservations/{reservation_id}` — see `burst::api::release_reservation`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::release_reservation).await
}
