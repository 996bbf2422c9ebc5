//! The egress guard: which addresses the server may fetch on someone else's say (a client's `jwks_uri`, the URLs of
//! a key manager added at run time, a discovery URL, anything later).
//!
//! An allowlist: only **global unicast** addresses pass. Loopback, private (RFC 1918), shared (RFC 6598),
//! link-local (cloud metadata at `169.254.169.254`), unique-local, unspecified, multicast, broadcast, documentation,
//! benchmarking and reserved ranges are refused, and so are IPv6 forms that carry such an IPv4 address (mapped,
//! compatible, NAT64). The check runs on the **resolved** address (a [`reqwest::dns::Resolve`] that drops refused
//! ones, so a name that resolves to `127.0.0.1`, or re-resolves to it later, is refused) and on address literals in
//! the URL (which no resolver sees: `http://127.1/`, `http://2130706433/` and `http://[::1]/` are parsed to their
//! addresses first). Only `https` is fetched. [`Egress::AllowPrivate`] (`[server] allow_private_fetches = true`)
//! lifts both rules, for development and tests against peers on this machine.
//!
//! ```
//! use keymanager::connector_kit::Egress;
//! let guard = Egress::PublicOnly;
//! assert!(guard.check_url(&"https://idp.example.com/jwks".parse().unwrap()).is_ok());
//! for refused in ["http://idp.example.com/jwks", "https://127.1/", "https://2130706433/", "https://[::1]/",
//!                 "https://169.254.169.254/latest/meta-data", "https://10.0.0.8/", "https://[::ffff:192.168.0.1]/"] {
//!     assert!(guard.check_url(&refused.parse().unwrap()).is_err(), "{refused}");
//! }
//! assert!(Egress::AllowPrivate.check_url(&"http://127.0.0.1:8080/jwks".parse().unwrap()).is_ok());
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

use crate::{Error, Result};

/// What the server may fetch on someone else's say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Egress {
    /// `https` to global unicast addresses only (the default).
    #[default]
    PublicOnly,
    /// Anything (`[server] allow_private_fetches = true`): for development and tests.
    AllowPrivate,
}

impl Egress {
    /// From `[server] allow_private_fetches`.
    pub fn from_setting(allow_private_fetches: Option<bool>) -> Self {
        if allow_private_fetches == Some(true) {
            Egress::AllowPrivate
        } else {
            Egress::PublicOnly
        }
    }

    /// Check a URL before fetching it: the scheme, and the host when it is an address literal.
    pub fn check_url(self, url: &Url) -> Result<()> {
        if self == Egress::AllowPrivate {
            return Ok(());
        }
        if url.scheme() != "https" {
            return Err(refused(url, "only https is fetched"));
        }
        let ip = match url.host() {
            Some(Host::Ipv4(a)) => IpAddr::V4(a),
            Some(Host::Ipv6(a)) => IpAddr::V6(a),
            // RFC 6761 §6.3: `localhost` names are loopback, whatever a resolver says; other names are checked when
            // resolved, at every fetch.
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                return if d == "localhost" || d.ends_with(".localhost") {
                    Err(refused(url, "localhost names are loopback"))
                } else {
                    Ok(())
                };
            }
            None => return Err(refused(url, "the URL has no host")),
        };
        self.check_address(ip).map_err(|why| refused(url, why))
    }

    /// Check one resolved address.
    pub fn check_address(self, ip: IpAddr) -> std::result::Result<(), &'static str> {
        if self == Egress::AllowPrivate || is_global(ip) {
            Ok(())
        } else {
            Err("the address is not a public one (loopback, private, link-local or reserved)")
        }
    }

    /// The DNS resolver of a guarded client: the system's, with refused addresses dropped (none left: an error).
    pub fn resolver(self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver(self))
    }
}

fn refused(url: &Url, why: &str) -> Error {
    let shown = crate::http::response::url_for_logs(url);
    Error::forbidden(format!(
        "the egress guard refuses to fetch {shown}: {why} (see [server] allow_private_fetches)"
    ))
}

/// Only global unicast addresses (the IANA special-purpose registries, read as an allowlist).
pub(crate) fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_global_v4(a),
        IpAddr::V6(a) => is_global_v6(a),
    }
}

fn is_global_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_broadcast()
        || a.is_documentation()
        || a.is_multicast()
        || o0 == 0
        || (o0 == 100 && (o1 & 0xc0) == 64)
        || (o0 == 192 && o1 == 0 && o2 == 0)
        || (o0 == 198 && (o1 & 0xfe) == 18)
        || o0 >= 240)
}

fn is_global_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return is_global_v4(v4);
    }
    let s = a.segments();
    // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) carry an IPv4 address.
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0; 6] || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]) {
        return !a.is_unspecified() && !a.is_loopback() && is_global_v4(embedded);
    }
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] == 0x2001 && s[1] < 0x0200)
        || s[0] == 0x0100
        || (s[0] & 0xe000) != 0x2000)
}

/// The system resolver, keeping only the addresses the guard allows ([`Egress::resolver`]).
#[derive(Debug)]
pub struct GuardedResolver(Egress);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = all
                .into_iter()
                .filter(|a| guard.check_address(a.ip()).is_ok())
                .collect();
            if kept.is_empty() {
                return Err(Box::new(Refused(format!(
                    "the egress guard refuses {host}: it resolves to no public address (see [server] allow_private_fetches)"
                ))) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A name the guard refused at resolution, found again in the transport error's chain ([`refusal_in`]).
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The guard's refusal inside a transport error, as the error a caller acts on (`Forbidden`, not a provider
/// failure).
pub(crate) fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(Error::forbidden(r.0.clone()));
        }
        next = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_global_unicast_addresses_pass() {
        for refused in [
            "127.0.0.1",
            "127.255.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_global(refused.parse().unwrap()), "{refused}");
        }
        for allowed in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(is_global(allowed.parse().unwrap()), "{allowed}");
        }
    }

    #[test]
    fn urls_are_checked_before_any_resolver_sees_them() {
        let g = Egress::PublicOnly;
        for refused in [
            "https://127.1/x",
            "https://2130706433/x",
            "https://0x7f000001/x",
            "https://[::1]:8443/x",
            "https://[::ffff:7f00:1]/x",
            "http://example.com/x",
            "ftp://example.com/x",
        ] {
            let err = g.check_url(&refused.parse().unwrap()).unwrap_err();
            assert_eq!(err.kind(), "forbidden", "{refused}");
        }
        assert!(g.check_url(&"https://example.com/jwks".parse().unwrap()).is_ok());
    }

    #[tokio::test]
    async fn names_that_resolve_to_refused_addresses_are_refused() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(Egress::PublicOnly.resolver().resolve(name).await.is_err());
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(Egress::AllowPrivate.resolver().resolve(name).await.is_ok());
    }
}
