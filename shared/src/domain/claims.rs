//! The claim: exactly as many shoppers succeed as there are units, none twice, none over.
//!
//! A claim reads the drop's shards (one strongly consistent batch read, no transaction), picks
//! shards with stock at random so writes spread evenly, and commits one `TransactWriteItems`
//! (see `Store::commit_claim`). Only when every shard reads empty — after any overdue holds were
//! returned — does it answer `sold_out`: a sold-out answer costs reads, never a doomed
//! transaction, and never rests on a stale read.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::app::App;
use crate::domain::body;
use crate::domain::holds::{Budget, EndHoldOutcome, SweepMode, end_hold, release_overdue};
use crate::domain::limits::{self, Gate};
use crate::domain::queue::{self, Count};
use crate::domain::retry::{Again, Retry};
use crate::error::{ApiError, Result};
use crate::metrics::{self, Metric};
use crate::model::drop::{DropSpec, Price};
use crate::model::ids;
use crate::model::queue::TicketStatus;
use crate::model::requester::Requester;
use crate::model::reservation::{Reservation, ReservationStatus, ReservationView, allocate};
use crate::store::ledger::{AdmittedTicket, ClaimOutcome, ReleaseGuard};

/// A shard refusing means another claim took its units between our read and our write: progress
/// for the drop as a whole. The cap only guards against a bug turning that into a spin.
const MAX_ROUNDS: u32 = 64;

/// `POST /drops/{drop_id}/claims`.
pub async fn claim(
    app: &App,
    requester: Requester<'_>,
    drop_id: &str,
    body: Option<Value>,
) -> Result<ReservationView> {
    let shopper = requester.shopper;
    let mut drop = app
        .store
        .drop(drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))?;
    let request = parse_claim(body, drop.per_user_limit)?;
    let quantity = request.quantity;
    drop.ensure_claimable(requester.groups, Utc::now())?;
    let gate = drop.claim_gate(requester.groups);
    let admitted =
        admitted_ticket(app, &drop, requester, request.admission_token.as_deref()).await?;

    let reservation_id = ids::new_id();
    let mut swept = false;
    let mut lapsed_returned = false;
    let mut retry = Retry::new("claim", MAX_ROUNDS);
    loop {
        let now = Utc::now();
        drop.ensure_claimable(requester.groups, now)?;
        let shards = app.store.shards(&drop, true).await?;
        if !shards
            .iter()
            .all(|shard| shard.admits(gate, now.timestamp_millis()))
        {
            // The shards say the sale is closed, paused or not started where this container's
            // copy of the drop says otherwise: it is stale, so the drop as stored decides.
            drop = app
                .store
                .drop_now(drop_id)
                .await?
                .ok_or(ApiError::NotFound("drop"))?;
            drop.ensure_claimable(requester.groups, now)?;
            retry.again(Again::Changed).await?;
            continue;
        }
        let Some(allocations) = allocate(&shards, quantity) else {
            if !swept {
                swept = true;
                let mut budget = Budget::looking_for_units();
                let release =
                    release_overdue(app, &drop, &shards, now, SweepMode::Inline, &mut budget)
                        .await?;
                if release.released > 0 {
                    retry.again(Again::Changed).await?;
                    continue;
                }
            }
            return Err(ApiError::SoldOut);
        };

        let reservation = Reservation::new_hold(
            reservation_id.clone(),
            &drop,
            shopper,
            quantity,
            allocations,
            now,
        )
        .at_price(locked_price(&drop, admitted.as_ref(), now));
        match app
            .store
            .commit_claim(
                &reservation,
                drop.per_user_limit,
                admitted.as_ref(),
                gate,
                now,
                retry.round(),
            )
            .await?
        {
            ClaimOutcome::Committed => {
                tracing::info!(reservation_id = %reservation.id, drop_id = %drop.id, quantity,
                        shards = ?reservation.allocations, "claim committed");
                metrics::count(Metric::Claims);
                return Ok(reservation.view(now));
            }
            ClaimOutcome::LimitReached {
                last_reservation_id,
            } => {
                // A hold past its window no longer counts, swept or not: return it and retry
                // (one with a Checkout Session is the sweeper's, which closes the session
                // first).
                if !lapsed_returned
                    && let Some(id) = &last_reservation_id
                    && let Some(previous) = app.store.reservation(id).await?
                    && previous.is_overdue(now)
                    && previous.checkout_session_id.is_none()
                {
                    lapsed_returned = true;
                    let ended = end_hold(
                        app,
                        &previous,
                        ReservationStatus::Expired,
                        ReleaseGuard::Overdue,
                        now,
                    )
                    .await?;
                    if ended == EndHoldOutcome::Released {
                        retry.again(Again::Changed).await?;
                        continue;
                    }
                }
                return Err(ApiError::AlreadyClaimed {
                    reservation_id: last_reservation_id,
                });
            }
            // Another claim took the shard's units between our read and our write: progress
            // for the drop as a whole.
            ClaimOutcome::ShardRefused => retry.again(Again::Changed).await?,
            ClaimOutcome::TicketRefused {
                status: Some(TicketStatus::Claimed),
            } => {
                return Err(ApiError::AlreadyClaimed {
                    reservation_id: None,
                });
            }
            ClaimOutcome::TicketRefused { status } => {
                tracing::info!(drop_id = %drop.id, ?status, "admission refused by the ticket");
                queue::count(app, &drop.id, &[Count::ClaimAdmissionInvalid]).await;
                return Err(ApiError::AdmissionInvalid);
            }
            ClaimOutcome::Contended => retry.again(Again::Contended).await?,
        }
    }
}

/// What a claim asks for.
#[derive(Debug, Default, PartialEq)]
struct ClaimRequest {
    quantity: u32,
    admission_token: Option<String>,
}

/// The claim's body, as sent: optional, and so is each field.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ClaimBody {
    quantity: Option<u32>,
    admission_token: Option<String>,
}

/// The claim body is optional; `quantity` defaults to 1 and may not pass the drop's limit; a
/// queued drop's claim carries `admission_token`.
fn parse_claim(body: Option<Value>, per_user_limit: u32) -> Result<ClaimRequest> {
    let body: ClaimBody = body::decode(body).map_err(|error| match error.field() {
        Some("quantity") => quantity_error(per_user_limit),
        Some("admission_token") => admission_token_error(),
        _ => error,
    })?;
    let quantity = body.quantity.unwrap_or(1);
    if !(1..=per_user_limit).contains(&quantity) {
        return Err(quantity_error(per_user_limit));
    }
    if body
        .admission_token
        .as_ref()
        .is_some_and(|token| token.len() > 2048)
    {
        return Err(admission_token_error());
    }
    Ok(ClaimRequest {
        quantity,
        admission_token: body.admission_token,
    })
}

/// On a queued drop, the admitted ticket the claim spends: within the velocity limits, the token
/// must verify (signature, drop, shopper, expiry) before anything is read. A drop without a
/// queue needs none.
async fn admitted_ticket(
    app: &App,
    drop: &DropSpec,
    requester: Requester<'_>,
    token: Option<&str>,
) -> Result<Option<AdmittedTicket>> {
    let Some(settings) = &drop.queue else {
        return Ok(None);
    };
    let shopper = requester.shopper;
    let now = Utc::now();
    if let Err(error) = limits::check(
        app,
        &drop.id,
        settings,
        Gate::Claim,
        shopper,
        requester.source_ip,
        now,
    )
    .await
    {
        queue::count(app, &drop.id, &[Count::ClaimRateLimited]).await;
        return Err(error);
    }
    let Some(token) = token else {
        queue::count(app, &drop.id, &[Count::ClaimAdmissionMissing]).await;
        return Err(ApiError::AdmissionRequired);
    };
    let keys = app
        .config
        .admission
        .as_ref()
        .ok_or(ApiError::QueueUnavailable)?;
    let claims = match keys.verify(token, &drop.id, shopper, now) {
        Ok(claims) => claims,
        Err(reason) => {
            tracing::info!(drop_id = %drop.id, %reason, "admission token refused");
            queue::count(app, &drop.id, &[Count::ClaimAdmissionInvalid]).await;
            return Err(ApiError::AdmissionInvalid);
        }
    };
    // Every admission lasts the drop's admission window, fixed once the drop opened: the
    // token's expiry tells when it was admitted.
    let admitted_at = DateTime::from_timestamp(claims.exp - i64::from(drop.admission_seconds()), 0)
        .unwrap_or(now);
    Ok(Some(AdmittedTicket {
        ticket_id: claims.ticket,
        admitted_at,
    }))
}

/// The unit price a hold made now locks in: the schedule's step now, or, for an admitted
/// shopper, the step at their admission if that was lower — a price never rises for someone the
/// queue already let in.
fn locked_price(drop: &DropSpec, admitted: Option<&AdmittedTicket>, now: DateTime<Utc>) -> Price {
    let current = drop.price_at(now);
    match admitted.map(|ticket| drop.price_at(ticket.admitted_at)) {
        Some(at_admission) if at_admission.amount < current.amount => at_admission,
        _ => current,
    }
}

fn admission_token_error() -> ApiError {
    ApiError::invalid(
        "admission_token",
        "admission_token must be the token your admitted ticket shows",
    )
}

fn quantity_error(per_user_limit: u32) -> ApiError {
    ApiError::invalid(
        "quantity",
        format!(
            "quantity must be a whole number from 1 to {per_user_limit} (this drop's per-shopper limit)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_defaults_to_one_and_respects_the_limit() {
        let quantity = |body| parse_claim(body, 2).map(|request| request.quantity);
        assert_eq!(quantity(None).unwrap(), 1);
        assert_eq!(quantity(Some(serde_json::json!({}))).unwrap(), 1);
        assert_eq!(
            quantity(Some(serde_json::json!({"quantity": 2}))).unwrap(),
            2
        );
        assert_eq!(
            parse_claim(Some(serde_json::json!({"admission_token": "t"})), 1)
                .unwrap()
                .admission_token
                .as_deref(),
            Some("t")
        );
        for bad in [
            serde_json::json!({"quantity": 3}),
            serde_json::json!({"quantity": 0}),
            serde_json::json!({"quantity": "1"}),
            serde_json::json!({"quantity": 1.5}),
            serde_json::json!({"qty": 1}),
            serde_json::json!([1]),
        ] {
            assert!(matches!(
                parse_claim(Some(bad), 2),
                Err(ApiError::InvalidRequest { .. })
            ));
        }
    }
}
