//! All DynamoDB access. The domain decides *what* to write; this module knows *how*: key shapes
//! (in `keys`), item encoding, and the exact actions of each transaction and what a cancellation
//! of each action means.

pub mod keys;
#[cfg(feature = "table")]
pub mod table;
mod transactions;

pub use transactions::{ClaimCommit, Commit, ReleaseGuard, SaleSource};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::drops::{DropSpec, Shard};
use crate::domain::ids;
use crate::domain::orders::Order;
use crate::domain::reservations::Reservation;
use crate::error::Result;
use keys::Key;

pub type Item = HashMap<String, AttributeValue>;

/// Reservations and processed-event records stay readable long after they matter (a hold ends
/// within minutes; Stripe retries an event for 3 days); TTL only collects them after this. It
/// never ends a hold: the code does.
const RETENTION_SECONDS: i64 = 30 * 24 * 3600;

pub struct Store {
    client: Client,
    table: String,
    /// Drops never change after creation, so a warm container reads each one once.
    drop_cache: Mutex<HashMap<String, Arc<DropSpec>>>,
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
    pub async fn put_drop(&self, drop: &DropSpec, shards: &[Shard]) -> Result<()> {
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

    pub async fn drop(&self, drop_id: &str) -> Result<Option<Arc<DropSpec>>> {
        if !ids::is_valid(drop_id) {
            return Ok(None);
        }
        if let Some(drop) = self.cached_drop(drop_id) {
            return Ok(Some(drop));
        }
        let Some(drop) = self.get::<DropSpec>(keys::drop_key(drop_id), false).await? else {
            return Ok(None);
        };
        let drop = Arc::new(drop);
        self.drop_cache
            .lock()
            .expect("drop cache poisoned")
            .insert(drop.id.clone(), drop.clone());
        Ok(Some(drop))
    }

    fn cached_drop(&self, drop_id: &str) -> Option<Arc<DropSpec>> {
        self.drop_cache
            .lock()
            .expect("drop cache poisoned")
            .get(drop_id)
            .cloned()
    }

    /// Every drop, by start time.
    pub async fn list_drops(&self) -> Result<Vec<DropSpec>> {
        self.query_index_partition(keys::drops_index_partition())
            .await
    }

    /// The drop's shards in shard order. `consistent` when a decision (sold out) rests on them.
    pub async fn shards(&self, drop: &DropSpec, consistent: bool) -> Result<Vec<Shard>> {
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
    pub async fn shards_of_drops(&self, drops: &[DropSpec]) -> Result<HashMap<String, Vec<Shard>>> {
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
            .index_partition_query(keys::hold_index_partition(drop_id, shard))
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
        self.query_index_partition(keys::hold_index_partition(drop_id, shard))
            .await
    }

    pub async fn order(&self, shopper: &str, order_id: &str) -> Result<Option<Order>> {
        if !ids::is_valid(order_id) {
            return Ok(None);
        }
        self.get(keys::order_key(shopper, order_id), true).await
    }

    pub async fn orders(&self, shopper: &str) -> Result<Vec<Order>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::user_partition(shopper)))
            .expression_attribute_values(":prefix", s(keys::ORDER_PREFIX));
        self.query_all(query)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// Reservations whose delayed payment is pending, filed under one shard.
    pub async fn pending_payments(&self, drop_id: &str, shard: u32) -> Result<Vec<Reservation>> {
        self.query_index_partition(keys::pending_index_partition(drop_id, shard))
            .await
    }

    /// Paid orders filed under one shard's sold partition (the audit sums them).
    pub async fn sold_orders(&self, drop_id: &str, shard: u32) -> Result<Vec<Order>> {
        self.query_index_partition(keys::sold_index_partition(drop_id, shard))
            .await
    }

    pub async fn event_processed(&self, event_id: &str) -> Result<bool> {
        let (pk, sk) = keys::stripe_event_key(event_id);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item.is_some())
    }

    /// Marks an event processed; a second delivery finds it. Safe to repeat.
    pub async fn record_event(&self, event_id: &str, kind: &str, now: DateTime<Utc>) -> Result<()> {
        let (pk, sk) = keys::stripe_event_key(event_id);
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(keys::PK, s(pk))
            .item(keys::SK, s(sk))
            .item("type", s(kind))
            .item("processed_at", s(now.to_rfc3339()))
            .item(keys::TTL, n(now.timestamp() + RETENTION_SECONDS))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        // Already recorded by a concurrent delivery: just as good.
        condition_met(written).map(|_| ())
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
                .build()?;
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

    /// Every item of one GSI1 partition, in sort-key order, decoded.
    async fn query_index_partition<T: DeserializeOwned>(
        &self,
        partition: String,
    ) -> Result<Vec<T>> {
        let items = self
            .query_all(self.index_partition_query(partition))
            .await?;
        items.into_iter().map(decode).collect()
    }

    /// A query of one GSI1 partition, ascending by sort key.
    fn index_partition_query(&self, partition: String) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::GSI1_PK)
            .expression_attribute_values(":pk", s(partition))
    }

    /// Every page of a query.
    async fn query_all(&self, query: QueryFluentBuilder) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = query.clone().set_exclusive_start_key(start).send().await?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

pub(crate) fn encode<T: Serialize>(value: &T, (pk, sk): Key) -> Result<Item> {
    let mut item: Item = serde_dynamo::to_item(value)?;
    item.insert(keys::PK.into(), s(pk));
    item.insert(keys::SK.into(), s(sk));
    Ok(item)
}

fn decode<T: DeserializeOwned>(item: Item) -> Result<T> {
    Ok(serde_dynamo::from_item(item)?)
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// `Ok(false)` when a conditional write's condition failed (so nothing was written).
pub(crate) fn condition_met<O, E>(
    sent: std::result::Result<O, SdkError<E, HttpResponse>>,
) -> Result<bool>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match sent {
        Ok(_) => Ok(true),
        Err(err)
            if err.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(err) => Err(err.into()),
    }
}
