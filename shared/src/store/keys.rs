//! Every key format of the single table, and nothing else, lives here.
//!
//! Partition keys are chosen so that nothing written by every shopper of a drop shares one:
//! inventory is spread over shard items, and claim records and reservations are keyed per shopper
//! and per reservation. See docs/data-model.md for the access patterns each key serves.

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1_PK: &str = "GSI1PK";
pub const GSI1_SK: &str = "GSI1SK";
pub const TTL: &str = "ttl";

const DROP_SK: &str = "META";
const SHARD_SK: &str = "SHARD";
const RESERVATION_SK: &str = "RES";
/// Every drop's metadata item is also filed under this GSI1 partition so `GET /drops` is one
/// query. It is written once per drop creation, never per shopper, so it is not a hot key.
const DROPS_INDEX: &str = "DROPS";

pub type Key = (String, String);

pub fn drop_key(drop_id: &str) -> Key {
    (format!("DROP#{drop_id}"), DROP_SK.into())
}

pub fn drop_index_key(starts_at_rfc3339: &str, drop_id: &str) -> Key {
    (DROPS_INDEX.into(), format!("{starts_at_rfc3339}#{drop_id}"))
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
