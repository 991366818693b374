//! The HTTP proxy between the SDK and DynamoDB Local: asks Local for `ConsumedCapacity` (split
//! by index) on every item operation, bills it, and hands the caller the response it would have
//! had without the meter.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HOST};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;

use super::charges::{bill, is_metered};
use super::ledger::Ledger;

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
/// DynamoDB's checksum of the response body; wrong once the meter strips what it added.
const CRC32_HEADER: &str = "x-amz-crc32";

struct Proxy {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    ledger: Arc<Mutex<Ledger>>,
}

/// Serves connections on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, upstream: String, ledger: Arc<Mutex<Ledger>>) {
    let proxy = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_string(),
        client: Client::builder(TokioExecutor::new()).build_http(),
        ledger,
    });
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let proxy = proxy.clone();
                async move { proxy.forward(request).await }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// What the caller asked of `ReturnConsumedCapacity`, so its answer can be given back in that
/// shape.
#[derive(Clone, Copy, PartialEq)]
enum Asked {
    Nothing,
    Total,
    Indexes,
}

/// Makes the request ask for `ReturnConsumedCapacity: INDEXES` (the split between the table and
/// its index); returns what the caller had asked.
fn ask_for_capacity(request: &mut Value) -> Asked {
    let asked = match request["ReturnConsumedCapacity"].as_str() {
        Some("INDEXES") => return Asked::Indexes,
        Some("TOTAL") => Asked::Total,
        _ => Asked::Nothing,
    };
    if let Some(fields) = request.as_object_mut() {
        fields.insert("ReturnConsumedCapacity".into(), "INDEXES".into());
    }
    asked
}

/// Gives the response's capacity figure back in the shape the caller asked for: none, or the
/// totals without the split. `true` when the response changed.
fn answer_as_asked(response: &mut Value, asked: Asked) -> bool {
    let Some(fields) = response.as_object_mut() else {
        return false;
    };
    match asked {
        Asked::Indexes => false,
        Asked::Nothing => fields.remove("ConsumedCapacity").is_some(),
        Asked::Total => {
            let entries: Vec<&mut Value> = match fields.get_mut("ConsumedCapacity") {
                Some(Value::Array(list)) => list.iter_mut().collect(),
                Some(entry) => vec![entry],
                None => Vec::new(),
            };
            let mut changed = false;
            for entry in entries.into_iter().filter_map(Value::as_object_mut) {
                for split in ["Table", "GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
                    changed |= entry.remove(split).is_some();
                }
            }
            changed
        }
    }
}

impl Proxy {
    async fn forward(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let (mut parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let operation = parts
            .headers
            .get("x-amz-target")
            .and_then(|target| target.to_str().ok())
            .and_then(|target| target.strip_prefix(TARGET_PREFIX))
            .filter(|operation| is_metered(operation))
            .map(str::to_string);
        let mut metered: Option<(String, Value, Asked)> = None;
        let mut outgoing = body;
        if let Some(operation) = operation
            && let Ok(mut json) = serde_json::from_slice::<Value>(&outgoing)
        {
            let asked = ask_for_capacity(&mut json);
            if asked != Asked::Indexes {
                outgoing = Bytes::from(serde_json::to_vec(&json).expect("JSON"));
            }
            metered = Some((operation, json, asked));
        }
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = match format!("{}{path}", self.upstream).parse::<Uri>() {
            Ok(uri) => uri,
            Err(_) => return Ok(failure("bad upstream URI")),
        };
        parts.headers.remove(HOST);
        parts.headers.remove(CONTENT_LENGTH);
        let answer = match self
            .client
            .request(Request::from_parts(parts, Full::new(outgoing)))
            .await
        {
            Ok(answer) => answer,
            Err(error) => return Ok(failure(&error.to_string())),
        };
        let (mut parts, body) = answer.into_parts();
        let mut body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if let Some((operation, request, asked)) = metered {
            let mut response = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
            let succeeded = parts.status.is_success();
            let error = response["__type"]
                .as_str()
                .and_then(|kind| kind.rsplit('#').next())
                .map(str::to_string);
            let bill = bill(
                &operation,
                &request,
                succeeded.then_some(&response),
                error.as_deref(),
            );
            self.ledger.lock().expect("ledger").record(&bill);
            if succeeded && answer_as_asked(&mut response, asked) {
                body = Bytes::from(serde_json::to_vec(&response).expect("JSON"));
                parts.headers.remove(CRC32_HEADER);
                parts.headers.remove(CONTENT_LENGTH);
            }
        }
        Ok(Response::from_parts(parts, Full::new(body)))
    }
}

fn failure(message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("meter: {message}"))));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}
