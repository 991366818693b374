//! A drop's own items: the drop, its shards (with their copies of its sale window and pause), and
//! the record of what admins did to it; the drops index the listing and the sweeper page through.
//! Every change to a drop is one transaction with its event.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use chrono::{DateTime, Utc};

use super::transaction::{Role, TransactOutcome, Transaction, UpdateAction};
use super::{Page, PageKey, Store, decode, decode_each, encode, keys, n, s};
use crate::error::Result;
use crate::model::drop::{AdminEvent, DropSpec, Shard};
use crate::model::ids;
use crate::model::queue::QueueState;

impl Store {
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
        let forged_or_stale = start.is_some();
        let sent = self
            .drops_query(partition, since)
            .limit(limit)
            .set_exclusive_start_key(start.map(|key| key.0))
            .send()
            .await;
        // A well-formed cursor can still be one DynamoDB refuses as a start key: empty or
        // oversized values, or a place outside the query's range (a forged cursor, or one
        // older than the listing's window). That is the client's cursor, not a failure.
        let output = match sent {
            Err(err)
                if forged_or_stale
                    && err.as_service_error().and_then(|e| e.code())
                        == Some("ValidationException") =>
            {
                return Err(super::invalid_cursor());
            }
            sent => sent?,
        };
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

    /// Writes the drop, all its shards, (for a queued drop) its queue state and the creation's
    /// event in one transaction: a drop is never half-created, and its seed is written once.
    pub async fn put_drop(
        &self,
        drop: &DropSpec,
        shards: &[Shard],
        queue: Option<&QueueState>,
        event: &AdminEvent,
    ) -> Result<()> {
        let mut create = Transaction::new("create drop");
        create.push(Role::Drop, self.put_new(drop_item(drop)?)?);
        for shard in shards {
            create.push(
                Role::Shard,
                self.put_new(encode(shard, keys::shard_key(&drop.id, shard.shard))?)?,
            );
        }
        if let Some(queue) = queue {
            create.push(Role::Drop, self.new_queue_state_item(queue)?);
        }
        create.push(Role::Drop, self.put_new(event_item(event)?)?);
        self.transact_all(create).await
    }

    /// Replaces the drop's settings if it is still at `expected_version`, with the shards'
    /// copies of its window and the edit's event. `false` when the drop moved on.
    pub async fn replace_drop(
        &self,
        drop: &DropSpec,
        expected_version: u64,
        event: &AdminEvent,
    ) -> Result<bool> {
        let mut replace = Transaction::new("edit drop");
        replace.push(
            Role::Drop,
            self.put_when(
                drop_item(drop)?,
                "#version = :expected",
                [("#version".to_string(), "version".to_string())].into(),
                [(":expected".to_string(), n(expected_version as i64))].into(),
            )?,
        );
        for shard in 0..drop.shard_count {
            let mut set = vec!["starts_at_ms = :starts"];
            let mut remove = Vec::new();
            let mut update = UpdateAction::new(keys::shard_key(&drop.id, shard), "")
                .when("attribute_exists(PK)")
                .value(":starts", n(drop.starts_at.timestamp_millis()));
            match drop.ends_at {
                Some(end) => {
                    set.push("ends_at_ms = :ends");
                    update = update.value(":ends", n(end.timestamp_millis()));
                }
                None => remove.push("ends_at_ms"),
            }
            match drop.early_at_ms() {
                Some(early) => {
                    set.push("early_at_ms = :early");
                    update = update.value(":early", n(early));
                }
                None => remove.push("early_at_ms"),
            }
            let mut expression = format!("SET {}", set.join(", "));
            if !remove.is_empty() {
                expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
            }
            replace.push(
                Role::Shard,
                update.with_expression(expression).build(&self.table)?,
            );
        }
        replace.push(Role::Drop, self.put_new(event_item(event)?)?);
        match self.transact(replace, None).await? {
            TransactOutcome::Committed => {
                self.drops.forget(&drop.id);
                Ok(true)
            }
            TransactOutcome::Refused {
                role: Role::Drop, ..
            }
            | TransactOutcome::Contended => Ok(false),
            TransactOutcome::Refused { role, reasons, .. } => {
                Err(super::transaction::refused("edit drop", role, &reasons))
            }
        }
    }

    /// Sets the operator's pause on the drop (raising its version) and, where it stops claims,
    /// on every shard, with the event, in one transaction.
    pub async fn set_paused(
        &self,
        drop: &DropSpec,
        paused: bool,
        event: &AdminEvent,
    ) -> Result<()> {
        let mut pause = Transaction::new("pause drop");
        pause.push(
            Role::Drop,
            UpdateAction::new(
                keys::drop_key(&drop.id),
                "SET paused = :paused ADD #version :one",
            )
            .when("attribute_exists(PK)")
            .name("#version", "version")
            .value(
                ":paused",
                aws_sdk_dynamodb::types::AttributeValue::Bool(paused),
            )
            .value(":one", n(1))
            .build(&self.table)?,
        );
        let shards_paused = paused && drop.queue.is_none();
        for shard in 0..drop.shard_count {
            pause.push(
                Role::Shard,
                UpdateAction::new(keys::shard_key(&drop.id, shard), "SET paused = :paused")
                    .when("attribute_exists(PK)")
                    .value(
                        ":paused",
                        aws_sdk_dynamodb::types::AttributeValue::Bool(shards_paused),
                    )
                    .build(&self.table)?,
            );
        }
        pause.push(Role::Drop, self.put_new(event_item(event)?)?);
        self.transact_all(pause).await?;
        self.drops.forget(&drop.id);
        Ok(())
    }

    /// The admin events of a drop, oldest first.
    pub async fn admin_events(&self, drop_id: &str) -> Result<Vec<AdminEvent>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", s(keys::drop_partition(drop_id)))
            .expression_attribute_values(":prefix", s(keys::ADMIN_EVENT_PREFIX));
        Ok(decode_each(self.query_all(query).await?, "admin event"))
    }

    /// The drop, from this container's copy when it is younger than the drop TTL.
    pub async fn drop(&self, drop_id: &str) -> Result<Option<Arc<DropSpec>>> {
        if let Some(drop) = self.drops.get(drop_id) {
            return Ok(Some(drop));
        }
        self.drop_now(drop_id).await
    }

    /// The drop as stored now (strongly consistent): what an edit decides on.
    pub async fn drop_now(&self, drop_id: &str) -> Result<Option<Arc<DropSpec>>> {
        if !ids::is_valid(drop_id) {
            return Ok(None);
        }
        let Some(drop) = self.get::<DropSpec>(keys::drop_key(drop_id), true).await? else {
            return Ok(None);
        };
        let drop = Arc::new(drop);
        self.drops.insert(drop.clone());
        Ok(Some(drop))
    }
}

/// The drop's item, filed in the drops index by when it closes.
fn drop_item(drop: &DropSpec) -> Result<super::Item> {
    let mut item = encode(drop, keys::drop_key(&drop.id))?;
    let (index_pk, index_sk) = keys::drop_index_key(drop.ends_at, &drop.id);
    item.insert(keys::GSI1_PK.into(), s(index_pk));
    item.insert(keys::GSI1_SK.into(), s(index_sk));
    Ok(item)
}

fn event_item(event: &AdminEvent) -> Result<super::Item> {
    encode(
        event,
        keys::admin_event_key(&event.drop_id, event.at, &event.id),
    )
}
