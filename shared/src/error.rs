//! The one error type of Burst and its mapping to HTTP.
//!
//! Every failure a route can meet is a variant here; `status_and_code` is the single place that
//! decides what a client sees, so two routes can never answer the same situation differently.
//! Failures of DynamoDB and Stripe keep their cause (`#[source]`) for the logs; clients only see
//! the code and a message meant for them.

use std::error::Error as StdError;

use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::metrics::Metric;

pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_request` (+ `field`): the request is malformed or a field is out of range.
    #[error("{message}")]
    InvalidRequest {
        field: Option<String>,
        message: String,
    },
    /// 413 `payload_too_large`: the body is over the limit any route accepts.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 401 `unauthenticated`.
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// 403 `forbidden`: the route needs the admin group.
    #[error("this route needs the admin role")]
    Forbidden,
    /// 404 `not_found`: unknown, malformed, or somebody else's.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409 `sold_out`.
    #[error("the drop is sold out")]
    SoldOut,
    /// 409 `already_claimed` (+ `reservation_id`).
    #[error("you already hold or bought the most units this drop allows")]
    AlreadyClaimed { reservation_id: Option<String> },
    /// 403 `drop_not_live` (+ `starts_at`, `ends_at`).
    #[error("{reason}")]
    DropNotLive {
        reason: &'static str,
        starts_at: DateTime<Utc>,
        ends_at: Option<DateTime<Utc>>,
    },
    /// 409 `reservation_not_held` (+ `status`).
    #[error("the reservation is {status}, not held")]
    ReservationNotHeld { status: &'static str },
    /// 410 `reservation_expired`.
    #[error("the hold has expired; claim again if units are left")]
    ReservationExpired,
    /// 429 `busy` (+ `Retry-After`): transactions kept colliding on the same items.
    #[error("too many shoppers are claiming this drop at once; retry shortly")]
    Busy,
    /// 400 `not_queued`: a queue route for a drop without a queue.
    #[error("this drop has no queue")]
    NotQueued,
    /// 403 `queue_not_open` (+ `opens_at`).
    #[error("the queue has not opened yet")]
    QueueNotOpen { opens_at: DateTime<Utc> },
    /// 409 `queue_closed`: sold out (no stock, no holds), ended, or a raffle's entries closed.
    #[error("the queue is closed: the drop sold out or ended, or the raffle's entries closed")]
    QueueClosed,
    /// 404 `not_in_queue`.
    #[error("you have not joined this drop's queue")]
    NotInQueue,
    /// 409 `draw_pending` (+ `starts_at`: when the draw happens — a raffle's is its
    /// `entries_close_at`): the proof is published with the draw.
    #[error("the draw has not happened yet")]
    DrawPending { starts_at: DateTime<Utc> },
    /// 409 `drop_locked`: a drop's settings cannot change once it has opened.
    #[error("the drop has opened: its settings can no longer change")]
    DropLocked,
    /// 409 `drop_changed` (+ `version`): the drop changed since the version the edit was based on.
    #[error("the drop changed since you read it (now version {version}); read it again")]
    DropChanged { version: u64 },
    /// 403 `drop_paused`: the shop paused claims on a drop without a queue.
    #[error("the shop has paused this drop; try again when it resumes")]
    DropPaused,
    /// 403 `admission_required`: a queued drop is claimed with an admission token.
    #[error("this drop is queued: claim with the admission token your ticket shows once admitted")]
    AdmissionRequired,
    /// 403 `admission_invalid`: forged, expired, another shopper's or drop's, or already spent.
    #[error("the admission token is not valid for you and this drop now")]
    AdmissionInvalid,
    /// 403 `pow_required`: joining this queue needs a solved proof-of-work challenge.
    #[error("joining this queue needs a solved challenge (GET /drops/{{drop_id}}/challenge)")]
    PowRequired,
    /// 403 `pow_invalid`: undecodable, tampered, expired, wrong, or another drop's or shopper's.
    #[error("the proof of work is not a valid solution of a challenge issued to you for this drop")]
    PowInvalid,
    /// 403 `pow_replayed`: a challenge is spent once.
    #[error("this challenge was already used; ask for a new one")]
    PowReplayed,
    /// 429 `rate_limited` (+ `Retry-After`): too many requests from this shopper or address.
    #[error("too many requests; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// 503 `queue_unavailable`: this function holds no admission key (a deployment error).
    #[error("admissions cannot be issued right now")]
    QueueUnavailable,
    /// 503 `unavailable` (+ `Retry-After`): DynamoDB kept throttling after the SDK's retries.
    #[error("the shop is over capacity for a moment; retry shortly")]
    Throttled(#[source] StoreError),
    /// 400 `invalid_signature`: a webhook not signed by Stripe with our secret, or too old.
    #[error("invalid Stripe signature: {0}")]
    InvalidSignature(#[from] SignatureError),
    /// 503 `payments_unavailable`: this deployment has no Stripe configured.
    #[error("payments are not configured")]
    PaymentsUnavailable,
    /// 502 `payment_provider_error`: Stripe failed or refused; the caller (or Stripe's webhook
    /// retry) tries again.
    #[error("the payment provider failed")]
    Payment(#[source] PaymentError),
    /// 500 `internal`.
    #[error("storage failure")]
    Store(#[source] StoreError),
}

/// What went wrong talking to DynamoDB.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB request failed")]
    Sdk(#[source] BoxError),
    #[error("an item could not be encoded or decoded")]
    Item(#[from] serde_dynamo::Error),
    #[error("a request could not be built")]
    Build(#[from] aws_sdk_dynamodb::error::BuildError),
    #[error("the {transaction} transaction was refused by {role}: {reasons}")]
    Refused {
        transaction: &'static str,
        role: String,
        reasons: String,
    },
    #[error("{0}")]
    Invariant(String),
}

/// Why a webhook's `Stripe-Signature` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches the payload")]
    Mismatch,
}

/// What went wrong talking to the payment provider.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Stripe answered with an error object.
    #[error("Stripe answered {status} {kind}/{code}: {message}")]
    Refused {
        status: u16,
        kind: String,
        code: String,
        message: String,
    },
    #[error("Stripe could not be reached")]
    Transport(#[source] BoxError),
    #[error("Stripe's answer could not be read")]
    Decode(#[source] BoxError),
    #[error("{0}")]
    Invalid(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            field: None,
            message: message.into(),
        }
    }

    /// The field an `invalid_request` names, if it names one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// A state the code assumes can never be reached was reached.
    pub fn invariant(message: impl Into<String>) -> Self {
        Self::Store(StoreError::Invariant(message.into()))
    }

    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::SoldOut => (StatusCode::CONFLICT, "sold_out"),
            Self::AlreadyClaimed { .. } => (StatusCode::CONFLICT, "already_claimed"),
            Self::DropNotLive { .. } => (StatusCode::FORBIDDEN, "drop_not_live"),
            Self::ReservationNotHeld { .. } => (StatusCode::CONFLICT, "reservation_not_held"),
            Self::ReservationExpired => (StatusCode::GONE, "reservation_expired"),
            Self::InvalidSignature(_) => (StatusCode::BAD_REQUEST, "invalid_signature"),
            Self::PaymentsUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "payments_unavailable"),
            Self::Payment(_) => (StatusCode::BAD_GATEWAY, "payment_provider_error"),
            // 429, not 5xx: contention is the client's cue to retry, never a server fault.
            Self::Busy => (StatusCode::TOO_MANY_REQUESTS, "busy"),
            Self::NotQueued => (StatusCode::BAD_REQUEST, "not_queued"),
            Self::QueueNotOpen { .. } => (StatusCode::FORBIDDEN, "queue_not_open"),
            Self::QueueClosed => (StatusCode::CONFLICT, "queue_closed"),
            Self::NotInQueue => (StatusCode::NOT_FOUND, "not_in_queue"),
            Self::DrawPending { .. } => (StatusCode::CONFLICT, "draw_pending"),
            Self::DropLocked => (StatusCode::CONFLICT, "drop_locked"),
            Self::DropChanged { .. } => (StatusCode::CONFLICT, "drop_changed"),
            Self::DropPaused => (StatusCode::FORBIDDEN, "drop_paused"),
            Self::AdmissionRequired => (StatusCode::FORBIDDEN, "admission_required"),
            Self::AdmissionInvalid => (StatusCode::FORBIDDEN, "admission_invalid"),
            Self::QueueUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "queue_unavailable"),
            Self::PowRequired => (StatusCode::FORBIDDEN, "pow_required"),
            Self::PowInvalid => (StatusCode::FORBIDDEN, "pow_invalid"),
            Self::PowReplayed => (StatusCode::FORBIDDEN, "pow_replayed"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Throttled(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The metric an answer with this error counts in: the layer that refused, or the kind of
    /// failure; `None` for refusals that are the client's own mistake (a bad body, a 404).
    pub fn metric(&self) -> Option<Metric> {
        let metric = match self {
            Self::SoldOut => Metric::SoldOut,
            Self::RateLimited { .. } => Metric::RateLimited,
            Self::PowRequired | Self::PowInvalid | Self::PowReplayed => Metric::PowRefused,
            Self::AdmissionRequired | Self::AdmissionInvalid => Metric::AdmissionRefused,
            Self::Busy => Metric::Contention,
            Self::Throttled(_) => Metric::DynamoDbThrottled,
            Self::Payment(_) | Self::PaymentsUnavailable => Metric::StripeFailures,
            _ if self.status_and_code().0.is_server_error() => Metric::ServerErrors,
            _ => return None,
        };
        Some(metric)
    }

    /// Seconds a client should wait before retrying (`Retry-After`), where retrying is the cure.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Self::Busy | Self::Throttled(_) => Some(1),
            Self::RateLimited {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            Self::Payment(_) => Some(2),
            _ => None,
        }
    }

    /// The JSON body every error answers with: `{"error":{"code","message",…details}}`.
    pub fn body(&self) -> Value {
        let (_, code) = self.status_and_code();
        let mut error = Map::new();
        error.insert("code".into(), json!(code));
        let message = match self {
            // Storage and provider details are for the logs, not for shoppers.
            Self::Store(_) => "internal error".to_string(),
            Self::Payment(_) => {
                "the payment provider could not be reached; retry shortly".to_string()
            }
            other => other.to_string(),
        };
        error.insert("message".into(), json!(message));
        match self {
            Self::InvalidRequest {
                field: Some(field), ..
            } => {
                error.insert("field".into(), json!(field));
            }
            Self::AlreadyClaimed {
                reservation_id: Some(id),
            } => {
                error.insert("reservation_id".into(), json!(id));
            }
            Self::DropNotLive {
                starts_at, ends_at, ..
            } => {
                error.insert("starts_at".into(), json!(starts_at));
                if let Some(ends_at) = ends_at {
                    error.insert("ends_at".into(), json!(ends_at));
                }
            }
            Self::ReservationNotHeld { status } => {
                error.insert("status".into(), json!(status));
            }
            Self::QueueNotOpen { opens_at } => {
                error.insert("opens_at".into(), json!(opens_at));
            }
            Self::DrawPending { starts_at } => {
                error.insert("starts_at".into(), json!(starts_at));
            }
            Self::DropChanged { version } => {
                error.insert("version".into(), json!(version));
            }
            _ => {}
        }
        if let Some(seconds) = self.retry_after_seconds() {
            error.insert("retry_after_seconds".into(), json!(seconds));
        }
        json!({ "error": error })
    }
}

/// The error and every cause under it, `: `-separated: what a log line needs.
pub fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// DynamoDB's answers that mean "slow down": retried by the SDK first, then by us, and in the
/// end a `503` with `Retry-After`, never a `500`.
/// (The last two are a cancelled transaction's reasons, where the throughput one has no
/// `Exception` suffix.)
pub const THROTTLING_CODES: [&str; 5] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for ApiError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        let throttled = err
            .as_service_error()
            .and_then(|service| service.code())
            .is_some_and(|code| THROTTLING_CODES.contains(&code));
        let error = StoreError::Sdk(Box::new(err));
        if throttled {
            Self::Throttled(error)
        } else {
            Self::Store(error)
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl From<serde_dynamo::Error> for ApiError {
    fn from(err: serde_dynamo::Error) -> Self {
        Self::Store(StoreError::Item(err))
    }
}

impl From<aws_sdk_dynamodb::error::BuildError> for ApiError {
    fn from(err: aws_sdk_dynamodb::error::BuildError) -> Self {
        Self::Store(StoreError::Build(err))
    }
}

impl From<PaymentError> for ApiError {
    fn from(err: PaymentError) -> Self {
        Self::Payment(err)
    }
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;
