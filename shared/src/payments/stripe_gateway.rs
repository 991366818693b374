//! `PaymentGateway` on Stripe, through async-stripe: create / retrieve / expire Checkout
//! Sessions and create refunds. `STRIPE_API_BASE` points it at the local emulator.

use std::collections::HashMap;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    ExpireCheckoutSession, ProductData, RetrieveCheckoutSession,
};
use stripe_checkout::{CheckoutSessionMode, CheckoutSessionStatus};
use stripe_core::refund::CreateRefund;

use super::{
    CheckoutRequest, CheckoutSession, GatewayFuture, PaymentGateway, SessionEnd, StripeConfig,
};
use crate::error::{ApiError, PaymentError, Result};

pub struct StripeGateway {
    client: Client,
    return_url: String,
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

    /// The idempotency key is derived from the reservation: a retry (or a second checkout
    /// call) gets the same session back from Stripe.
    async fn create(&self, request: &CheckoutRequest) -> Result<CheckoutSession> {
        let currency = request
            .currency
            .to_ascii_lowercase()
            .parse::<stripe_types::Currency>()
            .map_err(|_| PaymentError::Invalid(format!("unknown currency {}", request.currency)))?;
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
        let url = session.url.ok_or_else(|| {
            PaymentError::Invalid("Stripe returned a session without a URL".into())
        })?;
        Ok(CheckoutSession {
            id: session.id.to_string(),
            url,
        })
    }

    /// Stripe refuses to expire a session that is not open; then its status says whether the
    /// shopper completed it.
    async fn end(&self, session_id: &str) -> Result<SessionEnd> {
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

    async fn refund_payment(&self, session_id: &str, payment_intent: &str) -> Result<String> {
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

impl PaymentGateway for StripeGateway {
    fn create_checkout<'a>(
        &'a self,
        request: &'a CheckoutRequest,
    ) -> GatewayFuture<'a, CheckoutSession> {
        Box::pin(self.create(request))
    }

    fn end_checkout<'a>(&'a self, session_id: &'a str) -> GatewayFuture<'a, SessionEnd> {
        Box::pin(self.end(session_id))
    }

    fn refund<'a>(
        &'a self,
        session_id: &'a str,
        payment_intent: &'a str,
    ) -> GatewayFuture<'a, String> {
        Box::pin(self.refund_payment(session_id, payment_intent))
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|err| PaymentError::Invalid(format!("idempotency key: {err:?}")).into())
}

fn provider_error(err: StripeError) -> ApiError {
    PaymentError::Transport(Box::new(err)).into()
}
