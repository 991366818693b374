//! Configuration, from the environment variables named in `template.yaml` and the README.

#[derive(Debug, Clone)]
pub struct Config {
    /// `TABLE_NAME`: the single table (default `burst`, the local name).
    pub table_name: String,
    /// `BURST_DEV_JWT_SECRET`: local development only. When set, handlers verify HS256 bearer
    /// tokens themselves; when unset (always in AWS), identity comes from the API Gateway JWT
    /// authorizer. `template.yaml` never sets it.
    pub dev_jwt_secret: Option<String>,
}

impl Config {
    pub fn from_env() -> Self {
        Self {
            table_name: std::env::var("TABLE_NAME").unwrap_or_else(|_| "burst".into()),
            dev_jwt_secret: std::env::var("BURST_DEV_JWT_SECRET")
                .ok()
                .filter(|s| !s.is_empty()),
        }
    }
}
