//! A thin Bot API client: one method call, its error envelope, and retries.
//!
//! Calls go to `{api_base}/bot{token}/{method}` with a JSON body. reqwest errors carry the URL,
//! and the URL carries the token, so every error is built from `without_url()` and redacted.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use crate::secret::Secret;

/// How a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 429: wait this long before calling again.
    RateLimited(Duration),
    /// 409: another `getUpdates` consumer, or a webhook, is active.
    Conflict(String),
    /// 401, 403, 404 and 400: retrying the same call cannot help.
    Rejected { status: u16, description: String },
    /// 5xx, connection failures, timeouts and unreadable answers: worth retrying.
    Transient(String),
}

impl ApiError {
    pub fn describe(&self) -> String {
        match self {
            ApiError::RateLimited(d) => format!("rate limited for {}s", d.as_secs()),
            ApiError::Conflict(d) => d.clone(),
            ApiError::Rejected {
                status,
                description,
            } => format!("{description} (HTTP {status})"),
            ApiError::Transient(m) => m.clone(),
        }
    }

    /// True when the bot's configuration is wrong (token, chat) rather than the call.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ApiError::Rejected {
                status: 401 | 403 | 404,
                ..
            }
        ) || matches!(self, ApiError::Rejected { description, .. } if description.contains("chat not found"))
    }
}

pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl Api {
    pub fn new(http: reqwest::Client, base: &str, token: Secret) -> Self {
        Api {
            http,
            base: base.to_owned(),
            token,
        }
    }

    /// Call `method` once. `wait` is the HTTP timeout (long polls need more than their `timeout`).
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &Value,
        wait: Duration,
    ) -> Result<T, ApiError> {
        let url = format!("{}/bot{}/{method}", self.base, self.token.expose());
        let response = self
            .http
            .post(url)
            .timeout(wait)
            .json(params)
            .send()
            .await
            .map_err(|e| ApiError::Transient(self.redact(&e.without_url().to_string())))?;
        let status = response.status().as_u16();
        let header_retry = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body: Value = match response.json().await {
            Ok(body) => body,
            Err(_) if status >= 500 => return Err(ApiError::Transient(format!("HTTP {status}"))),
            Err(e) => {
                return Err(ApiError::Transient(self.redact(&format!(
                    "HTTP {status}: unreadable answer: {}",
                    e.without_url()
                ))));
            }
        };
        if body.get("ok") == Some(&Value::Bool(true)) {
            let result = body.get("result").cloned().unwrap_or(Value::Null);
            return serde_json::from_value(result)
                .map_err(|e| ApiError::Transient(format!("unexpected {method} result: {e}")));
        }
        let description = self.redact(
            body.get("description")
                .and_then(Value::as_str)
                .unwrap_or("no description"),
        );
        let code = body
            .get("error_code")
            .and_then(Value::as_u64)
            .map_or(status, |c| u16::try_from(c).unwrap_or(status));
        Err(match code {
            429 => {
                let secs = body
                    .pointer("/parameters/retry_after")
                    .and_then(Value::as_u64)
                    .or(header_retry)
                    .unwrap_or(1);
                ApiError::RateLimited(Duration::from_secs(secs.max(1)))
            }
            409 => ApiError::Conflict(description),
            c if c >= 500 => ApiError::Transient(format!("{description} (HTTP {c})")),
            c => ApiError::Rejected {
                status: c,
                description,
            },
        })
    }

    /// Call `method` until it succeeds, a non-retryable error comes back, or `until` passes.
    /// `on_trouble` hears about each retryable failure (for failover).
    pub async fn call_until<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &Value,
        until: Instant,
        on_trouble: &mut (dyn FnMut(&ApiError) + Send),
    ) -> Result<T, ApiError> {
        let mut backoff = Backoff::default();
        loop {
            let wait = until
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_secs(1), Duration::from_secs(30));
            let error = match self.call(method, params, wait).await {
                Ok(value) => return Ok(value),
                Err(e @ (ApiError::Rejected { .. } | ApiError::Conflict(_))) => return Err(e),
                Err(e) => e,
            };
            on_trouble(&error);
            let pause = match &error {
                ApiError::RateLimited(d) => *d,
                _ => backoff.next(),
            };
            if Instant::now() + pause >= until {
                return Err(error);
            }
            tokio::time::sleep(pause).await;
        }
    }

    fn redact(&self, text: &str) -> String {
        self.token.redact(text)
    }
}

/// Exponential backoff with jitter: 250 ms doubling to 8 s.
#[derive(Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub fn next(&mut self) -> Duration {
        let base = 250u64 << self.attempt.min(5);
        self.attempt += 1;
        let mut byte = [0u8; 1];
        let _ = getrandom::fill(&mut byte);
        Duration::from_millis(base + base * u64::from(byte[0]) / 512)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}
