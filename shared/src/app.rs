//! What a warm Lambda container keeps between invocations: its configuration, the store (with the
//! container's caches) and, where the function calls Stripe, the payment gateway.

use crate::config::Config;
use crate::model::admission::KeyError;
use crate::payments::PaymentGateway;
use crate::store::Store;
use crate::store::cache::Caching;

pub struct App {
    pub config: Config,
    pub store: Store,
    /// Stripe, when this function is built with it (feature `stripe`) and
    /// `STRIPE_SECRET_KEY` is configured.
    pub payments: Option<Box<dyn PaymentGateway>>,
}

impl App {
    /// An app over `client` with `config`; everything else is the builder's to set.
    pub fn builder(config: Config, client: aws_sdk_dynamodb::Client) -> AppBuilder {
        AppBuilder {
            config,
            client,
            caching: Caching::CONTAINER,
        }
    }

    /// Reads the configuration and builds the DynamoDB client from the standard AWS environment
    /// (`AWS_REGION`, credentials, and `AWS_ENDPOINT_URL` for DynamoDB Local); functions that hold
    /// secrets read them from Secrets Manager here, once per container. Keys that cannot work
    /// (an admission private key that is not `ADMISSION_PUBLIC_KEY`'s other half) fail the
    /// container's init, logged, rather than refuse every claim without a word.
    pub async fn from_env() -> Result<Self, KeyError> {
        let sdk = aws_config::load_from_env().await;
        let mut config = Config::from_env().inspect_err(log_refused_keys)?;
        load_secrets(&sdk, &mut config)
            .await
            .inspect_err(log_refused_keys)?;
        Ok(Self::builder(config, aws_sdk_dynamodb::Client::new(&sdk)).build())
    }
}

fn log_refused_keys(error: &KeyError) {
    tracing::error!(%error, "the admission keys are misconfigured; this function will not start");
}

/// Builds an `App` once, with every setting given up front: nothing can rebuild one later and
/// silently fall back to another setting.
pub struct AppBuilder {
    config: Config,
    client: aws_sdk_dynamodb::Client,
    caching: Caching,
}

impl AppBuilder {
    /// How long the container reuses what it read (`Caching::CONTAINER` unless set).
    pub fn caching(mut self, caching: Caching) -> Self {
        self.caching = caching;
        self
    }

    pub fn build(self) -> App {
        let store = Store::new(self.client, self.config.table_name.clone(), self.caching);
        let payments = payment_gateway(&self.config);
        App {
            config: self.config,
            store,
            payments,
        }
    }
}

#[cfg(feature = "secrets")]
async fn load_secrets(sdk: &aws_config::SdkConfig, config: &mut Config) -> Result<(), KeyError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    // Without its keys a function answers 503 (payments_unavailable, queue_unavailable), and
    // the next cold start tries again.
    if let Some(secret_id) = config.stripe_secret_id.clone() {
        match crate::secrets::fetch_json(&client, &secret_id).await {
            Ok(fields) => config.use_stripe_secret(&fields),
            Err(error) => tracing::error!(secret_id, error = %crate::error::chain(&error),
                "the Stripe secret could not be read; payments are off"),
        }
    }
    if let Some(secret_id) = config.admission_secret_id.clone() {
        match crate::secrets::fetch_json(&client, &secret_id).await {
            Ok(fields) => config.use_admission_secret(&fields)?,
            Err(error) => tracing::error!(secret_id, error = %crate::error::chain(&error),
                "the admission key could not be read; admissions cannot be shown"),
        }
    }
    Ok(())
}

#[cfg(not(feature = "secrets"))]
async fn load_secrets(_sdk: &aws_config::SdkConfig, _config: &mut Config) -> Result<(), KeyError> {
    Ok(())
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
