//! The PTY reader: the hot path from the agent to our standard output.
//!
//! A dedicated thread reads the PTY master, writes each chunk to stdout at once, then queues a
//! copy for the screen thread in the [`Feed`] (which never slows this loop down unless the
//! model is [`super::feed::LIMIT`] bytes behind). The
//! agent's exit ends the session, not the reader's end of file: after the exit the session
//! drains what the agent wrote last (until end of file, or a short quiet spell if some
//! grandchild keeps the terminal open).

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::feed::{Feed, Push};
use super::output::Output;
use super::screen::Input;

/// How long the output must be idle, after the agent exited, to stop draining.
const DRAIN_IDLE: Duration = Duration::from_millis(250);
/// The longest drain.
const DRAIN_MAX: Duration = Duration::from_secs(3);

/// The running reader.
pub struct Reader {
    eof: oneshot::Receiver<()>,
    read: Arc<AtomicU64>,
}

impl Reader {
    pub fn spawn(
        mut pty: Box<dyn Read + Send>,
        output: Arc<Output>,
        screen: Sender<Input>,
        feed: Arc<Feed>,
    ) -> std::io::Result<Reader> {
        let (eof_tx, eof) = oneshot::channel();
        let read = Arc::new(AtomicU64::new(0));
        let counter = read.clone();
        std::thread::Builder::new()
            .name("wrap-reader".into())
            .spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let mut model_alive = true;
                loop {
                    let n = match pty.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            crate::log::warn(&format!("reading the agent's terminal: {e}"));
                            break;
                        }
                    };
                    let chunk = &buf[..n];
                    output.agent(chunk);
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                    if model_alive {
                        model_alive = match feed.push(chunk) {
                            Push::Quiet => true,
                            Push::Ring => screen.send(Input::Output).is_ok(),
                            Push::Closed => false,
                        };
                    }
                }
                let _ = eof_tx.send(());
            })?;
        Ok(Reader { eof, read })
    }

    /// After the agent exited: wait for the end of its output (bounded).
    pub async fn drain(&mut self) {
        let started = Instant::now();
        let mut seen = self.read.load(Ordering::Relaxed);
        let mut changed = Instant::now();
        loop {
            tokio::select! {
                _ = &mut self.eof => return,
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            let now = self.read.load(Ordering::Relaxed);
            if now != seen {
                seen = now;
                changed = Instant::now();
            } else if changed.elapsed() >= DRAIN_IDLE {
                crate::log::info(
                    "the agent's terminal is still open (a child process?); stopped reading",
                );
                return;
            }
            if started.elapsed() >= DRAIN_MAX {
                return;
            }
        }
    }
}
