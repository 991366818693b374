//! What a warm Lambda container keeps between invocations.

use crate::config::Config;
use crate::domain::sweeper::ExpiryHints;
use crate::payments::PaymentGateway;
use crate::store::Store;

pub struct App {
    pub config: Config,
    pub store: Store,
    /// Stripe, when this function is built with it (feature `stripe`) and
    /// `STRIPE_SECRET_KEY` is configured.
    pub payments: Option<Box<dyn PaymentGateway>>,
    pub expiry_hints: ExpiryHints,
}

impl App {
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> Self {
        let store = Store::new(client, config.table_name.clone());
        let payments = payment_gateway(&config);
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

#[cfg(feature = "stripe")]
fn payment_gateway(config: &Config) -> Option<Box<dyn PaymentGateway>> {
    let stripe = config.stripe.as_ref()?;
    match crate::payments::stripe_gateway::StripeGateway::new(stripe) {
        Ok(gateway) => Some(Box::new(gateway)),
        Err(error) => {
            tracing::error!(%error, "Stripe client could not be built; payments are off");
            None
        }
    }
}

#[cfg(not(feature = "stripe"))]
fn payment_gateway(_config: &Config) -> Option<Box<dyn PaymentGateway>> {
    None
}
