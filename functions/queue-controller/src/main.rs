//! Started every minute (EventBridge); ticks every active queue once a second for most of that
//! minute — see `burst::domain::queue::controller`.

use std::time::Duration;

/// Leaves the last seconds of the function's 60 s timeout for the tick in flight.
const RUN_FOR: Duration = Duration::from_secs(55);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    burst::schedule::run(|app| async move {
        burst::domain::queue::controller::run(&app, run_for()).await
    })
    .await
}

/// `QUEUE_CONTROLLER_SECONDS` shortens a run (the local loop in `make dev` uses a few seconds).
fn run_for() -> Duration {
    std::env::var("QUEUE_CONTROLLER_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .map_or(RUN_FOR, Duration::from_secs)
}
