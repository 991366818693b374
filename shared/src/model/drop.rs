//! A drop: its settings as stored, the inventory shards its units are spread over, the unit
//! counts and status shoppers see, and the record of what admins did to it. Pure rules only
//! (when it opens, what a claim may pass, the price in force); reading and writing are the
//! store's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, Result};
use crate::model::ids;
use crate::model::queue::{Phase, QueueSettings};

/// BatchGetItem reads at most 100 keys; a claim reads every shard in one call.
pub const MAX_SHARDS: u32 = 32;
/// Units per shard the default shard count aims for: enough shards that no single item takes
/// the whole drop's writes, few enough that reading them all stays one cheap batch.
const UNITS_PER_SHARD: u32 = 10;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Price {
    /// Minor units (cents), as Stripe counts.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: String,
}

/// How shoppers reach a drop's claim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropMode {
    /// First come, first served at the claim itself.
    #[default]
    Claim,
    /// A waiting room: a drawn pre-queue, then arrival order.
    Queue,
    /// Entries until `entries_close_at`, all drawn; winners up to the stock are admitted.
    Raffle,
}

impl DropMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "claim" => Some(Self::Claim),
            "queue" => Some(Self::Queue),
            "raffle" => Some(Self::Raffle),
            _ => None,
        }
    }
}

/// `raffle` of a raffle drop.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RaffleSettings {
    /// Entries close and are drawn here (not before `starts_at`).
    pub entries_close_at: DateTime<Utc>,
    /// How long a win may be claimed before it passes to the next entry.
    pub claim_window_seconds: u32,
}

/// Members of `group` (the token's `cognito:groups`) may claim — or, on a queued drop, join a
/// cohort drawn and admitted before everyone else's — from `starts_at`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EarlyAccess {
    pub group: String,
    pub starts_at: DateTime<Utc>,
}

/// From `at`, the drop's unit price is `amount` (in the drop's currency).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PricePoint {
    pub at: DateTime<Utc>,
    pub amount: i64,
}

/// A drop as stored. Its settings change only until it opens (`PATCH`, under `version`), and its
/// `paused` flag at any time; a container caches it for a second.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DropSpec {
    pub id: String,
    pub name: String,
    pub description: String,
    pub price: Price,
    pub total_units: u32,
    pub starts_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    pub per_user_limit: u32,
    pub hold_seconds: u32,
    pub shard_count: u32,
    pub created_at: DateTime<Utc>,
    /// Present for a queued drop: shoppers join a waiting room and claim with an admission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueSettings>,
    #[serde(default)]
    pub mode: DropMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raffle: Option<RaffleSettings>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub early_access: Vec<EarlyAccess>,
    /// Ascending by `at`; before the first point the price is `price`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub price_schedule: Vec<PricePoint>,
    /// The shop's brake: no admissions (and no claims on a drop without a queue) while set.
    #[serde(default)]
    pub paused: bool,
    /// Raised by every change: an edit names the version it was based on.
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropStatus {
    Upcoming,
    Live,
    SoldOut,
    Ended,
}

/// Live unit counts summed over the drop's inventory shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UnitCounts {
    pub available: i64,
    pub held: i64,
    pub sold: i64,
}

/// One inventory shard: a slice of a drop's units under its own partition key. The sale window
/// is copied here so a claim's transaction checks it without touching the drop's own item.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Shard {
    pub drop_id: String,
    pub shard: u32,
    pub units: u32,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    pub starts_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at_ms: Option<i64>,
    /// The earliest early-access start: members of an early group claim from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_at_ms: Option<i64>,
    /// Claims refused (drops without a queue): the operator's pause, checked by the claim's
    /// transaction, so it holds at once whatever a container has cached.
    #[serde(default)]
    pub paused: bool,
}

/// What a claim may pass on the shards: the transaction checks exactly this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimGate {
    /// The shopper belongs to an early-access group.
    pub early: bool,
    /// The pause stops this claim (a drop without a queue; admitted shoppers of a queued drop
    /// keep their admission).
    pub pause_applies: bool,
}

impl Shard {
    /// Whether a claim through `gate` passes this shard's sale window and pause at `now_ms`.
    pub fn admits(&self, gate: ClaimGate, now_ms: i64) -> bool {
        let started = self.starts_at_ms <= now_ms
            || (gate.early && self.early_at_ms.is_some_and(|early| early <= now_ms));
        let open = self.ends_at_ms.is_none_or(|end| end > now_ms);
        started && open && !(gate.pause_applies && self.paused)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DropView {
    #[serde(flatten)]
    pub drop: DropSpec,
    #[serde(flatten)]
    pub counts: UnitCounts,
    pub status: DropStatus,
    /// The price a hold made now would lock in (the schedule's step in force).
    pub price_now: Price,
}

impl DropSpec {
    pub fn status(&self, counts: UnitCounts, now: DateTime<Utc>) -> DropStatus {
        if now < self.starts_at {
            DropStatus::Upcoming
        } else if self.ends_at.is_some_and(|end| now >= end) {
            DropStatus::Ended
        } else if counts.available <= 0 {
            DropStatus::SoldOut
        } else {
            DropStatus::Live
        }
    }

    /// The unit price in force at `at`: the last schedule step at or before it, else `price`.
    pub fn price_at(&self, at: DateTime<Utc>) -> Price {
        let amount = self
            .price_schedule
            .iter()
            .take_while(|point| point.at <= at)
            .last()
            .map_or(self.price.amount, |point| point.amount);
        Price {
            amount,
            currency: self.price.currency.clone(),
        }
    }

    /// When the queue's pre-queue is drawn: a raffle's `entries_close_at`, else `starts_at`.
    pub fn draw_at(&self) -> DateTime<Utc> {
        self.raffle
            .as_ref()
            .map_or(self.starts_at, |raffle| raffle.entries_close_at)
    }

    /// On a queued drop with early access: when the early cohort is drawn and admitted (its
    /// groups share one start).
    pub fn early_draw_at(&self) -> Option<DateTime<Utc>> {
        self.queue.as_ref()?;
        self.early_access.iter().map(|early| early.starts_at).min()
    }

    pub fn is_early_member(&self, groups: &[String]) -> bool {
        self.early_access
            .iter()
            .any(|early| groups.contains(&early.group))
    }

    /// When a shopper in `groups` may claim: their earliest early-access start, else `starts_at`.
    pub fn starts_for(&self, groups: &[String]) -> DateTime<Utc> {
        self.early_access
            .iter()
            .filter(|early| groups.contains(&early.group))
            .map(|early| early.starts_at)
            .fold(self.starts_at, DateTime::min)
    }

    /// The first moment anything is open: the queue, an early group, or the sale.
    pub fn opens_at(&self) -> DateTime<Utc> {
        let sale = self
            .early_access
            .iter()
            .map(|early| early.starts_at)
            .fold(self.starts_at, DateTime::min);
        self.queue
            .as_ref()
            .map_or(sale, |queue| queue.opens_at.min(sale))
    }

    /// Once opened, the settings are what shoppers were shown: they can no longer change.
    pub fn has_opened(&self, now: DateTime<Utc>) -> bool {
        now >= self.opens_at()
    }

    /// How long an admission lasts: a raffle's claim window, else the queue's setting.
    pub fn admission_seconds(&self) -> u32 {
        match (&self.raffle, &self.queue) {
            (Some(raffle), _) => raffle.claim_window_seconds,
            (None, Some(queue)) => queue.admission_seconds,
            (None, None) => 0,
        }
    }

    /// The queue settings of a queued drop, or `400 not_queued`.
    pub fn queue_settings(&self) -> Result<&QueueSettings> {
        self.queue.as_ref().ok_or(ApiError::NotQueued)
    }

    /// Where a queued drop's line stands at `now`, given its stock.
    pub fn queue_phase(
        &self,
        settings: &QueueSettings,
        counts: UnitCounts,
        now: DateTime<Utc>,
    ) -> Phase {
        if self.ends_at.is_some_and(|end| now >= end) {
            Phase::Ended
        } else if now < settings.opens_at {
            Phase::Upcoming
        } else if now >= self.draw_at() && counts.available + counts.held <= 0 {
            Phase::SoldOut
        } else if self.paused {
            Phase::Paused
        } else if now < self.draw_at() {
            Phase::Prequeue
        } else {
            Phase::Open
        }
    }

    /// The most units one shopper may hold or buy. A raffle admits exactly as many winners as
    /// it has units, so a win is for one unit: with more, the first winners to claim would take
    /// the units of the later ones. New raffles cannot set more (`per_user_limit` is refused);
    /// this also holds for raffles stored before that rule.
    pub fn units_per_shopper(&self) -> u32 {
        match self.mode {
            DropMode::Raffle => 1,
            _ => self.per_user_limit,
        }
    }

    /// What the shards check for a claim by a shopper in `groups`.
    pub fn claim_gate(&self, groups: &[String]) -> ClaimGate {
        ClaimGate {
            early: self.is_early_member(groups),
            pause_applies: self.queue.is_none(),
        }
    }

    /// `Ok` when a shopper in `groups` may claim at `now`: started (for them), not ended, not
    /// paused where the pause stops claims.
    pub fn ensure_claimable(&self, groups: &[String], now: DateTime<Utc>) -> Result<()> {
        if self.paused && self.queue.is_none() {
            return Err(ApiError::DropPaused);
        }
        self.ensure_live_from(self.starts_for(groups), now)
    }

    /// `Ok` when the sale is open to everyone at `now`.
    pub fn ensure_live(&self, now: DateTime<Utc>) -> Result<()> {
        self.ensure_live_from(self.starts_at, now)
    }

    fn ensure_live_from(&self, starts_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
        let reason = if now < starts_at {
            "the drop has not started yet"
        } else if self.ends_at.is_some_and(|end| now >= end) {
            "the drop has ended"
        } else {
            return Ok(());
        };
        Err(ApiError::DropNotLive {
            reason,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
        })
    }

    /// Splits the units as evenly as possible over the shards (the first ones take the rest).
    pub fn initial_shards(&self) -> Vec<Shard> {
        let base = self.total_units / self.shard_count;
        let extra = self.total_units % self.shard_count;
        (0..self.shard_count)
            .map(|shard| {
                let units = base + u32::from(shard < extra);
                Shard {
                    drop_id: self.id.clone(),
                    shard,
                    units,
                    available: i64::from(units),
                    held: 0,
                    sold: 0,
                    starts_at_ms: self.starts_at.timestamp_millis(),
                    ends_at_ms: self.ends_at.map(|end| end.timestamp_millis()),
                    early_at_ms: self.early_at_ms(),
                    paused: self.paused && self.queue.is_none(),
                }
            })
            .collect()
    }

    /// The shards' copy of the earliest early-access start.
    pub fn early_at_ms(&self) -> Option<i64> {
        self.early_access
            .iter()
            .map(|early| early.starts_at.timestamp_millis())
            .min()
    }

    pub fn view(self, shards: &[Shard], now: DateTime<Utc>) -> DropView {
        let counts = UnitCounts::sum(shards);
        let status = self.status(counts, now);
        let price_now = self.price_at(now);
        DropView {
            drop: self,
            counts,
            status,
            price_now,
        }
    }
}

impl UnitCounts {
    pub fn sum(shards: &[Shard]) -> Self {
        shards.iter().fold(Self::default(), |acc, shard| Self {
            available: acc.available + shard.available,
            held: acc.held + shard.held,
            sold: acc.sold + shard.sold,
        })
    }
}

pub fn default_shard_count(total_units: u32) -> u32 {
    total_units.div_ceil(UNITS_PER_SHARD).clamp(1, MAX_SHARDS)
}

/// One thing an admin did to a drop: who, what, when (`GET /admin/drops/{id}/events`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdminEvent {
    pub drop_id: String,
    pub id: String,
    pub at: DateTime<Utc>,
    /// The admin's `sub`.
    pub actor: String,
    pub action: AdminAction,
    /// The settings sent (created, updated); the version reached (paused, resumed).
    #[serde(default)]
    pub details: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    Created,
    Updated,
    Paused,
    Resumed,
}

impl AdminEvent {
    pub fn new(
        drop_id: &str,
        actor: &str,
        action: AdminAction,
        details: Value,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            drop_id: drop_id.to_string(),
            id: ids::new_id(),
            at: now,
            actor: actor.to_string(),
            action,
            details,
        }
    }
}
