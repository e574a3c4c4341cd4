//! Discord: requests as messages with buttons (REST v10), answers over the Gateway.
//!
//! One [`Bot`] per process owns the REST client and the single Gateway connection
//! ([`gateway`]). Each open ticket registers a route from its request id (and from its
//! message id, for replies) to the ticket's task; the Gateway is connected only while routes
//! exist, and the ticket posts its message only once the Gateway is ready, so no click can
//! arrive unheard.
//!
//! Invariants:
//! - Every interaction we own is answered inside Discord's 3-second window: by the ticket
//!   (update the message, open the reason form), or here: "not allowed" for untrusted users,
//!   the closing reason of a withdrawn request ("moved to Telegram"), "expired" otherwise.
//!   Refusals are ephemeral (flag 64): only the clicker sees them.
//! - An interaction is ours when its custom id has our shape and it comes from the
//!   configured channel. One for a request this process does not know may belong to another
//!   openfeedback process on the same bot, which also receives it: we answer "expired" only
//!   after a grace period, and a 40060 ("already acknowledged") then means the owner answered.
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
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use self::gateway::{Event, Gateway};
use self::model::{Interaction, MESSAGE_COMPONENT, MODAL_SUBMIT, parse_custom_id};
use self::rest::{Rest, RestError};
use crate::config::{DiscordSettings, Snowflake};
use crate::i18n::{Locale, Messages};
use crate::provider::{Delivery, Provider, ProviderError, ProviderName, Ticket};
use crate::request::{Notice, Request, RequestId};

/// How long to wait before telling a click on an unknown request that it expired, so that
/// the process that owns it (another openfeedback on the same bot) answers first.
const UNKNOWN_GRACE: Duration = Duration::from_millis(1200);
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
        };
        let bot = Arc::new(Bot {
            rest,
            settings,
            text: locale.messages(),
            routes: Mutex::default(),
            gateway: OnceLock::new(),
            pending_config: Mutex::new(Some(config)),
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
        Bot::gateway(&self.bot);
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
    gateway: OnceLock<Gateway>,
    /// The Gateway's configuration until the Gateway starts (on the first ticket).
    pending_config: Mutex<Option<gateway::Config>>,
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
    /// The Gateway, started (with the event dispatcher) on first use.
    fn gateway(bot: &Arc<Bot>) -> &Gateway {
        bot.gateway.get_or_init(|| {
            let config = bot
                .pending_config
                .lock()
                .expect("gateway config")
                .take()
                .expect("the gateway starts once");
            let (events_tx, events_rx) = mpsc::channel(64);
            tokio::spawn(dispatch(bot.clone(), events_rx));
            Gateway::spawn(config, bot.rest.clone(), events_tx)
        })
    }

    fn channel(&self) -> &Snowflake {
        &self.settings.channel_id
    }

    fn set_route(&self, request: &RequestId, route: Route) {
        let mut routes = self.routes.lock().expect("routes");
        routes.by_request.insert(request.clone(), route);
        self.sync_want(&routes);
    }

    fn add_message(&self, message: &str, request: &RequestId) {
        let mut routes = self.routes.lock().expect("routes");
        routes
            .by_message
            .insert(message.to_owned(), request.clone());
    }

    /// Forget a request entirely (its ticket was dropped).
    fn forget(&self, request: &RequestId) {
        let mut routes = self.routes.lock().expect("routes");
        routes.by_request.remove(request);
        routes.by_message.retain(|_, id| id != request);
        self.sync_want(&routes);
    }

    /// The Gateway is wanted while any request, live or withdrawn, is remembered.
    fn sync_want(&self, routes: &Routes) {
        if let Some(gateway) = self.gateway.get() {
            gateway.want(!routes.by_request.is_empty());
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
                Some(Route::Live(tx)) => Some(Ok(tx.clone())),
                Some(Route::Closed(text)) => Some(Err(text.clone())),
                None => None,
            }
        };
        let bot = self.clone();
        match route {
            Some(Ok(tx)) => {
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
            Some(Err(text)) => {
                tokio::spawn(async move { bot.refuse(&interaction, &text).await });
            }
            None => {
                tokio::spawn(async move {
                    tokio::time::sleep(UNKNOWN_GRACE).await;
                    bot.refuse(&interaction, bot.text.expired).await;
                });
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
            match routes
                .by_message
                .get(replied)
                .and_then(|id| routes.by_request.get(id))
            {
                Some(Route::Live(tx)) => tx.clone(),
                _ => return,
            }
        };
        let _ = tx.send(Inbound::Reply(message)).await;
    }
}

/// Route every Gateway event to its ticket. Runs for the life of the process.
async fn dispatch(bot: Arc<Bot>, mut events: mpsc::Receiver<Event>) {
    while let Some(event) = events.recv().await {
        match event {
            Event::Interaction(interaction) => bot.route_interaction(interaction).await,
            Event::Message(message) => bot.route_message(message).await,
        }
    }
}
