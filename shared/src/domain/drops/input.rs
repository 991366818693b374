//! The input of `POST /admin/drops` (and of an edit, laid over the drop as a whole), validated
//! field by field so each mistake gets its own message naming the field's full path
//! (`early_access[2].starts_at`): the one place a hand-written parser earns its length.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::{ApiError, Result};
use crate::model::currency::{self, PriceProblem};
use crate::model::drop::{
    DropMode, DropSpec, EarlyAccess, MAX_SHARDS, Price, PricePoint, RaffleSettings,
    default_shard_count,
};
use crate::model::ids;
use crate::model::queue::{DEFAULT_ADMISSION_SECONDS, DEFAULT_IP_JOINS_PER_MINUTE, QueueSettings};

pub const DEFAULT_HOLD_SECONDS: u32 = 600;
pub const MAX_HOLD_SECONDS: u32 = 3600;
pub const MAX_TOTAL_UNITS: u32 = 1_000_000;
pub const MAX_PER_USER_LIMIT: u32 = 100;
pub const DEFAULT_CLAIM_WINDOW_SECONDS: u32 = 600;
const MAX_EARLY_GROUPS: usize = 10;
const MAX_PRICE_POINTS: usize = 50;

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
    if mode == DropMode::Raffle && per_user_limit > 1 {
        return Err(ApiError::invalid(
            "per_user_limit",
            "a raffle admits as many winners as it has units, so a win is for one unit: \
             per_user_limit must be 1 (or left out)",
        ));
    }
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

pub const NEW_DROP_FIELDS: [&str; 14] = [
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
