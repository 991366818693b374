//! Every multi-item write of Burst, each one `TransactWriteItems`, and what a cancellation of
//! each of its actions means. Counters only move between an item's buckets (`available`, `held`,
//! `sold`), always under a condition, so a shard's buckets always add up to its units.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};

use super::{Item, RETENTION_SECONDS, Store, build_error, condition_met, encode, keys, n, s};
use crate::domain::orders::{Order, OrderStatus};
use crate::domain::reservations::{Allocation, Reservation, ReservationStatus};
use crate::error::{ApiError, Result};

/// What DynamoDB did with a transaction.
enum Sent {
    Committed,
    /// Cancelled because another transaction held one of its items.
    Conflict,
    /// Cancelled by a condition: the first refusing action's index, and every reason.
    Refused {
        action: Option<usize>,
        reasons: Vec<CancellationReason>,
    },
}

/// How a claim transaction ended.
#[derive(Debug)]
pub enum ClaimCommit {
    Committed,
    /// The shopper's claim record refused: held + bought + quantity would pass the limit.
    LimitReached {
        last_reservation_id: Option<String>,
    },
    /// A chosen shard no longer had the units, or the sale window closed, since it was read.
    ShardRefused,
    Conflict,
}

/// How any other transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
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
    Conflict,
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

/// One `Update` action, built up fluently.
struct UpdateAction {
    key: keys::Key,
    expression: String,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    return_old_on_refusal: bool,
}

impl UpdateAction {
    fn new(key: keys::Key, expression: impl Into<String>) -> Self {
        Self {
            key,
            expression: expression.into(),
            condition: None,
            names: HashMap::new(),
            values: HashMap::new(),
            return_old_on_refusal: false,
        }
    }

    fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }

    fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names.insert(placeholder.into(), attribute.into());
        self
    }

    fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.into(), value);
        self
    }

    fn returning_old_on_refusal(mut self) -> Self {
        self.return_old_on_refusal = true;
        self
    }

    fn build(self, table: &str) -> Result<TransactWriteItem> {
        let (pk, sk) = self.key;
        let update = Update::builder()
            .table_name(table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression(self.expression)
            .set_condition_expression(self.condition)
            .set_expression_attribute_names((!self.names.is_empty()).then_some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .set_return_values_on_condition_check_failure(
                self.return_old_on_refusal
                    .then_some(ReturnValuesOnConditionCheckFailure::AllOld),
            )
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
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
        now: DateTime<Utc>,
        attempt: u32,
    ) -> Result<ClaimCommit> {
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

        let mut actions = vec![
            claim_record.build(&self.table)?,
            self.put_new(reservation_item)?,
        ];
        for allocation in &reservation.allocations {
            actions.push(
                move_units(
                    &reservation.drop_id,
                    allocation,
                    Bucket::Available,
                    Bucket::Held,
                )
                .when(
                    "#from >= :units AND starts_at_ms <= :now \
                         AND (attribute_not_exists(ends_at_ms) OR ends_at_ms > :now)",
                )
                .value(":now", n(now.timestamp_millis()))
                .build(&self.table)?,
            );
        }

        // The token makes the SDK's own network retries of this exact attempt idempotent.
        let token = format!("{}-{attempt}", reservation.id);
        let (refused, reasons) = match self.transact(actions, Some(token)).await? {
            Sent::Committed => return Ok(ClaimCommit::Committed),
            Sent::Conflict => return Ok(ClaimCommit::Conflict),
            Sent::Refused { action, reasons } => (action, reasons),
        };
        match refused {
            Some(0) => Ok(ClaimCommit::LimitReached {
                last_reservation_id: reasons[0]
                    .item()
                    .and_then(|item| item.get("last_reservation_id"))
                    .and_then(|value| value.as_s().ok())
                    .cloned(),
            }),
            Some(index) if index >= 2 => Ok(ClaimCommit::ShardRefused),
            _ => Err(cancelled("claim", &reasons)),
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
    ) -> Result<Commit> {
        let quantity = i64::from(reservation.quantity);
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
        let end_hold = end_hold.when(condition.join(" AND "));
        let lower_claim = UpdateAction::new(
            keys::claim_record_key(&reservation.shopper, &reservation.drop_id),
            "ADD units :minus",
        )
        .when("units >= :q")
        .value(":q", n(quantity))
        .value(":minus", n(-quantity));

        let mut actions = vec![
            end_hold.build(&self.table)?,
            lower_claim.build(&self.table)?,
        ];
        for allocation in &reservation.allocations {
            actions.push(
                move_units(
                    &reservation.drop_id,
                    allocation,
                    Bucket::Held,
                    Bucket::Available,
                )
                .build(&self.table)?,
            );
        }
        if from == ReservationStatus::PaymentPending {
            actions.push(
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
        // state: the ledger is broken somewhere, and `settle` refuses loudly.
        let sent = self.transact(actions, None).await?;
        settle(sent, "release", |action| {
            (action == 0).then_some(Commit::StateChanged)
        })
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
    ) -> Result<Commit> {
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

        let mut actions = vec![
            sell.build(&self.table)?,
            self.put_order(order_item)?,
            claim_record.build(&self.table)?,
        ];
        for allocation in allocations {
            actions.push(
                move_units(&reservation.drop_id, allocation, from_bucket, Bucket::Sold)
                    .build(&self.table)?,
            );
        }
        let reclaim = matches!(source, SaleSource::Reclaim { .. });
        let sent = self.transact(actions, None).await?;
        settle(sent, "sale", |action| match action {
            0 => Some(Commit::StateChanged),
            1 => Some(Commit::OrderExists),
            2 if reclaim => Some(Commit::LimitReached),
            _ if reclaim => Some(Commit::ShardRefused),
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
    ) -> Result<Commit> {
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
        let actions = vec![pending.build(&self.table)?, self.put_order(order_item)?];
        let sent = self.transact(actions, None).await?;
        settle(sent, "payment pending", |action| match action {
            0 => Some(Commit::StateChanged),
            1 => Some(Commit::OrderExists),
            _ => None,
        })
    }

    /// Records an order that sells nothing (refunded): `false` when a final order already exists.
    pub async fn record_unsold_order(&self, order: &Order) -> Result<bool> {
        let item = encode(order, keys::order_key(&order.shopper, &order.id))?;
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR #status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(OrderStatus::PaymentPending.as_str()))
            .send()
            .await;
        condition_met(written)
    }

    /// Stores the Checkout Session on a held reservation that has none yet: `false` when the
    /// hold is no longer held or another call stored one first.
    pub async fn save_checkout_session(
        &self,
        reservation_id: &str,
        session_id: &str,
        url: &str,
    ) -> Result<bool> {
        let (pk, sk) = keys::reservation_key(reservation_id);
        let saved = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET checkout_session_id = :session, checkout_url = :url")
            .condition_expression("#status = :held AND attribute_not_exists(checkout_session_id)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":session", s(session_id))
            .expression_attribute_values(":url", s(url))
            .expression_attribute_values(":held", s(ReservationStatus::Held.as_str()))
            .send()
            .await;
        condition_met(saved)
    }

    async fn transact(
        &self,
        actions: Vec<TransactWriteItem>,
        token: Option<String>,
    ) -> Result<Sent> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .set_client_request_token(token)
            .send()
            .await;
        let reasons = match sent {
            Ok(_) => return Ok(Sent::Committed),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    cancelled.cancellation_reasons().to_vec()
                }
                _ => return Err(err.into()),
            },
        };
        if reasons
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
        {
            return Ok(Sent::Conflict);
        }
        let action = reasons
            .iter()
            .position(|r| r.code() == Some("ConditionalCheckFailed"));
        Ok(Sent::Refused { action, reasons })
    }

    pub(super) fn put_new(&self, item: Item) -> Result<TransactWriteItem> {
        self.put_when(
            item,
            "attribute_not_exists(PK)",
            HashMap::new(),
            HashMap::new(),
        )
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

    fn put_when(
        &self,
        item: Item,
        condition: &str,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
    ) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

impl UpdateAction {
    fn with_expression(mut self, expression: impl Into<String>) -> Self {
        self.expression = expression.into();
        self
    }
}

/// What a non-claim transaction's outcome means: `refused` names the outcome of a refusal by
/// the action at that index; a refusal it does not expect is an error.
fn settle(sent: Sent, what: &str, refused: impl FnOnce(usize) -> Option<Commit>) -> Result<Commit> {
    match sent {
        Sent::Committed => Ok(Commit::Committed),
        Sent::Conflict => Ok(Commit::Conflict),
        Sent::Refused { action, reasons } => action
            .and_then(refused)
            .ok_or_else(|| cancelled(what, &reasons)),
    }
}

fn cancelled(what: &str, reasons: &[CancellationReason]) -> ApiError {
    tracing::error!(
        transaction = what,
        ?reasons,
        "transaction refused unexpectedly"
    );
    ApiError::Store(format!("{what} transaction cancelled: {reasons:?}"))
}
