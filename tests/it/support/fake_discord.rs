//! A fake Discord on 127.0.0.1: REST v10, the Gateway (plain `ws://`), and interactions,
//! faithful to the rules in `shared/research/protocols.md` B8, driven by a scripted human.
//!
//! - REST ([`rest`]): `/api/v10`, `Authorization: Bot <token>` (401 JSON otherwise), a
//!   `User-Agent` starting with `DiscordBot (`, JSON bodies only, Create/Edit Message with
//!   Discord's validation and 50035 field errors, snowflake strings, rate-limit headers on
//!   every answer, scriptable 429s (float `retry_after`) and 5xx bursts.
//! - Gateway ([`gateway`]): Hello with a small heartbeat interval, one ACK per heartbeat,
//!   Identify/Resume rules and close codes, READY with a distinct `resume_gateway_url`,
//!   strictly increasing `s`, per-session buffering and replay on Resume, intent filtering,
//!   and fault injection (drop without a close frame, op 7, op 9, silent ACKs, close codes).
//! - Interactions: the human clicks, submits modals and replies; callbacks must come within
//!   the 3-second window (a late or unknown one gets 404 10062 and is recorded in
//!   [`FakeDiscord::late_callbacks`]), a second one gets 400 40060, type 7 edits the message.
//!
//! Anything the client does that Discord would refuse or that breaks a documented rule is
//! recorded in [`FakeDiscord::violations`]; tests assert it stays empty.
//!
//! To combine with other fakes, use [`FakeDiscord::config_section`] for the `[discord]` part
//! of a config file.

#![allow(dead_code)]

mod gateway;
mod rest;
mod validate;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

pub const GUILD: &str = "1100000000000000000";
pub const CHANNEL: &str = "1110000000000000000";
pub const APPLICATION: &str = "1200000000000000000";
/// The bot user's id (the application's, as for every bot).
pub const BOT_USER: &str = APPLICATION;
/// The token the fake accepts, unless [`Options::token`] says otherwise.
pub const TOKEN: &str = "MTIwMDAwMDAwMDAwMDAwMDAwMA.fake.discord-bot-token-do-not-print";

pub const INTENT_GUILD_MESSAGES: u64 = 1 << 9;
pub const INTENT_DIRECT_MESSAGES: u64 = 1 << 12;
pub const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;
/// GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT.
const PRIVILEGED: u64 = (1 << 1) | (1 << 8) | (1 << 15);
/// Every intent bit Discord defines.
const KNOWN_INTENTS: u64 = 0b11_0011_0001_1111_1111_1111_1111;

/// How the fake behaves.
#[derive(Clone, Debug)]
pub struct Options {
    pub token: String,
    /// Sent in Hello.
    pub heartbeat_interval: Duration,
    /// The fake closes a connection (4009) that sends no heartbeat for this long.
    pub heartbeat_timeout: Duration,
    /// Discord's interaction window.
    pub interaction_deadline: Duration,
    /// Whether the Developer Portal switch "Message Content Intent" is on (off: 4014).
    pub allow_message_content: bool,
    /// Refuse requests without a `DiscordBot (` User-Agent.
    pub strict_user_agent: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            token: TOKEN.into(),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(5),
            interaction_deadline: Duration::from_secs(3),
            allow_message_content: true,
            strict_user_agent: true,
        }
    }
}

/// A human (or a bot) of the fake guild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeUser {
    pub id: String,
    pub name: String,
    pub bot: bool,
}

impl FakeUser {
    /// A human with an id above 2^53 (so a client that parses ids as doubles loses digits).
    pub fn human(name: &str) -> FakeUser {
        let n = name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
            % 1_000_000;
        FakeUser {
            id: (9_007_199_254_740_993u64 + n * 2).to_string(),
            name: name.to_owned(),
            bot: false,
        }
    }

    fn json(&self) -> Value {
        json!({"id": self.id, "username": self.name, "global_name": self.name,
               "discriminator": "0", "avatar": null, "bot": self.bot})
    }
}

/// One callback the client sent.
#[derive(Clone, Debug)]
pub struct Callback {
    pub interaction: String,
    pub body: Value,
    pub status: u16,
}

/// One HTTP request the client sent.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub status: u16,
    pub user_agent: String,
}

/// One Gateway connection.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    pub path: String,
    pub query: String,
    /// "identify" or "resume", once the client said which.
    pub opened_with: Option<&'static str>,
    /// The close code the client sent, if it closed with a frame.
    pub client_close: Option<u16>,
    pub ended: bool,
}

enum FaultKind {
    RateLimit { retry_after: f64, global: bool },
    Status(u16),
}

struct RestFault {
    method: String,
    path_contains: String,
    remaining: usize,
    kind: FaultKind,
}

struct Interaction {
    token: String,
    kind: u8,
    created: Instant,
    message_id: String,
    user: FakeUser,
    response: Option<Value>,
    /// The modal this interaction opened (type 9 response).
    modal: Option<Value>,
}

/// Commands for a connection's task.
#[derive(Debug)]
enum Command {
    Send(Value),
    Close(u16),
    /// Drop the TCP connection without a close frame.
    Drop,
}

struct Session {
    intents: u64,
    seq: u64,
    /// Every dispatch of the session, for replay on Resume.
    buffer: Vec<Value>,
    conn: Option<u64>,
    valid: bool,
}

struct Conn {
    tx: mpsc::UnboundedSender<Command>,
    session: Option<String>,
    /// Stop answering heartbeats (a zombie connection, as seen from the client).
    zombie: bool,
}

#[derive(Default)]
struct State {
    last_snowflake: u64,
    /// The channel's messages, current state, in order.
    messages: Vec<Value>,
    interactions: HashMap<String, Interaction>,
    callbacks: Vec<Callback>,
    late: Vec<String>,
    violations: Vec<String>,
    requests: Vec<Recorded>,
    faults: Vec<RestFault>,
    sessions: HashMap<String, Session>,
    conns: HashMap<u64, Conn>,
    connections: Vec<Connection>,
    identifies: usize,
    resumes: usize,
    heartbeats: usize,
}

impl State {
    /// A new snowflake: timestamp-based, strictly increasing.
    fn snowflake(&mut self) -> String {
        let ms = u64::try_from(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        let id = ((ms - 1_420_070_400_000) << 22).max(self.last_snowflake + 1);
        self.last_snowflake = id;
        id.to_string()
    }

    fn message(&self, id: &str) -> Option<&Value> {
        self.messages.iter().find(|m| m["id"] == id)
    }

    fn message_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.messages.iter_mut().find(|m| m["id"] == id)
    }

    fn violation(&mut self, text: String) {
        self.violations.push(text);
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Notify,
    options: Options,
    api_port: u16,
    gateway_port: u16,
}

impl Shared {
    /// Change the state and wake everyone waiting on it.
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.state.lock().unwrap());
        self.changed.notify_waiters();
        out
    }

    fn gateway_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.gateway_port)
    }

    fn resume_url(&self) -> String {
        format!("ws://127.0.0.1:{}/resume", self.gateway_port)
    }
}

/// The fake Discord. Its servers stop when it is dropped.
pub struct FakeDiscord {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        let conns: Vec<_> = self
            .shared
            .state
            .lock()
            .map(|s| s.conns.values().map(|c| c.tx.clone()).collect())
            .unwrap_or_default();
        for tx in conns {
            let _ = tx.send(Command::Drop);
        }
    }
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> FakeDiscord {
        let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gw = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            changed: Notify::new(),
            options,
            api_port: api.local_addr().unwrap().port(),
            gateway_port: gw.local_addr().unwrap().port(),
        });
        let tasks = vec![
            tokio::spawn(rest::serve(api, shared.clone())),
            tokio::spawn(gateway::serve(gw, shared.clone())),
        ];
        FakeDiscord { shared, tasks }
    }

    pub fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}/api/v10", self.shared.api_port)
    }

    pub fn gateway_url(&self) -> String {
        self.shared.gateway_url()
    }

    pub fn gateway_port(&self) -> u16 {
        self.shared.gateway_port
    }

    pub fn api_port(&self) -> u16 {
        self.shared.api_port
    }

    pub fn token(&self) -> &str {
        &self.shared.options.token
    }

    /// A `[discord]` config section pointing at this fake, trusting `trusted`.
    /// `with_gateway_url` also sets `gateway_url` (skipping `GET /gateway/bot`).
    pub fn config_section(&self, trusted: &[&FakeUser], with_gateway_url: bool) -> String {
        let ids: Vec<String> = trusted.iter().map(|u| format!("\"{}\"", u.id)).collect();
        let mut text = format!(
            "[discord]\nbot_token = \"{}\"\napplication_id = \"{APPLICATION}\"\nchannel_id = \
             \"{CHANNEL}\"\ntrusted_user_ids = [{}]\napi_base = \"{}\"\n",
            self.token(),
            ids.join(", "),
            self.api_base()
        );
        if with_gateway_url {
            let _ = writeln!(text, "gateway_url = \"{}\"", self.gateway_url());
        }
        text
    }

    // ---- the scripted human -------------------------------------------------------------

    /// Click the button `custom_id` of message `message_id` as `user`; returns the
    /// interaction id. Fails if the message has no such enabled button.
    pub fn click(
        &self,
        message_id: &str,
        custom_id: &str,
        user: &FakeUser,
    ) -> Result<String, String> {
        let message = self.message(message_id);
        if message.is_null() {
            return Err(format!("no message {message_id}"));
        }
        self.click_on(&message, custom_id, user)
    }

    /// Click a button of `seen`, an earlier state of a message: what a human's client does
    /// when the click races an edit it has not shown yet.
    pub fn click_on(
        &self,
        seen: &Value,
        custom_id: &str,
        user: &FakeUser,
    ) -> Result<String, String> {
        let message_id = seen["id"].as_str().unwrap_or_default().to_owned();
        self.shared.with(|s| {
            let mut message = s
                .message(&message_id)
                .cloned()
                .ok_or_else(|| format!("no message {message_id}"))?;
            message["components"] = seen["components"].clone();
            let button = message["components"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
                .find(|b| b["custom_id"] == custom_id)
                .ok_or_else(|| format!("message {message_id} has no button {custom_id:?}"))?;
            if button["disabled"] == true {
                return Err(format!("button {custom_id:?} is disabled"));
            }
            let data = json!({"custom_id": custom_id, "component_type": 2, "id": button["id"]});
            Ok(gateway::interaction(s, 3, &data, &message, user))
        })
    }

    /// The custom id of the button of `message_id` whose custom id ends with `suffix`
    /// (e.g. `":y"` for Approve, `":n"` for Reject).
    pub fn button(&self, message_id: &str, suffix: &str) -> Option<String> {
        let state = self.shared.state.lock().unwrap();
        state
            .message(message_id)?
            .get("components")?
            .as_array()?
            .iter()
            .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
            .filter_map(|b| b["custom_id"].as_str().map(str::to_owned))
            .find(|id| id.ends_with(suffix))
    }

    /// Submit the modal that interaction `opened_by` opened, typing `values` (input custom id
    /// → text) into its text inputs. The submit mirrors the modal's layout (Label or the
    /// legacy action row). Returns the new interaction id.
    pub fn submit_modal(
        &self,
        opened_by: &str,
        values: &[(&str, &str)],
        user: &FakeUser,
    ) -> Result<String, String> {
        self.shared.with(|s| {
            let opener = s
                .interactions
                .get(opened_by)
                .ok_or_else(|| format!("no interaction {opened_by}"))?;
            let modal = opener
                .modal
                .clone()
                .ok_or_else(|| format!("interaction {opened_by} opened no modal"))?;
            let message = s
                .message(&opener.message_id)
                .cloned()
                .ok_or("the modal's message is gone")?;
            let components = validate::fill_modal(&modal, values)?;
            let data = json!({"custom_id": modal["custom_id"], "components": components});
            Ok(gateway::interaction(s, 5, &data, &message, user))
        })
    }

    /// Reply to `message_id` with `text` as `user`, without pinging the bot (so without the
    /// Message Content intent the bot sees an empty text). Returns the new message id.
    pub fn reply(&self, message_id: &str, text: &str, user: &FakeUser) -> String {
        self.reply_with(message_id, text, user, false)
    }

    /// Reply, with the "ping" toggle on: the reply mentions the bot.
    pub fn reply_with(&self, message_id: &str, text: &str, user: &FakeUser, ping: bool) -> String {
        self.shared.with(|s| {
            let referenced = s.message(message_id).cloned().expect("reply to a message");
            let id = s.snowflake();
            let mentions = if ping {
                json!([{"id": BOT_USER, "username": "openfeedback", "bot": true}])
            } else {
                json!([])
            };
            let message = json!({
                "id": id, "channel_id": CHANNEL, "guild_id": GUILD, "type": 19,
                "author": user.json(), "content": text, "timestamp": now(),
                "edited_timestamp": null, "flags": 0, "tts": false, "mention_everyone": false,
                "mentions": mentions, "mention_roles": [], "embeds": [], "attachments": [],
                "components": [], "pinned": false,
                "message_reference": {"type": 0, "message_id": message_id, "channel_id": CHANNEL, "guild_id": GUILD},
                "referenced_message": referenced,
            });
            s.messages.push(message.clone());
            gateway::dispatch_message(s, "MESSAGE_CREATE", &message);
            id
        })
    }

    // ---- observation --------------------------------------------------------------------

    /// Wait (up to 40 s) until `f` finds something in the state.
    async fn wait<T>(&self, what: &str, f: impl Fn(&State) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = f(&self.shared.state.lock().unwrap()) {
                return found;
            }
            assert!(
                tokio::time::timeout_at(deadline, notified).await.is_ok(),
                "fake Discord: timed out waiting for {what}\n{}",
                self.summary()
            );
        }
    }

    /// The first message the bot posted with buttons (the request), once it exists.
    pub async fn request_message(&self) -> Value {
        self.nth_request_message(0).await
    }

    /// The `n`th request message (0-based) the bot posted.
    pub async fn nth_request_message(&self, n: usize) -> Value {
        self.wait("the request message", |s| {
            s.messages
                .iter()
                .filter(|m| m["author"]["id"] == BOT_USER && m["interaction_metadata"].is_null())
                .nth(n)
                .cloned()
        })
        .await
    }

    /// Every message of the channel, current state, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        self.shared.state.lock().unwrap().messages.clone()
    }

    /// The current state of message `id`.
    pub fn message(&self, id: &str) -> Value {
        self.shared
            .state
            .lock()
            .unwrap()
            .message(id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Wait until message `id` satisfies `f`; returns it.
    pub async fn message_where(&self, id: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        self.wait(what, |s| s.message(id).filter(|m| f(m)).cloned())
            .await
    }

    /// The callback the client sent for interaction `id`, once it did.
    pub async fn callback(&self, id: &str) -> Callback {
        self.wait(&format!("a callback for interaction {id}"), |s| {
            s.callbacks.iter().find(|c| c.interaction == id).cloned()
        })
        .await
    }

    /// The token of interaction `id` (what INTERACTION_CREATE carried).
    pub fn interaction_token(&self, id: &str) -> String {
        let state = self.shared.state.lock().unwrap();
        state
            .interactions
            .get(id)
            .map(|i| i.token.clone())
            .unwrap_or_default()
    }

    pub fn callbacks(&self) -> Vec<Callback> {
        self.shared.state.lock().unwrap().callbacks.clone()
    }

    /// Interactions answered too late (after the window) or unknown: each is a test failure.
    pub fn late_callbacks(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().late.clone()
    }

    /// Everything the client did that Discord would refuse or that breaks a documented rule.
    pub fn violations(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().violations.clone()
    }

    /// Panic if the client broke a rule or missed an interaction window.
    pub fn assert_clean(&self) {
        let s = self.shared.state.lock().unwrap();
        assert!(
            s.violations.is_empty(),
            "protocol violations: {:#?}",
            s.violations
        );
        assert!(
            s.late.is_empty(),
            "late or unknown interaction callbacks: {:#?}",
            s.late
        );
    }

    /// Wait until the client sent a request that satisfies `f`.
    pub async fn request_where(&self, what: &str, f: impl Fn(&Recorded) -> bool) -> Recorded {
        self.wait(what, |s| s.requests.iter().find(|r| f(r)).cloned())
            .await
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    pub fn identify_count(&self) -> usize {
        self.shared.state.lock().unwrap().identifies
    }

    pub fn resume_count(&self) -> usize {
        self.shared.state.lock().unwrap().resumes
    }

    pub fn heartbeat_count(&self) -> usize {
        self.shared.state.lock().unwrap().heartbeats
    }

    pub fn connections(&self) -> Vec<Connection> {
        self.shared.state.lock().unwrap().connections.clone()
    }

    /// Wait until at least `n` successful Identifies happened.
    pub async fn identified(&self, n: usize) {
        self.wait(&format!("{n} identifies"), |s| {
            (s.identifies >= n).then_some(())
        })
        .await;
    }

    /// Wait until at least `n` successful Resumes happened.
    pub async fn resumed(&self, n: usize) {
        self.wait(&format!("{n} resumes"), |s| (s.resumes >= n).then_some(()))
            .await;
    }

    /// Wait until some connection satisfies `f`.
    pub async fn connection_where(
        &self,
        what: &str,
        f: impl Fn(&Connection) -> bool,
    ) -> Connection {
        self.wait(what, |s| s.connections.iter().find(|c| f(c)).cloned())
            .await
    }

    /// A readable dump for failure messages.
    fn summary(&self) -> String {
        let s = self.shared.state.lock().unwrap();
        format!(
            "messages: {:#?}\ncallbacks: {:#?}\nrequests: {:?}\nconnections: {:?}\nidentifies: {} \
             resumes: {}\nviolations: {:?}\nlate: {:?}",
            s.messages,
            s.callbacks,
            s.requests
                .iter()
                .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
                .collect::<Vec<_>>(),
            s.connections,
            s.identifies,
            s.resumes,
            s.violations,
            s.late
        )
    }

    // ---- fault injection ----------------------------------------------------------------

    /// The next `n` requests whose method is `method` and whose path contains `path` get a
    /// 429 with this float `retry_after`.
    pub fn rate_limit_next(&self, method: &str, path: &str, n: usize, retry_after: f64) {
        self.fault(
            method,
            path,
            n,
            FaultKind::RateLimit {
                retry_after,
                global: false,
            },
        );
    }

    /// The next `n` matching requests get HTTP `status` (a 5xx burst).
    pub fn fail_next(&self, method: &str, path: &str, n: usize, status: u16) {
        self.fault(method, path, n, FaultKind::Status(status));
    }

    fn fault(&self, method: &str, path: &str, n: usize, kind: FaultKind) {
        self.shared.with(|s| {
            s.faults.push(RestFault {
                method: method.into(),
                path_contains: path.into(),
                remaining: n,
                kind,
            });
        });
    }

    fn each_conn(&self, f: impl Fn(&mut Conn)) {
        self.shared.with(|s| s.conns.values_mut().for_each(f));
    }

    /// Drop every Gateway connection without a close frame (sessions stay resumable).
    pub fn drop_connections(&self) {
        self.each_conn(|c| {
            let _ = c.tx.send(Command::Drop);
        });
    }

    /// Send op 7 Reconnect on every connection.
    pub fn send_reconnect(&self) {
        self.each_conn(|c| {
            let _ = c.tx.send(Command::Send(
                json!({"op": 7, "d": null, "s": null, "t": null}),
            ));
        });
    }

    /// Send op 9 Invalid Session on every connection; `resumable: false` also ends the
    /// sessions.
    pub fn invalidate_sessions(&self, resumable: bool) {
        self.shared.with(|s| {
            for conn in s.conns.values() {
                let _ = conn.tx.send(Command::Send(
                    json!({"op": 9, "d": resumable, "s": null, "t": null}),
                ));
            }
            if !resumable {
                for session in s.sessions.values_mut() {
                    session.valid = false;
                }
            }
        });
    }

    /// Stop acknowledging heartbeats on the current connections (zombie connections).
    pub fn stop_acks(&self) {
        self.each_conn(|c| c.zombie = true);
    }

    /// Close every connection with `code`.
    pub fn close_connections(&self, code: u16) {
        self.each_conn(|c| {
            let _ = c.tx.send(Command::Close(code));
        });
    }

    /// Ask every client for an immediate heartbeat (op 1).
    pub fn request_heartbeat(&self) {
        self.each_conn(|c| {
            let _ = c.tx.send(Command::Send(
                json!({"op": 1, "d": null, "s": null, "t": null}),
            ));
        });
    }
}

/// An ISO 8601 timestamp as Discord writes them.
fn now() -> String {
    let text = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
    text.replace('Z', "+00:00")
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
