//! All DynamoDB access. The domain decides *what* to write; this module knows *how*: key shapes
//! (in `keys`), item encoding, and the exact actions of each transaction and what a cancellation
//! of each action means. It imports nothing of Burst's but `model` and `error`.
//!
//! Here: the `Store` (client, table, the container's caches) and how any item is encoded, read,
//! queried and batched. Beside it, one file per kind of item: `drops` (a drop, its shards, its
//! admin events), `holds` and `orders` (reservations, orders, Stripe's events), `queue` (the
//! waiting room), `live` (WebSocket connections); `ledger` holds the transactions that move units
//! between a shard's buckets, over the machinery of `transaction`; `cache` what a warm container
//! reuses; `counts` the refusal counts it writes in batches. This file imports none of them but `keys` and `cache`, so they may all import it.

pub mod cache;
mod counts;
mod drops;
mod holds;
pub mod keys;
pub mod ledger;
mod live;
mod orders;
pub mod queue;
#[cfg(feature = "table")]
pub mod table;
mod transaction;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, WriteRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Result};
use cache::{Caching, DropCache, ExpiryHints, PendingCounts, QueueCache};
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
    pending_counts: PendingCounts,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, caching: Caching) -> Self {
        Self {
            client,
            table: table.into(),
            drops: DropCache::new(caching.drop_ttl),
            queues: QueueCache::new(caching.view_ttl),
            expiry_hints: ExpiryHints::default(),
            pending_counts: PendingCounts::new(caching.count_batch),
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

    /// An `UpdateItem` of the item at `key` in this table, for the caller to complete.
    fn update_at(&self, (pk, sk): Key) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
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
        let invalid = invalid_cursor;
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let map: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let expected = [keys::PK, keys::SK, keys::GSI1_PK, keys::GSI1_SK];
        // DynamoDB refuses an empty key value, and a sort key over 1,024 bytes.
        let usable = |value: &String| !value.is_empty() && value.len() <= 1024;
        if map.len() != expected.len()
            || !expected
                .iter()
                .all(|name| map.get(*name).is_some_and(usable))
            || map[keys::GSI1_PK] != partition
        {
            return Err(invalid());
        }
        Ok(Self(map.into_iter().map(|(k, v)| (k, s(v))).collect()))
    }
}

/// A cursor this listing did not hand out (or one DynamoDB refuses as a start key).
fn invalid_cursor() -> ApiError {
    ApiError::invalid("cursor", "cursor is not one this listing handed out")
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
