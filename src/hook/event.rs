//! The hook events openfeedback understands, parsed from the JSON an agent writes on stdin.
//!
//! Field names come from each agent's own schema (see `../shared/research/agent-prompts.md`
//! §2.5, §3.4, §4.4, and the sources cited in [`super::Agent`]). Unknown fields are ignored:
//! agents add fields often. Missing required fields, wrong types and events this agent does not
//! send are errors that name the field.

use serde_json::{Map, Value};

use super::Agent;

/// Which agent event asked for a decision: each has its own output schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Claude Code and Codex: fired when the agent would show its permission dialog.
    PermissionRequest,
    /// Claude Code: fired before every matching tool call.
    PreToolUse,
    /// Gemini CLI: fired before every matching tool call.
    BeforeTool,
}

/// A tool call waiting for the human's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub kind: Kind,
    /// The agent's tool name (`Bash`, `Write`, `run_shell_command`, `mcp__github__merge`, ...).
    pub tool: String,
    /// The tool's arguments, as the model wrote them.
    pub input: Value,
    /// Claude Code's `permission_suggestions`: the standing rules its own dialog would offer
    /// with "Yes, and don't ask again". Passed back verbatim as `updatedPermissions`.
    pub suggestions: Vec<Value>,
    pub context: Context,
}

/// Where the event happened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    pub session_id: Option<String>,
    pub cwd: Option<String>,
    /// The session transcript (JSON lines), where Claude Code records tool calls and results.
    pub transcript: Option<String>,
}

/// A notification: the agent tells the human something; no decision is possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub title: Option<String>,
    pub message: String,
    /// `permission_prompt`, `idle_prompt`, `ToolPermission`, ...
    pub kind: Option<String>,
    pub context: Context,
}

/// One hook event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Decide(ToolCall),
    Notify(Notification),
}

/// Why a payload cannot be used. The message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

impl Event {
    /// The event in `text`, as `agent` sends it.
    pub fn parse(agent: Agent, text: &str) -> Result<Event, PayloadError> {
        if text.trim().is_empty() {
            return Err(PayloadError(format!(
                "nothing on standard input (expected the JSON object {} writes)",
                agent.display_name()
            )));
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| PayloadError(format!("not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(PayloadError("not a JSON object".to_owned()));
        };
        let name = string(&object, "hook_event_name")?;
        let context = Context {
            session_id: optional_string(&object, "session_id")?,
            cwd: optional_string(&object, "cwd")?,
            transcript: optional_string(&object, "transcript_path")?,
        };
        let kind = match (agent, name.as_str()) {
            (Agent::ClaudeCode | Agent::Codex, "PermissionRequest") => Kind::PermissionRequest,
            (Agent::ClaudeCode, "PreToolUse") => Kind::PreToolUse,
            (Agent::Gemini, "BeforeTool") => Kind::BeforeTool,
            (Agent::ClaudeCode | Agent::Gemini, "Notification") => {
                return Ok(Event::Notify(Notification {
                    title: optional_string(&object, "title")?,
                    message: string(&object, "message")?,
                    kind: optional_string(&object, "notification_type")?,
                    context,
                }));
            }
            (agent, other) => {
                return Err(PayloadError(format!(
                    "openfeedback does not handle the {} hook event {other:?} (it handles {}); \
                     check the hook's event name in the agent's settings",
                    agent.display_name(),
                    agent.events().join(", ")
                )));
            }
        };
        let tool = string(&object, "tool_name")?;
        let input = match object.get("tool_input") {
            Some(v @ Value::Object(_)) => v.clone(),
            Some(Value::Null) | None => Value::Object(Map::new()),
            Some(_) => return Err(PayloadError("`tool_input` is not a JSON object".to_owned())),
        };
        let suggestions = match object.get("permission_suggestions") {
            Some(Value::Array(items)) if kind == Kind::PermissionRequest => items.clone(),
            Some(Value::Null | Value::Array(_)) | None => Vec::new(),
            Some(_) => {
                return Err(PayloadError(
                    "`permission_suggestions` is not a JSON array".to_owned(),
                ));
            }
        };
        Ok(Event::Decide(ToolCall {
            kind,
            tool,
            input,
            suggestions,
            context,
        }))
    }
}

fn string(object: &Map<String, Value>, key: &str) -> Result<String, PayloadError> {
    match object.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(PayloadError(format!("`{key}` is empty"))),
        Some(_) => Err(PayloadError(format!("`{key}` is not a string"))),
        None => Err(PayloadError(format!("`{key}` is missing"))),
    }
}

fn optional_string(object: &Map<String, Value>, key: &str) -> Result<Option<String>, PayloadError> {
    match object.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(Value::String(_) | Value::Null) | None => Ok(None),
        Some(_) => Err(PayloadError(format!("`{key}` is not a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_claude_permission_request() {
        let text = json!({
            "session_id": "abc", "transcript_path": "/t", "cwd": "/p", "permission_mode": "default",
            "hook_event_name": "PermissionRequest", "tool_name": "Bash",
            "tool_input": {"command": "ls"},
            "permission_suggestions": [{"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "ls"}], "behavior": "allow", "destination": "localSettings"}],
            "future_field": 1
        })
        .to_string();
        let Event::Decide(call) = Event::parse(Agent::ClaudeCode, &text).unwrap() else {
            panic!("not a decision")
        };
        assert_eq!(call.kind, Kind::PermissionRequest);
        assert_eq!(call.tool, "Bash");
        assert_eq!(call.input, json!({"command": "ls"}));
        assert_eq!(call.suggestions.len(), 1);
        assert_eq!(call.context.session_id.as_deref(), Some("abc"));
        assert_eq!(call.context.cwd.as_deref(), Some("/p"));
    }

    #[test]
    fn events_are_per_agent() {
        let pre = r#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{}}"#;
        assert!(Event::parse(Agent::ClaudeCode, pre).is_ok());
        let err = Event::parse(Agent::Codex, pre).unwrap_err();
        assert!(err.0.contains("PreToolUse"), "{err}");
        assert!(err.0.contains("PermissionRequest"), "{err}");
        let before = r#"{"hook_event_name":"BeforeTool","tool_name":"run_shell_command","tool_input":{"command":"ls"}}"#;
        assert!(Event::parse(Agent::Gemini, before).is_ok());
        assert!(Event::parse(Agent::ClaudeCode, before).is_err());
    }

    #[test]
    fn notifications() {
        let text = r#"{"hook_event_name":"Notification","message":"Claude needs your permission to use Bash","notification_type":"permission_prompt"}"#;
        let Event::Notify(n) = Event::parse(Agent::ClaudeCode, text).unwrap() else {
            panic!()
        };
        assert_eq!(n.message, "Claude needs your permission to use Bash");
        assert_eq!(n.kind.as_deref(), Some("permission_prompt"));
        assert!(Event::parse(Agent::Codex, text).is_err());
    }

    #[test]
    fn malformed_payloads_name_the_problem() {
        let cases = [
            ("", "nothing on standard input"),
            ("{", "not valid JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"tool_name":"Bash"}"#, "`hook_event_name` is missing"),
            (
                r#"{"hook_event_name":"PermissionRequest","tool_name":7}"#,
                "`tool_name` is not a string",
            ),
            (
                r#"{"hook_event_name":"PermissionRequest","tool_name":"Bash","tool_input":"rm"}"#,
                "`tool_input` is not a JSON object",
            ),
            (
                r#"{"hook_event_name":"Stop"}"#,
                "does not handle the Claude Code hook event \"Stop\"",
            ),
        ];
        for (text, expected) in cases {
            let err = Event::parse(Agent::ClaudeCode, text).unwrap_err();
            assert!(err.0.contains(expected), "{text:?}: {err}");
        }
    }
}
