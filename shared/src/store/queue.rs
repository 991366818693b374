//! The waiting room's items: tickets and members (written by joins, behind the draw's fences), the
//! queue's state (written by the controller alone, under a version condition), what the draw
//! writes (order pages, group records), arrival pages (committed with the state that counts
//! them), and the ticket transitions (admitted, expired) under conditions on the ticket's status.

use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, WriteRequest,
};
use futures::future::try_join_all;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::cache::QueueLine;
use super::transaction::{Role, TransactOutcome, Transaction, UpdateAction};
use super::{RETENTION_SECONDS, Store, condition_met, decode, decode_each, encode, keys, n, s};
use crate::error::{ApiError, Result};
use crate::model::draw;
use crate::model::drop::{DropSpec, UnitCounts};
use crate::model::queue::{
    DrawGroup, Member, OrderChunk, OrderPage, QueueState, Section, Ticket, TicketStatus,
};

/// How a join's write ended.
#[derive(Debug)]
pub enum JoinOutcome {
    Created,
    /// The shopper already has a ticket for this drop.
    Exists,
    /// The draw of the ticket's section has begun: it cannot join it any more.
    Frozen,
    Contended,
}

impl Store {
    /// Writes a new ticket and its member item in one transaction; a second ticket for the same
    /// shopper and drop is refused by the ticket's key. A pre-queue member goes into its draw
    /// group under `sort_key` (`draw::sort_key`), on condition that its stripe's fence for the
    /// section is still open.
    pub async fn put_ticket(&self, ticket: &Ticket, sort_key: &str) -> Result<JoinOutcome> {
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
        let mut join = Transaction::new("join");
        join.push(Role::Ticket, self.put_new(ticket_item)?);
        let member_key = if ticket.cohort {
            let section = Section::of_member(ticket.early);
            join.push(
                Role::Fence,
                self.fence_join_action(
                    &ticket.drop_id,
                    ticket.stripe,
                    section,
                    draw::group_of(sort_key),
                )?,
            );
            keys::draw_member_key(&ticket.drop_id, section, draw::group_of(sort_key), sort_key)
        } else {
            keys::arrival_member_key(
                &ticket.drop_id,
                ticket.stripe,
                ticket.joined_at_us,
                &ticket.id,
            )
        };
        join.push(Role::Member, self.put_new(encode(&member, member_key)?)?);
        Ok(match self.transact(join, None).await? {
            TransactOutcome::Committed => JoinOutcome::Created,
            TransactOutcome::Contended => JoinOutcome::Contended,
            TransactOutcome::Refused {
                role: Role::Fence, ..
            } => JoinOutcome::Frozen,
            TransactOutcome::Refused { .. } => JoinOutcome::Exists,
        })
    }

    /// A pre-queue join's action on its stripe's fence: refused once the section's draw began,
    /// else records the member's group among those the draw must read.
    fn fence_join_action(
        &self,
        drop_id: &str,
        stripe: u32,
        section: Section,
        group: u8,
    ) -> Result<TransactWriteItem> {
        UpdateAction::new(keys::join_fence_key(drop_id, stripe), "ADD #groups :group")
            .when("attribute_not_exists(#frozen)")
            .name("#groups", keys::fence_groups_attribute(section))
            .name("#frozen", keys::fence_attribute(section))
            .value(":group", AttributeValue::Ns(vec![group.to_string()]))
            .build(&self.table)
    }

    /// The groups of `section` that hold members, as its fences recorded them (read once the
    /// fences are closed, so the set is final).
    pub async fn occupied_groups(&self, drop_id: &str, section: Section) -> Result<BTreeSet<u8>> {
        let keys = (0..keys::QUEUE_STRIPES)
            .map(|stripe| keys::join_fence_key(drop_id, stripe))
            .collect();
        let mut groups = BTreeSet::new();
        for item in self.batch_get(keys, true).await? {
            if let Some(Ok(numbers)) = item
                .get(keys::fence_groups_attribute(section))
                .map(|value| value.as_ns())
            {
                groups.extend(numbers.iter().filter_map(|n| n.parse::<u8>().ok()));
            }
        }
        Ok(groups)
    }

    /// Closes every stripe's fence of `section`: from here on no join can add a member to it.
    pub async fn freeze_joins(&self, drop_id: &str, section: Section) -> Result<()> {
        try_join_all((0..keys::QUEUE_STRIPES).map(|stripe| async move {
            self.update_at(keys::join_fence_key(drop_id, stripe))
                .update_expression("SET #frozen = :yes")
                .expression_attribute_names("#frozen", keys::fence_attribute(section))
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .send()
                .await
                .map(|_| ())
        }))
        .await?;
        Ok(())
    }

    /// Writes tickets and their members in batches, with neither the one-ticket check nor the
    /// fences' refusal (their groups are recorded on the fences, as joins do): for seeding a
    /// benchmark's or a test's crowd. `sort_key` gives a pre-queue ticket's.
    pub async fn seed_tickets(
        &self,
        tickets: &[Ticket],
        sort_key: impl Fn(&Ticket) -> String,
    ) -> Result<()> {
        let mut requests = Vec::with_capacity(tickets.len() * 2);
        let mut occupied: HashMap<(String, u32, Section), BTreeSet<u8>> = HashMap::new();
        for ticket in tickets {
            let member = Member {
                ticket_id: ticket.id.clone(),
                shopper: ticket.shopper.clone(),
                joined_at_us: ticket.joined_at_us,
                early: ticket.early,
            };
            let member_key = if ticket.cohort {
                let sort_key = sort_key(ticket);
                keys::draw_member_key(
                    &ticket.drop_id,
                    Section::of_member(ticket.early),
                    draw::group_of(&sort_key),
                    &sort_key,
                )
            } else {
                keys::arrival_member_key(
                    &ticket.drop_id,
                    ticket.stripe,
                    ticket.joined_at_us,
                    &ticket.id,
                )
            };
            if ticket.cohort {
                let group = draw::group_of(&member_key.1);
                occupied
                    .entry((
                        ticket.drop_id.clone(),
                        ticket.stripe,
                        Section::of_member(ticket.early),
                    ))
                    .or_default()
                    .insert(group);
            }
            for item in [
                encode(ticket, keys::ticket_key(&ticket.shopper, &ticket.drop_id))?,
                encode(&member, member_key)?,
            ] {
                requests.push(
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                        .build(),
                );
            }
        }
        self.batch_write(requests).await?;
        for ((drop_id, stripe, section), groups) in occupied {
            self.update_at(keys::join_fence_key(&drop_id, stripe))
                .update_expression("ADD #groups :groups")
                .expression_attribute_names("#groups", keys::fence_groups_attribute(section))
                .expression_attribute_values(
                    ":groups",
                    AttributeValue::Ns(groups.iter().map(u8::to_string).collect()),
                )
                .send()
                .await?;
        }
        Ok(())
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

    /// Members who joined after the start and are not numbered yet, in arrival order.
    pub async fn arrivals(&self, drop_id: &str, stripe: u32) -> Result<Vec<Member>> {
        self.members(keys::arrival_partition(drop_id, stripe)).await
    }

    /// The members of one draw group, in draw order (strongly consistent: the draw must see
    /// every join its fence let in).
    pub async fn group_members(
        &self,
        drop_id: &str,
        section: Section,
        group: u8,
    ) -> Result<Vec<Member>> {
        self.members(keys::draw_group_partition(drop_id, section, group))
            .await
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
                delete_request(keys::arrival_member_key(
                    drop_id,
                    *stripe,
                    member.joined_at_us,
                    &member.ticket_id,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.batch_write(requests).await
    }

    /// Writes a drawn group's order pages (`(first entry's sort key, page)`). On a redo
    /// (`replacing`), whatever an interrupted earlier attempt wrote there goes first, so no page
    /// of it survives.
    pub async fn put_order_pages(
        &self,
        drop_id: &str,
        section: Section,
        group: u8,
        pages: &[(String, OrderPage)],
        replacing: bool,
    ) -> Result<()> {
        if replacing {
            let earlier = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(
                    ":pk",
                    s(keys::order_pages_partition(drop_id, section, group)),
                )
                .projection_expression("PK, SK")
                .consistent_read(true);
            let mut requests = Vec::new();
            for item in self.query_all(earlier).await? {
                let sort = item
                    .get(keys::SK)
                    .and_then(|value| value.as_s().ok())
                    .ok_or_else(|| ApiError::invariant("an order page has no sort key"))?;
                requests.push(delete_request(keys::order_page_key(
                    drop_id, section, group, sort,
                ))?);
            }
            self.batch_write(requests).await?;
        }
        self.put_each(pages, |(first, page)| {
            encode(page, keys::order_page_key(drop_id, section, group, first))
        })
        .await
    }

    /// Every page of a drawn group, in order.
    pub async fn order_pages(
        &self,
        drop_id: &str,
        section: Section,
        group: u8,
    ) -> Result<Vec<OrderPage>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(
                ":pk",
                s(keys::order_pages_partition(drop_id, section, group)),
            )
            .consistent_read(true);
        Ok(decode_each(self.query_all(query).await?, "order page"))
    }

    /// The page of a drawn group that would hold the entry sorting at `sort_key`: one small
    /// item, read eventually consistent first (pages never change once the draw is done).
    pub async fn order_page_holding(
        &self,
        drop_id: &str,
        section: Section,
        sort_key: &str,
        consistent: bool,
    ) -> Result<Option<OrderPage>> {
        let group = draw::group_of(sort_key);
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK <= :at")
            .expression_attribute_values(
                ":pk",
                s(keys::order_pages_partition(drop_id, section, group)),
            )
            .expression_attribute_values(":at", s(sort_key))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(consistent)
            .send()
            .await?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(decode::<OrderPage>)
            .transpose()
    }

    /// Writes groups' records.
    pub async fn put_draw_groups(&self, drop_id: &str, groups: &[DrawGroup]) -> Result<()> {
        self.put_each(groups, |group| {
            encode(
                group,
                keys::draw_group_key(drop_id, group.section, group.group),
            )
        })
        .await
    }

    /// Writes one item per element, in batches.
    async fn put_each<T>(
        &self,
        elements: &[T],
        item: impl Fn(&T) -> Result<super::Item>,
    ) -> Result<()> {
        let puts = elements
            .iter()
            .map(|element| put_request(item(element)?))
            .collect::<Result<Vec<_>>>()?;
        self.batch_write(puts).await
    }

    /// Every group record of a section that the draw wrote, in group order (strongly
    /// consistent).
    pub async fn read_draw_groups(
        &self,
        drop_id: &str,
        section: Section,
    ) -> Result<Vec<DrawGroup>> {
        let keys = (0..draw::GROUPS)
            .map(|group| keys::draw_group_key(drop_id, section, group as u8))
            .collect();
        let stored: Vec<DrawGroup> = decode_each(self.batch_get(keys, true).await?, "group");
        let mut groups: Vec<DrawGroup> = (0..draw::GROUPS)
            .map(|group| DrawGroup::empty(section, group as u8))
            .collect();
        for record in stored {
            let index = usize::from(record.group);
            groups[index] = record;
        }
        Ok(groups)
    }

    /// Every group of a drawn section, with its first position (immutable, so cached). Only for
    /// a section the queue state says is drawn: before the draw wrote a group, every record is
    /// missing and the section would read as complete and empty.
    pub async fn drawn_groups(
        &self,
        drop_id: &str,
        section: Section,
    ) -> Result<Arc<Vec<DrawGroup>>> {
        if let Some(groups) = self.queues.section(drop_id, section) {
            return Ok(groups);
        }
        let groups = Arc::new(self.read_draw_groups(drop_id, section).await?);
        let complete = groups
            .iter()
            .all(|group| group.count == 0 || group.start.is_some());
        if complete {
            self.queues.insert_section(drop_id, section, groups.clone());
        }
        Ok(groups)
    }

    /// One group of a drawn section, once its first position is fixed (immutable, so cached;
    /// read eventually consistent first).
    pub async fn draw_group(
        &self,
        drop_id: &str,
        section: Section,
        group: u8,
    ) -> Result<Option<Arc<DrawGroup>>> {
        if let Some(cached) = self.queues.group(drop_id, section, group) {
            return Ok(Some(cached));
        }
        for consistent in [false, true] {
            let read: Option<DrawGroup> = self
                .get(keys::draw_group_key(drop_id, section, group), consistent)
                .await?;
            if let Some(read) = read.filter(|read| read.start.is_some()) {
                let read = Arc::new(read);
                self.queues.insert_group(drop_id, read.clone());
                return Ok(Some(read));
            }
        }
        Ok(None)
    }

    /// The stretch of the order holding `position`, if one is stored: a drawn group, or a page of
    /// arrivals (immutable, so cached).
    pub async fn order_at(
        &self,
        drop_id: &str,
        state: &QueueState,
        position: u64,
    ) -> Result<Option<Arc<OrderChunk>>> {
        if let Some(chunk) = self.queues.chunk_at(drop_id, position) {
            return Ok(Some(chunk));
        }
        let drawn = if state.early_drawn && position <= state.early_size {
            Some(Section::Early)
        } else if state.cohort_fixed && position <= state.early_size + state.cohort_size {
            Some(Section::Cohort)
        } else {
            None
        };
        let chunk = match drawn {
            Some(section) => self.drawn_stretch(drop_id, section, position).await?,
            None => self.arrival_page_at(drop_id, position).await?,
        };
        let Some(chunk) = chunk.filter(|chunk| chunk.at(position).is_some()) else {
            return Ok(None);
        };
        let chunk = Arc::new(chunk);
        self.queues.insert_chunk(drop_id, chunk.clone());
        Ok(Some(chunk))
    }

    /// The drawn group holding `position`, as one stretch of the order.
    async fn drawn_stretch(
        &self,
        drop_id: &str,
        section: Section,
        position: u64,
    ) -> Result<Option<OrderChunk>> {
        let groups = self.drawn_groups(drop_id, section).await?;
        let Some(group) = groups.iter().find(|group| {
            group.count > 0
                && group
                    .start
                    .is_some_and(|start| (start..start + group.count).contains(&position))
        }) else {
            return Ok(None);
        };
        let mut entries = Vec::with_capacity(group.count as usize);
        for page in self.order_pages(drop_id, section, group.group).await? {
            entries.extend(page.entries);
        }
        Ok(group.start.map(|start| OrderChunk { start, entries }))
    }

    /// Commits a page of numbered arrivals together with the state that counts them
    /// (`state.version` is the new version): `false`, and nothing written, if the state moved or
    /// the page exists.
    pub async fn commit_arrival_page(&self, state: &QueueState, page: &OrderChunk) -> Result<bool> {
        let mut commit = Transaction::new("number arrivals");
        commit.push(
            Role::ArrivalPage,
            self.put_new(encode(
                page,
                keys::arrival_page_key(&state.drop_id, page.start),
            )?)?,
        );
        commit.push(
            Role::QueueState,
            self.put_when(
                encode(state, keys::queue_state_key(&state.drop_id))?,
                "version = :previous",
                HashMap::new(),
                HashMap::from([(":previous".to_string(), n(state.version as i64 - 1))]),
            )?,
        );
        Ok(match self.transact(commit, None).await? {
            TransactOutcome::Committed => true,
            TransactOutcome::Refused { .. } | TransactOutcome::Contended => false,
        })
    }

    /// Arrival pages that start after `position`, in order.
    pub async fn arrival_pages_after(
        &self,
        drop_id: &str,
        position: u64,
    ) -> Result<Vec<OrderChunk>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK > :after")
            .expression_attribute_values(":pk", s(keys::arrival_pages_partition(drop_id)))
            .expression_attribute_values(":after", s(keys::arrival_page_sort(position)))
            .consistent_read(true);
        Ok(decode_each(self.query_all(query).await?, "arrival page"))
    }

    /// The arrival page that would hold `position`.
    async fn arrival_page_at(&self, drop_id: &str, position: u64) -> Result<Option<OrderChunk>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK <= :at")
            .expression_attribute_values(":pk", s(keys::arrival_pages_partition(drop_id)))
            .expression_attribute_values(":at", s(keys::arrival_page_sort(position)))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(decode::<OrderChunk>)
            .transpose()
    }

    /// The queue's state and the drop's stock, read at most once per view TTL per container,
    /// eventually consistent (half the read units on the one state item every container reads;
    /// a view a moment old is what the TTL already allows).
    pub async fn queue_line(&self, drop: &DropSpec) -> Result<Arc<QueueLine>> {
        if let Some(line) = self.queues.line(&drop.id) {
            return Ok(line);
        }
        let state: QueueState = self
            .get(keys::queue_state_key(&drop.id), false)
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

    /// Writes an arrival's position on its ticket (again, harmlessly, after a dead tick).
    pub async fn set_ticket_position(
        &self,
        ticket_id: &str,
        shopper: &str,
        drop_id: &str,
        position: u64,
    ) -> Result<()> {
        let (pk, sk) = keys::ticket_key(shopper, drop_id);
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET #position = :position")
            .condition_expression(
                "id = :ticket AND (attribute_not_exists(#position) OR #position = :position)",
            )
            .expression_attribute_names("#position", "position")
            .expression_attribute_values(":position", n(position as i64))
            .expression_attribute_values(":ticket", s(ticket_id))
            .send()
            .await;
        if !condition_met(written)? {
            return Err(ApiError::invariant(
                "an arrival's ticket is missing or numbered elsewhere",
            ));
        }
        Ok(())
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

    /// The claim's count of a spent admission, on a random stripe of the join counters.
    pub(super) fn count_admission_claim_action(&self, drop_id: &str) -> Result<TransactWriteItem> {
        let stripe = rand::random_range(0..keys::QUEUE_STRIPES);
        UpdateAction::new(keys::join_counter_key(drop_id, stripe), "ADD #claims :one")
            .name("#claims", keys::ADMISSION_CLAIMS)
            .value(":one", n(1))
            .build(&self.table)
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

fn put_request(item: super::Item) -> Result<WriteRequest> {
    Ok(WriteRequest::builder()
        .put_request(PutRequest::builder().set_item(Some(item)).build()?)
        .build())
}

fn delete_request((pk, sk): keys::Key) -> Result<WriteRequest> {
    let delete = DeleteRequest::builder()
        .key(keys::PK, s(pk))
        .key(keys::SK, s(sk))
        .build()?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}

/// A ticket's status as a refused claim found it.
pub fn ticket_status_in(
    item: Option<&std::collections::HashMap<String, AttributeValue>>,
) -> Option<TicketStatus> {
    let status = item?.get("status")?.as_s().ok()?;
    serde_json::from_value(serde_json::Value::String(status.clone())).ok()
}
