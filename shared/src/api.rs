//! One handler per API route: parse the request, call one domain function, map the result to
//! HTTP. Each `functions/<route>` binary runs exactly one of these.

use std::sync::Arc;

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde_json::json;

use crate::app::App;
use crate::auth::identify;
use crate::domain::{audit, checkout, claims, drops, orders, queue, reservations, webhooks};
use crate::error::ApiError;
use crate::http::{
    HandlerResult, json_body, json_response, path_param, public_json_response,
    revalidated_response, source_ip,
};
use crate::model::requester::Requester;

/// `POST /admin/drops`
pub async fn create_drop(app: Arc<App>, request: Request) -> HandlerResult {
    let admin = identify(&request, &app.config)?;
    admin.require_admin()?;
    let body =
        json_body(&request)?.ok_or_else(|| ApiError::invalid_body("a JSON body is required"))?;
    let drop = drops::create_drop(&app, &admin.subject, body, Utc::now()).await?;
    Ok(json_response(StatusCode::CREATED, &drop))
}

/// `PATCH /admin/drops/{drop_id}`
pub async fn patch_drop(app: Arc<App>, request: Request) -> HandlerResult {
    let admin = identify(&request, &app.config)?;
    admin.require_admin()?;
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let body =
        json_body(&request)?.ok_or_else(|| ApiError::invalid_body("a JSON body is required"))?;
    let drop = drops::patch_drop(&app, &admin.subject, &drop_id, body, Utc::now()).await?;
    Ok(json_response(StatusCode::OK, &drop))
}

/// `POST /admin/drops/{drop_id}/pause`
pub async fn pause_drop(app: Arc<App>, request: Request) -> HandlerResult {
    set_paused(app, request, true).await
}

/// `POST /admin/drops/{drop_id}/resume`
pub async fn resume_drop(app: Arc<App>, request: Request) -> HandlerResult {
    set_paused(app, request, false).await
}

async fn set_paused(app: Arc<App>, request: Request, paused: bool) -> HandlerResult {
    let admin = identify(&request, &app.config)?;
    admin.require_admin()?;
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let drop = drops::set_paused(&app, &admin.subject, &drop_id, paused, Utc::now()).await?;
    Ok(json_response(StatusCode::OK, &drop))
}

/// `GET /admin/drops/{drop_id}/events`
pub async fn drop_events(app: Arc<App>, request: Request) -> HandlerResult {
    identify(&request, &app.config)?.require_admin()?;
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let events = drops::admin_events(&app, &drop_id).await?;
    Ok(json_response(StatusCode::OK, &json!({ "events": events })))
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
pub async fn claim(app: Arc<App>, request: Request) -> HandlerResult {
    let shopper = identify(&request, &app.config)?;
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let body = json_body(&request)?;
    let requester = Requester {
        shopper: &shopper.subject,
        groups: &shopper.groups,
        source_ip: &source_ip(&request, &app.config),
    };
    let reservation = claims::claim(&app, requester, &drop_id, body).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "reservation": reservation }),
    ))
}

/// `GET /reservations/{reservation_id}`
pub async fn get_reservation(app: Arc<App>, request: Request) -> HandlerResult {
    let shopper = identify(&request, &app.config)?;
    let id = path_param(&request, "reservation_id", "reservation")?;
    let reservation =
        reservations::get_reservation(&app, &shopper.subject, &id, Utc::now()).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "reservation": reservation }),
    ))
}

/// `DELETE /reservations/{reservation_id}`
pub async fn release_reservation(app: Arc<App>, request: Request) -> HandlerResult {
    let shopper = identify(&request, &app.config)?;
    let id = path_param(&request, "reservation_id", "reservation")?;
    let reservation =
        reservations::release_by_owner(&app, &shopper.subject, &id, Utc::now()).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "reservation": reservation }),
    ))
}

/// `GET /admin/drops/{drop_id}/audit`
pub async fn audit_drop(app: Arc<App>, request: Request) -> HandlerResult {
    identify(&request, &app.config)?.require_admin()?;
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let audit = audit::audit(&app, &drop_id, Utc::now()).await?;
    Ok(json_response(StatusCode::OK, &audit))
}

/// `POST /reservations/{reservation_id}/checkout`
pub async fn checkout(app: Arc<App>, request: Request) -> HandlerResult {
    let shopper = identify(&request, &app.config)?;
    let id = path_param(&request, "reservation_id", "reservation")?;
    let (session, created) =
        checkout::start_checkout(&app, &shopper.subject, &id, Utc::now()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &session))
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
pub async fn get_order(app: Arc<App>, request: Request) -> HandlerResult {
    let shopper = identify(&request, &app.config)?;
    let id = path_param(&request, "order_id", "order")?;
    let order = orders::get_order(&app, &shopper.subject, &id).await?;
    Ok(json_response(StatusCode::OK, &json!({ "order": order })))
}

/// `GET /me/orders`
pub async fn list_orders(app: Arc<App>, request: Request) -> HandlerResult {
    let shopper = identify(&request, &app.config)?;
    let orders = orders::list_orders(&app, &shopper.subject).await?;
    Ok(json_response(StatusCode::OK, &json!({ "orders": orders })))
}

/// `POST /drops/{drop_id}/queue`
pub async fn join_queue(app: Arc<App>, request: Request) -> HandlerResult {
    let shopper = identify(&request, &app.config)?;
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let body = json_body(&request)?;
    let requester = Requester {
        shopper: &shopper.subject,
        groups: &shopper.groups,
        source_ip: &source_ip(&request, &app.config),
    };
    let (ticket, created) = queue::join(&app, requester, &drop_id, body, Utc::now()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &json!({ "ticket": ticket })))
}

/// `GET /drops/{drop_id}/queue/me`
pub async fn my_ticket(app: Arc<App>, request: Request) -> HandlerResult {
    let shopper = identify(&request, &app.config)?;
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let ticket = queue::my_ticket(&app, &shopper.subject, &drop_id, Utc::now()).await?;
    Ok(json_response(StatusCode::OK, &json!({ "ticket": ticket })))
}

/// `GET /drops/{drop_id}/queue` — the crowd's poll: cached at the edge for a second, with an
/// `ETag` so an unchanged document costs a `304`.
pub async fn queue_status(app: Arc<App>, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let status = queue::status(&app, &drop_id, Utc::now()).await?;
    Ok(revalidated_response(&request, &status))
}

/// `GET /drops/{drop_id}/queue/proof`
pub async fn queue_proof(app: Arc<App>, request: Request) -> HandlerResult {
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let proof = queue::proof(&app, &drop_id, Utc::now()).await?;
    Ok(revalidated_response(&request, &proof))
}

/// `GET /drops/{drop_id}/challenge`
pub async fn pow_challenge(app: Arc<App>, request: Request) -> HandlerResult {
    let shopper = identify(&request, &app.config)?;
    let drop_id = path_param(&request, "drop_id", "drop")?;
    let requester = Requester {
        shopper: &shopper.subject,
        groups: &shopper.groups,
        source_ip: &source_ip(&request, &app.config),
    };
    let challenge = queue::challenge(&app, requester, &drop_id, Utc::now()).await?;
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
