//! Noticing that a tool call was answered at the terminal, from the agent's transcript.
//!
//! Claude Code (2.1.x) shows its own permission dialog *while* the PermissionRequest hook runs,
//! and when the user answers at the keyboard it ignores the hook's late answer without stopping
//! it. So that the chat message does not keep live buttons for a question already answered,
//! the hook watches the session transcript (`transcript_path`, one JSON object per line): the
//! tool call is the last assistant `tool_use` block with this tool name and input, and a
//! `tool_result` for its id means it was answered (approved and run, or refused).
//!
//! The watch only ever withdraws the request; it never decides. A transcript that is missing,
//! unreadable or shaped differently simply never fires.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// How often the transcript is read.
const EVERY: Duration = Duration::from_millis(500);

/// Resolves once `transcript` shows a result for the pending `tool` call with `input`; never
/// resolves otherwise. Cancel-safe: it holds no state worth keeping between polls.
pub async fn answered(transcript: PathBuf, tool: String, input: Value) {
    let mut watch = Watch::new(tool, input);
    loop {
        if watch.poll(&transcript) {
            return;
        }
        tokio::time::sleep(EVERY).await;
    }
}

struct Watch {
    /// Whether the transcript as it was when the hook started has been read: results found in
    /// it belong to earlier calls (the same command may have been asked before).
    primed: bool,
    /// Bytes of the transcript already read.
    offset: u64,
    /// The end of the file after the last newline (a line still being written).
    partial: Vec<u8>,
    /// The id of the matching tool call without a result yet.
    pending: Option<String>,
    tool: String,
    input: Value,
}

impl Watch {
    fn new(tool: String, input: Value) -> Watch {
        Watch {
            primed: false,
            offset: 0,
            partial: Vec::new(),
            pending: None,
            tool,
            input,
        }
    }

    /// Read what was appended; true once the pending call has a result.
    fn poll(&mut self, path: &std::path::Path) -> bool {
        let Ok(mut file) = std::fs::File::open(path) else {
            return false;
        };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            return false;
        };
        if len < self.offset {
            // Rewritten: start over.
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset || file.seek(SeekFrom::Start(self.offset)).is_err() {
            return false;
        }
        let mut bytes = std::mem::take(&mut self.partial);
        let Ok(read) = file.take(len - self.offset).read_to_end(&mut bytes) else {
            return false;
        };
        self.offset += read as u64;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        self.partial = bytes.split_off(complete);
        let mut answered = false;
        for line in bytes.split(|&b| b == b'\n') {
            answered |= self.line(line);
        }
        self.primed = true;
        answered
    }

    fn line(&mut self, line: &[u8]) -> bool {
        let Ok(entry) = serde_json::from_slice::<Value>(line) else {
            return false;
        };
        let Some(blocks) = entry.pointer("/message/content").and_then(Value::as_array) else {
            return false;
        };
        for block in blocks {
            match block.get("type").and_then(Value::as_str) {
                Some("tool_use")
                    if block.get("name").and_then(Value::as_str) == Some(&self.tool)
                        && block.get("input") == Some(&self.input) =>
                {
                    self.pending = block.get("id").and_then(Value::as_str).map(str::to_owned);
                }
                Some("tool_result") => {
                    let id = block.get("tool_use_id").and_then(Value::as_str);
                    if id.is_some() && id == self.pending.as_deref() {
                        if self.primed {
                            return true;
                        }
                        // Answered before this hook started: an earlier call.
                        self.pending = None;
                    }
                }
                _ => {}
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    fn append(path: &std::path::Path, entry: &Value) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(file, "{entry}").unwrap();
    }

    fn tool_use(id: &str, command: &str) -> Value {
        json!({"type": "assistant", "message": {"content": [
            {"type": "tool_use", "id": id, "name": "Bash", "input": {"command": command}}
        ]}})
    }

    fn tool_result(id: &str) -> Value {
        json!({"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": id, "content": "ok"}
        ]}})
    }

    #[test]
    fn fires_on_the_result_of_the_matching_call_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        // The same command asked and answered before, then asked again.
        append(&path, &tool_use("a", "touch proof.txt"));
        append(&path, &tool_result("a"));
        append(&path, &tool_use("x", "ls"));
        append(&path, &tool_use("b", "touch proof.txt"));
        let mut watch = Watch::new("Bash".into(), json!({"command": "touch proof.txt"}));
        assert!(
            !watch.poll(&path),
            "an earlier call's result does not count"
        );
        assert_eq!(watch.pending.as_deref(), Some("b"));
        append(&path, &tool_result("x"));
        assert!(!watch.poll(&path), "another call's result does not count");
        append(&path, &json!({"type": "system"}));
        assert!(!watch.poll(&path));
        // A line written in two pieces.
        let line = format!("{}\n", tool_result("b"));
        let (first, rest) = line.split_at(20);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(first.as_bytes())
            .unwrap();
        assert!(!watch.poll(&path));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(rest.as_bytes())
            .unwrap();
        assert!(watch.poll(&path));
    }

    #[test]
    fn a_missing_transcript_never_fires() {
        let mut watch = Watch::new("Bash".into(), json!({}));
        assert!(!watch.poll(std::path::Path::new("/nonexistent/t.jsonl")));
    }
}
