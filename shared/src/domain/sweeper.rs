//! Returning overdue holds: the scheduled sweeper, and the same work done inline by a claim that
//! finds a drop empty, so availability never waits for the schedule.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::app::App;
use crate::domain::drops::{DropSpec, Shard};
use crate::domain::reservations::{HoldEnd, ReservationStatus, end_hold};
use crate::error::Result;
use crate::store::ReleaseGuard;

const PAGE: i32 = 100;
/// A page that is all overdue holds whose release keeps finding them already ended means the
/// index lags the table; the next sweep will see it settled.
const MAX_PAGES: u32 = 20;

/// Per shard, the earliest instant at which a live hold could be overdue.
///
/// Holds of one drop all last `hold_seconds`, so a hold taken later expires later: once a query
/// has seen the earliest live hold of a shard, nothing in that shard can be overdue before its
/// expiry. Claims that find a drop empty trust this and skip the index query; the sweeper never
/// does, so a hint can delay an inline release, never lose one.
#[derive(Debug, Default)]
pub struct ExpiryHints(Mutex<HashMap<(String, u32), i64>>);

impl ExpiryHints {
    fn next_possible_expiry(&self, drop_id: &str, shard: u32) -> Option<i64> {
        self.0
            .lock()
            .expect("hints poisoned")
            .get(&(drop_id.to_string(), shard))
            .copied()
    }

    fn record(&self, drop_id: &str, shard: u32, at_ms: i64) {
        self.0
            .lock()
            .expect("hints poisoned")
            .insert((drop_id.to_string(), shard), at_ms);
    }
}

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

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    pub drops_checked: u32,
    pub holds_expired: u32,
}

/// The scheduled sweep: every drop, every shard that has units held.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<SweepReport> {
    let drops = app.store.list_drops().await?;
    let mut shards = app.store.shards_of_drops(&drops).await?;
    let mut report = SweepReport::default();
    for drop in &drops {
        let own = shards.remove(&drop.id).unwrap_or_default();
        report.drops_checked += 1;
        report.holds_expired +=
            expire_overdue_holds(app, drop, &own, now, SweepMode::Scheduled).await?;
    }
    tracing::info!(
        drops = report.drops_checked,
        expired = report.holds_expired,
        "sweep finished"
    );
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
    let mut released = 0;
    for shard in shards.iter().filter(|shard| shard.held > 0) {
        if mode == SweepMode::Inline
            && app
                .expiry_hints
                .next_possible_expiry(&drop.id, shard.shard)
                .is_some_and(|at_ms| at_ms > now.timestamp_millis())
        {
            continue;
        }
        let mut next_expiry = now.timestamp_millis() + i64::from(drop.hold_seconds) * 1000;
        for _ in 0..MAX_PAGES {
            let page = app.store.holds_page(&drop.id, shard.shard, PAGE).await?;
            let full = page.len() == PAGE as usize;
            let mut reached_live = false;
            for hold in page {
                if !hold.is_overdue(now) {
                    next_expiry = next_expiry.min(hold.expires_at_ms);
                    reached_live = true;
                    break;
                }
                if mode == SweepMode::Inline && hold.checkout_session_id.is_some() {
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
                    Ok(_) => {}
                    // One hold whose checkout Stripe could not close must not stop the others;
                    // the next sweep tries it again.
                    Err(error) => {
                        tracing::warn!(reservation_id = %hold.id, %error, "could not end overdue hold")
                    }
                }
            }
            if reached_live || !full {
                break;
            }
        }
        app.expiry_hints.record(&drop.id, shard.shard, next_expiry);
    }
    Ok(released)
}
