//! A minimal fake Anthropic Messages API, enough for Claude Code to run one scripted turn
//! offline (the shapes are in `../shared/research/agent-lab.md`, "Claude Code 2.1.197").
//!
//! - `HEAD /` (Claude Code's start-up probe) and any `GET` answer 200 with no body.
//! - `POST /v1/messages[?beta=true]`: when the request offers tools and no `tool_result` is in the
//!   conversation yet, the reply is a short text block plus the scripted `tool_use` block
//!   (`stop_reason: "tool_use"`); otherwise it is the text `FAKE-DONE: the tool ran.`
//!   (`end_turn`). Streaming requests get the SSE events `message_start`,
//!   `content_block_start`/`_delta`/`_stop` per block, `message_delta`, `message_stop`; others
//!   get one `message` object.
//! - `POST /v1/messages/count_tokens` answers a fixed count.
//!
//! Every request body is recorded, so a test can read what the model was told (a tool result
//! carrying a denial reason, for example).

#![allow(dead_code)]

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The text of the model's last turn, once its tool ran (or was refused).
pub const DONE: &str = "FAKE-DONE: the tool ran.";

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Value,
}

pub struct FakeAnthropic {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    /// The tool call the model makes: `{"name": …, "input": {…}}`.
    tool_use: Value,
    requests: Mutex<Vec<Recorded>>,
    changed: Notify,
}

impl FakeAnthropic {
    /// Serve on 127.0.0.1 (a free port); the model asks for `tool_use` once per conversation.
    pub async fn start(tool_use: Value) -> FakeAnthropic {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind fake anthropic");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            tool_use,
            requests: Mutex::new(Vec::new()),
            changed: Notify::new(),
        });
        let task = tokio::spawn(accept(listener, Arc::clone(&shared)));
        FakeAnthropic { addr, shared, task }
    }

    /// For `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The first recorded request that satisfies `pred`, waiting up to `timeout`.
    pub async fn wait_request(
        &self,
        pred: impl Fn(&Recorded) -> bool,
        timeout: Duration,
    ) -> Option<Recorded> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            if let Some(found) = self.requests().into_iter().find(&pred) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.task.abort();
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

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&shared), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().to_string();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    shared
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            body: body.clone(),
        });
    shared.changed.notify_waiters();

    if method != Method::POST {
        return Ok(Response::new(Full::new(Bytes::new())));
    }
    if path.starts_with("/v1/messages/count_tokens") {
        return Ok(json_response(&json!({"input_tokens": 10})));
    }
    if !path.starts_with("/v1/messages") {
        let mut response = json_response(
            &json!({"type": "error", "error": {"type": "not_found_error", "message": "not found"}}),
        );
        *response.status_mut() = hyper::StatusCode::NOT_FOUND;
        return Ok(response);
    }

    let offers_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let (blocks, stop) = if offers_tools && tool_results(&body).is_empty() {
        let tool = &shared.tool_use;
        (
            vec![
                json!({"type": "text", "text": "I will do that."}),
                json!({"type": "tool_use", "id": "toolu_fake_01", "name": tool["name"], "input": tool["input"]}),
            ],
            "tool_use",
        )
    } else {
        (vec![json!({"type": "text", "text": DONE})], "end_turn")
    };
    let model = body["model"].as_str().unwrap_or("claude-fake").to_owned();
    if body["stream"] == true {
        Ok(sse_response(&blocks, stop, &model))
    } else {
        Ok(json_response(&json!({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": blocks, "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        })))
    }
}

fn json_response(value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn sse_response(blocks: &[Value], stop: &str, model: &str) -> Response<Full<Bytes>> {
    let mut out = String::new();
    let mut event = |name: &str, data: Value| {
        let _ = write!(out, "event: {name}\ndata: {data}\n\n");
    };
    event(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        }}),
    );
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
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
        event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        );
    }
    event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 5}}),
    );
    event("message_stop", json!({"type": "message_stop"}));
    let mut response = Response::new(Full::new(Bytes::from(out)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    response
}
