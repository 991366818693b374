//! All DynamoDB access. The domain decides *what* to write; this module knows *how*: key shapes
//! (in `keys`), item encoding, and the exact actions of each transaction and what a cancellation
//! of each action means.

pub mod cache;
mod drops;
pub mod keys;
mod live;
mod queue;
#[cfg(feature = "table")]
pub mod table;
mod transactions;

pub use cache::{Caching, QueueLine};
pub use queue::JoinWrite;
pub use transactions::{AdmittedTicket, ClaimCommit, Commit, ReleaseGuard, SaleSource};

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, WriteRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Result};
use crate::model::drop::{DropSpec, Shard};
use crate::model::ids;
use crate::model::order::Order;
use crate::model::reservation::Reservation;
use cache::{DropCache, ExpiryHints, QueueCache};
use keys::Key;

pub type Item = HashMap<String, AttributeValue>;

/// Reservations and processed-event records stay readable long after they matter (a hold ends
/// within minutes; Stripe retries an event for 3 days); TTL only collects them after this. It
/// never ends a hold: the code does.
const RETENTION_SECONDS: i64 = 30 * 24 * 3600;

pub struct Store {
    client: Client,
    table: String,
    drops: DropCache,
    queues: QueueCache,
    expiry_hints: ExpiryHints,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, caching: Caching) -> Self {
        Self {
            client,
            table: table.into(),
            drops: DropCache::new(caching.drop_ttl),
            queues: QueueCache::new(caching.view_ttl),
            expiry_hints: ExpiryHints::default(),
        }
    }

    /// Where this container's releases of overdue holds may skip a shard.
    pub fn expiry_hints(&self) -> &ExpiryHints {
        &self.expiry_hints
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One page of the drops still open at `since` (or never closing), by closing time.
    pub async fn drops_page(
        &self,
        since: DateTime<Utc>,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<DropSpec>> {
        let partition = keys::drops_index_partition();
        let start = cursor
            .map(|cursor| PageKey::decode(cursor, &partition))
            .transpose()?;
        let output = self
            .drops_query(partition, since)
            .limit(limit)
            .set_exclusive_start_key(start.map(|key| key.0))
            .send()
            .await?;
        Ok(Page {
            items: decode_each(output.items.unwrap_or_default(), "drop"),
            next: output.last_evaluated_key.map(|key| PageKey(key).encode()),
        })
    }

    /// Every drop still open at `since` (the sweeper's horizon), by closing time.
    pub async fn drops_open_since(&self, since: DateTime<Utc>) -> Result<Vec<DropSpec>> {
        let items = self
            .query_all(self.drops_query(keys::drops_index_partition(), since))
            .await?;
        Ok(decode_each(items, "drop"))
    }

    fn drops_query(&self, partition: String, since: DateTime<Utc>) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("#pk = :pk AND #sk >= :since")
            .expression_attribute_names("#pk", keys::GSI1_PK)
            .expression_attribute_names("#sk", keys::GSI1_SK)
            .expression_attribute_values(":pk", s(partition))
            .expression_attribute_values(":since", s(keys::drop_index_from(since)))
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

    /// Orders whose refund was decided but not confirmed by Stripe yet.
    pub async fn refunding_orders(&self) -> Result<Vec<Order>> {
        self.query_index_partition(keys::refunding_index_partition())
            .await
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

    /// The order a Stripe PaymentIntent paid for, if Burst recorded one.
    pub async fn order_by_payment_intent(&self, payment_intent: &str) -> Result<Option<Order>> {
        #[derive(serde::Deserialize)]
        struct Link {
            shopper: String,
            order_id: String,
        }
        let Some(link) = self
            .get::<Link>(keys::payment_link_key(payment_intent), true)
            .await?
        else {
            return Ok(None);
        };
        self.order(&link.shopper, &link.order_id).await
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

    /// Every item of one GSI1 partition, in sort-key order, decoded (any that do not decode are
    /// logged and skipped).
    async fn query_index_partition<T: DeserializeOwned>(
        &self,
        partition: String,
    ) -> Result<Vec<T>> {
        let items = self
            .query_all(self.index_partition_query(partition))
            .await?;
        Ok(decode_each(items, std::any::type_name::<T>()))
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

    /// Writes (puts or deletes) in batches of 25, retrying what DynamoDB left unprocessed.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<()> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for round in 0u32.. {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await?;
                match output
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                {
                    Some(rest) if !rest.is_empty() => {
                        pending = rest;
                        tokio::time::sleep(Duration::from_millis(10 << round.min(6))).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(())
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

/// Decodes the items of a listing, skipping (and logging) any that do not decode: one bad item
/// never takes a listing or a sweep down with it.
fn decode_each<T: DeserializeOwned>(items: Vec<Item>, what: &str) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| {
            let key = (item.get(keys::PK).cloned(), item.get(keys::SK).cloned());
            decode(item)
                .inspect_err(|error| {
                    tracing::error!(alert = "undecodable_item", what, ?key, error = %crate::error::chain(error), "item skipped")
                })
                .ok()
        })
        .collect()
}

/// One page of a listing and the opaque cursor of the next, if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Where a query left off (DynamoDB's `LastEvaluatedKey`).
#[derive(Debug, Clone)]
pub struct PageKey(Item);

impl PageKey {
    /// A cursor a client can hand back: the key's string attributes as URL-safe base64 JSON.
    fn encode(&self) -> String {
        let map: HashMap<&str, &str> = self
            .0
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.as_s().ok()?.as_str())))
            .collect();
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).expect("strings serialize"))
    }

    /// A client's cursor back into a key, refused (`400`) unless it is a key of `partition`.
    fn decode(cursor: &str, partition: &str) -> Result<Self> {
        let invalid = || ApiError::invalid("cursor", "cursor is not one this listing handed out");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let map: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let expected = [keys::PK, keys::SK, keys::GSI1_PK, keys::GSI1_SK];
        if map.len() != expected.len()
            || !expected.iter().all(|name| map.contains_key(*name))
            || map[keys::GSI1_PK] != partition
        {
            return Err(invalid());
        }
        Ok(Self(map.into_iter().map(|(k, v)| (k, s(v))).collect()))
    }
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
