//! Who is asking, as the use cases that limit and count requests need it.

/// The authenticated shopper and the address API Gateway (or CloudFront) saw.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub shopper: &'a str,
    /// The token's groups (early access).
    pub groups: &'a [String],
    pub source_ip: &'a str,
}

/// The network one per-address limit counts: an IPv4 address itself (also when it arrives
/// IPv4-mapped, `::ffff:a.b.c.d`), an IPv6 address's /64. An ISP hands each IPv6 subscriber at
/// least a /64 (RFC 6177), and a client can take a fresh address of it for every request, so
/// counting full IPv6 addresses would give one client a limit per request. Anything that is not
/// an address (`unknown`) is counted as it is.
pub fn limited_network(source_ip: &str) -> String {
    use std::net::{IpAddr, Ipv6Addr};
    match source_ip.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Ok(IpAddr::V6(ip)) => {
            let prefix = ip.to_bits() & !(u128::from(u64::MAX));
            format!("{}/64", Ipv6Addr::from_bits(prefix))
        }
        Err(_) => source_ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_address_is_limited_by_its_64_and_ipv4_by_itself() {
        assert_eq!(limited_network("2001:db8:1:2::7"), "2001:db8:1:2::/64");
        assert_eq!(
            limited_network("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(limited_network("2001:db8:1:3::7"), "2001:db8:1:3::/64");
        assert_eq!(limited_network("198.51.100.7"), "198.51.100.7");
        assert_eq!(limited_network("::ffff:198.51.100.7"), "198.51.100.7");
        // What API Gateway could not tell stays what it is.
        assert_eq!(limited_network("unknown"), "unknown");
    }
}
