//! `GET /me/orders` — see `burst::api::list_orders`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::list_orders).await
}
