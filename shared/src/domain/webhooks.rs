//! `POST /webhooks/stripe`: Stripe's word on a Checkout Session, turned into exactly one outcome.
//!
//! Stripe retries, duplicates and reorders events, so every transition is conditioned on the
//! reservation's current state and a transition that no longer applies does nothing. Money is
//! never kept for units Burst cannot deliver: a payment that cannot become a sale is refunded.

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::domain::claims::allocate;
use crate::domain::drops::DropSpec;
use crate::domain::orders::{Order, OrderStatus};
use crate::domain::reservations::{Allocation, Reservation, ReservationStatus, return_units};
use crate::domain::retry::{Again, Retry};
use crate::domain::sweeper::{self, SweepMode};
use crate::error::{ApiError, PaymentError, Result};
use crate::payments::events::{Event, EventKind, SessionObject};
use crate::payments::signature;
use crate::store::{Commit, ReleaseGuard, SaleSource};

/// Each round re-reads the reservation after another writer moved it; a handful always settles.
const MAX_ROUNDS: u32 = 16;

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
}

impl RefundReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::AmountMismatch => "amount_mismatch",
            Self::SoldOut => "sold_out",
            Self::PerUserLimit => "per_user_limit",
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
    let event: Event = serde_json::from_slice(payload)
        .map_err(|err| ApiError::invalid_body(format!("not a Stripe event: {err}")))?;
    if app.store.event_processed(&event.id).await? {
        tracing::info!(event_id = %event.id, "duplicate delivery");
        return Ok(WebhookOutcome::Duplicate);
    }
    let kind = event.kind();
    let outcome = if kind == EventKind::Ignored {
        WebhookOutcome::Ignored
    } else {
        let session = event
            .session()
            .ok_or_else(|| ApiError::invalid_body("the event carries no Checkout Session"))?;
        tracing::info!(event_id = %event.id, event_type = %event.kind, session_id = %session.id,
            payment_status = %session.payment_status, "stripe event");
        apply(app, kind, &session, now).await?;
        WebhookOutcome::Processed
    };
    app.store.record_event(&event.id, &event.kind, now).await?;
    Ok(outcome)
}

async fn apply(
    app: &App,
    kind: EventKind,
    session: &SessionObject,
    now: DateTime<Utc>,
) -> Result<()> {
    let reservation = match &session.client_reference_id {
        Some(id) => app.store.reservation(id).await?,
        None => None,
    };
    let Some(reservation) =
        reservation.filter(|r| r.checkout_session_id.as_deref() == Some(session.id.as_str()))
    else {
        // Not a session Burst created for a hold it knows: money for nothing is returned.
        tracing::error!(alert = "unknown_checkout_session", session_id = %session.id,
            client_reference_id = ?session.client_reference_id, "payment event for no known hold");
        if kind == EventKind::Completed && session.payment_status == "paid"
            || kind == EventKind::AsyncPaymentSucceeded
        {
            refund_only(app, session).await?;
        }
        return Ok(());
    };
    match kind {
        EventKind::Completed if session.payment_status == "paid" => {
            settle(app, &reservation, session, now).await
        }
        EventKind::AsyncPaymentSucceeded => settle(app, &reservation, session, now).await,
        EventKind::Completed if session.payment_status == "unpaid" => {
            mark_pending(app, &reservation, session, now).await
        }
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
            Ok(())
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
            .await
            .map(|_| ())
        }
        _ => Ok(()),
    }
}

/// The payment succeeded: a sale, exactly once — from the hold while it holds the units, by
/// re-claiming them if the hold already ended, or a refund when neither can be done.
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
    let expected = drop.price.amount * i64::from(reservation.quantity);
    let currency_matches = session
        .currency
        .as_deref()
        .is_some_and(|currency| currency.eq_ignore_ascii_case(&drop.price.currency));
    if session.amount_total != Some(expected) || !currency_matches {
        tracing::error!(alert = "payment_amount_mismatch", reservation_id = %reservation.id,
            session_id = %session.id, expected, currency = %drop.price.currency,
            paid = ?session.amount_total, paid_currency = ?session.currency,
            "paid amount does not match the drop's price; refunding");
        return refund(app, reservation, session, RefundReason::AmountMismatch, now).await;
    }

    let mut retry = Retry::new("sale", MAX_ROUNDS);
    loop {
        let current = app
            .store
            .reservation(&reservation.id)
            .await?
            .ok_or_else(|| ApiError::invariant("a paid reservation vanished"))?;
        let commit = match current.status {
            ReservationStatus::Paid => return Ok(()),
            ReservationStatus::Held | ReservationStatus::PaymentPending => {
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
            ReservationStatus::Expired | ReservationStatus::Released => {
                let Some(allocations) = reclaimable(app, &drop, current.quantity, now).await?
                else {
                    tracing::warn!(reservation_id = %current.id, "late payment and no units left; refunding");
                    return refund(app, &current, session, RefundReason::SoldOut, now).await;
                };
                let order = order_of(&current, session, OrderStatus::Paid, &allocations, now);
                let source = SaleSource::Reclaim {
                    per_user_limit: drop.per_user_limit,
                };
                app.store
                    .commit_sale(&current, current.status, &allocations, source, &order, now)
                    .await?
            }
        };
        match commit {
            Commit::Committed => {
                tracing::info!(reservation_id = %current.id, session_id = %session.id,
                    late = !current.status.holds_units(), "order paid");
                return Ok(());
            }
            Commit::LimitReached => {
                tracing::warn!(reservation_id = %current.id, "late payment would pass the shopper's limit; refunding");
                return refund(app, &current, session, RefundReason::PerUserLimit, now).await;
            }
            Commit::OrderExists => {
                tracing::warn!(reservation_id = %current.id, "order already final; nothing to settle");
                return Ok(());
            }
            Commit::Contended => retry.again(Again::Contended).await?,
            Commit::StateChanged | Commit::ShardRefused => retry.again(Again::Changed).await?,
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
    if sweeper::expire_overdue_holds(app, drop, &shards, now, SweepMode::Scheduled).await? == 0 {
        return Ok(None);
    }
    Ok(allocate(&app.store.shards(drop, true).await?, quantity))
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
            Commit::Contended => retry.again(Again::Contended).await?,
            Commit::Committed => {
                tracing::info!(reservation_id = %reservation.id, "payment pending; units stay held");
                return Ok(());
            }
            _ => return Ok(()),
        }
    }
}

/// Refunds the session's payment in full (idempotently per session) and records the order as
/// refunded.
async fn refund(
    app: &App,
    reservation: &Reservation,
    session: &SessionObject,
    reason: RefundReason,
    now: DateTime<Utc>,
) -> Result<()> {
    refund_only(app, session).await?;
    let mut order = order_of(reservation, session, OrderStatus::Refunded, &[], now);
    order.paid_at = None;
    order.refunded_at = Some(now);
    order.refund_reason = Some(reason.as_str().to_string());
    if !app.store.record_unsold_order(&order).await? {
        tracing::warn!(reservation_id = %reservation.id, "order already final when recording a refund");
    }
    Ok(())
}

async fn refund_only(app: &App, session: &SessionObject) -> Result<()> {
    let gateway = app.payments.as_ref().ok_or(ApiError::PaymentsUnavailable)?;
    let Some(payment_intent) = session.payment_intent_id() else {
        tracing::error!(alert = "refund_without_payment_intent", session_id = %session.id, "cannot refund");
        return Err(PaymentError::Invalid(format!(
            "session {} has no payment intent to refund",
            session.id
        ))
        .into());
    };
    let refund_id = gateway.refund(&session.id, &payment_intent).await?;
    tracing::info!(session_id = %session.id, %refund_id, "payment refunded");
    Ok(())
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
    }
}
