//! Fake LLM APIs for the real-agent end-to-end suite: one small HTTP server on 127.0.0.1 that
//! speaks the API one agent calls, answers with a scripted tool call, and records every request.
//!
//! | API | agent | endpoints |
//! |---|---|---|
//! | [`Api::OpenAiChat`] | aider | `POST /v1/chat/completions` (SSE `data:` chunks and `[DONE]`, or one JSON object) |
//! | [`Api::Anthropic`] | Claude Code | `HEAD /`, `POST /v1/messages` (SSE `event:`/`data:` pairs, or one message) |
//! | [`Api::OpenAiResponses`] | Codex CLI | `POST /v1/responses` (SSE with `sequence_number`s) |
//! | [`Api::Gemini`] | Gemini CLI | `POST /v1beta/models/<m>:generateContent`, `:streamGenerateContent?alt=sse` |
//!
//! The shapes follow what the agents were seen to need (`../shared/research/agent-lab.md`):
//! streams are sent with `Transfer-Encoding: chunked`, one chunk per event (the HTTP side,
//! shared with [`super::fake_anthropic`], is [`super::llm_server`]).
//!
//! # The script
//!
//! A fake holds a list of [`Action`]s. The first *main* request (the agent's turn: tools are
//! offered, or for aider any streamed chat request) is answered with all of them at once, in the
//! API's own form: a tool call per action (Bash/Write for Claude, `exec_command` asking for
//! escalation for Codex, `run_shell_command`/`write_file` for Gemini), or for aider a
//! SEARCH/REPLACE block that creates the file and a fenced `bash` block. Every later main
//! request gets the text [`DONE_TEXT`], so an agent never loops however its human answered.
//! With [`FakeLlm::withhold_actions_until`], main requests that do not contain a given text get
//! [`DONE_TEXT`] too, and the actions go to the first one that does: Gemini CLI sends its first
//! message from the untrusted instance that shows the folder-trust dialog, then again from the
//! instance that restarts once the folder is trusted, and only the second reads the project's
//! `GEMINI.md`, so a text from that file tells the two apart.
//! Helper requests (no tools, a commit message, a JSON-schema call) get a short text or JSON.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::{Method, Response};
use serde_json::{Value, json};

use super::llm_server::{
    Answer, Chunks, LlmServer, Recorded, data, event, json_response, respond, sse,
};

/// What every main request after the scripted one is answered with.
pub const DONE_TEXT: &str = "FAKE-DONE.";

/// The API a fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAiChat,
    Anthropic,
    OpenAiResponses,
    Gemini,
}

/// Something the fake model asks the agent to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a shell command.
    Shell(String),
    /// Create `path` (relative to the project; absolute where the agent wants it) with `content`.
    Write { path: String, content: String },
}

struct State {
    /// Scripted actions not sent yet (taken by the first main request).
    actions: Option<Vec<Action>>,
    /// The actions are only for a main request that contains this text.
    withheld_until: Option<String>,
    /// The project directory, for agents that want absolute paths.
    project: String,
    calls: usize,
}

struct Shared {
    api: Api,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running fake; stops when dropped.
pub struct FakeLlm {
    shared: Arc<Shared>,
    server: LlmServer,
}

impl FakeLlm {
    /// Listen on 127.0.0.1 (a free port) and answer the first main request with `actions`.
    /// `project` is the agent's working directory (absolute paths for Write tools).
    pub async fn start(api: Api, project: &str, actions: Vec<Action>) -> FakeLlm {
        let shared = Arc::new(Shared {
            api,
            state: Mutex::new(State {
                actions: Some(actions),
                withheld_until: None,
                project: project.to_owned(),
                calls: 0,
            }),
        });
        let answering = Arc::clone(&shared);
        let server =
            LlmServer::start(move |method, path, body| answer(&answering, method, path, body))
                .await;
        FakeLlm { shared, server }
    }

    /// Keep the actions for the first main request whose body contains `text`; the main
    /// requests before it get [`DONE_TEXT`]. The body is searched as JSON text, so `text`
    /// should hold no quotes, backslashes or control characters.
    pub fn withhold_actions_until(&self, text: &str) {
        self.shared.lock().withheld_until = Some(text.to_owned());
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.server.requests()
    }

    /// Whether the scripted actions were sent.
    pub fn actions_sent(&self) -> bool {
        self.shared.lock().actions.is_none()
    }

    /// The first request received after the scripted one that contains `text`.
    pub fn later_request_containing(&self, text: &str) -> Option<Recorded> {
        let requests = self.requests();
        let first = requests.iter().position(|r| r.kind == "actions")?;
        requests[first + 1..]
            .iter()
            .find(|r| r.text().contains(text))
            .cloned()
    }

    /// Wait until a request satisfies `pred` (panics with the requests seen at the deadline).
    pub async fn wait_request(
        &self,
        pred: impl Fn(&Recorded) -> bool,
        timeout: Duration,
    ) -> Recorded {
        self.server
            .wait_request(pred, timeout)
            .await
            .unwrap_or_else(|| {
                panic!(
                    "fake LLM: no matching request within {timeout:?}; seen:\n{}",
                    self.summary()
                )
            })
    }

    /// One line per request, for failure messages.
    pub fn summary(&self) -> String {
        self.server.summary()
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch

fn answer(shared: &Shared, method: &Method, path: &str, body: &Value) -> Answer {
    match shared.api {
        Api::OpenAiChat => openai_chat(shared, method, path, body),
        Api::Anthropic => anthropic(shared, method, path, body),
        Api::OpenAiResponses => openai_responses(shared, method, path, body),
        Api::Gemini => gemini(shared, method, path, body),
    }
}

fn not_found(path: &str) -> Answer {
    let body =
        json!({"error": {"message": format!("fake LLM: no route {path}"), "type": "not_found"}});
    (
        "unknown",
        respond(404, "application/json", Chunks::json(&body)),
    )
}

/// The scripted actions, the first time a main request asks (one that contains the text
/// they are withheld until, if any); `None` otherwise.
fn take_actions(shared: &Shared, body: &Value) -> Option<Vec<Action>> {
    let mut st = shared.lock();
    if let Some(text) = &st.withheld_until
        && !body.to_string().contains(text.as_str())
    {
        return None;
    }
    st.actions.take()
}

fn next_id(shared: &Shared) -> usize {
    let mut st = shared.lock();
    st.calls += 1;
    st.calls
}

fn project(shared: &Shared) -> String {
    shared.lock().project.clone()
}

fn absolute(project: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{project}/{path}")
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions (aider)

fn openai_chat(shared: &Shared, method: &Method, path: &str, body: &Value) -> Answer {
    if method != Method::POST || !path.starts_with("/v1/chat/completions") {
        return not_found(path);
    }
    let stream = body["stream"].as_bool().unwrap_or(false);
    let model = body["model"].as_str().unwrap_or("fake").to_owned();
    let (kind, text) = if !stream && body.to_string().contains("commit message") {
        ("commit", "feat: add proof file".to_owned())
    } else if !stream {
        ("helper", "OK".to_owned())
    } else if let Some(actions) = take_actions(shared, body) {
        ("actions", aider_reply(&actions))
    } else {
        ("done", DONE_TEXT.to_owned())
    };
    let id = format!("chatcmpl-{}", next_id(shared));
    let usage = json!({"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120});
    if !stream {
        let reply = json!({
            "id": id, "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": usage,
        });
        return (kind, json_response(&reply));
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": 1_700_000_000,
               "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events = vec![data(&chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ))];
    for line in text.split_inclusive('\n') {
        events.push(data(&chunk(json!({"content": line}), Value::Null)));
    }
    let mut last = chunk(json!({}), json!("stop"));
    last["usage"] = usage;
    events.push(data(&last));
    events.push("data: [DONE]\n\n".to_owned());
    (kind, sse(events))
}

/// aider's "diff" edit format: a SEARCH/REPLACE block with an empty SEARCH creates a file; a
/// fenced bash block is offered as a shell command.
fn aider_reply(actions: &[Action]) -> String {
    let mut text = String::from("I will do that.\n\n");
    for action in actions {
        match action {
            Action::Write { path, content } => {
                let _ = write!(
                    text,
                    "{path}\n```\n<<<<<<< SEARCH\n=======\n{}\n>>>>>>> REPLACE\n```\n\n",
                    content.trim_end()
                );
            }
            Action::Shell(command) => {
                let _ = write!(text, "Run this:\n\n```bash\n{command}\n```\n\n");
            }
        }
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages (Claude Code)

fn anthropic(shared: &Shared, method: &Method, path: &str, body: &Value) -> Answer {
    if *method == Method::HEAD || (*method == Method::GET && path == "/") {
        return ("probe", respond(200, "text/plain", Chunks::empty()));
    }
    if method != Method::POST || !path.starts_with("/v1/messages") {
        return not_found(path);
    }
    if path.starts_with("/v1/messages/count_tokens") {
        let reply = json!({"input_tokens": 100});
        return ("helper", json_response(&reply));
    }
    let has_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let model = body["model"].as_str().unwrap_or("claude").to_owned();
    let project = project(shared);
    let (kind, blocks): (&'static str, Vec<Value>) = if !has_tools {
        ("helper", vec![json!({"type": "text", "text": "OK"})])
    } else if let Some(actions) = take_actions(shared, body) {
        let mut blocks = vec![json!({"type": "text", "text": "I will use a tool."})];
        for action in &actions {
            let (name, input) = match action {
                Action::Shell(command) => (
                    "Bash",
                    json!({"command": command, "description": "Run the requested command"}),
                ),
                Action::Write { path, content } => (
                    "Write",
                    json!({"file_path": absolute(&project, path), "content": content}),
                ),
            };
            let id = format!("toolu_fake{:04}", next_id(shared));
            blocks.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
        }
        ("actions", blocks)
    } else {
        ("done", vec![json!({"type": "text", "text": DONE_TEXT})])
    };
    let stop = if kind == "actions" {
        "tool_use"
    } else {
        "end_turn"
    };
    let id = format!("msg_fake{:04}", next_id(shared));
    let usage = json!({"input_tokens": 100, "output_tokens": 20,
                       "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0});
    let stream = body["stream"] == true;
    (
        kind,
        messages_reply(&id, &model, &blocks, stop, &usage, stream),
    )
}

/// A Messages reply of `blocks` (`text` and `tool_use`): one `message` object, or when
/// `stream`, the SSE events `message_start`, `content_block_start`/`_delta`/`_stop` per block,
/// `message_delta` and `message_stop`. `usage` is the final count; `message_start` reports one
/// output token so far.
pub fn messages_reply(
    id: &str,
    model: &str,
    blocks: &[Value],
    stop: &str,
    usage: &Value,
    stream: bool,
) -> Response<Chunks> {
    if !stream {
        return json_response(&json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": blocks, "stop_reason": stop, "stop_sequence": null, "usage": usage}));
    }
    let mut usage_so_far = usage.clone();
    usage_so_far["output_tokens"] = json!(1);
    let mut events = vec![event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": usage_so_far}}),
    )];
    for (index, block) in blocks.iter().enumerate() {
        let (start, delta) = if block["type"] == "tool_use" {
            (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
            )
        } else {
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": block["text"]}),
            )
        };
        events.push(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        events.push(event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
        events.push(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push(event(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": {"output_tokens": usage["output_tokens"]}}),
    ));
    events.push(event("message_stop", &json!({"type": "message_stop"})));
    sse(events)
}

// ---------------------------------------------------------------------------------------------
// OpenAI Responses (Codex CLI)

fn openai_responses(shared: &Shared, method: &Method, path: &str, body: &Value) -> Answer {
    if method != Method::POST || !path.starts_with("/v1/responses") {
        return not_found(path);
    }
    let has_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let model = body["model"].as_str().unwrap_or("fake-model").to_owned();
    let (kind, items): (&'static str, Vec<Value>) = if !has_tools {
        ("helper", vec![message_item(shared, "OK")])
    } else if let Some(actions) = take_actions(shared, body) {
        let items = actions
            .iter()
            .map(|action| {
                let command = match action {
                    Action::Shell(command) => command.clone(),
                    Action::Write { path, content } => {
                        format!("printf '%s' '{}' > {path}", content.replace('\'', "'\\''"))
                    }
                };
                let n = next_id(shared);
                let arguments = json!({
                    "cmd": command,
                    "sandbox_permissions": "require_escalated",
                    "justification": format!("Run `{command}` in the project?"),
                });
                json!({"type": "function_call", "id": format!("fc_fake{n:04}"),
                       "call_id": format!("call_fake{n:04}"), "name": "exec_command",
                       "arguments": arguments.to_string(), "status": "completed"})
            })
            .collect();
        ("actions", items)
    } else {
        ("done", vec![message_item(shared, DONE_TEXT)])
    };
    let id = format!("resp_fake{:04}", next_id(shared));
    let mut seq = 0u64;
    let mut next = |mut value: Value| {
        value["sequence_number"] = json!(seq);
        seq += 1;
        value
    };
    let response = |status: &str, output: &[Value]| {
        json!({"id": id, "object": "response", "created_at": 1_700_000_000, "status": status,
               "model": model, "output": output,
               "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 0},
                         "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 0},
                         "total_tokens": 120}})
    };
    let mut events = vec![event(
        "response.created",
        &next(json!({"type": "response.created", "response": response("in_progress", &[])})),
    )];
    for (index, item) in items.iter().enumerate() {
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        if item["type"] == "message" {
            added["content"] = json!([]);
        }
        events.push(event(
            "response.output_item.added",
            &next(
                json!({"type": "response.output_item.added", "output_index": index,
                         "item": added}),
            ),
        ));
        if item["type"] == "message" {
            let text = &item["content"][0]["text"];
            events.push(event(
                "response.output_text.delta",
                &next(
                    json!({"type": "response.output_text.delta", "item_id": item["id"],
                             "output_index": index, "content_index": 0, "delta": text}),
                ),
            ));
        }
        events.push(event(
            "response.output_item.done",
            &next(
                json!({"type": "response.output_item.done", "output_index": index,
                         "item": item}),
            ),
        ));
    }
    events.push(event(
        "response.completed",
        &next(json!({"type": "response.completed", "response": response("completed", &items)})),
    ));
    (kind, sse(events))
}

fn message_item(shared: &Shared, text: &str) -> Value {
    json!({"type": "message", "id": format!("msg_fake{:04}", next_id(shared)),
           "role": "assistant", "status": "completed",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

// ---------------------------------------------------------------------------------------------
// Gemini v1beta (Gemini CLI)

fn gemini(shared: &Shared, method: &Method, path: &str, body: &Value) -> Answer {
    let stream = path.contains(":streamGenerateContent");
    if method != Method::POST
        || !path.starts_with("/v1beta/models/")
        || !(stream || path.contains(":generateContent"))
    {
        if path.contains(":countTokens") {
            let reply = json!({"totalTokens": 100});
            return ("helper", json_response(&reply));
        }
        return not_found(path);
    }
    let config = &body["generationConfig"];
    let wants_json = config["responseMimeType"] == "application/json"
        || !config["responseJsonSchema"].is_null()
        || !config["responseSchema"].is_null();
    let has_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let project = project(shared);
    let (kind, parts): (&'static str, Vec<Value>) = if wants_json {
        let text = json!({
            "reasoning": "fake", "next_speaker": "user", "model_choice": "flash",
            "complexity_reasoning": "fake", "complexity_score": 1, "is_loop": false,
            "unproductive_state_confidence": 0.0, "unproductive_state_analysis": "fake"});
        ("helper", vec![json!({"text": text.to_string()})])
    } else if !has_tools {
        ("helper", vec![json!({"text": "OK"})])
    } else if let Some(actions) = take_actions(shared, body) {
        let calls = actions
            .iter()
            .map(|action| match action {
                Action::Shell(command) => json!({"functionCall": {
                    "name": "run_shell_command",
                    "args": {"command": command, "description": "Run the requested command"}}}),
                Action::Write { path, content } => json!({"functionCall": {
                    "name": "write_file",
                    "args": {"file_path": absolute(&project, path), "content": content}}}),
            })
            .collect();
        ("actions", calls)
    } else {
        ("done", vec![json!({"text": DONE_TEXT})])
    };
    let reply = json!({
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                        "index": 0}],
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20,
                          "totalTokenCount": 120},
        "modelVersion": "fake"});
    if stream {
        (kind, sse(vec![data(&reply)]))
    } else {
        (kind, json_response(&reply))
    }
}
