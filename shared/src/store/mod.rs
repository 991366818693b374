//! All DynamoDB access. The domain decides *what* to write; this module knows *how*: key shapes
//! (in `keys`), item encoding, and the exact actions of each transaction and what a cancellation
//! of each action means.

pub mod keys;
pub mod table;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::drops::{Drop, Shard};
use crate::domain::ids;
use crate::domain::reservations::{Reservation, ReservationStatus};
use crate::error::{ApiError, Result};
use keys::Key;

pub type Item = HashMap<String, AttributeValue>;

/// Reservations stay readable (for shoppers and the audit) long after their hold ended; TTL only
/// collects them once nothing can still depend on them. It never ends a hold: the code does.
const RESERVATION_RETENTION_SECONDS: i64 = 30 * 24 * 3600;

pub struct Store {
    client: Client,
    table: String,
    /// Drops never change after creation, so a warm container reads each one once.
    drop_cache: Mutex<HashMap<String, Arc<Drop>>>,
}

/// How a claim transaction ended.
#[derive(Debug)]
pub enum ClaimCommit {
    Committed,
    /// The shopper's claim record refused: held + bought + quantity would pass the limit.
    LimitReached {
        last_reservation_id: Option<String>,
    },
    /// A chosen shard no longer had the units, or the sale window closed, since it was read.
    ShardRefused,
    Conflict,
}

/// How a release transaction ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ReleaseCommit {
    Released,
    /// The reservation was no longer held (or not yet expired, when that was required):
    /// somebody else ended it first, and nothing was written.
    NotHeld,
    Conflict,
}

/// Which condition a release must meet besides the hold still being held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseGuard {
    /// The owner gives the units back.
    Owner,
    /// The sweeper or a claim returns an overdue hold: only if `expires_at` has passed.
    Overdue,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            drop_cache: Mutex::default(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes the drop and all its shards in one transaction: a drop is never half-created.
    pub async fn put_drop(&self, drop: &Drop, shards: &[Shard]) -> Result<()> {
        let mut drop_item = encode(drop, keys::drop_key(&drop.id))?;
        let (index_pk, index_sk) = keys::drop_index_key(&drop.starts_at.to_rfc3339(), &drop.id);
        drop_item.insert(keys::GSI1_PK.into(), s(index_pk));
        drop_item.insert(keys::GSI1_SK.into(), s(index_sk));
        let mut actions = vec![self.put_new(drop_item)?];
        for shard in shards {
            actions.push(self.put_new(encode(shard, keys::shard_key(&drop.id, shard.shard))?)?);
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await?;
        Ok(())
    }

    pub async fn drop(&self, drop_id: &str) -> Result<Option<Arc<Drop>>> {
        if !ids::is_valid(drop_id) {
            return Ok(None);
        }
        if let Some(drop) = self.cached_drop(drop_id) {
            return Ok(Some(drop));
        }
        let Some(drop) = self.get::<Drop>(keys::drop_key(drop_id), false).await? else {
            return Ok(None);
        };
        let drop = Arc::new(drop);
        self.drop_cache
            .lock()
            .expect("drop cache poisoned")
            .insert(drop.id.clone(), drop.clone());
        Ok(Some(drop))
    }

    fn cached_drop(&self, drop_id: &str) -> Option<Arc<Drop>> {
        self.drop_cache
            .lock()
            .expect("drop cache poisoned")
            .get(drop_id)
            .cloned()
    }

    /// Every drop, by start time.
    pub async fn list_drops(&self) -> Result<Vec<Drop>> {
        let items = self
            .query_index_partition(keys::drops_index_partition())
            .await?;
        items.into_iter().map(decode).collect()
    }

    /// The drop's shards in shard order. `consistent` when a decision (sold out) rests on them.
    pub async fn shards(&self, drop: &Drop, consistent: bool) -> Result<Vec<Shard>> {
        let keys = (0..drop.shard_count)
            .map(|shard| keys::shard_key(&drop.id, shard))
            .collect();
        let mut shards: Vec<Shard> = self
            .batch_get(keys, consistent)
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<_>>()?;
        shards.sort_by_key(|shard| shard.shard);
        Ok(shards)
    }

    /// Shards of many drops (for `GET /drops`), grouped by drop id.
    pub async fn shards_of_drops(&self, drops: &[Drop]) -> Result<HashMap<String, Vec<Shard>>> {
        let keys = drops
            .iter()
            .flat_map(|drop| (0..drop.shard_count).map(|shard| keys::shard_key(&drop.id, shard)))
            .collect();
        let mut grouped: HashMap<String, Vec<Shard>> = HashMap::new();
        for item in self.batch_get(keys, false).await? {
            let shard: Shard = decode(item)?;
            grouped
                .entry(shard.drop_id.clone())
                .or_default()
                .push(shard);
        }
        Ok(grouped)
    }

    pub async fn reservation(&self, reservation_id: &str) -> Result<Option<Reservation>> {
        if !ids::is_valid(reservation_id) {
            return Ok(None);
        }
        self.get(keys::reservation_key(reservation_id), true).await
    }

    /// Up to `limit` held reservations filed under one shard's hold partition, earliest expiry
    /// first.
    pub async fn holds_page(
        &self,
        drop_id: &str,
        shard: u32,
        limit: i32,
    ) -> Result<Vec<Reservation>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .expression_attribute_names("#pk", keys::GSI1_PK)
            .expression_attribute_values(":pk", s(keys::hold_index_partition(drop_id, shard)))
            .key_condition_expression("#pk = :pk")
            .scan_index_forward(true)
            .limit(limit)
            .send()
            .await?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect()
    }

    /// Every held reservation of a shard partition (the audit reads them all).
    pub async fn all_holds(&self, drop_id: &str, shard: u32) -> Result<Vec<Reservation>> {
        let items = self
            .query_index_partition(keys::hold_index_partition(drop_id, shard))
            .await?;
        items.into_iter().map(decode).collect()
    }

    /// The claim: one transaction that raises the shopper's claim record within the limit,
    /// writes the held reservation and takes the units from each allocated shard while the
    /// sale window is open. Nothing else is touched: no shared item takes part in every claim.
    pub async fn commit_claim(
        &self,
        reservation: &Reservation,
        per_user_limit: u32,
        now: DateTime<Utc>,
        attempt: u32,
    ) -> Result<ClaimCommit> {
        let quantity = i64::from(reservation.quantity);
        let (claim_pk, claim_sk) =
            keys::claim_record_key(&reservation.shopper, &reservation.drop_id);
        let claim_record = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(claim_pk))
            .key(keys::SK, s(claim_sk))
            .update_expression(
                "SET last_reservation_id = :rid, drop_id = :drop, shopper = :shopper ADD units :q",
            )
            .condition_expression("attribute_not_exists(units) OR units <= :room")
            .expression_attribute_values(":rid", s(&reservation.id))
            .expression_attribute_values(":drop", s(&reservation.drop_id))
            .expression_attribute_values(":shopper", s(&reservation.shopper))
            .expression_attribute_values(":q", n(quantity))
            .expression_attribute_values(":room", n(i64::from(per_user_limit) - quantity))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;

        let mut reservation_item = encode(reservation, keys::reservation_key(&reservation.id))?;
        let first_shard = reservation.allocations.first().map_or(0, |a| a.shard);
        let (hold_pk, hold_sk) = keys::hold_index_key(
            &reservation.drop_id,
            first_shard,
            reservation.expires_at_ms,
            &reservation.id,
        );
        reservation_item.insert(keys::GSI1_PK.into(), s(hold_pk));
        reservation_item.insert(keys::GSI1_SK.into(), s(hold_sk));
        reservation_item.insert(
            keys::TTL.into(),
            n(reservation.expires_at_ms + RESERVATION_RETENTION_SECONDS),
        );

        let mut actions = vec![
            TransactWriteItem::builder().update(claim_record).build(),
            self.put_new(reservation_item)?,
        ];
        for allocation in &reservation.allocations {
            let (pk, sk) = keys::shard_key(&reservation.drop_id, allocation.shard);
            let units = i64::from(allocation.units);
            let take = Update::builder()
                .table_name(&self.table)
                .key(keys::PK, s(pk))
                .key(keys::SK, s(sk))
                .update_expression("ADD available :minus, held :units")
                .condition_expression(
                    "available >= :units AND starts_at_ms <= :now \
                     AND (attribute_not_exists(ends_at_ms) OR ends_at_ms > :now)",
                )
                .expression_attribute_values(":units", n(units))
                .expression_attribute_values(":minus", n(-units))
                .expression_attribute_values(":now", n(now.timestamp_millis()))
                .build()
                .map_err(build_error)?;
            actions.push(TransactWriteItem::builder().update(take).build());
        }

        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            // Makes the SDK's own network retries of this exact attempt idempotent.
            .client_request_token(format!("{}-{attempt}", reservation.id))
            .send()
            .await;
        let reasons = match cancellation_reasons(sent)? {
            None => return Ok(ClaimCommit::Committed),
            Some(reasons) => reasons,
        };
        if reasons
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
        {
            return Ok(ClaimCommit::Conflict);
        }
        if let Some(refusal) = reasons
            .first()
            .filter(|r| r.code() == Some("ConditionalCheckFailed"))
        {
            let last_reservation_id = refusal
                .item()
                .and_then(|item| item.get("last_reservation_id"))
                .and_then(|value| value.as_s().ok())
                .cloned();
            return Ok(ClaimCommit::LimitReached {
                last_reservation_id,
            });
        }
        if reasons
            .iter()
            .skip(2)
            .any(|r| r.code() == Some("ConditionalCheckFailed"))
        {
            return Ok(ClaimCommit::ShardRefused);
        }
        Err(ApiError::Store(format!(
            "claim transaction cancelled: {reasons:?}"
        )))
    }

    /// Ends a hold and returns its units, in one transaction conditioned on the hold still being
    /// held: whoever races to end it (owner, sweeper, claim, webhook), units come back once.
    pub async fn commit_release(
        &self,
        reservation: &Reservation,
        to: ReservationStatus,
        guard: ReleaseGuard,
        now: DateTime<Utc>,
    ) -> Result<ReleaseCommit> {
        let quantity = i64::from(reservation.quantity);
        let (pk, sk) = keys::reservation_key(&reservation.id);
        let mut condition = "#status = :held".to_string();
        if guard == ReleaseGuard::Overdue {
            condition.push_str(" AND expires_at_ms <= :now");
        }
        let mut values = HashMap::from([
            (":held".to_string(), s(ReservationStatus::Held.as_str())),
            (":to".to_string(), s(to.as_str())),
            (":ended".to_string(), s(now.to_rfc3339())),
        ]);
        if guard == ReleaseGuard::Overdue {
            values.insert(":now".into(), n(now.timestamp_millis()));
        }
        let end_hold = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET #status = :to, ended_at = :ended REMOVE #gpk, #gsk")
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#gpk", keys::GSI1_PK)
            .expression_attribute_names("#gsk", keys::GSI1_SK)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;

        let (claim_pk, claim_sk) =
            keys::claim_record_key(&reservation.shopper, &reservation.drop_id);
        let lower_claim = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(claim_pk))
            .key(keys::SK, s(claim_sk))
            .update_expression("ADD units :minus")
            .condition_expression("units >= :q")
            .expression_attribute_values(":q", n(quantity))
            .expression_attribute_values(":minus", n(-quantity))
            .build()
            .map_err(build_error)?;

        let mut actions = vec![
            TransactWriteItem::builder().update(end_hold).build(),
            TransactWriteItem::builder().update(lower_claim).build(),
        ];
        for allocation in &reservation.allocations {
            let (pk, sk) = keys::shard_key(&reservation.drop_id, allocation.shard);
            let units = i64::from(allocation.units);
            let give_back = Update::builder()
                .table_name(&self.table)
                .key(keys::PK, s(pk))
                .key(keys::SK, s(sk))
                .update_expression("ADD available :units, held :minus")
                .condition_expression("held >= :units")
                .expression_attribute_values(":units", n(units))
                .expression_attribute_values(":minus", n(-units))
                .build()
                .map_err(build_error)?;
            actions.push(TransactWriteItem::builder().update(give_back).build());
        }

        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        let reasons = match cancellation_reasons(sent)? {
            None => return Ok(ReleaseCommit::Released),
            Some(reasons) => reasons,
        };
        if reasons
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
        {
            return Ok(ReleaseCommit::Conflict);
        }
        if reasons.first().and_then(|r| r.code()) == Some("ConditionalCheckFailed") {
            return Ok(ReleaseCommit::NotHeld);
        }
        // The hold was held but its counters refused: the ledger is broken somewhere. Refuse
        // loudly rather than make it worse.
        tracing::error!(reservation_id = %reservation.id, ?reasons, "release refused by counters");
        Err(ApiError::Store(format!(
            "release transaction cancelled: {reasons:?}"
        )))
    }

    async fn get<T: DeserializeOwned>(&self, (pk, sk): Key, consistent: bool) -> Result<Option<T>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .consistent_read(consistent)
            .send()
            .await?;
        output.item.map(decode).transpose()
    }

    async fn batch_get(&self, keys: Vec<Key>, consistent: bool) -> Result<Vec<Item>> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(
                    chunk
                        .iter()
                        .map(|(pk, sk)| {
                            HashMap::from([(keys::PK.into(), s(pk)), (keys::SK.into(), s(sk))])
                        })
                        .collect(),
                ))
                .consistent_read(consistent)
                .build()
                .map_err(build_error)?;
            for round in 0u32.. {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await?;
                if let Some(mut responses) = output.responses {
                    found.extend(responses.remove(&self.table).unwrap_or_default());
                }
                match output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                {
                    Some(rest) if !rest.keys.is_empty() => {
                        pending = rest;
                        tokio::time::sleep(Duration::from_millis(10 << round.min(6))).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    /// Every item of one GSI1 partition, in sort-key order.
    async fn query_index_partition(&self, partition: String) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI1)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", keys::GSI1_PK)
                .expression_attribute_values(":pk", s(&partition))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    fn put_new(&self, item: Item) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// `Ok(None)` when the transaction committed, the per-action reasons when it was cancelled.
fn cancellation_reasons<R: std::fmt::Debug>(
    sent: std::result::Result<
        R,
        aws_sdk_dynamodb::error::SdkError<
            TransactWriteItemsError,
            aws_sdk_dynamodb::config::http::HttpResponse,
        >,
    >,
) -> Result<Option<Vec<CancellationReason>>> {
    match sent {
        Ok(_) => Ok(None),
        Err(err) => match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                Ok(Some(cancelled.cancellation_reasons().to_vec()))
            }
            _ => Err(err.into()),
        },
    }
}

fn encode<T: Serialize>(value: &T, (pk, sk): Key) -> Result<Item> {
    let mut item: Item = serde_dynamo::to_item(value)?;
    item.insert(keys::PK.into(), s(pk));
    item.insert(keys::SK.into(), s(sk));
    Ok(item)
}

fn decode<T: DeserializeOwned>(item: Item) -> Result<T> {
    Ok(serde_dynamo::from_item(item)?)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> ApiError {
    ApiError::Store(format!("request build: {err}"))
}
