//! Fault injection on the wire: an HTTP client for the SDK that answers the next N matching
//! DynamoDB calls with the errors real DynamoDB returns under load — without sending them. The
//! handler code under test is unchanged; only what comes back over HTTP differs.
//!
//! - `TransactionConflict`: a `TransactWriteItems` cancelled because another transaction holds
//!   one of its items (DynamoDB Local runs transactions one at a time and never reports one);
//! - `TransactionThrottled`: a `TransactWriteItems` cancelled with `ThrottlingError` reasons (a
//!   hot partition);
//! - `TransactionOverCapacity`: a `TransactWriteItems` cancelled with
//!   `ProvisionedThroughputExceeded` reasons (a provisioned table over its capacity);
//! - `Throttled`: any call answered `ProvisionedThroughputExceededException` (the SDK retries
//!   these itself before the error reaches Burst);
//! - `Crash`: any call answered with an error nothing retries, so the code under test stops right
//!   there, as if its process had been killed before that call (`arm_after` picks the call).
//!
//! It also logs every call it sees (`calls`), so a test can show what a request cost DynamoDB.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    TransactionConflict,
    TransactionThrottled,
    TransactionOverCapacity,
    Throttled,
    Crash,
}

#[derive(Debug, Default)]
struct Armed {
    fault: Option<Fault>,
    /// Calls the fault applies to that pass before it strikes.
    skip: u32,
    remaining: u32,
    injected: u32,
    /// The operation of every call seen since the last `take_calls` (`GetItem`, …).
    calls: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    armed: Arc<Mutex<Armed>>,
}

impl FaultInjector {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `count` calls the fault applies to fail with it (replacing anything armed).
    pub fn arm(&self, fault: Fault, count: u32) {
        let mut armed = self.armed.lock().expect("injector");
        armed.fault = Some(fault);
        armed.skip = 0;
        armed.remaining = count;
    }

    /// The call after the next `skip` calls the fault applies to fails with it, once.
    pub fn arm_after(&self, fault: Fault, skip: u32) {
        let mut armed = self.armed.lock().expect("injector");
        armed.fault = Some(fault);
        armed.skip = skip;
        armed.remaining = 1;
    }

    pub fn disarm(&self) {
        self.armed.lock().expect("injector").remaining = 0;
    }

    /// How many calls were failed so far.
    pub fn injected(&self) -> u32 {
        self.armed.lock().expect("injector").injected
    }

    /// The operations called since the last time this was asked (`UpdateItem`, …), in order.
    pub fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut self.armed.lock().expect("injector").calls)
    }

    pub fn into_http_client(self) -> SharedHttpClient {
        SharedHttpClient::new(InjectingClient {
            inner: aws_smithy_http_client::Builder::new().build_http(),
            injector: self,
        })
    }

    /// The fault to inject into a call to `target` (`DynamoDB_20120810.<Operation>`), if armed.
    fn take_one(&self, target: &str) -> Option<Fault> {
        let mut armed = self.armed.lock().expect("injector");
        let operation = target.rsplit('.').next().unwrap_or(target);
        armed.calls.push(operation.to_string());
        let fault = armed.fault?;
        let applies = match fault {
            Fault::TransactionConflict
            | Fault::TransactionThrottled
            | Fault::TransactionOverCapacity => target.ends_with(".TransactWriteItems"),
            Fault::Throttled | Fault::Crash => true,
        };
        if !applies || armed.remaining == 0 {
            return None;
        }
        if armed.skip > 0 {
            armed.skip -= 1;
            return None;
        }
        armed.remaining -= 1;
        armed.injected += 1;
        Some(fault)
    }
}

#[derive(Debug)]
struct InjectingClient {
    inner: SharedHttpClient,
    injector: FaultInjector,
}

impl HttpClient for InjectingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(InjectingConnector {
            inner: self.inner.http_connector(settings, components),
            injector: self.injector.clone(),
        })
    }
}

#[derive(Debug)]
struct InjectingConnector {
    inner: SharedHttpConnector,
    injector: FaultInjector,
}

impl HttpConnector for InjectingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .to_string();
        let Some(fault) = self.injector.take_one(&target) else {
            return self.inner.call(request);
        };
        let body = match fault {
            Fault::Crash => json!({
                "__type": "com.amazon.coral.validate#ValidationException",
                "message": "injected: the process stops before this call",
            }),
            Fault::Throttled => json!({
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was exceeded.",
            }),
            Fault::TransactionConflict
            | Fault::TransactionThrottled
            | Fault::TransactionOverCapacity => {
                let actions = request
                    .body()
                    .bytes()
                    .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
                    .and_then(|body| body["TransactItems"].as_array().map(Vec::len))
                    .unwrap_or(1);
                let reason = match fault {
                    Fault::TransactionConflict => {
                        json!({ "Code": "TransactionConflict", "Message": "Transaction is ongoing for the item" })
                    }
                    Fault::TransactionThrottled => {
                        json!({ "Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity for one or more global secondary indexes." })
                    }
                    Fault::TransactionOverCapacity => {
                        json!({ "Code": "ProvisionedThroughputExceeded", "Message": "The level of configured provisioned throughput for the table was exceeded." })
                    }
                    Fault::Throttled | Fault::Crash => unreachable!("not a transaction's fault"),
                };
                let mut reasons = vec![json!({ "Code": "None" }); actions];
                reasons[0] = reason;
                json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                    "message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
                    "CancellationReasons": reasons,
                })
            }
        };
        let response = http::Response::builder()
            .status(400)
            .header("content-type", "application/x-amz-json-1.0")
            .body(SdkBody::from(body.to_string()))
            .expect("static response");
        let response = Response::try_from(response).expect("http 1.x response converts");
        HttpConnectorFuture::ready(Ok(response))
    }
}
