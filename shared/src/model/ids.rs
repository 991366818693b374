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

/// A hash of `text` that is the same in every process and build (FNV-1a, 64 bits): for spreading
/// items over stripes, never for security.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
