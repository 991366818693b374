//! Reservations as their owner sees them: read one, give one back. How a hold ends is `holds`.

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::domain::holds::{EndHoldOutcome, end_hold};
use crate::error::{ApiError, Result};
use crate::model::reservation::{Reservation, ReservationStatus, ReservationView};
use crate::store::ledger::ReleaseGuard;

/// The shopper's own reservation; anybody else's reads as not found, so ids leak nothing.
pub async fn owned_reservation(
    app: &App,
    shopper: &str,
    reservation_id: &str,
) -> Result<Reservation> {
    app.store
        .reservation(reservation_id)
        .await?
        .filter(|reservation| reservation.shopper == shopper)
        .ok_or(ApiError::NotFound("reservation"))
}

pub async fn get_reservation(
    app: &App,
    shopper: &str,
    reservation_id: &str,
    now: DateTime<Utc>,
) -> Result<ReservationView> {
    Ok(owned_reservation(app, shopper, reservation_id)
        .await?
        .view(now))
}

/// `DELETE /reservations/{id}`: the owner gives a hold back. Idempotent: releasing a hold that
/// already ended answers its final state and returns nothing twice.
pub async fn release_by_owner(
    app: &App,
    shopper: &str,
    reservation_id: &str,
    now: DateTime<Utc>,
) -> Result<ReservationView> {
    let reservation = owned_reservation(app, shopper, reservation_id).await?;
    match reservation.status {
        ReservationStatus::Paid | ReservationStatus::PaymentPending => {
            return Err(ApiError::ReservationNotHeld {
                status: reservation.status.as_str(),
            });
        }
        ReservationStatus::Held => {
            let (status, guard) = if reservation.is_overdue(now) {
                (ReservationStatus::Expired, ReleaseGuard::Overdue)
            } else {
                (ReservationStatus::Released, ReleaseGuard::Anytime)
            };
            if end_hold(app, &reservation, status, guard, now).await?
                == EndHoldOutcome::PaymentInFlight
            {
                return Err(ApiError::ReservationNotHeld { status: "paying" });
            }
        }
        ReservationStatus::Expired | ReservationStatus::Released | ReservationStatus::Refunded => {}
    }
    Ok(owned_reservation(app, shopper, reservation_id)
        .await?
        .view(now))
}
