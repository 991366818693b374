//! The waiting room's items: tickets and members (written by joins), the queue's state (written by
//! the controller alone, under a version condition), the order's chunks (written once each), and
//! the ticket transitions (admitted, expired) under conditions on the ticket's status.

use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, WriteRequest,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::cache::QueueLine;
use super::transaction::{Role, TransactOutcome, Transaction};
use super::{RETENTION_SECONDS, Store, condition_met, decode, decode_each, encode, keys, n, s};
use crate::error::{ApiError, Result};
use crate::model::drop::{DropSpec, UnitCounts};
use crate::model::queue::{Member, OrderChunk, OrderIndex, QueueState, Ticket, TicketStatus};

/// How a join's write ended.
#[derive(Debug)]
pub enum JoinOutcome {
    Created,
    /// The shopper already has a ticket for this drop.
    Exists,
    Contended,
}

impl Store {
    /// Writes a new ticket and its member item in one transaction; a second ticket for the same
    /// shopper and drop is refused by the ticket's key.
    pub async fn put_ticket(&self, ticket: &Ticket) -> Result<JoinOutcome> {
        let mut ticket_item = encode(ticket, keys::ticket_key(&ticket.shopper, &ticket.drop_id))?;
        ticket_item.insert(
            keys::TTL.into(),
            n(ticket.joined_at.timestamp() + RETENTION_SECONDS),
        );
        let member = Member {
            ticket_id: ticket.id.clone(),
            shopper: ticket.shopper.clone(),
            joined_at_us: ticket.joined_at_us,
            early: ticket.early,
        };
        let member_key = if ticket.cohort {
            keys::cohort_member_key(&ticket.drop_id, ticket.stripe, &ticket.id)
        } else {
            keys::arrival_member_key(
                &ticket.drop_id,
                ticket.stripe,
                ticket.joined_at_us,
                &ticket.id,
            )
        };
        let mut join = Transaction::new("join");
        join.push(Role::Ticket, self.put_new(ticket_item)?);
        join.push(Role::Member, self.put_new(encode(&member, member_key)?)?);
        Ok(match self.transact(join, None).await? {
            TransactOutcome::Committed => JoinOutcome::Created,
            TransactOutcome::Contended => JoinOutcome::Contended,
            TransactOutcome::Refused { .. } => JoinOutcome::Exists,
        })
    }

    /// Adds one to each of `counters` on one stripe (the integrity report's counts; tickets
    /// made feed the status document's estimate before the draw).
    pub async fn count_queue_events(
        &self,
        drop_id: &str,
        stripe: u32,
        counters: &[&str],
    ) -> Result<()> {
        let (pk, sk) = keys::join_counter_key(drop_id, stripe);
        let expression = (0..counters.len())
            .map(|i| format!("#c{i} :one"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression(format!("ADD {expression}"))
            .expression_attribute_values(":one", n(1));
        for (i, counter) in counters.iter().enumerate() {
            update = update.expression_attribute_names(format!("#c{i}"), *counter);
        }
        update.send().await?;
        Ok(())
    }

    /// Every counter of a queue, summed over its stripes.
    pub async fn queue_counters(&self, drop_id: &str) -> Result<HashMap<String, u64>> {
        let keys = (0..keys::QUEUE_STRIPES)
            .map(|stripe| keys::join_counter_key(drop_id, stripe))
            .collect();
        let mut totals: HashMap<String, u64> = HashMap::new();
        for item in self.batch_get(keys, false).await? {
            for (name, value) in item {
                if let Some(count) = value.as_n().ok().and_then(|n| n.parse::<u64>().ok()) {
                    *totals.entry(name).or_default() += count;
                }
            }
        }
        Ok(totals)
    }

    /// Tickets made, over all stripes.
    pub async fn joins(&self, drop_id: &str) -> Result<u64> {
        Ok(self
            .queue_counters(drop_id)
            .await?
            .get("tickets")
            .copied()
            .unwrap_or(0))
    }

    /// Spends a proof-of-work challenge: `false` when it was spent before.
    pub async fn spend_challenge(&self, nonce: &str, expires_at: i64) -> Result<bool> {
        let (pk, sk) = keys::spent_challenge_key(nonce);
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(keys::PK, s(pk))
            .item(keys::SK, s(sk))
            .item(keys::TTL, n(expires_at + 3600))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        condition_met(written)
    }

    /// Counts one request in a one-minute window unless `limit` were passed: `false` (nothing
    /// written) when the window is full.
    pub async fn count_in_window(
        &self,
        (pk, sk): keys::Key,
        limit: u32,
        expires_at: i64,
    ) -> Result<bool> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("ADD requests :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(requests) OR requests < :limit")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .expression_attribute_values(":ttl", n(expires_at))
            .send()
            .await;
        condition_met(written)
    }

    pub async fn ticket(&self, shopper: &str, drop_id: &str) -> Result<Option<Ticket>> {
        self.get(keys::ticket_key(shopper, drop_id), true).await
    }

    /// Tickets of `(shopper, drop)` pairs, in no particular order.
    pub async fn tickets(&self, drop_id: &str, shoppers: &[String]) -> Result<Vec<Ticket>> {
        let keys = shoppers
            .iter()
            .map(|shopper| keys::ticket_key(shopper, drop_id))
            .collect();
        Ok(decode_each(self.batch_get(keys, true).await?, "ticket"))
    }

    pub async fn queue_state(&self, drop_id: &str) -> Result<Option<QueueState>> {
        self.get(keys::queue_state_key(drop_id), true).await
    }

    /// Replaces the queue state if nobody else wrote it since `state.version - 1` was read.
    pub async fn save_queue_state(&self, state: &QueueState) -> Result<bool> {
        let item = encode(state, keys::queue_state_key(&state.drop_id))?;
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("version = :previous")
            .expression_attribute_values(":previous", n(state.version as i64 - 1))
            .send()
            .await;
        condition_met(written)
    }

    /// The queue's state item, for the transaction that creates a queued drop.
    pub(super) fn new_queue_state_item(&self, state: &QueueState) -> Result<TransactWriteItem> {
        self.put_new(encode(state, keys::queue_state_key(&state.drop_id))?)
    }

    /// Every member of one cohort stripe (strongly consistent: the draw must see every join the
    /// stripe holds).
    pub async fn cohort_members(&self, drop_id: &str, stripe: u32) -> Result<Vec<Member>> {
        self.members(keys::cohort_partition(drop_id, stripe)).await
    }

    /// Members who joined after the start and are not numbered yet, in arrival order.
    pub async fn arrivals(&self, drop_id: &str, stripe: u32) -> Result<Vec<Member>> {
        self.members(keys::arrival_partition(drop_id, stripe)).await
    }

    async fn members(&self, partition: String) -> Result<Vec<Member>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(partition))
            .consistent_read(true);
        Ok(decode_each(self.query_all(query).await?, "member"))
    }

    /// Forgets numbered arrivals.
    pub async fn remove_arrivals(&self, drop_id: &str, arrivals: &[(u32, Member)]) -> Result<()> {
        let requests = arrivals
            .iter()
            .map(|(stripe, member)| {
                let (pk, sk) = keys::arrival_member_key(
                    drop_id,
                    *stripe,
                    member.joined_at_us,
                    &member.ticket_id,
                );
                let delete = DeleteRequest::builder()
                    .key(keys::PK, s(pk))
                    .key(keys::SK, s(sk))
                    .build()?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>>>()?;
        self.batch_write(requests).await
    }

    /// Writes order chunks (idempotent: a chunk's content is determined by the draw).
    pub async fn put_order_chunks(&self, drop_id: &str, chunks: &[OrderChunk]) -> Result<()> {
        let requests = chunks
            .iter()
            .map(|chunk| {
                let item = encode(chunk, keys::order_chunk_key(drop_id, chunk.start))?;
                Ok(WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                    .build())
            })
            .collect::<Result<Vec<_>>>()?;
        self.batch_write(requests).await
    }

    pub async fn put_order_index(&self, drop_id: &str, index: &OrderIndex) -> Result<()> {
        let item = encode(index, keys::order_index_key(drop_id))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    /// The cohort's order index, once drawn (immutable, so cached).
    pub async fn order_index(&self, drop_id: &str) -> Result<Option<Arc<OrderIndex>>> {
        if let Some(index) = self.queues.index(drop_id) {
            return Ok(Some(index));
        }
        let Some(index) = self
            .get::<OrderIndex>(keys::order_index_key(drop_id), true)
            .await?
        else {
            return Ok(None);
        };
        let index = Arc::new(index);
        self.queues.insert_index(drop_id, index.clone());
        Ok(Some(index))
    }

    /// The order chunk holding `position`, if one does (immutable, so cached).
    pub async fn chunk_at(&self, drop_id: &str, position: u64) -> Result<Option<Arc<OrderChunk>>> {
        if let Some(chunk) = self.queues.chunk_at(drop_id, position) {
            return Ok(Some(chunk));
        }
        let Some(chunk) = self.read_chunk_at(drop_id, position).await? else {
            return Ok(None);
        };
        let chunk = Arc::new(chunk);
        self.queues.insert_chunk(drop_id, chunk.clone());
        Ok(Some(chunk))
    }

    /// The queue's state and the drop's stock, read at most once per view TTL per container.
    pub async fn queue_line(&self, drop: &DropSpec) -> Result<Arc<QueueLine>> {
        if let Some(line) = self.queues.line(&drop.id) {
            return Ok(line);
        }
        let state = self
            .queue_state(&drop.id)
            .await?
            .ok_or_else(|| ApiError::invariant("a queued drop has no queue state"))?;
        let shards = self.shards(drop, false).await?;
        let joins = self.joins(&drop.id).await?;
        let line = Arc::new(QueueLine {
            state,
            counts: UnitCounts::sum(&shards),
            joins,
        });
        self.queues.insert_line(&drop.id, line.clone());
        Ok(line)
    }

    /// The chunk holding `position`, if one does, as stored.
    async fn read_chunk_at(&self, drop_id: &str, position: u64) -> Result<Option<OrderChunk>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :first AND :at")
            .expression_attribute_values(":pk", s(keys::order_partition(drop_id)))
            .expression_attribute_values(":first", s(keys::order_chunk_sort(0)))
            .expression_attribute_values(":at", s(keys::order_chunk_sort(position)))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await?;
        let chunk = output
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(decode::<OrderChunk>)
            .transpose()?;
        Ok(chunk.filter(|chunk| chunk.at(position).is_some()))
    }

    /// Every chunk from `first_position` on, in order.
    async fn order_chunks(&self, drop_id: &str, first_position: u64) -> Result<Vec<OrderChunk>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(keys::order_partition(drop_id)))
            .expression_attribute_values(":from", s(keys::order_chunk_sort(first_position)))
            .expression_attribute_values(":to", s(keys::order_chunk_sort(u64::MAX / 2)))
            .consistent_read(true);
        Ok(decode_each(self.query_all(query).await?, "order chunk"))
    }

    /// The ticket ids at positions `first..first + count` of the order.
    pub async fn drawn_ids(
        &self,
        drop_id: &str,
        first: u64,
        count: u64,
    ) -> Result<HashSet<String>> {
        Ok(self
            .drawn_in_order(drop_id, first, count)
            .await?
            .into_iter()
            .collect())
    }

    /// The ticket ids at positions `first..first + count`, in position order.
    pub async fn drawn_in_order(
        &self,
        drop_id: &str,
        first: u64,
        count: u64,
    ) -> Result<Vec<String>> {
        let mut ids = Vec::with_capacity(count as usize);
        if count == 0 {
            return Ok(ids);
        }
        let last = first + count - 1;
        for chunk in self.order_chunks(drop_id, first).await? {
            for (offset, (ticket_id, _)) in chunk.entries.iter().enumerate() {
                let position = chunk.start + offset as u64;
                if (first..=last).contains(&position) {
                    ids.push(ticket_id.clone());
                }
            }
            if chunk.end() >= last {
                break;
            }
        }
        Ok(ids)
    }

    /// Numbers a ticket that arrived after the start.
    pub async fn set_ticket_position(
        &self,
        ticket: &Member,
        drop_id: &str,
        position: u64,
    ) -> Result<()> {
        let (pk, sk) = keys::ticket_key(&ticket.shopper, drop_id);
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET #position = :position")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(#position)")
            .expression_attribute_names("#position", "position")
            .expression_attribute_values(":position", n(position as i64))
            .send()
            .await;
        condition_met(written).map(|_| ())
    }

    /// `waiting` → `admitted` until `expires_at`; `false` if the ticket was not waiting.
    pub async fn admit_ticket(
        &self,
        shopper: &str,
        drop_id: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let (pk, sk) = keys::ticket_key(shopper, drop_id);
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression(
                "SET #status = :admitted, admitted_at = :now, admission_expires_at = :expires, \
                 admission_expires_at_ms = :expires_ms",
            )
            .condition_expression("#status = :waiting")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":admitted", s(TicketStatus::Admitted.as_str()))
            .expression_attribute_values(":waiting", s(TicketStatus::Waiting.as_str()))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":expires", s(expires_at.to_rfc3339()))
            .expression_attribute_values(":expires_ms", n(expires_at.timestamp_millis()))
            .send()
            .await;
        condition_met(written)
    }

    /// `admitted` → `expired` once its admission has run out; `false` if it claimed first.
    pub async fn expire_ticket(&self, ticket: &Ticket, now: DateTime<Utc>) -> Result<bool> {
        let (pk, sk) = keys::ticket_key(&ticket.shopper, &ticket.drop_id);
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET #status = :expired")
            .condition_expression("#status = :admitted AND admission_expires_at_ms <= :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expired", s(TicketStatus::Expired.as_str()))
            .expression_attribute_values(":admitted", s(TicketStatus::Admitted.as_str()))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .send()
            .await;
        condition_met(written)
    }

    /// The claim's action on an admitted ticket: it claims once, within its admission.
    pub(super) fn claim_ticket_action(
        &self,
        shopper: &str,
        drop_id: &str,
        ticket_id: &str,
        reservation_id: &str,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem> {
        let (pk, sk) = keys::ticket_key(shopper, drop_id);
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET #status = :claimed, reservation_id = :rid")
            .condition_expression(
                "#status = :admitted AND id = :ticket AND admission_expires_at_ms > :now",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", s(TicketStatus::Claimed.as_str()))
            .expression_attribute_values(":admitted", s(TicketStatus::Admitted.as_str()))
            .expression_attribute_values(":ticket", s(ticket_id))
            .expression_attribute_values(":rid", s(reservation_id))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// A ticket's status as a refused claim found it.
pub fn ticket_status_in(
    item: Option<&std::collections::HashMap<String, AttributeValue>>,
) -> Option<TicketStatus> {
    let status = item?.get("status")?.as_s().ok()?;
    serde_json::from_value(serde_json::Value::String(status.clone())).ok()
}
