//! Jittered exponential backoff for transactions cancelled by `TransactionConflict`.
//!
//! DynamoDB cancels, rather than queues, a transaction that touches an item another in-flight
//! transaction touches. Retrying at once makes the same transactions collide again; "full
//! jitter" (a random sleep up to an exponentially growing cap) spreads them out.

use std::time::Duration;

use rand::Rng;

use crate::error::{ApiError, Result};

const BASE_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_millis(250);
/// With these delays the attempts span several seconds: far longer than any real conflict lasts,
/// well inside a Lambda timeout.
const MAX_ATTEMPTS: u32 = 16;

#[derive(Debug, Default)]
pub struct Backoff {
    attempts: u32,
}

impl Backoff {
    /// Sleeps before the next attempt; `Busy` once the attempts are spent.
    pub async fn after_conflict(&mut self) -> Result<()> {
        self.attempts += 1;
        if self.attempts >= MAX_ATTEMPTS {
            tracing::warn!(
                attempts = self.attempts,
                "giving up after repeated transaction conflicts"
            );
            return Err(ApiError::Busy);
        }
        tracing::warn!(attempt = self.attempts, "transaction conflict; backing off");
        let cap = BASE_DELAY
            .saturating_mul(1 << self.attempts.min(10))
            .min(MAX_DELAY);
        let delay = rand::rng().random_range(Duration::ZERO..=cap);
        tokio::time::sleep(delay).await;
        Ok(())
    }
}
