//! Every key format of the single table, and nothing else, lives here.
//!
//! Partition keys are chosen so that nothing written by every shopper of a drop shares one:
//! inventory is spread over shard items, and claim records and reservations are keyed per shopper
//! and per reservation. See docs/data-model.md for the access patterns each key serves.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::model::queue::Section;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1_PK: &str = "GSI1PK";
pub const GSI1_SK: &str = "GSI1SK";
pub const TTL: &str = "ttl";

const DROP_SK: &str = "META";
const SHARD_SK: &str = "SHARD";
const RESERVATION_SK: &str = "RES";
/// Every drop's metadata item is also filed under this GSI1 partition, sorted by when the drop
/// closes, so `GET /drops` and the sweeper read only drops that have not long ended (a key
/// condition, not a filter: ended drops cost nothing). Written once per drop creation, never per
/// shopper, so it is not a hot key.
const DROPS_INDEX: &str = "DROPS";
/// Where a drop without `ends_at` sorts: after every dated one.
const NEVER_CLOSES: &str = "9999-12-31T23:59:59.999Z";

pub type Key = (String, String);

pub fn drop_key(drop_id: &str) -> Key {
    (format!("DROP#{drop_id}"), DROP_SK.into())
}

/// One thing an admin did to a drop, in the drop's own partition, in time order.
pub fn admin_event_key(drop_id: &str, at: DateTime<Utc>, event_id: &str) -> Key {
    (
        format!("DROP#{drop_id}"),
        format!("{ADMIN_EVENT_PREFIX}{}#{event_id}", index_time(at)),
    )
}

pub fn drop_partition(drop_id: &str) -> String {
    drop_key(drop_id).0
}

pub const ADMIN_EVENT_PREFIX: &str = "ADMIN#";

pub fn drop_index_key(closes_at: Option<DateTime<Utc>>, drop_id: &str) -> Key {
    let closes = closes_at.map_or_else(|| NEVER_CLOSES.to_string(), index_time);
    (DROPS_INDEX.into(), format!("{closes}#{drop_id}"))
}

/// The lowest drop index sort key of drops still open at `since`.
pub fn drop_index_from(since: DateTime<Utc>) -> String {
    index_time(since)
}

/// Fixed-width UTC time, so sort keys order as the instants do.
fn index_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn drops_index_partition() -> String {
    DROPS_INDEX.into()
}

pub fn shard_key(drop_id: &str, shard: u32) -> Key {
    (format!("DROP#{drop_id}#SHARD#{shard:02}"), SHARD_SK.into())
}

pub fn reservation_key(reservation_id: &str) -> Key {
    (format!("RES#{reservation_id}"), RESERVATION_SK.into())
}

pub fn claim_record_key(shopper: &str, drop_id: &str) -> Key {
    (user_partition(shopper), format!("CLAIM#{drop_id}"))
}

/// A shopper's orders live in their own partition: `GET /me/orders` is one query, and
/// `GET /orders/{id}` is one read that cannot reach anybody else's order.
pub fn order_key(shopper: &str, order_id: &str) -> Key {
    (user_partition(shopper), format!("{ORDER_PREFIX}{order_id}"))
}

pub fn user_partition(shopper: &str) -> String {
    format!("USER#{shopper}")
}

pub const ORDER_PREFIX: &str = "ORDER#";

/// GSI1 entry of a paid order, partitioned like the shards (the audit reads them per shard).
pub fn sold_index_key(drop_id: &str, shard: u32, order_id: &str) -> Key {
    (sold_index_partition(drop_id, shard), order_id.to_string())
}

pub fn sold_index_partition(drop_id: &str, shard: u32) -> String {
    format!("SOLD#{drop_id}#{shard:02}")
}

/// GSI1 entry of a reservation whose delayed payment is pending: out of the expiry index (no
/// sweeper may release it) but still found by the audit, since its units are still held.
pub fn pending_index_key(drop_id: &str, shard: u32, reservation_id: &str) -> Key {
    (
        pending_index_partition(drop_id, shard),
        reservation_id.to_string(),
    )
}

pub fn pending_index_partition(drop_id: &str, shard: u32) -> String {
    format!("PENDING#{drop_id}#{shard:02}")
}

/// GSI1 entry of an order whose refund was decided but not yet confirmed by Stripe: the sweeper
/// finishes any the webhook's retries did not. One partition for the whole shop: refunds are
/// rare, so one query a minute finds them all.
pub fn refunding_index_key(drop_id: &str, order_id: &str) -> Key {
    (REFUNDING_INDEX.into(), format!("{drop_id}#{order_id}"))
}

pub fn refunding_index_partition() -> String {
    REFUNDING_INDEX.into()
}

const REFUNDING_INDEX: &str = "REFUNDING";

/// Stripe's charge and dispute events name a PaymentIntent, not a session: this item leads from
/// the PaymentIntent to its order. Written with the order, once per payment.
pub fn payment_link_key(payment_intent: &str) -> Key {
    (format!("PAYMENT#{payment_intent}"), "PAYMENT".into())
}

/// One item per Stripe event processed: the webhook's deduplication.
pub fn stripe_event_key(event_id: &str) -> Key {
    (format!("STRIPE_EVENT#{event_id}"), "EVENT".into())
}

/// GSI1 entry of a reservation while it is held: a sparse index (the attributes are removed when
/// the hold ends) partitioned like the inventory shards, sorted by expiry, so the sweeper and the
/// claim path find expired holds with a query and the index never has a per-drop hot partition.
pub fn hold_index_key(drop_id: &str, shard: u32, expires_at_ms: i64, reservation_id: &str) -> Key {
    (
        hold_index_partition(drop_id, shard),
        format!("{expires_at_ms:015}#{reservation_id}"),
    )
}

pub fn hold_index_partition(drop_id: &str, shard: u32) -> String {
    format!("HOLDS#{drop_id}#{shard:02}")
}

// The waiting room. A queued drop's shared state is one item, written only by the admission
// controller (joins never touch it). Everything the crowd writes or reads is spread: joins over
// striped partitions and the draw's 2 × 256 groups; the drawn order over the groups' page
// partitions; arrival pages, the draw's groups and the proof manifest are written once.

/// Stripes of the join partitions: joins spread over this many partition keys.
pub const QUEUE_STRIPES: u32 = 32;

/// The queue's state: seed, commitment, serving position, admission history.
pub fn queue_state_key(drop_id: &str) -> Key {
    (format!("QUEUE#{drop_id}"), "STATE".into())
}

/// A shopper's ticket for a drop: one per shopper per drop, by construction of the key.
pub fn ticket_key(shopper: &str, drop_id: &str) -> Key {
    (user_partition(shopper), format!("TICKET#{drop_id}"))
}

/// A pre-queue member, in its draw group, sorted by its draw key (`draw::sort_key`).
pub fn draw_member_key(drop_id: &str, section: Section, group: u8, sort_key: &str) -> Key {
    (
        draw_group_partition(drop_id, section, group),
        sort_key.to_string(),
    )
}

pub fn draw_group_partition(drop_id: &str, section: Section, group: u8) -> String {
    format!("QDRAW#{drop_id}#{}#{group:02x}", section.letter())
}

/// A stripe's join fence: once the draw of a section begins, a join transaction that would still
/// add a member to it is refused (and joins after the cohort instead).
pub fn join_fence_key(drop_id: &str, stripe: u32) -> Key {
    (format!("QUEUE#{drop_id}#FENCE#{stripe:02}"), "FENCE".into())
}

/// Attribute of a fence item set when the draw of `section` begins.
pub fn fence_attribute(section: Section) -> &'static str {
    match section {
        Section::Early => "early_frozen",
        Section::Cohort => "frozen",
    }
}

/// A page of a drawn group's order, sorted by the draw sort key of its first entry.
pub fn order_page_key(drop_id: &str, section: Section, group: u8, first_sort_key: &str) -> Key {
    (
        order_pages_partition(drop_id, section, group),
        first_sort_key.to_string(),
    )
}

pub fn order_pages_partition(drop_id: &str, section: Section, group: u8) -> String {
    format!("QORDER#{drop_id}#{}#{group:02x}", section.letter())
}

/// What the draw recorded of a group: one small item per group, each its own partition.
pub fn draw_group_key(drop_id: &str, section: Section, group: u8) -> Key {
    (
        format!("QGROUP#{drop_id}#{}#{group:02x}", section.letter()),
        "GROUP".into(),
    )
}

/// A member who joined after the start, in arrival order, until the sequencer numbers it.
pub fn arrival_member_key(drop_id: &str, stripe: u32, joined_at_us: i64, ticket_id: &str) -> Key {
    (
        arrival_partition(drop_id, stripe),
        format!("{joined_at_us:017}#{ticket_id}"),
    )
}

pub fn arrival_partition(drop_id: &str, stripe: u32) -> String {
    format!("QJOIN#{drop_id}#{stripe:02}")
}

/// The join counters' attribute that a claim spending an admission adds one to, in its own
/// transaction: the controller counts running admissions without reading them.
pub const ADMISSION_CLAIMS: &str = "admission_claims";

/// Join counters, striped like the members: tickets made, and every join, challenge and claim
/// outcome the integrity report counts.
pub fn join_counter_key(drop_id: &str, stripe: u32) -> Key {
    (format!("QUEUE#{drop_id}#JOINS#{stripe:02}"), "COUNT".into())
}

/// A page of numbered arrivals: consecutive positions from its first, written once with the
/// state that counts them.
pub fn arrival_page_key(drop_id: &str, first_position: u64) -> Key {
    (
        arrival_pages_partition(drop_id),
        arrival_page_sort(first_position),
    )
}

pub fn arrival_page_sort(first_position: u64) -> String {
    format!("{first_position:012}")
}

pub fn arrival_pages_partition(drop_id: &str) -> String {
    format!("QUEUE#{drop_id}#ARRIVED")
}

/// A spent proof-of-work challenge, by its signed nonce (TTL'd after the challenge expires).
pub fn spent_challenge_key(nonce: &str) -> Key {
    (format!("POW#{nonce}"), "SPENT".into())
}

/// A velocity counter: requests of one kind, from one shopper or one source IP, for one drop, in
/// one minute (TTL'd after it).
pub fn rate_key(drop_id: &str, gate: &str, who: &str, minute: i64) -> Key {
    (format!("RATE#{drop_id}#{gate}#{who}"), minute.to_string())
}

// Live updates over WebSockets: one item per connection, one per subscription (by drop) and one
// per authenticated connection (by shopper), all TTL'd past API Gateway's two-hour limit.

/// A WebSocket connection: who it is (if signed in) and which drops it watches.
pub fn ws_connection_key(connection_id: &str) -> Key {
    (format!("WSCONN#{connection_id}"), "CONN".into())
}

/// A connection watching a drop: the fan-out queries the drop's partition.
pub fn ws_watcher_key(drop_id: &str, connection_id: &str) -> Key {
    (ws_watchers_partition(drop_id), connection_id.to_string())
}

pub fn ws_watchers_partition(drop_id: &str) -> String {
    format!("WSDROP#{drop_id}")
}

/// A signed-in shopper's connection: where their personal events go.
pub fn ws_shopper_key(shopper: &str, connection_id: &str) -> Key {
    (ws_shopper_partition(shopper), connection_id.to_string())
}

pub fn ws_shopper_partition(shopper: &str) -> String {
    format!("WSUSER#{shopper}")
}
