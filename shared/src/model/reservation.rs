//! A reservation: the held units of one claim, their clock, and the shards they came from.
//!
//! The hold window is enforced by code, not by DynamoDB's TTL: TTL deletes late and returns no
//! units. A hold whose `expires_at` has passed reads as `expired` everywhere, before anything has
//! written that down.

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::model::drop::{DropSpec, Price, Shard};

/// Stripe refuses a Checkout Session that expires sooner than 30 minutes after creation; a
/// minute's margin keeps clock skew from tripping that.
pub const MIN_SESSION_SECONDS: i64 = 31 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    Held,
    /// Checkout completed with a delayed payment method: the units stay held, past the window,
    /// until Stripe says the payment succeeded or failed.
    PaymentPending,
    Paid,
    Expired,
    Released,
    /// A payment came in that could not buy the units (wrong amount); it was refunded and the
    /// units returned in the same transaction that ended the hold.
    Refunded,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::PaymentPending => "payment_pending",
            Self::Paid => "paid",
            Self::Expired => "expired",
            Self::Released => "released",
            Self::Refunded => "refunded",
        }
    }

    /// The units are still taken from the shards' `held` counters.
    pub fn holds_units(self) -> bool {
        matches!(self, Self::Held | Self::PaymentPending)
    }
}

/// Units of one shard that a reservation took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub shard: u32,
    pub units: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    pub id: String,
    pub drop_id: String,
    pub shopper: String,
    pub quantity: u32,
    /// The unit price locked in when the hold was made: what checkout charges and the webhook
    /// expects, whatever the drop's schedule says later.
    pub price: Price,
    pub allocations: Vec<Allocation>,
    pub status: ReservationStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub expires_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// When the hold's Checkout Session expires (unix seconds), fixed when the hold is made: the
    /// session is created with exactly these parameters on every try, so a retry under the same
    /// idempotency key is one Stripe accepts. Stripe's shortest session is 30 minutes, so this is
    /// the hold's end plus 31 minutes: at least that far ahead whenever checkout starts within
    /// the hold, and the sweeper closes the session when the hold ends.
    pub checkout_expires_at: i64,
    /// When checkout completed with a delayed payment method (status `payment_pending`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_pending_since: Option<DateTime<Utc>>,
    /// The Stripe Checkout Session paying for this hold, once one was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}

/// What a shopper sees of a reservation.
#[derive(Debug, Clone, Serialize)]
pub struct ReservationView {
    pub id: String,
    pub drop_id: String,
    pub quantity: u32,
    /// The unit price locked into this hold.
    pub price: Price,
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
    pub seconds_left: i64,
    pub created_at: DateTime<Utc>,
}

impl Reservation {
    /// A new hold of `quantity` units from `allocations`, for the drop's hold window from `now`,
    /// at the price in force now.
    pub fn new_hold(
        id: String,
        drop: &DropSpec,
        shopper: &str,
        quantity: u32,
        allocations: Vec<Allocation>,
        now: DateTime<Utc>,
    ) -> Self {
        let expires_at = now + chrono::Duration::seconds(i64::from(drop.hold_seconds));
        Self {
            checkout_expires_at: expires_at.timestamp() + MIN_SESSION_SECONDS,
            id,
            drop_id: drop.id.clone(),
            shopper: shopper.to_string(),
            quantity,
            price: drop.price_at(now),
            allocations,
            status: ReservationStatus::Held,
            created_at: now,
            expires_at,
            expires_at_ms: expires_at.timestamp_millis(),
            ended_at: None,
            payment_pending_since: None,
            checkout_session_id: None,
            checkout_url: None,
        }
    }

    /// The same hold at `price` (the lower price an admitted shopper locked in earlier).
    pub fn at_price(mut self, price: Price) -> Self {
        self.price = price;
        self
    }

    /// What the whole hold costs, in minor units.
    pub fn amount_due(&self) -> i64 {
        self.price.amount * i64::from(self.quantity)
    }

    /// Past its expiry a hold is over, whether or not anything has written that down yet.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status == ReservationStatus::Held && now.timestamp_millis() >= self.expires_at_ms
    }

    pub fn effective_status(&self, now: DateTime<Utc>) -> ReservationStatus {
        if self.is_overdue(now) {
            ReservationStatus::Expired
        } else {
            self.status
        }
    }

    pub fn view(&self, now: DateTime<Utc>) -> ReservationView {
        let status = self.effective_status(now);
        let seconds_left = if status == ReservationStatus::Held {
            (self.expires_at - now).num_seconds().max(0)
        } else {
            0
        };
        ReservationView {
            id: self.id.clone(),
            drop_id: self.drop_id.clone(),
            quantity: self.quantity,
            price: self.price.clone(),
            status,
            expires_at: self.expires_at,
            seconds_left,
            created_at: self.created_at,
        }
    }
}

/// Picks shards for `quantity` units: one random shard that has them all when there is one
/// (random so concurrent claims spread over the shards), else several; `None` when the drop as
/// read does not have `quantity` units left.
pub fn allocate(shards: &[Shard], quantity: u32) -> Option<Vec<Allocation>> {
    let mut stocked: Vec<&Shard> = shards.iter().filter(|shard| shard.available > 0).collect();
    stocked.shuffle(&mut rand::rng());
    let wanted = i64::from(quantity);
    if let Some(shard) = stocked.iter().find(|shard| shard.available >= wanted) {
        return Some(vec![Allocation {
            shard: shard.shard,
            units: quantity,
        }]);
    }
    let mut missing = wanted;
    let mut allocations = Vec::new();
    for shard in stocked {
        let units = shard.available.min(missing);
        allocations.push(Allocation {
            shard: shard.shard,
            units: units as u32,
        });
        missing -= units;
        if missing == 0 {
            return Some(allocations);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(shard: u32, available: i64) -> Shard {
        Shard {
            drop_id: "d".into(),
            shard,
            units: 10,
            available,
            held: 0,
            sold: 0,
            starts_at_ms: 0,
            ends_at_ms: None,
            early_at_ms: None,
            paused: false,
        }
    }

    #[test]
    fn allocation_prefers_one_shard_and_combines_when_it_must() {
        let shards = [shard(0, 0), shard(1, 1), shard(2, 1)];
        let one = allocate(&shards, 1).unwrap();
        assert_eq!(one.len(), 1);
        assert!(one[0].shard == 1 || one[0].shard == 2);
        let two = allocate(&shards, 2).unwrap();
        assert_eq!(two.iter().map(|a| a.units).sum::<u32>(), 2);
        assert_eq!(two.len(), 2);
        assert!(allocate(&shards, 3).is_none());
        assert!(allocate(&[shard(0, 0)], 1).is_none());
    }

    #[test]
    fn random_shard_choice_spreads_claims() {
        let shards: Vec<Shard> = (0..4).map(|i| shard(i, 10)).collect();
        let mut hits = [0u32; 4];
        for _ in 0..4000 {
            hits[allocate(&shards, 1).unwrap()[0].shard as usize] += 1;
        }
        assert!(hits.iter().all(|&h| h > 800), "uneven spread: {hits:?}");
    }
}
