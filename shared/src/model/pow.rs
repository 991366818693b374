//! Proof of work to join a queue: ALTCHA protocol v2 (PBKDF2/SHA-256), the official `altcha`
//! crate on the server and the official widget in the storefront.
//!
//! Challenges are deterministic: the server picks the counter the client must reach, so the
//! work is exactly `counter + 1` key derivations (no lucky bots), and a solution is verified by
//! two HMACs (the `keySignature` path), never by running the KDF — about 10 µs a request. The
//! signed `data` binds the challenge to the drop and the shopper; it expires in 5 minutes; and a
//! challenge is spent once (its nonce is written with a conditional put, TTL'd after expiry).
//!
//! Difficulty follows the drop's join rate over the last minute, on a bounded schedule: the
//! counter is drawn uniformly from `0..=2×mean` (a solver that knows the range still pays on
//! average `mean` tries), with `mean` = `base` at rest (≈1 s in a browser at cost 5,000), 2× from
//! 1,000 joins a minute, 3× from 10,000 and 5× from 50,000 (a few seconds under attack).

use std::collections::BTreeMap;

use altcha::{
    Challenge, CreateChallengeOptions, Payload, VerifySolutionOptions, create_challenge,
    verify_solution,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::json;

/// PBKDF2 iterations per try: about 1 ms in a browser's WebCrypto, 0.5 ms natively.
pub const COST: u32 = 5_000;
pub const CHALLENGE_SECONDS: i64 = 300;
/// The at-rest mean number of tries: about a second of a browser's work.
pub const DEFAULT_BASE_TRIES: u32 = 1_000;

/// The secrets that sign challenges and derived keys, and the at-rest difficulty.
#[derive(Clone)]
pub struct PowConfig {
    pub challenge_secret: String,
    pub key_secret: String,
    pub base_tries: u32,
}

impl std::fmt::Debug for PowConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PowConfig")
            .field("base_tries", &self.base_tries)
            .finish_non_exhaustive()
    }
}

/// Why a join's proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    /// Undecodable, tampered, expired, a wrong solution, or another drop's or shopper's.
    Invalid,
}

/// A verified solution: the challenge's nonce (to spend it once) and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub nonce: String,
    pub expires_at: i64,
}

/// The mean tries for a drop that saw `joins_last_minute` joins.
pub fn mean_tries(base: u32, joins_last_minute: u64) -> u32 {
    let factor = match joins_last_minute {
        0..1_000 => 1,
        1_000..10_000 => 2,
        10_000..50_000 => 3,
        _ => 5,
    };
    base.saturating_mul(factor)
}

/// A challenge for `subject` to join `drop_id`.
pub fn challenge(
    config: &PowConfig,
    drop_id: &str,
    subject: &str,
    joins_last_minute: u64,
    now: DateTime<Utc>,
) -> Result<Challenge, String> {
    let mean = mean_tries(config.base_tries, joins_last_minute);
    let counter = rand::rng().random_range(0..=mean.saturating_mul(2));
    create_challenge(CreateChallengeOptions {
        algorithm: "PBKDF2/SHA-256".into(),
        cost: COST,
        counter: Some(counter),
        expires_at: Some(now.timestamp() + CHALLENGE_SECONDS),
        data: Some(BTreeMap::from([
            ("drop".to_string(), json!(drop_id)),
            ("sub".to_string(), json!(subject)),
        ])),
        hmac_signature_secret: Some(config.challenge_secret.clone()),
        hmac_key_signature_secret: Some(config.key_secret.clone()),
        ..Default::default()
    })
    .map_err(|err| err.to_string())
}

/// Checks the widget's payload (base64 of `{"challenge", "solution"}`): signed by us, not
/// expired, solved, and issued for this drop and this shopper.
pub fn verify(
    config: &PowConfig,
    payload: Option<&str>,
    drop_id: &str,
    subject: &str,
) -> Result<Verified, Refusal> {
    let payload = payload.ok_or(Refusal::Missing)?;
    let bytes = STANDARD
        .decode(payload.trim())
        .map_err(|_| Refusal::Invalid)?;
    let payload: Payload = serde_json::from_slice(&bytes).map_err(|_| Refusal::Invalid)?;
    let result = verify_solution(VerifySolutionOptions {
        hmac_key_signature_secret: Some(config.key_secret.clone()),
        ..VerifySolutionOptions::new(
            &payload.challenge,
            &payload.solution,
            &config.challenge_secret,
        )
    })
    .map_err(|_| Refusal::Invalid)?;
    let parameters = &payload.challenge.parameters;
    let data = parameters.data.clone().unwrap_or_default();
    let bound =
        data.get("drop") == Some(&json!(drop_id)) && data.get("sub") == Some(&json!(subject));
    if !result.verified || !bound || parameters.key_signature.is_none() {
        return Err(Refusal::Invalid);
    }
    Ok(Verified {
        nonce: parameters.nonce.clone(),
        expires_at: parameters.expires_at.unwrap_or_default(),
    })
}

/// Solves a challenge as a client does (the benchmark's humans and bots, and tests).
pub fn solve(challenge: &Challenge) -> Option<String> {
    let solution =
        altcha::solve_challenge(altcha::SolveChallengeOptions::new(challenge)).ok()??;
    let payload = Payload {
        challenge: challenge.clone(),
        solution,
    };
    Some(STANDARD.encode(serde_json::to_vec(&payload).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PowConfig {
        PowConfig {
            challenge_secret: "challenge-secret".into(),
            key_secret: "key-secret".into(),
            base_tries: 20,
        }
    }

    #[test]
    fn a_solved_challenge_verifies_for_its_drop_and_shopper_only() {
        let config = config();
        let now = Utc::now();
        let challenge = challenge(&config, "drop-1", "ann", 0, now).unwrap();
        let payload = solve(&challenge).unwrap();
        let verified = verify(&config, Some(&payload), "drop-1", "ann").unwrap();
        assert_eq!(verified.nonce, challenge.parameters.nonce);
        assert_eq!(
            verify(&config, Some(&payload), "drop-2", "ann"),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            verify(&config, Some(&payload), "drop-1", "bob"),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            verify(&config, None, "drop-1", "ann"),
            Err(Refusal::Missing)
        );
        assert_eq!(
            verify(&config, Some("%%%"), "drop-1", "ann"),
            Err(Refusal::Invalid)
        );
        let other = PowConfig {
            challenge_secret: "other".into(),
            ..config.clone()
        };
        assert_eq!(
            verify(&other, Some(&payload), "drop-1", "ann"),
            Err(Refusal::Invalid)
        );
    }

    #[test]
    fn difficulty_rises_with_the_join_rate_and_stays_bounded() {
        assert_eq!(mean_tries(1_000, 0), 1_000);
        assert_eq!(mean_tries(1_000, 5_000), 2_000);
        assert_eq!(mean_tries(1_000, 20_000), 3_000);
        assert_eq!(mean_tries(1_000, u64::MAX), 5_000);
    }
}
