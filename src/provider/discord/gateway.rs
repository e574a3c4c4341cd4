//! The Discord Gateway: one WebSocket per process, shared by every ticket.
//!
//! # Theory of operation
//!
//! [`Gateway`] is a handle; one driver task owns the connection and everything about it. It
//! runs in the one process that leads the bot's [relay](crate::relay), which tells it whether
//! it is wanted ([`Gateway::want`]) and relays its [`Status`] and its [`Event`]s (clicks,
//! modal submits, messages, raw with their sequence numbers) to the processes whose tickets
//! own them.
//!
//! - **Only while wanted.** The driver connects when some process has a ticket and closes with
//!   1000 (which ends the session) when none is left, so idle processes hold no connection.
//!   When the handle is dropped (the process exits) it closes nothing: a successor may resume.
//!   Identifies are rationed (1000 a day), so all the processes of one bot share one.
//! - **Handing over.** Each new session is reported as [`Event::Session`]; the relay passes it
//!   on, so when the leading process exits or dies, its successor starts with
//!   [`Config::resume`] and resumes that session instead of identifying again.
//! - **Connecting.** The URL is `gateway_url` from the config, else the `url` of
//!   `GET /gateway/bot` (asked once per process), with `?v=10&encoding=json`. The TCP
//!   connection goes through the HTTP proxy that applies (see [`super::proxy`]); TLS for
//!   `wss://` is rustls.
//! - **Heartbeats.** After Hello, the first heartbeat goes out after `heartbeat_interval`
//!   times a random factor in [0, 1), then one per interval, carrying the last sequence number.
//!   Each heartbeat must be acknowledged (op 11) before the next is due: if not, the connection
//!   is a zombie; the driver closes it with 4000 (never 1000, which would end the session) and
//!   resumes. A server op 1 is answered with a heartbeat at once.
//! - **Sessions.** READY gives `session_id` and `resume_gateway_url`; the driver tracks the
//!   last `s`. Whenever a connection ends without ending the session (dropped without a close
//!   frame, zombie, op 7 Reconnect, op 9 with `d: true`, a resumable close code) the next
//!   connection goes to `resume_gateway_url` and sends Resume; Discord replays what was missed,
//!   then RESUMED. op 9 with `d: false` (also the answer to a refused Resume), 4003, 4007 and
//!   4009 start a new session: wait 1 to 5 s, connect to the discovered URL, Identify.
//! - **Intents.** GUILD_MESSAGES and DIRECT_MESSAGES (replies to the request), plus
//!   MESSAGE_CONTENT when reply-text feedback is on: without it Discord blanks the text of
//!   replies that do not ping the bot. Interactions need no intent. If Discord closes with
//!   4014 (privileged intent not enabled), the driver says which Developer Portal switch to
//!   flip and identifies again without MESSAGE_CONTENT: buttons and the reason form keep
//!   working.
//! - **Fatal closes.** 4004 (bad token), 4010 to 4013 and a proxy that cannot be used make the
//!   status [`Status::Failed`] for the rest of the process; tickets report that as a failure.
//! - **Trouble.** A failed connection attempt sets [`Status::Trouble`] and retries with
//!   backoff; tickets pass it on, so the gate may fail over. Connections that end before
//!   READY/RESUMED also back off, so a server that keeps refusing is not hammered.
//!
//! The driver's `select!` waits only on cancel-safe futures (`StreamExt::next`, `sleep_until`,
//! `watch::Receiver::changed`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message as Frame, http::HeaderValue};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::proxy::{ConnectError, Proxies};
use super::rest::{Backoff, Rest, RestError, jitter};
use crate::provider::{ProviderError, ProviderName};
use crate::secret::Secret;

pub const GUILD_MESSAGES: u64 = 1 << 9;
pub const DIRECT_MESSAGES: u64 = 1 << 12;
pub const MESSAGE_CONTENT: u64 = 1 << 15;

const HELLO_TIMEOUT: Duration = Duration::from_secs(20);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// After this many failed attempts to reach `resume_gateway_url`, start a new session on the
/// discovered URL instead.
const RESUME_ATTEMPTS: u32 = 3;
/// A close code that ends a connection but keeps the session resumable.
const RECONNECT_CLOSE: u16 = 4000;

/// What the Gateway needs to know.
pub struct Config {
    pub token: Secret,
    /// `gateway_url` from the config: skips `GET /gateway/bot`.
    pub url: Option<String>,
    /// Ask for MESSAGE_CONTENT (reply-text feedback).
    pub message_content: bool,
    pub proxies: Proxies,
    /// A session to resume (a previous leader's) instead of identifying.
    pub resume: Option<Resume>,
}

/// What resuming a session takes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Resume {
    pub session_id: String,
    pub url: String,
    /// The last sequence number handled.
    pub seq: Option<u64>,
}

/// Where the Gateway stands.
#[derive(Debug, Clone)]
pub enum Status {
    /// Not connected yet, idle, or reconnecting.
    Down,
    /// Identified or resumed: events flow. `message_content` says whether reply texts are
    /// visible.
    Ready { message_content: bool },
    /// The last connection attempt failed; retrying.
    Trouble(String),
    /// The Gateway cannot work in this process (bad token, unusable proxy, bad intents).
    Failed(ProviderError),
}

/// What the Gateway hands to the provider.
#[derive(Debug)]
pub enum Event {
    /// INTERACTION_CREATE or MESSAGE_CREATE, as received, with its sequence number.
    Dispatch {
        kind: Dispatch,
        seq: Option<u64>,
        d: Value,
    },
    /// READY began a new session: resume it with this (sequence numbers then follow the
    /// dispatches).
    Session(Resume),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    Interaction,
    Message,
}

/// The handle of the process's Gateway connection.
pub struct Gateway {
    want: watch::Sender<bool>,
    status: watch::Receiver<Status>,
}

impl Gateway {
    /// Start the driver task. It stays idle until [`Gateway::want`] is called with `true`.
    pub fn spawn(config: Config, rest: Arc<Rest>, events: mpsc::Sender<Event>) -> Gateway {
        let (want_tx, want_rx) = watch::channel(false);
        let (status_tx, status_rx) = watch::channel(Status::Down);
        let driver = Driver {
            content: config.message_content,
            session: config.resume.clone().map(|r| Session {
                id: r.session_id,
                resume_url: r.url,
                seq: r.seq,
            }),
            config,
            rest,
            events,
            want: want_rx,
            status: status_tx,
            discovered: None,
            backoff: Backoff::default(),
            failures: 0,
        };
        tokio::spawn(driver.run());
        Gateway {
            want: want_tx,
            status: status_rx,
        }
    }

    /// Whether some ticket needs the connection.
    pub fn want(&self, on: bool) {
        self.want
            .send_if_modified(|w| std::mem::replace(w, on) != on);
    }

    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }
}

/// The intents to identify with.
pub fn intents(message_content: bool) -> u64 {
    let base = GUILD_MESSAGES | DIRECT_MESSAGES;
    if message_content {
        base | MESSAGE_CONTENT
    } else {
        base
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A session that can be resumed.
struct Session {
    id: String,
    resume_url: String,
    seq: Option<u64>,
}

/// How a connection ended, and what to do next.
enum End {
    /// Nobody needs the Gateway: closed with 1000, session over.
    Idle,
    /// The handle is gone (the process is exiting): the socket is dropped without a close
    /// frame, so the session stays resumable for the process that leads next.
    Gone,
    /// Reconnect and resume (if there is a session; else identify).
    Resume,
    /// Start a new session after this pause.
    Identify {
        after: Duration,
    },
    /// 4014 while asking for MESSAGE_CONTENT: identify again without it.
    WithoutContent,
    Fatal(ProviderError),
}

#[derive(Deserialize)]
struct Payload {
    op: u8,
    #[serde(default)]
    d: Value,
    s: Option<u64>,
    t: Option<String>,
}

struct Driver {
    config: Config,
    rest: Arc<Rest>,
    events: mpsc::Sender<Event>,
    want: watch::Receiver<bool>,
    status: watch::Sender<Status>,
    /// The URL from `GET /gateway/bot`, asked once.
    discovered: Option<String>,
    session: Option<Session>,
    backoff: Backoff,
    /// Failed connection attempts in a row.
    failures: u32,
    /// Whether MESSAGE_CONTENT is asked for (turned off after a 4014).
    content: bool,
}

impl Driver {
    async fn run(mut self) {
        loop {
            if !self.wait_until_wanted().await {
                return;
            }
            let url = match self.session.as_ref().map(|s| s.resume_url.clone()) {
                Some(url) => url,
                None => match self.gateway_url().await {
                    Ok(url) => url,
                    Err(error)
                        if error.is_permanent() || matches!(error, RestError::Rejected { .. }) =>
                    {
                        return self
                            .fail(format!("cannot get the Gateway URL: {}", error.describe()))
                            .await;
                    }
                    Err(error) => {
                        self.trouble(format!("cannot get the Gateway URL: {}", error.describe()));
                        let pause = match error {
                            RestError::RateLimited { wait, .. } => wait,
                            _ => self.backoff.next(),
                        };
                        self.pause(pause).await;
                        continue;
                    }
                },
            };
            let socket = match self.open(&url).await {
                Ok(socket) => socket,
                Err(error) if error.permanent => return self.fail(error.message).await,
                Err(error) => {
                    self.trouble(error.message);
                    self.failures += 1;
                    if self.failures >= RESUME_ATTEMPTS {
                        self.session = None;
                    }
                    let pause = self.backoff.next();
                    self.pause(pause).await;
                    continue;
                }
            };
            self.failures = 0;
            let mut ready = false;
            let end = self.drive(socket, &mut ready).await;
            let settle = if ready {
                Duration::ZERO
            } else {
                self.backoff.next()
            };
            match end {
                End::Gone => return,
                End::Idle => {
                    self.session = None;
                    self.status.send_replace(Status::Down);
                }
                End::Resume => {
                    self.status.send_replace(Status::Down);
                    self.pause(settle).await;
                }
                End::Identify { after } => {
                    self.session = None;
                    self.status.send_replace(Status::Down);
                    self.pause(after.max(settle)).await;
                }
                End::WithoutContent => {
                    self.session = None;
                    self.content = false;
                    crate::log::warn(
                        "discord: the Gateway refused the Message Content intent (close code \
                         4014: disallowed intents). To read replies with a note, open the \
                         Discord Developer Portal, select your application, then Bot → \
                         Privileged Gateway Intents, and turn on \"Message Content Intent\". \
                         Carrying on without reply-text feedback: the buttons and the reason \
                         form still work.",
                    );
                }
                End::Fatal(error) => {
                    self.status.send_replace(Status::Failed(error));
                    return self.park().await;
                }
            }
        }
    }

    /// Wait until a ticket wants the Gateway; false when the handle is gone.
    async fn wait_until_wanted(&mut self) -> bool {
        while !*self.want.borrow_and_update() {
            if self.want.changed().await.is_err() {
                return false;
            }
        }
        true
    }

    /// Sleep, unless nobody wants the Gateway any more.
    async fn pause(&mut self, pause: Duration) {
        if pause.is_zero() {
            return;
        }
        let until = Instant::now() + pause;
        loop {
            tokio::select! {
                () = sleep_until(until) => return,
                changed = self.want.changed() => {
                    if changed.is_err() || !*self.want.borrow() {
                        return;
                    }
                }
            }
        }
    }

    fn trouble(&self, message: String) {
        self.status.send_replace(Status::Trouble(message));
    }

    async fn fail(&mut self, message: String) {
        let error = ProviderError::new(ProviderName::Discord, message, true);
        self.status.send_replace(Status::Failed(error));
        self.park().await;
    }

    /// Stay failed for the rest of the process (the status keeps saying why).
    async fn park(&mut self) {
        while self.want.changed().await.is_ok() {}
    }

    async fn gateway_url(&mut self) -> Result<String, RestError> {
        if let Some(url) = self.config.url.clone().or_else(|| self.discovered.clone()) {
            return Ok(url);
        }
        let answer = self
            .rest
            .call(
                reqwest::Method::GET,
                "/gateway/bot",
                None,
                Duration::from_secs(20),
            )
            .await?;
        let url = answer
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| RestError::Transient("GET /gateway/bot gave no url".into()))?
            .to_owned();
        self.discovered = Some(url.clone());
        Ok(url)
    }

    /// A WebSocket to `base` (with the version and encoding added), through the proxy.
    async fn open(&self, base: &str) -> Result<Socket, ConnectError> {
        let transient = |message: String| ConnectError {
            message,
            permanent: false,
        };
        let url = endpoint(base).map_err(|m| ConnectError {
            message: m,
            permanent: true,
        })?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let secure = url.scheme() == "wss";
        let proxy = self.config.proxies.for_target(secure, &host);
        let tcp = super::proxy::connect(&host, port, proxy).await?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| transient(format!("bad Gateway URL {base}: {e}")))?;
        request.headers_mut().insert(
            "user-agent",
            HeaderValue::from_static(super::rest::USER_AGENT),
        );
        let handshake = tokio_tungstenite::client_async_tls_with_config(request, tcp, None, None);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok((socket, _))) => Ok(socket),
            Ok(Err(e)) => Err(transient(format!(
                "the Discord Gateway at {} refused the WebSocket: {}",
                shown(&url),
                super::rest::error_chain(&e)
            ))),
            Err(_) => Err(transient(format!(
                "the Discord Gateway at {} did not answer in time",
                shown(&url)
            ))),
        }
    }

    /// Run one connection until it ends.
    async fn drive(&mut self, mut ws: Socket, ready: &mut bool) -> End {
        let hello = tokio::time::timeout(HELLO_TIMEOUT, next_payload(&mut ws)).await;
        let interval = match hello {
            Ok(Some(p)) if p.op == 10 => {
                p.d.get("heartbeat_interval")
                    .and_then(Value::as_u64)
                    .unwrap_or(41_250)
            }
            _ => return End::Resume,
        };
        let interval = Duration::from_millis(interval.max(1));
        let mut next_beat = Instant::now() + interval.mul_f64(jitter());
        let mut acked = true;

        let opening = match &self.session {
            Some(session) => json!({"op": 6, "d": {
                "token": self.config.token.expose(),
                "session_id": session.id,
                "seq": session.seq,
            }}),
            None => json!({"op": 2, "d": {
                "token": self.config.token.expose(),
                "intents": intents(self.content),
                "properties": {"os": std::env::consts::OS, "browser": "openfeedback", "device": "openfeedback"},
            }}),
        };
        if send(&mut ws, &opening).await.is_err() {
            return End::Resume;
        }

        loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Frame::Text(text))) => {
                        if let Some(end) = self.on_payload(text.as_str(), &mut ws, &mut acked, ready).await {
                            return end;
                        }
                    }
                    Some(Ok(Frame::Close(frame))) => {
                        return self.on_close(frame.map(|f| u16::from(f.code)));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return End::Resume,
                },
                () = sleep_until(next_beat) => {
                    if !acked {
                        close(&mut ws, RECONNECT_CLOSE).await;
                        return End::Resume;
                    }
                    if send(&mut ws, &self.heartbeat()).await.is_err() {
                        return End::Resume;
                    }
                    acked = false;
                    next_beat = (next_beat + interval).max(Instant::now());
                }
                changed = self.want.changed() => {
                    // Never 1000 on the way out: that would end the session another process
                    // is about to resume.
                    if changed.is_err() {
                        return End::Gone;
                    }
                    if !*self.want.borrow() {
                        close(&mut ws, 1000).await;
                        return End::Idle;
                    }
                }
            }
        }
    }

    fn heartbeat(&self) -> Value {
        json!({"op": 1, "d": self.session.as_ref().and_then(|s| s.seq)})
    }

    async fn on_payload(
        &mut self,
        text: &str,
        ws: &mut Socket,
        acked: &mut bool,
        ready: &mut bool,
    ) -> Option<End> {
        let Ok(payload) = serde_json::from_str::<Payload>(text) else {
            return None;
        };
        match payload.op {
            0 => self.on_dispatch(payload, ready).await,
            1 if send(ws, &self.heartbeat()).await.is_err() => return Some(End::Resume),
            7 => {
                close(ws, RECONNECT_CLOSE).await;
                return Some(End::Resume);
            }
            9 => {
                close(ws, RECONNECT_CLOSE).await;
                if payload.d == Value::Bool(true) {
                    return Some(End::Resume);
                }
                let after = Duration::from_secs_f64(1.0 + 4.0 * jitter());
                return Some(End::Identify { after });
            }
            11 => *acked = true,
            _ => {}
        }
        None
    }

    async fn on_dispatch(&mut self, payload: Payload, ready: &mut bool) {
        let kind = payload.t.as_deref().unwrap_or_default();
        if kind == "READY" {
            let field = |name: &str| payload.d.get(name).and_then(Value::as_str);
            if let (Some(id), Some(resume)) = (field("session_id"), field("resume_gateway_url")) {
                self.session = Some(Session {
                    id: id.to_owned(),
                    resume_url: resume.to_owned(),
                    seq: None,
                });
            }
        }
        if let (Some(s), Some(session)) = (payload.s, self.session.as_mut()) {
            session.seq = Some(session.seq.map_or(s, |old| old.max(s)));
        }
        let kind = match kind {
            "READY" | "RESUMED" => {
                *ready = true;
                self.backoff.reset();
                if kind == "READY"
                    && let Some(session) = &self.session
                {
                    let resume = Resume {
                        session_id: session.id.clone(),
                        url: session.resume_url.clone(),
                        seq: payload.s,
                    };
                    let _ = self.events.send(Event::Session(resume)).await;
                }
                self.status.send_replace(Status::Ready {
                    message_content: self.content,
                });
                return;
            }
            "INTERACTION_CREATE" => Dispatch::Interaction,
            "MESSAGE_CREATE" => Dispatch::Message,
            _ => return,
        };
        let event = Event::Dispatch {
            kind,
            seq: payload.s,
            d: payload.d,
        };
        let _ = self.events.send(event).await;
    }

    fn on_close(&self, code: Option<u16>) -> End {
        let fatal =
            |message: String| End::Fatal(ProviderError::new(ProviderName::Discord, message, true));
        match code {
            Some(4004) => fatal(
                "Discord refused the bot token (Gateway close code 4004: authentication \
                 failed); check discord.bot_token or OPENFEEDBACK_DISCORD_BOT_TOKEN"
                    .into(),
            ),
            Some(4014) if self.content => End::WithoutContent,
            Some(code @ (4010..=4014)) => fatal(format!(
                "the Discord Gateway closed the connection with code {code} ({}); this cannot \
                 be retried",
                match code {
                    4010 => "invalid shard",
                    4011 => "sharding required",
                    4012 => "invalid API version",
                    4013 => "invalid intents",
                    _ => "disallowed intents",
                }
            )),
            Some(4003 | 4007 | 4009) => End::Identify {
                after: Duration::ZERO,
            },
            _ => End::Resume,
        }
    }
}

/// The next JSON payload of a fresh connection (`None` if it closed first).
async fn next_payload(ws: &mut Socket) -> Option<Payload> {
    loop {
        match ws.next().await? {
            Ok(Frame::Text(text)) => return serde_json::from_str(text.as_str()).ok(),
            Ok(Frame::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn send(ws: &mut Socket, payload: &Value) -> Result<(), ()> {
    ws.send(Frame::text(payload.to_string()))
        .await
        .map_err(|_| ())
}

/// Close with `code`, without waiting long for a dead peer.
async fn close(ws: &mut Socket, code: u16) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
}

/// `base` with Discord's version and encoding: `wss://gateway.discord.gg/?v=10&encoding=json`.
pub fn endpoint(base: &str) -> Result<reqwest::Url, String> {
    let mut url = reqwest::Url::parse(base.trim())
        .map_err(|e| format!("the Gateway URL {base:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "ws" | "wss") || url.host_str().is_none() {
        return Err(format!(
            "the Gateway URL {base:?} must start with ws:// or wss://"
        ));
    }
    url.set_query(Some("v=10&encoding=json"));
    Ok(url)
}

/// A URL for messages: no credentials, no query.
fn shown(url: &reqwest::Url) -> String {
    format!(
        "{}://{}{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port().map(|p| format!(":{p}")).unwrap_or_default(),
        url.path().trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_are_the_least_needed() {
        assert_eq!(intents(false), 512 | 4096);
        assert_eq!(intents(true), 512 | 4096 | 32768);
    }

    #[test]
    fn endpoints_carry_version_and_encoding() {
        assert_eq!(
            endpoint("wss://gateway.discord.gg").unwrap().as_str(),
            "wss://gateway.discord.gg/?v=10&encoding=json"
        );
        assert_eq!(
            endpoint("ws://127.0.0.1:9/resume?x=1").unwrap().as_str(),
            "ws://127.0.0.1:9/resume?v=10&encoding=json"
        );
        assert!(endpoint("https://discord.com").is_err());
    }
}
