//! Reservations as the store reads them: one by id, the holds filed under a shard's expiry index
//! (earliest first) or pending a delayed payment, and the Checkout Session stored on a hold. The
//! transactions that end a hold are the ledger's.

use super::{PageKey, Store, condition_met, decode_each, keys, s};
use crate::error::Result;
use crate::model::ids;
use crate::model::reservation::{Reservation, ReservationStatus};

impl Store {
    pub async fn reservation(&self, reservation_id: &str) -> Result<Option<Reservation>> {
        if !ids::is_valid(reservation_id) {
            return Ok(None);
        }
        self.get(keys::reservation_key(reservation_id), true).await
    }

    /// Up to `limit` held reservations filed under one shard's hold partition, earliest expiry
    /// first, from where `after` left off.
    pub async fn holds_page(
        &self,
        drop_id: &str,
        shard: u32,
        limit: i32,
        after: Option<PageKey>,
    ) -> Result<(Vec<Reservation>, Option<PageKey>)> {
        let output = self
            .index_partition_query(keys::hold_index_partition(drop_id, shard))
            .limit(limit)
            .set_exclusive_start_key(after.map(|key| key.0))
            .send()
            .await?;
        Ok((
            decode_each(output.items.unwrap_or_default(), "reservation"),
            output.last_evaluated_key.map(PageKey),
        ))
    }

    /// Every held reservation of a shard partition (the audit reads them all).
    pub async fn all_holds(&self, drop_id: &str, shard: u32) -> Result<Vec<Reservation>> {
        self.query_index_partition(keys::hold_index_partition(drop_id, shard))
            .await
    }

    /// Reservations whose delayed payment is pending, filed under one shard.
    pub async fn pending_payments(&self, drop_id: &str, shard: u32) -> Result<Vec<Reservation>> {
        self.query_index_partition(keys::pending_index_partition(drop_id, shard))
            .await
    }

    /// Stores the Checkout Session on a held reservation that has none yet: `false` when the
    /// hold is no longer held or another call stored one first.
    pub async fn save_checkout_session(
        &self,
        reservation_id: &str,
        session_id: &str,
        url: &str,
    ) -> Result<bool> {
        let (pk, sk) = keys::reservation_key(reservation_id);
        let saved = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET checkout_session_id = :session, checkout_url = :url")
            .condition_expression("#status = :held AND attribute_not_exists(checkout_session_id)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":session", s(session_id))
            .expression_attribute_values(":url", s(url))
            .expression_attribute_values(":held", s(ReservationStatus::Held.as_str()))
            .send()
            .await;
        condition_met(saved)
    }
}
