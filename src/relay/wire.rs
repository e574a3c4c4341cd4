//! What the leader and its followers say to each other: one JSON object per line.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

/// Follower to leader.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Up {
    /// The first line: who I am and every route I own (all at once, so a new leader knows
    /// when a member has re-registered completely).
    Hello {
        pid: u32,
        claims: Vec<String>,
        posts: usize,
    },
    Claim {
        key: String,
    },
    Release {
        key: String,
    },
    /// How many of my posts are in flight (their message ids are not claimed yet).
    Posts {
        n: usize,
    },
    /// Event `n` was handed to its ticket (or found to be a duplicate), or ping `n` came.
    Ack {
        n: u64,
    },
}

/// Leader to follower.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Down {
    /// An event for one of your routes. `age_ms`: how long the leader has had it.
    Event {
        n: u64,
        id: String,
        age_ms: u64,
        body: Value,
    },
    /// Answer with `Ack { n }`: everything you sent before is read by then.
    Ping { n: u64 },
    /// Your hello is registered: from now on, events for your claims come to you.
    Welcome,
    /// These events are taken: handed to their owners, or answered by the leader. If the
    /// leader dies now, a successor that sees one again must not answer it as ownerless (it
    /// may have been answered already).
    Taken { ids: Vec<String> },
    /// The followers now connected: who a successor should wait for.
    Members { pids: Vec<u32> },
    /// The source's status (e.g. the Gateway is ready; Telegram is unreachable).
    Notice { body: Value },
    /// What a successor needs to continue the source (e.g. the Gateway session to resume).
    Baton { body: Value },
}

/// Read lines from `read` and decode them; `None` at the end or on garbage.
pub struct Reader {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
}

impl Reader {
    pub fn new(read: OwnedReadHalf) -> Reader {
        Reader {
            lines: BufReader::new(read).lines(),
        }
    }

    /// The next message. Cancel-safe (`Lines::next_line` is).
    pub async fn next<T: for<'de> Deserialize<'de>>(&mut self) -> Option<T> {
        loop {
            match self.lines.next_line().await {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => return serde_json::from_str(&line).ok(),
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

/// The sending end of a socket's writer.
pub struct Sender<T>(mpsc::UnboundedSender<Outgoing<T>>);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

impl<T> Sender<T> {
    /// Queue `message`; false if the writer is gone.
    pub fn send(&self, message: T) -> bool {
        self.0.send((message, None)).is_ok()
    }

    /// Queue `message`; the receiver fires once it is written to the socket.
    pub fn send_written(&self, message: T) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let _ = self.0.send((message, Some(tx)));
        rx
    }
}

/// A writer's channel: feed the receiver to [`write_all`].
pub fn channel<T>() -> (Sender<T>, mpsc::UnboundedReceiver<Outgoing<T>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Sender(tx), rx)
}

/// A message to write, and who wants to know once it is in the socket (from then on the peer
/// reads it even if this process dies).
pub type Outgoing<T> = (T, Option<oneshot::Sender<()>>);

/// Write every message from `rx` as a line until the channel closes or the peer goes away.
/// The one writer of its socket.
pub async fn write_all<T: Serialize>(
    mut rx: mpsc::UnboundedReceiver<Outgoing<T>>,
    mut write: OwnedWriteHalf,
) {
    let mut written = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut line = Vec::new();
        // Drain what is already queued into one write.
        let mut next = Some(first);
        while let Some((message, notify)) = next {
            line.extend(serde_json::to_vec(&message).expect("wire messages serialize"));
            line.push(b'\n');
            written.extend(notify);
            next = rx.try_recv().ok();
        }
        if write.write_all(&line).await.is_err() {
            return;
        }
        for notify in written.drain(..) {
            let _ = notify.send(());
        }
    }
    let _ = write.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_are_tagged_objects() {
        let up = Up::Hello {
            pid: 7,
            claims: vec!["r:abc".into()],
            posts: 1,
        };
        let text = serde_json::to_string(&up).unwrap();
        assert_eq!(
            text,
            r#"{"t":"hello","pid":7,"claims":["r:abc"],"posts":1}"#
        );
        assert_eq!(serde_json::from_str::<Up>(&text).unwrap(), up);
        let down = Down::Event {
            n: 3,
            id: "tg:1".into(),
            age_ms: 2,
            body: json!({"update_id": 1}),
        };
        let text = serde_json::to_string(&down).unwrap();
        assert_eq!(serde_json::from_str::<Down>(&text).unwrap(), down);
    }
}
