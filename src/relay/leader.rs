//! The leader: runs the source, keeps the table of owners, relays events and waits for acks.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::{Instant, sleep_until};

use super::wire::{self, Down, Up};
use super::{Event, Inner, Key, Place, Role, SETTLE, place};

/// How long a follower may take to acknowledge an event before it is cut off.
const ACK_PATIENCE: Duration = Duration::from_secs(10);
/// How long a new connection may take to say hello.
const HELLO_PATIENCE: Duration = Duration::from_secs(5);
/// How long announcing an event to the followers may take (a stopped follower's socket
/// fills up and stops taking writes).
const ANNOUNCE_PATIENCE: Duration = Duration::from_millis(500);

/// Who owns a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Owner {
    Local,
    Conn(u64),
}

/// The source's handle: what the poller or the Gateway driver may do as leader.
pub struct Lead {
    router: Arc<Router>,
    baton: Option<Value>,
    took_over: bool,
}

impl Lead {
    /// True while some process has a route: the source should run.
    pub fn wanted(&self) -> watch::Receiver<bool> {
        self.router.wanted.subscribe()
    }

    /// Hand `event` to its owner (or answer it as ownerless); returns when that is done and,
    /// for another process, acknowledged. Events are routed one at a time, in order.
    pub async fn route(&self, event: Event) {
        self.router.route_all(vec![event]).await;
    }

    /// [`Lead::route`] each of `events`, in order; the followers hear of them in one go.
    pub async fn route_all(&self, events: Vec<Event>) {
        self.router.route_all(events).await;
    }

    /// Tell every process (this one included) about the source.
    pub fn notice(&self, body: Value) {
        self.router.notice(body);
    }

    /// Leave a successor what it needs to continue the source.
    pub fn pass_baton(&self, body: Value) {
        self.router.pass_baton(body);
    }

    /// The baton of the previous leader, if this process followed one.
    pub fn inherited_baton(&mut self) -> Option<Value> {
        self.baton.take()
    }

    /// Whether a previous leader may have been polling until a moment ago.
    pub fn took_over(&self) -> bool {
        self.took_over
    }
}

pub(super) struct Router {
    inner: Arc<Inner>,
    /// Held while a batch is routed; true once the process is finishing (no more batches).
    routing: tokio::sync::Mutex<bool>,
    table: Mutex<Table>,
    /// Wakes routes waiting for an owner (claims, posts, members changed).
    changed: Notify,
    wanted: watch::Sender<bool>,
    coordinated: bool,
    settle_until: Instant,
    /// Events the previous leader marked as taken (see [`Down::Taken`]).
    inherited: super::Seen,
    /// Held for the life of the process: the lock that makes us the leader.
    _lock: Option<File>,
}

#[derive(Default)]
struct Table {
    owners: HashMap<Key, Owner>,
    posts: HashMap<Owner, usize>,
    conns: HashMap<u64, Conn>,
    /// Members of the previous leader that have not registered again yet.
    expected: HashSet<u32>,
    notice: Option<Value>,
    baton: Option<Value>,
    next_conn: u64,
}

struct Conn {
    pid: u32,
    tx: wire::Sender<Down>,
    acks: HashMap<u64, oneshot::Sender<()>>,
    next_event: u64,
}

/// Become the leader. `lock` is the held lock and the place to listen; `None` runs alone.
pub(super) fn lead(inner: &Arc<Inner>, lock: Option<(File, &Place)>) {
    let mut listener = None;
    let mut held = None;
    if let Some((file, place)) = lock {
        match listen(place) {
            Ok(l) => {
                listener = Some(l);
                held = Some(file);
            }
            Err(e) => crate::log::warn(&format!(
                "cannot listen on {}: {e}; this process listens alone",
                place.socket().display()
            )),
        }
    }
    let coordinated = listener.is_some();
    let (router, lead) = {
        let mut st = inner.state();
        let me = std::process::id();
        let expected = st
            .members
            .iter()
            .copied()
            .filter(|&pid| pid != me && place::alive(pid))
            .collect();
        let mut table = Table {
            expected,
            ..Table::default()
        };
        for key in &st.claims {
            table.owners.insert(key.clone(), Owner::Local);
        }
        table.posts.insert(Owner::Local, st.posts);
        let router = Arc::new(Router {
            inner: inner.clone(),
            routing: tokio::sync::Mutex::new(false),
            wanted: watch::Sender::new(!table.owners.is_empty() || !table.expected.is_empty()),
            table: Mutex::new(table),
            changed: Notify::new(),
            coordinated,
            settle_until: Instant::now() + SETTLE,
            inherited: std::mem::take(&mut st.taken),
            _lock: held,
        });
        super::debug(|| {
            format!(
                "leading (coordinated: {coordinated}); members {:?}, waiting for {:?}",
                st.members,
                router.table().expected
            )
        });
        st.role = Role::Leading(router.clone());
        let lead = Lead {
            router: router.clone(),
            baton: st.baton.take(),
            took_over: st.followed,
        };
        (router, lead)
    };
    inner.joined.send_replace(true);
    // Members that have not come back by then are taken for dead.
    let settling = router.clone();
    tokio::spawn(async move {
        sleep_until(settling.settle_until).await;
        let mut t = settling.table();
        t.expected.clear();
        settling.changed(&t);
    });
    if let Some(listener) = listener {
        tokio::spawn(accept(router, listener));
    }
    tokio::spawn(inner.hooks().clone().lead(lead));
}

fn listen(place: &Place) -> std::io::Result<UnixListener> {
    let path = place.socket();
    place::remove_stale(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

async fn accept(router: Arc<Router>, listener: UnixListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) if super::peer_is_us(&stream) => {
                tokio::spawn(router.clone().serve(stream));
            }
            Ok(_) => crate::log::warn("refused a relay connection from another user"),
            Err(e) => {
                crate::log::warn(&format!("relay: accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

enum Step {
    Local,
    Remote(u64),
    Unowned,
    Wait(Instant),
}

impl Router {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Recompute `wanted` and wake waiting routes. Call after every change to the table.
    /// Members still expected may have routes: the source keeps going for them meanwhile.
    fn changed(&self, table: &Table) {
        let now = !table.owners.is_empty() || !table.expected.is_empty();
        self.wanted
            .send_if_modified(|w| std::mem::replace(w, now) != now);
        self.changed.notify_waiters();
    }

    pub(super) fn claim(&self, owner: Owner, key: Key) {
        let mut t = self.table();
        t.owners.insert(key, owner);
        self.changed(&t);
    }

    pub(super) fn release(&self, owner: Owner, key: &Key) {
        let mut t = self.table();
        if t.owners.get(key) == Some(&owner) {
            t.owners.remove(key);
        }
        self.changed(&t);
    }

    pub(super) fn set_posts(&self, owner: Owner, n: usize) {
        let mut t = self.table();
        t.posts.insert(owner, n);
        self.changed(&t);
    }

    fn notice(&self, body: Value) {
        self.inner.hooks().notice(&body);
        let mut t = self.table();
        for conn in t.conns.values() {
            let _ = conn.tx.send(Down::Notice { body: body.clone() });
        }
        t.notice = Some(body);
    }

    fn pass_baton(&self, body: Value) {
        let mut t = self.table();
        for conn in t.conns.values() {
            let _ = conn.tx.send(Down::Baton { body: body.clone() });
        }
        t.baton = Some(body);
    }

    async fn route_all(&self, events: Vec<Event>) {
        let finishing = self.routing.lock().await;
        if *finishing {
            // The process is exiting: leave the events (and their offsets) to the successor.
            return std::future::pending().await;
        }
        // A new leader routes nothing before the members it knows of are back: each of them
        // must hear which events are taken, in case it leads next.
        self.settled().await;
        // Events with an owner now are announced together (one write per follower, not one
        // per event); the others once they are handled.
        let owned: Vec<bool> = events
            .iter()
            .map(|e| matches!(self.step(e), Step::Local | Step::Remote(_)))
            .collect();
        let ids: Vec<String> = events
            .iter()
            .zip(&owned)
            .filter(|(_, owned)| **owned)
            .map(|(e, _)| e.id.clone())
            .collect();
        self.announce(ids).await;
        for (event, announced) in events.into_iter().zip(owned) {
            self.route(event, announced).await;
        }
        drop(finishing);
    }

    async fn route(&self, event: Event, mut announced: bool) {
        // Whether a process that is gone now may have answered it already; then, if nobody
        // owns it, it is left alone rather than answered a second time.
        let mut maybe_answered = self.inherited.contains(&event.id);
        let mut synced = false;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let step = self.step(&event);
            super::debug(|| {
                let what = match &step {
                    Step::Local => "local".to_owned(),
                    Step::Remote(c) => format!("conn {c}"),
                    Step::Unowned => format!("unowned (maybe answered: {maybe_answered})"),
                    Step::Wait(_) => "wait".to_owned(),
                };
                format!("event {} keys {:?}: {what}", event.id, event.keys)
            });
            match step {
                Step::Local => {
                    self.announce_once(&event.id, &mut announced).await;
                    return self.inner.deliver(event).await;
                }
                Step::Remote(conn) => {
                    self.announce_once(&event.id, &mut announced).await;
                    let Some(ack) = self.send_event(conn, &event) else {
                        continue;
                    };
                    match tokio::time::timeout(ACK_PATIENCE, ack).await {
                        Ok(Ok(())) => return,
                        // The follower went away (its routes with it) before it acknowledged:
                        // it may have answered and exited. Look again.
                        Ok(Err(_)) => maybe_answered = true,
                        Err(_) => {
                            crate::log::warn(
                                "relay: a process did not acknowledge an event; cut off",
                            );
                            self.drop_conn(conn);
                            maybe_answered = true;
                        }
                    }
                }
                // A follower's claim (or "posting…", sent before its message could exist) may
                // still be in its socket: read everything first.
                Step::Unowned | Step::Wait(_) if !synced && !event.keys.is_empty() => {
                    synced = true;
                    self.sync().await;
                }
                Step::Unowned if maybe_answered => {
                    self.inner.state().seen.insert(&event.id);
                    return;
                }
                Step::Unowned => {
                    let id = event.id.clone();
                    self.inner.unowned(event, self.coordinated).await;
                    // Answered: a successor that polls it again must not answer it again.
                    return self.announce_once(&id, &mut announced).await;
                }
                Step::Wait(until) => {
                    tokio::select! {
                        () = notified => {}
                        () = sleep_until(until) => {}
                    }
                }
            }
        }
    }

    async fn settled(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.table().expected.is_empty() || Instant::now() >= self.settle_until {
                return;
            }
            tokio::select! {
                () = notified => {}
                () = sleep_until(self.settle_until) => {}
            }
        }
    }

    /// Ping every follower and wait for the answers: what they sent before is read then.
    async fn sync(&self) {
        let pongs: Vec<_> = {
            let mut t = self.table();
            t.conns
                .values_mut()
                .map(|conn| {
                    let n = conn.next_event;
                    conn.next_event += 1;
                    let (tx, rx) = oneshot::channel();
                    conn.acks.insert(n, tx);
                    conn.tx.send(Down::Ping { n });
                    rx
                })
                .collect()
        };
        let all = futures_util::future::join_all(pongs);
        let _ = tokio::time::timeout(ANNOUNCE_PATIENCE, all).await;
    }

    /// Let the batch being routed finish (at most `patience`), then route no more: the
    /// process is about to exit, and a successor takes over from here.
    pub(super) async fn finish(&self, patience: Duration) {
        if let Ok(mut finishing) = tokio::time::timeout(patience, self.routing.lock()).await {
            *finishing = true;
        }
    }

    /// Tell every follower that event `id` is taken (handed to its owner, or answered), and
    /// wait until that is in their sockets: should this process die now, a successor that
    /// sees the event again knows it may have been answered.
    async fn announce_once(&self, id: &str, announced: &mut bool) {
        if !std::mem::replace(announced, true) {
            self.announce(vec![id.to_owned()]).await;
        }
    }

    /// [`Router::announce_once`] for several events.
    async fn announce(&self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let written: Vec<_> = {
            let t = self.table();
            t.conns
                .values()
                .map(|c| c.tx.send_written(Down::Taken { ids: ids.clone() }))
                .collect()
        };
        let all = futures_util::future::join_all(written);
        let _ = tokio::time::timeout(ANNOUNCE_PATIENCE, all).await;
    }

    /// Send `event` to follower `id`; the receiver fires on its ack. `None`: it is gone.
    fn send_event(&self, id: u64, event: &Event) -> Option<oneshot::Receiver<()>> {
        let mut t = self.table();
        let conn = t.conns.get_mut(&id)?;
        let n = conn.next_event;
        conn.next_event += 1;
        let (ack_tx, ack_rx) = oneshot::channel();
        conn.acks.insert(n, ack_tx);
        let age_ms = u64::try_from(event.at.elapsed().as_millis()).unwrap_or(u64::MAX);
        conn.tx.send(Down::Event {
            n,
            id: event.id.clone(),
            age_ms,
            body: event.body.clone(),
        });
        Some(ack_rx)
    }

    fn step(&self, event: &Event) -> Step {
        let t = self.table();
        let owner = event.keys.iter().find_map(|k| t.owners.get(k).copied());
        match owner {
            Some(Owner::Local) => Step::Local,
            Some(Owner::Conn(id)) => Step::Remote(id),
            None if event.keys.is_empty() => Step::Unowned,
            None => {
                let now = Instant::now();
                let give_up = event.at + event.patience;
                let settled = t.expected.is_empty() || now >= self.settle_until;
                let quiet = !event.awaits_posts || t.posts.values().all(|&n| n == 0);
                if (settled && quiet) || now >= give_up {
                    Step::Unowned
                } else if settled {
                    Step::Wait(give_up)
                } else {
                    Step::Wait(self.settle_until.min(give_up))
                }
            }
        }
    }

    /// Serve one follower until it goes away.
    async fn serve(self: Arc<Self>, stream: UnixStream) {
        let (read, write) = stream.into_split();
        let mut reader = wire::Reader::new(read);
        let hello = tokio::time::timeout(HELLO_PATIENCE, reader.next::<Up>()).await;
        let Ok(Some(Up::Hello { pid, claims, posts })) = hello else {
            return;
        };
        let (tx, rx) = wire::channel();
        tokio::spawn(wire::write_all(rx, write));
        let (id, written) = {
            let mut t = self.table();
            let id = t.next_conn;
            t.next_conn += 1;
            for key in claims {
                t.owners.insert(Key(key), Owner::Conn(id));
            }
            t.posts.insert(Owner::Conn(id), posts);
            t.expected.remove(&pid);
            t.conns.insert(
                id,
                Conn {
                    pid,
                    tx: tx.clone(),
                    acks: HashMap::new(),
                    next_event: 0,
                },
            );
            let written = broadcast_members(&t);
            self.changed(&t);
            (id, written)
        };
        // Every follower must know the newcomer before it may post (and so own events): a
        // successor waits for the members it knows of.
        let all = futures_util::future::join_all(written);
        let _ = tokio::time::timeout(ANNOUNCE_PATIENCE, all).await;
        {
            let t = self.table();
            tx.send(Down::Welcome);
            if let Some(body) = &t.notice {
                tx.send(Down::Notice { body: body.clone() });
            }
            if let Some(body) = &t.baton {
                tx.send(Down::Baton { body: body.clone() });
            }
        }
        while let Some(up) = reader.next::<Up>().await {
            let mut t = self.table();
            match up {
                Up::Claim { key } => {
                    t.owners.insert(Key(key), Owner::Conn(id));
                }
                Up::Release { key } => {
                    let key = Key(key);
                    if t.owners.get(&key) == Some(&Owner::Conn(id)) {
                        t.owners.remove(&key);
                    }
                }
                Up::Posts { n } => {
                    t.posts.insert(Owner::Conn(id), n);
                }
                Up::Ack { n } => {
                    if let Some(ack) = t.conns.get_mut(&id).and_then(|c| c.acks.remove(&n)) {
                        let _ = ack.send(());
                    }
                    continue;
                }
                Up::Hello { .. } => continue,
            }
            self.changed(&t);
        }
        self.drop_conn(id);
    }

    /// Forget a follower: its routes, its posts, its unacknowledged events (their routes
    /// look again), and its socket (dropping the sender ends its writer).
    fn drop_conn(&self, id: u64) {
        let mut t = self.table();
        if t.conns.remove(&id).is_none() {
            return;
        }
        t.owners.retain(|_, owner| *owner != Owner::Conn(id));
        t.posts.remove(&Owner::Conn(id));
        drop(broadcast_members(&t));
        self.changed(&t);
    }
}

/// Tell every follower who the followers are; the receivers fire once it is in the sockets.
fn broadcast_members(t: &Table) -> Vec<oneshot::Receiver<()>> {
    let pids: Vec<u32> = t.conns.values().map(|c| c.pid).collect();
    t.conns
        .values()
        .map(|conn| conn.tx.send_written(Down::Members { pids: pids.clone() }))
        .collect()
}
