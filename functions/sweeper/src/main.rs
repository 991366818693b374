//! Runs every minute (EventBridge): releases holds past `expires_at` — see
//! `burst::domain::sweeper`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    burst::schedule::run(|app| async move {
        burst::domain::sweeper::sweep(&app, chrono::Utc::now()).await
    })
    .await
}
