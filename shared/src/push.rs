//! Messages to WebSocket clients: API Gateway's `@connections` management API
//! (`PostToConnection`), behind a trait so tests and the local gateway can stand in. A connection
//! that answers `410 Gone` has left without a `$disconnect`; the caller forgets it.

use std::future::Future;
use std::pin::Pin;

use crate::error::Result;

/// How a post to a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostOutcome {
    Delivered,
    /// `410 Gone`: the client is no longer connected.
    Gone,
}

pub type PushFuture<'a> = Pin<Box<dyn Future<Output = Result<PostOutcome>> + Send + 'a>>;

pub trait Push: Send + Sync {
    fn post<'a>(&'a self, connection_id: &'a str, data: &'a [u8]) -> PushFuture<'a>;
}

/// `PostToConnection` through `aws-sdk-apigatewaymanagement`, at `WS_MANAGEMENT_ENDPOINT`
/// (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`, or the local gateway's).
#[cfg(feature = "push")]
pub struct ApiGatewayPush {
    client: aws_sdk_apigatewaymanagement::Client,
}

#[cfg(feature = "push")]
impl ApiGatewayPush {
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(config),
        }
    }
}

#[cfg(feature = "push")]
impl Push for ApiGatewayPush {
    fn post<'a>(&'a self, connection_id: &'a str, data: &'a [u8]) -> PushFuture<'a> {
        Box::pin(async move {
            let sent = self
                .client
                .post_to_connection()
                .connection_id(connection_id)
                .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(data))
                .send()
                .await;
            match sent {
                Ok(_) => Ok(PostOutcome::Delivered),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_gone_exception()) =>
                {
                    Ok(PostOutcome::Gone)
                }
                Err(err) => Err(crate::error::ApiError::Store(
                    crate::error::StoreError::Sdk(Box::new(err)),
                )),
            }
        })
    }
}
