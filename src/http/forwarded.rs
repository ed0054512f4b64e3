//! Who is on the other end of a request, behind reverse proxies that are trusted.
//!
//! Every request passes [`Forwarding::apply`] before the router sees it. `X-Forwarded-For`,
//! `-Proto` and `-Host` from a peer that is not in `trusted_proxies` are dropped; from a trusted
//! one they give the client address, the scheme and the Host. Afterwards `X-Forwarded-Proto`
//! always holds the scheme the client used and `Host` the name it used, so handlers (the `.repo`
//! files' base URL) read those two headers only.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap, HeaderValue};
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_FORWARDED_HOST: &str = "x-forwarded-host";

/// The client of a request, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address: the peer's, or the one a trusted proxy forwarded.
    pub addr: IpAddr,
    /// `http` or `https`, as the client used it.
    pub scheme: &'static str,
}

/// The trusted proxies and what to believe of them.
#[derive(Debug, Clone, Default)]
pub struct Forwarding {
    trusted: Vec<IpNet>,
}

impl Forwarding {
    /// Believes forwarded headers from peers inside `trusted` only.
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Forwarding { trusted }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// Normalises the forwarded headers of a request from `peer` (over TLS when `tls`) and
    /// returns who the client is.
    pub fn apply(&self, peer: SocketAddr, tls: bool, headers: &mut HeaderMap) -> ClientInfo {
        let own_scheme = if tls { "https" } else { "http" };
        let mut info = ClientInfo {
            addr: canonical(peer.ip()),
            scheme: own_scheme,
        };
        if self.is_trusted(peer.ip()) {
            // Walk the chain from the nearest hop: the first address that is not one of our
            // proxies is the client; anything further left was written by the client itself.
            let hops: Vec<String> = headers
                .get_all(X_FORWARDED_FOR)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|h| h.trim().to_string())
                .collect();
            for hop in hops.iter().rev() {
                match parse_hop(hop) {
                    Some(ip) => {
                        info.addr = ip;
                        if !self.is_trusted(ip) {
                            break;
                        }
                    }
                    None => break,
                }
            }
            if let Some(proto) = first_value(headers, X_FORWARDED_PROTO) {
                match proto.to_ascii_lowercase().as_str() {
                    "https" => info.scheme = "https",
                    "http" => info.scheme = "http",
                    _ => {}
                }
            }
            if let Some(host) = first_value(headers, X_FORWARDED_HOST).filter(|h| is_valid_host(h)) {
                if let Ok(v) = HeaderValue::from_str(&host) {
                    headers.insert(header::HOST, v);
                }
            }
        } else {
            headers.remove(X_FORWARDED_FOR);
        }
        headers.remove(X_FORWARDED_HOST);
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(info.scheme));
        info
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so that `127.0.0.1` matches on a dual-stack socket.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port or in brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let v = headers.get(name)?.to_str().ok()?;
    let first = v.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

/// `host[:port]` as a URL authority without user information: a DNS name (labels of letters,
/// digits, `-` and `_`), an IPv4 address or a bracketed IPv6 address, and a port 1-65535. Such
/// a value is safe to write into `.repo` files and feed links unescaped.
pub fn is_valid_host(h: &str) -> bool {
    if h.is_empty() || h.len() > 261 {
        return false;
    }
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (h, None),
        }
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
    });
    let name_ok = h.starts_with('[')
        || (host.len() <= 253
            && host.split('.').enumerate().all(|(i, label)| {
                // One trailing dot (a fully qualified name) is allowed.
                (!label.is_empty() || (i > 0 && host.ends_with('.') && host.len() > 1))
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            && !host.is_empty());
    port_ok && name_ok
}

/// Why a request with a bad `Host` is refused.
pub const INVALID_HOST: &str =
    "the Host header is not a valid host[:port]; configure public_url for the server's own address";

/// Refuses (400) a request whose `Host` is not a valid `host[:port]`: handlers write it into
/// `.repo` files and feed links when `public_url` is unset.
pub async fn require_valid_host(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(host) = req.headers().get(header::HOST) {
        if !host.to_str().is_ok_and(is_valid_host) {
            return super::error::ApiError::invalid(INVALID_HOST).into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hosts() {
        for good in [
            "repo.example.org",
            "repo.example.org:8443",
            "127.0.0.1:8080",
            "[::1]:8080",
            "[::1]",
            "localhost",
            "a_b.example.",
            "x",
        ] {
            assert!(is_valid_host(good), "{good}");
        }
        for bad in [
            "a\"b<c>",
            "",
            "evil.example/x",
            "u@evil.example",
            "a:b",
            "a:0",
            "a:99999",
            "[::1",
            "[zz]:1",
            "a..b",
            ".a",
            "a b",
            ":80",
            "[::1]x",
        ] {
            assert!(!is_valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn untrusted_peers_cannot_forge() {
        let f = Forwarding::default();
        let mut h = headers(&[
            ("host", "real:8080"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ]);
        let info = f.apply("192.0.2.7:5000".parse().unwrap(), false, &mut h);
        assert_eq!(info.addr.to_string(), "192.0.2.7");
        assert_eq!(info.scheme, "http");
        assert_eq!(h["host"], "real:8080");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert!(h.get("x-forwarded-for").is_none() && h.get("x-forwarded-host").is_none());
    }

    #[test]
    fn trusted_proxy_gives_client_scheme_and_host() {
        let f = Forwarding::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let mut h = headers(&[
            ("host", "backend:8080"),
            ("x-forwarded-for", "6.6.6.6, 198.51.100.9, 10.1.1.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "repo.example.org"),
        ]);
        let info = f.apply("10.0.0.2:5000".parse().unwrap(), false, &mut h);
        assert_eq!(info.addr.to_string(), "198.51.100.9", "the client wrote 6.6.6.6 itself");
        assert_eq!(info.scheme, "https");
        assert_eq!(h["host"], "repo.example.org");
        assert_eq!(h["x-forwarded-proto"], "https");
    }

    #[test]
    fn bad_forwarded_values_are_ignored() {
        let f = Forwarding::new(vec!["127.0.0.1/32".parse().unwrap()]);
        let mut h = headers(&[
            ("host", "backend"),
            ("x-forwarded-for", "garbage"),
            ("x-forwarded-proto", "gopher"),
            ("x-forwarded-host", "a/b@c"),
        ]);
        let info = f.apply("[::ffff:127.0.0.1]:1".parse().unwrap(), true, &mut h);
        assert_eq!(info.addr.to_string(), "127.0.0.1");
        assert_eq!(info.scheme, "https");
        assert_eq!(h["host"], "backend");
    }
}
