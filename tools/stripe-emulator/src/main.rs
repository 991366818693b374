//! `stripe-emulator`: what `make dev` runs in place of Stripe. See the library for the subset.
//!
//! Environment: `STRIPE_EMULATOR_PORT` (12111), `STRIPE_WEBHOOK_URL` (where signed events go),
//! `STRIPE_WEBHOOK_SECRET` (`whsec_burst_local`).

use stripe_emulator::{Emulator, EmulatorConfig};

#[tokio::main]
async fn main() {
    burst::telemetry::init();
    let port: u16 = std::env::var("STRIPE_EMULATOR_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(12111);
    let config = EmulatorConfig {
        webhook_url: std::env::var("STRIPE_WEBHOOK_URL").ok(),
        webhook_secret: std::env::var("STRIPE_WEBHOOK_SECRET")
            .unwrap_or_else(|_| "whsec_burst_local".into()),
        latency: std::time::Duration::ZERO,
    };
    let emulator = Emulator::new(config);
    let address = emulator
        .serve(port)
        .await
        .expect("bind the emulator's port");
    tracing::info!(%address, "Stripe emulator listening");
    std::future::pending::<()>().await;
}
