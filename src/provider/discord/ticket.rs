//! One request on Discord: wait for the Gateway, post the message, turn a click, the reason
//! form or a reply into an answer, and withdraw the message when the gate says so.
//!
//! Invariants:
//! - The message is posted only when the Gateway is ready (clicks are never missed).
//! - A decision is recorded on the message before it is reported: a click answers with
//!   type 7 (UPDATE_MESSAGE: outcome shown, buttons gone), falling back to an edit when the
//!   callback fails; a reply or a withdrawal edits the message (PATCH, `components: []`).
//! - A reject that asks for a reason opens a modal and reports [`TicketEvent::Holding`]: the
//!   decision is made, so no clock may turn it into a timeout. The reason is optional; a
//!   dismissed form can be reopened with "Add a reason", and after
//!   `reject_feedback_timeout` the rejection stands without one.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::gateway::Status;
use super::model::{self, ADD_REASON, Interaction, MESSAGE_COMPONENT, MODAL_SUBMIT, REASON_INPUT};
use super::render;
use super::rest::RestError;
use super::{Bot, Inbound, Route};
use crate::answer::Person;
use crate::provider::{Closing, ProviderError, ProviderName, Reply, TicketEvent, TicketHandle};
use crate::request::{Choice, Request, Verdict};

/// How long withdrawing or editing a message may keep retrying.
const EDIT_PATIENCE: Duration = Duration::from_secs(15);
/// How long a post in flight may still take once the request is withdrawn.
const FINISH_POST: Duration = Duration::from_secs(5);
/// Discord's limit on buttons per action row, and on rows per message.
const ROW: usize = 5;

/// What the ticket is doing.
enum Phase {
    Waiting,
    /// Rejected by `by`; the reason form is open (or can be reopened) until `until`.
    Reason {
        by: Person,
        choice: String,
        until: Instant,
    },
}

enum Step {
    Continue(Phase),
    Answered,
}

pub(super) async fn run(bot: Arc<Bot>, request: Arc<Request>, handle: TicketHandle) {
    let TicketHandle { events, mut close } = handle;
    let deadline = Instant::now() + request.timeout;
    let (tx, mut inbox) = mpsc::channel(16);
    bot.set_route(&request.id, Route::Live(tx));
    let mut status = bot.status();

    let ready = tokio::select! {
        ready = wait_ready(&mut status, &events) => ready,
        closing = close.recv() => {
            bot.forget(&request.id);
            if let Some((_, done)) = closing { let _ = done.send(()); }
            return;
        }
    };
    let message_content = match ready {
        Ok(message_content) => message_content,
        Err(error) => return fail(&bot, &request, &events, &mut close, error).await,
    };

    let body = json!({
        "content": render::content(&request, bot.text, &[]),
        "embeds": [render::embed(&request, bot.text, message_content)],
        "components": buttons(&request),
        "allowed_mentions": {"parse": []},
    });
    let path = format!("/channels/{}/messages", bot.channel().0);
    let trouble_events = events.clone();
    let mut on_trouble = move |e: &RestError| {
        let _ = trouble_events.try_send(TicketEvent::Trouble(ProviderError::new(
            ProviderName::Discord,
            e.describe(),
            false,
        )));
    };
    let post = bot
        .rest
        .call_until(Method::POST, &path, Some(&body), deadline, &mut on_trouble);
    tokio::pin!(post);
    // Closed while posting: the call in flight may already have created the message, so it
    // is finished (briefly) and what it created is withdrawn like any other message.
    let (sent, early_close) = tokio::select! {
        sent = &mut post => (sent, None),
        closing = close.recv() => {
            let Some(closing) = closing else {
                bot.forget(&request.id);
                return;
            };
            let sent = tokio::time::timeout(FINISH_POST, &mut post)
                .await
                .unwrap_or_else(|_| Err(RestError::Transient("gave up posting".into())));
            (sent, Some(closing))
        }
    };
    let message_id = match sent.as_ref().map(|m| m.get("id").and_then(Value::as_str)) {
        Ok(Some(id)) => id.to_owned(),
        _ if early_close.is_some() => {
            bot.forget(&request.id);
            if let Some((_, done)) = early_close {
                let _ = done.send(());
            }
            return;
        }
        Ok(None) => {
            let error = ProviderError::new(
                ProviderName::Discord,
                "Discord created the message but sent no id",
                false,
            );
            return fail(&bot, &request, &events, &mut close, error).await;
        }
        Err(error) => {
            let error = ProviderError::new(
                ProviderName::Discord,
                format!("cannot post the request: {}", error.describe()),
                error.is_permanent(),
            );
            return fail(&bot, &request, &events, &mut close, error).await;
        }
    };
    bot.add_message(&message_id, &request.id);

    let mut ticket = Posted {
        bot: bot.clone(),
        request: request.clone(),
        message_id,
        status: Vec::new(),
        message_content,
        warned_hidden_text: false,
    };
    let mut withdrawn: Option<String> = None;
    if let Some((why, done)) = early_close {
        let late = ticket.withdraw(&why).await;
        bot.set_route(&request.id, Route::Closed(late.clone()));
        withdrawn = Some(late);
        let _ = done.send(());
    } else {
        let _ = events.send(TicketEvent::Posted).await;
    }
    let mut phase = Phase::Waiting;
    let mut answered = false;
    let mut gateway_alive = true;
    loop {
        let reason_deadline = match &phase {
            Phase::Reason { until, .. } => Some(*until),
            Phase::Waiting => None,
        };
        tokio::select! {
            Some(inbound) = inbox.recv() => {
                if answered || withdrawn.is_some() {
                    let late = withdrawn.as_deref().unwrap_or(bot.text.expired);
                    if let Inbound::Interaction(interaction) = inbound {
                        bot.refuse(&interaction, late).await;
                    }
                    continue;
                }
                match ticket.handle(inbound, phase, &events).await {
                    Step::Continue(next) => phase = next,
                    Step::Answered => { answered = true; phase = Phase::Waiting; }
                }
            }
            () = sleep_until_opt(reason_deadline), if !answered => {
                if let Phase::Reason { by, choice, .. } = std::mem::replace(&mut phase, Phase::Waiting) {
                    // The rejection stands without a reason; take the "add a reason" button away.
                    ticket.edit(Vec::new()).await;
                    let reply = Reply { choice, verdict: Verdict::Reject, by, feedback: None };
                    let _ = events.send(TicketEvent::Answered(reply)).await;
                    answered = true;
                }
            }
            changed = status.changed(), if gateway_alive && !answered && withdrawn.is_none() => {
                if changed.is_err() {
                    gateway_alive = false;
                    continue;
                }
                let now = status.borrow_and_update().clone();
                match now {
                    Status::Failed(error) => { let _ = events.send(TicketEvent::Failed(error)).await; }
                    Status::Trouble(message) => {
                        let _ = events.try_send(TicketEvent::Trouble(ProviderError::new(ProviderName::Discord, message, false)));
                    }
                    Status::Ready { message_content } => ticket.message_content = message_content,
                    Status::Down => {}
                }
            }
            closing = close.recv() => match closing {
                Some((why, done)) => {
                    let late = ticket.withdraw(&why).await;
                    bot.set_route(&request.id, Route::Closed(late.clone()));
                    withdrawn = Some(late);
                    let _ = done.send(());
                }
                None => break,
            },
        }
    }
    bot.forget(&request.id);
}

/// Wait until the Gateway is ready; reports trouble meanwhile. `Ok` says whether reply texts
/// are visible (the Message Content intent).
async fn wait_ready(
    status: &mut watch::Receiver<Status>,
    events: &mpsc::Sender<TicketEvent>,
) -> Result<bool, ProviderError> {
    loop {
        let now = status.borrow_and_update().clone();
        match now {
            Status::Ready { message_content } => return Ok(message_content),
            Status::Failed(error) => return Err(error),
            Status::Trouble(message) => {
                let _ = events.try_send(TicketEvent::Trouble(ProviderError::new(
                    ProviderName::Discord,
                    message,
                    false,
                )));
            }
            Status::Down => {}
        }
        if status.changed().await.is_err() {
            return Err(ProviderError::new(
                ProviderName::Discord,
                "the Gateway connection stopped",
                false,
            ));
        }
    }
}

/// Report a failure, then wait for the gate to close (or drop) the ticket.
async fn fail(
    bot: &Bot,
    request: &Request,
    events: &mpsc::Sender<TicketEvent>,
    close: &mut mpsc::Receiver<(Closing, tokio::sync::oneshot::Sender<()>)>,
    error: ProviderError,
) {
    let _ = events.send(TicketEvent::Failed(error)).await;
    bot.forget(&request.id);
    if let Some((_, done)) = close.recv().await {
        let _ = done.send(());
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The request's choices as buttons, five to a row.
fn buttons(request: &Request) -> Vec<Value> {
    let button = |c: &Choice| {
        let style = match (c.verdict, c.id.as_str()) {
            (Verdict::Approve, Choice::APPROVE) => 3,
            (Verdict::Reject, _) => 4,
            _ => 1,
        };
        json!({
            "type": 2,
            "style": style,
            "label": c.label.chars().take(80).collect::<String>(),
            "custom_id": model::custom_id(&request.id, &c.id),
        })
    };
    request
        .choices
        .chunks(ROW)
        .take(ROW)
        .map(|row| json!({"type": 1, "components": row.iter().map(button).collect::<Vec<_>>()}))
        .collect()
}

/// A posted request.
struct Posted {
    bot: Arc<Bot>,
    request: Arc<Request>,
    message_id: String,
    /// Status lines under the title, already escaped.
    status: Vec<String>,
    message_content: bool,
    warned_hidden_text: bool,
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
            (Inbound::Interaction(i), Phase::Waiting) if i.kind == MESSAGE_COMPONENT => {
                self.click(i, events).await
            }
            (Inbound::Interaction(i), phase @ Phase::Reason { .. })
                if i.kind == MESSAGE_COMPONENT =>
            {
                let reopen = i
                    .custom_id()
                    .and_then(model::parse_custom_id)
                    .is_some_and(|(_, choice)| choice == ADD_REASON);
                if let (true, Phase::Reason { choice, .. }) = (reopen, &phase) {
                    if let Err(e) = self.bot.respond(&i, &self.modal(choice)).await {
                        warn("could not open the reason form", &e);
                    }
                } else {
                    self.bot.refuse(&i, text.expired).await;
                }
                Step::Continue(phase)
            }
            (Inbound::Interaction(i), Phase::Reason { by, choice, .. })
                if i.kind == MODAL_SUBMIT =>
            {
                let reason = i.reason();
                if let Some(reason) = &reason {
                    self.status.push(render::quote(text.reason, reason));
                }
                self.update(&i).await;
                self.answer(events, choice, Verdict::Reject, by, reason)
                    .await
            }
            (Inbound::Interaction(i), phase) => {
                self.bot.refuse(&i, text.expired).await;
                Step::Continue(phase)
            }
            (Inbound::Reply(message), phase) => self.reply(message, phase, events).await,
        }
    }

    async fn click(&mut self, i: Interaction, events: &mpsc::Sender<TicketEvent>) -> Step {
        let text = self.bot.text;
        let on_our_message = i.message.as_ref().is_some_and(|m| m.id == self.message_id);
        let picked = i
            .custom_id()
            .and_then(model::parse_custom_id)
            .filter(|_| on_our_message)
            .and_then(|(_, choice)| self.request.choice(choice).cloned());
        let (Some(picked), Some(who)) = (picked, i.who()) else {
            self.bot.refuse(&i, text.expired).await;
            return Step::Continue(Phase::Waiting);
        };
        let by = person(who);
        self.status
            .push(render::decided_line(text, &picked, &by.name, &now()));
        let asks_reason = picked.verdict == Verdict::Reject
            && picked.asks_reason
            && !self.request.reject_feedback_timeout.is_zero();
        if asks_reason {
            match self.bot.respond(&i, &self.modal(&picked.id)).await {
                Ok(()) => {
                    // The decision is made: record it, keep a way back into the form.
                    let reopen = json!({"type": 1, "components": [{
                        "type": 2, "style": 2, "label": text.add_reason,
                        "custom_id": model::custom_id(&self.request.id, ADD_REASON),
                    }]});
                    self.edit(vec![reopen]).await;
                    let _ = events.send(TicketEvent::Holding).await;
                    let until = Instant::now() + self.request.reject_feedback_timeout;
                    return Step::Continue(Phase::Reason {
                        by,
                        choice: picked.id,
                        until,
                    });
                }
                Err(e) => {
                    warn("could not open the reason form", &e);
                    self.edit(Vec::new()).await;
                }
            }
        } else {
            self.update(&i).await;
        }
        self.answer(events, picked.id, picked.verdict, by, None)
            .await
    }

    async fn reply(
        &mut self,
        message: model::Message,
        phase: Phase,
        events: &mpsc::Sender<TicketEvent>,
    ) -> Step {
        let text = self.bot.text;
        let said = message.content.trim().to_owned();
        if message.replied_to() != Some(self.message_id.as_str()) {
            return Step::Continue(phase);
        }
        if said.is_empty() {
            if !self.message_content && !std::mem::replace(&mut self.warned_hidden_text, true) {
                crate::log::warn(
                    "discord: a reply to the request arrived without its text: the Message \
                     Content intent is off, so only replies that mention the bot can be read",
                );
            }
            return Step::Continue(phase);
        }
        let by = person(&message.author);
        match phase {
            Phase::Waiting => {
                let approve = self
                    .request
                    .choice(Choice::APPROVE)
                    .cloned()
                    .unwrap_or(Choice {
                        id: Choice::APPROVE.into(),
                        label: text.approve.into(),
                        verdict: Verdict::Approve,
                        asks_reason: false,
                    });
                self.status
                    .push(render::decided_line(text, &approve, &by.name, &now()));
                self.status.push(render::quote(text.note, &said));
                self.edit(Vec::new()).await;
                self.answer(events, approve.id, Verdict::Approve, by, Some(said))
                    .await
            }
            Phase::Reason { by, choice, .. } => {
                self.status.push(render::quote(text.reason, &said));
                self.edit(Vec::new()).await;
                self.answer(events, choice, Verdict::Reject, by, Some(said))
                    .await
            }
        }
    }

    async fn answer(
        &self,
        events: &mpsc::Sender<TicketEvent>,
        choice: String,
        verdict: Verdict,
        by: Person,
        feedback: Option<String>,
    ) -> Step {
        let reply = Reply {
            choice,
            verdict,
            by,
            feedback,
        };
        let _ = events.send(TicketEvent::Answered(reply)).await;
        Step::Answered
    }

    /// The reason form (type 9): one optional paragraph in a Label.
    fn modal(&self, choice: &str) -> Value {
        let text = self.bot.text;
        json!({"type": 9, "data": {
            "custom_id": model::custom_id(&self.request.id, choice),
            "title": text.reason_title,
            "components": [{
                "type": 18,
                "label": text.reason_label,
                "component": {
                    "type": 4,
                    "custom_id": REASON_INPUT,
                    "style": 2,
                    "max_length": 1000,
                    "required": false,
                    "placeholder": text.reason_placeholder,
                },
            }],
        }})
    }

    fn content(&self) -> String {
        render::content(&self.request, self.bot.text, &self.status)
    }

    /// Record the status on the message through the interaction (type 7: buttons gone); if
    /// the callback fails, edit the message instead.
    async fn update(&self, i: &Interaction) {
        let body = json!({"type": 7, "data": {
            "content": self.content(),
            "components": [],
            "allowed_mentions": {"parse": []},
        }});
        if let Err(e) = self.bot.respond(i, &body).await {
            warn("could not answer the click", &e);
            self.edit(Vec::new()).await;
        }
    }

    /// Replace the message's content with its status lines, and its buttons with `components`.
    async fn edit(&self, components: Vec<Value>) {
        let path = format!(
            "/channels/{}/messages/{}",
            self.bot.channel().0,
            self.message_id
        );
        let body = json!({
            "content": self.content(),
            "components": components,
            "allowed_mentions": {"parse": []},
        });
        let until = Instant::now() + EDIT_PATIENCE;
        if let Err(e) = self
            .bot
            .rest
            .call_until(Method::PATCH, &path, Some(&body), until, &mut |_| {})
            .await
        {
            warn("could not update the message", &e);
        }
    }

    /// Take the buttons away and say why; returns what late clicks are told.
    async fn withdraw(&mut self, why: &Closing) -> String {
        let text = self.bot.text;
        let Some(notice) = why.withdrawal(text) else {
            return text.expired.to_owned();
        };
        self.status.push(render::escape(&notice.line));
        self.edit(Vec::new()).await;
        notice.late
    }
}

fn person(user: &model::User) -> Person {
    Person {
        name: user.display_name(),
        id: user.id.clone(),
    }
}

fn now() -> String {
    crate::i18n::clock(SystemTime::now())
}

fn warn(what: &str, error: &RestError) {
    crate::log::warn(&format!("discord: {what}: {}", error.describe()));
}
