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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stable_hash_is_fnv_1a_and_spreads_ids() {
        // FNV-1a's published test vectors: the hash must not change between builds.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        let mut buckets = [0u32; 16];
        for _ in 0..1_600 {
            buckets[(stable_hash(&new_id()) % 16) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (50..=150).contains(&n)),
            "{buckets:?}"
        );
    }
}
