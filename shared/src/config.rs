//! Configuration, from the environment variables named in `template.yaml` and the README.

use crate::payments::StripeConfig;

#[derive(Debug, Clone)]
pub struct Config {
    /// `TABLE_NAME`: the single table (default `burst`, the local name).
    pub table_name: String,
    /// `BURST_DEV_JWT_SECRET`: local development only. When set, handlers verify HS256 bearer
    /// tokens themselves; when unset (always in AWS), identity comes from the API Gateway JWT
    /// authorizer. `template.yaml` never sets it.
    pub dev_jwt_secret: Option<String>,
    /// `STRIPE_SECRET_KEY`, `STRIPE_API_BASE`, `CHECKOUT_RETURN_URL`: payments are off (503
    /// `payments_unavailable`) without the key.
    pub stripe: Option<StripeConfig>,
    /// `STRIPE_WEBHOOK_SECRET`: the webhook endpoint's signing secret (`whsec_…`).
    pub stripe_webhook_secret: Option<String>,
}

impl Config {
    pub fn from_env() -> Self {
        Self {
            table_name: std::env::var("TABLE_NAME").unwrap_or_else(|_| "burst".into()),
            dev_jwt_secret: non_empty("BURST_DEV_JWT_SECRET"),
            stripe: non_empty("STRIPE_SECRET_KEY").map(|secret_key| StripeConfig {
                secret_key,
                api_base: non_empty("STRIPE_API_BASE"),
                return_url: non_empty("CHECKOUT_RETURN_URL")
                    .unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            }),
            stripe_webhook_secret: non_empty("STRIPE_WEBHOOK_SECRET"),
        }
    }
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
