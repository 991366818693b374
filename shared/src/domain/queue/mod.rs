//! The waiting room in front of a queued drop's claim: join, your ticket (built by `ticket`), the
//! public status document, the proof of the draw and the integrity report. The admission
//! controller (`controller`) moves the line; the pure rules live in `model::draw` (the fair
//! start) and `model::policy` (admission, ETA, polling); `model::admission` signs and checks the
//! tokens a claim spends.
//!
//! Flow: a shopper joins once (`POST /drops/{id}/queue`: one ticket per shopper per drop, by the
//! ticket's key). Everyone who joins before `starts_at` is in the cohort, ordered at the start by
//! the committed seed; later joiners are numbered in arrival order after them. The controller
//! admits tickets strictly in position order, as many as the stock can serve; an admitted ticket
//! carries a signed token, and the claim spends it (the ticket moves to `claimed` in the claim's
//! own transaction). An admission unused in `admission_seconds` expires and its slot passes on.

pub mod controller;
pub mod ticket;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::domain::body;
use crate::domain::limits::{self, Gate};
use crate::domain::retry::{Again, Retry};
use crate::error::{ApiError, Result};
use crate::model::draw;
use crate::model::drop::{DropSpec, UnitCounts};
use crate::model::policy::{self, Standing};
use crate::model::pow;
use crate::model::queue::{Phase, QueueState, Section, Ticket};
use crate::model::requester::Requester;
use crate::store::keys::QUEUE_STRIPES;
use crate::store::queue::JoinOutcome;
use ticket::TicketView;

/// `GET /drops/{id}/queue`: the same for everyone, cached at the edge for a second.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueStatus {
    pub drop_id: String,
    pub phase: Phase,
    pub opens_at: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub seed_commitment: String,
    /// Revealed with the draw at `draw_at`.
    pub seed: Option<String>,
    pub cohort_size: Option<u64>,
    /// When the pre-queue is drawn: `starts_at`, or a raffle's `entries_close_at`.
    pub draw_at: DateTime<Utc>,
    /// Drawn ahead of the cohort (early access), once drawn.
    pub early_cohort_size: Option<u64>,
    pub serving: u64,
    pub waiting: u64,
    pub admitted_per_minute: u64,
    pub available: i64,
    pub poll_after_ms: u64,
}

/// `GET /drops/{id}/queue/proof`: the manifest of the draw's proof — the seed and, for each
/// drawn section, its pages (one per group: the tickets whose draw key starts with the page's two
/// hex characters, in position order) with their SHA-256. Immutable once the cohort is drawn.
#[derive(Debug, Clone, Serialize)]
pub struct DrawProof {
    pub drop_id: String,
    pub seed: String,
    pub seed_commitment: String,
    /// The early-access cohort, from position 1 (empty without early access).
    pub early: ProofSection,
    /// The cohort, after the early cohort.
    pub cohort: ProofSection,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProofSection {
    pub start: u64,
    pub size: u64,
    /// The non-empty pages, in order.
    pub pages: Vec<ProofPageLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProofPageLink {
    pub name: String,
    /// Relative to the API's base URL.
    pub url: String,
    pub count: u64,
    pub sha256: String,
}

/// `GET /drops/{id}/queue/proof/{page}`: one page's body (ticket ids, one per line) and its
/// SHA-256.
#[derive(Debug, Clone)]
pub struct ProofPage {
    pub body: String,
    pub sha256: String,
}

/// What the integrity report counts, per drop (striped counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    JoinReceived,
    Ticket,
    OneTicket,
    PowMissing,
    PowInvalid,
    PowReplayed,
    JoinRateLimited,
    JoinNotOpen,
    JoinClosed,
    Challenge,
    ChallengeRateLimited,
    ClaimAdmissionMissing,
    ClaimAdmissionInvalid,
    ClaimRateLimited,
    /// An admitted ticket claimed (counted in the claim's own transaction).
    AdmissionClaim,
}

impl Count {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JoinReceived => "joins_received",
            Self::Ticket => "tickets",
            Self::OneTicket => "one_ticket",
            Self::PowMissing => "pow_missing",
            Self::PowInvalid => "pow_invalid",
            Self::PowReplayed => "pow_replayed",
            Self::JoinRateLimited => "join_rate_limited",
            Self::JoinNotOpen => "join_not_open",
            Self::JoinClosed => "join_closed",
            Self::Challenge => "challenges",
            Self::ChallengeRateLimited => "challenge_rate_limited",
            Self::ClaimAdmissionMissing => "claim_admission_missing",
            Self::ClaimAdmissionInvalid => "claim_admission_invalid",
            Self::ClaimRateLimited => "claim_rate_limited",
            Self::AdmissionClaim => crate::store::keys::ADMISSION_CLAIMS,
        }
    }
}

/// Counts what happened to a request for the integrity report. Best effort: a counter that
/// fails to write is logged, never turned into a failed request.
pub async fn count(app: &App, drop_id: &str, counts: &[Count]) {
    let stripe = rand::rng().random_range(0..QUEUE_STRIPES);
    let names: Vec<&str> = counts.iter().map(|count| count.as_str()).collect();
    if let Err(error) = app.store.count_queue_events(drop_id, stripe, &names).await {
        tracing::warn!(drop_id, error = %crate::error::chain(&error), "queue event not counted");
    }
}

/// `POST /drops/{id}/queue`: the shopper's ticket, created on the first call (`true`). In order:
/// the velocity limits, the one-ticket rule (a shopper who has one gets it back, no proof
/// needed), the queue's window, the proof of work (spent once), and only then a new ticket.
pub async fn join(
    app: &App,
    requester: Requester<'_>,
    drop_id: &str,
    body: Option<Value>,
    now: DateTime<Utc>,
) -> Result<(TicketView, bool)> {
    let started = Utc::now();
    let shopper = requester.shopper;
    let drop = queued_drop(app, drop_id).await?;
    let settings = drop.queue_settings()?;
    let altcha = parse_join(body)?;
    if let Err(error) = limits::check(
        app,
        &drop.id,
        settings,
        Gate::Join,
        shopper,
        requester.source_ip,
        now,
    )
    .await
    {
        count(
            app,
            &drop.id,
            &[Count::JoinReceived, Count::JoinRateLimited],
        )
        .await;
        return Err(error);
    }
    if let Some(ticket) = app.store.ticket(shopper, &drop.id).await? {
        count(app, &drop.id, &[Count::JoinReceived, Count::OneTicket]).await;
        return Ok((ticket::view(app, &drop, &ticket, now).await?, false));
    }
    if now < settings.opens_at {
        count(app, &drop.id, &[Count::JoinReceived, Count::JoinNotOpen]).await;
        return Err(ApiError::QueueNotOpen {
            opens_at: settings.opens_at,
        });
    }
    let line = app.store.queue_line(&drop).await?;
    // A raffle's entries close at the draw: nobody enters after the order is fixed.
    let raffle_closed = drop.raffle.is_some() && now >= drop.draw_at();
    if raffle_closed
        || matches!(
            drop.queue_phase(settings, line.counts, now),
            Phase::SoldOut | Phase::Ended
        )
    {
        count(app, &drop.id, &[Count::JoinReceived, Count::JoinClosed]).await;
        return Err(ApiError::QueueClosed);
    }
    if settings.proof_of_work {
        let config = app.config.pow.as_ref().ok_or(ApiError::QueueUnavailable)?;
        let refused = match pow::verify(config, altcha.as_deref(), &drop.id, shopper) {
            Err(pow::Refusal::Missing) => Some((Count::PowMissing, ApiError::PowRequired)),
            Err(pow::Refusal::Invalid) => Some((Count::PowInvalid, ApiError::PowInvalid)),
            Ok(verified) => (!app
                .store
                .spend_challenge(&verified.nonce, verified.expires_at)
                .await?)
                .then_some((Count::PowReplayed, ApiError::PowReplayed)),
        };
        if let Some((counted, error)) = refused {
            count(app, &drop.id, &[Count::JoinReceived, counted]).await;
            return Err(error);
        }
    }

    let stripe = rand::rng().random_range(0..QUEUE_STRIPES);
    let mut ticket = Ticket::waiting(&drop.id, shopper, now, stripe, false, false);
    let sort_key = draw::sort_key(&draw::draw_key(&line.state.seed, &ticket.id), &ticket.id);
    // Sections whose draw began before this join landed: it cannot enter them any more.
    let (mut fenced_early, mut fenced_cohort) = (false, false);
    let mut retry = Retry::new("join", 0);
    loop {
        // Stamped as it is written: the checks above take round trips, and a join slowed by them
        // must not be numbered ahead of one that landed before it.
        let stamp = now + (Utc::now() - started);
        ticket.joined_at = stamp;
        ticket.joined_at_us = stamp.timestamp_micros();
        ticket.cohort = !fenced_cohort && stamp < drop.draw_at();
        ticket.early = ticket.cohort
            && !fenced_early
            && drop.is_early_member(requester.groups)
            && drop.early_draw_at().is_some_and(|at| stamp < at);
        match app.store.put_ticket(&ticket, &sort_key).await? {
            JoinOutcome::Created => break,
            JoinOutcome::Contended => retry.again(Again::Contended).await?,
            JoinOutcome::Frozen if ticket.early => fenced_early = true,
            // A raffle's entries close when its draw begins.
            JoinOutcome::Frozen if drop.raffle.is_some() => {
                count(app, &drop.id, &[Count::JoinReceived, Count::JoinClosed]).await;
                return Err(ApiError::QueueClosed);
            }
            JoinOutcome::Frozen => fenced_cohort = true,
            // A parallel join of the same shopper got there first: theirs is the ticket.
            JoinOutcome::Exists => {
                count(app, &drop.id, &[Count::JoinReceived, Count::OneTicket]).await;
                let existing = app
                    .store
                    .ticket(shopper, &drop.id)
                    .await?
                    .ok_or_else(|| ApiError::invariant("a refused ticket is missing"))?;
                return Ok((ticket::view(app, &drop, &existing, now).await?, false));
            }
        }
    }
    count(app, &drop.id, &[Count::JoinReceived, Count::Ticket]).await;
    tracing::info!(drop_id = %drop.id, ticket_id = %ticket.id, cohort = ticket.cohort, "joined the queue");
    Ok((ticket::view(app, &drop, &ticket, now).await?, true))
}

/// The join body: `{"altcha": "<the widget's payload>"}`, or nothing when no proof is needed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct JoinBody {
    altcha: Option<String>,
}

/// The proof of work a join carries, if any.
fn parse_join(body: Option<Value>) -> Result<Option<String>> {
    let altcha_error = || {
        ApiError::invalid(
            "altcha",
            "altcha must be the proof-of-work payload the widget produces",
        )
    };
    let body: JoinBody = body::decode(body).map_err(|error| match error.field() {
        Some("altcha") => altcha_error(),
        _ => error,
    })?;
    match body.altcha {
        Some(payload) if payload.len() > 8 * 1024 => Err(altcha_error()),
        altcha => Ok(altcha),
    }
}

/// `GET /drops/{id}/challenge`: a proof-of-work challenge bound to this drop and shopper, as
/// hard as the drop's join rate of the last minute calls for.
pub async fn challenge(
    app: &App,
    requester: Requester<'_>,
    drop_id: &str,
    now: DateTime<Utc>,
) -> Result<altcha::Challenge> {
    let drop = queued_drop(app, drop_id).await?;
    let settings = drop.queue_settings()?;
    let config = app.config.pow.as_ref().ok_or(ApiError::QueueUnavailable)?;
    if let Err(error) = limits::check(
        app,
        &drop.id,
        settings,
        Gate::Challenge,
        requester.shopper,
        requester.source_ip,
        now,
    )
    .await
    {
        count(app, &drop.id, &[Count::ChallengeRateLimited]).await;
        return Err(error);
    }
    let line = app.store.queue_line(&drop).await?;
    let joins_last_minute = line.state.joins_last_minute(now.timestamp_millis());
    let challenge = pow::challenge(config, &drop.id, requester.shopper, joins_last_minute, now)
        .map_err(ApiError::invariant)?;
    count(app, &drop.id, &[Count::Challenge]).await;
    Ok(challenge)
}

/// `GET /drops/{id}/queue/me`.
pub async fn my_ticket(
    app: &App,
    shopper: &str,
    drop_id: &str,
    now: DateTime<Utc>,
) -> Result<TicketView> {
    let drop = queued_drop(app, drop_id).await?;
    drop.queue_settings()?;
    let ticket = app
        .store
        .ticket(shopper, &drop.id)
        .await?
        .ok_or(ApiError::NotInQueue)?;
    ticket::view(app, &drop, &ticket, now).await
}

/// `GET /drops/{id}/queue`.
pub async fn status(app: &App, drop_id: &str, now: DateTime<Utc>) -> Result<QueueStatus> {
    let drop = queued_drop(app, drop_id).await?;
    let settings = drop.queue_settings()?;
    let line = app.store.queue_line(&drop).await?;
    let phase = drop.queue_phase(settings, line.counts, now);
    let state = &line.state;
    let ms_to_start = (drop.draw_at() - now).num_milliseconds();
    // The status document is the same for everyone and cached at the edge: a page that only
    // watches asks it at most four times a minute; the shopper's own pace near the front comes
    // with their ticket.
    let poll_after_ms = match phase {
        Phase::Upcoming => ((settings.opens_at - now).num_milliseconds().max(0) as u64 / 2)
            .clamp(policy::WATCHING_POLL_MS, policy::MAX_POLL_MS),
        Phase::Prequeue => policy::poll_after_ms(Standing::BeforeStart { ms_to_start }, 0.0),
        Phase::Open | Phase::Paused => policy::WATCHING_POLL_MS,
        Phase::SoldOut | Phase::Ended => policy::MAX_POLL_MS,
    };
    Ok(QueueStatus {
        drop_id: drop.id.clone(),
        phase,
        opens_at: settings.opens_at,
        starts_at: drop.starts_at,
        seed_commitment: state.seed_commitment.clone(),
        seed: state.cohort_fixed.then(|| state.seed.clone()),
        cohort_size: state.cohort_fixed.then_some(state.cohort_size),
        draw_at: drop.draw_at(),
        early_cohort_size: state.early_drawn.then_some(state.early_size),
        serving: state.serving,
        waiting: line
            .joins
            .max(state.sequenced)
            .saturating_sub(state.serving),
        admitted_per_minute: state.admitted_since(now.timestamp_millis() - 60_000),
        available: line.counts.available,
        poll_after_ms,
    })
}

/// `GET /drops/{id}/queue/proof`: after the draw.
pub async fn proof(app: &App, drop_id: &str, now: DateTime<Utc>) -> Result<DrawProof> {
    let (drop, state) = drawn_queue(app, drop_id, now).await?;
    let early = if state.early_drawn {
        proof_section(app, &drop.id, Section::Early, 1).await?
    } else {
        ProofSection {
            start: 1,
            size: 0,
            pages: Vec::new(),
        }
    };
    let cohort = proof_section(app, &drop.id, Section::Cohort, state.cohort_start()).await?;
    Ok(DrawProof {
        drop_id: drop.id.clone(),
        seed: state.seed.clone(),
        seed_commitment: state.seed_commitment.clone(),
        early,
        cohort,
    })
}

async fn proof_section(
    app: &App,
    drop_id: &str,
    section: Section,
    start: u64,
) -> Result<ProofSection> {
    let groups = app.store.drawn_groups(drop_id, section).await?;
    Ok(ProofSection {
        start,
        size: groups.iter().map(|group| group.count).sum(),
        pages: groups
            .iter()
            .filter(|group| group.count > 0)
            .map(|group| {
                let name = proof_page_name(section, group.group);
                ProofPageLink {
                    url: format!("/drops/{drop_id}/queue/proof/{name}"),
                    name,
                    count: group.count,
                    sha256: group.sha256.clone(),
                }
            })
            .collect(),
    })
}

fn proof_page_name(section: Section, group: u8) -> String {
    format!("{}-{group:02x}", section.letter())
}

/// `GET /drops/{id}/queue/proof/{page}`: after the draw.
pub async fn proof_page(
    app: &App,
    drop_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<ProofPage> {
    let (drop, state) = drawn_queue(app, drop_id, now).await?;
    let (section, group) = parse_proof_page_name(name).ok_or(ApiError::NotFound("proof page"))?;
    if section == Section::Early && !state.early_drawn {
        return Err(ApiError::NotFound("proof page"));
    }
    let groups = app.store.drawn_groups(&drop.id, section).await?;
    let record = groups
        .iter()
        .find(|record| record.group == group && record.count > 0)
        .ok_or(ApiError::NotFound("proof page"))?;
    let mut ids = Vec::with_capacity(record.count as usize);
    for page in app.store.order_pages(&drop.id, section, group).await? {
        ids.extend(page.entries.into_iter().map(|(ticket_id, _)| ticket_id));
    }
    let body = draw::page_body(ids.iter().map(String::as_str));
    let sha256 = draw::page_sha256(&body);
    if sha256 != record.sha256 {
        return Err(ApiError::invariant(
            "a proof page differs from what its draw recorded",
        ));
    }
    Ok(ProofPage { body, sha256 })
}

/// `e-3f` → (early, 0x3f); anything else is no page.
fn parse_proof_page_name(name: &str) -> Option<(Section, u8)> {
    let (letter, hex) = name.split_once('-')?;
    let section = match letter {
        "e" => Section::Early,
        "m" => Section::Cohort,
        _ => return None,
    };
    let valid = hex.len() == 2
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    valid
        .then(|| u8::from_str_radix(hex, 16).ok())
        .flatten()
        .map(|group| (section, group))
}

/// A queued drop whose cohort is drawn, with its state; `draw_pending` before.
async fn drawn_queue(
    app: &App,
    drop_id: &str,
    now: DateTime<Utc>,
) -> Result<(Arc<DropSpec>, QueueState)> {
    let drop = queued_drop(app, drop_id).await?;
    drop.queue_settings()?;
    let line = app.store.queue_line(&drop).await?;
    if now < drop.draw_at() || !line.state.cohort_fixed {
        return Err(ApiError::DrawPending {
            starts_at: drop.draw_at(),
        });
    }
    Ok((drop, line.state.clone()))
}

/// `GET /drops/{id}/integrity`: what each layer let through and refused, and the draw's digest,
/// so a shop can answer "were bots let in?" with numbers.
#[derive(Debug, Clone, Serialize)]
pub struct IntegrityReport {
    pub drop_id: String,
    pub generated_at: DateTime<Utc>,
    pub joins: JoinCounts,
    pub challenges: ChallengeCounts,
    pub claims: ClaimCounts,
    /// Tickets admitted (the serving position).
    pub admitted: u64,
    /// Admitted tickets that claimed.
    pub claimed: u64,
    /// Admissions that expired unused.
    pub expired_unused: u64,
    pub units_sold: i64,
    pub units_held: i64,
    /// Lowercase hex SHA-256 of the proof's manifest as published (`/queue/proof`), once drawn.
    pub draw_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JoinCounts {
    pub received: u64,
    pub tickets: u64,
    pub cohort: u64,
    pub after_open: u64,
    pub refused: JoinRefusals,
}

#[derive(Debug, Clone, Serialize)]
pub struct JoinRefusals {
    /// Joins before the queue opened.
    pub not_open: u64,
    /// Joins after a raffle's entries closed, or once the drop sold out or ended.
    pub closed: u64,
    pub proof_missing: u64,
    pub proof_invalid: u64,
    pub proof_replayed: u64,
    pub rate_limited: u64,
    /// Joins of shoppers who already had a ticket (answered with it).
    pub one_ticket: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChallengeCounts {
    pub issued: u64,
    pub rate_limited: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimCounts {
    pub refused: ClaimRefusals,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimRefusals {
    pub admission_missing: u64,
    pub admission_invalid: u64,
    pub rate_limited: u64,
}

pub async fn integrity(app: &App, drop_id: &str, now: DateTime<Utc>) -> Result<IntegrityReport> {
    let drop = queued_drop(app, drop_id).await?;
    drop.queue_settings()?;
    if now < drop.draw_at() {
        return Err(ApiError::DropNotLive {
            reason: "the integrity report is published once the drop is drawn",
            starts_at: drop.starts_at,
            ends_at: drop.ends_at,
        });
    }
    let counters = app.store.queue_counters(&drop.id).await?;
    let get = |count: Count| counters.get(count.as_str()).copied().unwrap_or(0);
    let state = app
        .store
        .queue_state(&drop.id)
        .await?
        .ok_or_else(|| ApiError::invariant("a queued drop has no queue state"))?;
    let counts = UnitCounts::sum(&app.store.shards(&drop, true).await?);
    let draw_sha256 = if state.cohort_fixed {
        let proof = proof(app, &drop.id, now).await?;
        let bytes = serde_json::to_vec(&proof).expect("the proof serializes");
        Some(hex::encode(Sha256::digest(bytes)))
    } else {
        None
    };
    Ok(IntegrityReport {
        drop_id: drop.id.clone(),
        generated_at: now,
        joins: JoinCounts {
            received: get(Count::JoinReceived),
            tickets: get(Count::Ticket),
            cohort: state.early_size + state.cohort_size,
            after_open: state
                .sequenced
                .saturating_sub(state.early_size + state.cohort_size),
            refused: JoinRefusals {
                not_open: get(Count::JoinNotOpen),
                closed: get(Count::JoinClosed),
                proof_missing: get(Count::PowMissing),
                proof_invalid: get(Count::PowInvalid),
                proof_replayed: get(Count::PowReplayed),
                rate_limited: get(Count::JoinRateLimited),
                one_ticket: get(Count::OneTicket),
            },
        },
        challenges: ChallengeCounts {
            issued: get(Count::Challenge),
            rate_limited: get(Count::ChallengeRateLimited),
        },
        claims: ClaimCounts {
            refused: ClaimRefusals {
                admission_missing: get(Count::ClaimAdmissionMissing),
                admission_invalid: get(Count::ClaimAdmissionInvalid),
                rate_limited: get(Count::ClaimRateLimited),
            },
        },
        admitted: state.serving,
        claimed: get(Count::AdmissionClaim),
        expired_unused: state.expired,
        units_sold: counts.sold,
        units_held: counts.held,
        draw_sha256,
    })
}

async fn queued_drop(app: &App, drop_id: &str) -> Result<Arc<DropSpec>> {
    app.store
        .drop(drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))
}
