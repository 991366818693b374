//! The scheduled sweeper: returns overdue holds (through `holds`, which also serves a claim that
//! finds a drop empty, so availability never waits for the schedule), settles what Stripe's
//! webhooks missed — a checkout completed on a hold that ended, a delayed payment whose outcome
//! never came — through the webhook's own logic, and finishes refunds decided earlier. It is the
//! only caller of that logic outside the webhook.
//!
//! A run is bounded: it stops calling Stripe after `STRIPE_CALLS_PER_RUN` calls and stops
//! altogether at `RUN_SECONDS` (the function's timeout is 60 s); the next run, a minute later,
//! goes on. It pages past holds it cannot end (a Stripe error, a checkout Stripe says is
//! complete), so one stuck hold never blocks the rest. It visits only drops that have not long
//! ended, and in them only the shards whose counters say units are held.

use std::hash::{Hash, Hasher};

use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;

use crate::app::App;
use crate::domain::holds::{Budget, SweepMode, release_overdue};
use crate::domain::webhooks::{self, finish_refund};
use crate::error::{ApiError, Result, chain};
use crate::metrics::{self, Metric};
use crate::model::drop::{DropSpec, Shard};
use crate::payments::events::EventKind;

/// Wall time of one scheduled run; the function's timeout (60 s) leaves room to finish a write.
const RUN_SECONDS: u64 = 45;
const STRIPE_CALLS_PER_RUN: u32 = 200;
/// A completed checkout whose webhook has not settled it this long after the hold ended is
/// settled from the session Stripe reports (a lost or disabled webhook).
const RECONCILE_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// Holds last at most an hour and delayed payments settle within days: drops that closed longer
/// ago than this cannot have anything left to sweep.
const HORIZON: chrono::Duration = chrono::Duration::days(14);

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
    /// Refunds decided earlier that Stripe had not confirmed when the run began.
    pub refunds_pending: u32,
    /// The run's budget ran out before every drop was visited.
    pub incomplete: bool,
}

impl SweepReport {
    /// The run's figures for the dashboard and the "stuck" alarms: zeros included, since a
    /// zero is what clears an alarm on something pending.
    fn publish(&self) {
        metrics::record(&[
            (Metric::HoldsExpired, f64::from(self.holds_expired)),
            (Metric::HoldsSkipped, f64::from(self.holds_skipped)),
            (Metric::WebhooksMissed, f64::from(self.payments_reconciled)),
            (Metric::RefundsPending, f64::from(self.refunds_pending)),
        ]);
    }
}

/// The scheduled sweep.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<SweepReport> {
    sweep_within(
        app,
        now,
        &mut Budget::new(RUN_SECONDS, STRIPE_CALLS_PER_RUN),
    )
    .await
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
        let release = release_overdue(app, drop, &own, now, SweepMode::Scheduled, budget).await?;
        report.holds_expired += release.released;
        report.holds_skipped += release.skipped;
        // Checkouts completed on holds that have ended: the webhook settles them, unless it
        // has not come well after the hold's end.
        for hold in release.paying {
            if now - hold.expires_at >= RECONCILE_AFTER && budget.take_stripe_calls(1) {
                reconcile(
                    app,
                    &hold.checkout_session_id,
                    EventKind::Completed,
                    now,
                    &mut report,
                )
                .await;
            } else {
                report.holds_skipped += 1;
            }
        }
        reconcile_pending_payments(app, drop, &own, now, budget, &mut report).await?;
    }
    tracing::info!(?report, "sweep finished");
    report.publish();
    Ok(report)
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
        webhooks::apply_session_event(app, kind, &session, now).await
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
    let refunding = app.store.refunding_orders().await?;
    report.refunds_pending = u32::try_from(refunding.len()).unwrap_or(u32::MAX);
    for order in refunding {
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
