//! Verifying identity-provider tokens where API Gateway's JWT authorizer does not run: a
//! WebSocket `$connect` carries the shopper's Cognito token as `?token=`. The pool's keys are
//! fetched from `<JWT_ISSUER>/.well-known/jwks.json` once per container; the token must be RS256,
//! signed by one of them, unexpired, from the issuer, and for one of `JWT_AUDIENCE` (an ID token's
//! `aud` or an access token's `client_id`).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::auth::Identity;
use crate::error::{ApiError, Result};

#[derive(Debug)]
pub struct JwksVerifier {
    issuer: String,
    audiences: Vec<String>,
    keys: OnceCell<JwkSet>,
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

impl JwksVerifier {
    pub fn new(issuer: String, audiences: Vec<String>) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_string(),
            audiences,
            keys: OnceCell::new(),
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Identity> {
        let header = decode_header(token).map_err(|_| ApiError::Unauthenticated)?;
        if header.alg != Algorithm::RS256 {
            return Err(ApiError::Unauthenticated);
        }
        let keys = self.keys().await?;
        let jwk = header
            .kid
            .as_deref()
            .and_then(|kid| keys.find(kid))
            .ok_or(ApiError::Unauthenticated)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| ApiError::Unauthenticated)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        // ID tokens name the app client in `aud`, access tokens in `client_id`.
        validation.validate_aud = false;
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(|_| ApiError::Unauthenticated)?
            .claims;
        let audience = claims.aud.as_ref().or(claims.client_id.as_ref());
        if !audience.is_some_and(|audience| self.audiences.contains(audience)) {
            return Err(ApiError::Unauthenticated);
        }
        Ok(Identity::new(claims.sub, claims.groups))
    }

    async fn keys(&self) -> Result<&JwkSet> {
        self.keys
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/jwks.json", self.issuer);
                fetch_keys(&url).await.map_err(|error| {
                    tracing::error!(url, %error, "the identity provider's keys could not be read");
                    ApiError::Unauthenticated
                })
            })
            .await
    }
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
