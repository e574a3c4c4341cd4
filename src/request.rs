//! What is being asked: a request, its choices, and where it comes from.

use std::fmt;
use std::time::{Duration, SystemTime};

/// A random, unguessable request id (96 bits, 16 URL-safe characters).
///
/// It travels inside Telegram `callback_data` and Discord `custom_id`, so it is short and uses
/// only `[A-Za-z0-9_-]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    pub fn random() -> Self {
        RequestId(crate::token::random_token(12))
    }

    /// Parse an id found in a button; `None` if it is not of our shape.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 16
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| RequestId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.0)
    }
}

/// How the body should be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Free text (often Markdown) written by the caller.
    Text(String),
    /// Rows of a terminal screen: shown monospaced; when cut, the top goes first.
    Terminal(String),
}

impl Body {
    pub fn text(&self) -> &str {
        match self {
            Body::Text(s) | Body::Terminal(s) => s,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.text().trim().is_empty()
    }
}

/// What an answer means, as far as the asking program is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
}

/// One button offered to the human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Short id (`[a-z0-9_]`, at most 8 bytes) carried in the button's data.
    pub id: String,
    /// The button's label, as the human sees it.
    pub label: String,
    /// Whether choosing it approves or rejects.
    pub verdict: Verdict,
    /// A reject choice that asks the human for a reason (a reply prompt, a modal, a text box).
    pub asks_reason: bool,
}

impl Choice {
    pub const APPROVE: &'static str = "y";
    pub const REJECT: &'static str = "n";
}

/// Where a request comes from: shown to the human so they know which agent asks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub host: String,
    pub directory: String,
    /// A session label (`--label`, or derived from the agent command).
    pub label: Option<String>,
}

impl Origin {
    /// Where the message comes from, for its footer: `from` (a template with `{host}` and
    /// `{directory}`), then the session label if there is one.
    pub fn lines(&self, from: &str, text: &crate::i18n::Messages) -> Vec<String> {
        let mut lines = vec![crate::i18n::fill(
            from,
            &[("host", &self.host), ("directory", &self.directory)],
        )];
        if let Some(label) = &self.label {
            lines.push(crate::i18n::fill(text.session, &[("label", label)]));
        }
        lines
    }

    /// The host name and current directory of this process.
    pub fn here(label: Option<String>) -> Self {
        let directory = std::env::current_dir()
            .map(|d| crate::paths::tilde(&d))
            .unwrap_or_default();
        Origin {
            host: crate::paths::host_name(),
            directory,
            label,
        }
    }
}

/// A message for the human that needs no answer (an agent's notification): no buttons, no
/// deadline, nothing to withdraw.
#[derive(Debug, Clone)]
pub struct Notice {
    pub title: String,
    pub body: Body,
    pub origin: Origin,
}

/// An approval request.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: RequestId,
    pub title: String,
    pub body: Body,
    /// The buttons, in order. Always contains at least one approve and one reject choice.
    pub choices: Vec<Choice>,
    pub origin: Origin,
    /// How long the whole request may wait, from `created`.
    pub timeout: Duration,
    pub created: SystemTime,
    /// How long to wait for a reason after a reject (0: do not ask).
    pub reject_feedback_timeout: Duration,
}

impl Request {
    /// A plain approve / reject request.
    pub fn new(title: impl Into<String>, body: Body, origin: Origin, timeout: Duration) -> Self {
        Request {
            id: RequestId::random(),
            title: title.into(),
            body,
            choices: Vec::new(),
            origin,
            timeout,
            created: SystemTime::now(),
            reject_feedback_timeout: Duration::ZERO,
        }
    }

    /// The wall-clock deadline, for display.
    pub fn deadline(&self) -> SystemTime {
        self.created + self.timeout
    }

    pub fn choice(&self, id: &str) -> Option<&Choice> {
        self.choices.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_parse_back() {
        let a = RequestId::random();
        let b = RequestId::random();
        assert_ne!(a, b);
        assert_eq!(RequestId::parse(a.as_str()), Some(a));
        assert_eq!(RequestId::parse("short"), None);
        assert_eq!(RequestId::parse("abcdefghijklmno:"), None);
    }
}
