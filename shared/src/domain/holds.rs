//! Ending a hold: the one module that returns a hold's units, whoever ends it (its owner, an
//! expired or failed checkout, a claim finding the drop empty, the sweeper).

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::domain::retry::{Again, Retry};
use crate::error::{ApiError, Result};
use crate::model::reservation::{Reservation, ReservationStatus};
use crate::payments::SessionEnd;
use crate::store::ledger::{Commit, ReleaseGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldEnd {
    /// This call returned the units.
    Released,
    /// The hold had already ended; nothing was written.
    AlreadyEnded,
    /// The shopper completed Stripe Checkout first: the webhook settles it, not us.
    PaymentInFlight,
}

/// Ends a held reservation. A hold with a Checkout Session is first closed at Stripe, so that
/// nobody can pay for units that are going back; if the shopper already completed checkout the
/// hold is left for the webhook.
pub async fn end_hold(
    app: &App,
    reservation: &Reservation,
    to: ReservationStatus,
    guard: ReleaseGuard,
    now: DateTime<Utc>,
) -> Result<HoldEnd> {
    let mut current = reservation.clone();
    // A snapshot (say, from the hold index) may predate a checkout started since; the release
    // then refuses and the hold is read again, this time with its session.
    for _ in 0..3 {
        if current.status != ReservationStatus::Held {
            return Ok(HoldEnd::AlreadyEnded);
        }
        if let Some(session_id) = &current.checkout_session_id {
            let gateway = app.payments.as_ref().ok_or(ApiError::PaymentsUnavailable)?;
            if gateway.end_checkout(session_id).await? == SessionEnd::Completed {
                tracing::info!(reservation_id = %current.id, session_id, "checkout completed; hold left for the webhook");
                return Ok(HoldEnd::PaymentInFlight);
            }
        }
        if return_units(app, &current, ReservationStatus::Held, to, guard, now).await? {
            return Ok(HoldEnd::Released);
        }
        match app.store.reservation(&current.id).await? {
            Some(fresh) => current = fresh,
            None => return Ok(HoldEnd::AlreadyEnded),
        }
    }
    Ok(HoldEnd::AlreadyEnded)
}

/// Moves a reservation from `from` to `to` and its units back to `available`, retrying
/// conflicts. `true` when this call returned the units, `false` when the reservation had
/// already left `from` (nothing written).
pub async fn return_units(
    app: &App,
    reservation: &Reservation,
    from: ReservationStatus,
    to: ReservationStatus,
    guard: ReleaseGuard,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut retry = Retry::new("release", 0);
    loop {
        match app
            .store
            .commit_release(reservation, from, to, guard, now)
            .await?
        {
            Commit::Committed => {
                tracing::info!(reservation_id = %reservation.id, drop_id = %reservation.drop_id,
                    from = from.as_str(), to = to.as_str(), units = reservation.quantity, "units returned");
                return Ok(true);
            }
            Commit::Contended => retry.again(Again::Contended).await?,
            _ => return Ok(false),
        }
    }
}
