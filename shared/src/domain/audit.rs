//! The ledger check: every unit of a drop is available, held, overdue or sold — exactly once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::app::App;
use crate::error::{ApiError, Result};
use crate::model::order::OrderStatus;
use crate::model::reservation::ReservationStatus;

#[derive(Debug, Serialize)]
pub struct Audit {
    pub drop_id: String,
    pub total_units: u32,
    pub available: i64,
    /// Units of holds still inside their window.
    pub held: i64,
    /// Units of holds past `expires_at` that no release has returned yet.
    pub expired_pending: i64,
    /// Units held for a delayed payment Stripe has not settled yet (included in `held`).
    pub payment_pending: i64,
    /// Units sold: every order that sold units, whatever happened to its money later.
    pub sold: i64,
    /// Sold orders whose money was refunded at Stripe afterwards (their units stay sold).
    pub refunded_after_sale: u32,
    /// Sold orders under dispute.
    pub disputed: u32,
    pub consistent: bool,
    pub problems: Vec<String>,
    pub shards: Vec<ShardAudit>,
    pub checked_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct ShardAudit {
    pub shard: u32,
    pub units: u32,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    /// Units the held reservations say they took from this shard.
    pub held_by_reservations: i64,
    /// Units the paid orders say they took from this shard.
    pub sold_by_orders: i64,
}

/// `GET /admin/drops/{drop_id}/audit`: reads the shards (strongly consistent), every held
/// reservation and every paid order, and cross-checks the counters against them.
pub async fn audit(app: &App, drop_id: &str, now: DateTime<Utc>) -> Result<Audit> {
    let drop = app
        .store
        .drop(drop_id)
        .await?
        .ok_or(ApiError::NotFound("drop"))?;
    let shards = app.store.shards(&drop, true).await?;

    let mut held = 0;
    let mut expired_pending = 0;
    let mut payment_pending = 0;
    let mut sold = 0;
    let mut refunded_after_sale = 0;
    let mut disputed = 0;
    let mut held_per_shard: HashMap<u32, i64> = HashMap::new();
    let mut sold_per_shard: HashMap<u32, i64> = HashMap::new();
    for shard in 0..drop.shard_count {
        let holds = app.store.all_holds(&drop.id, shard).await?;
        let pending = app.store.pending_payments(&drop.id, shard).await?;
        for hold in holds.iter().chain(&pending) {
            if !hold.status.holds_units() {
                continue;
            }
            let units = i64::from(hold.quantity);
            if hold.is_overdue(now) {
                expired_pending += units;
            } else {
                held += units;
            }
            if hold.status == ReservationStatus::PaymentPending {
                payment_pending += units;
            }
            for allocation in &hold.allocations {
                *held_per_shard.entry(allocation.shard).or_default() += i64::from(allocation.units);
            }
        }
        for order in app.store.sold_orders(&drop.id, shard).await? {
            match order.status {
                OrderStatus::Refunded => refunded_after_sale += 1,
                OrderStatus::Disputed => disputed += 1,
                _ => {}
            }
            sold += i64::from(order.quantity);
            for allocation in &order.allocations {
                *sold_per_shard.entry(allocation.shard).or_default() += i64::from(allocation.units);
            }
        }
    }

    let mut problems = Vec::new();
    if shards.len() != drop.shard_count as usize {
        problems.push(format!(
            "expected {} shards, found {}",
            drop.shard_count,
            shards.len()
        ));
    }
    let shard_audits: Vec<ShardAudit> = shards
        .iter()
        .map(|shard| {
            let held_by_reservations = held_per_shard.get(&shard.shard).copied().unwrap_or(0);
            let sold_by_orders = sold_per_shard.get(&shard.shard).copied().unwrap_or(0);
            if shard.available < 0 || shard.held < 0 || shard.sold < 0 {
                problems.push(format!("shard {} has a negative counter", shard.shard));
            }
            if shard.available + shard.held + shard.sold != i64::from(shard.units) {
                problems.push(format!(
                    "shard {} counters do not add up to its {} units",
                    shard.shard, shard.units
                ));
            }
            if shard.held != held_by_reservations {
                problems.push(format!(
                    "shard {} counts {} held, its reservations {}",
                    shard.shard, shard.held, held_by_reservations
                ));
            }
            if shard.sold != sold_by_orders {
                problems.push(format!(
                    "shard {} counts {} sold, its paid orders {}",
                    shard.shard, shard.sold, sold_by_orders
                ));
            }
            ShardAudit {
                shard: shard.shard,
                units: shard.units,
                available: shard.available,
                held: shard.held,
                sold: shard.sold,
                held_by_reservations,
                sold_by_orders,
            }
        })
        .collect();
    let available: i64 = shards.iter().map(|shard| shard.available).sum();
    if available + held + expired_pending + sold != i64::from(drop.total_units) {
        problems.push(format!(
            "available {available} + held {held} + expired_pending {expired_pending} + sold {sold} != total {}",
            drop.total_units
        ));
    }
    if !problems.is_empty() {
        tracing::error!(drop_id = %drop.id, ?problems, "audit found an inconsistent ledger");
    }
    Ok(Audit {
        drop_id: drop.id.clone(),
        total_units: drop.total_units,
        available,
        held,
        expired_pending,
        payment_pending,
        sold,
        refunded_after_sale,
        disputed,
        consistent: problems.is_empty(),
        problems,
        shards: shard_audits,
        checked_at: now,
    })
}
