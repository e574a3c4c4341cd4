//! Telegram: requests as messages with inline keyboards, answers from `getUpdates`.
//!
//! One [`Bot`] per process owns the long poll. Each open ticket registers a route from its
//! request id (and from the ids of its messages, for replies) to the ticket's task. The poller
//! runs only while routes exist, so an idle process makes no calls. An update's offset is
//! confirmed (by the next `getUpdates`) only after the update was handed to its route.
//! Every callback query gets an answer: the ticket's, the reason of a closed ticket ("moved to
//! Discord"), or "expired". Clicks must come from the configured chat and carry the id of a
//! request this process knows.

mod api;
pub mod render;
mod updates;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use self::api::{Api, ApiError, Backoff};
use self::updates::{CallbackQuery, Message, Update, callback_data, parse_callback_data};
use crate::answer::Person;
use crate::config::TelegramSettings;
use crate::i18n::{Locale, Messages, fill};
use crate::provider::{
    Closing, Delivery, Provider, ProviderError, ProviderName, Reply, Ticket, TicketEvent,
    TicketHandle,
};
use crate::request::{Notice, Request, RequestId, Verdict};

const POLL_SECS: u64 = 30;
/// How long withdrawing a message may keep retrying.
const WITHDRAW_PATIENCE: Duration = Duration::from_secs(15);

/// The Telegram provider.
pub struct Telegram {
    bot: Arc<Bot>,
}

impl Telegram {
    pub fn new(http: reqwest::Client, settings: TelegramSettings, locale: Locale) -> Self {
        let api = Api::new(http, &settings.api_base, settings.token.clone());
        let bot = Arc::new(Bot {
            api,
            settings,
            text: locale.messages(),
            routes: Mutex::default(),
            wake: Notify::new(),
            polling: Mutex::new(false),
            posts: watch::Sender::new(0),
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
        Bot::ensure_poller(&self.bot);
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
    wake: Notify,
    polling: Mutex<bool>,
    /// Messages being posted whose ids are not registered yet. An update that refers to an
    /// unknown message waits for these, as it may answer one of them.
    posts: watch::Sender<usize>,
}

/// Counts a post in flight until its message id is registered (or the post failed).
struct PostGuard<'a>(&'a watch::Sender<usize>);

impl Drop for PostGuard<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
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
    Trouble(ApiError),
}

impl Bot {
    fn ensure_poller(bot: &Arc<Bot>) {
        let mut polling = bot.polling.lock().expect("poller flag");
        if !*polling {
            *polling = true;
            tokio::spawn(poll(bot.clone()));
        }
    }

    fn error(error: &ApiError) -> ProviderError {
        ProviderError::new(
            ProviderName::Telegram,
            error.describe(),
            error.is_permanent(),
        )
    }

    fn begin_post(&self) -> PostGuard<'_> {
        self.posts.send_modify(|n| *n += 1);
        PostGuard(&self.posts)
    }

    /// Wait (briefly) until no post is in flight, so its id is known before an update that
    /// may refer to it is judged.
    async fn posts_registered(&self) {
        let mut posts = self.posts.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(10), posts.wait_for(|n| *n == 0)).await;
    }

    fn has_live_routes(&self) -> bool {
        self.routes
            .lock()
            .expect("routes")
            .by_request
            .values()
            .any(|r| matches!(r, Route::Live(_)))
    }

    async fn answer_callback(&self, id: &str, text: &str) {
        let params = json!({"callback_query_id": id, "text": text});
        if let Err(e) = self
            .api
            .call::<Value>("answerCallbackQuery", &params, Duration::from_secs(10))
            .await
        {
            crate::log::warn(&format!(
                "telegram: answerCallbackQuery failed: {}",
                e.describe()
            ));
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
        let lookup = || {
            let routes = self.routes.lock().expect("routes");
            match routes.by_request.get(&request) {
                Some(Route::Live(tx)) => Some(Ok(tx.clone())),
                Some(Route::Closed(text)) => Some(Err(text.clone())),
                None => None,
            }
        };
        let route = if let Some(route) = lookup() {
            route
        } else {
            self.posts_registered().await;
            lookup().unwrap_or_else(|| Err(self.text.expired.to_owned()))
        };
        match route {
            Ok(tx) => {
                let id = query.id.clone();
                if tx.send(Inbound::Click { query, choice }).await.is_err() {
                    self.answer_callback(&id, self.text.expired).await;
                }
            }
            Err(text) => self.answer_callback(&query.id, &text).await,
        }
    }

    async fn dispatch_message(&self, message: Message) {
        if message.chat.id != self.settings.chat_id
            || message.from.as_ref().is_none_or(|u| u.is_bot)
        {
            return;
        }
        let Some(replied) = message.reply_to_message.as_ref().map(|m| m.message_id) else {
            return;
        };
        let lookup = || {
            let routes = self.routes.lock().expect("routes");
            match routes
                .by_message
                .get(&replied)
                .and_then(|id| routes.by_request.get(id))
            {
                Some(Route::Live(tx)) => Some(tx.clone()),
                _ => None,
            }
        };
        let tx = if let Some(tx) = lookup() {
            tx
        } else {
            self.posts_registered().await;
            let Some(tx) = lookup() else { return };
            tx
        };
        let _ = tx.send(Inbound::Reply(message)).await;
    }

    fn tell_all(&self, trouble: &ApiError) {
        let routes = self.routes.lock().expect("routes");
        for route in routes.by_request.values() {
            if let Route::Live(tx) = route {
                let _ = tx.try_send(Inbound::Trouble(trouble.clone()));
            }
        }
    }
}

/// The long poll. Runs for the life of the process, but calls Telegram only while a ticket is
/// live; otherwise it sleeps until one registers.
async fn poll(bot: Arc<Bot>) {
    let mut offset: Option<i64> = None;
    let mut backoff = Backoff::default();
    loop {
        if !bot.has_live_routes() {
            bot.wake.notified().await;
            continue;
        }
        let mut params =
            json!({"timeout": POLL_SECS, "allowed_updates": ["message", "callback_query"]});
        if let Some(offset) = offset {
            params["offset"] = json!(offset);
        }
        let wait = Duration::from_secs(POLL_SECS + 10);
        match bot
            .api
            .call::<Vec<Update>>("getUpdates", &params, wait)
            .await
        {
            Ok(updates) => {
                backoff.reset();
                for update in updates {
                    let id = update.update_id;
                    bot.dispatch(update).await;
                    offset = Some(id + 1);
                }
            }
            Err(ApiError::RateLimited(pause)) => tokio::time::sleep(pause).await,
            Err(error) => {
                crate::log::warn(&format!(
                    "telegram: getUpdates failed: {}",
                    error.describe()
                ));
                bot.tell_all(&error);
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
    status: Vec<String>,
}

async fn run_ticket(bot: Arc<Bot>, request: Arc<Request>, handle: TicketHandle) {
    let TicketHandle { events, mut close } = handle;
    let deadline = Instant::now() + request.timeout;
    let (tx, mut inbox) = mpsc::channel(16);

    let params = send_params(&bot, &request);
    let trouble_events = events.clone();
    let mut on_trouble = move |e: &ApiError| {
        let _ = trouble_events.try_send(TicketEvent::Trouble(ProviderError::new(
            ProviderName::Telegram,
            e.describe(),
            false,
        )));
    };
    let posting = bot.begin_post();
    let post = bot
        .api
        .call_until::<Message>("sendMessage", &params, deadline, &mut on_trouble);
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
        if let (Ok(message), Some((why, _))) = (&posted, &closing) {
            let mut ticket = Posted {
                bot: bot.clone(),
                request: request.clone(),
                message_id: message.message_id,
                status: Vec::new(),
            };
            drop(posting);
            ticket.withdraw(why).await;
        }
        if let Some((_, done)) = closing {
            let _ = done.send(());
        }
        return;
    }
    let message_id = match posted {
        Ok(message) => message.message_id,
        Err(error) => {
            let _ = events.send(TicketEvent::Failed(Bot::error(&error))).await;
            if let Some((_, done)) = close.recv().await {
                let _ = done.send(());
            }
            return;
        }
    };
    {
        let mut routes = bot.routes.lock().expect("routes");
        routes
            .by_request
            .insert(request.id.clone(), Route::Live(tx));
        routes.by_message.insert(message_id, request.id.clone());
    }
    drop(posting);
    bot.wake.notify_one();
    let _ = events.send(TicketEvent::Posted).await;

    let mut ticket = Posted {
        bot: bot.clone(),
        request: request.clone(),
        message_id,
        status: Vec::new(),
    };
    let mut phase = Phase::Waiting;
    let mut answered = false;
    loop {
        let reason_deadline = match &phase {
            Phase::Reason { until, .. } => Some(*until),
            Phase::Waiting => None,
        };
        tokio::select! {
            Some(inbound) = inbox.recv(), if !answered => {
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
                    bot.routes.lock().expect("routes").by_request.insert(request.id.clone(), Route::Closed(late));
                    let _ = done.send(());
                }
                None => break,
            },
        }
    }
    let mut routes = bot.routes.lock().expect("routes");
    routes.by_request.remove(&request.id);
    routes.by_message.retain(|_, id| *id != request.id);
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
                let _ = events.send(TicketEvent::Trouble(Bot::error(&error))).await;
                Step::Continue(phase)
            }
            (Inbound::Click { query, choice }, Phase::Waiting) => {
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

    async fn ask_reason(&self) -> Option<i64> {
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
        if let Some(thread) = self.bot.settings.message_thread_id {
            params["message_thread_id"] = json!(thread);
        }
        let until = Instant::now() + WITHDRAW_PATIENCE;
        let _posting = self.bot.begin_post();
        match self
            .bot
            .api
            .call_until::<Message>("sendMessage", &params, until, &mut |_| {})
            .await
        {
            Ok(message) => {
                let mut routes = self.bot.routes.lock().expect("routes");
                routes
                    .by_message
                    .insert(message.message_id, self.request.id.clone());
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

    /// Replace the message with its status lines and no keyboard.
    async fn edit(&self) {
        let html = render::with_status(&self.request, self.bot.text, &self.status);
        let params = json!({"chat_id": self.bot.settings.chat_id, "message_id": self.message_id, "text": html, "parse_mode": "HTML"});
        let until = Instant::now() + WITHDRAW_PATIENCE;
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

    /// Take the buttons away and say why; returns what late clicks are told.
    async fn withdraw(&mut self, why: &Closing) -> String {
        let text = self.bot.text;
        let time = crate::i18n::clock(std::time::SystemTime::now());
        let (line, late) = match why {
            Closing::Done => return text.expired.to_owned(),
            Closing::TimedOut => (
                fill(text.timed_out, &[("time", &time)]),
                text.expired.to_owned(),
            ),
            Closing::Cancelled => (
                fill(text.cancelled, &[("time", &time)]),
                text.expired.to_owned(),
            ),
            Closing::Escalated { to } => {
                let provider = to.display_name();
                (
                    fill(text.escalated, &[("provider", provider), ("time", &time)]),
                    fill(text.moved, &[("provider", provider)]),
                )
            }
            Closing::AnsweredElsewhere { place } => (
                fill(
                    text.answered_elsewhere,
                    &[("place", place), ("time", &time)],
                ),
                text.expired.to_owned(),
            ),
        };
        self.status.push(render::escape(&line));
        self.edit().await;
        late
    }
}

fn send_params(bot: &Bot, request: &Request) -> Value {
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
    if let Some(thread) = bot.settings.message_thread_id {
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
