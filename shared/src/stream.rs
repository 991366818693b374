//! The fan-out function's edge: the table's DynamoDB Stream in (as Lambda delivers it), posts to
//! WebSocket connections out (see `domain::live::fan_out`).

use std::time::Instant;

use aws_lambda_events::dynamodb::{Event, EventRecord};

use crate::app::App;
use crate::domain::live::{self, Change};
use crate::push::Push;

/// The changes of a stream batch: keys and images (an empty image is no image).
pub fn changes_of(records: &[EventRecord]) -> Vec<Change> {
    records
        .iter()
        .map(|record| {
            let key = |name: &str| {
                record
                    .change
                    .keys
                    .get(name)
                    .and_then(|value| {
                        serde_dynamo::from_attribute_value::<_, String>(value.clone()).ok()
                    })
                    .unwrap_or_default()
            };
            let image = |item: &serde_dynamo::Item| (!item.is_empty()).then(|| item.clone());
            Change {
                pk: key("PK"),
                sk: key("SK"),
                old: image(&record.change.old_image),
                new: image(&record.change.new_image),
            }
        })
        .collect()
}

/// The `main` of the fan-out function: posts through `WS_MANAGEMENT_ENDPOINT`.
#[cfg(feature = "push")]
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use lambda_runtime::{LambdaEvent, service_fn};
    use std::sync::Arc;

    crate::telemetry::init();
    let sdk = aws_config::load_from_env().await;
    let endpoint =
        std::env::var("WS_MANAGEMENT_ENDPOINT").map_err(|_| "WS_MANAGEMENT_ENDPOINT is not set")?;
    let push: Arc<dyn Push> = Arc::new(crate::push::ApiGatewayPush::new(&sdk, &endpoint));
    let app = Arc::new(App::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let app = app.clone();
        let push = push.clone();
        let deadline = posting_deadline(event.context.deadline);
        async move { handle(&app, push.as_ref(), event.payload, deadline).await }
    }))
    .await
}

/// What is kept of the invocation's time after the last post starts: the gone connections'
/// deletes and the handoff write.
#[cfg(feature = "push")]
const WRAP_UP: std::time::Duration = std::time::Duration::from_secs(4);

/// However little time an invocation reports, it posts this long: every run moves a push on
/// (a local runtime may report no deadline at all).
#[cfg(feature = "push")]
const LEAST_POSTING: std::time::Duration = std::time::Duration::from_secs(1);

/// The last moment a post may start, from the invocation's deadline (Unix ms).
#[cfg(feature = "push")]
fn posting_deadline(deadline_ms: u64) -> Instant {
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let left = std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Instant::now() + left.saturating_sub(WRAP_UP).max(LEAST_POSTING)
}

/// The id of a batch: its first record's sequence number, which a retry of the batch shares.
pub fn batch_id(records: &[EventRecord]) -> String {
    records
        .first()
        .map(|record| {
            record
                .change
                .sequence_number
                .clone()
                .unwrap_or_else(|| record.event_id.clone())
        })
        .unwrap_or_default()
}

/// One stream batch, posting until `deadline`. A failure makes Lambda retry the batch; the
/// retry takes the same message ids and posts only to the watchers the failed attempt missed.
pub async fn handle(
    app: &App,
    push: &dyn Push,
    event: Event,
    deadline: Instant,
) -> Result<live::FanOutReport, lambda_runtime::Error> {
    let changes = changes_of(&event.records);
    let run = live::Run {
        now: chrono::Utc::now(),
        deadline,
        batch_id: batch_id(&event.records),
    };
    let report = live::fan_out(app, push, &changes, &run).await?;
    tracing::info!(?report, "fan-out");
    Ok(report)
}
