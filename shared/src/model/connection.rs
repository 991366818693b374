//! A WebSocket connection: who opened it (if signed in) and the drops it watches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Connection {
    pub connection_id: String,
    /// The signed-in shopper, for personal events; `None` for public watchers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shopper: Option<String>,
    pub connected_at: DateTime<Utc>,
    #[serde(default)]
    pub drops: Vec<String>,
}
