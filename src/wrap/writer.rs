//! The single owner of the PTY writer, and the keyboard pump that feeds it.
//!
//! Keyboard bytes, remote answers and headless query replies all go through one channel to one
//! thread, so they are serialised: an answer's bytes are never interleaved with a keystroke
//! inside one write. The writer lives for the whole session: portable-pty's writer types a
//! newline and EOF into the agent when dropped, so the thread never drops it while the agent
//! runs (the process exits with the thread still holding it).

use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, Sender};

use tokio::sync::oneshot;

/// Bytes for the agent, with an optional acknowledgement once written.
pub struct Job {
    pub bytes: Vec<u8>,
    pub done: Option<oneshot::Sender<()>>,
}

impl Job {
    pub fn bytes(bytes: Vec<u8>) -> Job {
        Job { bytes, done: None }
    }
}

/// Start the writer thread.
pub fn spawn(
    mut pty: Box<dyn Write + Send>,
    jobs: Receiver<Job>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("wrap-writer".into())
        .spawn(move || {
            let mut failed = false;
            for job in &jobs {
                if !failed && let Err(e) = pty.write_all(&job.bytes).and_then(|()| pty.flush()) {
                    crate::log::warn(&format!("cannot write to the agent's terminal: {e}"));
                    failed = true;
                }
                if let Some(done) = job.done {
                    let _ = done.send(());
                }
            }
            // Every sender is gone: the session is over. Keep the writer open anyway (dropping it
            // types EOF), until the process exits.
            std::mem::forget(pty);
        })
}

/// Start the keyboard pump: standard input to the writer, unmodified (keys, paste, mouse
/// reports, replies of the real terminal to the agent's queries). At end of input it stops; it
/// never types EOF into the agent.
pub fn spawn_keyboard(jobs: Sender<Job>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("wrap-keyboard".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        if jobs.send(Job::bytes(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        crate::log::warn(&format!("cannot read the keyboard: {e}"));
                        return;
                    }
                }
            }
        })
}
