//! Burst: a serverless drop engine. This crate is everything the Lambda binaries share; each
//! binary in `functions/` is a few lines that hand one entry point of it to the Lambda runtime.
//!
//! # A request's way in
//!
//! ```text
//! functions/claim/src/main.rs    burst::http::run(burst::api::claim): this handler, nothing else
//!  └ http        the Lambda loop for one handler; JSON bodies, responses, the error mapping
//!    └ api       ROUTES, and a handler per route: who may call it (auth: Shopper, Admin),
//!                parse the request, call one use case, answer
//!      └ domain  the use cases: drops, claims, holds, reservations, checkout, webhooks, orders,
//!                the queue, the audit, rate limits
//!        ├ store all DynamoDB access: key formats (keys), items, the ledger's transactions,
//!        │       the container's caches
//!        └ model what the data is and its pure rules (a drop's window, allocation, the draw,
//!                whom to admit, the ETA, admission tokens, proof of work)
//! ```
//!
//! Each floor imports only those below it: `model` nothing of Burst's but `error`, `store` only
//! `model`; `shared/tests/house.rs` keeps the module graph free of circles.
//!
//! # Beside the request path
//!
//! - The **sweeper** (`domain::sweeper`, the `sweeper` function, started by `schedule`) returns
//!   overdue holds through `domain::holds`, the one owner of ending a hold, settles payments
//!   whose webhook never came through `domain::webhooks`, and finishes decided refunds.
//! - The **admission controller** (`domain::queue::controller`, the `queue-controller`
//!   function) draws a queue's cohort, numbers later joins and admits in position order.
//! - The **fan-out** (`stream` in, `domain::live`, `push` out; the `fan-out` function) turns the
//!   table's change stream into WebSocket messages; `ws` holds the WebSocket routes.
//! - `payments`: what Burst asks of a payment provider and Stripe's implementation of it;
//!   webhook signatures and events.
//! - `metrics`: what the operator's dashboard and alarms read, as CloudWatch Embedded Metric
//!   Format lines in the logs (the `Metric` enum is the catalogue).
//! - `app`: what a warm container keeps (configuration, the store with its caches, the payment
//!   gateway); `config` reads the environment, `secrets` and `jwks` what lives elsewhere.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
#[cfg(feature = "jwks")]
pub mod jwks;
pub mod metrics;
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
