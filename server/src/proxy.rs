//! Reverse proxies the operator trusts (`--trusted-proxy`), and the client
//! address of a request that came through them.
//!
//! `X-Forwarded-For` is a list each proxy appends its peer to; anyone can
//! send one. So it is believed only when the TCP peer is a trusted proxy,
//! and then read from the right: the right-most address that is not itself
//! a trusted proxy is the client (what the last trusted proxy saw). From
//! any other peer, the header stays what it was before: a claim kept in
//! the evidence beside the peer's address, used for nothing.
//! `X-Forwarded-Proto` follows the same rule.

use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// An address range, `192.0.2.0/24`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in this range (an IPv4 address written as IPv6,
    /// `::ffff:a.b.c.d`, counts as the IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| {
            format!("{s:?} is not an address range: expected an address or ADDRESS/PREFIX, like 10.0.0.0/8 or 2001:db8::/32")
        })?;
        let network = canonical(network);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    return Err(format!(
                        "{s:?}: the prefix length must be a number from 0 to {max}"
                    ));
                }
            },
        };
        Ok(Cidr { network, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-*` headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
}

/// Where a request comes from, as far as the server can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress {
    /// The client: the TCP peer, or what a trusted proxy says.
    pub ip: IpAddr,
    /// The trusted proxy the request came through, when the client address
    /// is its word.
    pub via: Option<IpAddr>,
    /// The client reached the proxy over HTTPS (a trusted proxy's
    /// `X-Forwarded-Proto: https`).
    pub https: bool,
    /// `X-Forwarded-For` as received, kept as evidence whoever sent it.
    pub forwarded_for: Option<String>,
}

impl TrustedProxies {
    /// Trusts these ranges.
    pub fn new(ranges: Vec<Cidr>) -> Self {
        TrustedProxies { ranges }
    }

    /// True when no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `ip` is a trusted proxy's address.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    /// The client of a request from `peer` with these headers.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> ClientAddress {
        let header = |name: &str| {
            // Several header lines are one list (RFC 9110 §5.3).
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!values.is_empty()).then(|| values.join(", "))
        };
        let forwarded_for = header("x-forwarded-for");
        let peer_ip = canonical(peer.ip());
        let direct = ClientAddress {
            ip: peer_ip,
            via: None,
            https: false,
            forwarded_for: forwarded_for.clone(),
        };
        if !self.trusts(peer_ip) {
            return direct;
        }
        let https = header("x-forwarded-proto").is_some_and(|p| {
            // The last proxy's word is the one that counts.
            p.rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("https"))
        });
        let Some(list) = &forwarded_for else {
            // A trusted proxy that names no client: the proxy is the client
            // as far as anyone can tell (its own health checks).
            return ClientAddress { https, ..direct };
        };
        let mut client = None;
        for hop in list.rsplit(',') {
            let Some(ip) = parse_hop(hop) else {
                // A hop nobody can read: everything left of it is hearsay.
                break;
            };
            client = Some(ip);
            if !self.trusts(ip) {
                break;
            }
        }
        match client {
            Some(ip) => ClientAddress {
                ip,
                via: Some(peer_ip),
                https,
                forwarded_for,
            },
            None => ClientAddress { https, ..direct },
        }
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`) as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|r| r.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    #[test]
    fn ranges_parse_and_contain() {
        let r: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(r.contains("10.200.1.1".parse().unwrap()));
        assert!(!r.contains("11.0.0.1".parse().unwrap()));
        assert!(r.contains("::ffff:10.0.0.1".parse().unwrap()));
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.1".parse().unwrap()));
    }

    #[test]
    fn bad_ranges_say_what_is_expected() {
        for bad in [
            "",
            "proxy.example.org",
            "10.0.0.0/33",
            "10.0.0.0/x",
            "::1/129",
        ] {
            let err = bad.parse::<Cidr>().unwrap_err();
            assert!(
                err.contains("prefix") || err.contains("expected an address"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let p = proxies(&["127.0.0.1"]);
        let c = p.client(
            peer("198.51.100.4"),
            &headers(&[
                ("x-forwarded-for", "203.0.113.9"),
                ("x-forwarded-proto", "https"),
            ]),
        );
        assert_eq!(c.ip, "198.51.100.4".parse::<IpAddr>().unwrap());
        assert_eq!(c.via, None);
        assert!(!c.https);
        assert_eq!(c.forwarded_for.as_deref(), Some("203.0.113.9"));
    }

    #[test]
    fn a_trusted_proxy_names_the_right_most_untrusted_hop() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        // The client forged the first entry; the trusted proxies appended
        // what they saw.
        let c = p.client(
            peer("127.0.0.1"),
            &headers(&[
                ("x-forwarded-for", "203.0.113.9, 198.51.100.4, 10.1.2.3"),
                ("x-forwarded-proto", "https"),
            ]),
        );
        assert_eq!(c.ip, "198.51.100.4".parse::<IpAddr>().unwrap());
        assert_eq!(c.via, Some("127.0.0.1".parse().unwrap()));
        assert!(c.https);
    }

    #[test]
    fn several_header_lines_are_one_list() {
        let p = proxies(&["127.0.0.1"]);
        let c = p.client(
            peer("127.0.0.1"),
            &headers(&[
                ("x-forwarded-for", "203.0.113.9"),
                ("x-forwarded-for", "198.51.100.4"),
            ]),
        );
        assert_eq!(c.ip, "198.51.100.4".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn an_unreadable_hop_stops_the_walk() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let c = p.client(
            peer("127.0.0.1"),
            &headers(&[("x-forwarded-for", "203.0.113.9, garbage, 10.1.2.3")]),
        );
        // 10.1.2.3 is trusted, and what it was told is unreadable: the
        // nearest known hop is the answer.
        assert_eq!(c.ip, "10.1.2.3".parse::<IpAddr>().unwrap());
        let c = p.client(
            peer("127.0.0.1"),
            &headers(&[("x-forwarded-for", "garbage")]),
        );
        assert_eq!(c.ip, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(c.via, None);
    }

    #[test]
    fn hops_with_ports_are_read() {
        let p = proxies(&["127.0.0.1"]);
        let c = p.client(
            peer("127.0.0.1"),
            &headers(&[("x-forwarded-for", "[2001:db8::5]:4711")]),
        );
        assert_eq!(c.ip, "2001:db8::5".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_trusted_proxy_without_the_header_is_the_client() {
        let p = proxies(&["127.0.0.1"]);
        let c = p.client(peer("127.0.0.1"), &HeaderMap::new());
        assert_eq!(c.ip, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(c.via, None);
    }

    #[test]
    fn only_the_last_proxy_s_proto_counts() {
        let p = proxies(&["127.0.0.1"]);
        let c = p.client(
            peer("127.0.0.1"),
            &headers(&[("x-forwarded-proto", "https, http")]),
        );
        assert!(!c.https);
    }
}
