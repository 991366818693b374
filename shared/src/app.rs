//! What a warm Lambda container keeps between invocations.

use crate::config::Config;
use crate::domain::sweeper::ExpiryHints;
use crate::store::Store;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub expiry_hints: ExpiryHints,
}

impl App {
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> Self {
        let store = Store::new(client, config.table_name.clone());
        Self {
            config,
            store,
            expiry_hints: ExpiryHints::default(),
        }
    }

    /// Reads the configuration and builds the DynamoDB client from the standard AWS environment
    /// (`AWS_REGION`, credentials, and `AWS_ENDPOINT_URL` for DynamoDB Local).
    pub async fn from_env() -> Self {
        let sdk = aws_config::load_from_env().await;
        Self::new(Config::from_env(), aws_sdk_dynamodb::Client::new(&sdk))
    }
}
