//! The webhook events Burst acts on, read leniently: only the fields Burst uses, so a newer
//! Stripe API version adding fields changes nothing.

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

/// The Checkout Session inside a `checkout.session.*` event.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionObject {
    pub id: String,
    #[serde(default)]
    pub client_reference_id: Option<String>,
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
        match self.payment_intent.as_ref()? {
            Value::String(id) => Some(id.clone()),
            Value::Object(object) => object.get("id")?.as_str().map(str::to_string),
            _ => None,
        }
    }
}

/// What Burst does with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Completed,
    AsyncPaymentSucceeded,
    AsyncPaymentFailed,
    Expired,
    Ignored,
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self.kind.as_str() {
            "checkout.session.completed" => EventKind::Completed,
            "checkout.session.async_payment_succeeded" => EventKind::AsyncPaymentSucceeded,
            "checkout.session.async_payment_failed" => EventKind::AsyncPaymentFailed,
            "checkout.session.expired" => EventKind::Expired,
            _ => EventKind::Ignored,
        }
    }

    pub fn session(&self) -> Option<SessionObject> {
        serde_json::from_value(self.data.object.clone()).ok()
    }
}
