//! Who is asking, as the use cases that limit and count requests need it.

/// The authenticated shopper and the address API Gateway (or CloudFront) saw.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub shopper: &'a str,
    /// The token's groups (early access).
    pub groups: &'a [String],
    pub source_ip: &'a str,
}
