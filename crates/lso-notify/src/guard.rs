//! Where notifications may not go: loopback, link-local (169.254.0.0/16, fe80::/10), private
//! and shared ranges, and names that resolve to them, unless the operator allows private
//! callbacks. Checked at registration and again each time a delivery resolves its host, so a
//! name that later resolves elsewhere (DNS rebinding) reaches nothing inside.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long a callback's name has to resolve at registration.
const RESOLVE_WITHIN: Duration = Duration::from_secs(5);

/// Whether `ip` is inside: loopback, link-local, private, shared, unspecified, multicast or
/// broadcast (an IPv4-mapped IPv6 address as its IPv4 address).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => internal_v6(v6),
        },
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

/// Why a callback host is refused, if it is: an internal address, or a name that does not
/// resolve or resolves to one.
pub async fn refusal(host: &str, port: u16) -> Option<String> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return is_internal(ip).then(|| format!("the callback's address {ip} is internal"));
    }
    let resolved = tokio::time::timeout(RESOLVE_WITHIN, tokio::net::lookup_host((host, port))).await;
    match resolved {
        Ok(Ok(addresses)) => {
            let addresses: Vec<SocketAddr> = addresses.collect();
            match addresses.iter().find(|a| is_internal(a.ip())) {
                Some(inside) => {
                    Some(format!("the callback's host `{host}` resolves to internal address {}", inside.ip()))
                }
                None if addresses.is_empty() => Some(format!("the callback's host `{host}` does not resolve")),
                None => None,
            }
        }
        Ok(Err(_)) | Err(_) => Some(format!("the callback's host `{host}` does not resolve")),
    }
}

/// The system's resolver, keeping only addresses outside.
#[derive(Debug, Clone, Copy)]
pub struct OutsideOnly;

impl Resolve for OutsideOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let outside: Vec<SocketAddr> = addresses.into_iter().filter(|a| !is_internal(a.ip())).collect();
            if outside.is_empty() {
                let refused = std::io::Error::other(format!("`{host}` resolves to no address outside"));
                return Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(outside.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges_are_known() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.0.1",
        ] {
            assert!(is_internal(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["8.8.8.8", "203.0.113.9", "100.128.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!is_internal(outside.parse().unwrap()), "{outside}");
        }
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to() {
        assert!(refusal("localhost", 80).await.unwrap().contains("internal"));
        assert!(refusal("[::1]", 80).await.is_some());
        assert!(refusal("no-such-host.invalid", 80).await.unwrap().contains("does not resolve"));
        assert_eq!(refusal("8.8.8.8", 443).await, None);
        let resolved = OutsideOnly.resolve("localhost".parse().unwrap()).await;
        assert!(resolved.is_err(), "a name resolving inside gives the client no address");
    }
}
