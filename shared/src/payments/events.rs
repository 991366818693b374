//! The webhook events Burst acts on, read leniently: only the fields Burst uses, so a newer
//! Stripe API version adding fields changes nothing.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: Value,
}

/// A Checkout Session, from a `checkout.session.*` event or retrieved from Stripe.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionObject {
    pub id: String,
    /// `open`, `complete` or `expired`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    /// An id, or the expanded object.
    #[serde(default)]
    pub payment_intent: Option<Value>,
}

impl SessionObject {
    pub fn payment_intent_id(&self) -> Option<String> {
        payment_intent_of(self.payment_intent.as_ref())
    }

    pub fn is_paid(&self) -> bool {
        self.payment_status == "paid"
    }

    pub fn is_complete(&self) -> bool {
        self.status.as_deref() == Some("complete")
    }
}

/// A Charge (`charge.refunded`): money returned at Stripe, by Burst or from the Dashboard.
#[derive(Debug, Clone, Deserialize)]
pub struct ChargeObject {
    pub id: String,
    #[serde(default)]
    pub payment_intent: Option<Value>,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    /// True only once the whole amount is refunded.
    #[serde(default)]
    pub refunded: bool,
}

/// A Dispute (`charge.dispute.*`): the shopper's bank contests the payment.
#[derive(Debug, Clone, Deserialize)]
pub struct DisputeObject {
    pub id: String,
    #[serde(default)]
    pub payment_intent: Option<Value>,
    /// `needs_response`, `under_review`, `won`, `lost`, `warning_*`, …
    pub status: String,
}

impl ChargeObject {
    pub fn payment_intent_id(&self) -> Option<String> {
        payment_intent_of(self.payment_intent.as_ref())
    }
}

impl DisputeObject {
    pub fn payment_intent_id(&self) -> Option<String> {
        payment_intent_of(self.payment_intent.as_ref())
    }
}

fn payment_intent_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => object.get("id")?.as_str().map(str::to_string),
        _ => None,
    }
}

/// What Burst does with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Completed,
    AsyncPaymentSucceeded,
    AsyncPaymentFailed,
    Expired,
    ChargeRefunded,
    DisputeCreated,
    DisputeClosed,
    Ignored,
}

impl EventKind {
    pub fn is_session_event(self) -> bool {
        matches!(
            self,
            Self::Completed
                | Self::AsyncPaymentSucceeded
                | Self::AsyncPaymentFailed
                | Self::Expired
        )
    }
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self.kind.as_str() {
            "checkout.session.completed" => EventKind::Completed,
            "checkout.session.async_payment_succeeded" => EventKind::AsyncPaymentSucceeded,
            "checkout.session.async_payment_failed" => EventKind::AsyncPaymentFailed,
            "checkout.session.expired" => EventKind::Expired,
            "charge.refunded" => EventKind::ChargeRefunded,
            "charge.dispute.created" => EventKind::DisputeCreated,
            "charge.dispute.closed" => EventKind::DisputeClosed,
            _ => EventKind::Ignored,
        }
    }

    /// The event's object as `T`, or a `400` naming what is missing.
    pub fn object<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        T::deserialize(&self.data.object).map_err(|err| format!("{}: {err}", self.kind))
    }
}
