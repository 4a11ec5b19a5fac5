//! Address guard: keeps a feed from steering Kurator into the local network.
//!
//! Kurator republishes what it fetches. If a public feed could redirect us to
//! `http://127.0.0.1:8080/admin` or `http://169.254.169.254/` (cloud metadata),
//! the response would end up in a public topic feed. The guard owns the rules
//! for which addresses a fetch may connect to. They apply in this order:
//!
//! 1. **Which kind of source.** Decided once per fetch from the source's
//!    *configured* URL: an *intranet source* is one whose configured host is
//!    a non-public IP literal, or a name whose DNS answers are all
//!    non-public. Every other source is a *public source*, including one
//!    whose name has both public and non-public answers.
//! 2. **Per connection, never per host name.** The rules below judge each
//!    address actually connected to, on every hop (the configured URL,
//!    every redirect, a feed found on a source's page): an IP literal in a
//!    URL before the request is sent, a name's DNS answers in the resolver.
//!    Answers a rule refuses are dropped and only the allowed ones are
//!    connected to; when none is left, the fetch fails with an error naming
//!    the host, the refused address and why. Judging the answers we connect
//!    to (not an earlier lookup) also defeats DNS rebinding.
//! 3. **A public source** may only reach public addresses, on every hop.
//! 4. **An intranet source** reaches its configured host as configured: the
//!    operator asked for it explicitly.
//! 5. **A hop of an intranet source to another host** (a redirect or a feed
//!    found on its page) may not reach link-local addresses
//!    (`169.254.0.0/16`, `fe80::/10`) or the cloud metadata address
//!    `fd00:ec2::254`, and may reach this machine's loopback (or the
//!    unspecified address, which connects there) only when the source itself
//!    is on loopback.
//! 6. **IPv6 forms that carry an IPv4 address** (IPv4-mapped, NAT64
//!    `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address;
//!    the deprecated IPv4-compatible and IPv4-translated forms, Teredo
//!    (`2001::/32`) and local-use NAT64 (`64:ff9b:1::/48`) are never public.
//!
//! Proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`)
//! are not used: a proxy resolves and connects to the targets itself, out of
//! the guard's sight (see [`crate::fetch::Fetcher`]).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is not public, for error messages.
pub type NonPublicReason = &'static str;

/// DNS answers that replace the system resolver's for some names. Only tests
/// use this, to give one name a "public" and a private loopback address.
#[doc(hidden)]
pub type DnsOverrides = HashMap<String, Vec<IpAddr>>;

/// The rule of a public source (rule 3).
pub const PUBLIC_RULE: &str = "a public source may only reach public addresses";
/// Rule 5, for link-local and metadata addresses.
pub const LINK_LOCAL_RULE: &str =
    "a redirect from an intranet source may not reach link-local or cloud metadata addresses";
/// Rule 5, for loopback.
pub const LOOPBACK_RULE: &str = "a redirect from an intranet source may reach this machine's \
                                 loopback only if the source itself is on loopback";

/// The cloud metadata service's IPv6 address (AWS); its IPv4 address
/// `169.254.169.254` is link-local.
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Classifies addresses as public or not.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Addresses treated as public although they are not. Only tests use this,
    /// to play a "public" server on loopback.
    #[doc(hidden)]
    pub pretend_public: Vec<IpAddr>,
}

/// What kind of source a fetch is for (rule 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Public,
    Intranet {
        /// Every address of the configured host is this machine's loopback.
        on_loopback: bool,
    },
}

/// Which addresses one hop of a fetch may connect to (rules 3–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses only.
    Public,
    /// Anything: an intranet source's configured host.
    AsConfigured,
    /// Anything but link-local and metadata addresses, and loopback unless
    /// `loopback` is set.
    IntranetRedirect { loopback: bool },
}

impl Reach {
    /// The reach of a hop to `hop` of a fetch for a source of `kind` that is
    /// configured as `configured`.
    pub fn of_hop(kind: SourceKind, configured: &url::Url, hop: &url::Url) -> Reach {
        match kind {
            SourceKind::Public => Reach::Public,
            SourceKind::Intranet { .. } if hop.host() == configured.host() => Reach::AsConfigured,
            SourceKind::Intranet { on_loopback } => Reach::IntranetRedirect {
                loopback: on_loopback,
            },
        }
    }
}

/// Why an address may not be reached: what it is and which rule refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub reason: NonPublicReason,
    pub rule: &'static str,
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

    /// `None` when a hop of `reach` may connect to `ip`, else why not.
    pub fn refusal(&self, reach: Reach, ip: IpAddr) -> Option<Refusal> {
        match reach {
            Reach::AsConfigured => None,
            Reach::Public => self.non_public_reason(ip).map(|reason| Refusal {
                reason,
                rule: PUBLIC_RULE,
            }),
            Reach::IntranetRedirect { loopback } => {
                let ip = carried_ipv4(ip).map_or(ip, IpAddr::V4);
                if ip == IpAddr::V6(METADATA_V6) {
                    return Some(Refusal {
                        reason: "the cloud metadata address",
                        rule: LINK_LOCAL_RULE,
                    });
                }
                let link_local = match ip {
                    IpAddr::V4(v4) => v4.is_link_local(),
                    IpAddr::V6(v6) => v6.is_unicast_link_local(),
                };
                if link_local {
                    return Some(Refusal {
                        reason: "a link-local address",
                        rule: LINK_LOCAL_RULE,
                    });
                }
                if !loopback && reaches_this_machine(ip) {
                    let reason = if ip.is_unspecified() {
                        "an unspecified address (it connects to this machine)"
                    } else {
                        "a loopback address"
                    };
                    return Some(Refusal {
                        reason,
                        rule: LOOPBACK_RULE,
                    });
                }
                None
            }
        }
    }

    /// Rule 1, from the configured host's addresses (one for an IP literal,
    /// the DNS answers for a name).
    pub fn source_kind(&self, addresses: &[IpAddr]) -> SourceKind {
        if addresses.is_empty()
            || addresses
                .iter()
                .any(|ip| self.non_public_reason(*ip).is_none())
        {
            return SourceKind::Public;
        }
        SourceKind::Intranet {
            on_loopback: addresses
                .iter()
                .all(|ip| reaches_this_machine(carried_ipv4(*ip).map_or(*ip, IpAddr::V4))),
        }
    }
}

/// Loopback, or unspecified (connecting to `0.0.0.0` or `::` reaches this
/// machine too).
fn reaches_this_machine(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped `::ffff:a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::/48`, IPv4-compatible
/// `::a.b.c.d` and IPv4-translated `::ffff:0:a.b.c.d`. `::` and `::1` are
/// IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
fn carried_ipv4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    if v6.is_unspecified() || v6.is_loopback() {
        return None;
    }
    let s = v6.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] // mapped
        | [0x64, 0xff9b, 0, 0, 0, 0, _, _] // NAT64
        | [0, 0, 0, 0, 0, 0, _, _] // compatible
        | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low), // translated
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
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
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    let s = ip.segments();
    let carried = carried_ipv4(IpAddr::V6(ip));
    match (s[0], s[1], carried) {
        // IPv4-mapped, NAT64 and 6to4 reach the IPv4 address they carry.
        (0, _, Some(v4)) if s[5] == 0xffff => v4_reason(v4),
        (0x64, 0xff9b, Some(v4)) | (0x2002, _, Some(v4)) => v4_reason(v4),
        // IPv4-compatible and -translated are deprecated and never public.
        (0, _, Some(v4)) => Some(v4_reason(v4).unwrap_or(if s[4] == 0xffff {
            "an IPv4-translated address"
        } else {
            "an IPv4-compatible address"
        })),
        (0, ..) => Some("a reserved address"),
        (0x64, 0xff9b, None) if s[2] == 1 => Some("a local-use NAT64 address"),
        (0x100, 0, _) if s[2..4] == [0, 0] => Some("a discard-only address"),
        (0x2001, 0, _) => Some("a Teredo tunnel address"),
        (0x2001, 2, _) if s[2] == 0 => Some("a benchmarking address"),
        (0x2001, 0x10..=0x1f, _) => Some("an ORCHID (overlay) address"),
        (0x2001, 0x0db8, _) | (0x3fff, 0..=0x0fff, _) => Some("a documentation address"),
        (0xfc00..=0xfdff, ..) => Some("a unique-local (private) address"),
        (0xfe80..=0xfebf, ..) => Some("a link-local address"),
        (0xfec0..=0xfeff, ..) => Some("a site-local address"),
        (0xff00..=0xffff, ..) => Some("a multicast address"),
        _ => None,
    }
}

/// A connection a rule refused, as the error the fetcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The host as written in the URL (a name or an IP literal).
    pub host: String,
    pub addr: IpAddr,
    pub refusal: Refusal,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        if host.parse() == Ok(self.addr) {
            write!(f, "refused to connect to {}", self.addr)?;
        } else {
            write!(f, "refused to connect to {host} ({})", self.addr)?;
        }
        write!(f, ": {}; {}", self.refusal.reason, self.refusal.rule)
    }
}

impl std::error::Error for Refused {}

/// Resolves `host`, with the test overrides in `dns` first.
pub(crate) async fn lookup(
    dns: &DnsOverrides,
    host: &str,
    port: u16,
) -> std::io::Result<Vec<SocketAddr>> {
    if let Some(answers) = dns.get(host) {
        return Ok(answers
            .iter()
            .map(|ip| SocketAddr::new(*ip, port))
            .collect());
    }
    Ok(tokio::net::lookup_host((host, port)).await?.collect())
}

/// A resolver that hands the connector only the answers `reach` allows
/// (rule 2), and fails with [`Refused`] when there are none.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: Arc<AddressPolicy>,
    pub reach: Reach,
    pub dns: Arc<DnsOverrides>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        let host = name.as_str().to_owned();
        let resolving: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
            let answers = lookup(&resolver.dns, &host, 0).await?;
            let (allowed, refused) = resolver.judge(&host, answers);
            match (allowed.is_empty(), refused) {
                (true, Some(refused)) => Err(Box::new(refused) as _),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        });
        resolving
    }
}

impl GuardedResolver {
    /// The answers `reach` allows, and the first one it refused.
    fn judge(&self, host: &str, answers: Vec<SocketAddr>) -> (Vec<SocketAddr>, Option<Refused>) {
        let mut first_refused = None;
        let allowed = answers
            .into_iter()
            .filter(|answer| {
                let Some(refusal) = self.policy.refusal(self.reach, answer.ip()) else {
                    return true;
                };
                tracing::debug!(host, addr = %answer.ip(), reason = refusal.reason, "DNS answer refused");
                first_refused.get_or_insert(Refused {
                    host: host.to_owned(),
                    addr: answer.ip(),
                    refusal,
                });
                false
            })
            .collect();
        (allowed, first_refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<NonPublicReason> {
        AddressPolicy::default().non_public_reason(s.parse().unwrap())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_ranges() {
        for public in [
            "8.8.8.8",
            "193.99.144.80",
            "2a00:1450:4001:80b::200e",
            "100.63.0.1",
            "172.32.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
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
        assert_eq!(
            reason("fd00:ec2::254"),
            Some("a unique-local (private) address")
        );
        assert_eq!(reason("ff02::1"), Some("a multicast address"));
        assert_eq!(reason("::ffff:192.168.0.1"), Some("a private address"));
        assert_eq!(reason("64:ff9b::7f00:1"), Some("a loopback address"));
    }

    #[test]
    fn ipv6_forms_that_carry_ipv4_and_tunnels() {
        // 6to4 is judged by the IPv4 address it carries.
        assert_eq!(reason("2002:7f00:1::1"), Some("a loopback address"));
        assert_eq!(reason("2002:a9fe:a9fe::"), Some("a link-local address"));
        assert_eq!(reason("2002:c0a8:1::1"), Some("a private address"));
        // Teredo and local-use NAT64 are never public.
        assert_eq!(
            reason("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            Some("a Teredo tunnel address")
        );
        assert_eq!(
            reason("64:ff9b:1::808:808"),
            Some("a local-use NAT64 address")
        );
        // IPv4-translated and IPv4-compatible: the carried address's reason,
        // or their own when that one is public.
        assert_eq!(reason("::ffff:0:7f00:1"), Some("a loopback address"));
        assert_eq!(
            reason("::ffff:0:808:808"),
            Some("an IPv4-translated address")
        );
        assert_eq!(reason("::7f00:1"), Some("a loopback address"));
        assert_eq!(reason("::808:808"), Some("an IPv4-compatible address"));
        assert_eq!(reason("::1:0:0:1"), Some("a reserved address"));
        assert_eq!(reason("100::1"), Some("a discard-only address"));
        assert_eq!(reason("2001:2::1"), Some("a benchmarking address"));
        assert_eq!(reason("2001:db8::1"), Some("a documentation address"));
        assert_eq!(reason("3fff::1"), Some("a documentation address"));
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

    #[test]
    fn source_kind_needs_all_answers_non_public() {
        let policy = AddressPolicy::default();
        let kind = |answers: &[&str]| {
            policy.source_kind(&answers.iter().map(|a| ip(a)).collect::<Vec<_>>())
        };
        assert_eq!(kind(&["10.0.0.5", "8.8.8.8"]), SourceKind::Public);
        assert_eq!(kind(&["127.0.0.1", "2a00:1450::1"]), SourceKind::Public);
        assert_eq!(
            kind(&["10.0.0.5", "fd00::5"]),
            SourceKind::Intranet { on_loopback: false }
        );
        assert_eq!(
            kind(&["127.0.0.1", "10.0.0.5"]),
            SourceKind::Intranet { on_loopback: false }
        );
        assert_eq!(
            kind(&["127.0.0.1", "::1"]),
            SourceKind::Intranet { on_loopback: true }
        );
    }

    #[test]
    fn hops_of_an_intranet_source() {
        let policy = AddressPolicy::default();
        let configured = url::Url::parse("http://intranet.example/feed").unwrap();
        let kind = SourceKind::Intranet { on_loopback: false };
        let reach = |hop: &str| Reach::of_hop(kind, &configured, &url::Url::parse(hop).unwrap());
        assert_eq!(reach("http://intranet.example:8080/x"), Reach::AsConfigured);
        let redirect = reach("http://other.example/x");
        assert_eq!(redirect, Reach::IntranetRedirect { loopback: false });
        // The configured host is reached as configured, whatever it is.
        assert_eq!(policy.refusal(Reach::AsConfigured, ip("169.254.1.1")), None);
        // Other hosts: private and public are fine; link-local, metadata and
        // this machine's loopback are not.
        for allowed in ["10.0.0.7", "192.168.1.2", "8.8.8.8", "fd00::7"] {
            assert_eq!(policy.refusal(redirect, ip(allowed)), None, "{allowed}");
        }
        for (refused, reason, rule) in [
            ("169.254.169.254", "a link-local address", LINK_LOCAL_RULE),
            (
                "::ffff:169.254.169.254",
                "a link-local address",
                LINK_LOCAL_RULE,
            ),
            ("fe80::1", "a link-local address", LINK_LOCAL_RULE),
            (
                "fd00:ec2::254",
                "the cloud metadata address",
                LINK_LOCAL_RULE,
            ),
            ("127.0.0.1", "a loopback address", LOOPBACK_RULE),
            ("127.1.2.3", "a loopback address", LOOPBACK_RULE),
            ("::1", "a loopback address", LOOPBACK_RULE),
            ("::ffff:127.0.0.1", "a loopback address", LOOPBACK_RULE),
            (
                "0.0.0.0",
                "an unspecified address (it connects to this machine)",
                LOOPBACK_RULE,
            ),
        ] {
            assert_eq!(
                policy.refusal(redirect, ip(refused)),
                Some(Refusal { reason, rule }),
                "{refused}"
            );
        }
        // A source on loopback may be redirected to loopback, not to metadata.
        let from_loopback = Reach::IntranetRedirect { loopback: true };
        assert_eq!(policy.refusal(from_loopback, ip("127.0.0.1")), None);
        assert!(
            policy
                .refusal(from_loopback, ip("169.254.169.254"))
                .is_some()
        );
        // A public source's hops are all public-only.
        let public = Reach::of_hop(SourceKind::Public, &configured, &configured);
        assert_eq!(public, Reach::Public);
        assert_eq!(
            policy.refusal(public, ip("10.0.0.7")),
            Some(Refusal {
                reason: "a private address",
                rule: PUBLIC_RULE
            })
        );
    }

    #[tokio::test]
    async fn resolver_keeps_only_allowed_answers() {
        let dns: DnsOverrides = [
            ("mixed.test".into(), vec![ip("127.0.0.2"), ip("8.8.8.8")]),
            ("private.test".into(), vec![ip("10.0.0.1"), ip("::1")]),
        ]
        .into();
        let resolver = GuardedResolver {
            policy: Arc::new(AddressPolicy::default()),
            reach: Reach::Public,
            dns: Arc::new(dns),
        };
        let resolve = |name: &str| resolver.resolve(name.parse().unwrap());
        let allowed: Vec<IpAddr> = match resolve("mixed.test").await {
            Ok(addrs) => addrs.map(|a| a.ip()).collect(),
            Err(err) => panic!("{err}"),
        };
        assert_eq!(allowed, [ip("8.8.8.8")]);
        let err = match resolve("private.test").await {
            Ok(_) => panic!("private.test must be refused"),
            Err(err) => err,
        };
        assert_eq!(
            err.to_string(),
            "refused to connect to private.test (10.0.0.1): a private address; \
             a public source may only reach public addresses"
        );
        assert!(err.downcast_ref::<Refused>().is_some());
    }
}
