//! How the gateway and the pump call a function.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub type InvokeFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, String>> + Send + 'a>>;

/// Runs function `name` with `event` and returns what it answered.
pub trait Invoker: Send + Sync + 'static {
    fn invoke<'a>(&'a self, name: &'a str, event: Value) -> InvokeFuture<'a>;
}

/// The Lambda Invoke API of `cargo lambda watch`:
/// `POST {base}/2015-03-31/functions/{name}/invocations`.
pub struct WatchInvoker {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A first call waits for `cargo lambda watch` to build the function.
const FIRST_CALL: Duration = Duration::from_secs(600);

impl WatchInvoker {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl Invoker for WatchInvoker {
    fn invoke<'a>(&'a self, name: &'a str, event: Value) -> InvokeFuture<'a> {
        Box::pin(async move {
            let request = hyper::Request::post(format!(
                "{}/2015-03-31/functions/{name}/invocations",
                self.base
            ))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event.to_string())))
            .map_err(|e| e.to_string())?;
            let response = tokio::time::timeout(FIRST_CALL, self.client.request(request))
                .await
                .map_err(|_| format!("{name} did not answer"))?
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            if !status.is_success() {
                return Err(format!(
                    "{name} failed ({status}): {}",
                    String::from_utf8_lossy(&body)
                ));
            }
            serde_json::from_slice(&body).map_err(|e| e.to_string())
        })
    }
}
