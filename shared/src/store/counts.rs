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

use rand::Rng;

use super::{Store, keys, n, s};
use crate::error::Result;

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
