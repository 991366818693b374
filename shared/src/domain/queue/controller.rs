//! The admission controller: the one writer of a queue's state. Each tick (every second while a
//! queue is active) it
//!
//! 1. draws the early-access cohort at its start (queued drops with early access), then the
//!    cohort at `starts_at` — a raffle's at `entries_close_at` — (each once, under a lease), as a
//!    job in bounded steps whose progress is saved in the state after each one: the section's
//!    joins are fenced off, then each of its 256 groups is read from its own partition (where
//!    members already sort by draw key) and written as order pages and a group record, then the
//!    groups' first positions are fixed. A controller killed anywhere resumes where the last
//!    saved step ended and produces the same order;
//! 2. numbers the tickets that joined since, in arrival order, after the cohort: in pages, each
//!    committed in one transaction with the state that counts it, then written on the tickets;
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

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use futures::stream::{self, FuturesUnordered, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::app::App;
use crate::error::{ApiError, Result};
use crate::metrics::{self, Metric};
use crate::model::draw;
use crate::model::drop::{DropSpec, UnitCounts};
use crate::model::ids;
use crate::model::policy;
use crate::model::queue::{
    DrawGroup, DrawJob, Member, OrderChunk, OrderPage, Phase, QueueState, Section, Ticket,
    TicketStatus,
};
use crate::store::keys::QUEUE_STRIPES;

use super::Count;

/// Bytes of entries per order page: a ticket view reads one page, eventually consistent, in at
/// most two read units.
const ORDER_PAGE_BYTES: usize = 7_000;
/// How long one tick may spend drawing groups before it saves and yields: every step of a draw
/// stays bounded whatever the cohort's size.
const DRAW_STEP_BUDGET: Duration = Duration::from_secs(5);
/// Members a draw step reads and writes at most (about 15 MB in memory): the groups drawn at once,
/// between two saves of the draw's progress, are as many as hold about this many — 16 of 256 at a
/// million members, all of them for a small cohort.
const MEMBERS_PER_STEP: u64 = 60_000;
/// Arrivals numbered per page: one transaction, an item well under DynamoDB's 400 KB even with
/// 128-character shopper ids.
const ARRIVAL_PAGE: usize = 1_500;
/// Arrival pages one tick commits at most.
const ARRIVAL_PAGES_PER_TICK: usize = 8;
/// Ticket writes in flight at once.
const TICKET_WRITES_IN_FLIGHT: usize = 64;
/// Arrivals younger than this wait for the next tick, so a join written a moment late still
/// lands in arrival order.
const ARRIVAL_SETTLE_US: i64 = 300_000;
/// How long a draw's lease lasts past its last saved step before another controller may take it
/// over.
const DRAW_LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// This container's name on a draw's lease.
static CONTROLLER_ID: LazyLock<String> = LazyLock::new(ids::new_id);

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct TickReport {
    pub drew: bool,
    /// A draw made progress and goes on in the next tick.
    pub drawing: bool,
    pub numbered: u64,
    pub admitted: u64,
    pub expired: u64,
    pub serving: u64,
    /// The state moved under this tick (another controller): nothing more was saved.
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
    let mut due = Vec::new();
    if early_due && !state.early_drawn && !state.cohort_fixed {
        due.push(Section::Early);
    }
    if now >= drop.draw_at() && !state.cohort_fixed {
        due.push(Section::Cohort);
    }
    for section in due {
        match draw(app, drop, &mut state, section, now).await? {
            Progress::Done => report.drew = true,
            Progress::Continues => {
                report.drawing = true;
                break;
            }
            Progress::Lost => {
                report.lost_race = true;
                return Ok(report);
            }
        }
    }
    if !state.admitting() {
        return Ok(report);
    }
    if state.cohort_fixed {
        match number_arrivals(app, drop, &mut state, now).await? {
            Some(numbered) => report.numbered = numbered,
            None => {
                report.lost_race = true;
                return Ok(report);
            }
        }
    }

    let counters = app.store.queue_counters(&drop.id).await?;
    let counted = |count: Count| counters.get(count.as_str()).copied().unwrap_or(0);
    state.record_joins(now.timestamp_millis(), counted(Count::Ticket));
    let shards = app.store.shards(drop, true).await?;
    let counts = UnitCounts::sum(&shards);
    let (outstanding, expired_now) =
        settle_admissions(app, drop, &mut state, counted(Count::AdmissionClaim), now).await?;
    report.expired = expired_now;
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
    if state.outstanding != outstanding + admitted {
        state.outstanding = outstanding + admitted;
        state.dirty = true;
    }
    if admitted > 0 {
        metrics::record(&[(Metric::Admissions, admitted as f64)]);
        state.record_serving(now.timestamp_millis(), policy::RATE_WINDOW_MS);
        state.admissions.push((
            admission_expiry(drop, now).timestamp_millis(),
            state.serving,
        ));
    }
    report.serving = state.serving;

    if report.numbered > 0 || admitted > 0 || expired_now > 0 || report.drew || state.dirty {
        state.dirty = false;
        state.version += 1;
        if !app.store.save_queue_state(&state).await? {
            report.lost_race = true;
            tracing::warn!(drop_id = %drop.id, "queue state moved under this tick; the next one redoes it");
        }
    }
    if admitted > 0 || expired_now > 0 {
        tracing::info!(drop_id = %drop.id, admitted, expired = expired_now, serving = state.serving,
            outstanding = state.outstanding, available = counts.available, "queue moved");
    }
    Ok(report)
}

/// Where a draw stands after this tick's step.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    Done,
    Continues,
    /// Another controller holds the draw's lease, or the state moved.
    Lost,
}

/// One bounded step of the draw of `section`: takes (or keeps) the lease, fences the section's
/// joins, draws groups until the step's budget is spent — saving progress after each — and,
/// once every group is drawn, fixes their first positions and records the section as drawn.
async fn draw(
    app: &App,
    drop: &DropSpec,
    state: &mut QueueState,
    section: Section,
    now: DateTime<Utc>,
) -> Result<Progress> {
    let leased_to_another = state.drawing_until.is_some_and(|until| until > now)
        && state.drawing_by.as_deref() != Some(CONTROLLER_ID.as_str());
    if leased_to_another {
        return Ok(Progress::Lost);
    }
    let mut job = match state.draw_job.clone() {
        Some(job) if job.section == section => job,
        _ => DrawJob {
            section,
            frozen: false,
            next_group: 0,
            started_through: 0,
        },
    };
    if !save_progress(app, state, &job, now).await? {
        return Ok(Progress::Lost);
    }
    if !job.frozen {
        app.store.freeze_joins(&drop.id, section).await?;
        job.frozen = true;
        if !save_progress(app, state, &job, now).await? {
            return Ok(Progress::Lost);
        }
    }
    let step_started = Instant::now();
    let groups_at_once = groups_per_step(app.store.joins(&drop.id).await?);
    // The fences are closed: the groups they recorded are all that hold members.
    let occupied = app.store.occupied_groups(&drop.id, section).await?;
    while job.next_group < draw::GROUPS {
        if step_started.elapsed() >= DRAW_STEP_BUDGET {
            return Ok(Progress::Continues);
        }
        let through = (job.next_group + groups_at_once).min(draw::GROUPS);
        // Groups an earlier attempt may have half written are replaced, not added to.
        let redo_before = job.started_through;
        if through > job.started_through {
            job.started_through = through;
            if !save_progress(app, state, &job, now).await? {
                return Ok(Progress::Lost);
            }
        }
        let seed = state.seed.as_str();
        let records = try_join_all((job.next_group..through).map(|group| {
            let replacing = group < redo_before;
            let group = group as u8;
            let occupied = occupied.contains(&group);
            async move {
                if occupied {
                    draw_group(app, &drop.id, seed, section, group, replacing).await
                } else {
                    Ok(DrawGroup::empty(section, group))
                }
            }
        }))
        .await?;
        // Only groups that hold members are stored; a missing record reads as an empty group.
        let drawn: Vec<DrawGroup> = records.into_iter().filter(|r| r.count > 0).collect();
        app.store.put_draw_groups(&drop.id, &drawn).await?;
        let placed: u64 = drawn.iter().map(|record| record.count).sum();
        metrics::record(&[(Metric::DrawMembers, placed as f64)]);
        job.next_group = through;
        if !save_progress(app, state, &job, now).await? {
            return Ok(Progress::Lost);
        }
    }
    let size = fix_group_starts(app, drop, state, section).await?;
    match section {
        Section::Early => {
            state.early_drawn = true;
            state.early_size = size;
            state.sequenced = size;
        }
        Section::Cohort => {
            state.cohort_fixed = true;
            state.cohort_size = size;
            state.sequenced = state.early_size + size;
        }
    }
    state.projected_through = state.sequenced;
    state.draw_job = None;
    state.drawing_until = None;
    state.drawing_by = None;
    state.version += 1;
    if !app.store.save_queue_state(state).await? {
        return Ok(Progress::Lost);
    }
    match section {
        Section::Early => {
            tracing::info!(drop_id = %drop.id, early_cohort = size, "early cohort drawn")
        }
        Section::Cohort => {
            tracing::info!(drop_id = %drop.id, cohort = size, "cohort drawn; seed revealed")
        }
    }
    Ok(Progress::Done)
}

/// How many groups one step draws, from the tickets made so far (members spread evenly over the
/// groups: the draw key is a keyed hash).
fn groups_per_step(tickets: u64) -> u16 {
    let per_group = tickets.div_ceil(u64::from(draw::GROUPS)).max(1);
    (MEMBERS_PER_STEP / per_group).clamp(1, u64::from(draw::GROUPS)) as u16
}

/// Saves the draw's progress and renews its lease: `false` when the state moved.
async fn save_progress(
    app: &App,
    state: &mut QueueState,
    job: &DrawJob,
    now: DateTime<Utc>,
) -> Result<bool> {
    state.draw_job = Some(job.clone());
    state.drawing_until = Some(now + DRAW_LEASE);
    state.drawing_by = Some(CONTROLLER_ID.clone());
    state.version += 1;
    app.store.save_queue_state(state).await
}

/// Draws one group: reads its members (already in draw order), writes them as order pages and
/// returns the group's record — its size and the SHA-256 of its proof page. Idempotent: a redo
/// (`replacing`) first removes what an interrupted attempt wrote.
async fn draw_group(
    app: &App,
    drop_id: &str,
    seed: &str,
    section: Section,
    group: u8,
    replacing: bool,
) -> Result<DrawGroup> {
    let members = app.store.group_members(drop_id, section, group).await?;
    app.store
        .put_order_pages(
            drop_id,
            section,
            group,
            &pages_of(seed, &members),
            replacing,
        )
        .await?;
    let body = draw::page_body(members.iter().map(|member| member.ticket_id.as_str()));
    Ok(DrawGroup {
        section,
        group,
        count: members.len() as u64,
        sha256: draw::page_sha256(&body),
        start: None,
    })
}

/// A group's members (in draw order) as order pages of at most `ORDER_PAGE_BYTES`, each keyed by
/// its first entry's sort key.
fn pages_of(seed: &str, members: &[Member]) -> Vec<(String, OrderPage)> {
    let mut pages: Vec<(String, OrderPage)> = Vec::new();
    let mut bytes = 0;
    for (offset, member) in members.iter().enumerate() {
        if pages.is_empty() || bytes >= ORDER_PAGE_BYTES {
            let first = draw::sort_key(&draw::draw_key(seed, &member.ticket_id), &member.ticket_id);
            pages.push((
                first,
                OrderPage {
                    offset: offset as u64,
                    entries: Vec::new(),
                },
            ));
            bytes = 0;
        }
        bytes += member.ticket_id.len() + member.shopper.len() + 8;
        let (_, page) = pages.last_mut().expect("a page was opened");
        page.entries
            .push((member.ticket_id.clone(), member.shopper.clone()));
    }
    pages
}

/// The last step of a draw: every group's first position, from the section's first, written on
/// the group records. Returns the section's size.
async fn fix_group_starts(
    app: &App,
    drop: &DropSpec,
    state: &QueueState,
    section: Section,
) -> Result<u64> {
    let mut groups = app.store.read_draw_groups(&drop.id, section).await?;
    let mut next = match section {
        Section::Early => 1,
        Section::Cohort => state.cohort_start(),
    };
    for group in &mut groups {
        group.start = Some(next);
        next += group.count;
    }
    let stored: Vec<DrawGroup> = groups.into_iter().filter(|group| group.count > 0).collect();
    app.store.put_draw_groups(&drop.id, &stored).await?;
    Ok(stored.iter().map(|group| group.count).sum())
}

/// Numbers the tickets that joined after the start, in arrival order, after everyone already
/// numbered: each page is committed with the state in one transaction, then written on its
/// tickets. Returns how many, or `None` when the state moved under this tick.
async fn number_arrivals(
    app: &App,
    drop: &DropSpec,
    state: &mut QueueState,
    now: DateTime<Utc>,
) -> Result<Option<u64>> {
    // Pages a dead tick committed but did not finish writing on tickets.
    let mut unfinished: HashSet<String> = HashSet::new();
    for page in app
        .store
        .arrival_pages_after(&drop.id, state.projected_through)
        .await?
    {
        project(app, drop, &page).await?;
        unfinished.extend(page.entries.iter().map(|(ticket, _)| ticket.clone()));
        state.projected_through = state.projected_through.max(page.end());
        state.dirty = true;
    }
    let mut arrivals = arrivals(app, &drop.id).await?;
    let (done, waiting): (Vec<_>, Vec<_>) = arrivals
        .drain(..)
        .partition(|(_, member)| unfinished.contains(&member.ticket_id));
    app.store.remove_arrivals(&drop.id, &done).await?;
    let settled_before = now.timestamp_micros() - ARRIVAL_SETTLE_US;
    let mut waiting: Vec<(u32, Member)> = waiting
        .into_iter()
        .filter(|(_, member)| member.joined_at_us <= settled_before)
        .collect();
    waiting.sort_by(|(_, a), (_, b)| {
        (a.joined_at_us, &a.ticket_id).cmp(&(b.joined_at_us, &b.ticket_id))
    });
    let mut numbered = 0;
    for members in waiting.chunks(ARRIVAL_PAGE).take(ARRIVAL_PAGES_PER_TICK) {
        let page = OrderChunk {
            start: state.sequenced + 1,
            entries: members
                .iter()
                .map(|(_, member)| (member.ticket_id.clone(), member.shopper.clone()))
                .collect(),
        };
        state.sequenced = page.end();
        state.version += 1;
        if !app.store.commit_arrival_page(state, &page).await? {
            return Ok(None);
        }
        project(app, drop, &page).await?;
        app.store.remove_arrivals(&drop.id, members).await?;
        state.projected_through = page.end();
        state.dirty = true;
        numbered += members.len() as u64;
    }
    Ok(Some(numbered))
}

/// Every arrival not numbered yet, over all stripes.
async fn arrivals(app: &App, drop_id: &str) -> Result<Vec<(u32, Member)>> {
    let stripes = try_join_all((0..QUEUE_STRIPES).map(|stripe| async move {
        let members = app.store.arrivals(drop_id, stripe).await?;
        Ok::<_, ApiError>(members.into_iter().map(move |member| (stripe, member)))
    }))
    .await?;
    Ok(stripes.into_iter().flatten().collect())
}

/// Writes a committed arrival page's positions on its tickets.
async fn project(app: &App, drop: &DropSpec, page: &OrderChunk) -> Result<()> {
    // The writes are made before the stream: a closure over the entries' references inside it
    // makes the tick's future not `Send` (rustc cannot prove it for every lifetime), and the
    // controller is spawned.
    let writes: Vec<_> = page
        .entries
        .iter()
        .enumerate()
        .map(|(offset, (ticket_id, shopper))| {
            app.store
                .set_ticket_position(ticket_id, shopper, &drop.id, page.start + offset as u64)
        })
        .collect();
    stream::iter(writes)
        .buffer_unordered(TICKET_WRITES_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// Settles the admissions whose time has run out, batch by batch in position order (a tick's
/// admissions share one expiry, so they run out in position order): each such ticket is read once
/// — claimed, or expired now so its slot passes on. Nothing else is read: the admissions still
/// running are counted from the claims counter, whatever their number. Returns
/// `(outstanding, expired now)`.
async fn settle_admissions(
    app: &App,
    drop: &DropSpec,
    state: &mut QueueState,
    claims_total: u64,
    now: DateTime<Utc>,
) -> Result<(u64, u64)> {
    let mut expired_now = 0;
    'batches: while let Some(&(expires_at_ms, through)) = state.admissions.first() {
        if expires_at_ms > now.timestamp_millis() {
            break;
        }
        while state.settled_through < through {
            let from = state.settled_through + 1;
            let tickets = tickets_at(app, drop, state, from, through).await?;
            if tickets.is_empty() {
                return Err(ApiError::invariant(
                    "an admitted position is not in the order",
                ));
            }
            for (at, ticket) in tickets {
                match ticket {
                    Some(ticket) if ticket.status == TicketStatus::Claimed => state.claimed += 1,
                    Some(ticket) if ticket.status == TicketStatus::Admitted => {
                        if !app.store.expire_ticket(&ticket, now).await? {
                            // It claimed at the last moment, or a later admission runs: next tick.
                            break 'batches;
                        }
                        expired_now += 1;
                        state.expired += 1;
                    }
                    Some(ticket) if ticket.status == TicketStatus::Expired => state.expired += 1,
                    other => {
                        tracing::error!(drop_id = %drop.id, position = at, status = ?other.map(|t| t.status),
                            "an admitted position holds no admitted ticket; settled as unused");
                        state.expired += 1;
                    }
                }
                state.settled_through = at;
                state.dirty = true;
            }
        }
        state.admissions.remove(0);
        state.dirty = true;
    }
    let running_claims = claims_total.saturating_sub(state.claimed);
    let outstanding = state
        .serving
        .saturating_sub(state.settled_through)
        .saturating_sub(running_claims);
    Ok((outstanding, expired_now))
}

/// The tickets at positions `from..=to` that one stretch of the order holds, read in batches.
async fn tickets_at(
    app: &App,
    drop: &DropSpec,
    state: &QueueState,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, Option<Ticket>)>> {
    let Some(chunk) = app.store.order_at(&drop.id, state, from).await? else {
        return Ok(Vec::new());
    };
    let last = chunk.end().min(to);
    let shoppers: Vec<String> = (from..=last)
        .filter_map(|position| chunk.at(position).map(|(_, shopper)| shopper.clone()))
        .collect();
    let mut tickets: HashMap<String, Ticket> = app
        .store
        .tickets(&drop.id, &shoppers)
        .await?
        .into_iter()
        .map(|ticket| (ticket.id.clone(), ticket))
        .collect();
    Ok((from..=last)
        .map(|position| {
            let ticket = chunk
                .at(position)
                .and_then(|(ticket_id, _)| tickets.remove(ticket_id));
            (position, ticket)
        })
        .collect())
}

/// When an admission made now runs out.
fn admission_expiry(drop: &DropSpec, now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::seconds(i64::from(drop.admission_seconds()))
}

/// Admits up to `wanted` positions after `serving`, strictly in order. Returns how many.
async fn admit_next(
    app: &App,
    drop: &DropSpec,
    state: &QueueState,
    wanted: u64,
    now: DateTime<Utc>,
) -> Result<u64> {
    let expires_at = admission_expiry(drop, now);
    let last = (state.serving + wanted).min(state.sequenced);
    let mut position = state.serving + 1;
    while position <= last {
        let Some(chunk) = app.store.order_at(&drop.id, state, position).await? else {
            break;
        };
        let through = chunk.end().min(last);
        // A chunk's admissions are independent writes: a few dozen in flight at once. A ticket
        // already admitted (by an overlapping run) counts as admitted.
        let shoppers: Vec<String> = (position..=through)
            .filter_map(|at| chunk.at(at).map(|(_, shopper)| shopper.clone()))
            .collect();
        stream::iter(shoppers)
            .map(|shopper| async move {
                app.store
                    .admit_ticket(&shopper, &drop.id, now, expires_at)
                    .await
            })
            .buffer_unordered(TICKET_WRITES_IN_FLIGHT)
            .try_collect::<Vec<bool>>()
            .await?;
        position = through + 1;
    }
    Ok(position - 1 - state.serving)
}

/// The `queue-controller` function: ticks every active queued drop once a second until
/// `run_for` has passed. Each drop runs its own loop, so a long draw step or a slow drop never
/// delays another's ticks; the list of drops is read again every ten seconds.
pub async fn run(app: &App, run_for: Duration) -> Result<u64> {
    let deadline = tokio::time::Instant::now() + run_for;
    let mut ticks = 0;
    let mut running: HashSet<String> = HashSet::new();
    let mut loops = FuturesUnordered::new();
    while tokio::time::Instant::now() < deadline {
        for drop in active_queues(app, Utc::now()).await? {
            if running.insert(drop.id.clone()) {
                loops.push(tick_until(app, drop.id, deadline));
            }
        }
        let next_listing = (tokio::time::Instant::now() + Duration::from_secs(10)).min(deadline);
        loop {
            tokio::select! {
                Some(done) = loops.next() => ticks += done,
                _ = tokio::time::sleep_until(next_listing) => break,
            }
        }
    }
    while let Some(done) = loops.next().await {
        ticks += done;
    }
    Ok(ticks)
}

/// Ticks one drop once a second until `deadline`. Returns how many ticks ran.
async fn tick_until(app: &App, drop_id: String, deadline: tokio::time::Instant) -> u64 {
    let mut ticks = 0;
    let mut due = tokio::time::Instant::now();
    while tokio::time::Instant::now() < deadline {
        let started = tokio::time::Instant::now();
        // How late this tick runs after its second (a slow drop or a long draw step).
        metrics::duration(
            Metric::ControllerTickLag,
            started.saturating_duration_since(due),
        );
        due = started + Duration::from_secs(1);
        // Read each tick, not once a listing: a pause or resume acts within a second.
        match app.store.drop_now(&drop_id).await {
            Ok(Some(drop)) => {
                if let Err(error) = tick(app, &drop, Utc::now()).await {
                    tracing::error!(drop_id = %drop.id, error = %crate::error::chain(&error), "queue tick failed");
                }
                ticks += 1;
            }
            Ok(None) => return ticks,
            Err(error) => {
                tracing::error!(drop_id, error = %crate::error::chain(&error), "queued drop unreadable");
            }
        }
        tokio::time::sleep_until((started + Duration::from_secs(1)).min(deadline)).await;
    }
    ticks
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draw_step_holds_a_bounded_number_of_members() {
        assert_eq!(
            groups_per_step(0),
            256,
            "a small cohort is drawn in one step"
        );
        assert_eq!(groups_per_step(20_000), 256);
        assert_eq!(groups_per_step(1_000_000), 15);
        assert_eq!(groups_per_step(100_000_000), 1);
        for tickets in [1u64, 1_000, 60_000, 61_000, 1_000_000, 10_000_000] {
            let per_group = tickets.div_ceil(256);
            let step = u64::from(groups_per_step(tickets));
            assert!(
                step * per_group <= MEMBERS_PER_STEP.max(per_group),
                "{tickets}"
            );
        }
    }
}
