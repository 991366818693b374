//! Burst: a serverless drop engine. This crate is everything the Lambda binaries share: the
//! domain (drops, claims, holds, the ledger), the DynamoDB store, identity, and the HTTP edge.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod payments;
pub mod schedule;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod store;
pub mod telemetry;

pub use app::App;
pub use error::{ApiError, Result};
