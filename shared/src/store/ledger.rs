//! The ledger's transactions: every write that moves units between a shard's buckets
//! (`available`, `held`, `sold`) — a claim, a release, a sale, a delayed payment parked, a refund
//! decided — each one `TransactWriteItems`, with what a cancellation of each of its actions
//! means. Counters only ever move under a condition, so a shard's buckets always add up to its
//! units.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::queue::ticket_status_in;
use super::transaction::{Role, TransactOutcome, Transaction, UpdateAction, refused};
use super::{Item, RETENTION_SECONDS, Store, encode, keys, n, s};
use crate::error::Result;
use crate::model::drop::ClaimGate;
use crate::model::order::{Order, OrderStatus};
use crate::model::queue::TicketStatus;
use crate::model::reservation::{Allocation, Reservation, ReservationStatus};

/// How a claim transaction ended.
#[derive(Debug)]
pub enum ClaimOutcome {
    Committed,
    /// The shopper's claim record refused: held + bought + quantity would pass the limit.
    LimitReached {
        last_reservation_id: Option<String>,
    },
    /// A chosen shard no longer had the units, or the sale window closed, since it was read.
    ShardRefused,
    /// The queue ticket was not (or no longer) admitted: already claimed, expired, or another.
    TicketRefused {
        status: Option<TicketStatus>,
    },
    Contended,
}

/// The admitted ticket a claim on a queued drop spends.
#[derive(Debug, Clone)]
pub struct AdmittedTicket {
    pub ticket_id: String,
    pub admitted_at: DateTime<Utc>,
}

/// How any other transaction of the ledger (`commit_release`, `commit_sale`, …) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// The reservation was no longer as read: in another state, not yet expired (for an overdue
    /// release), or given a Checkout Session since. Nothing was written.
    StateChanged,
    /// An order already exists for this reservation in a final state.
    OrderExists,
    /// Re-claiming for a late payment would pass the shopper's limit.
    LimitReached,
    /// Re-claiming for a late payment found a shard without the units.
    ShardRefused,
    Contended,
}

/// Which condition a release must meet besides the hold still being in its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseGuard {
    /// The owner, a failed or expired checkout: whenever.
    Anytime,
    /// The sweeper or a claim returning an overdue hold: only if `expires_at` has passed.
    Overdue,
}

/// Where the units of a sale come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleSource {
    /// The reservation still holds them (held or payment pending).
    Hold,
    /// The hold already ended: take them from the shards again (a late payment).
    Reclaim { per_user_limit: u32 },
}

#[derive(Debug, Clone, Copy)]
enum Bucket {
    Available,
    Held,
    Sold,
}

impl Bucket {
    fn attribute(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Held => "held",
            Self::Sold => "sold",
        }
    }
}

/// Moves `units` of a shard from one bucket to another, refusing to take more than is there.
fn move_units(drop_id: &str, allocation: &Allocation, from: Bucket, to: Bucket) -> UpdateAction {
    let units = i64::from(allocation.units);
    UpdateAction::new(
        keys::shard_key(drop_id, allocation.shard),
        "ADD #from :minus, #to :units",
    )
    .when("#from >= :units")
    .name("#from", from.attribute())
    .name("#to", to.attribute())
    .value(":units", n(units))
    .value(":minus", n(-units))
}

/// Moves a reservation from one status to another; it leaves the hold index either way, since
/// only `held` reservations are in it.
fn transition(
    reservation: &Reservation,
    from: ReservationStatus,
    to: ReservationStatus,
    now: DateTime<Utc>,
) -> UpdateAction {
    UpdateAction::new(
        keys::reservation_key(&reservation.id),
        "SET #status = :to, ended_at = :now_text REMOVE #gpk, #gsk",
    )
    .when("#status = :from")
    .name("#status", "status")
    .name("#gpk", keys::GSI1_PK)
    .name("#gsk", keys::GSI1_SK)
    .value(":from", s(from.as_str()))
    .value(":to", s(to.as_str()))
    .value(":now_text", s(now.to_rfc3339()))
}

impl Store {
    /// The claim: one transaction that raises the shopper's claim record within the limit,
    /// writes the held reservation and takes the units from each allocated shard while the
    /// sale window is open. Nothing else is touched: no shared item takes part in every claim.
    pub async fn commit_claim(
        &self,
        reservation: &Reservation,
        per_user_limit: u32,
        admitted: Option<&AdmittedTicket>,
        gate: ClaimGate,
        now: DateTime<Utc>,
        attempt: u32,
    ) -> Result<ClaimOutcome> {
        let quantity = i64::from(reservation.quantity);
        let claim_record = UpdateAction::new(
            keys::claim_record_key(&reservation.shopper, &reservation.drop_id),
            "SET last_reservation_id = :rid, drop_id = :drop, shopper = :shopper ADD units :q",
        )
        .when("attribute_not_exists(units) OR units <= :room")
        .value(":rid", s(&reservation.id))
        .value(":drop", s(&reservation.drop_id))
        .value(":shopper", s(&reservation.shopper))
        .value(":q", n(quantity))
        .value(":room", n(i64::from(per_user_limit) - quantity))
        .returning_old_on_refusal();

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
            n(reservation.expires_at_ms / 1000 + RETENTION_SECONDS),
        );

        let mut claim = Transaction::new("claim");
        if let Some(admitted) = admitted {
            claim.push(
                Role::Ticket,
                self.claim_ticket_action(
                    &reservation.shopper,
                    &reservation.drop_id,
                    &admitted.ticket_id,
                    &reservation.id,
                    now,
                )?,
            );
            claim.push(
                Role::Counter,
                self.count_admission_claim_action(&reservation.drop_id)?,
            );
        }
        claim.push(Role::ClaimRecord, claim_record.build(&self.table)?);
        claim.push(Role::Reservation, self.put_new(reservation_item)?);
        // Exactly `Shard::admits`: the window (early for members of an early group), and the
        // operator's pause where it applies.
        let mut shard_condition = String::from(
            "#from >= :units AND (starts_at_ms <= :now OR early_at_ms <= :early) \
             AND (attribute_not_exists(ends_at_ms) OR ends_at_ms > :now)",
        );
        if gate.pause_applies {
            shard_condition.push_str(" AND (attribute_not_exists(paused) OR paused = :running)");
        }
        let now_ms = now.timestamp_millis();
        for allocation in &reservation.allocations {
            let mut take = move_units(
                &reservation.drop_id,
                allocation,
                Bucket::Available,
                Bucket::Held,
            )
            .when(shard_condition.clone())
            .value(":now", n(now_ms))
            .value(":early", n(if gate.early { now_ms } else { -1 }));
            if gate.pause_applies {
                take = take.value(":running", AttributeValue::Bool(false));
            }
            claim.push(Role::Shard, take.build(&self.table)?);
        }

        // The token makes the SDK's own network retries of this exact attempt idempotent.
        let token = format!("{}-{attempt}", reservation.id);
        match self.transact(claim, Some(token)).await? {
            TransactOutcome::Committed => Ok(ClaimOutcome::Committed),
            TransactOutcome::Contended => Ok(ClaimOutcome::Contended),
            TransactOutcome::Refused {
                role: Role::ClaimRecord,
                reason,
                ..
            } => Ok(ClaimOutcome::LimitReached {
                last_reservation_id: reason
                    .item()
                    .and_then(|item| item.get("last_reservation_id"))
                    .and_then(|value| value.as_s().ok())
                    .cloned(),
            }),
            TransactOutcome::Refused {
                role: Role::Shard, ..
            } => Ok(ClaimOutcome::ShardRefused),
            TransactOutcome::Refused {
                role: Role::Ticket,
                reason,
                ..
            } => Ok(ClaimOutcome::TicketRefused {
                status: ticket_status_in(reason.item()),
            }),
            TransactOutcome::Refused { role, reasons, .. } => Err(refused("claim", role, &reasons)),
        }
    }

    /// Ends a hold and returns its units, in one transaction conditioned on the reservation still
    /// being `from`: whoever races to end it (owner, sweeper, claim, webhook), units come back
    /// once. A failed delayed payment also marks its order failed.
    pub async fn commit_release(
        &self,
        reservation: &Reservation,
        from: ReservationStatus,
        to: ReservationStatus,
        guard: ReleaseGuard,
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome> {
        let mut condition = vec!["#status = :from"];
        // Seen without a Checkout Session: refuse if one was stored since, so the caller closes it
        // at Stripe before the units go back.
        if reservation.checkout_session_id.is_none() {
            condition.push("attribute_not_exists(checkout_session_id)");
        }
        let mut end_hold = transition(reservation, from, to, now);
        if guard == ReleaseGuard::Overdue {
            condition.push("expires_at_ms <= :now");
            end_hold = end_hold.value(":now", n(now.timestamp_millis()));
        }
        let mut release = Transaction::new("release");
        release.push(
            Role::Reservation,
            end_hold.when(condition.join(" AND ")).build(&self.table)?,
        );
        self.return_units_of(&mut release, reservation)?;
        if from == ReservationStatus::PaymentPending {
            release.push(
                Role::Order,
                UpdateAction::new(
                    keys::order_key(&reservation.shopper, &reservation.id),
                    "SET #status = :failed",
                )
                .when("#status = :pending")
                .name("#status", "status")
                .value(":failed", s(OrderStatus::PaymentFailed.as_str()))
                .value(":pending", s(OrderStatus::PaymentPending.as_str()))
                .build(&self.table)?,
            );
        }
        // Any refusal but the reservation's means a counter refused a hold that was in its
        // state: the ledger is broken somewhere, and `outcome_of` refuses loudly.
        let sent = self.transact(release, None).await?;
        outcome_of(sent, "release", |role| {
            (role == Role::Reservation).then_some(CommitOutcome::StateChanged)
        })
    }

    /// The actions that give a hold's units back: the shopper's claim record no longer counts
    /// them and every shard it took from moves them from `held` to `available`.
    fn return_units_of(
        &self,
        transaction: &mut Transaction,
        reservation: &Reservation,
    ) -> Result<()> {
        let quantity = i64::from(reservation.quantity);
        transaction.push(
            Role::ClaimRecord,
            UpdateAction::new(
                keys::claim_record_key(&reservation.shopper, &reservation.drop_id),
                "ADD units :minus",
            )
            .when("units >= :q")
            .value(":q", n(quantity))
            .value(":minus", n(-quantity))
            .build(&self.table)?,
        );
        for allocation in &reservation.allocations {
            transaction.push(
                Role::Shard,
                move_units(
                    &reservation.drop_id,
                    allocation,
                    Bucket::Held,
                    Bucket::Available,
                )
                .build(&self.table)?,
            );
        }
        Ok(())
    }

    /// Turns a reservation into a sale: the reservation becomes `paid` (with the shards its
    /// units finally came from), the order is written `paid`, the shopper's claim record counts
    /// the purchase, and each shard moves the units to `sold` — from `held`, or from `available`
    /// again when the hold had already ended (a late payment).
    pub async fn commit_sale(
        &self,
        reservation: &Reservation,
        from: ReservationStatus,
        allocations: &[Allocation],
        source: SaleSource,
        order: &Order,
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome> {
        let quantity = i64::from(reservation.quantity);
        let allocations_value = serde_dynamo::to_attribute_value(allocations)?;
        let sell = transition(reservation, from, ReservationStatus::Paid, now)
            .with_expression("SET #status = :to, ended_at = :now_text, allocations = :allocations REMOVE #gpk, #gsk")
            .value(":allocations", allocations_value);

        let mut order_item = encode(order, keys::order_key(&order.shopper, &order.id))?;
        let first_shard = allocations.first().map_or(0, |a| a.shard);
        let (sold_pk, sold_sk) = keys::sold_index_key(&order.drop_id, first_shard, &order.id);
        order_item.insert(keys::GSI1_PK.into(), s(sold_pk));
        order_item.insert(keys::GSI1_SK.into(), s(sold_sk));

        let claim_record = UpdateAction::new(
            keys::claim_record_key(&reservation.shopper, &reservation.drop_id),
            match source {
                SaleSource::Hold => "ADD bought :q",
                SaleSource::Reclaim { .. } => "ADD bought :q, units :q",
            },
        )
        .value(":q", n(quantity));
        let claim_record = match source {
            SaleSource::Hold => claim_record.when("attribute_exists(units)"),
            SaleSource::Reclaim { per_user_limit } => claim_record
                .when("attribute_not_exists(units) OR units <= :room")
                .value(":room", n(i64::from(per_user_limit) - quantity)),
        };
        let from_bucket = match source {
            SaleSource::Hold => Bucket::Held,
            SaleSource::Reclaim { .. } => Bucket::Available,
        };

        let mut sale = Transaction::new("sale");
        sale.push(Role::Reservation, sell.build(&self.table)?);
        sale.push(Role::Order, self.put_order(order_item)?);
        self.link_payment(&mut sale, order)?;
        sale.push(Role::ClaimRecord, claim_record.build(&self.table)?);
        for allocation in allocations {
            sale.push(
                Role::Shard,
                move_units(&reservation.drop_id, allocation, from_bucket, Bucket::Sold)
                    .build(&self.table)?,
            );
        }
        let reclaim = matches!(source, SaleSource::Reclaim { .. });
        let sent = self.transact(sale, None).await?;
        outcome_of(sent, "sale", |role| match role {
            Role::Reservation => Some(CommitOutcome::StateChanged),
            Role::Order => Some(CommitOutcome::OrderExists),
            Role::ClaimRecord if reclaim => Some(CommitOutcome::LimitReached),
            Role::Shard if reclaim => Some(CommitOutcome::ShardRefused),
            _ => None,
        })
    }

    /// A delayed payment method completed checkout: the hold leaves the expiry index (its units
    /// stay held until Stripe reports the payment's outcome) and a pending order is written.
    pub async fn commit_payment_pending(
        &self,
        reservation: &Reservation,
        order: &Order,
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome> {
        let first_shard = reservation.allocations.first().map_or(0, |a| a.shard);
        let (pending_pk, pending_sk) =
            keys::pending_index_key(&reservation.drop_id, first_shard, &reservation.id);
        let pending = transition(
            reservation,
            ReservationStatus::Held,
            ReservationStatus::PaymentPending,
            now,
        )
        .with_expression(
            "SET #status = :to, payment_pending_since = :now_text, #gpk = :ipk, #gsk = :isk",
        )
        .value(":ipk", s(pending_pk))
        .value(":isk", s(pending_sk));
        let order_item = encode(order, keys::order_key(&order.shopper, &order.id))?;
        let mut park = Transaction::new("payment pending");
        park.push(Role::Reservation, pending.build(&self.table)?);
        park.push(Role::Order, self.put_order(order_item)?);
        self.link_payment(&mut park, order)?;
        let sent = self.transact(park, None).await?;
        outcome_of(sent, "payment pending", |role| match role {
            Role::Reservation => Some(CommitOutcome::StateChanged),
            Role::Order => Some(CommitOutcome::OrderExists),
            _ => None,
        })
    }

    /// Records the decision to refund a payment before anything is sent to Stripe: the order is
    /// written `refunding` (over nothing or a pending one, never over a sale), and when the
    /// reservation still holds its units (`hold_from`) it becomes `refunded` and the units go back
    /// in the same transaction. A retry, or an overlapping delivery, finds the order and finishes
    /// the refund instead of deciding again.
    pub async fn commit_refund_decision(
        &self,
        reservation: &Reservation,
        hold_from: Option<ReservationStatus>,
        order: &Order,
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome> {
        let mut order_item = encode(order, keys::order_key(&order.shopper, &order.id))?;
        let (index_pk, index_sk) = keys::refunding_index_key(&order.drop_id, &order.id);
        order_item.insert(keys::GSI1_PK.into(), s(index_pk));
        order_item.insert(keys::GSI1_SK.into(), s(index_sk));
        let mut decide = Transaction::new("refund decision");
        decide.push(Role::Order, self.put_order(order_item)?);
        self.link_payment(&mut decide, order)?;
        if let Some(from) = hold_from {
            decide.push(
                Role::Reservation,
                transition(reservation, from, ReservationStatus::Refunded, now)
                    .build(&self.table)?,
            );
            self.return_units_of(&mut decide, reservation)?;
        }
        let sent = self.transact(decide, None).await?;
        outcome_of(sent, "refund decision", |role| match role {
            Role::Order => Some(CommitOutcome::OrderExists),
            Role::Reservation => Some(CommitOutcome::StateChanged),
            _ => None,
        })
    }

    /// Files the order under its PaymentIntent (idempotent: the same link each time).
    fn link_payment(&self, transaction: &mut Transaction, order: &Order) -> Result<()> {
        let Some(payment_intent) = &order.payment_intent else {
            return Ok(());
        };
        let (pk, sk) = keys::payment_link_key(payment_intent);
        let put = Put::builder()
            .table_name(&self.table)
            .item(keys::PK, s(pk))
            .item(keys::SK, s(sk))
            .item("shopper", s(&order.shopper))
            .item("order_id", s(&order.id))
            .build()?;
        transaction.push(
            Role::PaymentLink,
            TransactWriteItem::builder().put(put).build(),
        );
        Ok(())
    }

    /// An order is written once, or over a pending one.
    fn put_order(&self, item: Item) -> Result<TransactWriteItem> {
        self.put_when(
            item,
            "attribute_not_exists(PK) OR #status = :pending",
            HashMap::from([("#status".into(), "status".into())]),
            HashMap::from([(":pending".into(), s(OrderStatus::PaymentPending.as_str()))]),
        )
    }
}

/// What a non-claim transaction's outcome means: `refused` names the outcome of a refusal by an
/// action of that role; a refusal it does not expect is an error.
fn outcome_of(
    sent: TransactOutcome,
    transaction: &'static str,
    refused: impl FnOnce(Role) -> Option<CommitOutcome>,
) -> Result<CommitOutcome> {
    match sent {
        TransactOutcome::Committed => Ok(CommitOutcome::Committed),
        TransactOutcome::Contended => Ok(CommitOutcome::Contended),
        TransactOutcome::Refused { role, reasons, .. } => {
            refused(role).ok_or_else(|| self::refused(transaction, role, &reasons))
        }
    }
}
