//! One handler per API route: parse the request, call one domain function, map the result to
//! HTTP. Who may call a route is the handler's second argument (`Shopper`, `Admin`), taken from
//! the request before the handler runs; public routes take none.
//!
//! `ROUTES` declares every route once: its key, the function (`functions/<name>`) that serves it
//! and its handler. `tests/routes.rs` checks the table against the `cargo lambda watch` router,
//! `template.yaml`, `docs/openapi.yaml`, `events/` and each function's `main.rs`; the test
//! harness dispatches by it. A function binary names its one handler directly
//! (`burst::http::run(burst::api::claim)`), so it links that handler alone, never the table.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

use crate::app::App;
use crate::auth::{Admin, Shopper};
use crate::domain::{audit, checkout, claims, drops, orders, queue, reservations, webhooks};
use crate::error::ApiError;
use crate::http::{
    HandlerResult, immutable_json_response, immutable_response, is_public, json_body,
    json_response, path_param, public_json_response, respond, revalidated_response,
};
use crate::metrics::{self, Metric};

/// One HTTP route of the API.
pub struct Route {
    pub method: &'static str,
    /// The path template, as API Gateway writes it (`/drops/{drop_id}`).
    pub path: &'static str,
    /// `functions/<function>`, the Lambda function that serves the route.
    pub function: &'static str,
    /// The handler's name in this module: the function's `main.rs` runs
    /// `burst::http::run(burst::api::<handler>)`.
    pub handler: &'static str,
    /// The handler takes no caller (`Shopper`, `Admin`): anybody may call the route, so API
    /// Gateway must not require a token for it either.
    pub public: bool,
    /// The handler, answering errors as JSON: for in-process callers (tests, benchmarks).
    pub respond: Responder,
}

/// A handler wrapped to answer every request, errors as JSON.
pub type Responder = fn(Arc<App>, Request) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

impl Route {
    /// `METHOD /path`, as API Gateway writes a route key.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The route a route key names.
    pub fn find(key: &str) -> Option<&'static Route> {
        let (method, path) = key.split_once(' ')?;
        ROUTES
            .iter()
            .find(|route| route.method == method && route.path == path)
    }
}

macro_rules! routes {
    ($($method:literal $path:literal => $function:literal, $handler:ident;)*) => {
        /// Every HTTP route, declared once.
        pub static ROUTES: &[Route] = &[$(Route {
            method: $method,
            path: $path,
            function: $function,
            handler: stringify!($handler),
            public: is_public($handler),
            respond: |app, request| Box::pin(respond(app, request, $handler)),
        },)*];
    };
}

routes! {
    "POST" "/admin/drops" => "create-drop", create_drop;
    "PATCH" "/admin/drops/{drop_id}" => "patch-drop", patch_drop;
    "POST" "/admin/drops/{drop_id}/pause" => "pause-drop", pause_drop;
    "POST" "/admin/drops/{drop_id}/resume" => "resume-drop", resume_drop;
    "GET" "/admin/drops/{drop_id}/events" => "drop-events", drop_events;
    "GET" "/admin/drops/{drop_id}/audit" => "audit-drop", audit_drop;
    "GET" "/drops" => "list-drops", list_drops;
    "GET" "/drops/{drop_id}" => "get-drop", get_drop;
    "POST" "/drops/{drop_id}/claims" => "claim", claim;
    "POST" "/drops/{drop_id}/queue" => "join-queue", join_queue;
    "GET" "/drops/{drop_id}/queue" => "queue-status", queue_status;
    "GET" "/drops/{drop_id}/queue/me" => "my-ticket", my_ticket;
    "GET" "/drops/{drop_id}/queue/proof" => "queue-proof", queue_proof;
    "GET" "/drops/{drop_id}/queue/proof/{page}" => "queue-proof-page", queue_proof_page;
    "GET" "/drops/{drop_id}/challenge" => "pow-challenge", pow_challenge;
    "GET" "/drops/{drop_id}/integrity" => "drop-integrity", drop_integrity;
    "GET" "/reservations/{reservation_id}" => "get-reservation", get_reservation;
    "DELETE" "/reservations/{reservation_id}" => "release-reservation", release_reservation;
    "POST" "/reservations/{reservation_id}/checkout" => "checkout", checkout;
    "POST" "/webhooks/stripe" => "stripe-webhook", stripe_webhook;
    "GET" "/orders/{order_id}" => "get-order", get_order;
    "GET" "/me/orders" => "list-orders", list_orders;
}

/// `POST /admin/drops`
pub async fn create_drop(app: Arc<App>, admin: Admin, request: Request) -> HandlerResult {
    let body =
        json_body(&request)?.ok_or_else(|| ApiError::invalid_body("a JSON body is required"))?;
    let drop = drops::create_drop(&app, &admin.subject, body, Utc::now()).await?;
    Ok(json_response(StatusCode::CREATED, &drop))
}

/// `PATCH /admin/drops/{drop_id}`
pub async fn patch_drop(app: Arc<App>, admin: Admin, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let body =
        json_body(&request)?.ok_or_else(|| ApiError::invalid_body("a JSON body is required"))?;
    let drop = drops::patch_drop(&app, &admin.subject, &drop_id, body, Utc::now()).await?;
    Ok(json_response(StatusCode::OK, &drop))
}

/// `POST /admin/drops/{drop_id}/pause`
pub async fn pause_drop(app: Arc<App>, admin: Admin, request: Request) -> HandlerResult {
    set_paused(app, admin, request, true).await
}

/// `POST /admin/drops/{drop_id}/resume`
pub async fn resume_drop(app: Arc<App>, admin: Admin, request: Request) -> HandlerResult {
    set_paused(app, admin, request, false).await
}

async fn set_paused(app: Arc<App>, admin: Admin, request: Request, paused: bool) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let drop = drops::set_paused(&app, &admin.subject, &drop_id, paused, Utc::now()).await?;
    Ok(json_response(StatusCode::OK, &drop))
}

/// `GET /admin/drops/{drop_id}/events`
pub async fn drop_events(app: Arc<App>, _: Admin, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let events = drops::admin_events(&app, &drop_id).await?;
    Ok(json_response(StatusCode::OK, &json!({ "events": events })))
}

/// `GET /admin/drops/{drop_id}/audit`
pub async fn audit_drop(app: Arc<App>, _: Admin, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let audit = audit::audit(&app, &drop_id, Utc::now()).await?;
    Ok(json_response(StatusCode::OK, &audit))
}

/// `GET /drops?limit=&cursor=`
pub async fn list_drops(app: Arc<App>, request: Request) -> HandlerResult {
    let query = request.query_string_parameters_ref();
    let param = |name| query.and_then(|q| q.first(name));
    let page = drops::list_drops(&app, Utc::now(), param("limit"), param("cursor")).await?;
    Ok(public_json_response(&page))
}

/// `GET /drops/{drop_id}`
pub async fn get_drop(app: Arc<App>, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let drop = drops::get_drop(&app, &drop_id, Utc::now()).await?;
    Ok(public_json_response(&drop))
}

/// `POST /drops/{drop_id}/claims`
pub async fn claim(app: Arc<App>, shopper: Shopper, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let body = json_body(&request)?;
    let reservation = claims::claim(&app, shopper.requester(), &drop_id, body).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "reservation": reservation }),
    ))
}

/// `POST /drops/{drop_id}/queue`
pub async fn join_queue(app: Arc<App>, shopper: Shopper, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let body = json_body(&request)?;
    let (ticket, created) =
        queue::join(&app, shopper.requester(), &drop_id, body, Utc::now()).await?;
    if created {
        metrics::count(Metric::QueueJoins);
    }
    Ok(json_response(
        created_or_ok(created),
        &json!({ "ticket": ticket }),
    ))
}

/// `GET /drops/{drop_id}/queue` — the crowd's poll: cached at the edge for a second, with an
/// `ETag` so an unchanged document costs a `304`.
pub async fn queue_status(app: Arc<App>, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let status = queue::status(&app, &drop_id, Utc::now()).await?;
    Ok(revalidated_response(&request, &status))
}

/// `GET /drops/{drop_id}/queue/me`
pub async fn my_ticket(app: Arc<App>, shopper: Shopper, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let ticket = queue::my_ticket(&app, &shopper.subject, &drop_id, Utc::now()).await?;
    Ok(json_response(StatusCode::OK, &json!({ "ticket": ticket })))
}

/// `GET /drops/{drop_id}/queue/proof`
pub async fn queue_proof(app: Arc<App>, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let proof = queue::proof(&app, &drop_id, Utc::now()).await?;
    Ok(immutable_json_response(&request, &proof))
}

/// `GET /drops/{drop_id}/queue/proof/{page}`
pub async fn queue_proof_page(app: Arc<App>, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let name = path_param(&request, "page", "proof page")?;
    let page = queue::proof_page(&app, &drop_id, &name, Utc::now()).await?;
    Ok(immutable_response(
        &request,
        "text/plain; charset=utf-8",
        page.body,
        &page.sha256,
    ))
}

/// `GET /drops/{drop_id}/challenge`
pub async fn pow_challenge(app: Arc<App>, shopper: Shopper, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let challenge = queue::challenge(&app, shopper.requester(), &drop_id, Utc::now()).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "challenge": challenge }),
    ))
}

/// `GET /drops/{drop_id}/integrity`
pub async fn drop_integrity(app: Arc<App>, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let report = queue::integrity(&app, &drop_id, Utc::now()).await?;
    Ok(public_json_response(&report))
}

/// `GET /reservations/{reservation_id}`
pub async fn get_reservation(app: Arc<App>, shopper: Shopper, request: Request) -> HandlerResult {
    let id = path_param(&request, "reservation_id", "reservation")?;
    let reservation =
        reservations::get_reservation(&app, &shopper.subject, &id, Utc::now()).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "reservation": reservation }),
    ))
}

/// `DELETE /reservations/{reservation_id}`
pub async fn release_reservation(
    app: Arc<App>,
    shopper: Shopper,
    request: Request,
) -> HandlerResult {
    let id = path_param(&request, "reservation_id", "reservation")?;
    let reservation =
        reservations::release_by_owner(&app, &shopper.subject, &id, Utc::now()).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "reservation": reservation }),
    ))
}

/// `POST /reservations/{reservation_id}/checkout`
pub async fn checkout(app: Arc<App>, shopper: Shopper, request: Request) -> HandlerResult {
    let id = path_param(&request, "reservation_id", "reservation")?;
    let (session, created) =
        checkout::start_checkout(&app, &shopper.subject, &id, Utc::now()).await?;
    Ok(json_response(created_or_ok(created), &session))
}

/// `POST /webhooks/stripe` — no JWT: Stripe proves itself with the signature.
pub async fn stripe_webhook(app: Arc<App>, request: Request) -> HandlerResult {
    let signature = request
        .headers()
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok());
    let outcome =
        webhooks::handle_event(&app, signature, request.body().as_ref(), Utc::now()).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "received": true, "outcome": outcome.as_str() }),
    ))
}

/// `GET /orders/{order_id}`
pub async fn get_order(app: Arc<App>, shopper: Shopper, request: Request) -> HandlerResult {
    let id = path_param(&request, "order_id", "order")?;
    let order = orders::get_order(&app, &shopper.subject, &id).await?;
    Ok(json_response(StatusCode::OK, &json!({ "order": order })))
}

/// `GET /me/orders`
pub async fn list_orders(app: Arc<App>, shopper: Shopper, _: Request) -> HandlerResult {
    let orders = orders::list_orders(&app, &shopper.subject).await?;
    Ok(json_response(StatusCode::OK, &json!({ "orders": orders })))
}

/// `201 Created` when the call made the resource, `200 OK` when it was there already.
fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}
