//! Holds with a Checkout Session, as the payment tests need them.

use burst::domain::holds::return_units;
use burst::model::reservation::ReservationStatus;
use burst::store::ledger::ReleaseGuard;
use chrono::Utc;
use serde_json::Value;

use crate::{Caller, TestEnv, drop_body};

/// The unit price of `drop_body`'s drops.
pub const PRICE: i64 = 12500;

pub struct Hold {
    pub drop_id: String,
    pub reservation_id: String,
    pub session_id: String,
}

/// A live drop, `shopper`'s hold on it and the hold's Checkout Session.
pub async fn hold_with_checkout(
    env: &TestEnv,
    shopper: &str,
    overrides: Value,
    units: u32,
) -> Hold {
    let drop = env.create_drop(drop_body(units, overrides)).await;
    let drop_id = drop["id"].as_str().unwrap().to_string();
    hold_on(env, shopper, &drop_id).await
}

/// `shopper`'s hold on `drop_id` and its Checkout Session.
pub async fn hold_on(env: &TestEnv, shopper: &str, drop_id: &str) -> Hold {
    let reservation_id = env.hold(shopper, drop_id).await;
    let checkout = env
        .checkout(Caller::Shopper(shopper), &reservation_id)
        .await;
    assert_eq!(checkout.status, 201, "{:?}", checkout.body);
    Hold {
        drop_id: drop_id.to_string(),
        reservation_id,
        session_id: checkout.body["session_id"].as_str().unwrap().to_string(),
    }
}

/// The reservation's status as its owner reads it.
pub async fn reservation_status(env: &TestEnv, shopper: &str, id: &str) -> String {
    let reply = env.get_reservation(Caller::Shopper(shopper), id).await;
    reply.body["reservation"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The order's status as its owner reads it (empty when there is none).
pub async fn order_status(env: &TestEnv, shopper: &str, id: &str) -> String {
    let reply = env.get_order(Caller::Shopper(shopper), id).await;
    reply.body["order"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Ends the hold the way a lost race with the sweeper would, without asking Stripe: the next
/// payment for it is a late one.
pub async fn lapse(env: &TestEnv, hold: &Hold) {
    let reservation = env
        .app
        .store
        .reservation(&hold.reservation_id)
        .await
        .unwrap()
        .unwrap();
    let returned = return_units(
        &env.app,
        &reservation,
        ReservationStatus::Held,
        ReservationStatus::Expired,
        ReleaseGuard::Anytime,
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(returned);
}
