//! What the leader and its followers say to each other: one JSON object per line.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

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
    /// Event `n` was handed to its ticket (or found to be a duplicate).
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

/// Write every message from `rx` as a line until the channel closes or the peer goes away.
/// The one writer of its socket.
pub async fn write_all<T: Serialize>(
    mut rx: mpsc::UnboundedReceiver<T>,
    mut write: OwnedWriteHalf,
) {
    while let Some(message) = rx.recv().await {
        let mut line = serde_json::to_vec(&message).expect("wire messages serialize");
        line.push(b'\n');
        // Drain what is already queued into one write.
        while let Ok(more) = rx.try_recv() {
            line.extend(serde_json::to_vec(&more).expect("wire messages serialize"));
            line.push(b'\n');
        }
        if write.write_all(&line).await.is_err() {
            return;
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
