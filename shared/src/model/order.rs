//! An order: what a shopper paid for. One per reservation (the order's id is the reservation's),
//! written in the same transaction that turns the hold into a sale.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::drop::Price;
use crate::model::reservation::Allocation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Paid, and the units are the shopper's.
    Paid,
    /// Checkout completed with a delayed payment method; the units stay held meanwhile.
    PaymentPending,
    /// The delayed payment failed; the units went back.
    PaymentFailed,
    /// Burst decided to refund this payment and recorded it before asking Stripe; a retry
    /// finishes the refund, nothing can sell the units meanwhile.
    Refunding,
    /// The money went back: a payment that could not buy a unit (sold out by then, wrong amount,
    /// over the limit, after the drop ended), or a sale refunded at Stripe (`paid_at` set; its
    /// units stay sold).
    Refunded,
    /// The shopper's bank disputes the payment; the units stay sold.
    Disputed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::PaymentPending => "payment_pending",
            Self::PaymentFailed => "payment_failed",
            Self::Refunding => "refunding",
            Self::Refunded => "refunded",
            Self::Disputed => "disputed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub drop_id: String,
    pub shopper: String,
    pub quantity: u32,
    /// The unit price locked into the hold this order paid for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Price>,
    /// What Stripe collected, in minor units.
    pub amount: i64,
    pub currency: String,
    pub status: OrderStatus,
    pub checkout_session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<String>,
    /// The shards the sold units came from (empty unless paid).
    #[serde(default)]
    pub allocations: Vec<Allocation>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<String>,
    /// The Stripe idempotency key of Burst's refund, recorded before the refund is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_key: Option<String>,
    /// Minor units refunded at Stripe so far (a partial refund leaves the order paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_refunded: Option<i64>,
    /// Stripe's dispute status (`needs_response`, `won`, `lost`, …) once one was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute_status: Option<String>,
}

/// What a shopper sees of an order.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    pub id: String,
    pub drop_id: String,
    pub quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Price>,
    pub amount: i64,
    pub currency: String,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_refunded: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispute_status: Option<String>,
}

impl Order {
    pub fn view(&self) -> OrderView {
        OrderView {
            id: self.id.clone(),
            drop_id: self.drop_id.clone(),
            quantity: self.quantity,
            unit_price: self.unit_price.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            status: self.status,
            created_at: self.created_at,
            paid_at: self.paid_at,
            refunded_at: self.refunded_at,
            refund_reason: self.refund_reason.clone(),
            amount_refunded: self.amount_refunded,
            dispute_status: self.dispute_status.clone(),
        }
    }

    /// Whether this order's units were sold (and stay counted as sold whatever happens to the
    /// money afterwards: refunds and disputes at Stripe never put units back on sale).
    pub fn sold_units(&self) -> bool {
        self.paid_at.is_some()
    }
}
