//! What a shopper sees of their place in a queue: position, people ahead, the ETA, when to ask
//! again, and — once admitted — the signed admission token their claim spends.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;

use crate::app::App;
use crate::error::{ApiError, Result};
use crate::model::admission::AdmissionClaims;
use crate::model::draw;
use crate::model::drop::DropSpec;
use crate::model::policy::{self, Eta, Standing};
use crate::model::queue::{Phase, QueueState, Section, Ticket, TicketStatus};

/// What a shopper sees of their ticket.
#[derive(Debug, Clone, Serialize)]
pub struct TicketView {
    pub id: String,
    pub drop_id: String,
    pub status: TicketStatus,
    pub position: Option<u64>,
    pub ahead: Option<u64>,
    pub eta_seconds: Option<Eta>,
    pub admission: Option<AdmissionView>,
    pub poll_after_ms: u64,
    pub beyond_stock: bool,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdmissionView {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A ticket's position: numbered after the draw (on the ticket), or found by its draw key in
/// the drawn order — its group's record and the one page that holds it, a few small items
/// whatever the cohort's size.
async fn position_of(
    app: &App,
    drop: &DropSpec,
    state: &QueueState,
    ticket: &Ticket,
) -> Result<Option<u64>> {
    if ticket.position.is_some() || !ticket.cohort {
        return Ok(ticket.position);
    }
    let section = Section::of_member(ticket.early);
    let drawn = match section {
        Section::Early => state.early_drawn,
        Section::Cohort => state.cohort_fixed,
    };
    if !drawn {
        return Ok(None);
    }
    let key = draw::draw_key(&state.seed, &ticket.id);
    let Some(group) = app
        .store
        .draw_group(&drop.id, section, draw::group_of(&key))
        .await?
    else {
        return Ok(None);
    };
    let sort_key = draw::sort_key(&key, &ticket.id);
    // Pages never change once drawn: an eventually consistent read, unless it is too early.
    for consistent in [false, true] {
        let page = app
            .store
            .order_page_holding(&drop.id, section, &sort_key, consistent)
            .await?;
        let offset = page.and_then(|page| {
            page.entries
                .iter()
                .position(|(id, _)| *id == ticket.id)
                .map(|index| page.offset + index as u64)
        });
        if let (Some(offset), Some(start)) = (offset, group.start) {
            return Ok(Some(start + offset));
        }
    }
    Ok(None)
}

pub async fn view(
    app: &App,
    drop: &DropSpec,
    ticket: &Ticket,
    now: DateTime<Utc>,
) -> Result<TicketView> {
    let settings = drop.queue_settings()?;
    let line = app.store.queue_line(drop).await?;
    let state = &line.state;
    let position = position_of(app, drop, state, ticket).await?;
    let phase = drop.queue_phase(settings, line.counts, now);
    let admission_over = ticket
        .admission_expires_at
        .is_some_and(|expires| expires <= now);
    let status = match ticket.status {
        TicketStatus::Admitted if admission_over => TicketStatus::Expired,
        TicketStatus::Waiting | TicketStatus::Admitted
            if matches!(phase, Phase::SoldOut | Phase::Ended) =>
        {
            TicketStatus::Closed
        }
        status => status,
    };
    let ahead = match (status, position) {
        (TicketStatus::Waiting, Some(position)) => Some(position.saturating_sub(state.serving + 1)),
        (_, Some(_)) => Some(0),
        (_, None) => None,
    };
    let eta_seconds = match (status, ahead, phase) {
        (TicketStatus::Waiting, Some(ahead), Phase::Open) => {
            policy::eta(ahead, &state.samples, now.timestamp_millis())
        }
        _ => None,
    };
    let standing = match status {
        TicketStatus::Waiting if phase == Phase::Prequeue || position.is_none() => {
            Standing::BeforeStart {
                ms_to_start: (drop.draw_at() - now).num_milliseconds().max(1_000),
            }
        }
        TicketStatus::Waiting => Standing::Waiting {
            ahead: ahead.unwrap_or(0),
            eta_p50: eta_seconds.map(|eta| eta.p50),
        },
        TicketStatus::Admitted => Standing::Admitted,
        _ => Standing::Settled,
    };
    let admission = match (status, ticket.admission_expires_at) {
        (TicketStatus::Admitted, Some(expires_at)) => {
            let keys = app
                .config
                .admission
                .as_ref()
                .filter(|keys| keys.can_issue())
                .ok_or(ApiError::QueueUnavailable)?;
            let token = keys
                .issue(&AdmissionClaims {
                    drop: drop.id.clone(),
                    sub: ticket.shopper.clone(),
                    ticket: ticket.id.clone(),
                    position: position.unwrap_or(0),
                    exp: expires_at.timestamp(),
                })
                .ok_or(ApiError::QueueUnavailable)?;
            Some(AdmissionView { token, expires_at })
        }
        _ => None,
    };
    let beyond_stock = status == TicketStatus::Waiting
        && ahead.is_some_and(|ahead| {
            policy::beyond_stock(
                ahead,
                state.outstanding,
                line.counts.available,
                line.counts.held,
            )
        });
    Ok(TicketView {
        id: ticket.id.clone(),
        drop_id: drop.id.clone(),
        status,
        position,
        ahead: if status == TicketStatus::Waiting {
            ahead
        } else {
            None
        },
        eta_seconds,
        admission,
        poll_after_ms: policy::poll_after_ms(standing, rand::rng().random()),
        beyond_stock,
        joined_at: ticket.joined_at,
    })
}
