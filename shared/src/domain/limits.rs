//! Velocity limits on queued drops: how often one shopper, and one source IP, may ask for a
//! challenge, join or claim, per drop, per minute. Counters are conditional `ADD`s on an item per
//! (drop, kind, who, minute), TTL'd after the minute: an over-limit request writes nothing and
//! gets `429 rate_limited` with `Retry-After` (the seconds left in the minute).
//!
//! An address is counted by its network (`requester::limited_network`: IPv6 by its /64).
//!
//! Per shopper the limits are strict (a person needs a handful); per IP they are generous, since
//! a campus or mobile-carrier NAT puts many shoppers behind one address: at least 300 joins a
//! minute per drop by default, `queue.ip_joins_per_minute` per drop. A drop without a queue has
//! no gate (its operator chose none). These limits are the inner layer: API Gateway's route
//! throttling and an optional WAF rate rule (template.yaml) stand in front of them.

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::error::{ApiError, Result};
use crate::model::queue::QueueSettings;
use crate::model::requester::limited_network;
use crate::store::keys;

/// What is being asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Challenge,
    Join,
    Claim,
}

impl Gate {
    fn name(self) -> &'static str {
        match self {
            Self::Challenge => "challenge",
            Self::Join => "join",
            Self::Claim => "claim",
        }
    }

    /// `(per shopper, per IP)` requests a minute.
    pub fn per_minute(self, settings: &QueueSettings) -> (u32, u32) {
        let per_ip = settings.ip_joins_per_minute;
        match self {
            Self::Challenge => (6, per_ip.saturating_mul(2)),
            Self::Join => (10, per_ip),
            Self::Claim => (10, per_ip),
        }
    }
}

/// Lets the request through, or refuses it with `429 rate_limited`.
pub async fn check(
    app: &App,
    drop_id: &str,
    settings: &QueueSettings,
    gate: Gate,
    shopper: &str,
    source_ip: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let minute = now.timestamp().div_euclid(60);
    let expires_at = (minute + 2) * 60;
    let (per_shopper, per_ip) = gate.per_minute(settings);
    let who = [
        (format!("S:{shopper}"), per_shopper),
        (format!("IP:{}", limited_network(source_ip)), per_ip),
    ];
    for (who, limit) in who {
        let key = keys::rate_key(drop_id, gate.name(), &who, minute);
        if !app.store.count_in_window(key, limit, expires_at).await? {
            return Err(ApiError::RateLimited {
                retry_after_seconds: (60 - now.timestamp().rem_euclid(60)) as u64,
            });
        }
    }
    Ok(())
}
