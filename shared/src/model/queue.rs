//! What the waiting room stores: a drop's queue settings, its shared state, tickets, members, the
//! drawn order's pages and groups, arrival pages; and the phase its line is in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `queue` of a drop: it is queued when present.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueSettings {
    /// When shoppers may join (≤ `starts_at`); everyone who joins before `starts_at` is drawn.
    pub opens_at: DateTime<Utc>,
    /// A cap on admissions per minute, on top of what the stock allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admit_per_minute: Option<u32>,
    /// How long an admission lasts before its slot passes on.
    pub admission_seconds: u32,
    /// Whether joining needs a proof of work.
    pub proof_of_work: bool,
    /// Joins a minute allowed from one source IP (shared IPs: campus, carrier NAT).
    #[serde(default = "default_ip_joins_per_minute")]
    pub ip_joins_per_minute: u32,
}

pub const DEFAULT_IP_JOINS_PER_MINUTE: u32 = 300;

fn default_ip_joins_per_minute() -> u32 {
    DEFAULT_IP_JOINS_PER_MINUTE
}

pub const DEFAULT_ADMISSION_SECONDS: u32 = 120;

/// Where a queued drop's line stands (`DropSpec::queue_phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Upcoming,
    Prequeue,
    Open,
    /// The shop paused admissions (shown instead of `prequeue` or `open`).
    Paused,
    SoldOut,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Waiting,
    Admitted,
    Claimed,
    /// Admitted, did not claim in time: the slot passed on.
    Expired,
    /// Stock and holds are gone, or the drop ended (never stored: read so).
    Closed,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Admitted => "admitted",
            Self::Claimed => "claimed",
            Self::Expired => "expired",
            Self::Closed => "closed",
        }
    }
}

/// A shopper's place in a drop's queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ticket {
    pub id: String,
    pub drop_id: String,
    pub shopper: String,
    pub joined_at: DateTime<Utc>,
    /// Microseconds: the arrival order of joins after the start.
    pub joined_at_us: i64,
    /// Joined before the draw (`starts_at`, a raffle's `entries_close_at`): placed by it.
    pub cohort: bool,
    /// Joined before the early draw as a member of an early-access group: placed by it, ahead
    /// of everyone else.
    #[serde(default)]
    pub early: bool,
    pub stripe: u32,
    /// Set by the sequencer for tickets not placed by the draw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    pub status: TicketStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admitted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission_expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission_expires_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<String>,
}

impl Ticket {
    /// A new ticket, waiting: placed by its draw if `cohort` (in the early cohort if `early`),
    /// numbered on arrival otherwise.
    pub fn waiting(
        drop_id: &str,
        shopper: &str,
        joined_at: DateTime<Utc>,
        stripe: u32,
        cohort: bool,
        early: bool,
    ) -> Self {
        Self {
            id: super::ids::new_id(),
            drop_id: drop_id.to_string(),
            shopper: shopper.to_string(),
            joined_at,
            joined_at_us: joined_at.timestamp_micros(),
            cohort,
            early,
            stripe,
            position: None,
            status: TicketStatus::Waiting,
            admitted_at: None,
            admission_expires_at: None,
            admission_expires_at_ms: None,
            reservation_id: None,
        }
    }
}

/// A member item: who joined, for the draw or the sequencer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    pub ticket_id: String,
    pub shopper: String,
    pub joined_at_us: i64,
    /// In the early-access cohort.
    #[serde(default)]
    pub early: bool,
}

/// Consecutive positions from `start`: `entries[i]` holds position `start + i`. A drawn group's
/// order as the controller reads it, or one page of arrivals numbered after the draw.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderChunk {
    pub start: u64,
    /// `(ticket id, shopper)`.
    pub entries: Vec<(String, String)>,
}

impl OrderChunk {
    pub fn end(&self) -> u64 {
        self.start + self.entries.len() as u64 - 1
    }

    pub fn at(&self, position: u64) -> Option<&(String, String)> {
        self.entries.get(position.checked_sub(self.start)? as usize)
    }
}

/// The two drawn parts of a line: the early-access cohort (positions from 1) and the cohort that
/// follows it. Each is drawn by the same rule, among its own members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Early,
    Cohort,
}

impl Section {
    /// The letter of its keys and proof pages (`e-3f`, `m-3f`).
    pub fn letter(self) -> char {
        match self {
            Self::Early => 'e',
            Self::Cohort => 'm',
        }
    }

    pub fn of_member(early: bool) -> Self {
        if early { Self::Early } else { Self::Cohort }
    }
}

/// One stored page of a drawn group: consecutive entries in draw order, `offset` positions after
/// its group's first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderPage {
    pub offset: u64,
    /// `(ticket id, shopper)`.
    pub entries: Vec<(String, String)>,
}

/// What the draw recorded of one group (the members whose draw key starts with the same two hex
/// characters): its size, the SHA-256 of its proof page, and — once the whole section is drawn —
/// its first position.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DrawGroup {
    pub section: Section,
    pub group: u8,
    pub count: u64,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
}

impl DrawGroup {
    /// The record of a group nobody joined (never stored: a missing record reads as this).
    pub fn empty(section: Section, group: u8) -> Self {
        Self {
            section,
            group,
            count: 0,
            sha256: super::draw::page_sha256(""),
            start: None,
        }
    }
}

/// A draw in progress, saved in the queue state after every step so that any controller resumes
/// it where the last one stopped: first the joins of the section are frozen, then each group is
/// drawn in turn, then the groups' first positions are fixed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DrawJob {
    pub section: Section,
    pub frozen: bool,
    /// The next group to draw (`GROUPS` when every group is drawn).
    pub next_group: u16,
    /// Groups before this one may hold pages of an attempt that died: a redo replaces them.
    #[serde(default)]
    pub started_through: u16,
}

/// The queue's shared state: written only by the admission controller.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueState {
    pub drop_id: String,
    /// Secret until `starts_at`; revealed with the draw.
    pub seed: String,
    pub seed_commitment: String,
    pub cohort_fixed: bool,
    pub cohort_size: u64,
    /// The early-access cohort was drawn: it holds positions `1..=early_size`, and the cohort
    /// follows it.
    #[serde(default)]
    pub early_drawn: bool,
    #[serde(default)]
    pub early_size: u64,
    /// The highest position assigned.
    pub sequenced: u64,
    /// The highest position admitted (admission is strictly in position order).
    pub serving: u64,
    /// Every position up to here has claimed or expired.
    pub settled_through: u64,
    /// Of the settled positions: how many claimed and how many let their admission expire.
    pub claimed: u64,
    pub expired: u64,
    /// `(at_ms, serving)` after each admission, for the measured rate (last few minutes).
    pub samples: Vec<(i64, u64)>,
    /// `(at_ms, tickets made)` each tick, last two minutes: the join rate behind the
    /// proof-of-work difficulty.
    #[serde(default)]
    pub join_samples: Vec<(i64, u64)>,
    /// Admitted tickets that had neither claimed nor expired at the last tick.
    #[serde(default)]
    pub outstanding: u64,
    /// Admissions not yet settled, a batch per tick that admitted: `(expires_at_ms, last
    /// position)`, in position order (a few minutes' worth at most).
    #[serde(default)]
    pub admissions: Vec<(i64, u64)>,
    /// Positions up to here are written on their tickets (arrival pages committed with
    /// `sequenced` are projected onto tickets after the commit; a tick redoes what a dead one
    /// left).
    #[serde(default)]
    pub projected_through: u64,
    /// The draw under way, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw_job: Option<DrawJob>,
    /// The draw's lease: another controller leaves the draw alone until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawing_until: Option<DateTime<Utc>>,
    /// The controller holding the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawing_by: Option<String>,
    pub version: u64,
    /// Something in memory changed that must be saved (not stored).
    #[serde(skip)]
    pub dirty: bool,
}

impl QueueState {
    pub fn new(drop_id: &str, seed: String, seed_commitment: String) -> Self {
        Self {
            drop_id: drop_id.to_string(),
            seed,
            seed_commitment,
            cohort_fixed: false,
            cohort_size: 0,
            early_drawn: false,
            early_size: 0,
            sequenced: 0,
            serving: 0,
            settled_through: 0,
            claimed: 0,
            expired: 0,
            samples: Vec::new(),
            join_samples: Vec::new(),
            outstanding: 0,
            admissions: Vec::new(),
            projected_through: 0,
            draw_job: None,
            drawing_until: None,
            drawing_by: None,
            version: 0,
            dirty: false,
        }
    }

    /// The cohort's first position: after the early cohort.
    pub fn cohort_start(&self) -> u64 {
        self.early_size + 1
    }

    /// Admission may run: the cohort, or at least the early cohort, is drawn.
    pub fn admitting(&self) -> bool {
        self.cohort_fixed || self.early_drawn
    }

    /// The share of ended admissions that went unused.
    pub fn no_show_rate(&self) -> Option<f64> {
        let ended = self.claimed + self.expired;
        (ended > 0).then(|| self.expired as f64 / ended as f64)
    }

    /// Admissions since `since_ms`.
    pub fn admitted_since(&self, since_ms: i64) -> u64 {
        let before = self
            .samples
            .iter()
            .take_while(|(at, _)| *at <= since_ms)
            .last()
            .map_or(0, |(_, serving)| *serving);
        self.serving.saturating_sub(before)
    }

    /// Tickets made during the minute before `now_ms`.
    pub fn joins_last_minute(&self, now_ms: i64) -> u64 {
        let latest = self.join_samples.last().map_or(0, |(_, total)| *total);
        let before = self
            .join_samples
            .iter()
            .take_while(|(at, _)| *at <= now_ms - 60_000)
            .last()
            .or(self.join_samples.first())
            .map_or(0, |(_, total)| *total);
        latest.saturating_sub(before)
    }

    /// Records the tickets made so far, keeping two minutes of history.
    pub fn record_joins(&mut self, now_ms: i64, total: u64) {
        if self
            .join_samples
            .last()
            .is_some_and(|(_, last)| *last == total)
        {
            return;
        }
        self.join_samples.push((now_ms, total));
        self.join_samples.retain(|(at, _)| now_ms - at <= 120_000);
        self.dirty = true;
    }

    /// Records an admission and forgets history older than the rate window, keeping one sample
    /// from before it as the baseline.
    pub fn record_serving(&mut self, now_ms: i64, window_ms: i64) {
        self.samples.push((now_ms, self.serving));
        let old = self
            .samples
            .iter()
            .take_while(|(at, _)| now_ms - at > window_ms)
            .count();
        if old > 1 {
            self.samples.drain(..old - 1);
        }
    }
}
