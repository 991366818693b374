//! `GET /orders/{order_id}` — see `burst::api::get_order`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    burst::http::run(burst::api::get_order).await
}
