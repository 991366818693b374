//! `PaymentGateway` on Stripe's REST API: four form-encoded calls (create, retrieve and expire a
//! Checkout Session; create a refund) over the hyper + rustls stack the AWS SDK already links.
//!
//! Why not async-stripe: its client decodes every Stripe error into `ApiErrors`, which embeds the
//! full `PaymentIntent`, `PaymentMethod` and `SetupIntent` types, so linking it pulled in the
//! generated `stripe_shared` object graph — 2.6 MiB of the webhook's 7.8 MiB of code (cargo
//! bloat), which doubled the Stripe functions. Burst reads a handful of fields; it parses just those.
//! `STRIPE_API_BASE` points the client at the local emulator.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::events::SessionObject;
use super::{
    CheckoutRequest, CheckoutSession, EndCheckoutOutcome, GatewayFuture, PaymentGateway,
    StripeConfig,
};
use crate::error::{PaymentError, Result};

const STRIPE_API: &str = "https://api.stripe.com";
/// The API version Burst's requests and parsing are written against.
const STRIPE_VERSION: &str = "2025-09-30.clover";
/// A request Stripe has not answered by then is retried by the caller (same idempotency key).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
/// Stripe answers 409 while another request with the same idempotency key is running.
const KEY_IN_USE_RETRIES: u32 = 3;

pub struct StripeGateway {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    api_base: String,
    authorization: HeaderValue,
    return_url: String,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: StripeErrorBody,
}

#[derive(Deserialize)]
struct StripeErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct CreatedSession {
    id: String,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Refund {
    id: String,
}

impl StripeGateway {
    pub fn new(config: &StripeConfig) -> Result<Self> {
        let connector = HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|err| PaymentError::Transport(Box::new(err)))?
            // http:// only ever reaches a local emulator named by STRIPE_API_BASE.
            .https_or_http()
            .enable_http1()
            .build();
        let authorization = HeaderValue::from_str(&format!("Bearer {}", config.secret_key))
            .map_err(|_| PaymentError::Invalid("the Stripe key is not a valid header".into()))?;
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            api_base: config
                .api_base
                .as_deref()
                .unwrap_or(STRIPE_API)
                .trim_end_matches('/')
                .to_string(),
            authorization,
            return_url: config.return_url.trim_end_matches('/').to_string(),
        })
    }

    /// The form Stripe receives for a hold's session: the same bytes on every call for the same
    /// reservation.
    fn checkout_form(&self, request: &CheckoutRequest) -> Vec<(&'static str, String)> {
        let back = format!(
            "{}/?reservation={}",
            self.return_url, request.reservation_id
        );
        vec![
            ("mode", "payment".into()),
            (
                "line_items[0][price_data][currency]",
                request.currency.to_ascii_lowercase(),
            ),
            (
                "line_items[0][price_data][unit_amount]",
                request.unit_amount.to_string(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                request.product_name.clone(),
            ),
            ("line_items[0][quantity]", request.quantity.to_string()),
            ("client_reference_id", request.reservation_id.clone()),
            ("metadata[reservation_id]", request.reservation_id.clone()),
            ("metadata[drop_id]", request.drop_id.clone()),
            ("success_url", format!("{back}&checkout=success")),
            ("cancel_url", format!("{back}&checkout=cancel")),
            ("expires_at", request.expires_at.to_string()),
        ]
    }

    async fn create(&self, request: &CheckoutRequest) -> Result<CheckoutSession> {
        let key = format!("checkout-{}", request.reservation_id);
        let session: CreatedSession = self
            .send(
                Method::POST,
                "/v1/checkout/sessions",
                &self.checkout_form(request),
                Some(&key),
            )
            .await?;
        let url = session.url.ok_or_else(|| {
            PaymentError::Invalid("Stripe returned a session without a URL".into())
        })?;
        Ok(CheckoutSession {
            id: session.id,
            url,
        })
    }

    /// Stripe refuses to expire a session that is not open; then its status says whether the
    /// shopper completed it.
    async fn end(&self, session_id: &str) -> Result<EndCheckoutOutcome> {
        let path = format!("/v1/checkout/sessions/{session_id}/expire");
        let expired = self
            .send::<SessionObject>(Method::POST, &path, &[], None)
            .await;
        if expired.is_ok() {
            return Ok(EndCheckoutOutcome::Expired);
        }
        let session = self.retrieve(session_id).await?;
        match session.status.as_deref() {
            Some("complete") => Ok(EndCheckoutOutcome::Completed),
            Some("expired") => Ok(EndCheckoutOutcome::Expired),
            _ => expired.map(|_| EndCheckoutOutcome::Expired),
        }
    }

    async fn retrieve(&self, session_id: &str) -> Result<SessionObject> {
        let path = format!("/v1/checkout/sessions/{session_id}");
        self.send(Method::GET, &path, &[], None).await
    }

    async fn refund_payment(&self, payment_intent: &str, key: &str) -> Result<String> {
        let refund: Refund = self
            .send(
                Method::POST,
                "/v1/refunds",
                &[("payment_intent", payment_intent.to_string())],
                Some(key),
            )
            .await?;
        Ok(refund.id)
    }

    /// One Stripe call; a 409 (the idempotency key still in use by an earlier try) is waited
    /// out a few times, since its result will be the one we want.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = Request::builder()
                .method(method.clone())
                .uri(format!("{}{path}", self.api_base))
                .header(AUTHORIZATION, self.authorization.clone())
                .header("stripe-version", STRIPE_VERSION);
            if method == Method::POST {
                request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
            }
            if let Some(key) = idempotency_key {
                request = request.header("idempotency-key", key);
            }
            let request = request
                .body(Full::new(Bytes::from(body.clone())))
                .map_err(|err| PaymentError::Invalid(err.to_string()))?;
            let response = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request))
                .await
                .map_err(|elapsed| PaymentError::Transport(Box::new(elapsed)))?
                .map_err(|err| PaymentError::Transport(Box::new(err)))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|err| PaymentError::Transport(Box::new(err)))?
                .to_bytes();
            if status.is_success() {
                return serde_json::from_slice(&bytes)
                    .map_err(|err| PaymentError::Decode(Box::new(err)).into());
            }
            if status == StatusCode::CONFLICT && attempt <= KEY_IN_USE_RETRIES {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                continue;
            }
            let error = serde_json::from_slice::<ErrorEnvelope>(&bytes)
                .map(|envelope| envelope.error)
                .unwrap_or(StripeErrorBody {
                    kind: "api_error".into(),
                    code: None,
                    message: Some(String::from_utf8_lossy(&bytes).into_owned()),
                });
            return Err(PaymentError::Refused {
                status: status.as_u16(),
                kind: error.kind,
                code: error.code.unwrap_or_default(),
                message: error.message.unwrap_or_default(),
            }
            .into());
        }
    }
}

impl PaymentGateway for StripeGateway {
    fn create_checkout<'a>(
        &'a self,
        request: &'a CheckoutRequest,
    ) -> GatewayFuture<'a, CheckoutSession> {
        Box::pin(self.create(request))
    }

    fn end_checkout<'a>(&'a self, session_id: &'a str) -> GatewayFuture<'a, EndCheckoutOutcome> {
        Box::pin(self.end(session_id))
    }

    fn retrieve_checkout<'a>(&'a self, session_id: &'a str) -> GatewayFuture<'a, SessionObject> {
        Box::pin(self.retrieve(session_id))
    }

    fn refund<'a>(
        &'a self,
        payment_intent: &'a str,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, String> {
        Box::pin(self.refund_payment(payment_intent, idempotency_key))
    }
}
