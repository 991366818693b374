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

/// A drop as stored. Immutable after creation, which is what lets claims cache it per container.
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
}

#[derive(Debug, Clone, Serialize)]
pub struct DropView {
    #[serde(flatten)]
    pub drop: DropSpec,
    #[serde(flatten)]
    pub counts: UnitCounts,
    pub status: DropStatus,
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

    /// `Ok` when claims are accepted at `now`.
    pub fn ensure_live(&self, now: DateTime<Utc>) -> Result<()> {
        let reason = if now < self.starts_at {
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
                }
            })
            .collect()
    }

    pub fn view(self, shards: &[Shard], now: DateTime<Utc>) -> DropView {
        let counts = UnitCounts::sum(shards);
        let status = self.status(counts, now);
        DropView {
            drop: self,
            counts,
            status,
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
    const KNOWN: [&str; 10] = [
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
    ];
    if let Some(unknown) = fields.keys().find(|key| !KNOWN.contains(&key.as_str())) {
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
    })
}

/// `"queue": {"opens_at", "admit_per_minute"?, "admission_seconds"?, "proof_of_work"?}`.
fn parse_queue(value: Value, starts_at: DateTime<Utc>) -> Result<QueueSettings> {
    let Value::Object(mut fields) = value else {
        return Err(ApiError::invalid(
            "queue",
            "queue must be an object {\"opens_at\": <RFC 3339>, …}",
        ));
    };
    const KNOWN: [&str; 5] = [
        "opens_at",
        "admit_per_minute",
        "admission_seconds",
        "proof_of_work",
        "ip_joins_per_minute",
    ];
    if let Some(unknown) = fields.keys().find(|key| !KNOWN.contains(&key.as_str())) {
        return Err(ApiError::invalid(
            format!("queue.{unknown}"),
            format!("unknown field `queue.{unknown}`"),
        ));
    }
    let opens_at = match fields.remove("opens_at") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                "queue.opens_at",
                "queue.opens_at is required",
            ));
        }
        Some(value) => timestamp(value, "queue.opens_at")?,
    };
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

/// A field error inside `queue` names its full path.
fn in_queue(error: ApiError) -> ApiError {
    match error {
        ApiError::InvalidRequest {
            field: Some(field),
            message,
        } => ApiError::InvalidRequest {
            field: Some(format!("queue.{field}")),
            message: format!("queue.{message}"),
        },
        other => other,
    }
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

pub async fn create_drop(app: &App, body: Value, now: DateTime<Utc>) -> Result<DropView> {
    let drop = parse_new_drop(body, now)?;
    let shards = drop.initial_shards();
    let queue = drop.queue.as_ref().map(|_| {
        let seed = draw::new_seed();
        let commitment = draw::commitment(&seed);
        QueueState::new(&drop.id, seed, commitment)
    });
    app.store.put_drop(&drop, &shards, queue.as_ref()).await?;
    tracing::info!(drop_id = %drop.id, total_units = drop.total_units, shards = drop.shard_count, "drop created");
    Ok(drop.view(&shards, now))
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
