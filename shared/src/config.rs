//! Configuration, from the environment variables named in `template.yaml` and the README.

use std::collections::HashMap;
use std::time::Duration;

use crate::model::admission::{AdmissionKeys, KeyError};
use crate::model::pow::{DEFAULT_BASE_TRIES, PowConfig};
use crate::payments::StripeConfig;

#[derive(Debug, Clone)]
pub struct Config {
    /// `TABLE_NAME`: the single table (default `burst`, the local name).
    pub table_name: String,
    /// `BURST_DEV_JWT_SECRET`: local development only. When set, handlers verify HS256 bearer
    /// tokens themselves; when unset (always in AWS), identity comes from the API Gateway JWT
    /// authorizer. `template.yaml` never sets it.
    pub dev_jwt_secret: Option<String>,
    /// `STRIPE_SECRET_KEY`, `STRIPE_API_BASE`, `CHECKOUT_RETURN_URL`: payments are off (503
    /// `payments_unavailable`) without the key.
    pub stripe: Option<StripeConfig>,
    /// `STRIPE_WEBHOOK_SECRET`: the webhook endpoint's signing secret (`whsec_…`).
    pub stripe_webhook_secret: Option<String>,
    /// `STRIPE_SECRET_ID`: in AWS, the Secrets Manager secret holding `secret_key` and
    /// `webhook_secret`, read at cold start in place of the two variables above.
    pub stripe_secret_id: Option<String>,
    /// Admission token keys: `ADMISSION_PUBLIC_KEY` (hex) everywhere a claim is checked;
    /// `ADMISSION_PRIVATE_KEY` (hex) where tickets are shown (locally from the environment, in
    /// AWS from the secret named by `ADMISSION_SECRET_ID`, field `private_key`).
    pub admission: Option<AdmissionKeys>,
    /// `ADMISSION_SECRET_ID`.
    pub admission_secret_id: Option<String>,
    /// Proof of work: `POW_CHALLENGE_SECRET` and `POW_KEY_SECRET` sign challenges and derived
    /// keys (in AWS the fields `pow_challenge_secret`, `pow_key_secret` of the admission secret);
    /// `POW_BASE_TRIES` is the at-rest difficulty (mean tries, default 1,000: about a second).
    pub pow: Option<PowConfig>,
    /// `ORIGIN_VERIFY_SECRET`: in AWS, the value CloudFront puts in `X-Burst-Origin-Verify` on
    /// every request it forwards. A request carrying it came through CloudFront, so its
    /// `CloudFront-Viewer-Address` is the shopper's address (API Gateway's `sourceIp` is then
    /// CloudFront's edge); without it, that header is a client's claim and is ignored.
    pub origin_verify_secret: Option<String>,
    /// `JWT_ISSUER`, `JWT_AUDIENCE` (comma-separated): where a WebSocket `$connect` token is
    /// verified in AWS (the HTTP API's authorizer checks the same issuer and audiences).
    pub jwt: Option<JwtIssuer>,
    /// `DROP_PUSH_WINDOW_SECONDS`: a drop's watchers get at most one `drop` message per window
    /// (default 30, the capacity plan's); messages about one shopper are never held back.
    pub drop_push_window: Duration,
}

/// The capacity plan's push window (docs/capacity.md § 6 c).
pub const DEFAULT_DROP_PUSH_WINDOW: Duration = Duration::from_secs(30);

/// The identity provider whose tokens a function verifies itself (see `jwks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIssuer {
    /// `https://cognito-idp.<region>.amazonaws.com/<pool id>`, without a trailing slash.
    pub issuer: String,
    /// The app clients a token may be for (an ID token's `aud`, an access token's `client_id`).
    pub audiences: Vec<String>,
}

impl Config {
    /// Refuses keys that cannot work (see `admission_keys`): the function then fails its init.
    pub fn from_env() -> Result<Self, KeyError> {
        Ok(Self {
            table_name: std::env::var("TABLE_NAME").unwrap_or_else(|_| "burst".into()),
            dev_jwt_secret: non_empty("BURST_DEV_JWT_SECRET"),
            stripe: non_empty("STRIPE_SECRET_KEY").map(|secret_key| StripeConfig {
                secret_key,
                api_base: non_empty("STRIPE_API_BASE"),
                return_url: return_url(),
            }),
            stripe_webhook_secret: non_empty("STRIPE_WEBHOOK_SECRET"),
            stripe_secret_id: non_empty("STRIPE_SECRET_ID"),
            admission: admission_keys(
                non_empty("ADMISSION_PRIVATE_KEY").as_deref(),
                non_empty("ADMISSION_PUBLIC_KEY").as_deref(),
            )?,
            admission_secret_id: non_empty("ADMISSION_SECRET_ID"),
            origin_verify_secret: non_empty("ORIGIN_VERIFY_SECRET"),
            pow: pow_config(
                non_empty("POW_CHALLENGE_SECRET"),
                non_empty("POW_KEY_SECRET"),
            ),
            jwt: non_empty("JWT_ISSUER").map(|issuer| JwtIssuer {
                issuer: issuer.trim_end_matches('/').to_string(),
                audiences: non_empty("JWT_AUDIENCE")
                    .map(|list| list.split(',').map(|a| a.trim().to_string()).collect())
                    .unwrap_or_default(),
            }),
            drop_push_window: non_empty("DROP_PUSH_WINDOW_SECONDS")
                .and_then(|seconds| seconds.parse().ok())
                .map_or(DEFAULT_DROP_PUSH_WINDOW, Duration::from_secs),
        })
    }

    /// Takes the Stripe keys from the fields of the Stripe secret (`secret_key`,
    /// `webhook_secret`); the API base and return URL stay as the environment set them.
    pub fn use_stripe_secret(&mut self, fields: &HashMap<String, String>) {
        if let Some(secret_key) = fields.get("secret_key").filter(|key| !key.is_empty()) {
            self.stripe = Some(StripeConfig {
                secret_key: secret_key.clone(),
                api_base: non_empty("STRIPE_API_BASE"),
                return_url: return_url(),
            });
        }
        if let Some(webhook_secret) = fields.get("webhook_secret").filter(|s| !s.is_empty()) {
            self.stripe_webhook_secret = Some(webhook_secret.clone());
        }
    }
}

impl Config {
    /// Takes the admission private key (`private_key`, hex) and the proof-of-work secrets
    /// (`pow_challenge_secret`, `pow_key_secret`) from their secret. The private key must be
    /// the private half of `ADMISSION_PUBLIC_KEY`, which the claim verifies with: one that is
    /// not would sign tokens every claim refuses, so it is an error, not a key.
    pub fn use_admission_secret(
        &mut self,
        fields: &HashMap<String, String>,
    ) -> Result<(), KeyError> {
        if let Some(seed) = fields.get("private_key").filter(|key| !key.is_empty()) {
            self.admission = Some(AdmissionKeys::issuing(
                seed,
                "the admission secret's private_key",
                self.admission.as_ref(),
            )?);
        }
        if let Some(pow) = pow_config(
            fields.get("pow_challenge_secret").cloned(),
            fields.get("pow_key_secret").cloned(),
        ) {
            self.pow = Some(pow);
        }
        Ok(())
    }
}

/// The admission keys from the environment: `ADMISSION_PRIVATE_KEY` issues (and must be the
/// private half of `ADMISSION_PUBLIC_KEY` when both are set), `ADMISSION_PUBLIC_KEY` alone only
/// verifies. A key that does not parse is an error, never a silent `None`.
fn admission_keys(
    private_hex: Option<&str>,
    public_hex: Option<&str>,
) -> Result<Option<AdmissionKeys>, KeyError> {
    let public = public_hex
        .map(|key| {
            AdmissionKeys::from_public_hex(key).ok_or(KeyError::Unreadable("ADMISSION_PUBLIC_KEY"))
        })
        .transpose()?;
    match private_hex {
        Some(seed) => {
            AdmissionKeys::issuing(seed, "ADMISSION_PRIVATE_KEY", public.as_ref()).map(Some)
        }
        None => Ok(public),
    }
}

fn pow_config(challenge_secret: Option<String>, key_secret: Option<String>) -> Option<PowConfig> {
    Some(PowConfig {
        challenge_secret: challenge_secret.filter(|s| !s.is_empty())?,
        key_secret: key_secret.filter(|s| !s.is_empty())?,
        base_tries: non_empty("POW_BASE_TRIES")
            .and_then(|tries| tries.parse().ok())
            .unwrap_or(DEFAULT_BASE_TRIES),
    })
}

fn return_url() -> String {
    non_empty("CHECKOUT_RETURN_URL").unwrap_or_else(|| "http://127.0.0.1:8080".into())
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::admission::new_private_hex;

    fn public_of(private: &str) -> String {
        AdmissionKeys::from_private_hex(private)
            .unwrap()
            .public_hex()
    }

    /// A function's configuration in AWS before its secret is read: it verifies with
    /// `ADMISSION_PUBLIC_KEY` from the environment.
    fn verifying_with(public: &str) -> Config {
        Config {
            table_name: "burst".into(),
            dev_jwt_secret: None,
            stripe: None,
            stripe_webhook_secret: None,
            stripe_secret_id: None,
            admission: admission_keys(None, Some(public)).unwrap(),
            admission_secret_id: Some("burst/admission".into()),
            pow: None,
            origin_verify_secret: None,
            jwt: None,
            drop_push_window: DEFAULT_DROP_PUSH_WINDOW,
        }
    }

    #[test]
    fn an_admission_secret_whose_key_is_not_the_public_keys_private_half_is_refused() {
        let private = new_private_hex();
        let mut config = verifying_with(&public_of(&private));
        let secret = HashMap::from([("private_key".to_string(), private.clone())]);
        config.use_admission_secret(&secret).unwrap();
        assert!(config.admission.as_ref().unwrap().can_issue());

        let mut config = verifying_with(&public_of(&new_private_hex()));
        let error = config.use_admission_secret(&secret).unwrap_err();
        assert!(matches!(error, KeyError::Mismatch { .. }), "{error}");
        assert!(
            !config.admission.as_ref().unwrap().can_issue(),
            "a refused key is not kept"
        );
    }

    #[test]
    fn admission_keys_from_the_environment_must_agree_and_parse() {
        let private = new_private_hex();
        let public = public_of(&private);
        let issuing = admission_keys(Some(&private), Some(&public))
            .unwrap()
            .unwrap();
        assert!(issuing.can_issue());
        let verifying = admission_keys(None, Some(&public)).unwrap().unwrap();
        assert!(!verifying.can_issue());
        assert!(admission_keys(Some(&private), None).unwrap().is_some());
        assert!(admission_keys(None, None).unwrap().is_none());
        let other_public = public_of(&new_private_hex());
        assert!(matches!(
            admission_keys(Some(&private), Some(&other_public)),
            Err(KeyError::Mismatch { .. })
        ));
        assert_eq!(
            admission_keys(Some("nope"), None).unwrap_err(),
            KeyError::Unreadable("ADMISSION_PRIVATE_KEY")
        );
        assert_eq!(
            admission_keys(None, Some("nope")).unwrap_err(),
            KeyError::Unreadable("ADMISSION_PUBLIC_KEY")
        );
    }
}
