//! Runs every minute (EventBridge): releases holds past `expires_at` — see
//! `burst::domain::sweeper`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    burst::schedule::run(|app| async move {
        // Boxed: the sweep's future nests deep enough to exceed the compiler's layout depth.
        Box::pin(burst::domain::sweeper::sweep(&app, chrono::Utc::now())).await
    })
    .await
}
