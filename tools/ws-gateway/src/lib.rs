//! A local stand-in for what API Gateway and Lambda's event source mapping do for Burst's live
//! updates, so the deployed chain runs on a laptop (dev only; never deployed):
//!
//! - **the WebSocket API** (`gateway`): accepts connections, invokes the route functions with
//!   real API Gateway WebSocket events (`$connect` with the query string — a non-2xx answer
//!   refuses the handshake with that status; `$disconnect`; `subscribe`, `unsubscribe` and
//!   `$default` chosen by the frame's `action`, as `$request.body.action` selects), and sends a
//!   route's answer back as its route response; 10-minute idle and 2-hour limits as in AWS;
//! - **the `@connections` management API**: `POST /@connections/{id}` (PostToConnection),
//!   `GET` (GetConnection) and `DELETE` (DeleteConnection) over HTTP, answering `410` with
//!   `x-amzn-ErrorType: GoneException` for connections that are gone, so
//!   `aws-sdk-apigatewaymanagement` reads it as AWS would;
//! - **the stream trigger** (`pump`): reads the table's DynamoDB Stream with
//!   `aws-sdk-dynamodbstreams` and invokes the fan-out function with real DynamoDB stream events.
//!
//! Functions are invoked through an `Invoker`: `cargo lambda watch`'s Lambda Invoke API in
//! `make dev`, the handlers in-process in tests and the benchmark.

pub mod gateway;
pub mod invoker;
pub mod pump;

pub use gateway::Gateway;
pub use invoker::{InvokeFuture, Invoker, WatchInvoker};
