//! Burst: a serverless drop engine. This crate is everything the Lambda binaries share: the
//! domain (drops, claims, holds, the ledger), the DynamoDB store, identity, and the HTTP edge.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
#[cfg(feature = "jwks")]
pub mod jwks;
pub mod model;
pub mod payments;
pub mod push;
pub mod schedule;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod store;
pub mod stream;
pub mod telemetry;
pub mod ws;

pub use app::App;
pub use error::{ApiError, Result};
