//! Payments: what Burst asks of a payment provider (`PaymentGateway`), Stripe's implementation
//! of it (behind the `stripe` feature, so functions that never call Stripe do not link it),
//! webhook signatures, and the webhook events Burst acts on.

pub mod events;
pub mod signature;
#[cfg(feature = "stripe")]
pub mod stripe_gateway;

use std::future::Future;
use std::pin::Pin;

use crate::error::Result;
use events::SessionObject;

#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `STRIPE_SECRET_KEY` (or the `secret_key` of the Secrets Manager secret).
    pub secret_key: String,
    /// `STRIPE_API_BASE`: `https://api.stripe.com` unless an emulator stands in.
    pub api_base: Option<String>,
    /// `CHECKOUT_RETURN_URL`: where Checkout sends the shopper back (success and cancel).
    pub return_url: String,
}

/// What the checkout needs to ask the provider for. Every field is fixed when the hold is made
/// (the price is the reservation's, the expiry `checkout_expires_at`), so a retry sends exactly
/// the same parameters under the same idempotency key, as Stripe requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub reservation_id: String,
    pub drop_id: String,
    pub product_name: String,
    pub unit_amount: i64,
    pub currency: String,
    pub quantity: u32,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

/// How ending a Checkout Session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCheckoutOutcome {
    /// The session is (now) expired: nobody can pay it any more.
    Expired,
    /// The shopper finished checkout first: the webhook decides the hold's fate.
    Completed,
}

pub type GatewayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

pub trait PaymentGateway: Send + Sync {
    /// Creates the session for a hold, idempotently per reservation.
    fn create_checkout<'a>(
        &'a self,
        request: &'a CheckoutRequest,
    ) -> GatewayFuture<'a, CheckoutSession>;
    /// Ends a session so it can no longer be paid, or reports that it was completed first.
    fn end_checkout<'a>(&'a self, session_id: &'a str) -> GatewayFuture<'a, EndCheckoutOutcome>;
    /// The session as Stripe has it now (for settling a payment whose webhook never came).
    fn retrieve_checkout<'a>(&'a self, session_id: &'a str) -> GatewayFuture<'a, SessionObject>;
    /// Refunds a session's payment in full under `idempotency_key`; the refund's id.
    fn refund<'a>(
        &'a self,
        payment_intent: &'a str,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, String>;
}
