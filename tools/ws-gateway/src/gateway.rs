//! The WebSocket API and its `@connections` management API.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

use crate::invoker::Invoker;

/// API Gateway closes a connection idle this long, and any connection after two hours.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_CONNECTION: Duration = Duration::from_secs(2 * 3600);
const MAX_HANDSHAKE: usize = 16 * 1024;
/// API Gateway's frame limit.
const MAX_FRAME: usize = 32 * 1024;

/// Which function serves which route.
#[derive(Debug, Clone)]
pub struct Routes {
    pub connect: String,
    pub disconnect: String,
    pub subscribe: String,
    pub unsubscribe: String,
    pub default: String,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            connect: "ws-connect".into(),
            disconnect: "ws-disconnect".into(),
            subscribe: "ws-subscribe".into(),
            unsubscribe: "ws-unsubscribe".into(),
            default: "ws-default".into(),
        }
    }
}

struct Connection {
    sender: mpsc::UnboundedSender<Message>,
    connected_at_ms: i64,
    last_active_ms: i64,
    source_ip: String,
}

pub struct Gateway {
    invoker: Arc<dyn Invoker>,
    routes: Routes,
    connections: Mutex<HashMap<String, Connection>>,
}

impl Gateway {
    pub fn new(invoker: Arc<dyn Invoker>, routes: Routes) -> Arc<Self> {
        Arc::new(Self {
            invoker,
            routes,
            connections: Mutex::default(),
        })
    }

    /// Serves WebSocket clients on `ws` and the management API on `management`.
    pub fn serve(self: &Arc<Self>, ws: TcpListener, management: TcpListener) {
        let gateway = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, peer)) = ws.accept().await {
                let gateway = gateway.clone();
                tokio::spawn(async move { gateway.client(stream, peer).await });
            }
        });
        let gateway = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = management.accept().await {
                let gateway = gateway.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let gateway = gateway.clone();
                        async move { Ok::<_, Infallible>(gateway.manage(request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    }

    pub fn connection_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Connection>> {
        self.connections.lock().expect("connections")
    }

    async fn client(self: Arc<Self>, mut stream: TcpStream, peer: SocketAddr) {
        let Some(head) = read_head(&mut stream).await else {
            return;
        };
        let Some(key) = head.header("sec-websocket-key") else {
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
            return;
        };
        let connection_id = new_connection_id();
        let connected_at_ms = chrono::Utc::now().timestamp_millis();
        let source_ip = peer.ip().to_string();
        let event = self.event(
            "$connect",
            "CONNECT",
            &connection_id,
            connected_at_ms,
            &source_ip,
            None,
            Some(&head),
        );
        let status = match self.invoker.invoke(&self.routes.connect, event).await {
            Ok(answer) => answer["statusCode"].as_u64().unwrap_or(500) as u16,
            Err(error) => {
                tracing::error!(%error, "$connect failed");
                500
            }
        };
        if !(200..300).contains(&status) {
            let reason = StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Refused");
            let _ = stream
                .write_all(format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes())
                .await;
            return;
        }
        let accept = derive_accept_key(key.as_bytes());
        let upgraded = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
        );
        if stream.write_all(upgraded.as_bytes()).await.is_err() {
            return;
        }
        let socket = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
        self.run_connection(socket, connection_id, connected_at_ms, source_ip)
            .await;
    }

    async fn run_connection(
        self: Arc<Self>,
        socket: WebSocketStream<TcpStream>,
        connection_id: String,
        connected_at_ms: i64,
        source_ip: String,
    ) {
        let (mut sink, mut frames) = socket.split();
        let (sender, mut outgoing) = mpsc::unbounded_channel::<Message>();
        self.lock().insert(
            connection_id.clone(),
            Connection {
                sender: sender.clone(),
                connected_at_ms,
                last_active_ms: connected_at_ms,
                source_ip: source_ip.clone(),
            },
        );
        let writer = tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                let closing = matches!(message, Message::Close(_));
                if sink.send(message).await.is_err() || closing {
                    break;
                }
            }
        });
        let deadline = tokio::time::Instant::now() + MAX_CONNECTION;
        let (status, reason) = loop {
            let next = tokio::time::timeout(IDLE_TIMEOUT, frames.next());
            let frame = match tokio::time::timeout_at(deadline, next).await {
                Err(_) => break (1001, "Going away"),
                Ok(Err(_)) => break (1001, "Going away"),
                Ok(Ok(None)) | Ok(Ok(Some(Err(_)))) => break (1006, "Connection lost"),
                Ok(Ok(Some(Ok(frame)))) => frame,
            };
            if let Some(connection) = self.lock().get_mut(&connection_id) {
                connection.last_active_ms = chrono::Utc::now().timestamp_millis();
            }
            let body = match frame {
                Message::Text(text) => text.to_string(),
                Message::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Message::Close(_) => break (1000, "Client closed"),
                _ => continue,
            };
            if body.len() > MAX_FRAME {
                let _ = sender.send(Message::Close(Some(CloseFrame {
                    code: CloseCode::Size,
                    reason: "Message too big".into(),
                })));
                break (1009, "Message too big");
            }
            let route = route_of(&body);
            let function = match route {
                "subscribe" => &self.routes.subscribe,
                "unsubscribe" => &self.routes.unsubscribe,
                _ => &self.routes.default,
            };
            let event = self.event(
                route,
                "MESSAGE",
                &connection_id,
                connected_at_ms,
                &source_ip,
                Some(&body),
                None,
            );
            match self.invoker.invoke(function, event).await {
                // The route response: the function's body goes back to the client.
                Ok(answer) => {
                    if let Some(text) = answer["body"].as_str().filter(|t| !t.is_empty()) {
                        let _ = sender.send(Message::text(text.to_string()));
                    }
                }
                Err(error) => {
                    tracing::error!(%error, route, "route failed");
                    let frame = json!({ "message": "Internal server error",
                        "connectionId": connection_id, "requestId": new_connection_id() });
                    let _ = sender.send(Message::text(frame.to_string()));
                }
            }
        };
        self.lock().remove(&connection_id);
        drop(sender);
        let _ = writer.await;
        let mut event = self.event(
            "$disconnect",
            "DISCONNECT",
            &connection_id,
            connected_at_ms,
            &source_ip,
            None,
            None,
        );
        event["requestContext"]["disconnectStatusCode"] = json!(status);
        event["requestContext"]["disconnectReason"] = json!(reason);
        if let Err(error) = self.invoker.invoke(&self.routes.disconnect, event).await {
            tracing::warn!(%error, "$disconnect failed");
        }
    }

    /// An API Gateway WebSocket event, as Lambda receives it.
    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        route: &str,
        event_type: &str,
        connection_id: &str,
        connected_at_ms: i64,
        source_ip: &str,
        body: Option<&str>,
        head: Option<&Head>,
    ) -> Value {
        let now = chrono::Utc::now();
        let mut event = json!({
            "requestContext": {
                "routeKey": route,
                "eventType": event_type,
                "extendedRequestId": new_connection_id(),
                "requestTime": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
                "messageDirection": "IN",
                "stage": "local",
                "connectedAt": connected_at_ms,
                "requestTimeEpoch": now.timestamp_millis(),
                "identity": { "sourceIp": source_ip },
                "requestId": new_connection_id(),
                "domainName": "127.0.0.1",
                "connectionId": connection_id,
                "apiId": "local",
            },
            "isBase64Encoded": false,
        });
        if event_type == "MESSAGE" {
            event["requestContext"]["messageId"] = json!(new_connection_id());
        }
        if let Some(body) = body {
            event["body"] = json!(body);
        }
        if let Some(head) = head {
            let headers: serde_json::Map<String, Value> = head
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            event["headers"] = Value::Object(headers);
            if !head.query.is_empty() {
                let query: serde_json::Map<String, Value> = head
                    .query
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect();
                event["queryStringParameters"] = Value::Object(query);
            }
        }
        event
    }

    /// The `@connections` management API.
    async fn manage(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        let Some(id) = path
            .split_once("/@connections/")
            .map(|(_, id)| percent_decode(id))
        else {
            return reply(StatusCode::NOT_FOUND, json!({ "message": "Not Found" }));
        };
        let method = request.method().clone();
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let mut connections = self.lock();
        let Some(connection) = connections.get(&id) else {
            let mut response = reply(
                StatusCode::GONE,
                json!({ "__type": "GoneException", "message": format!("{id} is gone") }),
            );
            response.headers_mut().insert(
                "x-amzn-errortype",
                "GoneException".parse().expect("static header"),
            );
            return response;
        };
        match method {
            Method::POST => {
                let message = match String::from_utf8(body.to_vec()) {
                    Ok(text) => Message::text(text),
                    Err(_) => Message::binary(body),
                };
                let _ = connection.sender.send(message);
                reply(StatusCode::OK, Value::Null)
            }
            Method::GET => reply(
                StatusCode::OK,
                json!({
                    "ConnectedAt": connection.connected_at_ms as f64 / 1000.0,
                    "LastActiveAt": connection.last_active_ms as f64 / 1000.0,
                    "Identity": { "SourceIp": connection.source_ip, "UserAgent": "" },
                }),
            ),
            Method::DELETE => {
                let _ = connection.sender.send(Message::Close(Some(CloseFrame {
                    code: CloseCode::Normal,
                    reason: "Deleted".into(),
                })));
                connections.remove(&id);
                reply(StatusCode::NO_CONTENT, Value::Null)
            }
            _ => reply(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "message": "Method Not Allowed" }),
            ),
        }
    }
}

/// `$request.body.action`, or `$default`.
fn route_of(body: &str) -> &'static str {
    match serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|frame| frame["action"].as_str().map(str::to_string))
        .as_deref()
    {
        Some("subscribe") => "subscribe",
        Some("unsubscribe") => "unsubscribe",
        _ => "$default",
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let bytes = if body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(body.to_string())
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(bytes))
        .expect("a response")
}

/// An id like API Gateway's: 12 random bytes, base64.
fn new_connection_id() -> String {
    let bytes: [u8; 12] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len() + 1
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The handshake request's path, query and headers.
struct Head {
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// Reads the upgrade request byte by byte (a client sends nothing after it before the `101`).
async fn read_head(stream: &mut TcpStream) -> Option<Head> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HANDSHAKE || stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let target = lines.next()?.split_whitespace().nth(1)?.to_string();
    let query = target
        .split_once('?')
        .map(|(_, query)| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (percent_decode(k), percent_decode(v)))
                .collect()
        })
        .unwrap_or_default();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Head { query, headers })
}

/// Binds `127.0.0.1:port` (0 for any free port).
pub async fn listen(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}
