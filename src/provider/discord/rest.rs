//! Discord REST v10: one call, its error envelope, rate limits and retries.
//!
//! Invariants:
//! - Every call carries Discord's required `User-Agent: DiscordBot (url, version)`, and every
//!   call but an interaction callback carries `Authorization: Bot <token>` (a callback is
//!   authorised by the interaction token in its URL).
//! - The bot token never appears in an error. Errors are built from the status code, Discord's
//!   JSON `message`, and reqwest errors stripped of their URL, then redacted all the same.
//! - Rate limits are read, not guessed: a bucket that reported `X-RateLimit-Remaining: 0` is
//!   waited out before its next call, and a 429 waits its `retry_after` (float seconds; the
//!   global flag blocks every route).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::time::Instant;

use crate::secret::Secret;

/// Discord requires this shape: `DiscordBot ($url, $versionNumber)`.
pub const USER_AGENT: &str = concat!(
    "DiscordBot (https://github.com/antx-code/openfeedback, ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// A 429 shorter than this is waited out quietly; a longer one is reported as trouble, so the
/// gate may try another provider meanwhile.
const QUIET_RATE_LIMIT: Duration = Duration::from_secs(10);

/// How a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RestError {
    /// 429: wait this long before calling again.
    RateLimited { wait: Duration, global: bool },
    /// 4xx other than 429: the same call cannot succeed. `code` is Discord's JSON error code.
    Rejected {
        status: u16,
        code: u64,
        message: String,
    },
    /// 5xx, connection failures, timeouts and unreadable answers: worth retrying.
    Transient(String),
}

impl RestError {
    /// A sentence for humans, with a hint when the cause is known.
    pub fn describe(&self) -> String {
        match self {
            RestError::RateLimited { wait, global } => format!(
                "rate limited{} for {:.1}s",
                if *global { " (global)" } else { "" },
                wait.as_secs_f64()
            ),
            RestError::Rejected {
                status,
                code,
                message,
            } => {
                let hint = match (status, code) {
                    (401, _) => {
                        ": Discord refused the bot token; check discord.bot_token or \
                         OPENFEEDBACK_DISCORD_BOT_TOKEN"
                    }
                    (403, 50001) => {
                        ": the bot cannot see the channel; invite it to the server and give it \
                         access to discord.channel_id"
                    }
                    (403, _) => {
                        ": the bot lacks a permission in the channel (View Channel, Send \
                         Messages, Read Message History)"
                    }
                    (404, 10003) => ": unknown channel; check discord.channel_id",
                    _ => "",
                };
                format!("Discord said {message:?} (HTTP {status}, code {code}){hint}")
            }
            RestError::Transient(m) => m.clone(),
        }
    }

    /// True when the bot's configuration is wrong (token, channel, permissions).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            RestError::Rejected {
                status: 401 | 403,
                ..
            } | RestError::Rejected { code: 10003, .. }
        )
    }

    /// Discord's JSON error code, if Discord answered with one.
    pub fn code(&self) -> Option<u64> {
        match self {
            RestError::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Rate-limit state learned from response headers.
#[derive(Default)]
struct Limits {
    global_until: Option<Instant>,
    /// Route key → when its bucket has requests again.
    routes: HashMap<String, Instant>,
}

/// A Discord REST client.
pub struct Rest {
    http: reqwest::Client,
    base: String,
    token: Secret,
    limits: Mutex<Limits>,
    /// Extra secrets to scrub from error texts (proxy passwords).
    scrub: Vec<String>,
    /// The proxy REST goes through (as shown to humans), named in connection errors.
    via: Option<String>,
}

impl Rest {
    /// `base` is the API root without a trailing slash, e.g. `https://discord.com/api/v10`.
    /// `via` names the proxy reqwest will use for it, if any.
    pub fn new(
        http: reqwest::Client,
        base: &str,
        token: Secret,
        scrub: Vec<String>,
        via: Option<String>,
    ) -> Self {
        Rest {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            limits: Mutex::default(),
            scrub,
            via,
        }
    }

    /// Call once (after waiting out a known exhausted bucket). `path` starts with `/`.
    /// A 204 or an empty body gives `Value::Null`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        wait: Duration,
    ) -> Result<Value, RestError> {
        let key = route_key(&method, path);
        if let Some(until) = self.blocked_until(&key) {
            tokio::time::sleep_until(until).await;
        }
        let mut builder = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(wait)
            .header(reqwest::header::USER_AGENT, USER_AGENT);
        if !path.starts_with("/interactions/") {
            builder = builder.header(
                reqwest::header::AUTHORIZATION,
                format!("Bot {}", self.token.expose()),
            );
        }
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let response = builder.send().await.map_err(|e| {
            let through = self
                .via
                .as_ref()
                .map(|p| format!(" through the proxy {p}"))
                .unwrap_or_default();
            RestError::Transient(self.redact(&format!(
                "cannot reach Discord{through}: {}",
                error_chain(&e.without_url())
            )))
        })?;
        let status = response.status().as_u16();
        self.learn(&key, status, response.headers());
        let header_retry = header_f64(response.headers(), "retry-after");
        let global_header = response.headers().contains_key("x-ratelimit-global");
        let bytes = response
            .bytes()
            .await
            .map_err(|e| RestError::Transient(self.redact(&error_chain(&e.without_url()))))?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            return match json {
                Some(value) => Ok(value),
                None if bytes.is_empty() => Ok(Value::Null),
                None => Err(RestError::Transient(format!(
                    "HTTP {status}: the answer is not JSON"
                ))),
            };
        }
        let json = json.unwrap_or(Value::Null);
        if status == 429 {
            let secs = json
                .get("retry_after")
                .and_then(Value::as_f64)
                .or(header_retry)
                .unwrap_or(1.0)
                .clamp(0.0, 3600.0);
            let global = global_header || json.get("global") == Some(&Value::Bool(true));
            let wait = Duration::from_secs_f64(secs);
            if global {
                self.limits.lock().expect("limits").global_until = Some(Instant::now() + wait);
            }
            return Err(RestError::RateLimited { wait, global });
        }
        let message = self.redact(
            json.get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message"),
        );
        if status >= 500 {
            return Err(RestError::Transient(format!(
                "Discord is having trouble: {message} (HTTP {status})"
            )));
        }
        Err(RestError::Rejected {
            status,
            code: json.get("code").and_then(Value::as_u64).unwrap_or(0),
            message,
        })
    }

    /// Call until it succeeds, a non-retryable error comes back, or `until` passes.
    /// `on_trouble` hears about each failure worth telling the gate about.
    pub async fn call_until(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        until: Instant,
        on_trouble: &mut (dyn FnMut(&RestError) + Send),
    ) -> Result<Value, RestError> {
        let mut backoff = Backoff::default();
        loop {
            let wait = until
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_secs(1), Duration::from_secs(30));
            let error = match self.call(method.clone(), path, body, wait).await {
                Ok(value) => return Ok(value),
                Err(e @ RestError::Rejected { .. }) => return Err(e),
                Err(e) => e,
            };
            let pause = if let RestError::RateLimited { wait, .. } = &error {
                if *wait >= QUIET_RATE_LIMIT {
                    on_trouble(&error);
                }
                *wait
            } else {
                on_trouble(&error);
                backoff.next()
            };
            if Instant::now() + pause >= until {
                return Err(error);
            }
            tokio::time::sleep(pause).await;
        }
    }

    fn blocked_until(&self, key: &str) -> Option<Instant> {
        let limits = self.limits.lock().expect("limits");
        let now = Instant::now();
        [limits.global_until, limits.routes.get(key).copied()]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .max()
    }

    /// Remember an exhausted bucket from the rate-limit headers.
    fn learn(&self, key: &str, status: u16, headers: &HeaderMap) {
        let remaining = header_f64(headers, "x-ratelimit-remaining");
        let reset_after = header_f64(headers, "x-ratelimit-reset-after");
        let mut limits = self.limits.lock().expect("limits");
        match (remaining, reset_after) {
            (Some(r), Some(after)) if r <= 0.0 || status == 429 => {
                let after = Duration::from_secs_f64(after.clamp(0.0, 3600.0));
                limits.routes.insert(key.to_owned(), Instant::now() + after);
            }
            _ => {
                limits.routes.remove(key);
            }
        }
    }

    fn redact(&self, text: &str) -> String {
        let mut text = self.token.redact(text);
        for secret in &self.scrub {
            if secret.len() >= 3 {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

/// The rate-limit key of a call: the method and the path, with ids replaced except the
/// channel id (Discord's "major parameter", which gets buckets of its own).
fn route_key(method: &Method, path: &str) -> String {
    if path.starts_with("/interactions/") {
        // The id and token differ on every call; callbacks share one key.
        return format!("{method}/interactions/:id/:token/callback");
    }
    let mut key = method.to_string();
    let mut previous = "";
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        key.push('/');
        let is_id = segment.bytes().all(|b| b.is_ascii_digit());
        key.push_str(if is_id && previous != "channels" {
            ":id"
        } else {
            segment
        });
        previous = segment;
    }
    key
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// An error and its causes, joined: reqwest's top-level text alone ("error sending request")
/// does not say what went wrong.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// Exponential backoff with jitter: 250 ms doubling to 8 s, plus up to half again.
#[derive(Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub fn next(&mut self) -> Duration {
        let base = Duration::from_millis(250 << self.attempt.min(5));
        self.attempt += 1;
        base + base.mul_f64(jitter() / 2.0)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A random number in [0, 1).
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_keep_the_channel_and_hide_other_ids() {
        assert_eq!(
            route_key(&Method::POST, "/channels/123/messages"),
            "POST/channels/123/messages"
        );
        assert_eq!(
            route_key(&Method::PATCH, "/channels/123/messages/456"),
            "PATCH/channels/123/messages/:id"
        );
        assert_eq!(
            route_key(&Method::POST, "/interactions/789/aW50ZXJh/callback"),
            "POST/interactions/:id/:token/callback"
        );
        assert_eq!(route_key(&Method::GET, "/gateway/bot"), "GET/gateway/bot");
    }

    #[test]
    fn user_agent_has_discords_shape() {
        assert!(USER_AGENT.starts_with("DiscordBot (https://github.com/antx-code/openfeedback, "));
        assert!(USER_AGENT.ends_with(')'));
    }

    #[test]
    fn errors_explain_common_causes_and_never_show_the_token() {
        let bad_token = RestError::Rejected {
            status: 401,
            code: 0,
            message: "401: Unauthorized".into(),
        };
        assert!(bad_token.is_permanent());
        assert!(bad_token.describe().contains("bot token"));
        let channel = RestError::Rejected {
            status: 404,
            code: 10003,
            message: "Unknown Channel".into(),
        };
        assert!(channel.is_permanent());
        assert!(channel.describe().contains("discord.channel_id"));
        crate::http::install_crypto();
        let rest = Rest::new(
            reqwest::Client::new(),
            "http://x/api/v10",
            Secret::new("MTIz.secret-token"),
            vec!["hunter2".into()],
            None,
        );
        assert_eq!(
            rest.redact("Bot MTIz.secret-token via http://u:hunter2@proxy"),
            "Bot *** via http://u:***@proxy"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_bucket_is_waited_out() {
        crate::http::install_crypto();
        let rest = Rest::new(
            reqwest::Client::new(),
            "http://x",
            Secret::new("t0ken"),
            vec![],
            None,
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
        headers.insert("x-ratelimit-reset-after", "2.5".parse().unwrap());
        rest.learn("POST/channels/1/messages", 200, &headers);
        let until = rest.blocked_until("POST/channels/1/messages").unwrap();
        assert_eq!(until - Instant::now(), Duration::from_millis(2500));
        assert!(
            rest.blocked_until("PATCH/channels/1/messages/:id")
                .is_none()
        );
        headers.insert("x-ratelimit-remaining", "3".parse().unwrap());
        rest.learn("POST/channels/1/messages", 200, &headers);
        assert!(rest.blocked_until("POST/channels/1/messages").is_none());
    }

    #[test]
    fn backoff_grows_and_resets() {
        let mut b = Backoff::default();
        let first = b.next();
        assert!(first >= Duration::from_millis(250) && first < Duration::from_millis(400));
        for _ in 0..10 {
            b.next();
        }
        assert!(b.next() >= Duration::from_secs(8));
        b.reset();
        assert!(b.next() < Duration::from_millis(400));
    }
}
