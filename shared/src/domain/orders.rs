//! Orders as their shopper sees them.

use crate::app::App;
use crate::error::{ApiError, Result};
use crate::model::order::{Order, OrderView};

/// `GET /orders/{id}`: the shopper's own order; anybody else's does not exist for them.
pub async fn get_order(app: &App, shopper: &str, order_id: &str) -> Result<OrderView> {
    app.store
        .order(shopper, order_id)
        .await?
        .map(|order| order.view())
        .ok_or(ApiError::NotFound("order"))
}

/// `GET /me/orders`: newest first.
pub async fn list_orders(app: &App, shopper: &str) -> Result<Vec<OrderView>> {
    let mut orders: Vec<OrderView> = app
        .store
        .orders(shopper)
        .await?
        .iter()
        .map(Order::view)
        .collect();
    orders.sort_by_key(|order| std::cmp::Reverse(order.created_at));
    Ok(orders)
}
