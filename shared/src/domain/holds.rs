//! Ending a hold: the one module that returns a hold's units, whoever ends it — its owner, an
//! expired or failed checkout, a claim that finds the drop empty, a late payment looking for
//! units, the sweeper.
//!
//! A hold with a Checkout Session is closed at Stripe before its units go back, so nobody can pay
//! for units that are going back. When the shopper completed checkout first, the payment is in
//! flight: this module leaves that hold alone and hands it back to its caller
//! (`OverdueRelease::paying`). Settling such a payment is the webhook's logic, and only the
//! sweeper calls it for a hold whose webhook never came; nothing here calls back up.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::domain::retry::{Again, Retry};
use crate::error::{ApiError, Result, chain};
use crate::model::drop::{DropSpec, Shard};
use crate::model::reservation::{Reservation, ReservationStatus};
use crate::payments::EndCheckoutOutcome;
use crate::store::ledger::{CommitOutcome, ReleaseGuard};

/// Holds read per query of a shard's expiry index.
const PAGE: i32 = 100;

/// Who returns overdue holds, and so what they may skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepMode {
    /// The scheduled sweeper (and a late payment looking for units): every overdue hold, each
    /// one with a Checkout Session closed at Stripe first.
    Scheduled,
    /// A claim that found the drop empty: quick, and never calls Stripe from the hot path. It
    /// trusts the expiry hints and leaves holds with a Checkout Session to the sweeper, which
    /// must close the session before their units go back.
    Inline,
}

/// What one pass may still spend.
#[derive(Debug)]
pub struct Budget {
    deadline: Instant,
    stripe_calls: u32,
}

impl Budget {
    pub fn new(seconds: u64, stripe_calls: u32) -> Self {
        Self {
            deadline: Instant::now() + Duration::from_secs(seconds),
            stripe_calls,
        }
    }

    /// What a claim or a late payment looking for units may spend: a few seconds and a few
    /// Stripe calls at most.
    pub fn looking_for_units() -> Self {
        Self::new(5, 10)
    }

    pub fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Takes `calls` Stripe calls from the budget, if they are there.
    pub fn take_stripe_calls(&mut self, calls: u32) -> bool {
        let enough = self.stripe_calls >= calls;
        if enough {
            self.stripe_calls -= calls;
        }
        enough
    }
}

/// What one pass over a drop's overdue holds did.
#[derive(Debug, Default)]
pub struct OverdueRelease {
    /// Holds this pass returned.
    pub released: u32,
    /// Holds it could not end (Stripe could not close the checkout): the next pass tries again.
    pub skipped: u32,
    /// Overdue holds whose shopper completed checkout first: their payment is in flight, and
    /// whether to settle it now is the caller's decision.
    pub paying: Vec<Reservation>,
}

/// Releases every hold of `drop` whose `expires_at` has passed, each in its own conditional
/// transaction (so racing sweepers and claims return units once), within `budget`.
pub async fn release_overdue(
    app: &App,
    drop: &DropSpec,
    shards: &[Shard],
    now: DateTime<Utc>,
    mode: SweepMode,
    budget: &mut Budget,
) -> Result<OverdueRelease> {
    let mut release = OverdueRelease::default();
    for shard in shards.iter().filter(|shard| shard.held > 0) {
        if mode == SweepMode::Inline
            && app
                .store
                .expiry_hints()
                .next_possible_expiry(&drop.id, shard.shard)
                .is_some_and(|at_ms| at_ms > now.timestamp_millis())
        {
            continue;
        }
        let mut next_expiry = now.timestamp_millis() + i64::from(drop.hold_seconds) * 1000;
        let mut after = None;
        let mut complete = true;
        'pages: loop {
            let (page, next) = app
                .store
                .holds_page(&drop.id, shard.shard, PAGE, after)
                .await?;
            for hold in page {
                if !hold.is_overdue(now) {
                    next_expiry = next_expiry.min(hold.expires_at_ms);
                    break 'pages;
                }
                let has_session = hold.checkout_session_id.is_some();
                if has_session && (mode == SweepMode::Inline || !budget.take_stripe_calls(2)) {
                    complete = false;
                    continue;
                }
                match end_hold(
                    app,
                    &hold,
                    ReservationStatus::Expired,
                    ReleaseGuard::Overdue,
                    now,
                )
                .await
                {
                    Ok(EndHoldOutcome::Released) => release.released += 1,
                    Ok(EndHoldOutcome::AlreadyEnded) => {}
                    Ok(EndHoldOutcome::PaymentInFlight) => release.paying.push(hold),
                    // One hold whose checkout Stripe could not close must not stop the others;
                    // the next pass tries it again.
                    Err(error) => {
                        release.skipped += 1;
                        complete = false;
                        tracing::warn!(reservation_id = %hold.id, error = %chain(&error), "could not end overdue hold");
                    }
                }
            }
            match next {
                Some(key) if !budget.out_of_time() => after = Some(key),
                Some(_) => {
                    complete = false;
                    break;
                }
                None => break,
            }
        }
        // A hint is only as good as the pass behind it.
        if complete {
            app.store
                .expiry_hints()
                .record(&drop.id, shard.shard, next_expiry);
        }
    }
    Ok(release)
}

/// How ending a hold ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndHoldOutcome {
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
) -> Result<EndHoldOutcome> {
    let mut current = reservation.clone();
    // A snapshot (say, from the hold index) may predate a checkout started since; the release
    // then refuses and the hold is read again, this time with its session.
    for _ in 0..3 {
        if current.status != ReservationStatus::Held {
            return Ok(EndHoldOutcome::AlreadyEnded);
        }
        if let Some(session_id) = &current.checkout_session_id {
            let gateway = app.payments.as_ref().ok_or(ApiError::PaymentsUnavailable)?;
            if gateway.end_checkout(session_id).await? == EndCheckoutOutcome::Completed {
                tracing::info!(reservation_id = %current.id, session_id, "checkout completed; hold left for the webhook");
                return Ok(EndHoldOutcome::PaymentInFlight);
            }
        }
        if return_units(app, &current, ReservationStatus::Held, to, guard, now).await? {
            return Ok(EndHoldOutcome::Released);
        }
        match app.store.reservation(&current.id).await? {
            Some(fresh) => current = fresh,
            None => return Ok(EndHoldOutcome::AlreadyEnded),
        }
    }
    Ok(EndHoldOutcome::AlreadyEnded)
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
            CommitOutcome::Committed => {
                tracing::info!(reservation_id = %reservation.id, drop_id = %reservation.drop_id,
                    from = from.as_str(), to = to.as_str(), units = reservation.quantity, "units returned");
                return Ok(true);
            }
            CommitOutcome::Contended => retry.again(Again::Contended).await?,
            _ => return Ok(false),
        }
    }
}
