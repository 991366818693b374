//! Admission tokens: proof that the queue admitted this shopper's ticket for this drop, until a
//! given time, checked by the claim without reading the table.
//!
//! A token is `base64url(claims JSON) "." base64url(Ed25519 signature)`. Ed25519 rather than an
//! HMAC: only the functions that issue tokens hold the private key (from Secrets Manager in AWS);
//! the claim function verifies with the public key alone, from its environment, so it needs no
//! secret and no Secrets Manager call on a cold start. The token names the drop, the shopper
//! (`sub`), the ticket and its expiry; single use is enforced by the claim's transaction, which
//! moves the ticket from `admitted` to `claimed` under a condition.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// What an admission token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionClaims {
    pub drop: String,
    pub sub: String,
    pub ticket: String,
    pub position: u64,
    /// Unix seconds.
    pub exp: i64,
}

/// Why a token was refused (all answered `403 admission_invalid`; the reason is logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not verify")]
    Forged,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued for another drop")]
    OtherDrop,
    #[error("the token was issued to another shopper")]
    OtherShopper,
}

/// Why this deployment's admission keys cannot be used: a function that would issue with them
/// refuses to start rather than issue tokens no claim accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0} is not a 32-byte Ed25519 key in hex")]
    Unreadable(&'static str),
    #[error(
        "{read_from} is the private key of public key {derived}, not of ADMISSION_PUBLIC_KEY \
         {configured}: the claim would refuse every admission token it signs"
    )]
    Mismatch {
        read_from: &'static str,
        derived: String,
        configured: String,
    },
}

/// The keys of this deployment: the public key always; the private key where tokens are issued.
#[derive(Clone)]
pub struct AdmissionKeys {
    signing: Option<SigningKey>,
    verifying: VerifyingKey,
}

impl std::fmt::Debug for AdmissionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdmissionKeys")
            .field("signing", &self.signing.is_some())
            .field("verifying", &hex::encode(self.verifying.as_bytes()))
            .finish()
    }
}

impl AdmissionKeys {
    /// From a private key (32-byte seed, hex): can issue and verify.
    pub fn from_private_hex(seed_hex: &str) -> Option<Self> {
        let seed: [u8; 32] = hex::decode(seed_hex.trim()).ok()?.try_into().ok()?;
        let signing = SigningKey::from_bytes(&seed);
        Some(Self {
            verifying: signing.verifying_key(),
            signing: Some(signing),
        })
    }

    /// The keys of a function that issues tokens: the private key `seed_hex` (read from
    /// `source`), which must be the private half of the public key claims are verified with
    /// (`verified_with`), when one is configured.
    pub fn issuing(
        seed_hex: &str,
        source: &'static str,
        verified_with: Option<&AdmissionKeys>,
    ) -> Result<Self, KeyError> {
        let keys = Self::from_private_hex(seed_hex).ok_or(KeyError::Unreadable(source))?;
        match verified_with {
            Some(configured) if configured.verifying != keys.verifying => Err(KeyError::Mismatch {
                read_from: source,
                derived: keys.public_hex(),
                configured: configured.public_hex(),
            }),
            _ => Ok(keys),
        }
    }

    /// From a public key (hex): can verify only.
    pub fn from_public_hex(public_hex: &str) -> Option<Self> {
        let bytes: [u8; 32] = hex::decode(public_hex.trim()).ok()?.try_into().ok()?;
        Some(Self {
            signing: None,
            verifying: VerifyingKey::from_bytes(&bytes).ok()?,
        })
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.verifying.as_bytes())
    }

    pub fn can_issue(&self) -> bool {
        self.signing.is_some()
    }

    /// A signed token for `claims`; `None` where this function holds no private key.
    pub fn issue(&self, claims: &AdmissionClaims) -> Option<String> {
        let signing = self.signing.as_ref()?;
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let signature = signing.sign(payload.as_bytes());
        Some(format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }

    /// The token's claims, if it was issued by this deployment for `drop_id` and `subject` and
    /// has not expired at `now`.
    pub fn verify(
        &self,
        token: &str,
        drop_id: &str,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<AdmissionClaims, TokenError> {
        let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(TokenError::Malformed)?;
        self.verifying
            .verify(payload.as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| TokenError::Forged)?;
        let claims: AdmissionClaims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        if claims.drop != drop_id {
            return Err(TokenError::OtherDrop);
        }
        if claims.sub != subject {
            return Err(TokenError::OtherShopper);
        }
        Ok(claims)
    }
}

/// A new private key (hex), for `burst-dev admission-key` and tests.
pub fn new_private_hex() -> String {
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    hex::encode(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_drop_shopper_and_time() {
        let keys = AdmissionKeys::from_private_hex(&new_private_hex()).unwrap();
        let now = Utc::now();
        let claims = AdmissionClaims {
            drop: "d1".into(),
            sub: "ann".into(),
            ticket: "t1".into(),
            position: 7,
            exp: now.timestamp() + 120,
        };
        let token = keys.issue(&claims).unwrap();
        assert_eq!(keys.verify(&token, "d1", "ann", now), Ok(claims.clone()));
        assert_eq!(
            keys.verify(&token, "d2", "ann", now),
            Err(TokenError::OtherDrop)
        );
        assert_eq!(
            keys.verify(&token, "d1", "bob", now),
            Err(TokenError::OtherShopper)
        );
        let later = now + chrono::Duration::seconds(121);
        assert_eq!(
            keys.verify(&token, "d1", "ann", later),
            Err(TokenError::Expired)
        );
        // Verifying needs only the public key; a token from other keys, or edited, is forged.
        let verifier = AdmissionKeys::from_public_hex(&keys.public_hex()).unwrap();
        assert!(!verifier.can_issue());
        assert!(verifier.verify(&token, "d1", "ann", now).is_ok());
        let other = AdmissionKeys::from_private_hex(&new_private_hex()).unwrap();
        let forged = other.issue(&claims).unwrap();
        assert_eq!(
            keys.verify(&forged, "d1", "ann", now),
            Err(TokenError::Forged)
        );
        let (payload, signature) = token.split_once('.').unwrap();
        let edited = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap())
                .unwrap()
                .replace("ann", "eve"),
        );
        assert_eq!(
            keys.verify(&format!("{edited}.{signature}"), "d1", "eve", now),
            Err(TokenError::Forged)
        );
        assert_eq!(
            keys.verify("garbage", "d1", "ann", now),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn an_issuing_key_must_be_the_private_half_of_the_configured_public_key() {
        let private = new_private_hex();
        let public = AdmissionKeys::from_private_hex(&private)
            .unwrap()
            .public_hex();
        let configured = AdmissionKeys::from_public_hex(&public).unwrap();
        let keys = AdmissionKeys::issuing(&private, "test key", Some(&configured)).unwrap();
        assert!(keys.can_issue());
        assert_eq!(keys.public_hex(), public);
        // Without a configured public key (a local run) the private key stands alone.
        assert!(AdmissionKeys::issuing(&private, "test key", None).is_ok());

        let other = new_private_hex();
        let other_public = AdmissionKeys::from_private_hex(&other)
            .unwrap()
            .public_hex();
        assert_eq!(
            AdmissionKeys::issuing(&other, "test key", Some(&configured)).unwrap_err(),
            KeyError::Mismatch {
                read_from: "test key",
                derived: other_public,
                configured: public,
            }
        );
        assert_eq!(
            AdmissionKeys::issuing("not hex", "test key", None).unwrap_err(),
            KeyError::Unreadable("test key")
        );
    }
}
