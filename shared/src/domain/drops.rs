//! Drops: creation, edits before the opening, the operator's pause, listing, and the live view
//! with counts. The input validator is `input`.

pub mod input;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app::App;
use crate::error::{ApiError, Result};
use crate::model::draw;
use crate::model::drop::{AdminAction, AdminEvent, DropSpec, DropView};
use crate::model::queue::QueueState;
use input::{NEW_DROP_FIELDS, parse_new_drop};

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
const PATCHABLE: [&str; 9] = [
    "name",
    "description",
    "starts_at",
    "ends_at",
    "per_user_limit",
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
