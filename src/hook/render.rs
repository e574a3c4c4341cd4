//! What the human sees for a tool call: a one-line title and a terminal-style body.
//!
//! The body is chosen by the shape of the tool's input, not by its name, so the same code reads
//! Claude Code's `Bash`/`Write`/`Edit`, Codex's `Bash` and Gemini's `run_shell_command`/
//! `write_file`/`replace`: a `command` is shown as a shell line, `old_string`/`new_string` as a
//! diff, `content` as the head of the file, anything else as indented JSON. The body is cut here
//! (keeping its top, where the command is) so that the provider never has to cut it.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::event::ToolCall;

/// The body budget in characters: leaves room in a Telegram message (4096) for the title,
/// the footer and the status lines added when the request is decided.
pub const BODY_LIMIT: usize = 2500;
/// Longest title, in characters.
const TITLE_LIMIT: usize = 120;
/// Lines of a written file shown.
const HEAD_LINES: usize = 40;

/// The title and body of the request for `call`.
pub fn describe(call: &ToolCall) -> (String, String) {
    let input = &call.input;
    let cwd = call.context.cwd.as_deref();
    let path = ["file_path", "notebook_path", "path", "absolute_path"]
        .into_iter()
        .find_map(|k| text(input, k))
        .map(|p| relative(p, cwd));

    let (subject, body) = if let Some(command) = text(input, "command") {
        let first = command.lines().next().unwrap_or_default();
        (Some(first.to_owned()), command_body(input, command))
    } else if let (Some(path), Some(old), Some(new)) =
        (&path, text(input, "old_string"), text(input, "new_string"))
    {
        (Some(path.clone()), format!("{path}\n{}", diff(old, new)))
    } else if let (Some(path), Some(Value::Array(edits))) = (&path, input.get("edits")) {
        let mut body = path.clone();
        for edit in edits {
            let (old, new) = (text(edit, "old_string"), text(edit, "new_string"));
            body.push('\n');
            body.push_str(&diff(old.unwrap_or_default(), new.unwrap_or_default()));
        }
        (Some(path.clone()), body)
    } else if let (Some(path), Some(content)) = (
        &path,
        text(input, "content").or_else(|| text(input, "new_source")),
    ) {
        (Some(path.clone()), format!("{path}\n{}", head(content)))
    } else {
        let subject = path.or_else(|| {
            ["url", "pattern", "query", "description", "prompt"]
                .into_iter()
                .find_map(|k| text(input, k))
                .map(|s| s.lines().next().unwrap_or_default().to_owned())
        });
        let json = serde_json::to_string_pretty(input).unwrap_or_default();
        (subject, if json == "{}" { String::new() } else { json })
    };

    let title = match subject {
        Some(subject) if !subject.trim().is_empty() => format!("{}: {}", call.tool, subject.trim()),
        _ => call.tool.clone(),
    };
    (cut_line(&title, TITLE_LIMIT), cut(&body, BODY_LIMIT))
}

fn command_body(input: &Value, command: &str) -> String {
    let mut body = String::new();
    for key in ["description", "justification"] {
        if let Some(note) = text(input, key) {
            for line in note.lines() {
                let _ = writeln!(body, "# {line}");
            }
        }
    }
    if let Some(dir) = text(input, "dir_path").or_else(|| text(input, "workdir")) {
        let _ = writeln!(body, "# in {dir}");
    }
    body.push_str("$ ");
    body.push_str(command);
    body
}

/// Old lines with `- `, new lines with `+ `: enough to judge an edit on a phone.
fn diff(old: &str, new: &str) -> String {
    let mut out = String::new();
    for line in old.lines() {
        let _ = writeln!(out, "- {line}");
    }
    for line in new.lines() {
        let _ = writeln!(out, "+ {line}");
    }
    out.trim_end_matches('\n').to_owned()
}

/// The first lines of a file's new content, and how much is not shown.
fn head(content: &str) -> String {
    let lines: Vec<&str> = content.lines().collect();
    let mut out = lines
        .iter()
        .take(HEAD_LINES)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > HEAD_LINES {
        let _ = write!(out, "\n… {} more lines", lines.len() - HEAD_LINES);
    }
    out
}

/// `path` relative to `cwd` when it lies inside it.
fn relative(path: &str, cwd: Option<&str>) -> String {
    match cwd.and_then(|cwd| Path::new(path).strip_prefix(cwd).ok()) {
        Some(rest) if !rest.as_os_str().is_empty() => rest.display().to_string(),
        _ => path.to_owned(),
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// A short description of Claude Code's permission suggestions, for the "Always allow …"
/// button: `Bash(npm test:*)`, `edits (accept-edits mode)`, `access to /tmp`.
pub fn suggestions(items: &[Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .filter_map(|item| match item.get("type").and_then(Value::as_str)? {
            "addRules" | "replaceRules" => {
                let rules: Vec<String> = item
                    .get("rules")?
                    .as_array()?
                    .iter()
                    .filter_map(|rule| {
                        let tool = text(rule, "toolName")?;
                        Some(match text(rule, "ruleContent") {
                            Some(content) => format!("{tool}({content})"),
                            None => tool.to_owned(),
                        })
                    })
                    .collect();
                (!rules.is_empty()).then(|| rules.join(", "))
            }
            "setMode" => Some(match text(item, "mode")? {
                "acceptEdits" => "edits (accept-edits mode)".to_owned(),
                mode => format!("everything in {mode} mode"),
            }),
            "addDirectories" => {
                let dirs: Vec<&str> = item
                    .get("directories")?
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                (!dirs.is_empty()).then(|| format!("access to {}", dirs.join(", ")))
            }
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        "this".to_owned()
    } else {
        parts.join("; ")
    }
}

/// At most `limit` characters on one line, `…` where it was cut.
pub fn cut_line(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(limit - 1).collect();
    out.push('…');
    out
}

/// At most `limit` characters; a cut says how much is missing.
fn cut(text: &str, limit: usize) -> String {
    let count = text.chars().count();
    if count <= limit {
        return text.to_owned();
    }
    let marker = format!("… ({} more characters)", count - (limit - 40));
    let mut out: String = text.chars().take(limit - 40).collect();
    out.push('\n');
    out.push_str(&marker);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hook::event::{Context, Kind};
    use serde_json::json;

    fn call(tool: &str, input: Value) -> ToolCall {
        ToolCall {
            kind: Kind::PermissionRequest,
            tool: tool.into(),
            input,
            suggestions: Vec::new(),
            context: Context {
                session_id: None,
                cwd: Some("/home/u/proj".into()),
                transcript: None,
            },
        }
    }

    #[test]
    fn commands_are_shell_lines() {
        let (title, body) = describe(&call(
            "Bash",
            json!({"command": "touch proof.txt", "description": "Create proof file"}),
        ));
        assert_eq!(title, "Bash: touch proof.txt");
        assert_eq!(body, "# Create proof file\n$ touch proof.txt");
    }

    #[test]
    fn edits_are_diffs_and_writes_are_heads() {
        let (title, body) = describe(&call(
            "Edit",
            json!({"file_path": "/home/u/proj/src/a.rs", "old_string": "let a = 1;", "new_string": "let a = 2;\nlet b = 3;"}),
        ));
        assert_eq!(title, "Edit: src/a.rs");
        assert_eq!(body, "src/a.rs\n- let a = 1;\n+ let a = 2;\n+ let b = 3;");

        let content: Vec<String> = (1..=50).map(|i| format!("line {i}")).collect();
        let content = content.join("\n");
        let (title, body) = describe(&call(
            "write_file",
            json!({"file_path": "/elsewhere/x.txt", "content": content}),
        ));
        assert_eq!(title, "write_file: /elsewhere/x.txt");
        assert!(body.starts_with("/elsewhere/x.txt\nline 1\n"), "{body}");
        assert!(body.ends_with("line 40\n… 10 more lines"), "{body}");
    }

    #[test]
    fn other_tools_show_their_input() {
        let (title, body) = describe(&call(
            "WebFetch",
            json!({"url": "https://example.com", "prompt": "summarise"}),
        ));
        assert_eq!(title, "WebFetch: https://example.com");
        assert!(body.contains("\"prompt\": \"summarise\""), "{body}");
        let (title, body) = describe(&call("ExitPlanMode", json!({})));
        assert_eq!((title.as_str(), body.as_str()), ("ExitPlanMode", ""));
    }

    #[test]
    fn suggestions_read_like_rules() {
        let items = [
            json!({"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "npm test:*"}, {"toolName": "Read"}], "behavior": "allow", "destination": "localSettings"}),
            json!({"type": "setMode", "mode": "acceptEdits", "destination": "session"}),
            json!({"type": "addDirectories", "directories": ["/tmp"], "destination": "session"}),
            json!({"type": "somethingNew"}),
        ];
        assert_eq!(
            suggestions(&items),
            "Bash(npm test:*), Read; edits (accept-edits mode); access to /tmp"
        );
        assert_eq!(suggestions(&[json!({"type": "other"})]), "this");
    }

    #[test]
    fn huge_inputs_are_cut_with_a_count() {
        let command = format!("echo {}", "x".repeat(100_000));
        let (title, body) = describe(&call("Bash", json!({ "command": command })));
        assert_eq!(title.chars().count(), TITLE_LIMIT);
        assert!(title.ends_with("xx…"), "{title}");
        assert!(body.chars().count() <= BODY_LIMIT + 40);
        assert!(body.starts_with("$ echo xxx"));
        assert!(body.contains("more characters)"), "{body}");
    }
}
