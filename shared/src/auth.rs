//! Who is calling. Never taken from a client-chosen header: in AWS the HTTP API's JWT authorizer
//! has already validated the token and hands over its claims in the request context; locally,
//! with `BURST_DEV_JWT_SECRET` set, the handler verifies HS256 tokens it signed itself.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::config::Config;
use crate::error::{ApiError, Result};
use crate::http::{FromRequest, source_ip};
use crate::model::requester::Requester;

pub const ADMIN_GROUP: &str = "admin";
const GROUPS_CLAIM: &str = "cognito:groups";
const DEV_ISSUER: &str = "burst-local";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub`: the shopper's stable id.
    pub subject: String,
    /// The token's `cognito:groups`: `admin`, and the groups early access is granted to.
    pub groups: Vec<String>,
}

impl Identity {
    pub fn new(subject: String, groups: Vec<String>) -> Self {
        Self { subject, groups }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|member_of| member_of == group)
    }

    pub fn require_admin(&self) -> Result<()> {
        if self.in_group(ADMIN_GROUP) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// A signed-in shopper: a route that takes one answers `401` to anybody else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shopper {
    /// The token's `sub`.
    pub subject: String,
    /// The token's `cognito:groups` (early access).
    pub groups: Vec<String>,
    /// Where the request came from (`http::source_ip`), for the per-address limits.
    pub source_ip: String,
}

impl Shopper {
    /// The shopper as the use cases that limit and count requests take them.
    pub fn requester(&self) -> Requester<'_> {
        Requester {
            shopper: &self.subject,
            groups: &self.groups,
            source_ip: &self.source_ip,
        }
    }
}

impl FromRequest for Shopper {
    fn from_request(request: &Request, config: &Config) -> Result<Self> {
        let identity = identify(request, config)?;
        Ok(Self {
            subject: identity.subject,
            groups: identity.groups,
            source_ip: source_ip(request, config),
        })
    }
}

/// A signed-in member of the admin group: a route that takes one answers `401` to anybody
/// unauthenticated and `403` to any other shopper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// The admin's `sub`, recorded as the actor of what they change.
    pub subject: String,
}

impl FromRequest for Admin {
    fn from_request(request: &Request, config: &Config) -> Result<Self> {
        let identity = identify(request, config)?;
        identity.require_admin()?;
        Ok(Self {
            subject: identity.subject,
        })
    }
}

/// The authorizer's claims when API Gateway supplied them; otherwise, only where the local dev
/// secret is configured, a bearer token signed with it.
pub fn identify(request: &Request, config: &Config) -> Result<Identity> {
    let identity = match authorizer_identity(request) {
        Some(identity) => identity,
        None => match &config.dev_jwt_secret {
            Some(secret) => dev_identity(request, secret, chrono::Utc::now().timestamp())?,
            None => return Err(ApiError::Unauthenticated),
        },
    };
    // The subject becomes part of table keys: a shape no identity provider issues (Cognito's is
    // a UUID) is refused rather than allowed near a key's size limit.
    if !is_plausible_subject(&identity.subject) {
        return Err(ApiError::Unauthenticated);
    }
    Ok(identity)
}

const MAX_SUBJECT_LENGTH: usize = 128;

fn is_plausible_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject.len() <= MAX_SUBJECT_LENGTH
        && !subject.chars().any(char::is_control)
}

/// A bearer token presented where no API Gateway authorizer checked it (a WebSocket `$connect`):
/// locally a dev token, in AWS one of the identity provider's (`JWT_ISSUER`, `JWT_AUDIENCE`).
pub async fn identify_token(token: &str, config: &Config) -> Result<Identity> {
    if let Some(secret) = &config.dev_jwt_secret {
        return dev_claims_identity(token, secret, chrono::Utc::now().timestamp());
    }
    #[cfg(feature = "jwks")]
    if let Some(issuer) = &config.jwt {
        let verified = crate::jwks::verify(token, issuer).await?;
        return is_plausible_subject(&verified.subject)
            .then(|| Identity::new(verified.subject, verified.groups))
            .ok_or(ApiError::Unauthenticated);
    }
    Err(ApiError::Unauthenticated)
}

fn authorizer_identity(request: &Request) -> Option<Identity> {
    let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
        return None;
    };
    let claims = &context.authorizer.as_ref()?.jwt.as_ref()?.claims;
    let subject = claims.get("sub").filter(|sub| !sub.is_empty())?;
    let groups = claims
        .get(GROUPS_CLAIM)
        .map(|groups| authorizer_groups(groups).map(str::to_string).collect())
        .unwrap_or_default();
    Some(Identity::new(subject.clone(), groups))
}

/// API Gateway flattens a list claim into a string such as `[admin shoppers]`; a single group
/// arrives bare.
fn authorizer_groups(raw: &str) -> impl Iterator<Item = &str> {
    raw.trim_matches(|c| c == '[' || c == ']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|group| group.trim_matches('"'))
        .filter(|group| !group.is_empty())
}

fn dev_identity(request: &Request, secret: &str, now: i64) -> Result<Identity> {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .ok_or(ApiError::Unauthenticated)?;
    dev_claims_identity(token.trim(), secret, now)
}

fn dev_claims_identity(token: &str, secret: &str, now: i64) -> Result<Identity> {
    let claims = verify_dev_token(token, secret, now).ok_or(ApiError::Unauthenticated)?;
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
        .ok_or(ApiError::Unauthenticated)?
        .to_string();
    let groups = claims
        .get(GROUPS_CLAIM)
        .and_then(Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .filter_map(|group| group.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Identity::new(subject, groups))
}

/// Verifies an HS256 JWT's signature (constant time), algorithm and expiry; returns its claims.
fn verify_dev_token(token: &str, secret: &str, now: i64) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let mut mac = hmac_sha256(secret);
    mac.update(signed_part(token)?.as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?)
        .ok()?;
    let Value::Object(claims) =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?
    else {
        return None;
    };
    let expires = claims.get("exp")?.as_i64()?;
    (expires > now).then_some(claims)
}

/// `header.payload`: the signed part of a JWT.
fn signed_part(token: &str) -> Option<&str> {
    token.rfind('.').map(|dot| &token[..dot])
}

fn hmac_sha256(secret: &str) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length")
}

/// Signs a local development token (`make token`), in the admin group or none. Never used in
/// AWS.
pub fn mint_dev_token(
    secret: &str,
    subject: &str,
    admin: bool,
    now: i64,
    lifetime_seconds: i64,
) -> String {
    let groups: &[&str] = if admin { &[ADMIN_GROUP] } else { &[] };
    mint_dev_token_in(secret, subject, groups, now, lifetime_seconds)
}

/// Signs a local development token whose `cognito:groups` are `groups`.
pub fn mint_dev_token_in(
    secret: &str,
    subject: &str,
    groups: &[&str],
    now: i64,
    lifetime_seconds: i64,
) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "sub": subject,
        "iss": DEV_ISSUER,
        "iat": now,
        "exp": now + lifetime_seconds,
        GROUPS_CLAIM: groups,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let mut mac = hmac_sha256(secret);
    mac.update(signed.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signed}.{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_tokens_verify_only_with_their_secret_and_before_expiry() {
        let token = mint_dev_token("s3cret", "alice", true, 1_000, 60);
        let claims = verify_dev_token(&token, "s3cret", 1_030).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert!(verify_dev_token(&token, "other", 1_030).is_none());
        assert!(verify_dev_token(&token, "s3cret", 1_060).is_none());
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 2, 'x');
        assert!(verify_dev_token(&tampered, "s3cret", 1_030).is_none());
    }

    #[test]
    fn authorizer_group_lists_parse_in_both_shapes() {
        assert_eq!(
            authorizer_groups("[admin shoppers]").collect::<Vec<_>>(),
            ["admin", "shoppers"]
        );
        assert_eq!(authorizer_groups("admin").collect::<Vec<_>>(), ["admin"]);
        assert_eq!(authorizer_groups("[]").count(), 0);
    }
}
