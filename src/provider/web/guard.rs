//! Who may talk to the approval page, and which POSTs count as coming from the page itself.
//!
//! Invariants:
//! - On a loopback listen address (the default) only loopback peers are served; a tunnel
//!   (cloudflared, ngrok) runs on this machine, so it connects from loopback too. Listening on
//!   any other address is an explicit choice (`--listen`, `[web] listen`) and serves everyone.
//! - An answer is refused when the browser says it comes from another site: `Sec-Fetch-Site`
//!   must be `same-origin` (or `none`, a user-initiated request), and an `Origin` header, when
//!   present, must be this server's origin as the browser saw it (from `Host`) or the origin of
//!   `public_url`. An opaque `Origin: null` passes only with `Sec-Fetch-Site: same-origin`
//!   (headers page scripts cannot set). Clients that send neither header (curl, scripts) are
//!   not browsers tricked by a third-party page, and still need the page's URL and form tokens.

use std::net::{IpAddr, SocketAddr};

/// Whether a connection from `peer` may be served by a server listening on `listen`.
pub fn peer_allowed(peer: IpAddr, listen: SocketAddr) -> bool {
    !is_loopback(listen.ip()) || is_loopback(peer)
}

/// Loopback, including IPv4-mapped IPv6 (`::ffff:127.0.0.1`) as seen on dual-stack sockets.
fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Whether a POST with these headers may answer. `host` is the `Host` header; `public_origin`
/// the origin of `public_url`, if set.
pub fn same_site_post(
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    host: Option<&str>,
    public_origin: Option<&str>,
) -> bool {
    let fetch_says_same = match sec_fetch_site.map(str::trim) {
        Some(site)
            if site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none") =>
        {
            true
        }
        Some(_) => return false,
        None => false,
    };
    let Some(origin) = origin.map(str::trim) else {
        return true;
    };
    if origin == "null" {
        // An opaque origin: browsers send it for a same-origin POST under a strict referrer
        // policy, and sandboxed frames send it too. Only the browser's own word decides.
        return fetch_says_same;
    }
    let origin = origin.to_ascii_lowercase();
    let matches_host = host.is_some_and(|host| {
        let host = host.trim().to_ascii_lowercase();
        origin == format!("http://{host}") || origin == format!("https://{host}")
    });
    matches_host || public_origin.is_some_and(|p| p.eq_ignore_ascii_case(&origin))
}

/// `scheme://authority` of an absolute http(s) URL: what browsers send as `Origin`.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{}://{}", scheme.to_ascii_lowercase(), authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_loopback_listener_serves_only_loopback_peers() {
        let listen = addr("127.0.0.1:0");
        assert!(peer_allowed(ip("127.0.0.1"), listen));
        assert!(peer_allowed(ip("127.8.9.10"), listen));
        assert!(peer_allowed(ip("::1"), listen));
        assert!(peer_allowed(ip("::ffff:127.0.0.1"), listen));
        assert!(!peer_allowed(ip("192.168.1.20"), listen));
        assert!(!peer_allowed(ip("10.0.0.1"), listen));
        assert!(!peer_allowed(ip("::ffff:192.168.1.20"), listen));
        assert!(!peer_allowed(ip("2001:db8::1"), addr("[::1]:8080")));
    }

    #[test]
    fn an_explicit_non_loopback_listener_serves_everyone() {
        for listen in ["0.0.0.0:8080", "192.168.1.5:8080", "[::]:8080"] {
            assert!(peer_allowed(ip("192.168.1.20"), addr(listen)), "{listen}");
            assert!(peer_allowed(ip("127.0.0.1"), addr(listen)), "{listen}");
        }
    }

    #[test]
    fn same_origin_posts_pass() {
        let host = Some("127.0.0.1:4567");
        assert!(same_site_post(
            Some("same-origin"),
            Some("http://127.0.0.1:4567"),
            host,
            None
        ));
        assert!(same_site_post(
            None,
            Some("http://127.0.0.1:4567"),
            host,
            None
        ));
        assert!(same_site_post(Some("none"), None, host, None));
        // Chrome under a strict referrer policy.
        assert!(same_site_post(
            Some("same-origin"),
            Some("null"),
            host,
            None
        ));
        // Scripts and curl send neither header.
        assert!(same_site_post(None, None, host, None));
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let host = Some("127.0.0.1:4567");
        assert!(!same_site_post(Some("cross-site"), None, host, None));
        // Another port on localhost is "same-site" but not the page: refused.
        assert!(!same_site_post(Some("same-site"), None, host, None));
        assert!(!same_site_post(
            None,
            Some("https://evil.example"),
            host,
            None
        ));
        assert!(!same_site_post(None, Some("null"), host, None));
        assert!(!same_site_post(
            Some("cross-site"),
            Some("null"),
            host,
            None
        ));
        assert!(!same_site_post(
            None,
            Some("http://127.0.0.1:9999"),
            host,
            None
        ));
        assert!(!same_site_post(
            Some("same-origin"),
            Some("https://evil.example"),
            host,
            None
        ));
        assert!(!same_site_post(
            None,
            Some("http://127.0.0.1:4567"),
            None,
            None
        ));
    }

    #[test]
    fn a_tunnel_origin_is_accepted_when_it_is_public_url() {
        let public = origin_of("https://abc.trycloudflare.com/approvals").unwrap();
        assert_eq!(public, "https://abc.trycloudflare.com");
        // The tunnel may rewrite Host to the local address.
        assert!(same_site_post(
            Some("same-origin"),
            Some("https://abc.trycloudflare.com"),
            Some("127.0.0.1:4567"),
            Some(&public)
        ));
        assert!(!same_site_post(
            None,
            Some("https://evil.trycloudflare.com"),
            Some("127.0.0.1:4567"),
            Some(&public)
        ));
    }

    #[test]
    fn origin_of_takes_scheme_and_authority() {
        assert_eq!(
            origin_of("HTTP://Box:8080/x?y").as_deref(),
            Some("http://Box:8080")
        );
        assert_eq!(origin_of("https://"), None);
        assert_eq!(origin_of("nope"), None);
    }
}
