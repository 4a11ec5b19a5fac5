//! Address guard: keeps a public feed from steering Kurator into the local network.
//!
//! Kurator republishes what it fetches. If a public feed could redirect us to
//! `http://127.0.0.1:8080/admin` or `http://169.254.169.254/` (cloud metadata),
//! the response would end up in a public topic feed. So a source whose configured
//! address is public may only ever reach public addresses, checked for IP
//! literals in URLs *and* for every DNS answer (which also defeats DNS rebinding,
//! because the check runs on the addresses we actually connect to).
//!
//! A source configured with a non-public address (an intranet feed) is trusted
//! as configured: the operator asked for it explicitly.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is not public, for error messages.
pub type NonPublicReason = &'static str;

/// Classifies addresses as public or not.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Addresses treated as public although they are not. Only tests use this,
    /// to play a "public" server on loopback.
    #[doc(hidden)]
    pub pretend_public: Vec<IpAddr>,
}

impl AddressPolicy {
    /// `None` when `ip` is public, else why it is not.
    pub fn non_public_reason(&self, ip: IpAddr) -> Option<NonPublicReason> {
        if self.pretend_public.contains(&ip) {
            return None;
        }
        match ip {
            IpAddr::V4(v4) => v4_reason(v4),
            IpAddr::V6(v6) => v6_reason(v6),
        }
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<NonPublicReason> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified (\"this network\") address",
        (10, _, _) => "a private address",
        (100, 64..=127, _) => "a carrier-grade NAT (shared) address",
        (127, _, _) => "a loopback address",
        (169, 254, _) => "a link-local address",
        (172, 16..=31, _) => "a private address",
        (192, 0, 0) => "an IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (192, 168, _) => "a private address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<NonPublicReason> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in the last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, hi, lo] = segments;
        return v4_reason(Ipv4Addr::from(((hi as u32) << 16) | lo as u32));
    }
    Some(match segments[0] {
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xfc00..=0xfdff => "a unique-local (private) address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if segments[1] == 0x0db8 => "a documentation address",
        // IPv4-compatible (deprecated) ::a.b.c.d
        0 if segments[1..6] == [0; 5] => "an IPv4-compatible address",
        _ => return None,
    })
}

/// A DNS answer that pointed at a non-public address for a public source.
#[derive(Debug)]
pub struct NonPublicAnswer {
    pub host: String,
    pub addr: IpAddr,
    pub reason: NonPublicReason,
}

impl std::fmt::Display for NonPublicAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves to {} ({}); a public source may not reach non-public addresses",
            self.host, self.addr, self.reason
        )
    }
}

impl std::error::Error for NonPublicAnswer {}

/// A resolver that refuses names with any non-public answer.
///
/// Refusing the whole name (rather than dropping the bad answers) is deliberate:
/// a public name with a private record is either a misconfiguration or an attack,
/// and either deserves an error that says so.
#[derive(Debug, Clone)]
pub struct PublicOnlyResolver {
    pub policy: Arc<AddressPolicy>,
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        let lookup: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some((addr, reason)) = addrs
                .iter()
                .find_map(|a| policy.non_public_reason(a.ip()).map(|r| (a.ip(), r)))
            {
                return Err(Box::new(NonPublicAnswer { host, addr, reason }) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        });
        lookup
    }
}

/// Resolves `host` and returns the first non-public answer, if any.
pub async fn first_non_public(
    policy: &AddressPolicy,
    host: &str,
    port: u16,
) -> std::io::Result<Option<(IpAddr, NonPublicReason)>> {
    let answers = tokio::net::lookup_host((host, port)).await?;
    Ok(answers
        .map(|a| a.ip())
        .find_map(|ip| policy.non_public_reason(ip).map(|r| (ip, r))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<NonPublicReason> {
        AddressPolicy::default().non_public_reason(s.parse().unwrap())
    }

    #[test]
    fn classifies_ranges() {
        for public in [
            "8.8.8.8",
            "193.99.144.80",
            "2a00:1450:4001:80b::200e",
            "100.63.0.1",
            "172.32.0.1",
        ] {
            assert_eq!(reason(public), None, "{public}");
        }
        assert_eq!(reason("127.0.0.1"), Some("a loopback address"));
        assert_eq!(reason("10.1.2.3"), Some("a private address"));
        assert_eq!(reason("172.20.0.1"), Some("a private address"));
        assert_eq!(reason("192.168.178.1"), Some("a private address"));
        assert_eq!(reason("169.254.169.254"), Some("a link-local address"));
        assert_eq!(
            reason("100.64.0.1"),
            Some("a carrier-grade NAT (shared) address")
        );
        assert_eq!(reason("224.0.0.251"), Some("a multicast address"));
        assert_eq!(
            reason("0.0.0.0"),
            Some("an unspecified (\"this network\") address")
        );
        assert_eq!(reason("::1"), Some("a loopback address"));
        assert_eq!(reason("::"), Some("an unspecified address"));
        assert_eq!(reason("fe80::1"), Some("a link-local address"));
        assert_eq!(reason("fd00::1"), Some("a unique-local (private) address"));
        assert_eq!(reason("ff02::1"), Some("a multicast address"));
        assert_eq!(reason("::ffff:192.168.0.1"), Some("a private address"));
        assert_eq!(reason("64:ff9b::7f00:1"), Some("a loopback address"));
    }

    #[test]
    fn pretend_public_overrides() {
        let policy = AddressPolicy {
            pretend_public: vec!["127.0.0.1".parse().unwrap()],
        };
        assert_eq!(policy.non_public_reason("127.0.0.1".parse().unwrap()), None);
        assert!(
            policy
                .non_public_reason("127.0.0.2".parse().unwrap())
                .is_some()
        );
    }

    #[tokio::test]
    async fn resolver_refuses_localhost() {
        let resolver = PublicOnlyResolver {
            policy: Arc::new(AddressPolicy::default()),
        };
        let name: Name = "localhost".parse().unwrap();
        let err = match resolver.resolve(name).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(err) => err,
        };
        let answer = err
            .downcast_ref::<NonPublicAnswer>()
            .expect("a NonPublicAnswer");
        assert_eq!(answer.reason, "a loopback address");
        assert!(
            answer
                .to_string()
                .contains("a public source may not reach non-public addresses")
        );
    }
}
