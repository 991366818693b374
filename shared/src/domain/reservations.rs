//! Reservations: the held units of one claim, their clock, and how a hold ends.
//!
//! The 10-minute window is enforced here, not by DynamoDB's TTL: TTL deletes late and returns no
//! units. A hold whose `expires_at` has passed reads as `expired` everywhere, before any sweeper
//! has touched it, and it is released by a conditional transaction that returns its units.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::domain::drops::{DropSpec, Price};
use crate::domain::retry::{Again, Retry};
use crate::error::{ApiError, Result};
use crate::payments::{MIN_SESSION_SECONDS, SessionEnd};
use crate::store::{Commit, ReleaseGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    Held,
    /// Checkout completed with a delayed payment method: the units stay held, past the window,
    /// until Stripe says the payment succeeded or failed.
    PaymentPending,
    Paid,
    Expired,
    Released,
    /// A payment came in that could not buy the units (wrong amount); it was refunded and the
    /// units returned in the same transaction that ended the hold.
    Refunded,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::PaymentPending => "payment_pending",
            Self::Paid => "paid",
            Self::Expired => "expired",
            Self::Released => "released",
            Self::Refunded => "refunded",
        }
    }

    /// The units are still taken from the shards' `held` counters.
    pub fn holds_units(self) -> bool {
        matches!(self, Self::Held | Self::PaymentPending)
    }
}

/// Units of one shard that a reservation took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub shard: u32,
    pub units: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    pub id: String,
    pub drop_id: String,
    pub shopper: String,
    pub quantity: u32,
    /// The unit price locked in when the hold was made: what checkout charges and the webhook
    /// expects, whatever the drop's schedule says later.
    pub price: Price,
    pub allocations: Vec<Allocation>,
    pub status: ReservationStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub expires_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// When the hold's Checkout Session expires (unix seconds), fixed when the hold is made: the
    /// session is created with exactly these parameters on every try, so a retry under the same
    /// idempotency key is one Stripe accepts. Stripe's shortest session is 30 minutes, so this is
    /// the hold's end plus 31 minutes: at least that far ahead whenever checkout starts within
    /// the hold, and the sweeper closes the session when the hold ends.
    pub checkout_expires_at: i64,
    /// When checkout completed with a delayed payment method (status `payment_pending`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_pending_since: Option<DateTime<Utc>>,
    /// The Stripe Checkout Session paying for this hold, once one was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}

/// What a shopper sees of a reservation.
#[derive(Debug, Clone, Serialize)]
pub struct ReservationView {
    pub id: String,
    pub drop_id: String,
    pub quantity: u32,
    /// The unit price locked into this hold.
    pub price: Price,
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
    pub seconds_left: i64,
    pub created_at: DateTime<Utc>,
}

impl Reservation {
    /// A new hold of `quantity` units from `allocations`, for the drop's hold window from `now`,
    /// at the price in force now.
    pub fn new_hold(
        id: String,
        drop: &DropSpec,
        shopper: &str,
        quantity: u32,
        allocations: Vec<Allocation>,
        now: DateTime<Utc>,
    ) -> Self {
        let expires_at = now + chrono::Duration::seconds(i64::from(drop.hold_seconds));
        Self {
            checkout_expires_at: expires_at.timestamp() + MIN_SESSION_SECONDS,
            id,
            drop_id: drop.id.clone(),
            shopper: shopper.to_string(),
            quantity,
            price: drop.price_at(now),
            allocations,
            status: ReservationStatus::Held,
            created_at: now,
            expires_at,
            expires_at_ms: expires_at.timestamp_millis(),
            ended_at: None,
            payment_pending_since: None,
            checkout_session_id: None,
            checkout_url: None,
        }
    }

    /// The same hold at `price` (the lower price an admitted shopper locked in earlier).
    pub fn at_price(mut self, price: Price) -> Self {
        self.price = price;
        self
    }

    /// What the whole hold costs, in minor units.
    pub fn amount_due(&self) -> i64 {
        self.price.amount * i64::from(self.quantity)
    }

    /// Past its expiry a hold is over, whether or not anything has written that down yet.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status == ReservationStatus::Held && now.timestamp_millis() >= self.expires_at_ms
    }

    pub fn effective_status(&self, now: DateTime<Utc>) -> ReservationStatus {
        if self.is_overdue(now) {
            ReservationStatus::Expired
        } else {
            self.status
        }
    }

    pub fn view(&self, now: DateTime<Utc>) -> ReservationView {
        let status = self.effective_status(now);
        let seconds_left = if status == ReservationStatus::Held {
            (self.expires_at - now).num_seconds().max(0)
        } else {
            0
        };
        ReservationView {
            id: self.id.clone(),
            drop_id: self.drop_id.clone(),
            quantity: self.quantity,
            price: self.price.clone(),
            status,
            expires_at: self.expires_at,
            seconds_left,
            created_at: self.created_at,
        }
    }
}

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
            if end_hold(app, &reservation, status, guard, now).await? == HoldEnd::PaymentInFlight {
                return Err(ApiError::ReservationNotHeld { status: "paying" });
            }
        }
        ReservationStatus::Expired | ReservationStatus::Released | ReservationStatus::Refunded => {}
    }
    Ok(owned_reservation(app, shopper, reservation_id)
        .await?
        .view(now))
}

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
