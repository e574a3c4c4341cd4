//! A fake Telegram Bot API server for the integration tests.
//!
//! It serves plain HTTP on 127.0.0.1 and follows the Bot API (protocols.md, Part A) closely
//! enough that a client passing against it should work against api.telegram.org:
//!
//! - Routing `/bot<token>/<method>`: method names case-insensitive, GET or POST, parameters from
//!   the query string, a form body or a JSON body (nested values as objects or as JSON strings).
//!   Envelope `{"ok":true,"result":…}` / `{"ok":false,"error_code":N,"description":…}` with the
//!   HTTP status equal to `error_code`; 401 for a wrong token, 404 for unknown methods.
//! - sendMessage / editMessageText / editMessageReplyMarkup: chat, reply target and forum topic
//!   must exist; HTML parse mode (tag whitelist, entities, nesting, errors with byte offsets);
//!   1..=4096 characters after parsing; inline keyboards (one action per button, callback_data
//!   at most 64 bytes); "message is not modified"; an edit without `reply_markup` removes the
//!   inline keyboard.
//! - getUpdates: offset confirmation, negative offsets, limit/timeout clamps, long polls that
//!   return as soon as an update exists, the server's hot-loop throttling, `allowed_updates`
//!   that persist and (as in the real server) decide whether an update is created at all, and
//!   409 for the older of two waiting polls (at most one 409 per 3 s, like the server).
//! - Callback queries must be answered once, within a window (15 s by default).
//! - Privacy mode is on (the BotFather default): in groups the bot only gets replies to its own
//!   messages, commands and service messages. Its own messages never come back as updates.
//! - Faults: `fail_next`, `rate_limit_next`, `delay_next` (a slow answer), `lose_answer_next`
//!   (the call is carried out, then the connection drops before the answer: the client never
//!   learns it worked), `reset_next` (the connection drops before anything happens),
//!   `reset_connections` (every open connection, long polls included, drops), a webhook left
//!   set, and `stop`/`restart`.
//!
//! Deliberately stricter than the real server, which accepts these silently: a bare `&` in
//! HTML text (it must be `&amp;`) and an inline button with several action fields.
//! Not modelled: Markdown parse modes (rejected with a 400 naming the fake), flood control
//! (use `rate_limit_next`), group migration, update expiry, webhooks delivery, uploads.
//!
//! The scripted human (`click`, `reply`, `say`, …) creates updates; the observation helpers
//! (`message`, `wait_message`, `calls`, …) read the server's state.

// Each test binary uses only part of this API.
#![allow(dead_code, clippy::struct_field_names)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::{Display, Write as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Notify, oneshot};
use tokio::task::{JoinHandle, JoinSet};

pub const TOKEN: &str = "123456789:AAHfakeTOKENfakeTOKENfakeTOKEN-12345";
pub const BOT_ID: i64 = 123_456_789;
pub const BOT_USERNAME: &str = "openfeedback_test_bot";
const BOT_NAME: &str = "OpenFeedback Test";

const MAX_TEXT_CHARS: usize = 4096;
const MAX_CALLBACK_DATA_BYTES: usize = 64;
const MAX_ANSWER_TEXT_CHARS: usize = 200;
const MAX_POLL_TIMEOUT: i64 = 50;
const CONFLICT_PACE: Duration = Duration::from_secs(3);
const FIRST_UPDATE_ID: i64 = 700_000_001;
const DEFAULT_ICON_COLOR: i64 = 7_322_096;
const ICON_COLORS: [i64; 6] = [
    7_322_096, 16_766_590, 13_338_331, 9_367_192, 16_749_490, 16_478_047,
];

const QUERY_TOO_OLD: &str = "query is too old and response timeout expired or query ID is invalid";
const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply \
     markup are exactly the same as a current content and reply markup of the message";
const CONFLICT_POLL: &str = "Conflict: terminated by other getUpdates request; \
     make sure that only one bot instance is running";
const CONFLICT_WEBHOOK: &str = "Conflict: can't use getUpdates method while webhook is active; \
     use deleteWebhook to delete the webhook first";

/// Update types the server knows; `allowed_updates` naming none of them means "default".
const UPDATE_TYPES: &str = "message edited_message channel_post edited_channel_post \
    business_connection business_message edited_business_message deleted_business_messages \
    guest_message message_reaction message_reaction_count inline_query chosen_inline_result \
    callback_query shipping_query pre_checkout_query purchased_paid_media poll poll_answer \
    my_chat_member chat_member chat_join_request chat_boost removed_chat_boost managed_bot";
const NOT_BY_DEFAULT: &str = "chat_member message_reaction message_reaction_count";
const HTML_TAGS: &str = "a b strong i em u ins s strike del span tg-spoiler code pre blockquote \
    tg-emoji tg-time";
const BUTTON_ACTIONS: &str = "url callback_data web_app login_url switch_inline_query \
    switch_inline_query_current_chat switch_inline_query_chosen_chat copy_text callback_game pay";

/// Whether the space-separated `list` contains `word`.
fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

// ---------------------------------------------------------------------------------------------
// Public types

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub first_name: String,
    pub username: Option<String>,
}

impl User {
    pub fn new(id: i64, first_name: &str, username: Option<&str>) -> User {
        User {
            id,
            first_name: first_name.to_owned(),
            username: username.map(str::to_owned),
        }
    }
}

/// A message as it is now (after edits). `html` is the text as the bot sent it, `text` the
/// text with markup parsed away; `reply_markup` is the markup as sent (inline or force reply).
#[derive(Clone, Debug)]
pub struct Message {
    pub chat_id: i64,
    pub message_id: i64,
    pub text: String,
    pub html: String,
    pub reply_markup: Option<Value>,
    pub reply_to: Option<i64>,
    pub thread_id: Option<i64>,
    pub edits: usize,
    pub from_bot: bool,
    pub deleted: bool,
}

impl Message {
    /// `(text, callback_data)` of every inline button (`callback_data` is empty for others).
    pub fn buttons(&self) -> Vec<(String, String)> {
        let rows = self
            .reply_markup
            .as_ref()
            .and_then(|m| m["inline_keyboard"].as_array());
        rows.into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .map(|b| {
                let text = b["text"].as_str().unwrap_or_default().to_owned();
                (
                    text,
                    b["callback_data"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The `callback_data` of the first button whose label contains `label_part`; panics
    /// without one.
    pub fn callback_data(&self, label_part: &str) -> String {
        self.buttons()
            .into_iter()
            .find(|(text, _)| text.contains(label_part))
            .unwrap_or_else(|| panic!("no button {label_part:?} in {:?}", self.buttons()))
            .1
    }

    pub fn has_keyboard(&self) -> bool {
        !self.buttons().is_empty()
    }

    pub fn is_force_reply(&self) -> bool {
        self.reply_markup
            .as_ref()
            .is_some_and(|m| m["force_reply"] == Value::Bool(true))
    }
}

/// Free-function forms of the `Message` helpers.
pub fn buttons(message: &Message) -> Vec<(String, String)> {
    message.buttons()
}

pub fn has_keyboard(message: &Message) -> bool {
    message.has_keyboard()
}

pub fn is_force_reply(message: &Message) -> bool {
    message.is_force_reply()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackAnswer {
    pub text: Option<String>,
    pub show_alert: bool,
}

/// One HTTP request. `params` is an object of strings, whatever the encoding was (JSON bodies
/// are flattened like the real server does: nested values become JSON text). `status` is 0 when
/// no response was sent (the client went away or the server was stopped).
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub params: Value,
    pub status: u16,
    pub response: Value,
    pub at: Instant,
}

impl Call {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }

    /// An integer parameter, read the way the server reads it.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.param(name).map(to_integer)
    }
}

// ---------------------------------------------------------------------------------------------
// The server handle

pub struct FakeTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Mutex<Option<Server>>,
}

struct Server {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl FakeTelegram {
    #[allow(clippy::unused_async)] // async so that it can only run inside the test's runtime
    pub async fn start() -> FakeTelegram {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            changed: Notify::new(),
        });
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind fake telegram");
        let addr = listener.local_addr().expect("local addr");
        let fake = FakeTelegram {
            shared,
            addr,
            server: Mutex::new(None),
        };
        fake.serve(listener);
        fake
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add_private_chat(&self, user: &User) -> i64 {
        let chat = Chat::new(
            user.id,
            ChatKind::Private,
            &user.first_name,
            user.username.clone(),
        );
        self.shared.mutate(|st| st.chats.insert(user.id, chat));
        user.id
    }

    /// Adds a group (`-N`) or supergroup (`-100…`) with the bot as an administrator.
    pub fn add_group(&self, id: i64, title: &str, forum: bool) {
        assert!(id < 0, "fake_telegram: group ids are negative, got {id}");
        let kind = if id <= -1_000_000_000_000 {
            ChatKind::Supergroup
        } else {
            ChatKind::Group
        };
        assert!(
            !forum || kind == ChatKind::Supergroup,
            "fake_telegram: forums are supergroups (-100…)"
        );
        let mut chat = Chat::new(id, kind, title, None);
        chat.forum = forum;
        if forum {
            // Thread id 1 is the General topic, so message 1 is taken.
            chat.next_message_id = 2;
        }
        self.shared.mutate(|st| st.chats.insert(id, chat));
    }

    /// A human creates a forum topic; returns its thread id.
    pub fn add_topic(&self, chat_id: i64, name: &str, from: &User) -> i64 {
        self.shared.mutate(|st| {
            let content = Content::TopicCreated {
                name: name.to_owned(),
                icon_color: DEFAULT_ICON_COLOR,
            };
            st.human_message(chat_id, from, content, "", None, None)
        })
    }

    /// The human presses the inline button carrying `data`; panics if the message has none.
    /// Returns the callback query id.
    pub fn click(&self, chat_id: i64, message_id: i64, data: &str, from: &User) -> String {
        self.press(chat_id, message_id, data, from, true)
    }

    /// Like `click`, without checking the button is still there (a tap racing an edit).
    pub fn click_stale(&self, chat_id: i64, message_id: i64, data: &str, from: &User) -> String {
        self.press(chat_id, message_id, data, from, false)
    }

    pub fn reply(&self, chat_id: i64, reply_to: i64, text: &str, from: &User) -> i64 {
        self.shared
            .mutate(|st| st.human_message(chat_id, from, Content::Text, text, Some(reply_to), None))
    }

    pub fn reply_sticker(&self, chat_id: i64, reply_to: i64, from: &User) -> i64 {
        self.shared.mutate(|st| {
            st.human_message(chat_id, from, Content::Sticker, "", Some(reply_to), None)
        })
    }

    /// A plain message (General topic in forums).
    pub fn say(&self, chat_id: i64, text: &str, from: &User) -> i64 {
        self.shared
            .mutate(|st| st.human_message(chat_id, from, Content::Text, text, None, None))
    }

    /// A plain message inside a forum topic; it implicitly replies to the topic's root message.
    pub fn say_in_topic(&self, chat_id: i64, thread_id: i64, text: &str, from: &User) -> i64 {
        self.shared.mutate(|st| {
            st.human_message(chat_id, from, Content::Text, text, None, Some(thread_id))
        })
    }

    /// Waits for a message sent by the bot (current state) matching `pred`; the first match in
    /// (chat id, message id) order.
    pub async fn wait_message(
        &self,
        pred: impl Fn(&Message) -> bool,
        timeout: Duration,
    ) -> Message {
        let found = |st: &State| st.bot_messages(None).into_iter().find(|m| pred(m));
        self.wait_for(timeout, found, |st| {
            format!("no bot message matched\n{}", st.describe())
        })
        .await
    }

    pub fn message(&self, chat_id: i64, message_id: i64) -> Option<Message> {
        let st = self.shared.lock();
        st.chats
            .get(&chat_id)?
            .messages
            .get(&message_id)
            .map(|m| m.snapshot(chat_id))
    }

    /// Messages the bot sent to `chat_id`, deleted ones included (flagged), service messages
    /// excluded, oldest first.
    pub fn bot_messages(&self, chat_id: i64) -> Vec<Message> {
        self.shared.lock().bot_messages(Some(chat_id))
    }

    pub async fn wait_callback_answer(
        &self,
        callback_id: &str,
        timeout: Duration,
    ) -> CallbackAnswer {
        let answered = |st: &State| {
            st.callbacks
                .iter()
                .find(|c| c.id == callback_id)?
                .answer
                .clone()
        };
        let what =
            |st: &State| format!("callback {callback_id} was not answered\n{}", st.describe());
        self.wait_for(timeout, answered, what).await
    }

    pub fn unanswered_callbacks(&self) -> Vec<String> {
        let st = self.shared.lock();
        st.callbacks
            .iter()
            .filter(|c| c.answer.is_none())
            .map(|c| c.id.clone())
            .collect()
    }

    /// Waits until a request matching `pred` has arrived (it may still be pending).
    pub async fn wait_call(&self, pred: impl Fn(&Call) -> bool, timeout: Duration) -> Call {
        let found = |st: &State| st.calls.iter().find(|c| pred(c)).cloned();
        self.wait_for(timeout, found, |st| {
            format!("no matching request\n{}", st.describe())
        })
        .await
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Highest number of getUpdates long polls that were waiting at the same time.
    pub fn max_concurrent_pollers(&self) -> usize {
        self.shared.lock().poll.max_pending
    }

    /// Number of 409 responses sent (the server sends at most one per 3 s, later ones wait).
    pub fn conflicts(&self) -> usize {
        self.shared.lock().poll.conflicts
    }

    /// Updates created but not yet confirmed by a later getUpdates offset.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// The next `times` calls of `method` fail with this error (before any other handling).
    pub fn fail_next(&self, method: &str, times: usize, status: u16, description: &str) {
        let fault = Fault::Error {
            status,
            description: description.to_owned(),
            retry_after: None,
        };
        self.add_faults(method, times, &fault);
    }

    /// The next `times` calls of `method` get a 429 with `retry_after` and a Retry-After header.
    pub fn rate_limit_next(&self, method: &str, times: usize, retry_after: u64) {
        let description = format!("Too Many Requests: retry after {retry_after}");
        let fault = Fault::Error {
            status: 429,
            description,
            retry_after: Some(retry_after),
        };
        self.add_faults(method, times, &fault);
    }

    /// The next `times` calls of `method` are carried out `delay` late.
    pub fn delay_next(&self, method: &str, times: usize, delay: Duration) {
        self.add_faults(method, times, &Fault::Delay(delay));
    }

    /// The next `times` calls of `method` are carried out, then their connection drops before
    /// the answer is sent (the client cannot tell whether they worked). A `getUpdates` whose
    /// answer is lost does not confirm anything: its updates come again.
    pub fn lose_answer_next(&self, method: &str, times: usize) {
        self.add_faults(method, times, &Fault::LoseAnswer);
    }

    /// The next `times` calls of `method` have their connection dropped before anything is
    /// done.
    pub fn reset_next(&self, method: &str, times: usize) {
        self.add_faults(method, times, &Fault::Reset);
    }

    /// Drop every open connection (waiting long polls included) and listen again at once:
    /// a connection reset in the middle of a poll.
    pub async fn reset_connections(&self) {
        self.restart().await;
    }

    pub fn set_callback_answer_window(&self, window: Duration) {
        self.shared.mutate(|st| st.answer_window = window);
    }

    /// Privacy mode (default on): in groups only replies to the bot, commands and service
    /// messages reach it.
    pub fn set_privacy_mode(&self, on: bool) {
        self.shared.mutate(|st| st.privacy = on);
    }

    /// Simulates a webhook left behind by another deployment: getUpdates then fails with 409
    /// until deleteWebhook is called.
    pub fn set_webhook(&self, url: &str) {
        self.shared.mutate(|st| st.webhook = Some(url.to_owned()));
    }

    /// Closes the listener and drops every open connection: clients get "connection refused".
    pub async fn stop(&self) {
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(server) = server {
            let _ = server.shutdown.send(());
            let _ = server.task.await;
        }
    }

    /// Listens again on the same port; all state is kept.
    pub async fn restart(&self) {
        self.stop().await;
        let mut attempt = 0;
        let listener = loop {
            match bind(self.addr) {
                Ok(listener) => break listener,
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    eprintln!(
                        "fake_telegram: rebinding {} failed ({e}), retrying",
                        self.addr
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("fake_telegram: cannot listen again on {}: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let (shutdown, stop) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&self.shared), stop));
        *self.server.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Server { shutdown, task });
    }

    fn press(&self, chat_id: i64, message_id: i64, data: &str, from: &User, check: bool) -> String {
        self.shared.mutate(|st| {
            let chat = st.chats.get(&chat_id);
            let chat = chat.unwrap_or_else(|| panic!("fake_telegram: unknown chat {chat_id}"));
            let msg = chat.live(message_id);
            let msg =
                msg.unwrap_or_else(|| panic!("fake_telegram: no message {chat_id}/{message_id}"));
            let buttons = msg.snapshot(chat_id).buttons();
            assert!(
                !check || buttons.iter().any(|(_, d)| d == data),
                "fake_telegram: message {chat_id}/{message_id} has no button with callback_data \
                 {data:?}; its buttons are {buttons:?}"
            );
            let message = message_json(chat, msg, true);
            st.next_callback += 1;
            // Callback ids are decimal 64-bit numbers.
            let id = (st.next_callback + 4_100_000_000_000_000_000).to_string();
            let payload = json!({
                "id": id, "from": user_json(from), "message": message,
                "chat_instance": chat_instance(chat_id), "data": data,
            });
            st.callbacks.push(Callback {
                id: id.clone(),
                at: Instant::now(),
                answer: None,
            });
            st.push_update("callback_query", payload);
            id
        })
    }

    fn add_faults(&self, method: &str, times: usize, fault: &Fault) {
        let key = method.to_ascii_lowercase();
        self.shared.mutate(|st| {
            st.faults
                .entry(key)
                .or_default()
                .extend(std::iter::repeat_n(fault.clone(), times));
        });
    }

    /// Event-driven wait: re-checks `check` whenever the state changes, panics with `describe`
    /// (what was seen) at the deadline.
    async fn wait_for<T>(
        &self,
        timeout: Duration,
        check: impl Fn(&State) -> Option<T>,
        describe: impl Fn(&State) -> String,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(found) = check(&self.shared.lock()) {
                return found;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let st = self.shared.lock();
                match check(&st) {
                    Some(found) => return found,
                    None => panic!(
                        "fake_telegram: timed out after {timeout:?}: {}",
                        describe(&st)
                    ),
                }
            }
        }
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        if let Some(server) = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            server.task.abort();
        }
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    // Lets restart() take the port back while old connections sit in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&shared), req));
                    let io = TokioIo::new(stream);
                    let _ = http1::Builder::new().serve_connection(io, service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Close the port first, then cut every open connection (pending long polls included).
    drop(listener);
    connections.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// HTTP layer

struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
    /// Drop the connection instead of answering.
    drop: bool,
}

impl Reply {
    fn ok(result: Value) -> Reply {
        let mut body = Map::new();
        body.insert("ok".into(), Value::Bool(true));
        body.insert("result".into(), result);
        Reply {
            status: 200,
            body: Value::Object(body),
            retry_after: None,
            drop: false,
        }
    }

    fn error(status: u16, description: impl Display) -> Reply {
        let body =
            json!({"ok": false, "error_code": status, "description": description.to_string()});
        Reply {
            status,
            body,
            retry_after: None,
            drop: false,
        }
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut builder = Response::builder()
            .status(self.status)
            .header(CONTENT_TYPE, "application/json");
        if let Some(seconds) = self.retry_after {
            builder = builder.header(RETRY_AFTER, seconds.to_string());
        }
        builder
            .body(Full::new(Bytes::from(self.body.to_string())))
            .expect("valid response")
    }
}

impl From<Result<Value, Reply>> for Reply {
    fn from(result: Result<Value, Reply>) -> Reply {
        match result {
            Ok(value) => Reply::ok(value),
            Err(reply) => reply,
        }
    }
}

fn bad(description: impl Display) -> Reply {
    Reply::error(400, format!("Bad Request: {description}"))
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let target = route(parts.uri.path());
    let params = Params::parse(parts.uri.query(), content_type, &body);
    let method = target.as_ref().map_or_else(|_| String::new(), Clone::clone);
    let logged = params.as_ref().map_or(Value::Null, Params::to_json);
    let index = shared.mutate(|st| {
        let call = Call {
            method,
            params: logged,
            status: 0,
            response: Value::Null,
            at: Instant::now(),
        };
        st.calls.push(call);
        st.calls.len() - 1
    });
    let reply = match (target, params) {
        (Err(reply), _) | (_, Err(reply)) => reply,
        (Ok(method), Ok(params)) => dispatch(&shared, &method, &params).await,
    };
    if reply.drop {
        // Status 0: no answer was sent. hyper closes a connection whose service fails.
        return Err(std::io::Error::other(
            "fake_telegram: connection dropped (fault)",
        ));
    }
    shared.mutate(|st| {
        st.calls[index].status = reply.status;
        st.calls[index].response = reply.body.clone();
    });
    Ok(reply.into_response())
}

/// `/bot<token>/<method>` → lower-cased method name.
fn route(path: &str) -> Result<String, Reply> {
    let Some((token, method)) = path
        .strip_prefix("/bot")
        .and_then(|rest| rest.split_once('/'))
    else {
        return Err(Reply::error(404, "Not Found"));
    };
    if token != TOKEN {
        let malformed = !token.contains(':') || token.starts_with('0') || token.len() > 80;
        let text = if malformed {
            "Unauthorized: invalid token specified"
        } else {
            "Unauthorized"
        };
        return Err(Reply::error(401, text));
    }
    Ok(method.to_ascii_lowercase())
}

async fn dispatch(shared: &Shared, method: &str, p: &Params) -> Reply {
    let fault = shared.mutate(|st| st.faults.get_mut(method).and_then(VecDeque::pop_front));
    let lose = match fault {
        None => false,
        Some(Fault::Error {
            status,
            description,
            retry_after,
        }) => {
            let mut reply = Reply::error(status, description);
            if let Some(seconds) = retry_after {
                reply.body["parameters"] = json!({"retry_after": seconds});
                reply.retry_after = Some(seconds);
            }
            return reply;
        }
        Some(Fault::Reset) => {
            let mut reply = Reply::error(500, "reset");
            reply.drop = true;
            return reply;
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            false
        }
        Some(Fault::LoseAnswer) => true,
    };
    let mut reply = carry_out(shared, method, p).await;
    reply.drop = lose;
    reply
}

async fn carry_out(shared: &Shared, method: &str, p: &Params) -> Reply {
    if method == "getupdates" {
        return get_updates(shared, p).await;
    }
    shared.mutate(|st| match method {
        "getme" => Reply::ok(bot_json(Some(st.privacy))),
        "sendmessage" => st.send_message(p).into(),
        "editmessagetext" => st.edit_message_text(p).into(),
        "editmessagereplymarkup" => st.edit_message_reply_markup(p).into(),
        "answercallbackquery" => st.answer_callback_query(p).into(),
        "deletemessage" => st.delete_message(p).into(),
        "createforumtopic" => st.create_forum_topic(p).into(),
        "getchat" => st.chat(p).map(Chat::json).into(),
        "deletewebhook" => st.delete_webhook(p),
        "getwebhookinfo" => {
            let (url, pending) = (st.webhook.clone().unwrap_or_default(), st.updates.len());
            let mut info = json!({"url": url, "has_custom_certificate": false});
            info["pending_update_count"] = json!(pending);
            Reply::ok(info)
        }
        _ => Reply::error(404, "Not Found: method not found"),
    })
}

/// Request parameters as the real server sees them: every value a string, empty = absent.
struct Params(BTreeMap<String, String>);

impl Params {
    fn parse(query: Option<&str>, content_type: &str, body: &[u8]) -> Result<Params, Reply> {
        let mut map = BTreeMap::new();
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if media_type == "application/json" && !body.is_empty() {
            let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
                return Err(bad("can't parse JSON object"));
            };
            for (key, value) in object {
                // Nested objects and arrays become JSON text, exactly as in form encoding.
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                map.insert(key, text);
            }
        } else if media_type == "application/x-www-form-urlencoded" {
            map.extend(form_pairs(&String::from_utf8_lossy(body)));
        }
        // The real server reads the first occurrence, and query arguments come first.
        map.extend(form_pairs(query.unwrap_or_default()));
        Ok(Params(map))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn int(&self, key: &str) -> Option<i64> {
        self.get(key).map(to_integer)
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1"))
    }

    fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

fn form_pairs(input: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'%', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                (b'+', _) => out.push(b' '),
                (other, _) => out.push(other),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let pairs = input.split('&').filter(|p| !p.is_empty());
    pairs
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// Like td::to_integer: optional sign, leading digits, garbage yields what was read (or 0).
fn to_integer(s: &str) -> i64 {
    let (sign, digits) = s.strip_prefix('-').map_or((1, s), |rest| (-1, rest));
    let value = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |acc, d| {
            acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    sign * value
}

fn json_int(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str().map(to_integer))
}

// ---------------------------------------------------------------------------------------------
// State

struct Shared {
    state: Mutex<State>,
    /// Signalled after every state change; long polls and test waiters re-check on it.
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test helper must not wedge the server for the remaining requests.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn mutate<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.notify_waiters();
        out
    }
}

struct State {
    chats: BTreeMap<i64, Chat>,
    updates: VecDeque<Update>,
    next_update_id: i64,
    /// None = the default set.
    allowed_updates: Option<Vec<String>>,
    callbacks: Vec<Callback>,
    next_callback: u64,
    answer_window: Duration,
    calls: Vec<Call>,
    faults: BTreeMap<String, VecDeque<Fault>>,
    poll: PollState,
    privacy: bool,
    webhook: Option<String>,
}

#[derive(Default)]
struct PollState {
    /// Bumped by every poll that starts waiting; a waiting poll that sees a newer value lost.
    generation: u64,
    pending: usize,
    max_pending: usize,
    conflicts: usize,
    previous: Option<(i64, Instant)>,
    next_conflict: Option<Instant>,
}

struct Update {
    id: i64,
    json: Value,
}

struct Callback {
    id: String,
    at: Instant,
    answer: Option<CallbackAnswer>,
}

#[derive(Clone)]
enum Fault {
    Error {
        status: u16,
        description: String,
        retry_after: Option<u64>,
    },
    Delay(Duration),
    LoseAnswer,
    Reset,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ChatKind {
    Private,
    Group,
    Supergroup,
}

struct Chat {
    id: i64,
    kind: ChatKind,
    /// Title, or the user's first name for private chats.
    name: String,
    username: Option<String>,
    forum: bool,
    topics: BTreeMap<i64, String>,
    next_message_id: i64,
    messages: BTreeMap<i64, Msg>,
}

enum Sender {
    Bot,
    Human(User),
}

enum Content {
    Text,
    Sticker,
    TopicCreated { name: String, icon_color: i64 },
}

struct Msg {
    id: i64,
    from: Sender,
    date: i64,
    edit_date: Option<i64>,
    html: String,
    text: String,
    entities: Vec<Value>,
    content: Content,
    markup: Option<Value>,
    reply_to: Option<i64>,
    thread: Option<i64>,
    edits: usize,
    deleted: bool,
}

impl Msg {
    /// A message without text; `Chat::push` assigns its id.
    fn new(from: Sender, content: Content, reply_to: Option<i64>, thread: Option<i64>) -> Msg {
        let (html, text, entities, markup) = (String::new(), String::new(), Vec::new(), None);
        let (id, date, edit_date, edits, deleted) = (0, unix_now(), None, 0, false);
        Msg {
            id,
            from,
            date,
            edit_date,
            html,
            text,
            entities,
            content,
            markup,
            reply_to,
            thread,
            edits,
            deleted,
        }
    }

    fn snapshot(&self, chat_id: i64) -> Message {
        Message {
            chat_id,
            message_id: self.id,
            text: self.text.clone(),
            html: self.html.clone(),
            reply_markup: self.markup.clone(),
            reply_to: self.reply_to,
            thread_id: self.thread,
            edits: self.edits,
            from_bot: matches!(self.from, Sender::Bot),
            deleted: self.deleted,
        }
    }

    fn inline_keyboard(&self) -> Option<&Value> {
        self.markup
            .as_ref()
            .filter(|m| m.get("inline_keyboard").is_some())
    }
}

impl Chat {
    fn new(id: i64, kind: ChatKind, name: &str, username: Option<String>) -> Chat {
        let (forum, topics, messages) = (false, BTreeMap::new(), BTreeMap::new());
        Chat {
            id,
            kind,
            name: name.to_owned(),
            username,
            forum,
            topics,
            next_message_id: 1,
            messages,
        }
    }

    fn json(&self) -> Value {
        match self.kind {
            ChatKind::Private => {
                let mut chat = json!({"id": self.id, "type": "private", "first_name": self.name});
                if let Some(username) = &self.username {
                    chat["username"] = json!(username);
                }
                chat
            }
            ChatKind::Group => json!({"id": self.id, "type": "group", "title": self.name}),
            ChatKind::Supergroup if self.forum => {
                json!({"id": self.id, "type": "supergroup", "title": self.name, "is_forum": true})
            }
            ChatKind::Supergroup => {
                json!({"id": self.id, "type": "supergroup", "title": self.name})
            }
        }
    }

    fn live(&self, message_id: i64) -> Option<&Msg> {
        self.messages.get(&message_id).filter(|m| !m.deleted)
    }

    fn push(&mut self, mut msg: Msg) -> i64 {
        msg.id = self.next_message_id;
        self.next_message_id += 1;
        let id = msg.id;
        self.messages.insert(id, msg);
        id
    }

    /// Resolves `message_thread_id`: General (1) and absent mean no thread.
    fn topic(&self, requested: Option<i64>) -> Result<Option<i64>, Reply> {
        match requested {
            None | Some(..=0) => Ok(None),
            Some(1) if self.forum => Ok(None),
            Some(id) if self.forum && self.topics.contains_key(&id) => Ok(Some(id)),
            Some(_) => Err(bad("message thread not found")),
        }
    }

    /// The explicit reply target, or in a forum topic the topic's root message.
    fn reply_target(&self, msg: &Msg) -> Option<&Msg> {
        let implicit = msg.thread.filter(|&root| root != msg.id);
        self.live(msg.reply_to.or(implicit)?)
    }
}

impl State {
    fn new() -> State {
        State {
            chats: BTreeMap::new(),
            updates: VecDeque::new(),
            next_update_id: FIRST_UPDATE_ID,
            allowed_updates: None,
            callbacks: Vec::new(),
            next_callback: 0,
            answer_window: Duration::from_secs(15),
            calls: Vec::new(),
            faults: BTreeMap::new(),
            poll: PollState::default(),
            privacy: true,
            webhook: None,
        }
    }

    fn chat(&self, p: &Params) -> Result<&Chat, Reply> {
        let raw = p.get("chat_id").ok_or_else(|| bad("chat_id is empty"))?;
        self.chats
            .get(&to_integer(raw))
            .ok_or_else(|| bad("chat not found"))
    }

    fn chat_mut(&mut self, p: &Params) -> Result<&mut Chat, Reply> {
        let id = self.chat(p)?.id;
        Ok(self.chats.get_mut(&id).expect("chat checked above"))
    }

    fn send_message(&mut self, p: &Params) -> Result<Value, Reply> {
        let (text, entities) = formatted_text(p)?;
        let markup = parse_markup(p.get("reply_markup"))?;
        let reply = reply_parameters(p)?;
        let chat = self.chat_mut(p)?;
        let mut thread = chat.topic(p.int("message_thread_id"))?;
        let mut reply_to = None;
        if let Some((target, allow_without_reply)) = reply {
            match chat.live(target) {
                Some(msg) => {
                    reply_to = Some(target);
                    thread = thread.or(msg.thread);
                }
                None if allow_without_reply => {}
                None => return Err(bad("message to be replied not found")),
            }
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(bad("message is too long"));
        }
        let mut msg = Msg::new(Sender::Bot, Content::Text, reply_to, thread);
        (msg.html, msg.text, msg.entities, msg.markup) = (
            p.get("text").unwrap_or_default().to_owned(),
            text,
            entities,
            markup,
        );
        let id = chat.push(msg);
        Ok(message_json(chat, &chat.messages[&id], true))
    }

    fn edit_message_text(&mut self, p: &Params) -> Result<Value, Reply> {
        let (text, entities) = formatted_text(p)?;
        let markup = inline_only(parse_markup(p.get("reply_markup"))?)?;
        let html = p.get("text").unwrap_or_default().to_owned();
        self.edit(p, |msg| {
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(bad("MESSAGE_TOO_LONG"));
            }
            if msg.text == text
                && msg.entities == entities
                && msg.inline_keyboard() == markup.as_ref()
            {
                return Err(bad(NOT_MODIFIED));
            }
            (msg.html, msg.text, msg.entities, msg.markup) = (html, text, entities, markup);
            Ok(())
        })
    }

    fn edit_message_reply_markup(&mut self, p: &Params) -> Result<Value, Reply> {
        let markup = inline_only(parse_markup(p.get("reply_markup"))?)?;
        self.edit(p, |msg| {
            if msg.inline_keyboard() == markup.as_ref() {
                return Err(bad(NOT_MODIFIED));
            }
            msg.markup = markup;
            Ok(())
        })
    }

    /// Applies `change` to the bot's own text message chat_id/message_id; returns the result.
    fn edit(
        &mut self,
        p: &Params,
        change: impl FnOnce(&mut Msg) -> Result<(), Reply>,
    ) -> Result<Value, Reply> {
        let chat = self.chat_mut(p)?;
        let id = p.int("message_id").unwrap_or_default();
        let msg = chat
            .messages
            .get_mut(&id)
            .filter(|m| !m.deleted)
            .ok_or_else(|| bad("message to edit not found"))?;
        if !matches!((&msg.from, &msg.content), (Sender::Bot, Content::Text)) {
            return Err(bad("message can't be edited"));
        }
        change(msg)?;
        msg.edits += 1;
        msg.edit_date = Some(unix_now());
        Ok(message_json(chat, &chat.messages[&id], true))
    }

    fn answer_callback_query(&mut self, p: &Params) -> Result<Value, Reply> {
        let text = p.get("text").map(str::to_owned);
        if text
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_ANSWER_TEXT_CHARS)
        {
            return Err(bad("MESSAGE_TOO_LONG"));
        }
        let id = p.get("callback_query_id").unwrap_or_default();
        let window = self.answer_window;
        let callback = self.callbacks.iter_mut().find(|c| c.id == id);
        match callback {
            Some(c) if c.answer.is_none() && c.at.elapsed() <= window => {
                c.answer = Some(CallbackAnswer {
                    text,
                    show_alert: p.flag("show_alert"),
                });
                Ok(Value::Bool(true))
            }
            _ => Err(bad(QUERY_TOO_OLD)),
        }
    }

    fn delete_message(&mut self, p: &Params) -> Result<Value, Reply> {
        if p.get("chat_id").is_none() {
            return Err(bad("chat identifier is not specified"));
        }
        let id = p
            .int("message_id")
            .filter(|&id| id > 0)
            .ok_or_else(|| bad("message identifier is not specified"))?;
        let chat = self.chat_mut(p)?;
        let msg = chat
            .messages
            .get_mut(&id)
            .filter(|m| !m.deleted)
            .ok_or_else(|| bad("message to delete not found"))?;
        if matches!(msg.content, Content::TopicCreated { .. }) {
            return Err(bad("message can't be deleted"));
        }
        msg.deleted = true;
        Ok(Value::Bool(true))
    }

    fn create_forum_topic(&mut self, p: &Params) -> Result<Value, Reply> {
        let chat = self.chat_mut(p)?;
        if !chat.forum {
            return Err(bad("the chat is not a forum"));
        }
        let name: String = p
            .get("name")
            .ok_or_else(|| bad("parameter \"name\" is required"))?
            .chars()
            .take(128)
            .collect();
        let icon_color = p
            .int("icon_color")
            .filter(|&c| c != 0)
            .unwrap_or(DEFAULT_ICON_COLOR);
        if !ICON_COLORS.contains(&icon_color) {
            return Err(bad("TOPIC_ICON_COLOR_INVALID"));
        }
        // The topic's root is a service message whose id is the thread id.
        let content = Content::TopicCreated {
            name: name.clone(),
            icon_color,
        };
        let id = chat.next_message_id;
        chat.push(Msg::new(Sender::Bot, content, None, Some(id)));
        chat.topics.insert(id, name.clone());
        Ok(json!({"message_thread_id": id, "name": name, "icon_color": icon_color}))
    }

    fn delete_webhook(&mut self, p: &Params) -> Reply {
        if p.flag("drop_pending_updates") {
            self.updates.clear();
        }
        let description = if self.webhook.take().is_some() {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        };
        let mut reply = Reply::ok(Value::Bool(true));
        reply.body["description"] = json!(description);
        reply
    }

    /// `allowed_updates` persists; absent or not an array keeps it, no known name resets it.
    fn set_allowed_updates(&mut self, raw: Option<&str>) {
        let Some(Ok(Value::Array(items))) = raw.map(serde_json::from_str::<Value>) else {
            return;
        };
        let mut names = Vec::new();
        for item in items {
            let Value::String(name) = item else { return };
            let name = name.to_ascii_lowercase();
            if listed(UPDATE_TYPES, &name) {
                names.push(name);
            }
        }
        self.allowed_updates = (!names.is_empty()).then_some(names);
    }

    /// Like the real server, a type that is not allowed never becomes an update.
    fn push_update(&mut self, kind: &str, payload: Value) {
        let allowed = match &self.allowed_updates {
            None => !listed(NOT_BY_DEFAULT, kind),
            Some(names) => names.iter().any(|n| n == kind),
        };
        if allowed {
            let id = self.next_update_id;
            self.next_update_id += 1;
            let mut json = json!({"update_id": id});
            json[kind] = payload;
            self.updates.push_back(Update { id, json });
        }
    }

    /// Offset semantics: positive confirms everything below it, negative keeps the last N.
    fn confirm(&mut self, offset: i64) {
        if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let excess = self.updates.len().saturating_sub(keep);
            self.updates.drain(..excess);
        } else if offset > 0 {
            self.updates.retain(|u| u.id >= offset);
        }
    }

    fn batch(&self, limit: usize) -> Vec<Value> {
        self.updates
            .iter()
            .take(limit)
            .map(|u| u.json.clone())
            .collect()
    }

    fn human_message(
        &mut self,
        chat_id: i64,
        from: &User,
        content: Content,
        text: &str,
        reply_to: Option<i64>,
        thread: Option<i64>,
    ) -> i64 {
        let privacy = self.privacy;
        let chat = self
            .chats
            .get_mut(&chat_id)
            .unwrap_or_else(|| panic!("fake_telegram: unknown chat {chat_id}"));
        let mut thread = thread;
        if let Some(target) = reply_to {
            let msg = chat
                .live(target)
                .unwrap_or_else(|| panic!("fake_telegram: no message {target} in {chat_id}"));
            thread = thread.or(msg.thread);
        }
        // A topic's root service message opens the thread that carries its own id.
        let is_topic = matches!(content, Content::TopicCreated { .. });
        if let Content::TopicCreated { name, .. } = &content {
            assert!(chat.forum, "fake_telegram: chat {chat_id} is not a forum");
            thread = Some(chat.next_message_id);
            chat.topics.insert(chat.next_message_id, name.clone());
        }
        if let Some(t) = thread {
            assert!(
                chat.topics.contains_key(&t),
                "fake_telegram: no topic {t} in chat {chat_id}"
            );
        }
        let mut msg = Msg::new(Sender::Human(from.clone()), content, reply_to, thread);
        (msg.html, msg.text) = (text.to_owned(), text.to_owned());
        let id = chat.push(msg);
        let msg = &chat.messages[&id];
        let to_bot = chat
            .reply_target(msg)
            .is_some_and(|m| matches!(m.from, Sender::Bot));
        let delivered = chat.kind == ChatKind::Private
            || !privacy
            || is_topic
            || to_bot
            || text.starts_with('/');
        let payload = message_json(chat, msg, true);
        if delivered {
            self.push_update("message", payload);
        }
        id
    }

    fn bot_messages(&self, chat: Option<i64>) -> Vec<Message> {
        let chats = self
            .chats
            .values()
            .filter(|c| chat.is_none_or(|id| id == c.id));
        chats
            .flat_map(|c| c.messages.values().map(move |m| (c.id, m)))
            .filter(|(_, m)| matches!((&m.from, &m.content), (Sender::Bot, Content::Text)))
            .map(|(chat_id, m)| m.snapshot(chat_id))
            .collect()
    }

    /// What the server saw, for timeout panics.
    fn describe(&self) -> String {
        let mut out = String::from("bot messages:\n");
        for m in self.bot_messages(None) {
            let deleted = if m.deleted { " (deleted)" } else { "" };
            let _ = writeln!(
                out,
                "  {}/{}{deleted} edits={} {:?} buttons={:?}",
                m.chat_id,
                m.message_id,
                m.edits,
                m.text,
                m.buttons()
            );
        }
        out.push_str("last requests:\n");
        for call in self.calls.iter().rev().take(20).rev() {
            let detail = call
                .response
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let _ = writeln!(out, "  {} -> {} {detail}", call.method, call.status);
        }
        out
    }
}

async fn get_updates(shared: &Shared, p: &Params) -> Reply {
    let offset = p.int("offset").unwrap_or(0);
    let mut limit = usize::try_from(p.int("limit").unwrap_or(100).clamp(1, 100)).unwrap_or(100);
    let mut timeout = p.int("timeout").unwrap_or(0).clamp(0, MAX_POLL_TIMEOUT);
    if shared.lock().webhook.is_some() {
        return conflict(shared, CONFLICT_WEBHOOK).await;
    }
    let generation = {
        let mut st = shared.lock();
        st.set_allowed_updates(p.get("allowed_updates"));
        // The real server's hot-loop throttling for repeated calls with the same offset.
        let now = Instant::now();
        if let Some((_, at)) = st.poll.previous.filter(|(previous, _)| *previous == offset) {
            if timeout < 3 && now - at < Duration::from_secs(3) {
                timeout = 3;
            }
            if now - at < Duration::from_millis(500) {
                limit = 1;
            }
        }
        st.poll.previous = Some((offset, now));
        st.confirm(offset);
        let batch = st.batch(limit);
        if !batch.is_empty() || timeout == 0 {
            return Reply::ok(Value::Array(batch));
        }
        // Only a poll that is going to wait terminates an older waiting one.
        st.poll.generation += 1;
        st.poll.pending += 1;
        st.poll.max_pending = st.poll.max_pending.max(st.poll.pending);
        st.poll.generation
    };
    shared.changed.notify_waiters();
    let pending = PendingPoll(shared);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout.unsigned_abs());
    loop {
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        {
            let st = shared.lock();
            if st.poll.generation != generation {
                break;
            }
            let batch = st.batch(limit);
            if !batch.is_empty() {
                return Reply::ok(Value::Array(batch));
            }
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return Reply::ok(json!([]));
        }
    }
    drop(pending);
    conflict(shared, CONFLICT_POLL).await
}

/// A 409, paced like the real server: at most one per 3 s, later ones are sent 3 s late.
async fn conflict(shared: &Shared, description: &str) -> Reply {
    let delay = {
        let mut st = shared.lock();
        let now = Instant::now();
        if st.poll.next_conflict.is_some_and(|at| now < at) {
            CONFLICT_PACE
        } else {
            st.poll.next_conflict = Some(now + CONFLICT_PACE);
            Duration::ZERO
        }
    };
    tokio::time::sleep(delay).await;
    shared.mutate(|st| st.poll.conflicts += 1);
    Reply::error(409, description)
}

/// Counts a waiting long poll until it answers or its connection is dropped.
struct PendingPoll<'a>(&'a Shared);

impl Drop for PendingPoll<'_> {
    fn drop(&mut self) {
        self.0.lock().poll.pending -= 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Validation of message content

/// `text` + `parse_mode` → plain text and entities.
fn formatted_text(p: &Params) -> Result<(String, Vec<Value>), Reply> {
    let raw = p.get("text").ok_or_else(|| bad("message text is empty"))?;
    let (text, entities) = match p.get("parse_mode").map(str::to_ascii_lowercase).as_deref() {
        None | Some("none") => (raw.to_owned(), Vec::new()),
        Some("html") => parse_html(raw).map_err(|e| bad(format!("can't parse entities: {e}")))?,
        Some("markdown" | "markdownv2") => {
            return Err(bad("fake_telegram does not model Markdown parse modes"));
        }
        Some(_) => return Err(bad("unsupported parse_mode")),
    };
    if text.trim().is_empty() {
        return Err(bad("message must be non-empty"));
    }
    Ok((text, entities))
}

/// `reply_parameters` (or the legacy `reply_to_message_id`) → (message id, allow without reply).
fn reply_parameters(p: &Params) -> Result<Option<(i64, bool)>, Reply> {
    let Some(raw) = p.get("reply_parameters") else {
        let legacy = p.int("reply_to_message_id").filter(|&id| id > 0);
        return Ok(legacy.map(|id| (id, p.flag("allow_sending_without_reply"))));
    };
    let value: Value =
        serde_json::from_str(raw).map_err(|_| bad("can't parse reply parameters JSON object"))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("object expected as reply parameters"))?;
    let id = object.get("message_id").and_then(json_int);
    let id =
        id.ok_or_else(|| bad("can't parse reply parameters: Can't find field \"message_id\""))?;
    let allow = object
        .get("allow_sending_without_reply")
        .is_some_and(|v| v == &Value::Bool(true));
    Ok(Some((id, allow)))
}

/// Validates `reply_markup`; returns what the message keeps (None = no markup).
fn parse_markup(raw: Option<&str>) -> Result<Option<Value>, Reply> {
    let Some(raw) = raw else { return Ok(None) };
    let value: Value = serde_json::from_str(raw)
        .map_err(|_| bad("can't parse reply keyboard markup JSON object"))?;
    let Value::Object(object) = value else {
        return Err(bad("object expected as reply markup"));
    };
    if let Some(rows) = object.get("inline_keyboard") {
        let keyboard = inline_keyboard(rows)?;
        if keyboard
            .iter()
            .any(|row| row.as_array().is_some_and(|r| !r.is_empty()))
        {
            return Ok(Some(json!({"inline_keyboard": keyboard})));
        }
    }
    let flag = |key: &str| object.get(key) == Some(&Value::Bool(true));
    let keyboard = object
        .get("keyboard")
        .and_then(Value::as_array)
        .is_some_and(|rows| !rows.is_empty());
    let other = keyboard || flag("remove_keyboard") || flag("hide_keyboard") || flag("force_reply");
    Ok(other.then_some(Value::Object(object)))
}

/// Edits accept inline keyboards only.
fn inline_only(markup: Option<Value>) -> Result<Option<Value>, Reply> {
    match markup {
        Some(m) if m.get("inline_keyboard").is_none() => Err(bad("inline keyboard expected")),
        other => Ok(other),
    }
}

fn inline_keyboard(rows: &Value) -> Result<Vec<Value>, Reply> {
    let rows = rows
        .as_array()
        .ok_or_else(|| bad("field \"inline_keyboard\" must be of type Array"))?;
    let mut keyboard = Vec::new();
    for row in rows {
        let row = row.as_array().ok_or_else(|| {
            bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
        })?;
        keyboard.push(Value::Array(
            row.iter().map(inline_button).collect::<Result<_, _>>()?,
        ));
    }
    Ok(keyboard)
}

/// One inline button: `text` plus exactly one action; returned in the form Telegram echoes.
fn inline_button(button: &Value) -> Result<Value, Reply> {
    let cant = |why: &str| bad(format!("can't parse inline keyboard button: {why}"));
    let Value::Object(object) = button else {
        return Err(cant("InlineKeyboardButton must be an Object"));
    };
    let text = match object.get("text") {
        Some(Value::String(text)) => text,
        Some(_) => return Err(cant("Field \"text\" must be of type String")),
        None => return Err(cant("Can't find field \"text\"")),
    };
    // Like the server, an empty url or callback_data counts as absent.
    let present = |key: &&str| match object.get(*key) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty() || !matches!(*key, "url" | "callback_data"),
        Some(_) => true,
    };
    let actions: Vec<&str> = BUTTON_ACTIONS.split_whitespace().filter(present).collect();
    let action = match actions.as_slice() {
        [] => return Err(cant("Text buttons are unallowed in the inline keyboard")),
        [action] => *action,
        several => {
            return Err(cant(&format!(
                "exactly one action field is allowed, found {several:?} (fake_telegram)"
            )));
        }
    };
    if action == "callback_data" {
        let data = object[action]
            .as_str()
            .ok_or_else(|| cant("Field \"callback_data\" must be of type String"))?;
        if data.len() > MAX_CALLBACK_DATA_BYTES {
            return Err(bad("BUTTON_DATA_INVALID"));
        }
    }
    let mut out = Map::new();
    out.insert("text".into(), json!(text));
    for key in [action, "style", "icon_custom_emoji_id"] {
        if let Some(value) = object.get(key) {
            out.insert(key.into(), value.clone());
        }
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------------
// HTML parse mode

type Attributes = Vec<(String, String)>;

struct OpenTag {
    name: String,
    utf16: usize,
    attrs: Attributes,
    language: Option<String>,
}

impl OpenTag {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Telegram's HTML dialect → (plain text, entities with UTF-16 offsets), or the error detail
/// that follows "can't parse entities: " (byte offsets into `src`).
fn parse_html(src: &str) -> Result<(String, Vec<Value>), String> {
    let bytes = src.as_bytes();
    let (mut text, mut utf16, mut i) = (String::new(), 0usize, 0usize);
    let mut stack: Vec<OpenTag> = Vec::new();
    let mut entities = Vec::new();
    while i < bytes.len() {
        let (ch, used) = match bytes[i] {
            // Stricter than the server, which keeps a bare '&' as text.
            b'&' => decode_entity(&src[i..]).ok_or_else(|| {
                format!("Unsupported HTML entity at byte offset {i} (fake_telegram: bare \"&\")")
            })?,
            b'<' if bytes.get(i + 1) == Some(&b'/') => {
                let unexpected = || format!("Unexpected end tag at byte offset {i}");
                let open = stack.pop().ok_or_else(unexpected)?;
                i = end_tag(src, i, &open.name)?;
                let language = open.attr("class").and_then(|c| c.strip_prefix("language-"));
                match stack.last_mut() {
                    // <pre><code class="language-x"> is one pre entity with a language.
                    Some(pre) if open.name == "code" && pre.name == "pre" && language.is_some() => {
                        pre.language = language.map(str::to_owned);
                    }
                    _ => entities.extend(entity(&open, utf16)),
                }
                continue;
            }
            b'<' => {
                let (name, attrs, next) = start_tag(src, i)?;
                stack.push(OpenTag {
                    name,
                    utf16,
                    attrs,
                    language: None,
                });
                i = next;
                continue;
            }
            _ => {
                let ch = src[i..].chars().next().expect("index on a char boundary");
                (ch, ch.len_utf8())
            }
        };
        text.push(ch);
        utf16 += ch.len_utf16();
        i += used;
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.name
        ));
    }
    entities.sort_by_key(|e| (e["offset"].as_u64(), Reverse(e["length"].as_u64())));
    Ok((text, entities))
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Parses `<name attr="v" …>` at `start`; returns (name, attributes, index after '>').
fn start_tag(src: &str, start: usize) -> Result<(String, Attributes, usize), String> {
    let bytes = src.as_bytes();
    let unclosed = || format!("Unclosed start tag at byte offset {start}");
    let skip = |mut i: usize, pred: &dyn Fn(u8) -> bool| {
        while i < bytes.len() && pred(bytes[i]) {
            i += 1;
        }
        i
    };
    let mut i = skip(start + 1, &|b| !is_space(b) && b != b'>');
    if i >= bytes.len() {
        return Err(unclosed());
    }
    let name = src[start + 1..i].to_ascii_lowercase();
    if !listed(HTML_TAGS, &name) {
        return Err(format!(
            "Unsupported start tag \"{name}\" at byte offset {start}"
        ));
    }
    let mut attrs = Vec::new();
    loop {
        i = skip(i, &is_space);
        match bytes.get(i) {
            None => return Err(unclosed()),
            Some(b'>') => break,
            Some(_) => {}
        }
        let name_start = i;
        i = skip(i, &|b| !is_space(b) && b != b'=' && b != b'>');
        let attr = src[name_start..i].to_ascii_lowercase();
        i = skip(i, &is_space);
        if bytes.get(i) != Some(&b'=') {
            if name == "blockquote" && attr == "expandable" {
                attrs.push((attr, String::new()));
                continue;
            }
            return Err(format!(
                "Expected equal sign in declaration of an attribute of the tag \"{name}\" \
                 at byte offset {start}"
            ));
        }
        if attr.is_empty() {
            return Err(format!(
                "Empty attribute name in the tag \"{name}\" at byte offset {start}"
            ));
        }
        i = skip(i + 1, &is_space);
        let value = match bytes.get(i) {
            None => return Err(unclosed()),
            Some(&quote @ (b'"' | b'\'')) => {
                let end = src[i + 1..]
                    .find(char::from(quote))
                    .map(|p| i + 1 + p)
                    .ok_or_else(unclosed)?;
                let value = decode_attribute(&src[i + 1..end]);
                i = end + 1;
                value
            }
            Some(_) => {
                let token_start = i;
                i = skip(i, &|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                if i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'>' {
                    return Err(format!(
                        "Unexpected end of name token at byte offset {token_start}"
                    ));
                }
                src[token_start..i].to_ascii_lowercase()
            }
        };
        attrs.push((attr, value));
    }
    if name == "span" && !attrs.iter().any(|(k, v)| k == "class" && v == "tg-spoiler") {
        return Err(format!(
            "Tag \"span\" must have class \"tg-spoiler\" at byte offset {start}"
        ));
    }
    Ok((name, attrs, i + 1))
}

/// Checks `</name>` at `start` against the open tag; returns the index after '>'.
fn end_tag(src: &str, start: usize, open: &str) -> Result<usize, String> {
    let bytes = src.as_bytes();
    let mut i = start + 2;
    while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'>' {
        i += 1;
    }
    let name = src[start + 2..i].to_ascii_lowercase();
    while i < bytes.len() && is_space(bytes[i]) {
        i += 1;
    }
    if bytes.get(i) != Some(&b'>') {
        return Err(format!("Unclosed end tag at byte offset {start}"));
    }
    if !name.is_empty() && name != open {
        return Err(format!(
            "Unmatched end tag at byte offset {start}, expected \"</{open}>\", found \"</{name}>\""
        ));
    }
    Ok(i + 1)
}

/// `&lt;` `&gt;` `&amp;` `&quot;` and numeric references (`;` optional, as in TDLib).
fn decode_entity(s: &str) -> Option<(char, usize)> {
    let rest = s.strip_prefix('&')?;
    let (value, len) = if let Some(num) = rest.strip_prefix('#') {
        let (digits, radix, prefix) = match num.strip_prefix('x') {
            Some(hex) => (hex, 16, 2),
            None => (num, 10, 1),
        };
        let n = digits
            .bytes()
            .take_while(|b| char::from(*b).is_digit(radix))
            .count();
        let code = u32::from_str_radix(
            digits.get(..n).filter(|d| !d.is_empty() && d.len() < 8)?,
            radix,
        )
        .ok()?;
        (char::from_u32(code).filter(|&c| c != '\0')?, 1 + prefix + n)
    } else {
        let n = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let ch = match &rest[..n] {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            _ => return None,
        };
        (ch, 1 + n)
    };
    let semicolon = usize::from(s[len..].starts_with(';'));
    Some((value, len + semicolon))
}

/// Attribute values decode entities but keep a bare `&`, like TDLib.
fn decode_attribute(raw: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(ch) = raw[i..].chars().next() {
        let (decoded, used) = decode_entity(&raw[i..]).unwrap_or((ch, ch.len_utf8()));
        out.push(decoded);
        i += used;
    }
    out
}

/// The MessageEntity a closed tag produces (none for empty ranges or unusable links).
fn entity(open: &OpenTag, end: usize) -> Option<Value> {
    let length = end - open.utf16;
    if length == 0 {
        return None;
    }
    let mut e = json!({"offset": open.utf16, "length": length});
    let kind = match open.name.as_str() {
        "b" | "strong" => "bold",
        "i" | "em" => "italic",
        "u" | "ins" => "underline",
        "s" | "strike" | "del" => "strikethrough",
        "span" | "tg-spoiler" => "spoiler",
        "code" => "code",
        "pre" => {
            if let Some(language) = &open.language {
                e["language"] = json!(language);
            }
            "pre"
        }
        "blockquote" if open.attr("expandable").is_some() => "expandable_blockquote",
        "blockquote" => "blockquote",
        "a" => {
            e["url"] = json!(open.attr("href").filter(|u| !u.is_empty())?);
            "text_link"
        }
        "tg-emoji" => {
            e["custom_emoji_id"] = json!(open.attr("emoji-id")?);
            "custom_emoji"
        }
        "tg-time" => {
            e["unix_time"] = json!(to_integer(open.attr("unix")?));
            "date_time"
        }
        _ => return None,
    };
    e["type"] = json!(kind);
    Some(e)
}

// ---------------------------------------------------------------------------------------------
// JSON shapes

fn bot_json(get_me_privacy: Option<bool>) -> Value {
    let mut bot =
        json!({"id": BOT_ID, "is_bot": true, "first_name": BOT_NAME, "username": BOT_USERNAME});
    if let Some(privacy) = get_me_privacy {
        bot["can_join_groups"] = json!(true);
        bot["can_read_all_group_messages"] = json!(!privacy);
        bot["supports_inline_queries"] = json!(false);
        bot["can_connect_to_business"] = json!(false);
        bot["has_main_web_app"] = json!(false);
    }
    bot
}

fn user_json(user: &User) -> Value {
    let mut json = json!({"id": user.id, "is_bot": false, "first_name": user.first_name});
    if let Some(username) = &user.username {
        json["username"] = json!(username);
    }
    json
}

/// A stable, chat-specific signed 64-bit number, as Telegram's chat_instance is.
fn chat_instance(chat_id: i64) -> String {
    chat_id.wrapping_mul(-7_046_029_254_386_353_131).to_string()
}

/// The Message object; `reply_to_message` is included one level deep only.
fn message_json(chat: &Chat, msg: &Msg, with_reply: bool) -> Value {
    let from = match &msg.from {
        Sender::Bot => bot_json(None),
        Sender::Human(user) => user_json(user),
    };
    let mut json =
        json!({"message_id": msg.id, "from": from, "chat": chat.json(), "date": msg.date});
    if let Some(edit_date) = msg.edit_date {
        json["edit_date"] = json!(edit_date);
    }
    if let Some(thread) = msg.thread {
        json["message_thread_id"] = json!(thread);
        json["is_topic_message"] = json!(true);
    }
    if let Some(target) = chat.reply_target(msg).filter(|_| with_reply) {
        json["reply_to_message"] = message_json(chat, target, false);
    }
    match &msg.content {
        Content::Text => {
            json["text"] = json!(msg.text);
            if !msg.entities.is_empty() {
                json["entities"] = json!(msg.entities);
            }
        }
        Content::Sticker => {
            let (file_id, unique_id) = (
                format!("CAACAgIAAxkFAKE{}", msg.id),
                format!("AgADFAKE{}", msg.id),
            );
            json["sticker"] = json!({
                "file_id": file_id, "file_unique_id": unique_id, "type": "regular", "width": 512,
                "height": 512, "is_animated": false, "is_video": false, "emoji": "\u{1F44D}",
            });
        }
        Content::TopicCreated { name, icon_color } => {
            json["forum_topic_created"] = json!({"name": name, "icon_color": icon_color});
        }
    }
    // Only inline keyboards are part of a Message; force_reply and reply keyboards are not.
    if let Some(keyboard) = msg.inline_keyboard() {
        json["reply_markup"] = keyboard.clone();
    }
    json
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}
