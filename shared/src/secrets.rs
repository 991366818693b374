//! Secrets come from AWS Secrets Manager, read once when a container starts and kept in its
//! memory only. They are never resolved into environment variables, where anyone allowed
//! `lambda:GetFunctionConfiguration` could read them. Locally (no secret id configured) the
//! plain environment variables stand in.

use std::collections::HashMap;

use crate::error::{ApiError, StoreError};

/// A JSON object secret (`{"secret_key": "…", "webhook_secret": "…"}`) as its string fields.
pub async fn fetch_json(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<HashMap<String, String>, ApiError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| ApiError::Store(StoreError::Sdk(Box::new(err))))?;
    let text = output
        .secret_string()
        .ok_or_else(|| ApiError::invariant(format!("secret {secret_id} has no string value")))?;
    serde_json::from_str(text).map_err(|err| {
        ApiError::invariant(format!(
            "secret {secret_id} is not a JSON object of strings: {err}"
        ))
    })
}
