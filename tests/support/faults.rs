//! Fault injection on the wire: an HTTP client for the SDK that answers the next N
//! `TransactWriteItems` calls with the `TransactionCanceledException` / `TransactionConflict`
//! that real DynamoDB returns under contention, without sending them. The handler code under
//! test is unchanged; only what comes back over HTTP differs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct ConflictInjector {
    remaining: Arc<AtomicU32>,
    injected: Arc<AtomicU32>,
}

impl ConflictInjector {
    pub fn new(conflicts: u32) -> Self {
        Self {
            remaining: Arc::new(AtomicU32::new(conflicts)),
            injected: Arc::default(),
        }
    }

    /// Cancels the next `conflicts` transactions (replacing any still pending).
    pub fn arm(&self, conflicts: u32) {
        self.remaining.store(conflicts, Ordering::SeqCst);
    }

    /// How many transactions were cancelled so far.
    pub fn injected(&self) -> u32 {
        self.injected.load(Ordering::SeqCst)
    }

    pub fn into_http_client(self) -> SharedHttpClient {
        SharedHttpClient::new(InjectingClient {
            inner: aws_smithy_http_client::Builder::new().build_http(),
            injector: self,
        })
    }

    fn take_one(&self) -> bool {
        let took = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if took {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        took
    }
}

#[derive(Debug)]
struct InjectingClient {
    inner: SharedHttpClient,
    injector: ConflictInjector,
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
    injector: ConflictInjector,
}

impl HttpConnector for InjectingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let is_transaction = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|target| target.ends_with(".TransactWriteItems"));
        if is_transaction && self.injector.take_one() {
            let actions = request
                .body()
                .bytes()
                .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
                .and_then(|body| body["TransactItems"].as_array().map(Vec::len))
                .unwrap_or(1);
            let mut reasons = vec![json!({ "Code": "None" }); actions];
            reasons[0] = json!({ "Code": "TransactionConflict",
                "Message": "Transaction is ongoing for the item" });
            let body = json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
                "CancellationReasons": reasons,
            });
            let response = http::Response::builder()
                .status(400)
                .header("content-type", "application/x-amz-json-1.0")
                .body(SdkBody::from(body.to_string()))
                .expect("static response");
            let response = Response::try_from(response).expect("http 1.x response converts");
            return HttpConnectorFuture::ready(Ok(response));
        }
        self.inner.call(request)
    }
}
