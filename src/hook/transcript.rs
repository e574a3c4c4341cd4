//! Noticing that a tool call was answered at the terminal, from the agent's transcript.
//!
//! Claude Code (2.1.x) shows its own permission dialog *while* the PermissionRequest hook runs,
//! and when the user answers at the keyboard it ignores the hook's late answer without stopping
//! it. So that the chat message does not keep live buttons for a question already answered,
//! the hook watches the session transcript (`transcript_path`, one JSON object per line): the
//! tool call is the last assistant `tool_use` block with this tool name and input, and a
//! `tool_result` for its id, recorded after the hook started, means it was answered (approved
//! and run, or refused). The time matters: the same command may have been asked and answered
//! before in the session, and the hook may read the transcript a little after the answer it
//! is looking for was written (a loaded machine).
//!
//! The watch only ever withdraws the request; it never decides. A transcript that is missing,
//! unreadable or shaped differently simply never fires.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::Value;

/// How often the transcript is read.
const EVERY: Duration = Duration::from_millis(500);

/// A watch on one session transcript for one tool call.
pub struct Watch {
    path: PathBuf,
    /// Whether the first read already found the answer.
    answered_now: bool,
    /// When the hook started: results recorded earlier belong to earlier calls.
    since: SystemTime,
    /// Whether the transcript has been read once: for entries without a readable timestamp,
    /// results in that first read are taken to be earlier ones.
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
    /// Watch `path` for the pending `tool` call with `input`; results recorded before `since`
    /// (when the hook started) are earlier calls'. Reads the transcript once now, so that what
    /// is already there is known before the request is posted.
    pub fn start(path: PathBuf, tool: String, input: Value, since: SystemTime) -> Watch {
        let mut watch = Watch::new(path, tool, input, since);
        watch.answered_now = watch.poll();
        watch
    }

    /// Resolves once the transcript shows a result for the call; never resolves otherwise.
    pub async fn answered(mut self) {
        if self.answered_now {
            return;
        }
        loop {
            tokio::time::sleep(EVERY).await;
            if self.poll() {
                return;
            }
        }
    }

    fn new(path: PathBuf, tool: String, input: Value, since: SystemTime) -> Watch {
        Watch {
            path,
            answered_now: false,
            since,
            primed: false,
            offset: 0,
            partial: Vec::new(),
            pending: None,
            tool,
            input,
        }
    }

    /// Read what was appended; true once the pending call has a result.
    fn poll(&mut self) -> bool {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
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
                        let recorded = entry
                            .get("timestamp")
                            .and_then(Value::as_str)
                            .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
                        let after_start = match recorded {
                            Some(at) => at >= self.since,
                            None => self.primed,
                        };
                        if after_start {
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

    /// A result recorded at `at`.
    fn tool_result_at(id: &str, at: SystemTime) -> Value {
        json!({"type": "user", "timestamp": humantime::format_rfc3339_millis(at).to_string(),
            "message": {"content": [
            {"type": "tool_result", "tool_use_id": id, "content": "ok"}
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
        // Entries without timestamps: what the first read finds is taken to be earlier.
        let mut watch = Watch::new(
            path.clone(),
            "Bash".into(),
            json!({"command": "touch proof.txt"}),
            SystemTime::now(),
        );
        assert!(!watch.poll(), "an earlier call's result does not count");
        assert_eq!(watch.pending.as_deref(), Some("b"));
        append(&path, &tool_result("x"));
        assert!(!watch.poll(), "another call's result does not count");
        append(&path, &json!({"type": "system"}));
        assert!(!watch.poll());
        // A line written in two pieces.
        let line = format!("{}\n", tool_result("b"));
        let (first, rest) = line.split_at(20);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(first.as_bytes())
            .unwrap();
        assert!(!watch.poll());
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(rest.as_bytes())
            .unwrap();
        assert!(watch.poll());
    }

    #[test]
    fn results_count_by_their_time_even_in_the_first_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let start = SystemTime::now();
        let before = start - Duration::from_secs(60);
        let input = json!({"command": "touch proof.txt"});
        // Asked and answered a minute ago, asked again, answered at the keyboard just after the
        // hook started but before it first read the transcript.
        append(&path, &tool_use("a", "touch proof.txt"));
        append(&path, &tool_result_at("a", before));
        append(&path, &tool_use("b", "touch proof.txt"));
        append(
            &path,
            &tool_result_at("b", start + Duration::from_millis(5)),
        );
        assert!(Watch::new(path, "Bash".into(), input.clone(), start).poll());

        // Without the new call's result: the earlier answer does not count.
        let path = dir.path().join("u.jsonl");
        append(&path, &tool_use("a", "touch proof.txt"));
        append(&path, &tool_result_at("a", before));
        assert!(!Watch::new(path, "Bash".into(), input, start).poll());
    }

    #[test]
    fn a_missing_transcript_never_fires() {
        let path = PathBuf::from("/nonexistent/t.jsonl");
        let mut watch = Watch::new(path, "Bash".into(), json!({}), SystemTime::now());
        assert!(!watch.poll());
    }
}
