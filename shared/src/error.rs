//! The one error type of Burst and its mapping to HTTP.
//!
//! Every failure a route can meet is a variant here; `status_and_code` is the single place that
//! decides what a client sees, so two routes can never answer the same situation differently.

use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidRequest {
        field: Option<String>,
        message: String,
    },
    #[error("a valid bearer token is required")]
    Unauthenticated,
    #[error("this route needs the admin role")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the drop is sold out")]
    SoldOut,
    #[error("you already hold or bought the most units this drop allows")]
    AlreadyClaimed { reservation_id: Option<String> },
    #[error("{reason}")]
    DropNotLive {
        reason: &'static str,
        starts_at: DateTime<Utc>,
        ends_at: Option<DateTime<Utc>>,
    },
    #[error("the reservation is {status}, not held")]
    ReservationNotHeld { status: &'static str },
    #[error("the hold has expired; claim again if units are left")]
    ReservationExpired,
    #[error("too many shoppers are claiming this drop at once; retry shortly")]
    Busy,
    #[error("invalid Stripe signature: {0}")]
    InvalidSignature(#[from] crate::payments::signature::SignatureError),
    #[error("payments are not configured")]
    PaymentsUnavailable,
    #[error("payment provider error: {0}")]
    Payment(String),
    #[error("storage failure: {0}")]
    Store(String),
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

    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
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
            Self::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
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
            _ => {}
        }
        json!({ "error": error })
    }
}

impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for ApiError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    fn from(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        Self::Store(aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())
    }
}

impl From<serde_dynamo::Error> for ApiError {
    fn from(err: serde_dynamo::Error) -> Self {
        Self::Store(format!("item (de)serialization: {err}"))
    }
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;
