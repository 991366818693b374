//! A local stand-in for the part of Stripe Burst uses, form-encoded as Stripe is:
//!
//! - `POST /v1/checkout/sessions` (honours `Idempotency-Key`), `GET /v1/checkout/sessions/{id}`,
//!   `POST /v1/checkout/sessions/{id}/expire` (only `open` sessions, as Stripe);
//! - `POST /v1/refunds` (honours `Idempotency-Key`);
//! - a hosted checkout page `GET /pay/{id}` whose buttons complete the session (card, or a
//!   delayed method settled later) or cancel, and which sends correctly signed
//!   `checkout.session.*` events to the configured webhook URL.
//!
//! Tests drive the same state in-process (`complete`, `event`, `refunds`) and deliver events to
//! the webhook handler themselves.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where hosted-page events are POSTed (`None`: tests deliver events themselves).
    pub webhook_url: Option<String>,
    pub webhook_secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMethod {
    /// Paid at once: `completed` with `payment_status: paid`.
    Card,
    /// A delayed method (bank debit): `completed` with `unpaid`, settled later.
    Delayed,
}

#[derive(Clone)]
pub struct Emulator {
    config: EmulatorConfig,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    base_url: String,
    sessions: HashMap<String, Value>,
    idempotent: HashMap<String, Value>,
    refunds: Vec<Value>,
    sessions_created: usize,
}

impl Emulator {
    pub fn new(config: EmulatorConfig) -> Self {
        Self {
            config,
            state: Arc::default(),
        }
    }

    /// Serves on 127.0.0.1:`port` (0 for any free port) and returns the address.
    pub async fn serve(&self, port: u16) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        self.lock().base_url = format!("http://{address}");
        let emulator = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let emulator = emulator.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let emulator = emulator.clone();
                        async move { Ok::<_, Infallible>(emulator.route(request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(address)
    }

    pub fn base_url(&self) -> String {
        self.lock().base_url.clone()
    }

    pub fn session(&self, id: &str) -> Option<Value> {
        self.lock().sessions.get(id).cloned()
    }

    /// How many sessions were really created (idempotent replays not counted).
    pub fn sessions_created(&self) -> usize {
        self.lock().sessions_created
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.lock().refunds.clone()
    }

    /// The shopper finishes checkout; returns the `checkout.session.completed` event. With
    /// `amount_total`, the session reports a different amount (a tampered or misconfigured
    /// payment).
    pub fn complete(
        &self,
        session_id: &str,
        method: PaymentMethod,
        amount_total: Option<i64>,
    ) -> Option<Value> {
        let mut state = self.lock();
        let session = state.sessions.get_mut(session_id)?;
        if session["status"] != "open" {
            return None;
        }
        session["status"] = json!("complete");
        session["payment_status"] = json!(match method {
            PaymentMethod::Card => "paid",
            PaymentMethod::Delayed => "unpaid",
        });
        session["payment_intent"] = json!(format!("pi_{}", uuid::Uuid::new_v4().simple()));
        if let Some(amount) = amount_total {
            session["amount_total"] = json!(amount);
        }
        Some(event("checkout.session.completed", session))
    }

    /// A delayed payment's outcome; returns the `async_payment_succeeded` / `_failed` event.
    pub fn settle_delayed(&self, session_id: &str, succeeded: bool) -> Option<Value> {
        let mut state = self.lock();
        let session = state.sessions.get_mut(session_id)?;
        if session["payment_status"] != "unpaid" || session["status"] != "complete" {
            return None;
        }
        let kind = if succeeded {
            session["payment_status"] = json!("paid");
            "checkout.session.async_payment_succeeded"
        } else {
            "checkout.session.async_payment_failed"
        };
        Some(event(kind, session))
    }

    /// An event of `kind` for the session as it is now.
    pub fn event(&self, kind: &str, session_id: &str) -> Option<Value> {
        self.lock()
            .sessions
            .get(session_id)
            .map(|session| event(kind, session))
    }

    /// `Stripe-Signature` for `payload` at `timestamp`, as Stripe signs.
    pub fn sign(&self, payload: &str, timestamp: i64) -> String {
        burst::payments::signature::sign(&self.config.webhook_secret, timestamp, payload.as_bytes())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("emulator state poisoned")
    }

    async fn route(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let idempotency_key = request
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            (Method::POST, ["v1", "checkout", "sessions"]) => {
                self.idempotent(idempotency_key, |emulator| emulator.create_session(&form))
            }
            (Method::GET, ["v1", "checkout", "sessions", id]) => match self.session(id) {
                Some(session) => json_response(StatusCode::OK, &session),
                None => stripe_error(
                    StatusCode::NOT_FOUND,
                    &format!("No such checkout.session: '{id}'"),
                ),
            },
            (Method::POST, ["v1", "checkout", "sessions", id, "expire"]) => self.expire(id),
            (Method::POST, ["v1", "refunds"]) => {
                self.idempotent(idempotency_key, |emulator| emulator.create_refund(&form))
            }
            (Method::GET, ["pay", id]) => self.hosted_page(id),
            (Method::POST, ["pay", id, action]) => self.hosted_action(id, action).await,
            _ => stripe_error(
                StatusCode::NOT_FOUND,
                &format!("Unrecognized request URL ({path})"),
            ),
        }
    }

    /// Replays the first answer for a repeated `Idempotency-Key`, as Stripe does.
    fn idempotent(
        &self,
        key: Option<String>,
        create: impl FnOnce(&Self) -> Result<Value, Refusal>,
    ) -> Response<Full<Bytes>> {
        if let Some(previous) = key
            .as_ref()
            .and_then(|key| self.lock().idempotent.get(key).cloned())
        {
            return json_response(StatusCode::OK, &previous);
        }
        match create(self) {
            Ok(created) => {
                if let Some(key) = key {
                    self.lock().idempotent.insert(key, created.clone());
                }
                json_response(StatusCode::OK, &created)
            }
            Err(Refusal(status, message)) => stripe_error(status, &message),
        }
    }

    fn create_session(&self, form: &[(String, String)]) -> Result<Value, Refusal> {
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let number = |name: &str| field(name).and_then(|v| v.parse::<i64>().ok());
        let now = chrono::Utc::now().timestamp();
        let expires_at = number("expires_at").unwrap_or(now + 24 * 3600);
        if expires_at < now + 30 * 60 || expires_at > now + 24 * 3600 {
            return Err(Refusal(
                StatusCode::BAD_REQUEST,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.".into(),
            ));
        }
        let (Some(unit_amount), Some(currency)) = (
            number("line_items[0][price_data][unit_amount]"),
            field("line_items[0][price_data][currency]"),
        ) else {
            return Err(Refusal(
                StatusCode::BAD_REQUEST,
                "Missing required param: line_items.".into(),
            ));
        };
        let quantity = number("line_items[0][quantity]").unwrap_or(1);
        let metadata: serde_json::Map<String, Value> = form
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
                Some((key.to_string(), json!(v)))
            })
            .collect();
        let id = format!("cs_test_{}", uuid::Uuid::new_v4().simple());
        let mut state = self.lock();
        let session = json!({
            "id": id,
            "object": "checkout.session",
            "amount_subtotal": unit_amount * quantity,
            "amount_total": unit_amount * quantity,
            "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
            "cancel_url": field("cancel_url"),
            "client_reference_id": field("client_reference_id"),
            "created": now,
            "currency": currency,
            "custom_fields": [],
            "custom_text": { "after_submit": null, "shipping_address": null, "submit": null,
                             "terms_of_service_acceptance": null },
            "expires_at": expires_at,
            "livemode": false,
            "metadata": metadata,
            "mode": field("mode").unwrap_or_else(|| "payment".into()),
            "payment_intent": null,
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "shipping_options": [],
            "status": "open",
            "success_url": field("success_url"),
            "url": format!("{}/pay/{id}", state.base_url),
            "x_product_name": field("line_items[0][price_data][product_data][name]"),
            "x_quantity": quantity,
        });
        state.sessions.insert(id, session.clone());
        state.sessions_created += 1;
        Ok(session)
    }

    fn expire(&self, id: &str) -> Response<Full<Bytes>> {
        let expired = {
            let mut state = self.lock();
            let Some(session) = state.sessions.get_mut(id) else {
                return stripe_error(
                    StatusCode::NOT_FOUND,
                    &format!("No such checkout.session: '{id}'"),
                );
            };
            if session["status"] != "open" {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "Only Checkout Sessions with a status of `open` can be expired; this one is `{}`.",
                        session["status"].as_str().unwrap_or("")
                    ),
                );
            }
            session["status"] = json!("expired");
            session.clone()
        };
        self.deliver(event("checkout.session.expired", &expired));
        json_response(StatusCode::OK, &expired)
    }

    fn create_refund(&self, form: &[(String, String)]) -> Result<Value, Refusal> {
        let Some(payment_intent) = form
            .iter()
            .find(|(k, _)| k == "payment_intent")
            .map(|(_, v)| v.clone())
        else {
            return Err(Refusal(
                StatusCode::BAD_REQUEST,
                "Missing required param: payment_intent.".into(),
            ));
        };
        let mut state = self.lock();
        let Some((amount, currency)) = state
            .sessions
            .values()
            .find(|s| s["payment_intent"] == payment_intent.as_str())
            .map(|s| (s["amount_total"].clone(), s["currency"].clone()))
        else {
            return Err(Refusal(
                StatusCode::NOT_FOUND,
                format!("No such payment_intent: '{payment_intent}'"),
            ));
        };
        let refund = json!({
            "id": format!("re_{}", uuid::Uuid::new_v4().simple()),
            "object": "refund",
            "amount": amount,
            "created": chrono::Utc::now().timestamp(),
            "currency": currency,
            "metadata": {},
            "payment_intent": payment_intent,
            "status": "succeeded",
        });
        state.refunds.push(refund.clone());
        Ok(refund)
    }

    fn hosted_page(&self, id: &str) -> Response<Full<Bytes>> {
        let Some(session) = self.session(id) else {
            return html(
                StatusCode::NOT_FOUND,
                "<h1>No such checkout session</h1>".into(),
            );
        };
        let amount = session["amount_total"].as_i64().unwrap_or(0) as f64 / 100.0;
        let currency = session["currency"].as_str().unwrap_or("").to_uppercase();
        let name = session["x_product_name"].as_str().unwrap_or("Burst drop");
        let status = session["status"].as_str().unwrap_or("");
        let actions = if status == "open" {
            format!(
                r#"<form method="post" action="/pay/{id}/card"><button class="pay">Pay {amount:.2} {currency}</button></form>
<form method="post" action="/pay/{id}/delayed"><button>Pay by bank debit (settles in 5 s)</button></form>
<form method="post" action="/pay/{id}/cancel"><button class="ghost">Cancel</button></form>"#
            )
        } else {
            format!("<p>This checkout session is <b>{status}</b>.</p>")
        };
        html(
            StatusCode::OK,
            format!(
                r#"<!doctype html><html><head><meta charset="utf-8"><title>Checkout — Stripe emulator</title>
<style>body{{background:#0b0c10;color:#eef0f6;font:16px system-ui;display:grid;place-items:center;min-height:100vh;margin:0}}
.card{{background:#151823;border:1px solid #262b3b;border-radius:16px;padding:32px;width:380px}}
small{{color:#8a90a6}} h1{{font-size:22px}} .amount{{font-size:34px;font-weight:800;margin:8px 0 20px}}
button{{width:100%;padding:13px;margin:6px 0;border-radius:10px;border:1px solid #262b3b;background:#1e2230;color:#eef0f6;font:inherit;font-weight:700;cursor:pointer}}
.pay{{background:#635bff;border-color:#635bff}} .ghost{{background:transparent}}</style></head>
<body><div class="card"><small>TEST MODE · local Stripe emulator</small><h1>{name}</h1>
<div class="amount">{amount:.2} {currency}</div>{actions}</div></body></html>"#
            ),
        )
    }

    async fn hosted_action(&self, id: &str, action: &str) -> Response<Full<Bytes>> {
        let Some(session) = self.session(id) else {
            return html(
                StatusCode::NOT_FOUND,
                "<h1>No such checkout session</h1>".into(),
            );
        };
        let back = |key: &str| session[key].as_str().unwrap_or("/").to_string();
        match action {
            "card" | "delayed" => {
                let method = if action == "card" {
                    PaymentMethod::Card
                } else {
                    PaymentMethod::Delayed
                };
                if let Some(completed) = self.complete(id, method, None) {
                    self.deliver(completed);
                }
                if method == PaymentMethod::Delayed {
                    let emulator = self.clone();
                    let id = id.to_string();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                        if let Some(settled) = emulator.settle_delayed(&id, true) {
                            emulator.deliver(settled);
                        }
                    });
                }
                redirect(&back("success_url"))
            }
            _ => redirect(&back("cancel_url")),
        }
    }

    /// Sends a signed event to the webhook URL, retrying a few times as Stripe would.
    fn deliver(&self, event: Value) {
        let Some(url) = self.config.webhook_url.clone() else {
            return;
        };
        let emulator = self.clone();
        tokio::spawn(async move {
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            let payload = event.to_string();
            for attempt in 1..=5u64 {
                let signature = emulator.sign(&payload, chrono::Utc::now().timestamp());
                let request = Request::post(&url)
                    .header("content-type", "application/json")
                    .header("stripe-signature", signature)
                    .body(Full::new(Bytes::from(payload.clone())))
                    .expect("valid request");
                match client.request(request).await {
                    Ok(response) if response.status().is_success() => {
                        tracing::info!(event_type = %event["type"], "webhook delivered");
                        return;
                    }
                    Ok(response) => {
                        tracing::warn!(status = %response.status(), attempt, "webhook refused")
                    }
                    Err(error) => tracing::warn!(%error, attempt, "webhook not delivered"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(attempt * 2)).await;
            }
        });
    }
}

/// A request Stripe refuses, with its status and message.
struct Refusal(StatusCode, String);

fn event(kind: &str, session: &Value) -> Value {
    json!({
        "id": format!("evt_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": chrono::Utc::now().timestamp(),
        "livemode": false,
        "pending_webhooks": 1,
        "type": kind,
        "data": { "object": session },
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

fn stripe_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json_response(
        status,
        &json!({ "error": { "type": "invalid_request_error", "message": message } }),
    )
}

fn html(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

fn redirect(location: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", location)
        .body(Full::new(Bytes::new()))
        .expect("valid response")
}
