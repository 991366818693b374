//! Opaque ids: 32 lower-case hex characters, never containing the key separator `#`.

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
