//! A follower: registers its routes with the leader, receives its events, acknowledges them.

use std::time::Duration;

use tokio::net::UnixStream;
use tokio::time::Instant;

use super::wire::{self, Down, Up};
use super::{Event, Inner, Role};

/// Follow the leader at the other end of `stream` until it goes away.
pub(super) async fn follow(inner: &std::sync::Arc<Inner>, stream: UnixStream) {
    let (read, write) = stream.into_split();
    let (tx, rx) = wire::channel();
    {
        // Under the state lock: every claim made after this snapshot goes through `tx`,
        // after the hello.
        let mut st = inner.state();
        let hello = Up::Hello {
            pid: std::process::id(),
            claims: st.claims.iter().map(|k| k.0.clone()).collect(),
            posts: st.posts,
        };
        let _ = tx.send(hello);
        st.role = Role::Following(tx.clone());
        st.followed = true;
    }
    let writer = tokio::spawn(wire::write_all(rx, write));
    let mut reader = wire::Reader::new(read);
    while let Some(down) = reader.next::<Down>().await {
        match down {
            Down::Event {
                n,
                id,
                age_ms,
                body,
            } => {
                let now = Instant::now();
                let at = now
                    .checked_sub(Duration::from_millis(age_ms))
                    .unwrap_or(now);
                let event = Event {
                    id,
                    keys: Vec::new(),
                    patience: Duration::ZERO,
                    awaits_posts: false,
                    body,
                    at,
                };
                super::debug(|| format!("delivering {} (event {n})", event.id));
                inner.deliver(event).await;
                let _ = tx.send(Up::Ack { n });
            }
            Down::Ping { n } => {
                tx.send(Up::Ack { n });
            }
            // Only now does the leader know our routes: tickets may post.
            Down::Welcome => {
                inner.joined.send_replace(true);
            }
            Down::Taken { ids } => {
                let mut st = inner.state();
                for id in &ids {
                    st.taken.insert(id);
                }
            }
            Down::Members { pids } => inner.state().members = pids,
            Down::Notice { body } => inner.hooks().notice(&body),
            Down::Baton { body } => inner.state().baton = Some(body),
        }
    }
    inner.state().role = Role::Joining;
    inner.joined.send_replace(false);
    drop(tx);
    writer.abort();
}
