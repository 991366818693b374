//! The admission controller: the one writer of a queue's state. Each tick (every second while a
//! queue is active) it
//!
//! 1. draws the early-access cohort at its start (queued drops with early access), then the
//!    cohort at `starts_at` — a raffle's at `entries_close_at` — (each once, under a lease):
//!    every pre-queue member, ordered by the committed seed, written as immutable order chunks;
//! 2. numbers the tickets that joined since, in arrival order, after the cohort (and, once,
//!    pre-queue joins whose write landed after the draw read the cohort);
//! 3. reviews the open admissions: a claimed ticket is done, an admission past its time becomes
//!    `expired` (so its slot passes on);
//! 4. admits the next positions, strictly in order, as many as keep admitted-but-unclaimed
//!    tickets near the available units (`policy::to_admit`) — and none once stock and holds are
//!    both gone.
//!
//! It runs as the `queue-controller` function: EventBridge starts it every minute and it ticks
//! each active queue once a second for most of that minute, so admission follows capacity within
//! about a second or two. Joins never touch the state item; the controller alone writes it, under
//! a version condition, so an overlapping run can only lose a write, never corrupt one.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::app::App;
use crate::error::{ApiError, Result};
use crate::model::draw;
use crate::model::drop::{DropSpec, UnitCounts};
use crate::model::policy;
use crate::model::queue::{
    Member, OrderChunk, OrderIndex, Phase, QueueState, Ticket, TicketStatus,
};
use crate::store::keys::QUEUE_STRIPES;

/// Positions per order chunk: well under DynamoDB's 400 KB item limit with 128-character subs.
const CHUNK_SIZE: usize = 1_000;
/// Arrivals younger than this wait for the next tick, so a join written a moment late still
/// lands in arrival order.
const ARRIVAL_SETTLE_US: i64 = 300_000;
/// A join's write lands within its function's timeout (10 s) of its clock read: this long after
/// the draw, no pre-queue join can still be in flight.
const STRAGGLER_DELAY: chrono::Duration = chrono::Duration::seconds(12);
/// How long a draw may take before another controller may take it over.
const DRAW_LEASE: chrono::Duration = chrono::Duration::seconds(60);

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct TickReport {
    pub drew: bool,
    pub numbered: u64,
    pub admitted: u64,
    pub expired: u64,
    pub serving: u64,
    /// The state moved under this tick (another controller): nothing was saved.
    pub lost_race: bool,
}

/// One pass over one queued drop.
pub async fn tick(app: &App, drop: &DropSpec, now: DateTime<Utc>) -> Result<TickReport> {
    let settings = drop.queue_settings()?;
    let mut report = TickReport::default();
    if now < settings.opens_at {
        return Ok(report);
    }
    let mut state = app
        .store
        .queue_state(&drop.id)
        .await?
        .ok_or_else(|| ApiError::invariant("a queued drop has no queue state"))?;
    let early_due = drop.early_draw_at().is_some_and(|at| now >= at);
    if early_due && !state.early_drawn && !state.cohort_fixed {
        if !draw_early_cohort(app, drop, &mut state, now).await? {
            report.lost_race = true;
            return Ok(report);
        }
        report.drew = true;
    }
    if now >= drop.draw_at() && !state.cohort_fixed {
        if !draw_cohort(app, drop, &mut state, now).await? {
            report.lost_race = true;
            return Ok(report);
        }
        report.drew = true;
    }
    if !state.admitting() {
        return Ok(report);
    }
    if state.cohort_fixed {
        report.numbered = number_arrivals(app, drop, &mut state, now).await?;
    }

    state.record_joins(now.timestamp_millis(), app.store.joins(&drop.id).await?);
    let shards = app.store.shards(drop, true).await?;
    let counts = UnitCounts::sum(&shards);
    let (outstanding, expired) = review_admissions(app, drop, &mut state, now).await?;
    report.expired = expired;
    // Paused: admissions stop (admitted shoppers keep theirs); sold out or ended: the line is
    // closed.
    let halted = matches!(
        drop.queue_phase(settings, counts, now),
        Phase::SoldOut | Phase::Ended | Phase::Paused
    );
    let wanted = if halted {
        0
    } else {
        policy::to_admit(policy::AdmissionInputs {
            available: counts.available,
            outstanding,
            waiting: state.sequenced.saturating_sub(state.serving),
            // A raffle admits exactly as many winners as there are units: a win that goes
            // unused passes on when it expires, never sooner.
            no_show_rate: if drop.raffle.is_some() {
                None
            } else {
                state.no_show_rate()
            },
            admitted_last_minute: state.admitted_since(now.timestamp_millis() - 60_000),
            admit_per_minute: settings.admit_per_minute,
        })
    };
    let admitted = admit_next(app, drop, &state, wanted, now).await?;
    report.admitted = admitted;
    state.serving += admitted;
    state.outstanding = outstanding + admitted;
    if admitted > 0 {
        state.record_serving(now.timestamp_millis(), policy::RATE_WINDOW_MS);
    }
    report.serving = state.serving;

    if report.numbered > 0 || admitted > 0 || expired > 0 || report.drew || state.dirty {
        state.dirty = false;
        state.version += 1;
        if !app.store.save_queue_state(&state).await? {
            report.lost_race = true;
            tracing::warn!(drop_id = %drop.id, "queue state moved under this tick; the next one redoes it");
        }
    }
    if admitted > 0 || expired > 0 {
        tracing::info!(drop_id = %drop.id, admitted, expired, serving = state.serving,
            outstanding = state.outstanding, available = counts.available, "queue moved");
    }
    Ok(report)
}

/// The draw: takes the lease, reads every cohort member (strongly consistent), orders them by the
/// seed and writes the order chunks and their index, then records the cohort. `false` when
/// another controller holds the lease.
async fn draw_cohort(
    app: &App,
    drop: &DropSpec,
    state: &mut QueueState,
    now: DateTime<Utc>,
) -> Result<bool> {
    if !take_draw_lease(app, state, now).await? {
        return Ok(false);
    }
    // The early cohort already holds the first positions.
    let early: HashSet<String> = app.store.drawn_ids(&drop.id, 1, state.early_size).await?;
    let members = pre_queue_members(app, drop, |member| !early.contains(&member.ticket_id)).await?;
    let ordered = draw::order(&state.seed, members, |member| member.ticket_id.as_str());
    let chunks = chunks_from(state.cohort_start(), &ordered);
    let index = OrderIndex {
        chunks: chunks
            .iter()
            .map(|chunk| {
                (
                    chunk.start,
                    draw::draw_key(&state.seed, &chunk.entries[0].0),
                )
            })
            .collect(),
    };
    app.store.put_order_chunks(&drop.id, &chunks).await?;
    app.store.put_order_index(&drop.id, &index).await?;
    state.cohort_fixed = true;
    state.cohort_size = ordered.len() as u64;
    state.sequenced = state.early_size + state.cohort_size;
    state.drawing_until = None;
    tracing::info!(drop_id = %drop.id, cohort = state.cohort_size, "cohort drawn; seed revealed");
    Ok(true)
}

/// The early draw, at the early-access start of a queued drop: the members of early groups who
/// joined before it, ordered by the same seed, take positions from 1 (their tickets carry their
/// position; the seed stays secret until the cohort's draw). `false` when another controller
/// holds the lease.
async fn draw_early_cohort(
    app: &App,
    drop: &DropSpec,
    state: &mut QueueState,
    now: DateTime<Utc>,
) -> Result<bool> {
    if !take_draw_lease(app, state, now).await? {
        return Ok(false);
    }
    let members = pre_queue_members(app, drop, |member| member.early).await?;
    let ordered = draw::order(&state.seed, members, |member| member.ticket_id.as_str());
    app.store
        .put_order_chunks(&drop.id, &chunks_from(1, &ordered))
        .await?;
    for (offset, member) in ordered.iter().enumerate() {
        app.store
            .set_ticket_position(member, &drop.id, 1 + offset as u64)
            .await?;
    }
    state.early_drawn = true;
    state.early_size = ordered.len() as u64;
    state.sequenced = state.early_size;
    state.drawing_until = None;
    state.dirty = true;
    tracing::info!(drop_id = %drop.id, early_cohort = state.early_size, "early cohort drawn");
    Ok(true)
}

/// Takes the draw's lease (saving the state under its version): `false` when another controller
/// holds it or the state moved.
async fn take_draw_lease(app: &App, state: &mut QueueState, now: DateTime<Utc>) -> Result<bool> {
    if state.drawing_until.is_some_and(|until| until > now) {
        return Ok(false);
    }
    state.drawing_until = Some(now + DRAW_LEASE);
    state.version += 1;
    app.store.save_queue_state(state).await
}

/// The pre-queue members `wanted` keeps, read strongly consistent from every stripe.
async fn pre_queue_members(
    app: &App,
    drop: &DropSpec,
    wanted: impl Fn(&Member) -> bool,
) -> Result<Vec<Member>> {
    let mut members = Vec::new();
    for stripe in 0..QUEUE_STRIPES {
        let stripe_members = app.store.cohort_members(&drop.id, stripe).await?;
        members.extend(stripe_members.into_iter().filter(|member| wanted(member)));
    }
    Ok(members)
}

fn chunks_from(first_position: u64, members: &[Member]) -> Vec<OrderChunk> {
    members
        .chunks(CHUNK_SIZE)
        .enumerate()
        .map(|(i, slice)| OrderChunk {
            start: first_position + (i * CHUNK_SIZE) as u64,
            entries: slice
                .iter()
                .map(|member| (member.ticket_id.clone(), member.shopper.clone()))
                .collect(),
        })
        .collect()
}

/// Numbers the tickets that joined after the start (and, once, pre-queue joins the draw missed),
/// in arrival order, after everyone already numbered. Returns how many.
async fn number_arrivals(
    app: &App,
    drop: &DropSpec,
    state: &mut QueueState,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut arrivals: Vec<(u32, Member)> = Vec::new();
    for stripe in 0..QUEUE_STRIPES {
        for member in app.store.arrivals(&drop.id, stripe).await? {
            arrivals.push((stripe, member));
        }
    }
    let settled_before = now.timestamp_micros() - ARRIVAL_SETTLE_US;
    arrivals.retain(|(_, member)| member.joined_at_us <= settled_before);
    // A tick that died after numbering some arrivals but before forgetting them: those keep
    // their numbers, and the next numbers come after them.
    let shoppers: Vec<String> = arrivals.iter().map(|(_, m)| m.shopper.clone()).collect();
    let numbered_before: Vec<Ticket> = app
        .store
        .tickets(&drop.id, &shoppers)
        .await?
        .into_iter()
        .filter(|ticket| ticket.position.is_some())
        .collect();
    if !numbered_before.is_empty() {
        let done: Vec<(u32, Member)> = arrivals
            .iter()
            .filter(|(_, m)| numbered_before.iter().any(|t| t.id == m.ticket_id))
            .cloned()
            .collect();
        app.store.remove_arrivals(&drop.id, &done).await?;
        arrivals.retain(|(_, m)| !numbered_before.iter().any(|t| t.id == m.ticket_id));
        let highest = numbered_before
            .iter()
            .filter_map(|t| t.position)
            .max()
            .unwrap_or(0);
        state.sequenced = state.sequenced.max(highest);
        state.dirty = true;
    }
    let mut stragglers = Vec::new();
    if !state.stragglers_checked && now >= drop.draw_at() + STRAGGLER_DELAY {
        stragglers = missed_by_the_draw(app, drop, state).await?;
        state.stragglers_checked = true;
        state.dirty = true;
    }
    if arrivals.is_empty() && stragglers.is_empty() {
        return Ok(0);
    }
    let mut numbered: Vec<Member> = stragglers;
    numbered.sort_by(|a, b| (a.joined_at_us, &a.ticket_id).cmp(&(b.joined_at_us, &b.ticket_id)));
    arrivals.sort_by(|(_, a), (_, b)| {
        (a.joined_at_us, &a.ticket_id).cmp(&(b.joined_at_us, &b.ticket_id))
    });
    numbered.extend(arrivals.iter().map(|(_, member)| member.clone()));
    let first = state.sequenced + 1;
    app.store
        .put_order_chunks(&drop.id, &chunks_from(first, &numbered))
        .await?;
    for (offset, member) in numbered.iter().enumerate() {
        app.store
            .set_ticket_position(member, &drop.id, first + offset as u64)
            .await?;
    }
    app.store.remove_arrivals(&drop.id, &arrivals).await?;
    state.sequenced += numbered.len() as u64;
    Ok(numbered.len() as u64)
}

/// Pre-queue members the draw did not see (their write landed after it read the cohort).
async fn missed_by_the_draw(app: &App, drop: &DropSpec, state: &QueueState) -> Result<Vec<Member>> {
    let drawn = app
        .store
        .drawn_ids(&drop.id, 1, state.early_size + state.cohort_size)
        .await?;
    let missed = pre_queue_members(app, drop, |member| !drawn.contains(&member.ticket_id)).await?;
    for member in &missed {
        tracing::warn!(drop_id = %drop.id, ticket_id = %member.ticket_id,
            "a pre-queue join landed after the draw; numbered after the cohort");
    }
    Ok(missed)
}

/// Goes over the admitted positions not yet settled: claims are done, admissions past their time
/// expire. Advances `settled_through` over the finished prefix (counting claims and no-shows for
/// the no-show rate). Returns `(outstanding, expired now)`.
async fn review_admissions(
    app: &App,
    drop: &DropSpec,
    state: &mut QueueState,
    now: DateTime<Utc>,
) -> Result<(u64, u64)> {
    let mut outstanding = 0;
    let mut expired_now = 0;
    let mut position = state.settled_through + 1;
    let mut prefix_open = true;
    while position <= state.serving {
        let tickets = tickets_at(app, drop, position, state.serving).await?;
        if tickets.is_empty() {
            break;
        }
        for (at, ticket) in tickets {
            let status = match ticket {
                Some(ticket)
                    if ticket.status == TicketStatus::Admitted
                        && ticket.admission_expires_at.is_some_and(|e| e <= now) =>
                {
                    if app.store.expire_ticket(&ticket, now).await? {
                        expired_now += 1;
                        TicketStatus::Expired
                    } else {
                        // It claimed at the last moment: read it again next tick.
                        TicketStatus::Admitted
                    }
                }
                // Admitted by a run whose state save was lost, or not at all: admit it now.
                Some(ticket) if ticket.status == TicketStatus::Waiting => {
                    let expires_at =
                        now + chrono::Duration::seconds(i64::from(drop.admission_seconds()));
                    app.store
                        .admit_ticket(&ticket.shopper, &drop.id, now, expires_at)
                        .await?;
                    TicketStatus::Admitted
                }
                Some(ticket) => ticket.status,
                None => TicketStatus::Expired,
            };
            match status {
                TicketStatus::Claimed | TicketStatus::Expired if prefix_open => {
                    state.settled_through = at;
                    if status == TicketStatus::Claimed {
                        state.claimed += 1;
                    } else {
                        state.expired += 1;
                    }
                    state.dirty = true;
                }
                TicketStatus::Claimed | TicketStatus::Expired => {}
                _ => {
                    prefix_open = false;
                    outstanding += 1;
                }
            }
            position = at + 1;
        }
    }
    Ok((outstanding, expired_now))
}

/// The tickets at positions `from..=to` that one order chunk holds, read in one batch.
async fn tickets_at(
    app: &App,
    drop: &DropSpec,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, Option<Ticket>)>> {
    let Some(chunk) = app.store.chunk_at(&drop.id, from).await? else {
        return Ok(Vec::new());
    };
    let last = chunk.end().min(to);
    let shoppers: Vec<String> = (from..=last)
        .filter_map(|position| chunk.at(position).map(|(_, shopper)| shopper.clone()))
        .collect();
    let tickets = app.store.tickets(&drop.id, &shoppers).await?;
    Ok((from..=last)
        .map(|position| {
            let ticket = chunk.at(position).and_then(|(ticket_id, _)| {
                tickets
                    .iter()
                    .find(|ticket| ticket.id == *ticket_id)
                    .cloned()
            });
            (position, ticket)
        })
        .collect())
}

/// Admits up to `wanted` positions after `serving`, strictly in order. Returns how many.
async fn admit_next(
    app: &App,
    drop: &DropSpec,
    state: &QueueState,
    wanted: u64,
    now: DateTime<Utc>,
) -> Result<u64> {
    let expires_at = now + chrono::Duration::seconds(i64::from(drop.admission_seconds()));
    let last = (state.serving + wanted).min(state.sequenced);
    let mut position = state.serving + 1;
    while position <= last {
        let Some(chunk) = app.store.chunk_at(&drop.id, position).await? else {
            break;
        };
        let through = chunk.end().min(last);
        // A chunk's admissions are independent writes: a few dozen in flight at once. A ticket
        // already admitted (by an overlapping run) counts as admitted.
        let shoppers: Vec<String> = (position..=through)
            .filter_map(|at| chunk.at(at).map(|(_, shopper)| shopper.clone()))
            .collect();
        let results: Vec<Result<bool>> = stream::iter(shoppers)
            .map(|shopper| async move {
                app.store
                    .admit_ticket(&shopper, &drop.id, now, expires_at)
                    .await
            })
            .buffer_unordered(32)
            .collect()
            .await;
        for admitted in results {
            admitted?;
        }
        position = through + 1;
    }
    Ok(position - 1 - state.serving)
}

/// The `queue-controller` function: ticks every active queued drop once a second until
/// `run_for` has passed.
pub async fn run(app: &App, run_for: Duration) -> Result<u64> {
    let deadline = tokio::time::Instant::now() + run_for;
    let mut ticks = 0;
    let mut drops: Vec<DropSpec> = Vec::new();
    let mut listed_at: Option<tokio::time::Instant> = None;
    while tokio::time::Instant::now() < deadline {
        let started = tokio::time::Instant::now();
        if listed_at.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
            drops = active_queues(app, Utc::now()).await?;
            listed_at = Some(started);
        }
        for listed in &drops {
            // Read each tick, not once a listing: a pause or resume acts within a second.
            let drop = match app.store.drop_now(&listed.id).await {
                Ok(Some(drop)) => drop,
                Ok(None) => continue,
                Err(error) => {
                    tracing::error!(drop_id = %listed.id, error = %crate::error::chain(&error), "queued drop unreadable");
                    continue;
                }
            };
            if let Err(error) = tick(app, &drop, Utc::now()).await {
                tracing::error!(drop_id = %drop.id, error = %crate::error::chain(&error), "queue tick failed");
            }
            ticks += 1;
        }
        tokio::time::sleep_until(started + Duration::from_secs(1)).await;
    }
    Ok(ticks)
}

/// Queued drops whose queue has opened (or opens within a minute) and that have not ended long
/// ago.
async fn active_queues(app: &App, now: DateTime<Utc>) -> Result<Vec<DropSpec>> {
    Ok(app
        .store
        .drops_open_since(now - chrono::Duration::hours(1))
        .await?
        .into_iter()
        .filter(|drop| {
            drop.queue
                .as_ref()
                .is_some_and(|queue| queue.opens_at <= now + chrono::Duration::minutes(1))
        })
        .collect())
}
