//! Live drops over API Gateway WebSockets: connections, subscriptions, and the fan-out that turns
//! the table's change stream into messages.
//!
//! Anyone may watch a drop (public data); a connection opened with a valid token (`?token=` on
//! `$connect`) also receives its shopper's personal events — ticket and reservation changes — and
//! nobody else's. The fan-out coalesces: however many claims a stream batch holds, each drop gets
//! at most one `drop` message per batch, carrying the numbers as they are when it is sent (the
//! function's batching window is one second), so a herd of 10,000 claims never becomes 10,000 ×
//! watchers posts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::time::Instant;

use futures::stream::{self, StreamExt};
use tokio::sync::Semaphore;

use crate::app::App;
use crate::error::{ApiError, Result};
use crate::model::connection::Connection;
use crate::model::drop::{DropStatus, UnitCounts};
use crate::model::ids;
use crate::model::push::{NextPush, PushWindow, StripeProgress};
use crate::model::queue::{QueueState, Ticket, TicketStatus};
use crate::model::reservation::{Reservation, ReservationStatus};
use crate::push::{PostOutcome, Push};
use crate::store::keys::{WATCHER_STRIPES, drop_of_push_state};

/// `{"type": "drop", …}`: a drop's public numbers.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DropMessage {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub drop_id: String,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    pub status: DropStatus,
    /// Queued drops: the highest admitted position and how many wait.
    pub serving: Option<u64>,
    pub waiting: Option<u64>,
    pub at: DateTime<Utc>,
}

/// `{"type": "ticket", …}`: the shopper's own ticket moved (numbered, admitted, claimed, expired).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TicketMessage {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub drop_id: String,
    pub ticket_id: String,
    pub status: TicketStatus,
    pub position: Option<u64>,
    pub at: DateTime<Utc>,
}

/// `{"type": "reservation", …}`: the shopper's own hold was paid or ended.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReservationMessage {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub reservation_id: String,
    pub drop_id: String,
    pub status: ReservationStatus,
    pub at: DateTime<Utc>,
}

/// `{"type": "error", "code", "message"}`: a frame the server could not act on; the connection
/// stays open.
pub fn error_frame(code: &str, message: &str) -> Value {
    serde_json::json!({ "type": "error", "code": code, "message": message })
}

/// `$connect`: records the connection, with its shopper when a token came along. A token that
/// does not verify refuses the connection (`401`).
pub async fn connect(
    app: &App,
    connection_id: &str,
    shopper: Option<String>,
    now: DateTime<Utc>,
) -> Result<()> {
    app.store
        .put_connection(&Connection {
            connection_id: connection_id.to_string(),
            shopper,
            connected_at: now,
            drops: Vec::new(),
        })
        .await
}

/// `$disconnect` (best effort in API Gateway; TTL and the fan-out's `410 Gone` clean the rest).
pub async fn disconnect(app: &App, connection_id: &str) -> Result<()> {
    app.store.forget_connection(connection_id).await
}

/// A client's `subscribe` / `unsubscribe` frame.
#[derive(Debug, Deserialize)]
struct DropFrame {
    drop_id: String,
}

/// `subscribe`: watch a drop; answers `subscribed` with the drop's numbers now.
pub async fn subscribe(app: &App, connection_id: &str, body: Option<&str>) -> Result<Value> {
    let frame = drop_frame(body)?;
    let drop = app
        .store
        .drop(&frame.drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))?;
    if !app.store.watch(connection_id, &drop.id).await? {
        return Err(ApiError::NotFound("connection"));
    }
    let snapshot = drop_message(app, &drop.id, Utc::now()).await?;
    Ok(serde_json::json!({ "type": "subscribed", "drop_id": drop.id, "drop": snapshot }))
}

/// `unsubscribe`: stop watching a drop.
pub async fn unsubscribe(app: &App, connection_id: &str, body: Option<&str>) -> Result<Value> {
    let frame = drop_frame(body)?;
    if ids::is_valid(&frame.drop_id) {
        app.store.unwatch(connection_id, &frame.drop_id).await?;
    }
    Ok(serde_json::json!({ "type": "unsubscribed", "drop_id": frame.drop_id }))
}

/// `$default`: anything that is not `subscribe` or `unsubscribe`.
pub fn unknown_frame(body: Option<&str>) -> Value {
    match body.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(frame))) => error_frame(
            "unknown_action",
            &format!(
                "unknown action {}; send {{\"action\": \"subscribe\" | \"unsubscribe\", \"drop_id\": \"…\"}}",
                frame
                    .get("action")
                    .map_or("(none)".to_string(), Value::to_string)
            ),
        ),
        _ => error_frame(
            "malformed_frame",
            "frames are JSON objects such as {\"action\": \"subscribe\", \"drop_id\": \"…\"}",
        ),
    }
}

fn drop_frame(body: Option<&str>) -> Result<DropFrame> {
    body.and_then(|text| serde_json::from_str::<DropFrame>(text).ok())
        .ok_or_else(|| ApiError::invalid("drop_id", "the frame needs a drop_id"))
}

/// The public numbers of a drop, now.
pub async fn drop_message(app: &App, drop_id: &str, now: DateTime<Utc>) -> Result<DropMessage> {
    let drop = app
        .store
        .drop(drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))?;
    let counts = UnitCounts::sum(&app.store.shards(&drop, false).await?);
    let (serving, waiting) = match &drop.queue {
        Some(_) => {
            let state: Option<QueueState> = app.store.queue_state(&drop.id).await?;
            let joins = app.store.joins(&drop.id).await?;
            state.map_or((None, None), |state| {
                (
                    Some(state.serving),
                    Some(joins.max(state.sequenced).saturating_sub(state.serving)),
                )
            })
        }
        None => (None, None),
    };
    Ok(DropMessage {
        kind: "drop",
        drop_id: drop.id.clone(),
        available: counts.available,
        held: counts.held,
        sold: counts.sold,
        status: drop.status(counts, now),
        serving,
        waiting,
        at: now,
    })
}

/// One change of the table, as the stream reports it: the item's keys and its images.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub pk: String,
    pub sk: String,
    pub old: Option<serde_dynamo::Item>,
    pub new: Option<serde_dynamo::Item>,
}

/// What one stream batch asks the fan-out to send.
#[derive(Debug, Default, PartialEq)]
pub struct Outbox {
    /// Drops whose public numbers changed: one message each, however many changes.
    pub drops: BTreeSet<String>,
    /// Drops whose push state changed (a push handed on, owed, or waiting for its window).
    pub pushes: BTreeSet<String>,
    /// Personal messages, by shopper.
    pub personal: BTreeMap<String, Vec<Value>>,
}

/// Reads a batch of changes into what must be sent (pure: no I/O).
pub fn outbox(changes: &[Change], now: DateTime<Utc>) -> Outbox {
    let mut outbox = Outbox::default();
    for change in changes {
        if let Some(drop_id) = drop_of_push_state(&change.pk, &change.sk) {
            outbox.pushes.insert(drop_id.to_string());
        } else if let Some(drop_id) = change
            .pk
            .strip_prefix("DROP#")
            .and_then(|rest| rest.split_once("#SHARD#"))
            .map(|(drop_id, _)| drop_id)
        {
            outbox.drops.insert(drop_id.to_string());
        } else if let Some(drop_id) = change.pk.strip_prefix("QUEUE#")
            && change.sk == "STATE"
        {
            outbox.drops.insert(drop_id.to_string());
        } else if change.pk.starts_with("USER#") && change.sk.starts_with("TICKET#") {
            if let Some(message) = ticket_message(change, now) {
                outbox
                    .personal
                    .entry(message.0)
                    .or_default()
                    .push(message.1);
            }
        } else if change.pk.starts_with("RES#")
            && let Some(message) = reservation_message(change, now)
        {
            outbox
                .personal
                .entry(message.0)
                .or_default()
                .push(message.1);
        }
    }
    outbox
}

fn decode<T: serde::de::DeserializeOwned>(item: &Option<serde_dynamo::Item>) -> Option<T> {
    item.as_ref()
        .and_then(|item| serde_dynamo::from_item(item.clone()).ok())
}

/// A ticket that was numbered or changed status.
fn ticket_message(change: &Change, now: DateTime<Utc>) -> Option<(String, Value)> {
    let new: Ticket = decode(&change.new)?;
    let old: Option<Ticket> = decode(&change.old);
    let moved = old
        .as_ref()
        .is_none_or(|old| old.status != new.status || old.position != new.position);
    moved.then(|| {
        let message = TicketMessage {
            kind: "ticket",
            drop_id: new.drop_id.clone(),
            ticket_id: new.id.clone(),
            status: new.status,
            position: new.position,
            at: now,
        };
        (
            new.shopper.clone(),
            serde_json::to_value(message).expect("messages serialize"),
        )
    })
}

/// A reservation whose status changed (paid, pending, expired, released, refunded).
fn reservation_message(change: &Change, now: DateTime<Utc>) -> Option<(String, Value)> {
    let new: Reservation = decode(&change.new)?;
    let old: Option<Reservation> = decode(&change.old);
    let changed = old.as_ref().is_some_and(|old| old.status != new.status);
    changed.then(|| {
        let message = ReservationMessage {
            kind: "reservation",
            reservation_id: new.id.clone(),
            drop_id: new.drop_id.clone(),
            status: new.status,
            at: now,
        };
        (
            new.shopper.clone(),
            serde_json::to_value(message).expect("messages serialize"),
        )
    })
}

/// What one fan-out did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FanOutReport {
    pub changes: usize,
    /// `drop` messages composed and pushed (at most one per drop per window).
    pub drop_messages: usize,
    /// Drops whose change came inside another message's window: pushed when it ends.
    pub held_back: usize,
    /// Pushes this run could not finish in time and handed on to the next.
    pub handed_off: usize,
    pub personal_messages: usize,
    /// Posts to connections that reached them.
    pub posts: usize,
    /// Connections that answered `410 Gone`, now forgotten.
    pub gone: usize,
    /// Posts that failed (retried by the next attempt, and only they).
    pub failed: usize,
}

/// One run of the fan-out.
#[derive(Debug, Clone)]
pub struct Run {
    /// The time its messages carry and its windows are measured from.
    pub now: DateTime<Utc>,
    /// No post starts after this: what is left is handed on.
    pub deadline: Instant,
    /// The id a `drop` message composed by this run takes: a retry of the same stream batch has
    /// the same id, so it finds its own window and progress and goes on from there.
    pub batch_id: String,
}

/// How many watchers a stripe's push reads and posts to between two progress records. A push stops
/// itself before its deadline and records failed posts one by one, so only a crash re-sends, and
/// at most this many per stripe; fewer costs a read and a write per chunk (at 50, a push to 1,000
/// sockets took 3.3 s of DynamoDB Local round trips under the benchmark's herd).
const CHUNK: i32 = 250;
/// Posts in flight at once, over every stripe.
const POSTS_IN_FLIGHT: usize = 64;

/// Posts what a batch of changes means to everyone it concerns: a shopper's own messages at
/// once, a drop's numbers at most once per window (`DROP_PUSH_WINDOW_SECONDS`), through the
/// drop's watcher stripes in parallel, until `run.deadline`. A post that fails makes the run fail
/// (Lambda retries the batch) after every stripe went as far as it could; the retry posts only
/// to the watchers that did not get the message.
pub async fn fan_out(
    app: &App,
    push: &dyn Push,
    changes: &[Change],
    run: &Run,
) -> Result<FanOutReport> {
    let outbox = outbox(changes, run.now);
    let mut report = FanOutReport {
        changes: changes.len(),
        ..Default::default()
    };
    let mut gone = BTreeSet::new();
    let mut deliveries: Vec<(String, Vec<u8>)> = Vec::new();
    for (shopper, messages) in &outbox.personal {
        let connections = app.store.shopper_connections(shopper).await?;
        for message in messages {
            report.personal_messages += 1;
            let bytes = serde_json::to_vec(message).expect("messages serialize");
            for connection in &connections {
                deliveries.push((connection.clone(), bytes.clone()));
            }
        }
    }
    let in_flight = Semaphore::new(POSTS_IN_FLIGHT);
    for (connection, outcome) in post_each(push, deliveries, &in_flight, run.deadline).await {
        match outcome {
            Posted::Sent(Ok(PostOutcome::Delivered)) => report.posts += 1,
            Posted::Sent(Ok(PostOutcome::Gone)) => {
                gone.insert(connection);
            }
            // A shopper's message is not worth a retry of the whole batch: their page reads
            // their ticket and hold itself, and the next change tries again.
            Posted::Sent(Err(error)) => {
                tracing::warn!(connection, error = %crate::error::chain(&error), "post failed")
            }
            Posted::NotStarted => tracing::warn!(connection, "no time left to post"),
        }
    }

    let window_ms = i64::try_from(app.config.drop_push_window.as_millis()).unwrap_or(i64::MAX);
    let now_ms = run.now.timestamp_millis();
    let mut first_failure = None;
    let mut pushes = Vec::new();
    for drop_id in &outbox.drops {
        match app
            .store
            .take_push_window(drop_id, &run.batch_id, now_ms, window_ms)
            .await?
        {
            PushWindow::Taken => pushes.push((drop_id.clone(), run.batch_id.clone(), Fresh)),
            PushWindow::Retaken => pushes.push((drop_id.clone(), run.batch_id.clone(), Retry)),
            PushWindow::Held => {
                app.store.owe_push(drop_id, now_ms).await?;
                report.held_back += 1;
            }
        }
    }
    // A drop's push state changed: a push was handed on, or is owed and its window may be over.
    for drop_id in &outbox.pushes {
        let Some(state) = app.store.push_state(drop_id).await? else {
            continue;
        };
        match state.next(now_ms, window_ms) {
            NextPush::Resume(message_id) => pushes.push((drop_id.clone(), message_id, Resumed)),
            NextPush::Owed => match app
                .store
                .take_push_window(drop_id, &run.batch_id, now_ms, window_ms)
                .await?
            {
                PushWindow::Taken => pushes.push((drop_id.clone(), run.batch_id.clone(), Fresh)),
                PushWindow::Retaken => pushes.push((drop_id.clone(), run.batch_id.clone(), Retry)),
                PushWindow::Held => {}
            },
            // The write comes back through the stream, and with it this question.
            NextPush::Wait(_) => app.store.wake_push_later(drop_id, now_ms).await?,
            NextPush::Nothing => {}
        }
    }
    for (drop_id, message_id, start) in pushes {
        let pushed = push_drop(app, push, &drop_id, &message_id, start, run, &in_flight).await?;
        let Some(pushed) = pushed else { continue };
        report.drop_messages += 1;
        report.posts += pushed.posts;
        report.failed += pushed.failed;
        gone.extend(pushed.gone);
        if pushed.unfinished {
            app.store
                .hand_off_push(&drop_id, &message_id, now_ms)
                .await?;
            report.handed_off += 1;
        } else if start == Resumed && pushed.failed == 0 {
            app.store.finish_push(&drop_id, &message_id).await?;
        }
        if first_failure.is_none() {
            first_failure = pushed.first_error;
        }
    }
    for connection in &gone {
        app.store.forget_connection(connection).await?;
    }
    report.gone = gone.len();
    match first_failure {
        Some(error) => {
            tracing::warn!(
                ?report,
                "some posts failed: the batch is retried for them only"
            );
            Err(error)
        }
        None => Ok(report),
    }
}

/// Where the push of a message starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// A message nobody has got yet: no progress to read.
    Fresh,
    /// A retry of the run that took the window: from each stripe's progress.
    Retry,
    /// A handoff: from each stripe's progress.
    Resumed,
}
use Start::{Fresh, Resumed, Retry};

/// What pushing one `drop` message did.
#[derive(Default)]
struct Pushed {
    posts: usize,
    failed: usize,
    first_error: Option<ApiError>,
    gone: Vec<String>,
    /// Some stripe ran out of time.
    unfinished: bool,
}

/// Composes the drop's numbers and posts them to every watcher stripe not yet done with
/// `message_id` (`None`: the drop is gone).
async fn push_drop(
    app: &App,
    push: &dyn Push,
    drop_id: &str,
    message_id: &str,
    start: Start,
    run: &Run,
    in_flight: &Semaphore,
) -> Result<Option<Pushed>> {
    let message = match drop_message(app, drop_id, run.now).await {
        Ok(message) => message,
        Err(ApiError::NotFound(_)) => return Ok(None),
        Err(error) => return Err(error),
    };
    let bytes = serde_json::to_vec(&message).expect("messages serialize");
    let stripes = futures::future::join_all((0..WATCHER_STRIPES).map(|stripe| {
        push_stripe(
            app,
            push,
            drop_id,
            stripe,
            message_id,
            start,
            &bytes,
            run.deadline,
            in_flight,
        )
    }))
    .await;
    let mut pushed = Pushed::default();
    for stripe in stripes {
        let stripe = stripe?;
        pushed.posts += stripe.posts;
        pushed.failed += stripe.failed;
        pushed.gone.extend(stripe.gone);
        pushed.unfinished |= stripe.unfinished;
        if pushed.first_error.is_none() {
            pushed.first_error = stripe.first_error;
        }
    }
    Ok(Some(pushed))
}

/// One stripe: from where its progress for `message_id` says, chunk by chunk, recording how far
/// it got after each, until it is done, a post fails, or the deadline passes.
#[allow(clippy::too_many_arguments)]
async fn push_stripe(
    app: &App,
    push: &dyn Push,
    drop_id: &str,
    stripe: u32,
    message_id: &str,
    start: Start,
    bytes: &[u8],
    deadline: Instant,
    in_flight: &Semaphore,
) -> Result<Pushed> {
    let stored = match start {
        Fresh => None,
        Retry | Resumed => app.store.stripe_progress(drop_id, stripe).await?,
    };
    let mut progress = StripeProgress::of(stored, message_id);
    let mut pushed = Pushed::default();
    while !progress.done {
        if Instant::now() >= deadline {
            pushed.unfinished = true;
            break;
        }
        let retrying = std::mem::take(&mut progress.missed);
        let targets = if retrying.is_empty() {
            let (page, more) = app
                .store
                .watcher_page(drop_id, stripe, progress.after.as_deref(), CHUNK)
                .await?;
            if let Some(last) = page.last() {
                progress.after = Some(last.clone());
            }
            progress.done = !more && page.is_empty();
            page
        } else {
            retrying
        };
        if targets.is_empty() {
            // Nothing (more) to post: the next run reads an empty page as cheaply as this.
            break;
        }
        let targets = targets
            .into_iter()
            .map(|connection| (connection, bytes.to_vec()))
            .collect();
        let mut failed = 0;
        for (connection, outcome) in post_each(push, targets, in_flight, deadline).await {
            match outcome {
                Posted::Sent(Ok(PostOutcome::Delivered)) => pushed.posts += 1,
                Posted::Sent(Ok(PostOutcome::Gone)) => pushed.gone.push(connection),
                Posted::Sent(Err(error)) => {
                    tracing::warn!(connection, error = %crate::error::chain(&error), "post failed");
                    progress.missed.push(connection);
                    pushed.first_error.get_or_insert(error);
                    failed += 1;
                }
                Posted::NotStarted => {
                    progress.missed.push(connection);
                    pushed.unfinished = true;
                }
            }
        }
        progress.done &= progress.missed.is_empty();
        app.store
            .record_stripe_progress(drop_id, stripe, &progress)
            .await?;
        pushed.failed += failed;
        if !progress.missed.is_empty() {
            break;
        }
    }
    Ok(pushed)
}

/// How a post went, if it started.
enum Posted {
    Sent(Result<PostOutcome>),
    /// Its turn came after the deadline.
    NotStarted,
}

/// Posts each message to its connection, `POSTS_IN_FLIGHT` at a time over the whole run; none
/// starts after `deadline`.
async fn post_each(
    push: &dyn Push,
    deliveries: Vec<(String, Vec<u8>)>,
    in_flight: &Semaphore,
    deadline: Instant,
) -> Vec<(String, Posted)> {
    stream::iter(deliveries)
        .map(|(connection, bytes)| async move {
            let _permit = in_flight
                .acquire()
                .await
                .expect("the semaphore is never closed");
            if Instant::now() >= deadline {
                return (connection, Posted::NotStarted);
            }
            let sent = push.post(&connection, &bytes).await;
            (connection, Posted::Sent(sent))
        })
        .buffer_unordered(POSTS_IN_FLIGHT)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> serde_dynamo::Item {
        serde_dynamo::to_item(value).unwrap()
    }

    #[test]
    fn a_batch_becomes_one_message_per_drop_and_personal_messages_for_owners_only() {
        let now = Utc::now();
        let shard = |drop: &str, n: u32| Change {
            pk: format!("DROP#{drop}#SHARD#{n:02}"),
            sk: "SHARD".into(),
            ..Default::default()
        };
        let mut changes: Vec<Change> = (0..500).map(|i| shard("d1", i % 10)).collect();
        changes.push(shard("d2", 0));
        changes.push(Change {
            pk: "QUEUE#d3".into(),
            sk: "STATE".into(),
            ..Default::default()
        });
        let ticket = |status: &str, position: Option<u64>| {
            item(
                json!({ "id": "t1", "drop_id": "d3", "shopper": "ann", "joined_at": now,
                "joined_at_us": 1, "cohort": true, "stripe": 0, "position": position, "status": status }),
            )
        };
        changes.push(Change {
            pk: "USER#ann".into(),
            sk: "TICKET#d3".into(),
            old: Some(ticket("waiting", Some(4))),
            new: Some(ticket("admitted", Some(4))),
        });
        // A change that moves nothing a shopper sees sends nothing.
        changes.push(Change {
            pk: "USER#bob".into(),
            sk: "TICKET#d3".into(),
            old: Some(ticket("waiting", Some(9))),
            new: Some(ticket("waiting", Some(9))),
        });
        let outbox = outbox(&changes, now);
        assert_eq!(
            outbox.drops.iter().map(String::as_str).collect::<Vec<_>>(),
            ["d1", "d2", "d3"]
        );
        assert_eq!(outbox.personal.len(), 1);
        assert_eq!(outbox.personal["ann"][0]["type"], "ticket");
        assert_eq!(outbox.personal["ann"][0]["status"], "admitted");
    }

    #[test]
    fn unknown_and_malformed_frames_get_an_error_frame() {
        assert_eq!(
            unknown_frame(Some("{\"action\":\"dance\"}"))["code"],
            "unknown_action"
        );
        assert_eq!(unknown_frame(Some("not json"))["code"], "malformed_frame");
        assert_eq!(unknown_frame(None)["code"], "malformed_frame");
    }
}
