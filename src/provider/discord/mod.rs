//! Discord: requests as messages with buttons (REST v10), answers over the Gateway.
//!
//! One [`Bot`] per process owns the REST client. The processes of one bot share a single
//! Gateway connection ([`gateway`]) through the relay (`crate::relay`): the leader holds it
//! and relays each click, modal submit and reply to the process that owns it. Each open
//! ticket routes its request id (before it posts) and its message id (for replies) to the
//! ticket's task, here and in the relay; the Gateway is connected only while some process has
//! a route, and a ticket posts its message only once the Gateway is ready, so no click can
//! arrive unheard. When the leader goes, a survivor resumes its session (no new Identify).
//!
//! Invariants:
//! - Every interaction of ours is answered inside Discord's 3-second window, exactly once: by
//!   the owning process's ticket (update the message, open the reason form), or by the owning
//!   process: "not allowed" for untrusted users, the closing reason of a withdrawn request
//!   ("moved to Telegram"), "expired" when its ticket is gone; or, when no process owns the
//!   request, by the leader: "expired", at once (it knows every owner). Refusals are
//!   ephemeral (flag 64): only the clicker sees them.
//! - An interaction is ours when its custom id has our shape; it counts only from the
//!   configured channel. A process running alone without the relay leaves interactions it
//!   does not own unanswered: their owner may be a process it cannot see.
//! - Replies count only from trusted humans (no bots, no webhooks), in the channel, to the
//!   request message.
//! - Every message we send has `allowed_mentions: {parse: []}`: nothing in a request pings.

mod gateway;
mod model;
mod proxy;
mod render;
mod rest;
mod ticket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use self::gateway::{Dispatch, Gateway, Resume, Status};
use self::model::{Interaction, MESSAGE_COMPONENT, MODAL_SUBMIT, parse_custom_id};
use self::rest::{Rest, RestError};
use crate::config::{DiscordSettings, Snowflake};
use crate::i18n::{Locale, Messages};
use crate::provider::{Delivery, Provider, ProviderError, ProviderName, Ticket};
use crate::relay::{self, Event, Hooks, Key, Lead, Relay};
use crate::request::{Notice, Request, RequestId};

/// Interaction callbacks must reach Discord within 3 s of the event; stop retrying before.
const CALLBACK_WINDOW: Duration = Duration::from_millis(2700);
/// Discord's "Interaction has already been acknowledged".
const ALREADY_ACKNOWLEDGED: u64 = 40060;
/// The EPHEMERAL message flag.
const EPHEMERAL: u64 = 1 << 6;
/// How long posting a notice may keep retrying.
const NOTICE_PATIENCE: Duration = Duration::from_secs(15);

/// The Discord provider.
pub struct Discord {
    bot: Arc<Bot>,
}

impl Discord {
    /// `env` reads the proxy variables (`std::env::var` in production).
    pub fn new(
        http: reqwest::Client,
        settings: DiscordSettings,
        locale: Locale,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        let proxies = proxy::Proxies::from_env(env);
        let via = reqwest::Url::parse(&settings.api_base)
            .ok()
            .and_then(|url| {
                let host = url.host_str()?;
                let proxy = proxies.for_target(url.scheme() == "https", host)?;
                Some(proxy.shown())
            });
        let rest = Arc::new(Rest::new(
            http,
            &settings.api_base,
            settings.token.clone(),
            proxies.passwords(),
            via,
        ));
        let config = gateway::Config {
            token: settings.token.clone(),
            url: settings.gateway_url.clone(),
            message_content: settings.reply_feedback,
            proxies,
            resume: None,
        };
        let relay = Relay::for_bot("dc", &settings.api_base, settings.token.expose());
        let bot = Arc::new(Bot {
            rest,
            settings,
            text: locale.messages(),
            routes: Mutex::default(),
            relay,
            status: watch::Sender::new(Status::Down),
            gateway_config: Mutex::new(Some(config)),
        });
        Discord { bot }
    }
}

impl Provider for Discord {
    fn name(&self) -> ProviderName {
        ProviderName::Discord
    }

    fn open(&self, request: Arc<Request>) -> Ticket {
        let (ticket, handle) = Ticket::pair();
        self.bot.relay.start(self.bot.clone());
        tokio::spawn(ticket::run(self.bot.clone(), request, handle));
        ticket
    }

    /// A plain message (REST only: no buttons, so the Gateway is not needed).
    fn notify<'a>(&'a self, notice: &'a Notice) -> Delivery<'a> {
        Box::pin(async move {
            let bot = &self.bot;
            let body = render::notice(notice, bot.text);
            let path = format!("/channels/{}/messages", bot.channel().0);
            let until = tokio::time::Instant::now() + NOTICE_PATIENCE;
            bot.rest
                .call_until(
                    reqwest::Method::POST,
                    &path,
                    Some(&body),
                    until,
                    &mut |_| {},
                )
                .await
                .map(|_| ())
                .map_err(|e| {
                    ProviderError::new(ProviderName::Discord, e.describe(), e.is_permanent())
                })
        })
    }
}

/// What the process shares between its Discord tickets.
struct Bot {
    rest: Arc<Rest>,
    settings: DiscordSettings,
    text: &'static Messages,
    routes: Mutex<Routes>,
    relay: Relay,
    /// The leader's Gateway status, as the relay reports it.
    status: watch::Sender<Status>,
    /// The Gateway's configuration until this process leads and starts it.
    gateway_config: Mutex<Option<gateway::Config>>,
}

#[derive(Default)]
struct Routes {
    by_request: HashMap<RequestId, Route>,
    by_message: HashMap<String, RequestId>,
}

enum Route {
    Live(mpsc::Sender<Inbound>),
    /// Withdrawn: interactions are told this.
    Closed(String),
}

/// What a ticket hears from the Gateway.
enum Inbound {
    /// A click or a modal submit by a trusted user.
    Interaction(Interaction),
    /// A reply to the request message by a trusted user.
    Reply(model::Message),
}

impl Bot {
    fn channel(&self) -> &Snowflake {
        &self.settings.channel_id
    }

    fn status(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    fn set_route(&self, request: &RequestId, route: Route) {
        self.routes
            .lock()
            .expect("routes")
            .by_request
            .insert(request.clone(), route);
        self.relay.claim(Key::request(request));
    }

    fn add_message(&self, message: &str, request: &RequestId) {
        self.routes
            .lock()
            .expect("routes")
            .by_message
            .insert(message.to_owned(), request.clone());
        self.relay.claim(Key::message("", message));
    }

    /// Forget a request entirely (its ticket was dropped).
    fn forget(&self, request: &RequestId) {
        let mut messages = Vec::new();
        {
            let mut routes = self.routes.lock().expect("routes");
            routes.by_request.remove(request);
            routes.by_message.retain(|message, id| {
                if id == request {
                    messages.push(message.clone());
                }
                id != request
            });
        }
        self.relay.release(&Key::request(request));
        for message in messages {
            self.relay.release(&Key::message("", message));
        }
    }

    fn trusted(&self, user_id: &str) -> bool {
        self.settings.trusted.allows(&Snowflake(user_id.to_owned()))
    }

    /// Answer an interaction (retrying only inside its 3-second window).
    async fn respond(&self, interaction: &Interaction, body: &Value) -> Result<(), RestError> {
        let path = format!(
            "/interactions/{}/{}/callback",
            interaction.id, interaction.token
        );
        let until = interaction.received + CALLBACK_WINDOW;
        self.rest
            .call_until(reqwest::Method::POST, &path, Some(body), until, &mut |_| {})
            .await
            .map(|_| ())
    }

    /// Answer with a message only the clicker sees.
    async fn refuse(&self, interaction: &Interaction, text: &str) {
        let body = json!({"type": 4, "data": {
            "content": text,
            "flags": EPHEMERAL,
            "allowed_mentions": {"parse": []},
        }});
        match self.respond(interaction, &body).await {
            Ok(()) => {}
            Err(e) if e.code() == Some(ALREADY_ACKNOWLEDGED) => {}
            Err(e) => crate::log::warn(&format!(
                "discord: could not answer a click: {}",
                e.describe()
            )),
        }
    }

    /// The relay's view of a Gateway event: who may own it.
    fn event(kind: Dispatch, d: Value) -> Event {
        let mut keys = Vec::new();
        let id = match kind {
            Dispatch::Interaction => {
                let ours = matches!(
                    d.get("type").and_then(Value::as_u64),
                    Some(t) if t == u64::from(MESSAGE_COMPONENT) || t == u64::from(MODAL_SUBMIT)
                );
                if let Some((request, _)) = d
                    .pointer("/data/custom_id")
                    .and_then(Value::as_str)
                    .and_then(parse_custom_id)
                    .filter(|_| ours)
                {
                    keys.push(Key::request(&request));
                }
                format!("i{}", d["id"].as_str().unwrap_or_default())
            }
            Dispatch::Message => {
                if let Some(replied) = d
                    .pointer("/message_reference/message_id")
                    .and_then(Value::as_str)
                {
                    keys.push(Key::message("", replied));
                }
                if let Some(request) = d
                    .pointer("/referenced_message/components")
                    .and_then(Value::as_array)
                    .and_then(|rows| model::request_in_components(rows))
                {
                    keys.push(Key::request(&request));
                }
                format!("m{}", d["id"].as_str().unwrap_or_default())
            }
        };
        let kind = match kind {
            Dispatch::Interaction => "interaction",
            Dispatch::Message => "message",
        };
        Event {
            id,
            keys,
            // Request ids are claimed before posting: only a settling leader makes one wait.
            patience: relay::SETTLE,
            awaits_posts: false,
            body: Value::Object(serde_json::Map::from_iter([
                ("kind".to_owned(), json!(kind)),
                ("d".to_owned(), d),
            ])),
            at: Instant::now(),
        }
    }

    /// A click or modal submit routed here: to its ticket, or refused.
    async fn route_interaction(self: &Arc<Self>, interaction: Interaction) {
        if interaction.kind != MESSAGE_COMPONENT && interaction.kind != MODAL_SUBMIT {
            return;
        }
        let Some((request, _)) = interaction.custom_id().and_then(parse_custom_id) else {
            // Not a component of ours: some other feature of this bot answers it.
            return;
        };
        let in_our_channel = interaction.channel_id.as_deref() == Some(self.channel().0.as_str());
        let route = {
            let routes = self.routes.lock().expect("routes");
            match routes.by_request.get(&request).filter(|_| in_our_channel) {
                Some(Route::Live(tx)) => Ok(tx.clone()),
                Some(Route::Closed(text)) => Err(text.clone()),
                None => Err(self.text.expired.to_owned()),
            }
        };
        let bot = self.clone();
        match route {
            Ok(tx) => {
                let trusted = interaction.who().is_some_and(|u| self.trusted(&u.id));
                if !trusted {
                    tokio::spawn(
                        async move { bot.refuse(&interaction, bot.text.not_allowed).await },
                    );
                    return;
                }
                if let Err(mpsc::error::SendError(Inbound::Interaction(interaction))) =
                    tx.send(Inbound::Interaction(interaction)).await
                {
                    tokio::spawn(async move { bot.refuse(&interaction, bot.text.expired).await });
                }
            }
            Err(text) => {
                tokio::spawn(async move { bot.refuse(&interaction, &text).await });
            }
        }
    }

    async fn route_message(&self, message: model::Message) {
        if message.channel_id != self.channel().0
            || message.author.bot
            || message.webhook_id.is_some()
            || !self.trusted(&message.author.id)
        {
            return;
        }
        let Some(replied) = message.replied_to() else {
            return;
        };
        let tx = {
            let routes = self.routes.lock().expect("routes");
            let request = routes
                .by_message
                .get(replied)
                .cloned()
                .or_else(|| message.replied_request());
            match request.and_then(|id| routes.by_request.get(&id)) {
                Some(Route::Live(tx)) => tx.clone(),
                _ => return,
            }
        };
        let _ = tx.send(Inbound::Reply(message)).await;
    }
}

/// A Gateway event as the relay carries it: `{"kind": "interaction" | "message", "d": …}`.
enum Relayed {
    Interaction(Interaction),
    Message(model::Message),
}

impl Relayed {
    fn parse(event: &Event) -> Option<Relayed> {
        let d = event.body.get("d")?.clone();
        match event.body.get("kind")?.as_str()? {
            "interaction" => {
                let mut interaction: Interaction = serde_json::from_value(d).ok()?;
                // The 3-second window started when the leader heard of it.
                interaction.received = event.at;
                Some(Relayed::Interaction(interaction))
            }
            "message" => serde_json::from_value(d).ok().map(Relayed::Message),
            _ => None,
        }
    }
}

impl Hooks for Bot {
    fn lead(self: Arc<Self>, lead: Lead) -> BoxFuture<'static, ()> {
        Box::pin(hold_gateway(self, lead))
    }

    fn deliver(self: Arc<Self>, event: Event) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            match Relayed::parse(&event) {
                Some(Relayed::Interaction(interaction)) => {
                    self.route_interaction(interaction).await;
                }
                Some(Relayed::Message(message)) => self.route_message(message).await,
                None => crate::log::warn(&format!(
                    "discord: ignoring an unreadable event {}",
                    event.id
                )),
            }
        })
    }

    fn unowned(self: Arc<Self>, event: Event, coordinated: bool) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            // No key: not a component of ours (some other feature of this bot answers it).
            if !coordinated || event.keys.is_empty() {
                return;
            }
            // Awaited: the relay marks the event answered once this returns.
            if let Some(Relayed::Interaction(interaction)) = Relayed::parse(&event) {
                self.refuse(&interaction, self.text.expired).await;
            }
        })
    }

    fn notice(&self, notice: &Value) {
        if let Some(status) = status_from_json(notice) {
            self.status.send_replace(status);
        }
    }
}

/// The Gateway, in the leader: connected while wanted, its status told to every process,
/// its events routed, its session passed on after each one.
async fn hold_gateway(bot: Arc<Bot>, mut lead: Lead) {
    let Some(mut config) = bot.gateway_config.lock().expect("gateway config").take() else {
        return;
    };
    let inherited = lead
        .inherited_baton()
        .and_then(|b| serde_json::from_value::<Resume>(b).ok());
    config.resume.clone_from(&inherited);
    relay::debug(|| format!("gateway: resuming {inherited:?}"));
    let mut session = inherited;
    let (events_tx, mut events) = mpsc::channel(64);
    let gateway = Gateway::spawn(config, bot.rest.clone(), events_tx);
    let mut wanted = lead.wanted();
    let mut status = gateway.status();
    gateway.want(*wanted.borrow_and_update());
    lead.notice(status_to_json(&status.borrow_and_update()));
    loop {
        tokio::select! {
            changed = wanted.changed() => {
                if changed.is_err() { return; }
                gateway.want(*wanted.borrow_and_update());
            }
            changed = status.changed() => {
                if changed.is_err() { return; }
                let now = status_to_json(&status.borrow_and_update().clone());
                relay::debug(|| format!("gateway: {now}"));
                lead.notice(now);
            }
            event = events.recv() => {
                let Some(first) = event else { return };
                // Route what has queued up in one go; a new session ends the batch.
                let mut batch = Vec::new();
                let mut last = None;
                let mut next = Some(first);
                while let Some(event) = next.take() {
                    match event {
                        gateway::Event::Dispatch { kind, seq, d } => {
                            batch.push(Bot::event(kind, d));
                            last = seq.max(last);
                            next = events.try_recv().ok();
                        }
                        gateway::Event::Session(resume) => {
                            route_batch(&lead, std::mem::take(&mut batch), last.take(), &mut session).await;
                            lead.pass_baton(json!(resume));
                            session = Some(resume);
                            next = events.try_recv().ok();
                        }
                    }
                }
                route_batch(&lead, batch, last, &mut session).await;
            }
        }
    }
}

/// Route `batch`, then leave the session's handled sequence number `last` to a successor.
async fn route_batch(
    lead: &Lead,
    batch: Vec<Event>,
    last: Option<u64>,
    session: &mut Option<Resume>,
) {
    if batch.is_empty() {
        return;
    }
    lead.route_all(batch).await;
    if let (Some(session), Some(seq)) = (session.as_mut(), last) {
        session.seq = Some(session.seq.map_or(seq, |old| old.max(seq)));
        lead.pass_baton(json!(session));
    }
}

fn status_to_json(status: &Status) -> Value {
    match status {
        Status::Down => json!({"gateway": "down"}),
        Status::Ready { message_content } => {
            json!({"gateway": "ready", "message_content": message_content})
        }
        Status::Trouble(message) => json!({"gateway": "trouble", "message": message}),
        Status::Failed(error) => {
            json!({"gateway": "failed", "message": error.message, "permanent": error.permanent})
        }
    }
}

fn status_from_json(value: &Value) -> Option<Status> {
    let message = || value["message"].as_str().unwrap_or_default().to_owned();
    Some(match value.get("gateway")?.as_str()? {
        "down" => Status::Down,
        "ready" => Status::Ready {
            message_content: value["message_content"].as_bool().unwrap_or(false),
        },
        "trouble" => Status::Trouble(message()),
        "failed" => Status::Failed(ProviderError::new(
            ProviderName::Discord,
            message(),
            value["permanent"].as_bool().unwrap_or(true),
        )),
        _ => return None,
    })
}
