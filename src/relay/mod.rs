//! Many processes, one bot: the relay that lets every `send` and `wrap` of a user share one
//! Telegram poller and one Discord Gateway connection.
//!
//! # Theory of operation
//!
//! Telegram allows one `getUpdates` consumer per bot (a second gets 409, and a consumer that
//! confirms an offset swallows the others' updates); Discord rations Identify. So the
//! processes of one user that use one bot elect a **leader**, which alone runs the *source*
//! (the long poll, the Gateway) and relays each event to the process that owns it.
//!
//! - **Meeting place.** Per bot identity (a hash of API base and token, see [`place`]) there
//!   is a lock file and a Unix socket in a private runtime directory (mode 0700, ours).
//!   Whoever holds the `flock` on the lock file is the leader and listens on the socket (mode
//!   0600; peers must have our uid); everybody else connects to it as a **follower**. The
//!   kernel drops the lock when the leader dies, however it dies.
//! - **Routes.** Each ticket *claims* keys: its request id (before it posts) and the ids of
//!   its messages (for replies), and counts its posts in flight. A follower sends all of that
//!   in its first line, then each change. The leader keeps the one table of owners and
//!   answers `Welcome` once it has registered a follower and told every other follower about
//!   it; tickets post only after that, so no click can come before its owner is known.
//! - **Routing.** The source hands each batch of events to [`Lead::route_all`], which returns
//!   once every event is handled: delivered to a local ticket, or sent to the owning follower
//!   and **acknowledged**, or, when nobody owns it, answered by the leader itself ("this
//!   request has expired"): every click is answered once. Before an event is called
//!   ownerless, the leader pings every follower (a claim or "posting…" may still be in a
//!   socket: they were sent before the message existed) and waits while posts are in flight
//!   for a reply to a message whose id is not claimed yet.
//! - **No loss, no double answer.** Telegram offsets are confirmed only after `route_all`
//!   returned; the Gateway source leaves a **baton** (session id, resume URL, last handled
//!   sequence number) with the followers, so a successor resumes the session and Discord
//!   replays what was missed instead of costing an Identify. Events that come again are
//!   dropped by id in every process. An event the leader hands to an owner is first marked
//!   **taken** in every follower's socket (an ownerless one right after the leader answered
//!   it), so a successor never answers a replayed event whose owner answered it and exited.
//! - **Takeover.** Followers notice the socket closing and race for the lock; losers connect
//!   to the winner and register again. The new leader routes nothing until the members it
//!   knew of are back (at most [`SETTLE`]), so each of them hears what is taken from then on,
//!   and none of their clicks is called ownerless for want of a reconnect.
//! - **Exit.** [`finish`] (called before the process exits) lets a leader complete the batch
//!   in hand and take no more: the successor gets the rest.
//! - **Cheap alone.** A lone process takes the lock, listens, and runs the source; nothing
//!   goes over the socket. If the runtime directory cannot be used, the process runs alone
//!   without coordination, as before (and then does not answer others' interactions).
//!
//! Ownership: the relay state (role, claims, posts in flight, seen ids) lives behind one
//! mutex in `Inner`; the leader's table of owners behind another in `leader::Router`. Lock
//! order is state, then table; nothing locks the state while holding the table. Each socket
//! has one reader task and one writer task fed by an unbounded channel; events are routed one
//! batch at a time under the router's `routing` lock.

mod follower;
mod leader;
pub mod place;
mod wire;

use std::collections::{HashSet, VecDeque};
use std::fmt::Display;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio::time::Instant;

pub use self::leader::Lead;
use self::leader::Router;
pub use self::place::Place;
use self::wire::Up;

/// How long a new leader waits for the previous leader's followers to register again.
pub const SETTLE: Duration = Duration::from_millis(1500);
/// How long a process keeps trying to reach a leader that holds the lock but does not
/// answer, before it runs alone.
const GIVE_UP: Duration = Duration::from_secs(10);
/// How many event ids each process remembers for de-duplication.
const SEEN: usize = 4096;

/// What an event may belong to: a request id, or a message (in a chat or channel).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key(String);

impl Key {
    pub fn request(id: &crate::request::RequestId) -> Key {
        Key(format!("r:{id}"))
    }

    /// Message `id` in `scope` (a chat id; empty where message ids are global).
    pub fn message(scope: impl Display, id: impl Display) -> Key {
        Key(format!("m:{scope}:{id}"))
    }
}

/// One update from the source.
#[derive(Debug, Clone)]
pub struct Event {
    /// Unique per bot (e.g. `tg:<update_id>`): duplicates are dropped.
    pub id: String,
    /// Who may own it, most specific first. Empty: nobody (answer it as expired at once).
    pub keys: Vec<Key>,
    /// How long the event may wait for an owner to appear.
    pub patience: Duration,
    /// Whether posts in flight may turn out to own it (a reply to a message whose id is not
    /// known yet).
    pub awaits_posts: bool,
    /// The provider's raw event.
    pub body: Value,
    /// When the leader received it (Discord's 3-second answer window runs from here).
    pub at: Instant,
}

/// What a provider plugs into the relay.
pub trait Hooks: Send + Sync + 'static {
    /// Run the source for every process of the bot. Called once, when this process becomes
    /// the leader; runs for the rest of the process.
    fn lead(self: Arc<Self>, lead: Lead) -> BoxFuture<'static, ()>;
    /// Hand `event` to this process's ticket. If the ticket is gone by now, answer the event
    /// as expired.
    fn deliver(self: Arc<Self>, event: Event) -> BoxFuture<'static, ()>;
    /// Answer an event that no process owns. `coordinated` is false when this process runs
    /// alone without a relay: the owner may then be a process we cannot see.
    fn unowned(self: Arc<Self>, event: Event, coordinated: bool) -> BoxFuture<'static, ()>;
    /// A notice from the leader's source (e.g. its status), in every process.
    fn notice(&self, notice: &Value);
}

/// A process's handle on the relay of one bot.
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    place: Result<Place, String>,
    hooks: OnceLock<Arc<dyn Hooks>>,
    state: Mutex<State>,
    joined: watch::Sender<bool>,
}

struct State {
    role: Role,
    claims: HashSet<Key>,
    posts: usize,
    seen: Seen,
    /// The followers of the leader we last followed.
    members: Vec<u32>,
    /// The last baton from the leader we followed.
    baton: Option<Value>,
    /// Events the leader we followed marked as taken: if they come again and nobody owns
    /// them, they may have been answered already.
    taken: Seen,
    /// Whether this process ever followed a leader (a successor must assume a source ran).
    followed: bool,
}

enum Role {
    /// Not started: no ticket yet.
    Dormant,
    /// Looking for the lock or the leader.
    Joining,
    Leading(Arc<Router>),
    Following(wire::Sender<Up>),
}

impl Relay {
    /// The relay of the bot `kind` (`tg`, `dc`) at `api_base` with `token`. Nothing happens
    /// until [`Relay::start`].
    pub fn for_bot(kind: &str, api_base: &str, token: &str) -> Relay {
        Self::new(Place::for_bot(kind, api_base, token))
    }

    /// A relay meeting at `place`; an `Err` runs alone (the text says why, once started).
    pub fn new(place: Result<Place, String>) -> Relay {
        Relay {
            inner: Arc::new(Inner {
                place,
                hooks: OnceLock::new(),
                state: Mutex::new(State {
                    role: Role::Dormant,
                    claims: HashSet::new(),
                    posts: 0,
                    seen: Seen::default(),
                    members: Vec::new(),
                    baton: None,
                    taken: Seen::default(),
                    followed: false,
                }),
                joined: watch::Sender::new(false),
            }),
        }
    }

    /// The bot's files in the runtime directory, if it can be used.
    pub fn place(&self) -> Option<&Place> {
        self.inner.place.as_ref().ok()
    }

    /// Join the bot's processes (lead or follow). Idempotent; needs a Tokio runtime.
    pub fn start(&self, hooks: Arc<dyn Hooks>) {
        if self.inner.hooks.set(hooks).is_err() {
            return;
        }
        STARTED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Arc::downgrade(&self.inner));
        self.inner.state().role = Role::Joining;
        match &self.inner.place {
            Ok(place) => {
                tokio::spawn(join(self.inner.clone(), place.clone()));
            }
            Err(why) => {
                crate::log::warn(&format!(
                    "cannot coordinate with other openfeedback processes ({why}); this one \
                     listens alone"
                ));
                leader::lead(&self.inner, None);
            }
        }
    }

    /// Wait until this process leads or follows (at most `patience`).
    pub async fn joined(&self, patience: Duration) {
        let mut joined = self.inner.joined.subscribe();
        let _ = tokio::time::timeout(patience, joined.wait_for(|j| *j)).await;
    }

    /// Route events with `key` to this process.
    pub fn claim(&self, key: Key) {
        let mut st = self.inner.state();
        if !st.claims.insert(key.clone()) {
            return;
        }
        match &st.role {
            Role::Leading(router) => router.claim(leader::Owner::Local, key),
            Role::Following(tx) => {
                let _ = tx.send(Up::Claim { key: key.0 });
            }
            Role::Dormant | Role::Joining => {}
        }
    }

    pub fn release(&self, key: &Key) {
        let mut st = self.inner.state();
        if !st.claims.remove(key) {
            return;
        }
        match &st.role {
            Role::Leading(router) => router.release(leader::Owner::Local, key),
            Role::Following(tx) => {
                let _ = tx.send(Up::Release { key: key.0.clone() });
            }
            Role::Dormant | Role::Joining => {}
        }
    }

    /// Count a post in flight until the guard is dropped (after its message id is claimed).
    pub fn begin_post(&self) -> Posting {
        self.inner.add_posts(1);
        Posting {
            inner: self.inner.clone(),
        }
    }
}

/// A post in flight; see [`Relay::begin_post`].
pub struct Posting {
    inner: Arc<Inner>,
}

impl Drop for Posting {
    fn drop(&mut self) {
        self.inner.add_posts(-1);
    }
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn hooks(&self) -> &Arc<dyn Hooks> {
        self.hooks.get().expect("the relay is started")
    }

    fn add_posts(&self, delta: isize) {
        let mut st = self.state();
        st.posts = st.posts.saturating_add_signed(delta);
        let n = st.posts;
        match &st.role {
            Role::Leading(router) => router.set_posts(leader::Owner::Local, n),
            Role::Following(tx) => {
                let _ = tx.send(Up::Posts { n });
            }
            Role::Dormant | Role::Joining => {}
        }
    }

    /// See [`finish`].
    async fn finish(&self, patience: Duration) {
        let router = match &self.state().role {
            Role::Leading(router) => router.clone(),
            _ => return,
        };
        router.finish(patience).await;
    }

    /// Hand an event that is ours to the provider, unless it came before.
    async fn deliver(&self, event: Event) {
        if self.state().seen.insert(&event.id) {
            self.hooks().clone().deliver(event).await;
        } else {
            debug(|| format!("{} came again: dropped", event.id));
        }
    }

    /// Answer an event nobody owns, unless it came before.
    async fn unowned(&self, event: Event, coordinated: bool) {
        if self.state().seen.insert(&event.id) {
            self.hooks().clone().unowned(event, coordinated).await;
        }
    }
}

/// The relays this process started (for [`finish`]).
static STARTED: Mutex<Vec<std::sync::Weak<Inner>>> = Mutex::new(Vec::new());

/// How long [`finish`] may wait, by default: enough for an answer in flight.
pub const FINISH: Duration = Duration::from_secs(3);

/// Call before the process exits. Where this process leads, the event in hand is finished
/// (at most `patience`) and no further one is taken on: the successor gets those, instead of
/// this process dropping one halfway (an answer half sent, an offset not confirmed). Returns
/// at once where nothing is in hand.
pub async fn finish(patience: Duration) {
    let started: Vec<Arc<Inner>> = STARTED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .collect();
    futures_util::future::join_all(started.iter().map(|inner| inner.finish(patience))).await;
}

/// Take the lead or follow the leader, again whenever the leader goes away.
async fn join(inner: Arc<Inner>, place: Place) {
    let mut lost_since = Instant::now();
    loop {
        match place::try_lock(&place.lock()) {
            Ok(Some(lock)) => return leader::lead(&inner, Some((lock, &place))),
            Ok(None) => {}
            Err(e) => {
                crate::log::warn(&format!(
                    "cannot open {}: {e}; this process listens alone",
                    place.lock().display()
                ));
                return leader::lead(&inner, None);
            }
        }
        if let Ok(stream) = UnixStream::connect(place.socket()).await
            && peer_is_us(&stream)
        {
            debug(|| "following".into());
            follower::follow(&inner, stream).await;
            debug(|| "the leader went away".into());
            lost_since = Instant::now();
            continue;
        }
        if lost_since.elapsed() > GIVE_UP {
            crate::log::warn(
                "another openfeedback process holds the bot's lock but does not answer on its \
                 socket; this process listens alone",
            );
            return leader::lead(&inner, None);
        }
        // The lock is held but the leader is not listening yet (it is starting, or it just
        // died and the lock is on its way to a survivor).
        let pause = 5 + u64::from(random_byte() % 16);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// Relay diagnostics, on stderr (or the log file) when `OPENFEEDBACK_RELAY_DEBUG` is set.
pub(crate) fn debug(message: impl FnOnce() -> String) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("OPENFEEDBACK_RELAY_DEBUG").is_some()) {
        crate::log::info(&format!("relay[{}]: {}", std::process::id(), message()));
    }
}

fn peer_is_us(stream: &UnixStream) -> bool {
    stream
        .peer_cred()
        .is_ok_and(|cred| cred.uid() == place::uid())
}

fn random_byte() -> u8 {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    byte[0]
}

/// The ids of the last [`SEEN`] events.
#[derive(Default)]
pub(crate) struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    /// False if `id` was seen before.
    fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() == SEEN
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        self.ids.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }

    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
}

#[cfg(test)]
mod tests;
