//! Stripe: the Checkout/refund API client, webhook signatures, and the webhook events Burst acts on.

pub mod events;
pub mod gateway;
pub mod signature;
