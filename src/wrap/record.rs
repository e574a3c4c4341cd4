//! One audit record per prompt, in the same JSONL file as `send`'s records.
//!
//! A record says which pattern fired, a hash of the context (never the context itself), where
//! the prompt was answered, by whom, with which choice, the keys typed (free text replaced by its
//! length), and how long each step took.

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

/// Where a prompt was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Place {
    /// A remote provider (see `provider`).
    Remote,
    /// At the keyboard (the prompt went away before a remote answer).
    Terminal,
    /// Nobody answered in time.
    Timeout,
    /// Nobody: the agent exited, wrap was stopped, or every provider failed.
    #[default]
    Nowhere,
    /// An answer rule (see `rule`): nobody was paged.
    Rule,
}

/// What happened to the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Result {
    /// The remote answer was typed into the agent.
    Typed,
    /// The answer plan stopped: the screen was not what it expected.
    Aborted,
    /// A remote answer came, but the prompt had already gone: nothing was typed.
    Stale,
    /// Answered at the keyboard.
    Local,
    /// The remote request timed out; the prompt was left for the keyboard.
    Left,
    /// The session ended while the request was out (it was withdrawn).
    #[default]
    Withdrawn,
    /// No provider could deliver the request.
    Failed,
}

#[derive(Debug, Default, Serialize)]
pub struct WrapRecord {
    pub kind: &'static str,
    pub request_id: Option<String>,
    pub pattern: String,
    pub agent: String,
    pub prompt_kind: Option<String>,
    /// The question, redacted.
    pub question: String,
    /// SHA-256 of the context as sent (after redaction), hex.
    pub context_sha256: String,
    pub context_chars: usize,
    pub answered_at: Place,
    pub result: Result,
    /// The provider that answered (or the last one tried).
    pub provider: Option<String>,
    pub escalated_from: Option<String>,
    pub user: Option<String>,
    pub user_id: Option<String>,
    pub choice: Option<String>,
    pub verdict: Option<&'static str>,
    /// The keys typed into the agent, readable (`y ⏎`, `↓ ⏎`, `‹12 chars› ⏎`).
    pub keys: Option<String>,
    pub feedback_chars: Option<usize>,
    /// Why the answer plan stopped, when it did.
    pub abort_reason: Option<String>,
    /// Whether anyone was paged (false when the prompt was answered within the grace period).
    pub paged: bool,
    pub detected: String,
    pub detected_to_posted_ms: Option<u128>,
    pub answered_to_typed_ms: Option<u128>,
    pub wait_ms: u128,
    pub command: String,
    pub label: Option<String>,
    pub host: String,
    pub directory: String,
    /// What the answer rules said: the rule that answered (`answered_at` = `rule`), or why a
    /// human was asked; `dry_run` under `--dry-run-rules`. Absent when no rules were loaded.
    pub rule: Option<crate::rules::Fired>,
}

/// RFC 3339 timestamp (seconds).
pub fn stamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Hex SHA-256 of `text`.
pub fn sha256(text: &str) -> String {
    use std::fmt::Write;
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Append `record` to the audit file, logging (not failing) on error.
pub fn append(path: Option<&Path>, record: &WrapRecord) {
    let Some(path) = path else { return };
    if let Err(e) = crate::audit::append(path, record) {
        crate::log::warn(&format!(
            "cannot write the audit log {}: {e}",
            path.display()
        ));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_is_hex() {
        assert_eq!(
            super::sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
