//! The use cases: what Burst does, independent of HTTP. Each route's handler calls one function
//! here; the scheduled functions (the sweeper, the queue's controller) and the fan-out run theirs.

pub mod audit;
pub mod body;
pub mod checkout;
pub mod claims;
pub mod drops;
pub mod holds;
pub mod limits;
pub mod live;
pub mod orders;
pub mod queue;
pub mod reservations;
pub mod retry;
pub mod sweeper;
pub mod webhooks;
