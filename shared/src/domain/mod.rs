//! The domain: what Burst does, independent of HTTP. Each route's handler calls one function here.

pub mod audit;
pub mod checkout;
pub mod claims;
pub mod currency;
pub mod drops;
pub mod orders;
pub mod pow;
pub mod queue;
pub mod reservations;
pub mod retry;
pub mod sweeper;
pub mod webhooks;

pub mod limits;
pub mod live;

pub mod ids {
    /// Opaque ids: 32 lower-case hex characters, never containing the key separator `#`.
    pub fn new_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Ids arrive in URL paths; anything that is not one of ours cannot exist, so it is a 404
    /// before it ever reaches a key.
    pub fn is_valid(id: &str) -> bool {
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }
}
