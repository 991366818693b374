//! A local stand-in for the part of Stripe Burst uses, form-encoded as Stripe is:
//!
//! - `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`,
//!   `POST /v1/checkout/sessions/{id}/expire` (only `open` sessions, as Stripe);
//! - `POST /v1/refunds`, which also sends `charge.refunded` as Stripe does;
//!
//! and it refuses what Stripe refuses, with Stripe's error envelope (`type`, `code`, `param`,
//! `message`): an `Idempotency-Key` reused with other parameters (400 `idempotency_error`) or
//! while its first request is still running (409 `idempotency_key_in_use`); a currency Stripe
//! does not present, an amount under its minimum or over eight digits; an `expires_at` under 30
//! minutes or 24 hours or more away; unknown sessions and payment intents; refunding a payment
//! twice; expiring a session that is not open. Validation refusals are not remembered under the
//! key (Stripe only saves results once a request starts executing), so a corrected retry works.
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

use burst::model::currency::{self, PriceProblem};
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
    /// How long each API request takes, so concurrent use of one idempotency key can be seen.
    pub latency: std::time::Duration,
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
    idempotent: HashMap<String, Keyed>,
    refunds: Vec<Value>,
    sessions_created: usize,
    refused: Vec<Value>,
    /// API requests still to be answered with a 500 (Stripe having a bad minute).
    failing_requests: u32,
    /// Sessions whose expire calls fail with a 500.
    failing_sessions: Vec<String>,
    api_requests: usize,
}

/// What an idempotency key is bound to: the request that first used it, and its answer once
/// there is one.
struct Keyed {
    request: String,
    answer: Option<(StatusCode, Value)>,
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

    /// The next `requests` API calls fail with a 500 `api_error`, as in a Stripe outage.
    pub fn fail_next_requests(&self, requests: u32) {
        self.lock().failing_requests = requests;
    }

    /// Every call to expire this session fails with a 500 (one hold Stripe cannot close).
    pub fn fail_session(&self, session_id: &str) {
        self.lock().failing_sessions.push(session_id.to_string());
    }

    /// How many API requests (not hosted pages) reached the emulator.
    pub fn api_requests(&self) -> usize {
        self.lock().api_requests
    }

    /// Every error this emulator answered (`{"status", "error"}`), oldest first.
    pub fn refusals(&self) -> Vec<Value> {
        self.lock().refused.clone()
    }

    /// A `charge.refunded` event for the payment, as a Dashboard refund of `amount_refunded`
    /// would send it (`refunded` once the whole amount is back).
    pub fn charge_refunded(&self, payment_intent: &str, amount_refunded: i64) -> Option<Value> {
        let state = self.lock();
        let session = state
            .sessions
            .values()
            .find(|s| s["payment_intent"] == payment_intent)?;
        Some(event(
            "charge.refunded",
            &charge_of(session, amount_refunded),
        ))
    }

    /// A `charge.dispute.*` event (`created`, `closed`) for the payment, with the dispute's status.
    pub fn dispute(&self, kind: &str, payment_intent: &str, status: &str) -> Option<Value> {
        let state = self.lock();
        let session = state
            .sessions
            .values()
            .find(|s| s["payment_intent"] == payment_intent)?;
        let dispute = json!({
            "id": format!("du_{}", uuid::Uuid::new_v4().simple()),
            "object": "dispute",
            "amount": session["amount_total"],
            "currency": session["currency"],
            "charge": format!("ch_{}", payment_intent.trim_start_matches("pi_")),
            "payment_intent": payment_intent,
            "reason": "fraudulent",
            "status": status,
        });
        Some(event(&format!("charge.dispute.{kind}"), &dispute))
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
        if segments.first() == Some(&"v1") {
            let mut state = self.lock();
            state.api_requests += 1;
            let failing_session = matches!(segments.as_slice(), ["v1", "checkout", "sessions", id, "expire"]
                if state.failing_sessions.iter().any(|failing| failing == id));
            if state.failing_requests > 0 || failing_session {
                state.failing_requests = state.failing_requests.saturating_sub(1);
                let outage = json!({ "error": { "type": "api_error",
                    "message": "An unknown error occurred (emulated outage)." } });
                state
                    .refused
                    .push(json!({ "status": 500, "error": outage["error"] }));
                return json_response(StatusCode::INTERNAL_SERVER_ERROR, &outage);
            }
        }
        let (status, answer) = match (method.clone(), segments.as_slice()) {
            (Method::POST, ["v1", "checkout", "sessions"]) => {
                self.idempotent(idempotency_key, &method, &path, &form, |emulator| {
                    emulator.create_session(&form)
                })
                .await
            }
            (Method::GET, ["v1", "checkout", "sessions", id]) => match self.session(id) {
                Some(session) => (StatusCode::OK, session),
                None => Refusal::missing("checkout.session", id, "id").answer(),
            },
            (Method::POST, ["v1", "checkout", "sessions", id, "expire"]) => {
                self.idempotent(idempotency_key, &method, &path, &form, |emulator| {
                    emulator.expire(id)
                })
                .await
            }
            (Method::POST, ["v1", "refunds"]) => {
                self.idempotent(idempotency_key, &method, &path, &form, |emulator| {
                    emulator.create_refund(&form)
                })
                .await
            }
            (Method::GET, ["pay", id]) => return self.hosted_page(id),
            (Method::POST, ["pay", id, action]) => return self.hosted_action(id, action).await,
            _ => Refusal::new(
                StatusCode::NOT_FOUND,
                None,
                None,
                format!("Unrecognized request URL ({method}: {path})."),
            )
            .answer(),
        };
        if !status.is_success() {
            self.lock()
                .refused
                .push(json!({ "status": status.as_u16(), "error": answer["error"] }));
        }
        json_response(status, &answer)
    }

    /// Stripe's idempotency: the first request under a key runs and its answer is replayed for
    /// every later one with the same parameters; other parameters are refused (400
    /// `idempotency_error`), and so is a second request while the first is still running (409).
    /// A request refused by validation is not remembered, so it can be corrected and retried.
    async fn idempotent(
        &self,
        key: Option<String>,
        method: &Method,
        path: &str,
        form: &[(String, String)],
        run: impl FnOnce(&Self) -> Result<Value, Refusal>,
    ) -> (StatusCode, Value) {
        let Some(key) = key else {
            tokio::time::sleep(self.config.latency).await;
            return run(self).map_or_else(Refusal::answer, |created| (StatusCode::OK, created));
        };
        let mut pairs: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.sort();
        let request = format!("{method} {path}?{}", pairs.join("&"));
        {
            let mut state = self.lock();
            match state.idempotent.get(&key) {
                Some(keyed) if keyed.request != request => {
                    return Refusal::new(
                        StatusCode::BAD_REQUEST,
                        None,
                        None,
                        format!(
                            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                        ),
                    )
                    .of_type("idempotency_error")
                    .answer();
                }
                Some(Keyed {
                    answer: Some(answer),
                    ..
                }) => return answer.clone(),
                Some(Keyed { answer: None, .. }) => {
                    return Refusal::new(
                        StatusCode::CONFLICT,
                        Some("idempotency_key_in_use"),
                        None,
                        format!(
                            "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later."
                        ),
                    )
                    .answer();
                }
                None => {
                    state.idempotent.insert(
                        key.clone(),
                        Keyed {
                            request,
                            answer: None,
                        },
                    );
                }
            }
        }
        tokio::time::sleep(self.config.latency).await;
        let answer = run(self);
        let mut state = self.lock();
        match answer {
            Ok(created) => {
                let answer = (StatusCode::OK, created);
                if let Some(keyed) = state.idempotent.get_mut(&key) {
                    keyed.answer = Some(answer.clone());
                }
                answer
            }
            Err(refusal) => {
                state.idempotent.remove(&key);
                refusal.answer()
            }
        }
    }

    fn create_session(&self, form: &[(String, String)]) -> Result<Value, Refusal> {
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let number = |name: &str| field(name).and_then(|v| v.parse::<i64>().ok());
        let now = chrono::Utc::now().timestamp();
        let expires_at = number("expires_at").unwrap_or(now + 24 * 3600 - 1);
        if expires_at < now + 30 * 60 {
            return Err(Refusal::param(
                "expires_at",
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
            ));
        }
        if expires_at >= now + 24 * 3600 {
            return Err(Refusal::param(
                "expires_at",
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            ));
        }
        let (Some(unit_amount), Some(currency)) = (
            number("line_items[0][price_data][unit_amount]"),
            field("line_items[0][price_data][currency]"),
        ) else {
            return Err(Refusal::param(
                "line_items",
                "Missing required param: line_items.",
            ));
        };
        if !currency::is_supported(&currency) || currency != currency.to_ascii_lowercase() {
            return Err(Refusal::param(
                "line_items[0][price_data][currency]",
                &format!("Invalid currency: {currency}."),
            ));
        }
        let quantity = number("line_items[0][quantity]").unwrap_or(1);
        if unit_amount < 0 || !(1..=999).contains(&quantity) {
            return Err(Refusal::param(
                "line_items[0][quantity]",
                "Invalid integer: quantity and unit_amount must be positive.",
            ));
        }
        let total = unit_amount.saturating_mul(quantity);
        match currency::check_price(&currency, total, 1) {
            Err(PriceProblem::TooSmall { minimum }) => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    Some("amount_too_small"),
                    None,
                    format!(
                        "The Checkout Session's total amount due must add up to at least {minimum} {currency} (minor units)"
                    ),
                ));
            }
            Err(PriceProblem::TooLarge { maximum }) => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    Some("amount_too_large"),
                    None,
                    format!("Amount must be no more than {maximum} {currency} (minor units)"),
                ));
            }
            Err(PriceProblem::NotWholeUnits) => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    Some("invalid_charge_amount_no_decimal_compatible"),
                    None,
                    format!("Invalid amount. Currency {currency} is charged in whole units."),
                ));
            }
            Err(PriceProblem::UnsupportedCurrency) | Ok(()) => {}
        }
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

    fn expire(&self, id: &str) -> Result<Value, Refusal> {
        let expired = {
            let mut state = self.lock();
            let Some(session) = state.sessions.get_mut(id) else {
                return Err(Refusal::missing("checkout.session", id, "session"));
            };
            if session["status"] != "open" {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    None,
                    None,
                    format!(
                        "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `{}`.",
                        session["status"].as_str().unwrap_or("")
                    ),
                ));
            }
            session["status"] = json!("expired");
            session.clone()
        };
        self.deliver(event("checkout.session.expired", &expired));
        Ok(expired)
    }

    fn create_refund(&self, form: &[(String, String)]) -> Result<Value, Refusal> {
        let Some(payment_intent) = form
            .iter()
            .find(|(k, _)| k == "payment_intent")
            .map(|(_, v)| v.clone())
        else {
            return Err(Refusal::param(
                "payment_intent",
                "Missing required param: payment_intent.",
            ));
        };
        let (refund, charge) = {
            let mut state = self.lock();
            let Some(session) = state
                .sessions
                .values()
                .find(|s| s["payment_intent"] == payment_intent.as_str())
                .cloned()
            else {
                return Err(Refusal::missing(
                    "payment_intent",
                    &payment_intent,
                    "payment_intent",
                ));
            };
            if state
                .refunds
                .iter()
                .any(|r| r["payment_intent"] == payment_intent.as_str())
            {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    Some("charge_already_refunded"),
                    None,
                    format!(
                        "Charge ch_{} has already been refunded.",
                        payment_intent.trim_start_matches("pi_")
                    ),
                ));
            }
            let refund = json!({
                "id": format!("re_{}", uuid::Uuid::new_v4().simple()),
                "object": "refund",
                "amount": session["amount_total"],
                "charge": format!("ch_{}", payment_intent.trim_start_matches("pi_")),
                "created": chrono::Utc::now().timestamp(),
                "currency": session["currency"],
                "metadata": {},
                "payment_intent": payment_intent,
                "status": "succeeded",
            });
            state.refunds.push(refund.clone());
            let amount = session["amount_total"].as_i64().unwrap_or(0);
            (refund, charge_of(&session, amount))
        };
        self.deliver(event("charge.refunded", &charge));
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

/// A request Stripe refuses: its status and the `error` object Stripe would send.
struct Refusal {
    status: StatusCode,
    error: serde_json::Map<String, Value>,
}

impl Refusal {
    fn new(status: StatusCode, code: Option<&str>, param: Option<&str>, message: String) -> Self {
        let mut error = serde_json::Map::new();
        error.insert("type".into(), json!("invalid_request_error"));
        if let Some(code) = code {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        if let Some(param) = param {
            error.insert("param".into(), json!(param));
        }
        error.insert("message".into(), json!(message));
        Self { status, error }
    }

    /// A parameter Stripe's validation refuses.
    fn param(param: &str, message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, None, Some(param), message.into())
    }

    /// An object that does not exist.
    fn missing(object: &str, id: &str, param: &str) -> Self {
        let status = if param == "payment_intent" {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::NOT_FOUND
        };
        Self::new(
            status,
            Some("resource_missing"),
            Some(param),
            format!("No such {object}: '{id}'"),
        )
    }

    fn of_type(mut self, kind: &str) -> Self {
        self.error.insert("type".into(), json!(kind));
        self
    }

    fn answer(self) -> (StatusCode, Value) {
        (self.status, json!({ "error": self.error }))
    }
}

/// The Charge behind a paid session, as a refund leaves it.
fn charge_of(session: &Value, amount_refunded: i64) -> Value {
    let payment_intent = session["payment_intent"].as_str().unwrap_or("pi_unknown");
    let amount = session["amount_total"].as_i64().unwrap_or(0);
    json!({
        "id": format!("ch_{}", payment_intent.trim_start_matches("pi_")),
        "object": "charge",
        "amount": amount,
        "amount_refunded": amount_refunded,
        "refunded": amount_refunded >= amount,
        "currency": session["currency"],
        "payment_intent": payment_intent,
        "status": "succeeded",
    })
}

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
