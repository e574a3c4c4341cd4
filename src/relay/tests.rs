//! The relay within one process: two relays meeting at one place behave like two processes
//! (the lock is per open file, the socket is real). Takeover needs a process to die; the
//! integration tests (`tests/it/sessions.rs`) kill real ones.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::*;

/// Hooks that report what happens to them.
struct Probe {
    name: &'static str,
    leads: mpsc::UnboundedSender<Lead>,
    seen: mpsc::UnboundedSender<(&'static str, String, &'static str)>,
}

impl Hooks for Probe {
    fn lead(self: Arc<Self>, lead: Lead) -> BoxFuture<'static, ()> {
        let _ = self.leads.send(lead);
        Box::pin(async {})
    }

    fn deliver(self: Arc<Self>, event: Event) -> BoxFuture<'static, ()> {
        let _ = self.seen.send((self.name, event.id, "delivered"));
        Box::pin(async {})
    }

    fn unowned(self: Arc<Self>, event: Event, coordinated: bool) -> BoxFuture<'static, ()> {
        let what = if coordinated { "unowned" } else { "alone" };
        let _ = self.seen.send((self.name, event.id, what));
        Box::pin(async {})
    }

    fn notice(&self, notice: &Value) {
        let _ = self.seen.send((self.name, notice.to_string(), "notice"));
    }
}

struct World {
    _dir: tempfile::TempDir,
    place: Place,
    leads: mpsc::UnboundedReceiver<Lead>,
    leads_tx: mpsc::UnboundedSender<Lead>,
    seen: mpsc::UnboundedReceiver<(&'static str, String, &'static str)>,
    seen_tx: mpsc::UnboundedSender<(&'static str, String, &'static str)>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let place = Place::in_dir(dir.path().join("rt"), "tg", "http://fake", "1:token").unwrap();
        let (leads_tx, leads) = mpsc::unbounded_channel();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        World {
            _dir: dir,
            place,
            leads,
            leads_tx,
            seen,
            seen_tx,
        }
    }

    async fn relay(&self, name: &'static str) -> Relay {
        let relay = Relay::new(Ok(self.place.clone()));
        relay.start(Arc::new(Probe {
            name,
            leads: self.leads_tx.clone(),
            seen: self.seen_tx.clone(),
        }));
        relay.joined(Duration::from_secs(5)).await;
        relay
    }

    async fn next(&mut self) -> (&'static str, String, &'static str) {
        tokio::time::timeout(Duration::from_secs(5), self.seen.recv())
            .await
            .expect("something happens")
            .unwrap()
    }
}

fn event(id: &str, keys: &[&Key]) -> Event {
    Event {
        id: id.into(),
        keys: keys.iter().map(|k| (*k).clone()).collect(),
        patience: Duration::from_secs(5),
        awaits_posts: false,
        body: json!({"id": id}),
        at: Instant::now(),
    }
}

fn key(name: &str) -> Key {
    Key(format!("r:{name}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lone_relay_leads_delivers_its_own_and_answers_the_rest_once() {
    let mut world = World::new();
    let a = world.relay("a").await;
    let lead = world.leads.recv().await.unwrap();
    assert!(!*lead.wanted().borrow(), "nothing to listen for yet");
    a.claim(key("mine"));
    assert!(*lead.wanted().borrow());
    assert!(!lead.took_over());

    lead.route(event("e1", &[&key("mine")])).await;
    assert_eq!(world.next().await, ("a", "e1".into(), "delivered"));
    // The same event again (a successor polling it once more) is dropped.
    lead.route(event("e1", &[&key("mine")])).await;
    lead.route(event("e2", &[&key("nobody")])).await;
    assert_eq!(world.next().await, ("a", "e2".into(), "unowned"));
    lead.route(event("e3", &[])).await;
    assert_eq!(world.next().await, ("a", "e3".into(), "unowned"));

    lead.notice(json!({"ok": true}));
    assert_eq!(world.next().await, ("a", r#"{"ok":true}"#.into(), "notice"));
    a.release(&key("mine"));
    assert!(!*lead.wanted().borrow());
    // The lock names the holder.
    let pid = std::fs::read_to_string(world.place.lock()).unwrap();
    assert_eq!(pid.trim(), std::process::id().to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follower_gets_its_events_over_the_socket() {
    let mut world = World::new();
    let a = world.relay("a").await;
    let lead = world.leads.recv().await.unwrap();
    a.claim(key("a1"));
    let b = world.relay("b").await;
    assert!(world.leads.try_recv().is_err(), "b follows");
    // Claimed while following; one claimed before joining travels in the hello.
    b.claim(key("b1"));
    let c = Relay::new(Ok(world.place.clone()));
    c.claim(key("c1"));
    c.start(Arc::new(Probe {
        name: "c",
        leads: world.leads_tx.clone(),
        seen: world.seen_tx.clone(),
    }));
    c.joined(Duration::from_secs(5)).await;

    lead.route(event("e1", &[&key("b1")])).await;
    assert_eq!(world.next().await, ("b", "e1".into(), "delivered"));
    lead.route(event("e2", &[&key("other"), &key("c1")])).await;
    assert_eq!(world.next().await, ("c", "e2".into(), "delivered"));
    lead.route(event("e3", &[&key("a1")])).await;
    assert_eq!(world.next().await, ("a", "e3".into(), "delivered"));
    // A release still on its way: either b gets the event (and its provider, whose ticket is
    // gone, answers it as expired) or the leader does; never both.
    b.release(&key("b1"));
    lead.route(event("e4", &[&key("b1")])).await;
    let got = world.next().await;
    assert!(
        got == ("b", "e4".into(), "delivered") || got == ("a", "e4".into(), "unowned"),
        "{got:?}"
    );

    // Notices reach every process, newcomers included.
    lead.notice(json!({"gateway": "ready"}));
    let mut heard: Vec<&str> = Vec::new();
    for _ in 0..3 {
        heard.push(world.next().await.0);
    }
    heard.sort_unstable();
    assert_eq!(heard, ["a", "b", "c"]);
    drop((a, b, c));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_waits_for_the_post_that_may_own_it() {
    let mut world = World::new();
    let _a = world.relay("a").await;
    let lead = world.leads.recv().await.unwrap();
    let b = world.relay("b").await;
    let posting = b.begin_post();
    let mut reply = event("r1", &[&key("prompt")]);
    reply.awaits_posts = true;
    let routed = tokio::spawn(async move {
        lead.route(reply).await;
        lead
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(world.seen.try_recv().is_err(), "held while b posts");
    b.claim(key("prompt"));
    drop(posting);
    assert_eq!(world.next().await, ("b", "r1".into(), "delivered"));
    routed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_without_a_place_listens_alone() {
    let (leads_tx, mut leads) = mpsc::unbounded_channel();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let relay = Relay::new(Err("no runtime directory".into()));
    relay.start(Arc::new(Probe {
        name: "x",
        leads: leads_tx,
        seen: seen_tx,
    }));
    let lead = leads.recv().await.unwrap();
    lead.route(event("e1", &[&key("nobody")])).await;
    // The owner may be a process it cannot see: the provider is told so.
    assert_eq!(seen.recv().await.unwrap(), ("x", "e1".into(), "alone"));
}

#[tokio::test(flavor = "multi_thread")]
async fn finishing_stops_routing() {
    let mut world = World::new();
    let a = world.relay("a").await;
    let lead = world.leads.recv().await.unwrap();
    a.claim(key("a1"));
    a.inner.finish(Duration::from_secs(1)).await;
    let held = tokio::time::timeout(
        Duration::from_millis(200),
        lead.route(event("e1", &[&key("a1")])),
    )
    .await;
    assert!(held.is_err(), "left to the successor");
    assert!(world.seen.try_recv().is_err());
}
