//! What a warm Lambda container keeps between invocations.

use crate::config::Config;
use crate::domain::sweeper::ExpiryHints;
use crate::payments::gateway::StripeGateway;
use crate::store::Store;

pub struct App {
    pub config: Config,
    pub store: Store,
    /// Stripe, when `STRIPE_SECRET_KEY` is configured.
    pub payments: Option<StripeGateway>,
    pub expiry_hints: ExpiryHints,
}

impl App {
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> Self {
        let store = Store::new(client, config.table_name.clone());
        let payments = config
            .stripe
            .as_ref()
            .and_then(|stripe| match StripeGateway::new(stripe) {
                Ok(gateway) => Some(gateway),
                Err(error) => {
                    tracing::error!(%error, "Stripe client could not be built; payments are off");
                    None
                }
            });
        Self {
            config,
            store,
            payments,
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
