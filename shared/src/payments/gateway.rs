//! The Stripe API calls Burst makes, through async-stripe: create / retrieve / expire Checkout
//! Sessions and create refunds. `STRIPE_API_BASE` points it at the local emulator.

use std::collections::HashMap;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    ExpireCheckoutSession, ProductData, RetrieveCheckoutSession,
};
use stripe_checkout::{CheckoutSessionMode, CheckoutSessionStatus};
use stripe_core::refund::CreateRefund;

use crate::error::{ApiError, Result};

/// Stripe refuses a Checkout Session that expires sooner than 30 minutes after creation; a
/// minute's margin keeps clock skew from tripping that.
pub const MIN_SESSION_SECONDS: i64 = 31 * 60;

#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `STRIPE_SECRET_KEY`
    pub secret_key: String,
    /// `STRIPE_API_BASE`: `https://api.stripe.com` unless an emulator stands in.
    pub api_base: Option<String>,
    /// `CHECKOUT_RETURN_URL`: where Checkout sends the shopper back (success and cancel).
    pub return_url: String,
}

pub struct StripeGateway {
    client: Client,
    return_url: String,
}

/// What the checkout needs to ask Stripe for.
#[derive(Debug, Clone)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The session is (now) expired: nobody can pay it any more.
    Expired,
    /// The shopper finished checkout first: the webhook decides the hold's fate.
    Completed,
}

impl StripeGateway {
    pub fn new(config: &StripeConfig) -> Result<Self> {
        let mut builder = ClientBuilder::new(config.secret_key.clone());
        if let Some(base) = &config.api_base {
            builder = builder.url(base.trim_end_matches('/'));
        }
        Ok(Self {
            client: builder.build().map_err(provider_error)?,
            return_url: config.return_url.trim_end_matches('/').to_string(),
        })
    }

    /// Creates the session, idempotently per reservation: a retry (or a second checkout call)
    /// gets the same session back from Stripe.
    pub async fn create_checkout(&self, request: &CheckoutRequest) -> Result<CheckoutSession> {
        let currency = request
            .currency
            .to_ascii_lowercase()
            .parse::<stripe_types::Currency>()
            .map_err(|_| ApiError::Store(format!("unknown currency {}", request.currency)))?;
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
        price.unit_amount = Some(request.unit_amount);
        price.product_data = Some(ProductData::new(request.product_name.clone()));
        let mut line = CreateCheckoutSessionLineItems::new();
        line.price_data = Some(price);
        line.quantity = Some(u64::from(request.quantity));
        let metadata = HashMap::from([
            ("reservation_id".to_string(), request.reservation_id.clone()),
            ("drop_id".to_string(), request.drop_id.clone()),
        ]);
        let back = format!(
            "{}/?reservation={}",
            self.return_url, request.reservation_id
        );
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![line])
            .client_reference_id(request.reservation_id.clone())
            .metadata(metadata)
            .success_url(format!("{back}&checkout=success"))
            .cancel_url(format!("{back}&checkout=cancel"))
            .expires_at(request.expires_at)
            .customize()
            .request_strategy(idempotent(&format!("checkout-{}", request.reservation_id))?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        let url = session
            .url
            .ok_or_else(|| ApiError::Payment("Stripe returned a session without a URL".into()))?;
        Ok(CheckoutSession {
            id: session.id.to_string(),
            url,
        })
    }

    /// Ends a session so it can no longer be paid. Stripe refuses to expire a session that is
    /// not open; then its status says whether the shopper completed it.
    pub async fn end_checkout(&self, session_id: &str) -> Result<SessionEnd> {
        let expired = ExpireCheckoutSession::new(session_id)
            .send(&self.client)
            .await;
        if expired.is_ok() {
            return Ok(SessionEnd::Expired);
        }
        let session = RetrieveCheckoutSession::new(session_id)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        match session.status {
            Some(CheckoutSessionStatus::Complete) => Ok(SessionEnd::Completed),
            Some(CheckoutSessionStatus::Expired) => Ok(SessionEnd::Expired),
            _ => Err(provider_error(expired.expect_err("expire failed above"))),
        }
    }

    /// Refunds a session's payment in full, idempotently per session.
    pub async fn refund(&self, session_id: &str, payment_intent: &str) -> Result<String> {
        let refund = CreateRefund::new()
            .payment_intent(payment_intent)
            .customize()
            .request_strategy(idempotent(&format!("refund-{session_id}"))?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        Ok(refund.id.to_string())
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|err| ApiError::Payment(format!("idempotency key: {err:?}")))
}

fn provider_error(err: StripeError) -> ApiError {
    ApiError::Payment(err.to_string())
}
