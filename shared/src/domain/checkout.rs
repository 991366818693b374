//! `POST /reservations/{id}/checkout`: a Stripe Checkout Session for a live hold, created once.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::app::App;
use crate::domain::reservations::owned_reservation;
use crate::error::{ApiError, Result};
use crate::model::reservation::ReservationStatus;
use crate::payments::CheckoutRequest;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckoutView {
    pub checkout_url: String,
    pub session_id: String,
}

/// The hold's Checkout Session, created on the first call (`true`) and returned as stored on
/// every later one. Stripe's idempotency key is derived from the reservation, so even two
/// racing first calls get one session.
pub async fn start_checkout(
    app: &App,
    shopper: &str,
    reservation_id: &str,
    now: DateTime<Utc>,
) -> Result<(CheckoutView, bool)> {
    let gateway = app.payments.as_ref().ok_or(ApiError::PaymentsUnavailable)?;
    let reservation = owned_reservation(app, shopper, reservation_id).await?;
    match reservation.effective_status(now) {
        ReservationStatus::Held => {}
        ReservationStatus::Expired | ReservationStatus::Released => {
            return Err(ApiError::ReservationExpired);
        }
        status @ (ReservationStatus::Paid
        | ReservationStatus::PaymentPending
        | ReservationStatus::Refunded) => {
            return Err(ApiError::ReservationNotHeld {
                status: status.as_str(),
            });
        }
    }
    if let (Some(session_id), Some(checkout_url)) =
        (&reservation.checkout_session_id, &reservation.checkout_url)
    {
        return Ok((
            CheckoutView {
                checkout_url: checkout_url.clone(),
                session_id: session_id.clone(),
            },
            false,
        ));
    }

    let drop = app
        .store
        .drop(&reservation.drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))?;
    let session = gateway
        .create_checkout(&CheckoutRequest {
            reservation_id: reservation.id.clone(),
            drop_id: drop.id.clone(),
            product_name: drop.name.clone(),
            unit_amount: reservation.price.amount,
            currency: reservation.price.currency.clone(),
            quantity: reservation.quantity,
            expires_at: reservation.checkout_expires_at,
        })
        .await?;
    let view = CheckoutView {
        checkout_url: session.url.clone(),
        session_id: session.id.clone(),
    };
    if app
        .store
        .save_checkout_session(&reservation.id, &session.id, &session.url)
        .await?
    {
        tracing::info!(reservation_id = %reservation.id, session_id = %session.id, "checkout session created");
        return Ok((view, true));
    }
    // Another call stored the session first (the same one, by the idempotency key), or the
    // hold ended meanwhile.
    let current = owned_reservation(app, shopper, reservation_id).await?;
    if current.checkout_session_id.as_deref() == Some(session.id.as_str()) {
        return Ok((view, false));
    }
    if let Err(error) = gateway.end_checkout(&session.id).await {
        tracing::warn!(session_id = %session.id, %error, "could not close the session of an ended hold");
    }
    Err(ApiError::ReservationExpired)
}
