//! HTTP proxies for the Gateway WebSocket: which proxy applies, and an HTTP CONNECT tunnel
//! through it.
//!
//! REST goes through reqwest, which reads HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY.
//! The Gateway reads the same variables with the same precedence (upper case first, HTTP_PROXY
//! ignored under CGI, ALL_PROXY as the fallback, NO_PROXY with domains, IPs and CIDR ranges), so
//! REST and the WebSocket always take the same path: `wss://` uses the HTTPS proxy, `ws://` the
//! HTTP one.
//!
//! Invariants:
//! - A proxy that applies but fails (unreachable, refuses CONNECT, wants credentials, or has a
//!   scheme we cannot speak) is an error. There is never a silent direct connection.
//! - Credentials from the proxy URL go only into the `Proxy-Authorization: Basic` header. Every
//!   message names a proxy as `http://host:port`, without them.

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// One proxy setting from the environment.
#[derive(Clone, PartialEq, Eq)]
pub enum Proxy {
    /// An `http://` proxy we tunnel through with CONNECT.
    Http {
        host: String,
        port: u16,
        /// `Basic <crate::token::base64_standard(user:password)>`, from the URL's credentials.
        authorization: Option<String>,
    },
    /// A proxy we cannot use; connecting through it fails with this explanation.
    Unsupported { shown: String, why: String },
}

impl Proxy {
    /// How the proxy is named in messages: no credentials.
    pub fn shown(&self) -> String {
        match self {
            Proxy::Http { host, port, .. } => format!("http://{}:{port}", bracket(host)),
            Proxy::Unsupported { shown, .. } => shown.clone(),
        }
    }

    fn parse(raw: &str) -> Proxy {
        let raw = raw.trim();
        let with_scheme = if raw.contains("://") {
            raw.to_owned()
        } else {
            format!("http://{raw}")
        };
        let Ok(url) = reqwest::Url::parse(&with_scheme) else {
            return Proxy::Unsupported {
                shown: "(unparsable proxy URL)".into(),
                why: "the proxy URL cannot be parsed".into(),
            };
        };
        let host = url.host_str().unwrap_or_default().to_owned();
        let shown = format!(
            "{}://{}{}",
            url.scheme(),
            host,
            url.port_or_known_default()
                .map(|p| format!(":{p}"))
                .unwrap_or_default()
        );
        match url.scheme() {
            "http" if !host.is_empty() => {
                let authorization = (!url.username().is_empty()).then(|| {
                    let user = percent_decode(url.username());
                    let password = percent_decode(url.password().unwrap_or_default());
                    format!(
                        "Basic {}",
                        crate::token::base64_standard(format!("{user}:{password}").as_bytes())
                    )
                });
                Proxy::Http {
                    host: host.trim_matches(|c| c == '[' || c == ']').to_owned(),
                    port: url.port().unwrap_or(80),
                    authorization,
                }
            }
            "https" => Proxy::Unsupported {
                shown,
                why: "TLS to the proxy (an https:// proxy URL) is not supported for the Discord \
                      Gateway; use an http:// proxy URL (the tunnel to Discord is still TLS)"
                    .into(),
            },
            scheme => Proxy::Unsupported {
                shown,
                why: format!(
                    "{scheme}:// proxies are not supported for the Discord Gateway; use an \
                     http:// proxy"
                ),
            },
        }
    }

    /// The password in `raw`'s credentials, as written and decoded, to scrub from errors.
    fn passwords(raw: &str) -> Vec<String> {
        let Ok(url) = reqwest::Url::parse(raw.trim()) else {
            return Vec::new();
        };
        let Some(password) = url.password().filter(|p| !p.is_empty()) else {
            return Vec::new();
        };
        let decoded = percent_decode(password);
        let mut all = vec![password.to_owned()];
        if decoded != password {
            all.push(decoded);
        }
        all
    }
}

/// The proxy settings of this process.
#[derive(Clone, Default)]
pub struct Proxies {
    http: Option<Proxy>,
    https: Option<Proxy>,
    all: Option<Proxy>,
    no_proxy: Vec<String>,
    passwords: Vec<String>,
}

impl Proxies {
    /// Read the settings through `env` (`std::env::var` in production).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Proxies {
        let first = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
        };
        let cgi = env("REQUEST_METHOD").is_some();
        let raw_http = if cgi {
            None
        } else {
            first(&["HTTP_PROXY", "http_proxy"])
        };
        let raw_https = first(&["HTTPS_PROXY", "https_proxy"]);
        let raw_all = first(&["ALL_PROXY", "all_proxy"]);
        let passwords = [&raw_http, &raw_https, &raw_all]
            .into_iter()
            .flatten()
            .flat_map(|raw| Proxy::passwords(raw))
            .collect();
        Proxies {
            http: raw_http.as_deref().map(Proxy::parse),
            https: raw_https.as_deref().map(Proxy::parse),
            all: raw_all.as_deref().map(Proxy::parse),
            no_proxy: first(&["NO_PROXY", "no_proxy"])
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            passwords,
        }
    }

    /// Proxy passwords, for scrubbing error texts.
    pub fn passwords(&self) -> Vec<String> {
        self.passwords.clone()
    }

    /// The proxy for a connection to `host` (`secure`: a wss:// or https:// target).
    pub fn for_target(&self, secure: bool, host: &str) -> Option<&Proxy> {
        let proxy = if secure { &self.https } else { &self.http };
        let proxy = proxy.as_ref().or(self.all.as_ref())?;
        (!self.bypasses(host)).then_some(proxy)
    }

    fn bypasses(&self, host: &str) -> bool {
        let host = host.trim_matches(|c| c == '[' || c == ']');
        let ip = host.parse::<IpAddr>().ok();
        self.no_proxy.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            match (ip, entry.parse::<IpAddr>(), entry.split_once('/')) {
                (Some(ip), Ok(net), _) => ip == net,
                (Some(ip), Err(_), Some((net, bits))) => in_network(ip, net, bits),
                (Some(_), _, _) => false,
                (None, _, _) => {
                    let entry = entry.trim_start_matches('.');
                    host.eq_ignore_ascii_case(entry)
                        || host
                            .to_ascii_lowercase()
                            .ends_with(&format!(".{}", entry.to_ascii_lowercase()))
                }
            }
        })
    }
}

fn in_network(ip: IpAddr, net: &str, bits: &str) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Why a connection could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    pub message: String,
    /// True when retrying cannot help (an unsupported proxy scheme).
    pub permanent: bool,
}

/// A TCP connection to `host:port`, through `proxy` when one is given.
pub async fn connect(
    host: &str,
    port: u16,
    proxy: Option<&Proxy>,
) -> Result<TcpStream, ConnectError> {
    let transient = |message: String| ConnectError {
        message,
        permanent: false,
    };
    let bare = host.trim_matches(|c| c == '[' || c == ']');
    let Some(proxy) = proxy else {
        return tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((bare, port)))
            .await
            .map_err(|_| transient(format!("connecting to {host}:{port} timed out")))?
            .map_err(|e| transient(format!("cannot connect to {host}:{port}: {e}")));
    };
    let Proxy::Http {
        host: proxy_host,
        port: proxy_port,
        authorization,
    } = proxy
    else {
        let Proxy::Unsupported { shown, why } = proxy else {
            unreachable!()
        };
        return Err(ConnectError {
            message: format!("proxy {shown}: {why}"),
            permanent: true,
        });
    };
    let shown = proxy.shown();
    let work = async {
        let mut stream = TcpStream::connect((proxy_host.as_str(), *proxy_port))
            .await
            .map_err(|e| format!("cannot reach the proxy {shown}: {e}"))?;
        let target = format!("{}:{port}", bracket(bare));
        let mut head = format!(
            "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {}\r\n",
            super::rest::USER_AGENT
        );
        if let Some(authorization) = authorization {
            head.push_str("Proxy-Authorization: ");
            head.push_str(authorization);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| format!("the proxy {shown} dropped the connection: {e}"))?;
        let status = read_status(&mut stream)
            .await
            .map_err(|e| format!("the proxy {shown} did not answer CONNECT: {e}"))?;
        match status {
            200..=299 => Ok(stream),
            407 => Err(format!(
                "the proxy {shown} wants credentials (407); put them in the proxy URL \
                 (http://user:password@host:port)"
            )),
            status => Err(format!(
                "the proxy {shown} refused CONNECT {target} (HTTP {status})"
            )),
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, work)
        .await
        .map_err(|_| transient(format!("the proxy {shown} did not answer in time")))?
        .map_err(transient)
}

/// Read an HTTP response head, byte by byte so nothing of the tunnel after it is consumed,
/// and return its status code.
async fn read_status(stream: &mut TcpStream) -> Result<u16, String> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_RESPONSE_HEAD {
            return Err("response head too long".into());
        }
        let n = stream.read(&mut byte).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next().unwrap_or_default();
    let mut parts = line.split_whitespace();
    match (
        parts.next(),
        parts.next().and_then(|s| s.parse::<u16>().ok()),
    ) {
        (Some(version), Some(status)) if version.starts_with("HTTP/1.") => Ok(status),
        _ => Err(format!("not an HTTP answer: {line:?}")),
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Proxies {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Proxies::from_env(&move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn scheme_picks_the_variable_and_all_proxy_is_the_fallback() {
        let p = env(&[
            ("HTTPS_PROXY", "http://secure:8443"),
            ("http_proxy", "plain:3128"),
        ]);
        assert_eq!(
            p.for_target(true, "gateway.discord.gg").unwrap().shown(),
            "http://secure:8443"
        );
        assert_eq!(
            p.for_target(false, "127.0.0.1").unwrap().shown(),
            "http://plain:3128"
        );
        let all = env(&[("ALL_PROXY", "http://every:1")]);
        assert_eq!(all.for_target(true, "x").unwrap().shown(), "http://every:1");
        assert!(env(&[]).for_target(true, "x").is_none());
    }

    #[test]
    fn credentials_become_basic_auth_and_never_show() {
        let p = env(&[("HTTPS_PROXY", "http://us%40er:p%3Ass@proxy.local:8080")]);
        let proxy = p.for_target(true, "gateway.discord.gg").unwrap();
        assert_eq!(proxy.shown(), "http://proxy.local:8080");
        let Proxy::Http { authorization, .. } = proxy else {
            panic!("http proxy expected")
        };
        assert_eq!(
            authorization.as_deref(),
            Some(format!("Basic {}", crate::token::base64_standard(b"us@er:p:ss")).as_str())
        );
        assert!(p.passwords().contains(&"p:ss".to_owned()));
    }

    #[test]
    fn https_and_socks_proxies_are_refused_not_skipped() {
        let p = env(&[("HTTPS_PROXY", "https://user:pw@proxy:443")]);
        match p.for_target(true, "gateway.discord.gg") {
            Some(Proxy::Unsupported { shown, why }) => {
                assert_eq!(shown, "https://proxy:443");
                assert!(why.contains("http://"), "{why}");
                assert!(!why.contains("pw"));
            }
            _ => panic!("expected an unsupported proxy"),
        }
        let s = env(&[("ALL_PROXY", "socks5://proxy:1080")]);
        assert!(matches!(
            s.for_target(true, "x"),
            Some(Proxy::Unsupported { .. })
        ));
    }

    #[test]
    fn no_proxy_matches_domains_ips_and_networks() {
        let p = env(&[
            ("HTTP_PROXY", "http://proxy:3128"),
            (
                "NO_PROXY",
                "example.com, .internal,10.0.0.0/8,::1, 192.168.1.5",
            ),
        ]);
        for host in [
            "example.com",
            "api.example.com",
            "a.internal",
            "10.1.2.3",
            "[::1]",
            "192.168.1.5",
        ] {
            assert!(p.for_target(false, host).is_none(), "{host} should bypass");
        }
        for host in ["notexample.com", "11.0.0.1", "192.168.1.6", "127.0.0.1"] {
            assert!(
                p.for_target(false, host).is_some(),
                "{host} should use the proxy"
            );
        }
        let star = env(&[("HTTP_PROXY", "http://proxy:3128"), ("no_proxy", "*")]);
        assert!(star.for_target(false, "anything").is_none());
    }

    #[test]
    fn cgi_ignores_http_proxy() {
        let p = env(&[("HTTP_PROXY", "http://evil:1"), ("REQUEST_METHOD", "GET")]);
        assert!(p.for_target(false, "x").is_none());
    }

    #[tokio::test]
    async fn unsupported_proxy_fails_permanently() {
        let proxy = Proxy::parse("socks5://p:1080");
        let err = connect("127.0.0.1", 1, Some(&proxy)).await.unwrap_err();
        assert!(err.permanent);
        assert!(err.message.contains("socks5"));
    }
}
