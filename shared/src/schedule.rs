//! The entry point of scheduled (EventBridge) functions such as the sweeper.

use std::future::Future;
use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::error::Result;

pub async fn run<F, Fut, T>(job: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Arc<App>) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<T>> + Send,
    T: Serialize,
{
    crate::telemetry::init();
    let app = Arc::new(App::from_env().await?);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let app = app.clone();
        // A failed run is reported to Lambda as an error, so the schedule's retry and the
        // function's error metric see it.
        async move { job(app).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}
