//! Telegram: requests as messages with inline keyboards, answers from `getUpdates`.
//!
//! One [`Bot`] per process; the processes of one bot share a single long poll through the
//! relay (`crate::relay`): the leader polls, and each update goes to the process that owns
//! it. Each open ticket routes its request id (claimed before the message is posted, so no
//! click can come first) and the ids of its messages (for replies) to its task, here and in
//! the relay. The poller runs only while some process has a route, so idle processes make no
//! calls. An update's offset is confirmed (by the next `getUpdates`) only after its owner
//! acknowledged it; a successor that polls the same update again is ignored by the owner.
//! Every callback query gets an answer: the ticket's, the reason of a closed ticket ("moved
//! to Discord"), or "expired" (from the owner when its ticket is gone, from the leader when
//! no process owns the request). Clicks must come from the configured chat and carry the id
//! of a request of ours; replies count only as replies to the request or its reason prompt.
//!
//! With `topic_per_session`, each session label gets its own forum topic (`topics`).

mod api;
pub mod render;
mod topics;
mod updates;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use self::api::{Api, ApiError, Backoff};
use self::topics::Topics;
use self::updates::{CallbackQuery, Message, Update, callback_data, parse_callback_data};
use crate::answer::Person;
use crate::config::TelegramSettings;
use crate::i18n::{Locale, Messages, fill};
use crate::provider::{
    Closing, Delivery, Provider, ProviderError, ProviderName, Reply, Ticket, TicketEvent,
    TicketHandle,
};
use crate::relay::{self, Event, Hooks, Key, Lead, Relay};
use crate::request::{Notice, Request, RequestId, Verdict};

const POLL_SECS: u64 = 30;
/// How long withdrawing a message may keep retrying.
const WITHDRAW_PATIENCE: Duration = Duration::from_secs(15);
/// How long a callback query's answer is retried (Telegram refuses answers after about 15 s).
const ANSWER_PATIENCE: Duration = Duration::from_secs(8);
/// How long a reply to a bot message of unknown id waits for posts in flight to register.
const REPLY_PATIENCE: Duration = Duration::from_secs(5);
/// How long a ticket waits to join the other processes of the bot before it posts anyway.
const JOIN_PATIENCE: Duration = Duration::from_secs(5);

/// The Telegram provider.
pub struct Telegram {
    bot: Arc<Bot>,
}

impl Telegram {
    pub fn new(http: reqwest::Client, settings: TelegramSettings, locale: Locale) -> Self {
        let api = Api::new(http, &settings.api_base, settings.token.clone());
        let relay = Relay::for_bot("tg", &settings.api_base, settings.token.expose());
        let topics = Topics::new(relay.place(), settings.chat_id);
        let bot = Arc::new(Bot {
            api,
            settings,
            text: locale.messages(),
            routes: Mutex::default(),
            relay,
            topics,
        });
        Telegram { bot }
    }
}

impl Provider for Telegram {
    fn name(&self) -> ProviderName {
        ProviderName::Telegram
    }

    fn open(&self, request: Arc<Request>) -> Ticket {
        let (ticket, handle) = Ticket::pair();
        self.bot.relay.start(self.bot.clone());
        tokio::spawn(run_ticket(self.bot.clone(), request, handle));
        ticket
    }

    /// A plain message: no keyboard, no route, so the poller is not involved.
    fn notify<'a>(&'a self, notice: &'a Notice) -> Delivery<'a> {
        Box::pin(async move {
            let bot = &self.bot;
            let mut params = json!({
                "chat_id": bot.settings.chat_id,
                "text": render::notice(notice, bot.text),
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": true},
            });
            if let Some(thread) = bot.settings.message_thread_id {
                params["message_thread_id"] = json!(thread);
            }
            let until = Instant::now() + WITHDRAW_PATIENCE;
            bot.api
                .call_until::<Message>("sendMessage", &params, until, &mut |_| {})
                .await
                .map(|_| ())
                .map_err(|e| Bot::error(&e))
        })
    }
}

struct Bot {
    api: Api,
    settings: TelegramSettings,
    text: &'static Messages,
    routes: Mutex<Routes>,
    relay: Relay,
    topics: Topics,
}

#[derive(Default)]
struct Routes {
    by_request: HashMap<RequestId, Route>,
    by_message: HashMap<i64, RequestId>,
}

enum Route {
    Live(mpsc::Sender<Inbound>),
    /// Closed: late clicks are told this.
    Closed(String),
}

enum Inbound {
    Click {
        query: CallbackQuery,
        choice: String,
    },
    Reply(Message),
    Trouble(ProviderError),
}

/// A ticket's routes, here and in the relay; dropping it removes them.
struct Claims {
    bot: Arc<Bot>,
    request: RequestId,
    keys: Vec<Key>,
}

impl Claims {
    /// Route the request to `tx` (before its message is posted).
    fn new(bot: &Arc<Bot>, request: &RequestId, tx: mpsc::Sender<Inbound>) -> Claims {
        bot.routes
            .lock()
            .expect("routes")
            .by_request
            .insert(request.clone(), Route::Live(tx));
        let key = Key::request(request);
        bot.relay.claim(key.clone());
        Claims {
            bot: bot.clone(),
            request: request.clone(),
            keys: vec![key],
        }
    }

    /// Route replies to message `id` too.
    fn message(&mut self, id: i64) {
        self.bot
            .routes
            .lock()
            .expect("routes")
            .by_message
            .insert(id, self.request.clone());
        let key = Key::message(self.bot.settings.chat_id, id);
        self.bot.relay.claim(key.clone());
        self.keys.push(key);
    }

    fn close(&self, late: String) {
        self.bot
            .routes
            .lock()
            .expect("routes")
            .by_request
            .insert(self.request.clone(), Route::Closed(late));
    }
}

impl Drop for Claims {
    fn drop(&mut self) {
        {
            let mut routes = self.bot.routes.lock().expect("routes");
            routes.by_request.remove(&self.request);
            routes.by_message.retain(|_, id| *id != self.request);
        }
        for key in &self.keys {
            self.bot.relay.release(key);
        }
    }
}

impl Bot {
    fn error(error: &ApiError) -> ProviderError {
        ProviderError::new(
            ProviderName::Telegram,
            error.describe(),
            error.is_permanent(),
        )
    }

    /// Answer a callback query (the toast on the human's phone). Retried through 5xx, 429 and
    /// network trouble for a few seconds: an unanswered query leaves the button spinning.
    async fn answer_callback(&self, id: &str, text: &str) {
        let params = json!({"callback_query_id": id, "text": text});
        let until = Instant::now() + ANSWER_PATIENCE;
        if let Err(e) = self
            .api
            .call_until::<Value>("answerCallbackQuery", &params, until, &mut |_| {})
            .await
        {
            crate::log::warn(&format!(
                "telegram: answerCallbackQuery failed: {}",
                e.describe()
            ));
        }
    }

    /// The relay's view of an update: who may own it.
    fn event(update_id: i64, raw: Value) -> Event {
        let mut keys = Vec::new();
        let mut patience = Duration::ZERO;
        let mut awaits_posts = false;
        if let Ok(update) = serde_json::from_value::<Update>(raw.clone()) {
            if let Some(query) = &update.callback_query {
                if let Some((request, _)) = query.data.as_deref().and_then(parse_callback_data) {
                    keys.push(Key::request(&request));
                    patience = relay::SETTLE;
                }
            } else if let Some(message) = &update.message
                && let Some(replied) = &message.reply_to_message
            {
                keys.push(Key::message(message.chat.id, replied.message_id));
                if let Some(request) = replied.request_id() {
                    keys.push(Key::request(&request));
                }
                // Our own message whose id may not be registered yet (a reason prompt).
                awaits_posts = replied.from.as_ref().is_some_and(|u| u.is_bot);
                patience = REPLY_PATIENCE;
            }
        }
        Event {
            id: format!("tg:{update_id}"),
            keys,
            patience,
            awaits_posts,
            body: raw,
            at: Instant::now(),
        }
    }

    async fn dispatch(&self, update: Update) {
        if let Some(query) = update.callback_query {
            self.dispatch_click(query).await;
        } else if let Some(message) = update.message {
            self.dispatch_message(message).await;
        }
    }

    async fn dispatch_click(&self, query: CallbackQuery) {
        let in_our_chat = query
            .message
            .as_ref()
            .is_some_and(|m| m.chat.id == self.settings.chat_id);
        let parsed = query
            .data
            .as_deref()
            .and_then(parse_callback_data)
            .filter(|_| in_our_chat);
        let Some((request, choice)) = parsed else {
            return self.answer_callback(&query.id, self.text.expired).await;
        };
        let choice = choice.to_owned();
        let route = {
            let routes = self.routes.lock().expect("routes");
            match routes.by_request.get(&request) {
                Some(Route::Live(tx)) => Ok(tx.clone()),
                Some(Route::Closed(text)) => Err(text.clone()),
                None => Err(self.text.expired.to_owned()),
            }
        };
        match route {
            Ok(tx) => {
                let id = query.id.clone();
                if tx.send(Inbound::Click { query, choice }).await.is_err() {
                    self.answer_callback(&id, self.text.expired).await;
                }
            }
            Err(text) => {
                self.answer_callback(&query.id, &text).await;
                self.strip_stale(&query, &request).await;
            }
        }
    }

    /// A click on `request`, which is over: if it came from a copy of its message nobody knew
    /// of (a post carried out whose answer was lost, then posted again), its buttons go now.
    /// Only a message whose own buttons are that request's: never another request's.
    async fn strip_stale(&self, query: &CallbackQuery, request: &RequestId) {
        let Some(message) = query.message.as_ref().filter(|m| {
            m.chat.id == self.settings.chat_id && m.request_id().as_ref() == Some(request)
        }) else {
            return;
        };
        let params = json!({"chat_id": self.settings.chat_id, "message_id": message.message_id});
        let until = Instant::now() + ANSWER_PATIENCE;
        match self
            .api
            .call_until::<Value>("editMessageReplyMarkup", &params, until, &mut |_| {})
            .await
        {
            Ok(_) => {}
            Err(ApiError::Rejected { description, .. })
                if description.contains("message is not modified") => {}
            Err(e) => crate::log::warn(&format!(
                "telegram: could not take the buttons off a stale message: {}",
                e.describe()
            )),
        }
    }

    async fn dispatch_message(&self, message: Message) {
        if message.chat.id != self.settings.chat_id
            || message.from.as_ref().is_none_or(|u| u.is_bot)
        {
            return;
        }
        let Some(replied) = message.reply_to_message.as_deref() else {
            return;
        };
        let tx = {
            let routes = self.routes.lock().expect("routes");
            let request = routes
                .by_message
                .get(&replied.message_id)
                .cloned()
                .or_else(|| replied.request_id());
            match request.and_then(|id| routes.by_request.get(&id)) {
                Some(Route::Live(tx)) => tx.clone(),
                _ => return,
            }
        };
        let _ = tx.send(Inbound::Reply(message)).await;
    }

    fn tell_all(&self, trouble: &ProviderError) {
        let routes = self.routes.lock().expect("routes");
        for route in routes.by_request.values() {
            if let Route::Live(tx) = route {
                let _ = tx.try_send(Inbound::Trouble(trouble.clone()));
            }
        }
    }

    /// The forum topic for `request`: its session's own topic with `topic_per_session`, else
    /// the configured `message_thread_id`.
    async fn thread_for(&self, request: &Request) -> Option<i64> {
        let configured = self.settings.message_thread_id;
        if !self.settings.topic_per_session {
            return configured;
        }
        let Some(label) = &request.origin.label else {
            return configured;
        };
        self.topics.thread(&self.api, label).await.or(configured)
    }
}

impl Hooks for Bot {
    fn lead(self: Arc<Self>, lead: Lead) -> BoxFuture<'static, ()> {
        Box::pin(poll(self, lead))
    }

    fn deliver(self: Arc<Self>, event: Event) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Ok(update) = serde_json::from_value::<Update>(event.body) {
                self.dispatch(update).await;
            }
        })
    }

    fn unowned(self: Arc<Self>, event: Event, _coordinated: bool) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Ok(Update {
                callback_query: Some(query),
                ..
            }) = serde_json::from_value::<Update>(event.body)
            {
                self.answer_callback(&query.id, self.text.expired).await;
                if let Some((request, _)) = query.data.as_deref().and_then(parse_callback_data) {
                    self.strip_stale(&query, &request).await;
                }
            }
        })
    }

    fn notice(&self, notice: &Value) {
        if let Some(trouble) = notice.get("trouble") {
            let error = ProviderError::new(
                ProviderName::Telegram,
                trouble["message"].as_str().unwrap_or("getUpdates failed"),
                trouble["permanent"].as_bool().unwrap_or(false),
            );
            self.tell_all(&error);
        }
    }
}

/// The long poll, in the leader. Calls Telegram only while some process has a route;
/// otherwise it sleeps until one registers.
async fn poll(bot: Arc<Bot>, lead: Lead) {
    let mut offset: Option<i64> = None;
    let mut backoff = Backoff::default();
    let mut wanted = lead.wanted();
    // A predecessor's long poll may still be open at Telegram for a moment: a short poll does
    // not terminate it (only a waiting one does), so the first one is short.
    let mut short = lead.took_over();
    let mut troubled = false;
    loop {
        if !*wanted.borrow_and_update() {
            if wanted.changed().await.is_err() {
                return;
            }
            continue;
        }
        let timeout = if short { 0 } else { POLL_SECS };
        let mut params =
            json!({"timeout": timeout, "allowed_updates": ["message", "callback_query"]});
        if let Some(offset) = offset {
            params["offset"] = json!(offset);
        }
        let wait = Duration::from_secs(timeout + 10);
        match bot
            .api
            .call::<Vec<Value>>("getUpdates", &params, wait)
            .await
        {
            Ok(updates) => {
                relay::debug(|| {
                    format!("getUpdates (timeout {timeout}): {} updates", updates.len())
                });
                short = false;
                backoff.reset();
                if std::mem::take(&mut troubled) {
                    lead.notice(json!({"ok": true}));
                }
                let mut batch = Vec::with_capacity(updates.len());
                for raw in updates {
                    if let Some(id) = raw.get("update_id").and_then(Value::as_i64) {
                        offset = Some(offset.unwrap_or(0).max(id + 1));
                        batch.push(Bot::event(id, raw));
                    }
                }
                // Returns once every update was handed over and acknowledged: only then does
                // the next call confirm the offset.
                lead.route_all(batch).await;
            }
            Err(ApiError::RateLimited(pause)) => tokio::time::sleep(pause).await,
            Err(error) => {
                crate::log::warn(&format!(
                    "telegram: getUpdates failed: {}",
                    error.describe()
                ));
                troubled = true;
                lead.notice(json!({"trouble": {
                    "message": error.describe(),
                    "permanent": error.is_permanent(),
                }}));
                tokio::time::sleep(backoff.next()).await;
            }
        }
    }
}

/// What the ticket is doing.
enum Phase {
    Waiting,
    /// Rejected by `by`; waiting for a reason as a reply to the prompt or to the request.
    Reason {
        by: Person,
        choice: String,
        prompt: i64,
        until: Instant,
    },
}

struct Posted {
    bot: Arc<Bot>,
    request: Arc<Request>,
    message_id: i64,
    /// The forum topic the message is in.
    thread: Option<i64>,
    /// Other messages of this request: a post whose answer was lost was carried out anyway
    /// and posted again, and the human clicked the first copy. They are edited like the
    /// message itself, so no copy keeps live buttons.
    copies: Vec<i64>,
    status: Vec<String>,
    claims: Claims,
}

async fn run_ticket(bot: Arc<Bot>, request: Arc<Request>, handle: TicketHandle) {
    let TicketHandle { events, mut close } = handle;
    let deadline = Instant::now() + request.timeout;
    let (tx, mut inbox) = mpsc::channel(16);
    let mut claims = Claims::new(&bot, &request.id, tx);

    let trouble_events = events.clone();
    let mut on_trouble = move |e: &ApiError| {
        let _ = trouble_events.try_send(TicketEvent::Trouble(ProviderError::new(
            ProviderName::Telegram,
            e.describe(),
            false,
        )));
    };
    let posting = bot.relay.begin_post();
    let post = post(&bot, &request, deadline, &mut on_trouble);
    tokio::pin!(post);
    // A close that arrives while the message is on its way must still withdraw it once it
    // lands, or its buttons would stay live: give the post a bounded time to finish.
    let mut early_close = None;
    let posted = tokio::select! {
        result = &mut post => result,
        closing = close.recv() => {
            early_close = Some(closing);
            match tokio::time::timeout(WITHDRAW_PATIENCE, &mut post).await {
                Ok(result) => result,
                Err(_) => Err(ApiError::Transient("withdrawn while posting".into())),
            }
        }
    };
    if let Some(closing) = early_close {
        drop(posting);
        if let (Ok((message, thread)), Some((why, _))) = (posted, &closing) {
            let mut ticket = Posted {
                bot: bot.clone(),
                request: request.clone(),
                message_id: message.message_id,
                thread,
                copies: Vec::new(),
                status: Vec::new(),
                claims,
            };
            ticket.withdraw(why).await;
        }
        if let Some((_, done)) = closing {
            let _ = done.send(());
        }
        return;
    }
    let (message_id, thread) = match posted {
        Ok((message, thread)) => (message.message_id, thread),
        Err(error) => {
            drop((posting, claims));
            let _ = events.send(TicketEvent::Failed(Bot::error(&error))).await;
            if let Some((_, done)) = close.recv().await {
                let _ = done.send(());
            }
            return;
        }
    };
    claims.message(message_id);
    drop(posting);
    let _ = events.send(TicketEvent::Posted).await;

    let mut ticket = Posted {
        bot: bot.clone(),
        request: request.clone(),
        message_id,
        thread,
        copies: Vec::new(),
        status: Vec::new(),
        claims,
    };
    let mut phase = Phase::Waiting;
    let mut answered = false;
    loop {
        let reason_deadline = match &phase {
            Phase::Reason { until, .. } => Some(*until),
            Phase::Waiting => None,
        };
        tokio::select! {
            Some(inbound) = inbox.recv() => {
                if answered {
                    // A second tap, or a click that raced the decision: it decides nothing,
                    // but its spinner must stop.
                    if let Inbound::Click { query, .. } = inbound {
                        bot.answer_callback(&query.id, bot.text.expired).await;
                    }
                    continue;
                }
                let next = ticket.handle(inbound, phase, &events).await;
                match next {
                    Step::Continue(p) => phase = p,
                    Step::Answered => { answered = true; phase = Phase::Waiting; }
                }
            }
            () = sleep_until_opt(reason_deadline), if !answered => {
                if let Phase::Reason { by, choice, .. } = std::mem::replace(&mut phase, Phase::Waiting) {
                    let reply = Reply { choice, verdict: Verdict::Reject, by, feedback: None };
                    let _ = events.send(TicketEvent::Answered(reply)).await;
                    answered = true;
                }
            }
            closing = close.recv() => match closing {
                Some((why, done)) => {
                    let late = ticket.withdraw(&why).await;
                    ticket.claims.close(late);
                    let _ = done.send(());
                }
                None => break,
            },
        }
    }
    // Clicks that were queued for this ticket when it closed.
    inbox.close();
    while let Some(inbound) = inbox.recv().await {
        if let Inbound::Click { query, .. } = inbound {
            bot.answer_callback(&query.id, bot.text.expired).await;
        }
    }
}

/// Post the request once this process has joined the bot's others (so the click that may
/// follow at once finds its way here), in its session's topic. A topic that was deleted is
/// created again, once.
async fn post(
    bot: &Bot,
    request: &Request,
    deadline: Instant,
    on_trouble: &mut (dyn FnMut(&ApiError) + Send),
) -> Result<(Message, Option<i64>), ApiError> {
    bot.relay.joined(JOIN_PATIENCE).await;
    let mut thread = bot.thread_for(request).await;
    let mut retried = false;
    loop {
        let params = send_params(bot, request, thread);
        let error = match bot
            .api
            .call_until::<Message>("sendMessage", &params, deadline, on_trouble)
            .await
        {
            Ok(message) => return Ok((message, thread)),
            Err(error) => error,
        };
        let deleted_topic = matches!(&error, ApiError::Rejected { description, .. }
            if description.contains("thread not found"));
        match (&request.origin.label, thread) {
            (Some(label), Some(stale))
                if deleted_topic && !retried && bot.topics.forget(label, stale).await =>
            {
                retried = true;
                thread = bot.thread_for(request).await;
            }
            _ => return Err(error),
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

enum Step {
    Continue(Phase),
    Answered,
}

impl Posted {
    async fn handle(
        &mut self,
        inbound: Inbound,
        phase: Phase,
        events: &mpsc::Sender<TicketEvent>,
    ) -> Step {
        let text = self.bot.text;
        match (inbound, phase) {
            (Inbound::Trouble(error), phase) => {
                let _ = events.send(TicketEvent::Trouble(error)).await;
                Step::Continue(phase)
            }
            (Inbound::Click { query, choice }, Phase::Waiting) => {
                if let Some(id) = query.message.as_ref().map(|m| m.message_id)
                    && id != self.message_id
                    && !self.copies.contains(&id)
                {
                    self.copies.push(id);
                }
                if !self.bot.settings.trusted.allows(&query.from.id) {
                    self.bot.answer_callback(&query.id, text.not_allowed).await;
                    return Step::Continue(Phase::Waiting);
                }
                let Some(picked) = self.request.choice(&choice).cloned() else {
                    self.bot.answer_callback(&query.id, text.expired).await;
                    return Step::Continue(Phase::Waiting);
                };
                let by = person(&query.from);
                let toast = match (picked.verdict, picked.id.as_str()) {
                    (Verdict::Approve, crate::request::Choice::APPROVE) => text.toast_approved,
                    (Verdict::Reject, crate::request::Choice::REJECT) => text.toast_rejected,
                    _ => text.toast_chosen,
                };
                self.bot.answer_callback(&query.id, toast).await;
                self.status.push(decided_line(text, &picked, &by));
                self.edit().await;
                let asks_reason = picked.verdict == Verdict::Reject
                    && picked.asks_reason
                    && !self.request.reject_feedback_timeout.is_zero();
                if asks_reason && let Some(prompt) = self.ask_reason().await {
                    let _ = events.send(TicketEvent::Holding).await;
                    let until = Instant::now() + self.request.reject_feedback_timeout;
                    return Step::Continue(Phase::Reason {
                        by,
                        choice: picked.id,
                        prompt,
                        until,
                    });
                }
                let reply = Reply {
                    choice: picked.id,
                    verdict: picked.verdict,
                    by,
                    feedback: None,
                };
                let _ = events.send(TicketEvent::Answered(reply)).await;
                Step::Answered
            }
            (Inbound::Click { query, .. }, phase @ Phase::Reason { .. }) => {
                self.bot.answer_callback(&query.id, text.expired).await;
                Step::Continue(phase)
            }
            (Inbound::Reply(message), Phase::Waiting) => {
                let Some((by, note)) = self.trusted_text(&message, &[self.message_id]) else {
                    return Step::Continue(Phase::Waiting);
                };
                let approve = crate::request::Choice::APPROVE;
                let label = self
                    .request
                    .choice(approve)
                    .map_or_else(|| text.approve.to_owned(), |c| c.label.clone());
                let picked = crate::request::Choice {
                    id: approve.into(),
                    label,
                    verdict: Verdict::Approve,
                    asks_reason: false,
                };
                self.status.push(decided_line(text, &picked, &by));
                self.status.push(quote(text.note, &note));
                self.edit().await;
                let reply = Reply {
                    choice: approve.into(),
                    verdict: Verdict::Approve,
                    by,
                    feedback: Some(note),
                };
                let _ = events.send(TicketEvent::Answered(reply)).await;
                Step::Answered
            }
            (
                Inbound::Reply(message),
                Phase::Reason {
                    by,
                    choice,
                    prompt,
                    until,
                },
            ) => {
                let Some((_, reason)) = self.trusted_text(&message, &[prompt, self.message_id])
                else {
                    return Step::Continue(Phase::Reason {
                        by,
                        choice,
                        prompt,
                        until,
                    });
                };
                self.status.push(quote(text.reason, &reason));
                self.edit().await;
                let reply = Reply {
                    choice,
                    verdict: Verdict::Reject,
                    by,
                    feedback: Some(reason),
                };
                let _ = events.send(TicketEvent::Answered(reply)).await;
                Step::Answered
            }
        }
    }

    /// The sender and text of `message` if it is a text reply to one of `targets` by a trusted user.
    fn trusted_text(&self, message: &Message, targets: &[i64]) -> Option<(Person, String)> {
        let from = message.from.as_ref()?;
        let replied = message.reply_to_message.as_ref()?.message_id;
        let text = message.text.as_deref()?.trim();
        (targets.contains(&replied)
            && self.bot.settings.trusted.allows(&from.id)
            && !text.is_empty())
        .then(|| (person(from), text.to_owned()))
    }

    async fn ask_reason(&mut self) -> Option<i64> {
        let text = self.bot.text;
        let seconds = self.request.reject_feedback_timeout.as_secs().to_string();
        let prompt = fill(
            text.reason_prompt,
            &[("title", &self.request.title), ("seconds", &seconds)],
        );
        let mut params = json!({
            "chat_id": self.bot.settings.chat_id,
            "text": crate::text::cut_end(&prompt, 1000, text.truncated),
            "reply_parameters": {"message_id": self.message_id, "allow_sending_without_reply": true},
            "reply_markup": {"force_reply": true, "input_field_placeholder": text.reason_placeholder},
        });
        if let Some(thread) = self.thread {
            params["message_thread_id"] = json!(thread);
        }
        let until = Instant::now() + WITHDRAW_PATIENCE;
        let _posting = self.bot.relay.begin_post();
        match self
            .bot
            .api
            .call_until::<Message>("sendMessage", &params, until, &mut |_| {})
            .await
        {
            Ok(message) => {
                self.claims.message(message.message_id);
                Some(message.message_id)
            }
            Err(e) => {
                crate::log::warn(&format!(
                    "telegram: could not ask for a reason: {}",
                    e.describe()
                ));
                None
            }
        }
    }

    /// Replace the message (and its copies) with its status lines and no keyboard.
    async fn edit(&self) {
        let html = render::with_status(&self.request, self.bot.text, &self.status);
        let until = Instant::now() + WITHDRAW_PATIENCE;
        for id in std::iter::once(self.message_id).chain(self.copies.iter().copied()) {
            let params = json!({"chat_id": self.bot.settings.chat_id, "message_id": id, "text": html, "parse_mode": "HTML"});
            match self
                .bot
                .api
                .call_until::<Value>("editMessageText", &params, until, &mut |_| {})
                .await
            {
                Err(ApiError::Rejected { description, .. })
                    if description.contains("message is not modified") => {}
                Err(e) => crate::log::warn(&format!(
                    "telegram: could not update the message: {}",
                    e.describe()
                )),
                Ok(_) => {}
            }
        }
    }

    /// Take the buttons away and say why; returns what late clicks are told.
    async fn withdraw(&mut self, why: &Closing) -> String {
        let text = self.bot.text;
        let Some(notice) = why.withdrawal(text) else {
            return text.expired.to_owned();
        };
        self.status.push(render::escape(&notice.line));
        self.edit().await;
        notice.late
    }
}

fn send_params(bot: &Bot, request: &Request, thread: Option<i64>) -> Value {
    let text = bot.text;
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let button = |c: &crate::request::Choice| json!({"text": c.label, "callback_data": callback_data(&request.id, &c.id)});
    let (plain, extra): (Vec<_>, Vec<_>) = request.choices.iter().partition(|c| {
        c.id == crate::request::Choice::APPROVE || c.id == crate::request::Choice::REJECT
    });
    if !plain.is_empty() {
        rows.push(plain.into_iter().map(button).collect());
    }
    rows.extend(extra.into_iter().map(|c| vec![button(c)]));
    let mut params = json!({
        "chat_id": bot.settings.chat_id,
        "text": render::message(request, text),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": true},
        "reply_markup": {"inline_keyboard": rows},
    });
    if let Some(thread) = thread {
        params["message_thread_id"] = json!(thread);
    }
    params
}

fn person(user: &updates::User) -> Person {
    Person {
        name: user.display_name(),
        id: user.id.to_string(),
    }
}

fn decided_line(text: &Messages, choice: &crate::request::Choice, by: &Person) -> String {
    let time = crate::i18n::clock(std::time::SystemTime::now());
    let line = match (choice.verdict, choice.id.as_str()) {
        (Verdict::Approve, crate::request::Choice::APPROVE) => {
            fill(text.approved_by, &[("user", &by.name), ("time", &time)])
        }
        (Verdict::Reject, crate::request::Choice::REJECT) => {
            fill(text.rejected_by, &[("user", &by.name), ("time", &time)])
        }
        _ => fill(
            text.chose_by,
            &[
                ("choice", &choice.label),
                ("user", &by.name),
                ("time", &time),
            ],
        ),
    };
    format!("<b>{}</b>", render::escape(&line))
}

fn quote(template: &str, said: &str) -> String {
    let said = crate::text::cut_end(said, render::QUOTE_LIMIT, "…");
    render::escape(&fill(template, &[("text", &said)]))
}
