//! The one way Burst retries a write: jittered exponential backoff for contention, and a bounded
//! number of immediate re-reads when the state moved under it.
//!
//! DynamoDB cancels, rather than queues, a transaction that touches an item another in-flight
//! transaction touches (`TransactionConflict`), and it throttles a hot partition
//! (`ThrottlingError`). Retrying at once makes the same writers collide again; "full jitter" (a
//! random sleep up to an exponentially growing cap) spreads them out.
//!
//! Every write loop has the same shape:
//!
//! ```ignore
//! let mut retry = Retry::new("claim", MAX_CHANGES);
//! loop {
//!     match attempt(retry.round()).await? {
//!         Done(value) => return Ok(value),
//!         Contended => retry.again(Again::Contended).await?,
//!         StateChanged => retry.again(Again::Changed).await?,
//!     }
//! }
//! ```

use std::time::Duration;

use rand::Rng;

use crate::error::{ApiError, Result};

const BASE_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_millis(250);
/// With these delays the attempts span several seconds: far longer than any real conflict lasts,
/// well inside a Lambda timeout.
const MAX_CONTENDED: u32 = 16;

/// Why an attempt must be made again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Again {
    /// Cancelled by contention (conflict or throttling): back off, then try again.
    Contended,
    /// The state moved since it was read (another writer got there first): read again and retry
    /// at once.
    Changed,
}

#[derive(Debug)]
pub struct Retry {
    what: &'static str,
    max_changes: u32,
    contended: u32,
    changed: u32,
}

impl Retry {
    /// `max_changes` bounds the immediate retries, so a bug can never turn into a spin.
    pub fn new(what: &'static str, max_changes: u32) -> Self {
        Self {
            what,
            max_changes,
            contended: 0,
            changed: 0,
        }
    }

    /// How many attempts came before this one.
    pub fn round(&self) -> u32 {
        self.contended + self.changed
    }

    /// Prepares the next attempt: sleeps with full jitter after contention; `Busy` once 16
    /// contended attempts or `max_changes` state changes are spent.
    pub async fn again(&mut self, why: Again) -> Result<()> {
        match why {
            Again::Changed => {
                self.changed += 1;
                if self.changed > self.max_changes {
                    tracing::error!(what = self.what, changed = self.changed, "did not settle");
                    return Err(ApiError::Busy);
                }
            }
            Again::Contended => {
                self.contended += 1;
                if self.contended >= MAX_CONTENDED {
                    tracing::warn!(
                        what = self.what,
                        contended = self.contended,
                        "giving up after repeated contention"
                    );
                    return Err(ApiError::Busy);
                }
                tracing::warn!(
                    what = self.what,
                    attempt = self.contended,
                    "contended; backing off"
                );
                tokio::time::sleep(jittered_delay(self.contended)).await;
            }
        }
        Ok(())
    }
}

fn jittered_delay(attempt: u32) -> Duration {
    let cap = BASE_DELAY
        .saturating_mul(1 << attempt.min(10))
        .min(MAX_DELAY);
    rand::rng().random_range(Duration::ZERO..=cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_cap_grows_then_stays_bounded() {
        for attempt in 1..40 {
            assert!(jittered_delay(attempt) <= MAX_DELAY);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn contention_ends_in_busy_and_changes_are_bounded() {
        let mut retry = Retry::new("test", 100);
        let mut tries = 1;
        while retry.again(Again::Contended).await.is_ok() {
            tries += 1;
        }
        assert_eq!(tries, MAX_CONTENDED);

        let mut retry = Retry::new("test", 5);
        for _ in 0..5 {
            retry.again(Again::Changed).await.unwrap();
        }
        assert_eq!(retry.round(), 5);
        assert!(matches!(
            retry.again(Again::Changed).await,
            Err(ApiError::Busy)
        ));
    }
}
