//! The fair start, as pure functions anyone can re-run.
//!
//! A queued drop gets a seed of 32 random bytes when it is created; its commitment, the
//! lowercase hex SHA-256 of the seed's bytes, is published from the moment the queue opens and
//! can never change (the seed is written once, with the drop). At `starts_at` the cohort — every
//! ticket that joined before — is ordered by the lowercase hex HMAC-SHA256 of the ticket id
//! (UTF-8) keyed with the seed's bytes, ascending, and the seed is revealed. Anyone holding the
//! published seed and cohort can check the commitment and recompute every position; a shopper
//! finds their own ticket id in it.
//!
//! At a million members the order is never sorted in one place: a member is stored at its join
//! under its draw key, in one of `GROUPS` groups named by the key's first two hex characters,
//! where DynamoDB keeps it sorted. Groups concatenated in name order are the whole order; the
//! draw reads them a few at a time and publishes each as one proof page.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh seed: 32 random bytes from the OS generator, as lowercase hex.
pub fn new_seed() -> String {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    hex::encode(seed)
}

/// The published commitment to a seed: lowercase hex SHA-256 of the seed's bytes.
pub fn commitment(seed_hex: &str) -> String {
    let bytes = hex::decode(seed_hex).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// A ticket's draw key: lowercase hex HMAC-SHA256(key = seed bytes, message = ticket id).
pub fn draw_key(seed_hex: &str, ticket_id: &str) -> String {
    let seed = hex::decode(seed_hex).unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(&seed).expect("HMAC accepts any key length");
    mac.update(ticket_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Groups of a section (one partition of members, one of order pages and one proof page each):
/// the draw key's first two hex characters. At a million members a group holds about 4,000.
pub const GROUPS: u16 = 256;

/// The group a draw key (or a sort key, which starts with it) falls in.
pub fn group_of(draw_key: &str) -> u8 {
    u8::from_str_radix(draw_key.get(..2).unwrap_or("00"), 16).unwrap_or(0)
}

/// Where a member sorts within its bucket: by draw key, ties (impossible in practice) by id.
pub fn sort_key(draw_key: &str, ticket_id: &str) -> String {
    format!("{draw_key}#{ticket_id}")
}

/// A proof page's body: its ticket ids in position order, one per line, each ended by `\n`.
pub fn page_body<'a>(ticket_ids: impl IntoIterator<Item = &'a str>) -> String {
    ticket_ids.into_iter().fold(String::new(), |mut body, id| {
        body.push_str(id);
        body.push('\n');
        body
    })
}

/// Lowercase hex SHA-256 of a proof page's body (its ETag, and its line in the manifest).
pub fn page_sha256(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// The cohort in position order (ties, impossible in practice, fall back to the ticket id).
pub fn order<T>(seed_hex: &str, tickets: Vec<T>, id: impl Fn(&T) -> &str) -> Vec<T> {
    let mut keyed: Vec<(String, T)> = tickets
        .into_iter()
        .map(|ticket| (draw_key(seed_hex, id(&ticket)), ticket))
        .collect();
    keyed.sort_by(|(a_key, a), (b_key, b)| a_key.cmp(b_key).then_with(|| id(a).cmp(id(b))));
    keyed.into_iter().map(|(_, ticket)| ticket).collect()
}

/// Checks a published proof: the seed matches the commitment and the cohort is in draw order.
pub fn verify(seed_hex: &str, commitment_hex: &str, cohort: &[String]) -> bool {
    commitment(seed_hex) == commitment_hex
        && cohort
            .windows(2)
            .all(|pair| draw_key(seed_hex, &pair[0]) < draw_key(seed_hex, &pair[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commitment_and_keys_are_the_documented_functions() {
        // Known answers: SHA-256 of 32 zero bytes, and HMAC-SHA256 of "t" keyed with them.
        let seed = "00".repeat(32);
        assert_eq!(
            commitment(&seed),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        assert_eq!(draw_key(&seed, "t").len(), 64);
        assert_eq!(draw_key(&seed, "t"), draw_key(&seed, "t"));
        assert_ne!(draw_key(&seed, "t"), draw_key(&new_seed(), "t"));
    }

    #[test]
    fn groups_follow_the_draw_key_so_their_concatenation_is_the_order() {
        let seed = new_seed();
        let tickets: Vec<String> = (0..5_000).map(|i| format!("{i:032x}")).collect();
        let ordered = order(&seed, tickets, |t| t.as_str());
        let groups: Vec<u8> = ordered
            .iter()
            .map(|t| group_of(&draw_key(&seed, t)))
            .collect();
        assert!(groups.windows(2).all(|pair| pair[0] <= pair[1]));
        for ticket in &ordered {
            let key = draw_key(&seed, ticket);
            assert_eq!(format!("{:02x}", group_of(&key)), key[..2]);
        }
        // Sort keys order as the draw does.
        let sorted: Vec<String> = ordered
            .iter()
            .map(|t| sort_key(&draw_key(&seed, t), t))
            .collect();
        assert!(sorted.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn a_page_body_is_one_id_per_line_and_its_digest_is_sha256() {
        assert_eq!(page_body(["a", "b"]), "a\nb\n");
        assert_eq!(
            page_sha256(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_drawn_order_verifies_and_any_swap_or_other_seed_does_not() {
        let seed = new_seed();
        let tickets: Vec<String> = (0..200).map(|i| format!("ticket-{i:03}")).collect();
        let ordered = order(&seed, tickets.clone(), |t| t.as_str());
        assert!(verify(&seed, &commitment(&seed), &ordered));
        let mut swapped = ordered.clone();
        swapped.swap(10, 11);
        assert!(!verify(&seed, &commitment(&seed), &swapped));
        assert!(!verify(&new_seed(), &commitment(&seed), &ordered));
        // The order of joining does not matter.
        let mut reversed = tickets;
        reversed.reverse();
        assert_eq!(order(&seed, reversed, |t| t.as_str()), ordered);
    }
}
