//! A minimal fake Anthropic Messages API, enough for Claude Code to run one scripted turn
//! offline (the shapes are in `../shared/research/agent-lab.md`, "Claude Code 2.1.197").
//!
//! - `HEAD /` (Claude Code's start-up probe) and any `GET` answer 200 with no body.
//! - `POST /v1/messages[?beta=true]`: when the request offers tools and no `tool_result` is in the
//!   conversation yet, the reply is a short text block plus the scripted `tool_use` block
//!   (`stop_reason: "tool_use"`); otherwise it is the text `FAKE-DONE: the tool ran.`
//!   (`end_turn`). Streaming requests get the SSE events `message_start`,
//!   `content_block_start`/`_delta`/`_stop` per block, `message_delta`, `message_stop`; others
//!   get one `message` object (both written by [`super::fake_llm::messages_reply`], as the
//!   scripted fake's Claude Code answers are).
//! - `POST /v1/messages/count_tokens` answers a fixed count.
//!
//! Every request body is recorded ([`super::llm_server`]), so a test can read what the model
//! was told (a tool result carrying a denial reason, for example).

#![allow(dead_code)]

use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};

use super::fake_llm::messages_reply;
use super::llm_server::{Answer, Chunks, LlmServer, Recorded, json_response, respond};

/// The text of the model's last turn, once its tool ran (or was refused).
pub const DONE: &str = "FAKE-DONE: the tool ran.";

pub struct FakeAnthropic {
    server: LlmServer,
}

impl FakeAnthropic {
    /// Serve on 127.0.0.1 (a free port); the model asks for `tool_use` once per conversation.
    /// `tool_use` is the tool call the model makes: `{"name": …, "input": {…}}`.
    pub async fn start(tool_use: Value) -> FakeAnthropic {
        let server =
            LlmServer::start(move |method, path, body| answer(&tool_use, method, path, body)).await;
        FakeAnthropic { server }
    }

    /// For `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.server.requests()
    }

    /// The first recorded request that satisfies `pred`, waiting up to `timeout`.
    pub async fn wait_request(
        &self,
        pred: impl Fn(&Recorded) -> bool,
        timeout: Duration,
    ) -> Option<Recorded> {
        self.server.wait_request(pred, timeout).await
    }
}

/// The `tool_result` blocks of a Messages request, as `(content text, is_error)`.
pub fn tool_results(body: &Value) -> Vec<(String, bool)> {
    let blocks = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_array())
        .flatten();
    blocks
        .filter(|b| b["type"] == "tool_result")
        .map(|b| {
            let text = match &b["content"] {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            };
            (text, b["is_error"] == true)
        })
        .collect()
}

fn answer(tool_use: &Value, method: &Method, path: &str, body: &Value) -> Answer {
    if method != Method::POST {
        return ("probe", respond(200, "text/plain", Chunks::empty()));
    }
    if path.starts_with("/v1/messages/count_tokens") {
        return ("helper", json_response(&json!({"input_tokens": 10})));
    }
    if !path.starts_with("/v1/messages") {
        let error =
            json!({"type": "error", "error": {"type": "not_found_error", "message": "not found"}});
        return (
            "unknown",
            respond(404, "application/json", Chunks::json(&error)),
        );
    }

    let offers_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let (kind, blocks, stop) = if offers_tools && tool_results(body).is_empty() {
        (
            "actions",
            vec![
                json!({"type": "text", "text": "I will do that."}),
                json!({"type": "tool_use", "id": "toolu_fake_01", "name": tool_use["name"], "input": tool_use["input"]}),
            ],
            "tool_use",
        )
    } else {
        (
            "done",
            vec![json!({"type": "text", "text": DONE})],
            "end_turn",
        )
    };
    let model = body["model"].as_str().unwrap_or("claude-fake");
    let usage = json!({"input_tokens": 10, "output_tokens": 5});
    let stream = body["stream"] == true;
    (
        kind,
        messages_reply("msg_fake", model, &blocks, stop, &usage, stream),
    )
}
