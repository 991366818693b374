//! The fan-out function's edge: the table's DynamoDB Stream in (as Lambda delivers it), posts to
//! WebSocket connections out (see `domain::live::fan_out`).

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
        async move { handle(&app, push.as_ref(), event.payload).await }
    }))
    .await
}

/// One stream batch; a failure makes Lambda retry the batch (posts are idempotent enough: a
/// repeated `drop` message carries the same numbers).
pub async fn handle(
    app: &App,
    push: &dyn Push,
    event: Event,
) -> Result<live::FanOutReport, lambda_runtime::Error> {
    let changes = changes_of(&event.records);
    let report = live::fan_out(app, push, &changes, chrono::Utc::now()).await?;
    tracing::info!(?report, "fan-out");
    Ok(report)
}
