//! The audit log: one JSON line per request, in a file only the user can read.
//!
//! Records carry no secrets: no tokens, no message bodies (only their length), no URLs.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::Serialize;

/// One audit record for a `send` request.
#[derive(Debug, Serialize)]
pub struct SendRecord<'a> {
    pub kind: &'static str,
    pub request_id: &'a str,
    pub title: &'a str,
    pub decision: &'a str,
    pub user: &'a str,
    pub user_id: &'a str,
    pub feedback: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub escalated_from: Option<&'a str>,
    pub chain: Vec<&'a str>,
    pub body_chars: usize,
    pub created: String,
    pub decided: String,
    pub wait_ms: u128,
    pub host: &'a str,
    pub directory: &'a str,
}

/// Append `record` as one line to `path` (created with mode 0600).
pub fn append(path: &Path, record: &impl Serialize) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    // One write call per record, so concurrent writers do not interleave inside a line.
    file.write_all(&line)
}
