//! The WebSocket edge, mirroring `api.rs` and `http.rs` for API Gateway's WebSocket API: one
//! handler per route (`$connect`, `$disconnect`, `subscribe`, `unsubscribe`, `$default`), each
//! parsing the event, calling one function of `domain::live`, and answering. For `subscribe`,
//! `unsubscribe` and `$default` the answer's body is the frame sent back to the client (the
//! routes have a route response); for `$connect` a non-2xx status refuses the connection.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::app::App;
use crate::auth;
use crate::domain::live;
use crate::error::{ApiError, chain};

pub type WsRequest = ApiGatewayWebsocketProxyRequest;
pub type WsResponse = ApiGatewayProxyResponse;

fn answer(status: i64, frame: Option<&Value>) -> WsResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = frame.map(|frame| Body::Text(frame.to_string()));
    response
}

/// An error as a frame: the connection stays open.
fn error_answer(error: &ApiError) -> WsResponse {
    let (status, code) = error.status_and_code();
    if status.is_server_error() {
        tracing::error!(code, error = %chain(error), "websocket request failed");
    }
    answer(200, Some(&live::error_frame(code, &error.to_string())))
}

fn connection_id(request: &WsRequest) -> String {
    request
        .request_context
        .connection_id
        .clone()
        .unwrap_or_default()
}

/// `$connect`: `?token=` makes the connection personal; a token that does not verify refuses it.
pub async fn connect(app: Arc<App>, request: WsRequest) -> WsResponse {
    let token = request.query_string_parameters.first("token");
    let shopper = match token {
        None => None,
        Some(token) => match auth::identify_token(token, &app.config).await {
            Ok(identity) => Some(identity.subject),
            Err(_) => return answer(401, None),
        },
    };
    match live::connect(&app, &connection_id(&request), shopper, Utc::now()).await {
        Ok(()) => answer(200, None),
        Err(error) => {
            tracing::error!(error = %chain(&error), "connection not recorded");
            answer(500, None)
        }
    }
}

/// `$disconnect`.
pub async fn disconnect(app: Arc<App>, request: WsRequest) -> WsResponse {
    if let Err(error) = live::disconnect(&app, &connection_id(&request)).await {
        tracing::warn!(error = %chain(&error), "disconnect not recorded; TTL will clean up");
    }
    answer(200, None)
}

/// `subscribe`: `{"action": "subscribe", "drop_id": "…"}`.
pub async fn subscribe(app: Arc<App>, request: WsRequest) -> WsResponse {
    match live::subscribe(&app, &connection_id(&request), request.body.as_deref()).await {
        Ok(frame) => answer(200, Some(&frame)),
        Err(error) => error_answer(&error),
    }
}

/// `unsubscribe`: `{"action": "unsubscribe", "drop_id": "…"}`.
pub async fn unsubscribe(app: Arc<App>, request: WsRequest) -> WsResponse {
    match live::unsubscribe(&app, &connection_id(&request), request.body.as_deref()).await {
        Ok(frame) => answer(200, Some(&frame)),
        Err(error) => error_answer(&error),
    }
}

/// `$default`: every frame no other route takes.
pub async fn unknown(_app: Arc<App>, request: WsRequest) -> WsResponse {
    answer(200, Some(&live::unknown_frame(request.body.as_deref())))
}

/// The `main` of a WebSocket route function.
pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Arc<App>, WsRequest) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = WsResponse> + Send,
{
    crate::telemetry::init();
    let app = Arc::new(App::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<WsRequest>| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(handler(app, event.payload).await) }
    }))
    .await
}
