//! The HTTP edge: JSON bodies in, JSON responses out, errors mapped in one place, and the Lambda
//! entry point every function binary calls.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH, RETRY_AFTER,
};
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::config::Config;
use crate::error::{ApiError, Result, chain};
use crate::metrics;

pub type HandlerResult = Result<Response<Body>>;

/// How long a shared cache (CloudFront) may serve a public read: one second collapses a herd
/// of pollers into one origin request per second without showing stale stock for long.
const PUBLIC_CACHE: &str = "public, max-age=1";
const PRIVATE: &str = "no-store";

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    respond_json(status, body, PRIVATE)
}

/// A response any shopper may be shown (drop listings), cacheable for a second.
pub fn public_json_response(body: &impl Serialize) -> Response<Body> {
    respond_json(StatusCode::OK, body, PUBLIC_CACHE)
}

/// A public document with an `ETag`: a client (or CDN) holding the same version gets a bodiless
/// `304 Not Modified`.
pub fn revalidated_response(request: &Request, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response types serialize");
    let digest = Sha256::digest(text.as_bytes());
    let etag = format!("\"{}\"", hex::encode(&digest[..12]));
    tagged_response(request, PUBLIC_CACHE, "application/json", text, &etag)
}

/// What never changes once published (the proof of a draw): cached anywhere for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// An immutable JSON document, tagged by the SHA-256 of its bytes.
pub fn immutable_json_response(request: &Request, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response types serialize");
    let digest = hex::encode(Sha256::digest(text.as_bytes()));
    immutable_response(request, "application/json", text, &digest)
}

/// An immutable document whose ETag is `sha256_hex`, the SHA-256 of `body`.
pub fn immutable_response(
    request: &Request,
    content_type: &str,
    body: String,
    sha256_hex: &str,
) -> Response<Body> {
    let etag = format!("\"{sha256_hex}\"");
    tagged_response(request, IMMUTABLE, content_type, body, &etag)
}

/// A public document with its `ETag`, or a bodiless `304` when the request holds that version.
fn tagged_response(
    request: &Request,
    cache: &str,
    content_type: &str,
    body: String,
    etag: &str,
) -> Response<Body> {
    let builder = Response::builder()
        .header(CACHE_CONTROL, cache)
        .header(ETAG, etag);
    if if_none_match(request, etag) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::Empty)
            .expect("static headers are valid");
    }
    builder
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, content_type)
        .body(Body::Text(body))
        .expect("static headers are valid")
}

/// The request already holds the version tagged `etag`.
fn if_none_match(request: &Request, etag: &str) -> bool {
    request
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag))
}

fn respond_json(status: StatusCode, body: &impl Serialize, cache: &str) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response types serialize");
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .header(CACHE_CONTROL, cache)
        .body(Body::Text(text))
        .expect("static headers are valid")
}

pub fn error_response(error: &ApiError) -> Response<Body> {
    let (status, code) = error.status_and_code();
    if let Some(metric) = error.metric() {
        metrics::count(metric);
    }
    if status.is_server_error() {
        tracing::error!(code, error = %chain(error), "request failed");
    } else {
        tracing::info!(code, status = status.as_u16(), "request refused");
    }
    let mut response = json_response(status, &error.body());
    if let Some(seconds) = error.retry_after_seconds() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// No route takes a body anywhere near this; refusing bigger ones up front keeps a hostile
/// megabyte from costing a parse.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The request's JSON body, `None` when there is none. Read from the raw bytes whatever the
/// `Content-Type` says (API Gateway has already undone any base64 transfer encoding).
pub fn json_body(request: &Request) -> Result<Option<Value>> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|err| ApiError::invalid_body(format!("the body is not valid JSON: {err}")))
}

/// The client's address: CloudFront's `CloudFront-Viewer-Address` on a request that proves it
/// came through this deployment's distribution (`X-Burst-Origin-Verify`), else the address API
/// Gateway saw (`requestContext.http.sourceIp`). Never a client-chosen header such as
/// `X-Forwarded-For`.
pub fn source_ip(request: &Request, config: &Config) -> String {
    if let Some(viewer) = config
        .origin_verify_secret
        .as_deref()
        .filter(|secret| header_equals(request, ORIGIN_VERIFY_HEADER, secret))
        .and_then(|_| request.headers().get(VIEWER_ADDRESS_HEADER))
        .and_then(|value| value.to_str().ok())
        .and_then(viewer_ip)
    {
        return viewer;
    }
    match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => context
            .http
            .source_ip
            .clone()
            .unwrap_or_else(|| "unknown".into()),
        _ => "unknown".into(),
    }
}

const ORIGIN_VERIFY_HEADER: &str = "x-burst-origin-verify";
const VIEWER_ADDRESS_HEADER: &str = "cloudfront-viewer-address";

fn header_equals(request: &Request, name: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    request
        .headers()
        .get(name)
        .is_some_and(|value| bool::from(value.as_bytes().ct_eq(expected.as_bytes())))
}

/// The address of `CloudFront-Viewer-Address` (`198.51.100.7:46532`, `2001:db8::7:46532`):
/// everything before the last colon, if it parses as an IP address.
fn viewer_ip(value: &str) -> Option<String> {
    let (address, _port) = value.rsplit_once(':')?;
    address
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// A path parameter of the route (`{drop_id}`); API Gateway always supplies those its route
/// declares, so a missing one means the id cannot exist.
pub fn path_param(request: &Request, name: &str, entity: &'static str) -> Result<String> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_string)
        .ok_or(ApiError::NotFound(entity))
}

/// Who may call a route, read from the request before its handler runs (`auth::Shopper`,
/// `auth::Admin`): a handler that takes one never runs for anybody else.
pub trait FromRequest: Sized {
    fn from_request(request: &Request, config: &Config) -> Result<Self>;
}

/// A route's handler: `fn(Arc<App>, Request)` for a public route, `fn(Arc<App>, C, Request)`
/// where `C` says who may call it (`Args` is `()` or `(C,)`, so both shapes are one trait).
pub trait Handler<Args>: Copy + Send + 'static {
    /// Anybody may call it: it takes no caller.
    const PUBLIC: bool;

    fn call(self, app: Arc<App>, request: Request) -> impl Future<Output = HandlerResult> + Send;
}

/// Whether `handler` serves anybody (for the route table).
pub const fn is_public<H: Handler<Args>, Args>(_handler: H) -> bool {
    H::PUBLIC
}

impl<F, Fut> Handler<()> for F
where
    F: Fn(Arc<App>, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    const PUBLIC: bool = true;

    fn call(self, app: Arc<App>, request: Request) -> impl Future<Output = HandlerResult> + Send {
        self(app, request)
    }
}

impl<F, Fut, C> Handler<(C,)> for F
where
    F: Fn(Arc<App>, C, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = HandlerResult> + Send,
    C: FromRequest + Send,
{
    const PUBLIC: bool = false;

    async fn call(self, app: Arc<App>, request: Request) -> HandlerResult {
        let caller = C::from_request(&request, &app.config)?;
        self(app, caller, request).await
    }
}

/// Runs a handler and turns any error into its JSON response: what every function and every
/// in-process test or benchmark calls.
pub async fn respond<H, Args>(app: Arc<App>, request: Request, handler: H) -> Response<Body>
where
    H: Handler<Args>,
{
    handler
        .call(app, request)
        .await
        .unwrap_or_else(|error| error_response(&error))
}

/// The `main` of an HTTP function: logging, the warm state, and the Lambda runtime loop around
/// the one handler it serves.
pub async fn run<H, Args>(handler: H) -> Result<(), lambda_http::Error>
where
    H: Handler<Args>,
{
    crate::telemetry::init();
    let app = Arc::new(App::from_env().await?);
    lambda_http::run(service_fn(move |request: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(respond(app, request, handler).await) }
    }))
    .await
}
