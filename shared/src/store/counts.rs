//! The integrity report's counts of refused requests, added up in the container and written in
//! batches. A refusal is the cheapest answer Burst gives — a bot's flood must cost it CPU, not
//! DynamoDB writes — so a refusal does not wait on a write of its own: its count joins the
//! container's batch for its drop, and one `UpdateItem` adds a batch to the drop's counters once
//! its first count is `Caching::count_batch` old, on the next refusal that finds it due.
//!
//! What this costs in exactness: counts still pending when a container ends (at most one window
//! of that container's refusals), and a batch whose write fails (logged with its counts), are
//! lost. The report can undercount by that much; it never counts a refusal twice.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

use super::{Store, keys, n, s};
use crate::error::Result;

/// Counts of one drop not yet written.
#[derive(Debug)]
struct Batch {
    since: Instant,
    counts: HashMap<&'static str, u64>,
}

/// This container's counts waiting for their batch's write.
#[derive(Debug)]
pub struct PendingCounts {
    window: Duration,
    batches: Mutex<HashMap<String, Batch>>,
}

impl PendingCounts {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            batches: Mutex::default(),
        }
    }

    /// Adds one to `counter` of `drop_id`, and takes out every batch (of any drop) that is due.
    fn add(
        &self,
        drop_id: &str,
        counter: &'static str,
    ) -> Vec<(String, HashMap<&'static str, u64>)> {
        let mut batches = self.batches.lock().expect("pending counts poisoned");
        let batch = batches.entry(drop_id.to_string()).or_insert_with(|| Batch {
            since: Instant::now(),
            counts: HashMap::new(),
        });
        *batch.counts.entry(counter).or_default() += 1;
        let due: Vec<String> = batches
            .iter()
            .filter(|(_, batch)| batch.since.elapsed() >= self.window)
            .map(|(drop_id, _)| drop_id.clone())
            .collect();
        due.into_iter()
            .filter_map(|drop_id| {
                let batch = batches.remove(&drop_id)?;
                Some((drop_id, batch.counts))
            })
            .collect()
    }
}

impl Store {
    /// Adds one to `counter` of `drop_id`'s queue counters in this container's batch, and
    /// writes every batch that is due (with `Caching::NONE`, this count at once).
    pub async fn count_batched(&self, drop_id: &str, counter: &'static str) -> Result<()> {
        for (drop_id, counts) in self.pending_counts.add(drop_id, counter) {
            if let Err(error) = self.add_to_queue_counters(&drop_id, &counts).await {
                tracing::warn!(drop_id, ?counts, "a batch of counts was not written");
                return Err(error);
            }
        }
        Ok(())
    }

    /// One `ADD` of every count of a batch, on a random stripe of the drop's counters.
    async fn add_to_queue_counters(
        &self,
        drop_id: &str,
        counts: &HashMap<&'static str, u64>,
    ) -> Result<()> {
        let stripe = rand::rng().random_range(0..keys::QUEUE_STRIPES);
        let (pk, sk) = keys::join_counter_key(drop_id, stripe);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk));
        let mut adds = Vec::with_capacity(counts.len());
        for (i, (counter, count)) in counts.iter().enumerate() {
            adds.push(format!("#c{i} :n{i}"));
            update = update
                .expression_attribute_names(format!("#c{i}"), *counter)
                .expression_attribute_values(format!(":n{i}"), n(*count as i64));
        }
        update
            .update_expression(format!("ADD {}", adds.join(", ")))
            .send()
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_taken_once_its_first_count_is_a_window_old() {
        let pending = PendingCounts::new(Duration::from_millis(50));
        assert!(pending.add("d1", "claim_admission_invalid").is_empty());
        assert!(pending.add("d1", "claim_admission_invalid").is_empty());
        assert!(pending.add("d2", "claim_admission_missing").is_empty());
        std::thread::sleep(Duration::from_millis(60));
        let mut due = pending.add("d1", "claim_admission_missing");
        due.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            due,
            [
                (
                    "d1".to_string(),
                    HashMap::from([
                        ("claim_admission_invalid", 2),
                        ("claim_admission_missing", 1)
                    ])
                ),
                (
                    "d2".to_string(),
                    HashMap::from([("claim_admission_missing", 1)])
                ),
            ]
        );
        assert!(
            pending.add("d1", "claim_admission_invalid").is_empty(),
            "a new batch"
        );

        let at_once = PendingCounts::new(Duration::ZERO);
        assert_eq!(
            at_once.add("d1", "claim_rate_limited"),
            [("d1".to_string(), HashMap::from([("claim_rate_limited", 1)]))]
        );
    }
}
