//! Signals that withdraw a pending request: SIGINT, SIGTERM, SIGHUP.

use tokio::signal::unix::{SignalKind, signal};

/// Which signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Interrupt,
    Terminate,
    HangUp,
}

impl Stop {
    /// The conventional exit code: 128 + the signal number.
    pub fn exit_code(self) -> u8 {
        match self {
            Stop::Interrupt => crate::error::code::SIGINT,
            Stop::Terminate => crate::error::code::SIGTERM,
            Stop::HangUp => crate::error::code::SIGHUP,
        }
    }
}

/// Listen for the stop signals now (so none is missed), and return a future for the first.
pub fn stop_signals() -> std::io::Result<impl Future<Output = Stop>> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => Stop::Interrupt,
            _ = term.recv() => Stop::Terminate,
            _ = hup.recv() => Stop::HangUp,
        }
    })
}
