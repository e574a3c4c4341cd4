//! The HTTP side of the fake LLM APIs ([`super::fake_llm`], [`super::fake_anthropic`]): serve
//! on 127.0.0.1 (a free port), hand each request to the fake's answer function, and record it
//! with the kind of answer it got, so a test can read what the model was told.
//!
//! Bodies go out one frame per chunk: a single JSON object with a `Content-Length`, a stream
//! (SSE) with `Transfer-Encoding: chunked`, one chunk per event, as a real API streams.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub body: Value,
    /// How it was answered: `actions`, `done`, `helper`, `commit`, `probe`, `unknown`.
    pub kind: &'static str,
}

impl Recorded {
    /// The request body as text (for "did the agent send X" checks).
    pub fn text(&self) -> String {
        self.body.to_string()
    }
}

/// How a fake answers a request (method, path and query, JSON body or `Null`): the kind to
/// record, and the response.
pub type Answer = (&'static str, Response<Chunks>);

/// A running server; stops when dropped, and its connections with it.
pub struct LlmServer {
    addr: SocketAddr,
    log: Arc<Log>,
    task: JoinHandle<()>,
}

struct Log {
    requests: Mutex<Vec<Recorded>>,
    changed: Notify,
}

impl Log {
    fn requests(&self) -> std::sync::MutexGuard<'_, Vec<Recorded>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LlmServer {
    /// Listen on 127.0.0.1 (a free port) and answer every request with `answer`.
    pub async fn start<F>(answer: F) -> LlmServer
    where
        F: Fn(&Method, &str, &Value) -> Answer + Send + Sync + 'static,
    {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind fake LLM");
        let addr = listener.local_addr().expect("local addr");
        let log = Arc::new(Log {
            requests: Mutex::new(Vec::new()),
            changed: Notify::new(),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::new(answer), Arc::clone(&log)));
        LlmServer { addr, log, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.requests().clone()
    }

    /// The first request that satisfies `pred`, waiting up to `timeout`.
    pub async fn wait_request(
        &self,
        pred: impl Fn(&Recorded) -> bool,
        timeout: Duration,
    ) -> Option<Recorded> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.log.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(found) = self.log.requests().iter().find(|r| pred(r)) {
                return Some(found.clone());
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }

    /// One line per request, for failure messages.
    pub fn summary(&self) -> String {
        self.requests()
            .iter()
            .map(|r| format!("{} {} -> {}", r.method, r.path, r.kind))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for LlmServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop<F>(listener: TcpListener, answer: Arc<F>, log: Arc<Log>)
where
    F: Fn(&Method, &str, &Value) -> Answer + Send + Sync + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let answer = Arc::clone(&answer);
                let log = Arc::clone(&log);
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        handle(Arc::clone(&answer), Arc::clone(&log), req)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle<F>(
    answer: Arc<F>,
    log: Arc<Log>,
    req: Request<Incoming>,
) -> Result<Response<Chunks>, Infallible>
where
    F: Fn(&Method, &str, &Value) -> Answer,
{
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), ToString::to_string);
    let (kind, response) = answer(&parts.method, &path, &body);
    log.requests().push(Recorded {
        method: parts.method.to_string(),
        path,
        body,
        kind,
    });
    log.changed.notify_waiters();
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Bodies: one frame per chunk; a single JSON object goes out with a Content-Length, a stream
// chunked.

pub struct Chunks {
    chunks: VecDeque<Bytes>,
    stream: bool,
}

impl Chunks {
    pub fn json(value: &Value) -> Chunks {
        Chunks {
            chunks: VecDeque::from([Bytes::from(value.to_string())]),
            stream: false,
        }
    }

    pub fn empty() -> Chunks {
        Chunks {
            chunks: VecDeque::new(),
            stream: false,
        }
    }

    pub fn events(events: Vec<String>) -> Chunks {
        Chunks {
            chunks: events.into_iter().map(Bytes::from).collect(),
            stream: true,
        }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.chunks.pop_front().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        if self.stream {
            SizeHint::default()
        } else {
            SizeHint::with_exact(self.chunks.iter().map(|c| c.len() as u64).sum())
        }
    }
}

pub fn respond(status: u16, content_type: &str, body: Chunks) -> Response<Chunks> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(body)
        .expect("valid response")
}

/// A `200 application/json` response.
pub fn json_response(value: &Value) -> Response<Chunks> {
    respond(200, "application/json", Chunks::json(value))
}

/// A `200 text/event-stream` response, one chunk per event.
pub fn sse(events: Vec<String>) -> Response<Chunks> {
    let mut response = respond(200, "text/event-stream", Chunks::events(events));
    response
        .headers_mut()
        .insert("cache-control", "no-cache".parse().expect("header"));
    response
}

/// An `event:`/`data:` pair (Anthropic, OpenAI Responses).
pub fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// A bare `data:` line (OpenAI Chat, Gemini).
pub fn data(data: &Value) -> String {
    format!("data: {data}\n\n")
}
