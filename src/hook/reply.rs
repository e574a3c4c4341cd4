//! The decision, written in each agent's own output schema.
//!
//! | agent, event | allow | deny | no decision |
//! |---|---|---|---|
//! | Claude Code `PermissionRequest` | `decision.behavior: "allow"` (+ `updatedPermissions` for "Always allow") | `behavior: "deny"`, `message` | `{"systemMessage": …}`: the agent shows its own dialog |
//! | Claude Code `PreToolUse` | `permissionDecision: "allow"` | `"deny"` + `permissionDecisionReason` | `permissionDecision: "ask"`: the dialog, even where the mode would allow |
//! | Codex `PermissionRequest` | `decision.behavior: "allow"` | `behavior: "deny"`, `message` | `{"systemMessage": …}` |
//! | Gemini CLI `BeforeTool` | `decision: "allow"` | `decision: "deny"`, `reason` | `decision: "ask"` |
//!
//! Every answer is one JSON line on stdout with exit code 0: these agents read a decision only
//! from a successful hook. Exit code 2 is never used; it means "block" to all three.
//!
//! Sources: Claude Code's zod schemas (2.1.112 `cli.js`, 2.1.197 and 2.1.329 binaries), and the
//! end-to-end test against Claude Code 2.1.197 (allow, deny with a reason, the `systemMessage`
//! no-decision, `PreToolUse` "ask" and "allow" were all watched working). Codex: the generated
//! `permission-request.command.output.schema.json` and `output_parser.rs` in openai/codex
//! `codex-rs/hooks` (its 0.169.0 binary carries the same messages), which make
//! `updatedPermissions`, `updatedInput` and `interrupt: true` invalid, so Codex never gets them;
//! not run here. Gemini CLI: `docs/hooks/reference.md` and the 0.61.0 bundle, where a hook's
//! "ask" forces the confirmation dialog (even when the approval mode would not ask) and a
//! hook's "allow" does not skip Gemini's own approval policy; not run here.

use serde_json::{Value, json};

use super::Agent;
use super::event::Kind;

/// What the hook answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Allow {
        /// Who approved, for the agent's transcript: `@ann on Telegram`.
        by: String,
        /// A note the human added to the approval.
        note: Option<String>,
        /// Claude Code's "Always allow": the rules to add (its own suggestions, verbatim).
        permissions: Option<Vec<Value>>,
    },
    Deny {
        /// Shown to the model: the human's reason, or why there was no approval.
        message: String,
    },
    /// Leave it to the agent's own dialog.
    NoDecision { why: String },
}

/// The stdout line for `reply` to a `kind` event of `agent`.
pub fn line(agent: Agent, kind: Kind, reply: &Reply) -> String {
    let value = match (agent, kind) {
        (Agent::Gemini, _) | (_, Kind::BeforeTool) => before_tool(reply),
        (_, Kind::PreToolUse) => pre_tool_use(reply),
        (agent, Kind::PermissionRequest) => permission_request(agent, reply),
    };
    value.to_string()
}

fn permission_request(agent: Agent, reply: &Reply) -> Value {
    match reply {
        Reply::Allow {
            by,
            note,
            permissions,
        } => {
            let mut decision = json!({"behavior": "allow"});
            if let Some(rules) = permissions.as_ref().filter(|_| agent == Agent::ClaudeCode) {
                decision["updatedPermissions"] = Value::Array(rules.clone());
            }
            let mut out = json!({"hookSpecificOutput": {
                "hookEventName": "PermissionRequest",
                "decision": decision,
            }});
            if let Some(note) = note {
                out["systemMessage"] = json!(approved_with_note(by, note));
            }
            out
        }
        Reply::Deny { message } => json!({"hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "deny", "message": message},
        }}),
        Reply::NoDecision { why } => json!({"systemMessage": format!("openfeedback: {why}")}),
    }
}

fn pre_tool_use(reply: &Reply) -> Value {
    match reply {
        Reply::Allow { by, note, .. } => {
            let mut out = json!({"hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "allow",
                "permissionDecisionReason": format!("Approved by {by} through openfeedback"),
            }});
            if let Some(note) = note {
                out["hookSpecificOutput"]["additionalContext"] =
                    json!(format!("The user who approved this added: {note}"));
            }
            out
        }
        Reply::Deny { message } => json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": message,
        }}),
        Reply::NoDecision { why } => json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "ask",
            "permissionDecisionReason": format!("openfeedback: {why}"),
        }}),
    }
}

fn before_tool(reply: &Reply) -> Value {
    match reply {
        Reply::Allow { by, note, .. } => match note {
            Some(note) => {
                json!({"decision": "allow", "systemMessage": approved_with_note(by, note)})
            }
            None => json!({"decision": "allow"}),
        },
        Reply::Deny { message } => json!({"decision": "deny", "reason": message}),
        Reply::NoDecision { why } => {
            json!({"decision": "ask", "systemMessage": format!("openfeedback: {why}")})
        }
    }
}

fn approved_with_note(by: &str, note: &str) -> String {
    format!("Approved by {by}: {note}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> Reply {
        Reply::Allow {
            by: "@ann on Telegram".into(),
            note: None,
            permissions: None,
        }
    }

    #[test]
    fn claude_permission_request() {
        let line = |r: &Reply| super::line(Agent::ClaudeCode, Kind::PermissionRequest, r);
        assert_eq!(
            line(&allow()),
            r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"allow"}}}"#
        );
        let always = Reply::Allow {
            by: "@ann on Telegram".into(),
            note: Some("ok".into()),
            permissions: Some(vec![
                json!({"type": "setMode", "mode": "acceptEdits", "destination": "session"}),
            ]),
        };
        assert_eq!(
            line(&always),
            r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"allow","updatedPermissions":[{"type":"setMode","mode":"acceptEdits","destination":"session"}]}},"systemMessage":"Approved by @ann on Telegram: ok"}"#
        );
        assert_eq!(
            line(&Reply::Deny {
                message: "use pnpm".into()
            }),
            r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"deny","message":"use pnpm"}}}"#
        );
        assert_eq!(
            line(&Reply::NoDecision { why: "x".into() }),
            r#"{"systemMessage":"openfeedback: x"}"#
        );
    }

    #[test]
    fn codex_never_gets_updated_permissions() {
        let always = Reply::Allow {
            by: "b".into(),
            note: None,
            permissions: Some(vec![json!({})]),
        };
        assert_eq!(
            line(Agent::Codex, Kind::PermissionRequest, &always),
            r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"allow"}}}"#
        );
    }

    #[test]
    fn pre_tool_use_and_before_tool() {
        assert_eq!(
            line(Agent::ClaudeCode, Kind::PreToolUse, &allow()),
            r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow","permissionDecisionReason":"Approved by @ann on Telegram through openfeedback"}}"#
        );
        assert_eq!(
            line(
                Agent::ClaudeCode,
                Kind::PreToolUse,
                &Reply::NoDecision { why: "w".into() }
            ),
            r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"ask","permissionDecisionReason":"openfeedback: w"}}"#
        );
        assert_eq!(
            line(Agent::Gemini, Kind::BeforeTool, &allow()),
            r#"{"decision":"allow"}"#
        );
        assert_eq!(
            line(
                Agent::Gemini,
                Kind::BeforeTool,
                &Reply::Deny {
                    message: "no".into()
                }
            ),
            r#"{"decision":"deny","reason":"no"}"#
        );
        assert_eq!(
            line(
                Agent::Gemini,
                Kind::BeforeTool,
                &Reply::NoDecision { why: "w".into() }
            ),
            r#"{"decision":"ask","systemMessage":"openfeedback: w"}"#
        );
    }
}
