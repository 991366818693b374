//! Returning overdue holds and settling what Stripe's webhooks missed: the scheduled sweeper, and
//! the same release done inline by a claim that finds a drop empty, so availability never waits
//! for the schedule.
//!
//! A run is bounded: it stops calling Stripe after `STRIPE_CALLS_PER_RUN` calls and stops
//! altogether at `RUN_SECONDS` (the function's timeout is 60 s); the next run, a minute later,
//! goes on. It pages past holds it cannot end (a Stripe error, a checkout Stripe says is
//! complete), so one stuck hold never blocks the rest. It visits only drops that have not long
//! ended, and in them only the shards whose counters say units are held.

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;

use crate::app::App;
use crate::domain::holds::{HoldEnd, end_hold};
use crate::domain::webhooks::{self, finish_refund};
use crate::error::{ApiError, Result, chain};
use crate::model::drop::{DropSpec, Shard};
use crate::model::reservation::ReservationStatus;
use crate::payments::events::EventKind;
use crate::store::ledger::ReleaseGuard;

const PAGE: i32 = 100;
/// Wall time of one scheduled run; the function's timeout (60 s) leaves room to finish a write.
const RUN_SECONDS: u64 = 45;
const STRIPE_CALLS_PER_RUN: u32 = 200;
/// A completed checkout whose webhook has not settled it this long after the hold ended is
/// settled from the session Stripe reports (a lost or disabled webhook).
const RECONCILE_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// Holds last at most an hour and delayed payments settle within days: drops that closed longer
/// ago than this cannot have anything left to sweep.
const HORIZON: chrono::Duration = chrono::Duration::days(14);

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

    /// A scheduled run's budget.
    pub fn scheduled_run() -> Self {
        Self::new(RUN_SECONDS, STRIPE_CALLS_PER_RUN)
    }

    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Takes `calls` Stripe calls from the budget, if they are there.
    fn take_stripe_calls(&mut self, calls: u32) -> bool {
        let enough = self.stripe_calls >= calls;
        if enough {
            self.stripe_calls -= calls;
        }
        enough
    }
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    /// Drops whose shards hold units: the only ones whose holds are read.
    pub drops_with_holds: u32,
    pub holds_expired: u32,
    /// Completed checkouts (or delayed payments) settled here because no webhook had.
    pub payments_reconciled: u32,
    /// Refunds decided earlier and finished here.
    pub refunds_finished: u32,
    /// Holds that could not be ended this run (tried again next run).
    pub holds_skipped: u32,
    /// The run's budget ran out before every drop was visited.
    pub incomplete: bool,
}

/// The scheduled sweep.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<SweepReport> {
    sweep_within(app, now, &mut Budget::scheduled_run()).await
}

/// A sweep that stops when `budget` is spent.
pub async fn sweep_within(
    app: &App,
    now: DateTime<Utc>,
    budget: &mut Budget,
) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    finish_decided_refunds(app, now, budget, &mut report).await?;
    let drops = app.store.drops_open_since(now - HORIZON).await?;
    let mut shards = app.store.shards_of_drops(&drops).await?;
    for drop in &drops {
        let own = shards.remove(&drop.id).unwrap_or_default();
        if !own.iter().any(|shard| shard.held > 0) {
            continue;
        }
        if budget.out_of_time() {
            report.incomplete = true;
            break;
        }
        report.drops_with_holds += 1;
        let expired = release_overdue(
            app,
            drop,
            &own,
            now,
            SweepMode::Scheduled,
            budget,
            &mut report,
        )
        .await?;
        report.holds_expired += expired;
        reconcile_pending_payments(app, drop, &own, now, budget, &mut report).await?;
    }
    tracing::info!(?report, "sweep finished");
    Ok(report)
}

/// Releases every hold of `drop` whose `expires_at` has passed, each in its own conditional
/// transaction (so racing sweepers and claims return units once). Returns how many it released.
pub async fn expire_overdue_holds(
    app: &App,
    drop: &DropSpec,
    shards: &[Shard],
    now: DateTime<Utc>,
    mode: SweepMode,
) -> Result<u32> {
    // A claim or a late payment looking for units: a few seconds and a few Stripe calls at most.
    let mut budget = Budget::new(5, 10);
    let mut report = SweepReport::default();
    release_overdue(app, drop, shards, now, mode, &mut budget, &mut report).await
}

async fn release_overdue(
    app: &App,
    drop: &DropSpec,
    shards: &[Shard],
    now: DateTime<Utc>,
    mode: SweepMode,
    budget: &mut Budget,
    report: &mut SweepReport,
) -> Result<u32> {
    let mut released = 0;
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
                    Ok(HoldEnd::Released) => released += 1,
                    Ok(HoldEnd::AlreadyEnded) => {}
                    Ok(HoldEnd::PaymentInFlight) => {
                        if now - hold.expires_at >= RECONCILE_AFTER && budget.take_stripe_calls(1) {
                            reconcile(
                                app,
                                &hold.checkout_session_id,
                                EventKind::Completed,
                                now,
                                report,
                            )
                            .await;
                        } else {
                            report.holds_skipped += 1;
                        }
                    }
                    // One hold whose checkout Stripe could not close must not stop the others;
                    // the next run tries it again.
                    Err(error) => {
                        report.holds_skipped += 1;
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
    Ok(released)
}

/// Settles a session Stripe reports complete through the webhook's own state machine.
async fn reconcile(
    app: &App,
    session_id: &Option<String>,
    kind: EventKind,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) {
    let Some(session_id) = session_id else {
        return;
    };
    let settled = async {
        let gateway = app.payments.as_ref().ok_or(ApiError::PaymentsUnavailable)?;
        let session = gateway.retrieve_checkout(session_id).await?;
        if !session.is_complete()
            || (kind == EventKind::AsyncPaymentSucceeded && !session.is_paid())
        {
            return Ok(false);
        }
        // Boxed: settling a late payment may sweep again (the webhook's reclaim looks for units).
        Box::pin(webhooks::apply_session_event(app, kind, &session, now)).await
    };
    match settled.await {
        Ok(true) => {
            report.payments_reconciled += 1;
            tracing::warn!(
                alert = "webhook_missed",
                session_id,
                "payment settled by the sweeper"
            );
        }
        Ok(false) => {}
        Err(error) => {
            report.holds_skipped += 1;
            tracing::warn!(session_id, error = %chain(&error), "could not reconcile a completed checkout");
        }
    }
}

/// Delayed payments wait days for Stripe; each pending one is looked up about once an hour
/// (spread over the minutes by its id), in case its outcome event was lost.
async fn reconcile_pending_payments(
    app: &App,
    drop: &DropSpec,
    shards: &[Shard],
    now: DateTime<Utc>,
    budget: &mut Budget,
    report: &mut SweepReport,
) -> Result<()> {
    for shard in shards.iter().filter(|shard| shard.held > 0) {
        for pending in app.store.pending_payments(&drop.id, shard.shard).await? {
            let waited = pending
                .payment_pending_since
                .is_some_and(|since| now - since >= chrono::Duration::hours(1));
            if !waited || pending_lookup_minute(&pending.id) != now.minute() {
                continue;
            }
            if budget.out_of_time() || !budget.take_stripe_calls(1) {
                return Ok(());
            }
            reconcile(
                app,
                &pending.checkout_session_id,
                EventKind::AsyncPaymentSucceeded,
                now,
                report,
            )
            .await;
        }
    }
    Ok(())
}

/// Refunds whose decision was recorded but which Stripe never confirmed (the webhook that made
/// them failed and its retries stopped): finished here.
async fn finish_decided_refunds(
    app: &App,
    now: DateTime<Utc>,
    budget: &mut Budget,
    report: &mut SweepReport,
) -> Result<()> {
    // Racing the webhook that decided one is harmless: the refund carries the recorded
    // idempotency key and its completion is a conditional write.
    for order in app.store.refunding_orders().await? {
        if budget.out_of_time() || !budget.take_stripe_calls(1) {
            return Ok(());
        }
        match finish_refund(app, &order, now).await {
            Ok(()) => report.refunds_finished += 1,
            Err(error) => {
                tracing::warn!(order_id = %order.id, error = %chain(&error), "could not finish a refund")
            }
        }
    }
    Ok(())
}

/// The minute of the hour in which a pending payment is looked up at Stripe.
pub fn pending_lookup_minute(id: &str) -> u32 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut hasher);
    (hasher.finish() % 60) as u32
}
