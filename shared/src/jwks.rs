//! Verifying identity-provider tokens where API Gateway's JWT authorizer does not run: a
//! WebSocket `$connect` carries the shopper's Cognito token as `?token=`. The token must be RS256,
//! signed by one of the issuer's keys, unexpired, from the issuer (`JWT_ISSUER`), and for one of
//! its audiences (`JWT_AUDIENCE`: an ID token's `aud` or an access token's `client_id`).
//!
//! The issuer and audiences are configuration (`config::JwtIssuer`); the keys are this
//! container's state: fetched from `<issuer>/.well-known/jwks.json` on first use and kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

use crate::config::JwtIssuer;
use crate::error::{ApiError, Result};

/// The key sets this container fetched, by issuer.
static KEYS: Mutex<Option<HashMap<String, Arc<JwkSet>>>> = Mutex::new(None);

/// Who a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `sub`.
    pub subject: String,
    /// `cognito:groups`.
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    aud: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    groups: Vec<String>,
}

pub async fn verify(token: &str, issuer: &JwtIssuer) -> Result<VerifiedToken> {
    let header = decode_header(token).map_err(|_| ApiError::Unauthenticated)?;
    if header.alg != Algorithm::RS256 {
        return Err(ApiError::Unauthenticated);
    }
    let keys = keys_of(issuer).await?;
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| keys.find(kid))
        .ok_or(ApiError::Unauthenticated)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| ApiError::Unauthenticated)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&issuer.issuer]);
    // ID tokens name the app client in `aud`, access tokens in `client_id`.
    validation.validate_aud = false;
    let claims = decode::<Claims>(token, &key, &validation)
        .map_err(|_| ApiError::Unauthenticated)?
        .claims;
    let audience = claims.aud.as_ref().or(claims.client_id.as_ref());
    if !audience.is_some_and(|audience| issuer.audiences.contains(audience)) {
        return Err(ApiError::Unauthenticated);
    }
    Ok(VerifiedToken {
        subject: claims.sub,
        groups: claims.groups,
    })
}

/// The issuer's keys, fetched once per container (a failed fetch is tried again next time).
async fn keys_of(issuer: &JwtIssuer) -> Result<Arc<JwkSet>> {
    let known = KEYS
        .lock()
        .expect("keys poisoned")
        .as_ref()
        .and_then(|keys| keys.get(&issuer.issuer).cloned());
    if let Some(keys) = known {
        return Ok(keys);
    }
    let url = format!("{}/.well-known/jwks.json", issuer.issuer);
    let keys = Arc::new(fetch_keys(&url).await.map_err(|error| {
        tracing::error!(url, %error, "the identity provider's keys could not be read");
        ApiError::Unauthenticated
    })?);
    KEYS.lock()
        .expect("keys poisoned")
        .get_or_insert_default()
        .insert(issuer.issuer.clone(), keys.clone());
    Ok(keys)
}

async fn fetch_keys(url: &str) -> std::result::Result<JwkSet, String> {
    let connector = HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| e.to_string())?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
    let response = client.get(uri).await.map_err(|e| e.to_string())?;
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}
