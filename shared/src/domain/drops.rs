//! Drops: creation with field-by-field validation, listing, and the live view with counts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::app::App;
use crate::domain::currency::{self, PriceProblem};
use crate::domain::ids;
use crate::domain::queue::draw;
use crate::domain::queue::model::{
    DEFAULT_ADMISSION_SECONDS, DEFAULT_IP_JOINS_PER_MINUTE, QueueSettings, QueueState,
};
use crate::error::{ApiError, Result};

pub const DEFAULT_HOLD_SECONDS: u32 = 600;
pub const MAX_HOLD_SECONDS: u32 = 3600;
pub const MAX_TOTAL_UNITS: u32 = 1_000_000;
pub const MAX_PER_USER_LIMIT: u32 = 100;
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
    fn parse(text: &str) -> Option<Self> {
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

pub const DEFAULT_CLAIM_WINDOW_SECONDS: u32 = 600;

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

const MAX_EARLY_GROUPS: usize = 10;
const MAX_PRICE_POINTS: usize = 50;

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

/// Validates a `POST /admin/drops` body field by field, so each mistake gets its own message.
pub fn parse_new_drop(body: Value, now: DateTime<Utc>) -> Result<DropSpec> {
    let Value::Object(mut fields) = body else {
        return Err(ApiError::invalid_body("the body must be a JSON object"));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !NEW_DROP_FIELDS.contains(&key.as_str()))
    {
        return Err(ApiError::invalid(
            unknown.clone(),
            format!("unknown field `{unknown}`"),
        ));
    }

    let name = required_string(&mut fields, "name", 1, 120)?;
    let description = match fields.remove("description") {
        None | Some(Value::Null) => String::new(),
        Some(value) => string_in(value, "description", 0, 2000)?,
    };
    let price = parse_price(fields.remove("price"))?;
    let total_units = required_integer(&mut fields, "total_units", 1, MAX_TOTAL_UNITS)?;
    let starts_at = match fields.remove("starts_at") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("starts_at", "starts_at is required"));
        }
        Some(value) => timestamp(value, "starts_at")?,
    };
    let ends_at = match fields.remove("ends_at") {
        None | Some(Value::Null) => None,
        Some(value) => Some(timestamp(value, "ends_at")?),
    };
    if let Some(end) = ends_at {
        if end <= starts_at {
            return Err(ApiError::invalid(
                "ends_at",
                "ends_at must be after starts_at",
            ));
        }
        if end <= now {
            return Err(ApiError::invalid(
                "ends_at",
                "ends_at must be in the future",
            ));
        }
    }
    let per_user_limit = optional_integer(
        &mut fields,
        "per_user_limit",
        1,
        MAX_PER_USER_LIMIT.min(total_units),
    )?
    .unwrap_or(1);
    let hold_seconds = optional_integer(&mut fields, "hold_seconds", 1, MAX_HOLD_SECONDS)?
        .unwrap_or(DEFAULT_HOLD_SECONDS);
    let shard_count = optional_integer(&mut fields, "shard_count", 1, MAX_SHARDS.min(total_units))?
        .unwrap_or_else(|| default_shard_count(total_units));
    let queue = match fields.remove("queue") {
        None | Some(Value::Null) => None,
        Some(value) => Some(parse_queue(value, starts_at)?),
    };
    if let Err(problem) = currency::check_price(&price.currency, price.amount, per_user_limit) {
        let field = match problem {
            PriceProblem::UnsupportedCurrency => "price.currency",
            _ => "price.amount",
        };
        return Err(ApiError::invalid(field, problem.message(&price.currency)));
    }
    let mode = parse_mode(fields.remove("mode"), queue.as_ref())?;
    let raffle = match fields.remove("raffle") {
        None | Some(Value::Null) if mode == DropMode::Raffle => {
            return Err(ApiError::invalid(
                "raffle",
                "a raffle needs raffle settings {\"entries_close_at\": <RFC 3339>, \"claim_window_seconds\": n}",
            ));
        }
        None | Some(Value::Null) => None,
        Some(_) if mode != DropMode::Raffle => {
            return Err(ApiError::invalid(
                "raffle",
                "raffle settings belong to a drop with \"mode\": \"raffle\"",
            ));
        }
        Some(value) => Some(parse_raffle(value, starts_at, ends_at)?),
    };
    let early_access = parse_early_access(fields.remove("early_access"), starts_at, &queue, mode)?;
    let price_schedule = parse_price_schedule(
        fields.remove("price_schedule"),
        &price.currency,
        per_user_limit,
    )?;

    Ok(DropSpec {
        id: ids::new_id(),
        name,
        description,
        price,
        total_units,
        starts_at,
        ends_at,
        per_user_limit,
        hold_seconds,
        shard_count,
        created_at: now,
        queue,
        mode,
        raffle,
        early_access,
        price_schedule,
        paused: false,
        version: 0,
    })
}

const NEW_DROP_FIELDS: [&str; 14] = [
    "name",
    "description",
    "price",
    "total_units",
    "starts_at",
    "ends_at",
    "per_user_limit",
    "hold_seconds",
    "shard_count",
    "queue",
    "mode",
    "raffle",
    "early_access",
    "price_schedule",
];

/// `mode` defaults to `queue` with a queue and `claim` without; the two must agree.
fn parse_mode(value: Option<Value>, queue: Option<&QueueSettings>) -> Result<DropMode> {
    let mode = match value {
        None | Some(Value::Null) => {
            return Ok(if queue.is_some() {
                DropMode::Queue
            } else {
                DropMode::Claim
            });
        }
        Some(Value::String(text)) => DropMode::parse(&text),
        Some(_) => None,
    }
    .ok_or_else(|| ApiError::invalid("mode", "mode must be \"claim\", \"queue\" or \"raffle\""))?;
    match (mode, queue) {
        (DropMode::Claim, Some(_)) => Err(ApiError::invalid(
            "mode",
            "a drop with a queue is claimed through it: mode \"queue\" or \"raffle\"",
        )),
        (DropMode::Queue | DropMode::Raffle, None) => Err(ApiError::invalid(
            "queue",
            "mode \"queue\" and \"raffle\" need queue settings (at least queue.opens_at)",
        )),
        _ => Ok(mode),
    }
}

/// `"raffle": {"entries_close_at", "claim_window_seconds"?}`.
fn parse_raffle(
    value: Value,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
) -> Result<RaffleSettings> {
    let mut fields = object_at(
        value,
        "raffle",
        "an object {\"entries_close_at\": <RFC 3339>, \"claim_window_seconds\": n}",
        &["entries_close_at", "claim_window_seconds"],
    )?;
    let entries_close_at = required_timestamp(&mut fields, "raffle", "entries_close_at")?;
    // Winners are admitted at the draw and claim at once: the sale must be open by then.
    if entries_close_at < starts_at {
        return Err(ApiError::invalid(
            "raffle.entries_close_at",
            "raffle.entries_close_at must not be before starts_at (winners claim from the draw)",
        ));
    }
    if ends_at.is_some_and(|end| entries_close_at >= end) {
        return Err(ApiError::invalid(
            "raffle.entries_close_at",
            "raffle.entries_close_at must be before ends_at",
        ));
    }
    let claim_window_seconds = optional_integer(&mut fields, "claim_window_seconds", 1, 3600)
        .map_err(|error| within("raffle", error))?
        .unwrap_or(DEFAULT_CLAIM_WINDOW_SECONDS);
    Ok(RaffleSettings {
        entries_close_at,
        claim_window_seconds,
    })
}

/// `"early_access": [{"group", "starts_at"}, …]`: before `starts_at`, one entry per group; on a
/// queued drop every group shares one start, when the early cohort is drawn.
fn parse_early_access(
    value: Option<Value>,
    starts_at: DateTime<Utc>,
    queue: &Option<QueueSettings>,
    mode: DropMode,
) -> Result<Vec<EarlyAccess>> {
    let entries = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(entries)) if entries.len() <= MAX_EARLY_GROUPS => entries,
        Some(_) => {
            return Err(ApiError::invalid(
                "early_access",
                format!(
                    "early_access must be a list of up to {MAX_EARLY_GROUPS} {{\"group\", \"starts_at\"}}"
                ),
            ));
        }
    };
    if mode == DropMode::Raffle && !entries.is_empty() {
        return Err(ApiError::invalid(
            "early_access",
            "a raffle draws every entry alike: it has no early access",
        ));
    }
    let mut early_access: Vec<EarlyAccess> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let path = format!("early_access[{i}]");
        let mut fields = object_at(
            entry,
            &path,
            "{\"group\": <Cognito group>, \"starts_at\": <RFC 3339>}",
            &["group", "starts_at"],
        )?;
        let group = required_string(&mut fields, "group", 1, 128).map_err(|e| within(&path, e))?;
        let early_start = required_timestamp(&mut fields, &path, "starts_at")?;
        if early_start >= starts_at {
            return Err(ApiError::invalid(
                format!("{path}.starts_at"),
                format!("{path}.starts_at must be before starts_at"),
            ));
        }
        if let Some(queue) = queue {
            if early_start < queue.opens_at {
                return Err(ApiError::invalid(
                    format!("{path}.starts_at"),
                    format!("{path}.starts_at must not be before queue.opens_at"),
                ));
            }
            if early_access
                .first()
                .is_some_and(|first| first.starts_at != early_start)
            {
                return Err(ApiError::invalid(
                    format!("{path}.starts_at"),
                    "on a queued drop every early group shares one starts_at (the early cohort's draw)",
                ));
            }
        }
        if early_access.iter().any(|early| early.group == group) {
            return Err(ApiError::invalid(
                format!("{path}.group"),
                format!("group `{group}` is listed twice"),
            ));
        }
        early_access.push(EarlyAccess {
            group,
            starts_at: early_start,
        });
    }
    Ok(early_access)
}

/// `"price_schedule": [{"at", "amount"}, …]`, strictly ascending by `at`, each amount a valid
/// price in the drop's currency.
fn parse_price_schedule(
    value: Option<Value>,
    currency_code: &str,
    per_user_limit: u32,
) -> Result<Vec<PricePoint>> {
    let points = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(points)) if points.len() <= MAX_PRICE_POINTS => points,
        Some(_) => {
            return Err(ApiError::invalid(
                "price_schedule",
                format!(
                    "price_schedule must be a list of up to {MAX_PRICE_POINTS} {{\"at\", \"amount\"}}"
                ),
            ));
        }
    };
    let mut schedule: Vec<PricePoint> = Vec::with_capacity(points.len());
    for (i, point) in points.into_iter().enumerate() {
        let path = format!("price_schedule[{i}]");
        let mut fields = object_at(
            point,
            &path,
            "{\"at\": <RFC 3339>, \"amount\": <minor units>}",
            &["at", "amount"],
        )?;
        let at = required_timestamp(&mut fields, &path, "at")?;
        if schedule.last().is_some_and(|previous| previous.at >= at) {
            return Err(ApiError::invalid(
                format!("{path}.at"),
                "price_schedule must be in ascending order of `at`, one step per instant",
            ));
        }
        let amount = fields
            .remove("amount")
            .and_then(|amount| amount.as_i64())
            .filter(|amount| (1..=currency::MAX_AMOUNT).contains(amount))
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("{path}.amount"),
                    format!(
                        "{path}.amount must be a whole number of minor units between 1 and {}",
                        currency::MAX_AMOUNT
                    ),
                )
            })?;
        if let Err(problem) = currency::check_price(currency_code, amount, per_user_limit) {
            return Err(ApiError::invalid(
                format!("{path}.amount"),
                problem.message(currency_code),
            ));
        }
        schedule.push(PricePoint { at, amount });
    }
    Ok(schedule)
}

/// `"queue": {"opens_at", "admit_per_minute"?, "admission_seconds"?, "proof_of_work"?}`.
fn parse_queue(value: Value, starts_at: DateTime<Utc>) -> Result<QueueSettings> {
    let mut fields = object_at(
        value,
        "queue",
        "an object {\"opens_at\": <RFC 3339>, …}",
        &[
            "opens_at",
            "admit_per_minute",
            "admission_seconds",
            "proof_of_work",
            "ip_joins_per_minute",
        ],
    )?;
    let opens_at = required_timestamp(&mut fields, "queue", "opens_at")?;
    if opens_at > starts_at {
        return Err(ApiError::invalid(
            "queue.opens_at",
            "queue.opens_at must not be after starts_at",
        ));
    }
    let admit_per_minute =
        optional_integer(&mut fields, "admit_per_minute", 1, 1_000_000).map_err(in_queue)?;
    let admission_seconds = optional_integer(&mut fields, "admission_seconds", 1, 3600)
        .map_err(in_queue)?
        .unwrap_or(DEFAULT_ADMISSION_SECONDS);
    let ip_joins_per_minute = optional_integer(&mut fields, "ip_joins_per_minute", 1, 1_000_000)
        .map_err(in_queue)?
        .unwrap_or(DEFAULT_IP_JOINS_PER_MINUTE);
    // Every place in a queue costs work unless the shop turns it off.
    let proof_of_work = match fields.remove("proof_of_work") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(flag)) => flag,
        Some(_) => {
            return Err(ApiError::invalid(
                "queue.proof_of_work",
                "queue.proof_of_work must be true or false",
            ));
        }
    };
    Ok(QueueSettings {
        opens_at,
        admit_per_minute,
        admission_seconds,
        proof_of_work,
        ip_joins_per_minute,
    })
}

/// The fields of the object at `path` (`queue`, `early_access[2]`), refusing a non-object and any
/// field not in `known`, each with its full path.
fn object_at(value: Value, path: &str, shape: &str, known: &[&str]) -> Result<Map<String, Value>> {
    let Value::Object(fields) = value else {
        return Err(ApiError::invalid(path, format!("{path} must be {shape}")));
    };
    if let Some(unknown) = fields.keys().find(|key| !known.contains(&key.as_str())) {
        return Err(ApiError::invalid(
            format!("{path}.{unknown}"),
            format!("unknown field `{path}.{unknown}`"),
        ));
    }
    Ok(fields)
}

/// The required RFC 3339 `field` of the object at `path`.
fn required_timestamp(
    fields: &mut Map<String, Value>,
    path: &str,
    field: &str,
) -> Result<DateTime<Utc>> {
    let full = format!("{path}.{field}");
    match fields.remove(field) {
        None | Some(Value::Null) => Err(ApiError::invalid(
            full.clone(),
            format!("{full} is required"),
        )),
        Some(value) => timestamp(value, &full),
    }
}

/// A field error inside an object (`queue`, `raffle`, `early_access[2]`) names its full path.
fn within(path: &str, error: ApiError) -> ApiError {
    match error {
        ApiError::InvalidRequest {
            field: Some(field),
            message,
        } => ApiError::InvalidRequest {
            field: Some(format!("{path}.{field}")),
            message: format!("{path}.{message}"),
        },
        other => other,
    }
}

fn in_queue(error: ApiError) -> ApiError {
    within("queue", error)
}

fn parse_price(value: Option<Value>) -> Result<Price> {
    let Some(Value::Object(mut price)) = value else {
        return Err(ApiError::invalid(
            "price",
            "price must be an object {\"amount\": <minor units>, \"currency\": \"<ISO code>\"}",
        ));
    };
    let amount = match price.remove("amount") {
        Some(Value::Number(n))
            if n.as_i64()
                .is_some_and(|a| (1..=currency::MAX_AMOUNT).contains(&a)) =>
        {
            n.as_i64().unwrap_or_default()
        }
        _ => {
            return Err(ApiError::invalid(
                "price.amount",
                format!(
                    "price.amount must be a whole number of minor units between 1 and {}",
                    currency::MAX_AMOUNT
                ),
            ));
        }
    };
    let currency = match price.remove("currency") {
        Some(Value::String(code))
            if code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            code.to_ascii_uppercase()
        }
        _ => {
            return Err(ApiError::invalid(
                "price.currency",
                "price.currency must be a three-letter ISO 4217 code such as \"EUR\"",
            ));
        }
    };
    if let Some(unknown) = price.keys().next() {
        return Err(ApiError::invalid(
            format!("price.{unknown}"),
            format!("unknown field `price.{unknown}`"),
        ));
    }
    Ok(Price { amount, currency })
}

fn required_string(
    fields: &mut Map<String, Value>,
    field: &str,
    min: usize,
    max: usize,
) -> Result<String> {
    match fields.remove(field) {
        None | Some(Value::Null) => Err(ApiError::invalid(field, format!("{field} is required"))),
        Some(value) => string_in(value, field, min, max),
    }
}

fn string_in(value: Value, field: &str, min: usize, max: usize) -> Result<String> {
    let Value::String(text) = value else {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be a string"),
        ));
    };
    let text = text.trim().to_string();
    let length = text.chars().count();
    if length < min || length > max {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be {min} to {max} characters long"),
        ));
    }
    Ok(text)
}

fn required_integer(
    fields: &mut Map<String, Value>,
    field: &str,
    min: u32,
    max: u32,
) -> Result<u32> {
    optional_integer(fields, field, min, max)?
        .ok_or_else(|| ApiError::invalid(field, format!("{field} is required")))
}

fn optional_integer(
    fields: &mut Map<String, Value>,
    field: &str,
    min: u32,
    max: u32,
) -> Result<Option<u32>> {
    match fields.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|v| (u64::from(min)..=u64::from(max)).contains(v))
            .map(|v| Some(v as u32))
            .ok_or_else(|| integer_error(field, min, max)),
        Some(_) => Err(integer_error(field, min, max)),
    }
}

fn integer_error(field: &str, min: u32, max: u32) -> ApiError {
    ApiError::invalid(
        field,
        format!("{field} must be a whole number from {min} to {max}"),
    )
}

fn timestamp(value: Value, field: &str) -> Result<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("{field} must be an RFC 3339 timestamp such as \"2026-12-01T18:00:00Z\""),
            )
        })
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

pub async fn create_drop(
    app: &App,
    actor: &str,
    body: Value,
    now: DateTime<Utc>,
) -> Result<DropView> {
    let drop = parse_new_drop(body.clone(), now)?;
    let shards = drop.initial_shards();
    let queue = drop.queue.as_ref().map(|_| {
        let seed = draw::new_seed();
        let commitment = draw::commitment(&seed);
        QueueState::new(&drop.id, seed, commitment)
    });
    let event = AdminEvent::new(&drop.id, actor, AdminAction::Created, body, now);
    app.store
        .put_drop(&drop, &shards, queue.as_ref(), &event)
        .await?;
    tracing::info!(drop_id = %drop.id, total_units = drop.total_units, shards = drop.shard_count,
        mode = ?drop.mode, actor, "drop created");
    Ok(drop.view(&shards, now))
}

/// What `PATCH /admin/drops/{id}` may change; the rest is fixed at creation.
const PATCHABLE: [&str; 8] = [
    "name",
    "description",
    "starts_at",
    "ends_at",
    "queue",
    "raffle",
    "early_access",
    "price_schedule",
];

/// `PATCH /admin/drops/{id}`: until the drop opens, any of `PATCHABLE`, validated as a whole drop
/// would be; `version`, when given, must be the drop's current one. Recorded as an event.
pub async fn patch_drop(
    app: &App,
    actor: &str,
    drop_id: &str,
    body: Value,
    now: DateTime<Utc>,
) -> Result<DropView> {
    let Value::Object(mut patch) = body else {
        return Err(ApiError::invalid_body("the body must be a JSON object"));
    };
    let expected = match patch.remove("version") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(_) => {
            return Err(ApiError::invalid(
                "version",
                "version must be the drop's `version` your edit is based on",
            ));
        }
    };
    if let Some(field) = patch.keys().find(|key| !PATCHABLE.contains(&key.as_str())) {
        let message = if NEW_DROP_FIELDS.contains(&field.as_str()) {
            format!("`{field}` cannot change after creation")
        } else {
            format!("unknown field `{field}`")
        };
        return Err(ApiError::invalid(field.clone(), message));
    }
    if patch.is_empty() {
        return Err(ApiError::invalid_body(format!(
            "nothing to change: send any of {}",
            PATCHABLE.join(", ")
        )));
    }
    let current = app
        .store
        .drop_now(drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))?;
    if expected.is_some_and(|version| version != current.version) {
        return Err(ApiError::DropChanged {
            version: current.version,
        });
    }
    if current.has_opened(now) {
        return Err(ApiError::DropLocked);
    }
    if patch
        .get("queue")
        .is_some_and(|queue| queue.is_null() == current.queue.is_some())
    {
        return Err(ApiError::invalid(
            "queue",
            "a drop's queue settings can change, but a queue cannot be added or removed",
        ));
    }
    let mut settings = settings_of_drop(&current);
    settings.extend(patch.clone());
    let mut edited = parse_new_drop(Value::Object(settings), now)?;
    edited.id = current.id.clone();
    edited.created_at = current.created_at;
    edited.paused = current.paused;
    edited.version = current.version + 1;
    if edited.has_opened(now) {
        return Err(ApiError::invalid(
            opening_field(&edited, now),
            "an edit cannot open the drop in the past: its times must be in the future",
        ));
    }
    let event = AdminEvent::new(
        &edited.id,
        actor,
        AdminAction::Updated,
        Value::Object(patch),
        now,
    );
    if !app
        .store
        .replace_drop(&edited, current.version, &event)
        .await?
    {
        let version = app
            .store
            .drop_now(drop_id)
            .await?
            .map_or(current.version, |drop| drop.version);
        return Err(ApiError::DropChanged { version });
    }
    tracing::info!(drop_id = %edited.id, version = edited.version, actor, "drop edited");
    let shards = app.store.shards(&edited, true).await?;
    Ok(edited.view(&shards, now))
}

/// The drop as a creation body: what an edit is laid over.
fn settings_of_drop(drop: &DropSpec) -> Map<String, Value> {
    let Ok(Value::Object(mut settings)) = serde_json::to_value(drop) else {
        unreachable!("a drop serializes to an object");
    };
    for derived in ["id", "created_at", "paused", "version"] {
        settings.remove(derived);
    }
    settings
}

/// The field whose time would open an edited drop already.
fn opening_field(drop: &DropSpec, now: DateTime<Utc>) -> &'static str {
    if drop
        .queue
        .as_ref()
        .is_some_and(|queue| queue.opens_at <= now)
    {
        "queue.opens_at"
    } else if drop.early_access.iter().any(|early| early.starts_at <= now) {
        "early_access"
    } else {
        "starts_at"
    }
}

/// `POST /admin/drops/{id}/pause` and `/resume`: at once, whatever containers have cached (the
/// shards carry it for claims; the controller reads the drop each tick).
pub async fn set_paused(
    app: &App,
    actor: &str,
    drop_id: &str,
    paused: bool,
    now: DateTime<Utc>,
) -> Result<DropView> {
    let drop = app
        .store
        .drop_now(drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))?;
    let action = if paused {
        AdminAction::Paused
    } else {
        AdminAction::Resumed
    };
    let details = serde_json::json!({ "version": drop.version + 1 });
    let event = AdminEvent::new(&drop.id, actor, action, details, now);
    app.store.set_paused(&drop, paused, &event).await?;
    tracing::info!(drop_id = %drop.id, paused, actor, "drop pause set");
    get_drop_now(app, drop_id, now).await
}

/// `GET /admin/drops/{id}/events`, oldest first.
pub async fn admin_events(app: &App, drop_id: &str) -> Result<Vec<AdminEvent>> {
    let drop = app
        .store
        .drop(drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))?;
    app.store.admin_events(&drop.id).await
}

async fn get_drop_now(app: &App, drop_id: &str, now: DateTime<Utc>) -> Result<DropView> {
    let drop = app
        .store
        .drop_now(drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))?;
    let shards = app.store.shards(&drop, true).await?;
    Ok(DropSpec::clone(&drop).view(&shards, now))
}

pub async fn get_drop(app: &App, drop_id: &str, now: DateTime<Utc>) -> Result<DropView> {
    let drop = app
        .store
        .drop(drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))?;
    let shards = app.store.shards(&drop, false).await?;
    Ok(DropSpec::clone(&drop).view(&shards, now))
}

/// Drops stay in the listing this long after they end, so a shopper still finds one that just
/// closed; older ones leave it without being read.
pub const RECENTLY_ENDED: chrono::Duration = chrono::Duration::days(1);
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, Serialize)]
pub struct DropsPage {
    pub drops: Vec<DropView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `GET /drops?limit=&cursor=`: upcoming, live and recently ended drops; pages by closing time,
/// each page in start order.
pub async fn list_drops(
    app: &App,
    now: DateTime<Utc>,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> Result<DropsPage> {
    let limit = match limit {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                )
            })?,
    };
    let page = app
        .store
        .drops_page(now - RECENTLY_ENDED, limit as i32, cursor)
        .await?;
    let mut shards = app.store.shards_of_drops(&page.items).await?;
    let mut drops = page.items;
    // Pages come by closing time (what keeps ended drops out cheaply); a page reads in start order.
    drops.sort_by(|a, b| (a.starts_at, &a.id).cmp(&(b.starts_at, &b.id)));
    Ok(DropsPage {
        drops: drops
            .into_iter()
            .map(|drop| {
                let own = shards.remove(&drop.id).unwrap_or_default();
                drop.view(&own, now)
            })
            .collect(),
        next_cursor: page.next,
    })
}
