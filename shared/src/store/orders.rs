//! Orders and what Stripe told us: a shopper's orders, the order a PaymentIntent paid, the sold
//! and refunding ones the audit and the sweeper read, what happened to a sale's money later, and
//! the record of each Stripe event applied (so a second delivery is a duplicate).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;

use super::{RETENTION_SECONDS, Store, condition_met, decode, keys, n, s};
use crate::error::Result;
use crate::model::ids;
use crate::model::order::{Order, OrderStatus};

impl Store {
    pub async fn order(&self, shopper: &str, order_id: &str) -> Result<Option<Order>> {
        if !ids::is_valid(order_id) {
            return Ok(None);
        }
        self.get(keys::order_key(shopper, order_id), true).await
    }

    pub async fn orders(&self, shopper: &str) -> Result<Vec<Order>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::user_partition(shopper)))
            .expression_attribute_values(":prefix", s(keys::ORDER_PREFIX));
        self.query_all(query)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// The order a Stripe PaymentIntent paid for, if Burst recorded one.
    pub async fn order_by_payment_intent(&self, payment_intent: &str) -> Result<Option<Order>> {
        #[derive(serde::Deserialize)]
        struct Link {
            shopper: String,
            order_id: String,
        }
        let Some(link) = self
            .get::<Link>(keys::payment_link_key(payment_intent), true)
            .await?
        else {
            return Ok(None);
        };
        self.order(&link.shopper, &link.order_id).await
    }

    /// Paid orders filed under one shard's sold partition (the audit sums them).
    pub async fn sold_orders(&self, drop_id: &str, shard: u32) -> Result<Vec<Order>> {
        self.query_index_partition(keys::sold_index_partition(drop_id, shard))
            .await
    }

    /// Orders whose refund was decided but not confirmed by Stripe yet.
    pub async fn refunding_orders(&self) -> Result<Vec<Order>> {
        self.query_index_partition(keys::refunding_index_partition())
            .await
    }

    /// Whether the event was applied before (its record exists).
    pub async fn event_processed(&self, event_id: &str) -> Result<bool> {
        let record = self
            .get::<IgnoredAny>(keys::stripe_event_key(event_id), true)
            .await?;
        Ok(record.is_some())
    }

    /// Marks an event processed; a second delivery finds it. Safe to repeat.
    pub async fn record_event(&self, event_id: &str, kind: &str, now: DateTime<Utc>) -> Result<()> {
        let (pk, sk) = keys::stripe_event_key(event_id);
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(keys::PK, s(pk))
            .item(keys::SK, s(sk))
            .item("type", s(kind))
            .item("processed_at", s(now.to_rfc3339()))
            .item(keys::TTL, n(now.timestamp() + RETENTION_SECONDS))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        // Already recorded by a concurrent delivery: just as good.
        condition_met(written).map(|_| ())
    }

    /// Stripe has refunded: `refunding` becomes `refunded`. `false` when it already was.
    pub async fn finish_refund(
        &self,
        order: &Order,
        refund_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (pk, sk) = keys::order_key(&order.shopper, &order.id);
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression(
                "SET #status = :refunded, refund_id = :refund, refunded_at = :now, amount_refunded = :amount \
                 REMOVE #gpk, #gsk",
            )
            .condition_expression("#status = :refunding")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#gpk", keys::GSI1_PK)
            .expression_attribute_names("#gsk", keys::GSI1_SK)
            .expression_attribute_values(":refunded", s(OrderStatus::Refunded.as_str()))
            .expression_attribute_values(":refunding", s(OrderStatus::Refunding.as_str()))
            .expression_attribute_values(":refund", s(refund_id))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":amount", n(order.amount))
            .send()
            .await;
        condition_met(written)
    }

    /// What happened to a sold order's money at Stripe afterwards (a Dashboard refund, a
    /// dispute): the order's status moves from one of `from` to `to`, with the given details.
    /// Units are never touched: they stay sold. `false` when the order was in none of `from`.
    pub async fn record_payment_outcome(
        &self,
        order: &Order,
        from: &[OrderStatus],
        to: OrderStatus,
        details: &[(&str, AttributeValue)],
    ) -> Result<bool> {
        let (pk, sk) = keys::order_key(&order.shopper, &order.id);
        let mut expression = String::from("SET #status = :to");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(to.as_str()));
        for (index, (attribute, value)) in details.iter().enumerate() {
            expression.push_str(&format!(", #d{index} = :d{index}"));
            update = update
                .expression_attribute_names(format!("#d{index}"), *attribute)
                .expression_attribute_values(format!(":d{index}"), value.clone());
        }
        let allowed: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        for (placeholder, status) in allowed.iter().zip(from) {
            update = update.expression_attribute_values(placeholder, s(status.as_str()));
        }
        let written = update
            .update_expression(expression)
            .condition_expression(format!("#status IN ({})", allowed.join(", ")))
            .send()
            .await;
        condition_met(written)
    }
}
