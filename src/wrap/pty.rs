//! The agent under a pseudo-terminal (portable-pty).
//!
//! The slave side is closed in our process right after the spawn, so the agent's exit is the
//! only thing that keeps it open. The agent is a session leader (portable-pty calls `setsid`),
//! so its process id is its process group id: signals go to the whole group.

use std::ffi::OsString;
use std::io::{Read, Write};

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};

use crate::error::Error;

/// A running agent.
pub struct Agent {
    pub master: Box<dyn MasterPty + Send>,
    /// The agent's process id (and process group id).
    pub pid: i32,
    // Kept so nothing reaps or closes behind our back; the exit is collected with waitpid.
    _child: Box<dyn portable_pty::Child + Send + Sync>,
}

/// What `spawn` hands out: the agent, a reader and the (only) writer of its terminal.
pub struct Spawned {
    pub agent: Agent,
    pub reader: Box<dyn Read + Send>,
    pub writer: Box<dyn Write + Send>,
}

/// Start `command` under a new PTY of `size` (rows, cols).
pub fn spawn(
    command: &[OsString],
    (rows, cols): (u16, u16),
    headless: bool,
) -> Result<Spawned, Error> {
    let pty_error = |what: &str, e: &dyn std::fmt::Display| {
        Error::Os(format!("cannot {what} the pseudo-terminal: {e}"))
    };
    let pair = native_pty_system()
        .openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|e| pty_error("open", &e))?;

    let mut cmd = CommandBuilder::from_argv(command.to_vec());
    if let Ok(dir) = std::env::current_dir() {
        cmd.cwd(dir);
    }
    // Under systemd or cron TERM is often unset: agents then draw nothing useful.
    if headless && std::env::var_os("TERM").is_none_or(|t| t.is_empty()) {
        cmd.env("TERM", "xterm-256color");
    }
    let child = pair.slave.spawn_command(cmd).map_err(|e| {
        Error::Agent(format!(
            "cannot start {}: {e}",
            command[0].to_string_lossy()
        ))
    })?;
    // Close our copy of the slave: the agent's exit must be able to end the session.
    drop(pair.slave);
    let pid = child
        .process_id()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| Error::Os("the agent has no process id".into()))?;
    let master = pair.master;
    let reader = master
        .try_clone_reader()
        .map_err(|e| pty_error("read", &e))?;
    let writer = master.take_writer().map_err(|e| pty_error("write", &e))?;
    Ok(Spawned {
        agent: Agent {
            master,
            pid,
            _child: child,
        },
        reader,
        writer,
    })
}

impl Agent {
    /// Resize the PTY (the kernel sends SIGWINCH to the agent).
    pub fn resize(&self, (rows, cols): (u16, u16)) {
        let size = PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        };
        if let Err(e) = self.master.resize(size) {
            crate::log::warn(&format!("cannot resize the agent's terminal: {e}"));
        }
    }
}

/// Send `signal` to the agent's process group.
pub fn signal_group(pgid: i32, signal: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    let rc = unsafe { libc::kill(-pgid, signal) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            crate::log::warn(&format!("cannot signal the agent's process group: {e}"));
        }
    }
}

/// Wait for the agent on a thread; the result is its exit code (128+N for signal N).
pub fn wait_thread(pid: i32) -> std::io::Result<tokio::sync::oneshot::Receiver<u8>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("wrap-wait".into())
        .spawn(move || {
            let code = loop {
                let mut status = 0;
                // SAFETY: waitpid writes the status into a valid local integer.
                let rc = unsafe { libc::waitpid(pid, &raw mut status, 0) };
                if rc == pid {
                    if libc::WIFEXITED(status) {
                        break u8::try_from(libc::WEXITSTATUS(status) & 0xff).unwrap_or(1);
                    }
                    if libc::WIFSIGNALED(status) {
                        break u8::try_from(128 + libc::WTERMSIG(status)).unwrap_or(255);
                    }
                    continue; // stopped or continued: keep waiting
                }
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    crate::log::warn(&format!("cannot wait for the agent: {e}"));
                    break crate::error::code::INTERNAL;
                }
            };
            let _ = tx.send(code);
        })?;
    Ok(rx)
}
