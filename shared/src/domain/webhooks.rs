//! `POST /webhooks/stripe`: Stripe's word on a payment, turned into exactly one outcome.
//!
//! Stripe sends every event of the account here — other integrations' sessions too — and retries,
//! duplicates and reorders them. So: an event about a payment Burst did not start is answered
//! `ignored` and touches nothing; every transition is conditioned on the current state, so one
//! that no longer applies does nothing; and money is never kept for units Burst cannot deliver.
//! A refund is *decided* first (the order is written `refunding`, and a hold that still has units
//! ends and returns them in that same transaction), *then* sent to Stripe under an idempotency
//! key, *then* marked `refunded`: a retry or an overlapping delivery converges on the recorded
//! decision, and nothing can sell the units of a payment whose money is going back.

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::domain::holds::{Budget, SweepMode, release_overdue, return_units};
use crate::domain::retry::{Again, Retry};
use crate::error::{ApiError, PaymentError, Result};
use crate::model::drop::DropSpec;
use crate::model::order::{Order, OrderStatus};
use crate::model::reservation::{Allocation, Reservation, ReservationStatus, allocate};
use crate::payments::events::{ChargeObject, DisputeObject, Event, EventKind, SessionObject};
use crate::payments::signature;
use crate::store::ledger::{CommitOutcome, ReleaseGuard, SaleSource};

/// Each round re-reads the reservation after another writer moved it; a handful always settles.
const MAX_ROUNDS: u32 = 16;
/// Checkout Session, Charge and Dispute events are a few kilobytes; Stripe's largest objects stay
/// well under this.
const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Stripe ids (`evt_…`, `pi_…`) are short ASCII; they become table keys, so nothing else is let
/// near one.
fn is_stripe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// How a webhook delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Processed,
    Duplicate,
    Ignored,
}

impl WebhookOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
        }
    }
}

/// Why a payment was refunded (recorded on the order).
#[derive(Debug, Clone, Copy)]
enum RefundReason {
    AmountMismatch,
    SoldOut,
    PerUserLimit,
    DropEnded,
}

impl RefundReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::AmountMismatch => "amount_mismatch",
            Self::SoldOut => "sold_out",
            Self::PerUserLimit => "per_user_limit",
            Self::DropEnded => "drop_ended",
        }
    }
}

/// Verifies the signature over the exact raw bytes before anything else, then applies the event
/// once: its id is recorded after it was applied, so a delivery that failed half-way is retried
/// by Stripe and the conditional transitions make the retry safe.
pub async fn handle_event(
    app: &App,
    signature_header: Option<&str>,
    payload: &[u8],
    now: DateTime<Utc>,
) -> Result<WebhookOutcome> {
    let secret = app
        .config
        .stripe_webhook_secret
        .as_deref()
        .ok_or(ApiError::PaymentsUnavailable)?;
    signature::verify(signature_header, payload, secret, now.timestamp())?;
    if payload.len() > MAX_EVENT_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_EVENT_BYTES,
        });
    }
    let event: Event = serde_json::from_slice(payload)
        .map_err(|err| ApiError::invalid_body(format!("not a Stripe event: {err}")))?;
    if !is_stripe_id(&event.id) {
        return Err(ApiError::invalid_body("the event id is not a Stripe id"));
    }
    if app.store.event_processed(&event.id).await? {
        tracing::info!(event_id = %event.id, "duplicate delivery");
        return Ok(WebhookOutcome::Duplicate);
    }
    let kind = event.kind();
    let applied = match kind {
        EventKind::Ignored => false,
        kind if kind.is_session_event() => {
            let session: SessionObject = event.object().map_err(ApiError::invalid_body)?;
            tracing::info!(event_id = %event.id, event_type = %event.kind, session_id = %session.id,
                payment_status = %session.payment_status, "stripe event");
            apply_session_event(app, kind, &session, now).await?
        }
        EventKind::ChargeRefunded => {
            let charge: ChargeObject = event.object().map_err(ApiError::invalid_body)?;
            apply_charge_refund(app, &charge).await?
        }
        _ => {
            let dispute: DisputeObject = event.object().map_err(ApiError::invalid_body)?;
            apply_dispute(app, kind, &dispute, now).await?
        }
    };
    if !applied {
        // Not Burst's (another integration's session, a Payment Link) or not an event Burst
        // acts on: answered 2xx so Stripe stops retrying, and nothing is written.
        tracing::info!(event_id = %event.id, event_type = %event.kind, "event ignored");
        return Ok(WebhookOutcome::Ignored);
    }
    app.store.record_event(&event.id, &event.kind, now).await?;
    Ok(WebhookOutcome::Processed)
}

/// The reservation a session pays for, when Burst created the session: its metadata names a
/// reservation of ours and the reservation names this session (or, after a crash between
/// Stripe and our save, none yet). `None` for anything else.
async fn reservation_of(app: &App, session: &SessionObject) -> Result<Option<Reservation>> {
    let Some(id) = session.metadata.get("reservation_id") else {
        return Ok(None);
    };
    let Some(reservation) = app.store.reservation(id).await? else {
        return Ok(None);
    };
    let ours = session.client_reference_id.as_deref() == Some(reservation.id.as_str())
        && session.metadata.get("drop_id") == Some(&reservation.drop_id)
        && reservation
            .checkout_session_id
            .as_deref()
            .is_none_or(|stored| stored == session.id);
    Ok(ours.then_some(reservation))
}

/// Applies what a Checkout Session event says; `false` when the session is not Burst's. Also what
/// the sweeper runs for a completed session whose webhook never arrived.
pub async fn apply_session_event(
    app: &App,
    kind: EventKind,
    session: &SessionObject,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(reservation) = reservation_of(app, session).await? else {
        return Ok(false);
    };
    match kind {
        EventKind::Completed if session.is_paid() => {
            settle(app, &reservation, session, now).await?
        }
        EventKind::AsyncPaymentSucceeded => settle(app, &reservation, session, now).await?,
        EventKind::Completed => mark_pending(app, &reservation, session, now).await?,
        EventKind::AsyncPaymentFailed => {
            // A failure may overtake the `completed` event: release from whichever state holds
            // the units, so a late `completed` finds nothing to park.
            for from in [ReservationStatus::PaymentPending, ReservationStatus::Held] {
                if return_units(
                    app,
                    &reservation,
                    from,
                    ReservationStatus::Released,
                    ReleaseGuard::Anytime,
                    now,
                )
                .await?
                {
                    break;
                }
            }
        }
        EventKind::Expired => {
            // Nobody can pay this session any more; a hold still waiting for it is over.
            return_units(
                app,
                &reservation,
                ReservationStatus::Held,
                ReservationStatus::Expired,
                ReleaseGuard::Anytime,
                now,
            )
            .await?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The payment succeeded: a sale, exactly once — from the hold while it holds the units, by
/// re-claiming them if the hold already ended, or a refund when neither can be done. A decision
/// already recorded on the order wins over deciding again.
async fn settle(
    app: &App,
    reservation: &Reservation,
    session: &SessionObject,
    now: DateTime<Utc>,
) -> Result<()> {
    let drop = app.store.drop(&reservation.drop_id).await?.ok_or_else(|| {
        ApiError::invariant(format!(
            "drop {} of a paid reservation is missing",
            reservation.drop_id
        ))
    })?;
    let mut retry = Retry::new("sale", MAX_ROUNDS);
    loop {
        if let Some(order) = app
            .store
            .order(&reservation.shopper, &reservation.id)
            .await?
        {
            match order.status {
                OrderStatus::Refunding => return finish_refund(app, &order, now).await,
                OrderStatus::PaymentPending => {}
                OrderStatus::Paid
                | OrderStatus::PaymentFailed
                | OrderStatus::Refunded
                | OrderStatus::Disputed => return Ok(()),
            }
        }
        let current = app
            .store
            .reservation(&reservation.id)
            .await?
            .ok_or_else(|| ApiError::invariant("a paid reservation vanished"))?;
        let commit = match decide(&drop, &current, session, now) {
            Decision::Done => return Ok(()),
            Decision::Refund(reason) => {
                tracing::warn!(alert = reason.as_str(), reservation_id = %current.id,
                    session_id = %session.id, paid = ?session.amount_total,
                    "payment cannot buy the units; refunding");
                let order = refunding_order(&current, session, reason, now);
                let hold_from = current.status.holds_units().then_some(current.status);
                app.store
                    .commit_refund_decision(&current, hold_from, &order, now)
                    .await?
            }
            Decision::SellHold => {
                let order = order_of(
                    &current,
                    session,
                    OrderStatus::Paid,
                    &current.allocations,
                    now,
                );
                app.store
                    .commit_sale(
                        &current,
                        current.status,
                        &current.allocations,
                        SaleSource::Hold,
                        &order,
                        now,
                    )
                    .await?
            }
            Decision::Reclaim => match reclaimable(app, &drop, current.quantity, now).await? {
                Some(allocations) => {
                    let order = order_of(&current, session, OrderStatus::Paid, &allocations, now);
                    let source = SaleSource::Reclaim {
                        per_user_limit: drop.units_per_shopper(),
                    };
                    app.store
                        .commit_sale(&current, current.status, &allocations, source, &order, now)
                        .await?
                }
                None => {
                    let order = refunding_order(&current, session, RefundReason::SoldOut, now);
                    app.store
                        .commit_refund_decision(&current, None, &order, now)
                        .await?
                }
            },
        };
        match commit {
            CommitOutcome::Committed => {
                tracing::info!(reservation_id = %current.id, session_id = %session.id, "payment settled");
                // A sale is done; a refund decision goes on to the refund (read on the next round).
            }
            CommitOutcome::LimitReached => {
                let order = refunding_order(&current, session, RefundReason::PerUserLimit, now);
                app.store
                    .commit_refund_decision(&current, None, &order, now)
                    .await?;
                retry.again(Again::Changed).await?;
            }
            CommitOutcome::Contended => retry.again(Again::Contended).await?,
            // Somebody else decided first, or the hold moved: read again and follow.
            CommitOutcome::OrderExists
            | CommitOutcome::StateChanged
            | CommitOutcome::ShardRefused => retry.again(Again::Changed).await?,
        }
    }
}

/// What a successful payment should become, given the hold as it is now.
enum Decision {
    /// Already sold (or decided): nothing to do.
    Done,
    SellHold,
    /// The hold ended before the money came: take units again if there are any.
    Reclaim,
    Refund(RefundReason),
}

fn decide(
    drop: &DropSpec,
    reservation: &Reservation,
    session: &SessionObject,
    now: DateTime<Utc>,
) -> Decision {
    // The price locked into the hold, never the drop's current step: a schedule may have moved.
    let expected = reservation.amount_due();
    let currency_matches = session
        .currency
        .as_deref()
        .is_some_and(|currency| currency.eq_ignore_ascii_case(&reservation.price.currency));
    let amount_matches = session.amount_total == Some(expected) && currency_matches;
    match reservation.status {
        ReservationStatus::Paid | ReservationStatus::Refunded => Decision::Done,
        _ if !amount_matches => Decision::Refund(RefundReason::AmountMismatch),
        ReservationStatus::Held | ReservationStatus::PaymentPending => Decision::SellHold,
        ReservationStatus::Expired | ReservationStatus::Released => {
            if drop.ends_at.is_some_and(|end| now >= end) {
                Decision::Refund(RefundReason::DropEnded)
            } else {
                Decision::Reclaim
            }
        }
    }
}

/// Units to re-claim for a late payment: from the shards as they are now, after returning any
/// overdue holds when the drop reads empty.
async fn reclaimable(
    app: &App,
    drop: &DropSpec,
    quantity: u32,
    now: DateTime<Utc>,
) -> Result<Option<Vec<Allocation>>> {
    let shards = app.store.shards(drop, true).await?;
    if let Some(allocations) = allocate(&shards, quantity) {
        return Ok(Some(allocations));
    }
    // Holds whose payment is in flight stay as they are: settling them is the sweeper's.
    let mut budget = Budget::looking_for_units();
    let release =
        release_overdue(app, drop, &shards, now, SweepMode::Scheduled, &mut budget).await?;
    if release.released == 0 {
        return Ok(None);
    }
    Ok(allocate(&app.store.shards(drop, true).await?, quantity))
}

/// Sends the recorded refund to Stripe (the recorded key makes a repeat harmless) and marks it
/// done. A failure here answers 5xx, so Stripe's retry of the event comes back to finish it.
pub(crate) async fn finish_refund(app: &App, order: &Order, now: DateTime<Utc>) -> Result<()> {
    let gateway = app.payments.as_ref().ok_or(ApiError::PaymentsUnavailable)?;
    let (Some(payment_intent), Some(key)) = (&order.payment_intent, &order.refund_key) else {
        tracing::error!(alert = "refund_without_payment_intent", order_id = %order.id, "cannot refund");
        return Err(
            PaymentError::Invalid(format!("order {} has nothing to refund", order.id)).into(),
        );
    };
    let refund_id = gateway.refund(payment_intent, key).await?;
    if app.store.finish_refund(order, &refund_id, now).await? {
        tracing::info!(order_id = %order.id, %refund_id, "payment refunded");
    }
    Ok(())
}

/// A delayed payment method completed checkout: keep the units held until Stripe reports the
/// outcome. If the hold already ended, there is nothing to keep; the outcome event settles it.
async fn mark_pending(
    app: &App,
    reservation: &Reservation,
    session: &SessionObject,
    now: DateTime<Utc>,
) -> Result<()> {
    let order = order_of(reservation, session, OrderStatus::PaymentPending, &[], now);
    let mut retry = Retry::new("payment pending", 0);
    loop {
        match app
            .store
            .commit_payment_pending(reservation, &order, now)
            .await?
        {
            CommitOutcome::Contended => retry.again(Again::Contended).await?,
            CommitOutcome::Committed => {
                tracing::info!(reservation_id = %reservation.id, "payment pending; units stay held");
                return Ok(());
            }
            _ => return Ok(()),
        }
    }
}

/// `charge.refunded`: a refund Burst made is already on its order; one made at Stripe (the
/// Dashboard) turns a sale `refunded` when it is for the whole amount. The units stay sold:
/// refunded stock is not put back on sale automatically.
async fn apply_charge_refund(app: &App, charge: &ChargeObject) -> Result<bool> {
    let Some(order) = order_paid_by(app, charge.payment_intent_id()).await? else {
        return Ok(false);
    };
    let refunded = serde_dynamo::to_attribute_value(charge.amount_refunded)?;
    let details = [("amount_refunded", refunded)];
    let moved = if charge.refunded {
        let mut details = details.to_vec();
        details.push((
            "refund_reason",
            serde_dynamo::to_attribute_value("refunded_at_stripe")?,
        ));
        app.store
            .record_payment_outcome(
                &order,
                &[OrderStatus::Paid, OrderStatus::Disputed],
                OrderStatus::Refunded,
                &details,
            )
            .await?
    } else {
        false
    };
    if !moved {
        // A partial refund, or Burst's own refund: the amount is all there is to record.
        app.store
            .record_payment_outcome(&order, &[order.status], order.status, &details)
            .await?;
    }
    tracing::warn!(alert = "refund_at_stripe", order_id = %order.id, charge_id = %charge.id,
        amount_refunded = charge.amount_refunded, amount = charge.amount, "charge refunded");
    Ok(true)
}

/// `charge.dispute.created` / `.closed`: the order shows the dispute; a won dispute makes it
/// paid again. Units stay sold either way.
async fn apply_dispute(
    app: &App,
    kind: EventKind,
    dispute: &DisputeObject,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(order) = order_paid_by(app, dispute.payment_intent_id()).await? else {
        return Ok(false);
    };
    let details = [
        (
            "dispute_status",
            serde_dynamo::to_attribute_value(&dispute.status)?,
        ),
        (
            "dispute_updated_at",
            serde_dynamo::to_attribute_value(now.to_rfc3339())?,
        ),
    ];
    let (from, to): (&[OrderStatus], OrderStatus) = match kind {
        EventKind::DisputeClosed if dispute.status == "won" => {
            (&[OrderStatus::Disputed], OrderStatus::Paid)
        }
        EventKind::DisputeClosed => (&[OrderStatus::Disputed], OrderStatus::Disputed),
        _ => (
            &[OrderStatus::Paid, OrderStatus::Disputed],
            OrderStatus::Disputed,
        ),
    };
    app.store
        .record_payment_outcome(&order, from, to, &details)
        .await?;
    tracing::warn!(alert = "dispute", order_id = %order.id, dispute_id = %dispute.id,
        status = %dispute.status, "dispute recorded");
    Ok(true)
}

/// The order a PaymentIntent paid, if it is Burst's.
async fn order_paid_by(app: &App, payment_intent: Option<String>) -> Result<Option<Order>> {
    match payment_intent.filter(|id| is_stripe_id(id)) {
        Some(payment_intent) => app.store.order_by_payment_intent(&payment_intent).await,
        None => Ok(None),
    }
}

fn refunding_order(
    reservation: &Reservation,
    session: &SessionObject,
    reason: RefundReason,
    now: DateTime<Utc>,
) -> Order {
    let mut order = order_of(reservation, session, OrderStatus::Refunding, &[], now);
    order.paid_at = None;
    order.refund_reason = Some(reason.as_str().to_string());
    order.refund_key = Some(format!("refund-{}", session.id));
    order
}

fn order_of(
    reservation: &Reservation,
    session: &SessionObject,
    status: OrderStatus,
    allocations: &[Allocation],
    now: DateTime<Utc>,
) -> Order {
    Order {
        id: reservation.id.clone(),
        drop_id: reservation.drop_id.clone(),
        shopper: reservation.shopper.clone(),
        quantity: reservation.quantity,
        unit_price: Some(reservation.price.clone()),
        amount: session.amount_total.unwrap_or_default(),
        currency: session
            .currency
            .clone()
            .unwrap_or_default()
            .to_ascii_uppercase(),
        status,
        checkout_session_id: session.id.clone(),
        payment_intent: session.payment_intent_id(),
        allocations: allocations.to_vec(),
        created_at: reservation.created_at,
        paid_at: (status == OrderStatus::Paid).then_some(now),
        refunded_at: None,
        refund_reason: None,
        refund_key: None,
        amount_refunded: None,
        dispute_status: None,
    }
}
