//! The real terminal: interactive or headless, its size, raw mode, and putting it back.
//!
//! Raw mode is a guard ([`RawMode`]) and a panic hook ([`install_panic_hook`]): whichever runs
//! first restores the terminal (termios, the modes the agent left on, the title), the other does
//! nothing. Signals end the session through the normal path, which drops the guard.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::modes;

/// What kind of terminal we run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tty {
    /// stdin is a terminal and we are in its foreground process group: raw mode, keyboard
    /// pass-through, the real terminal answers the agent's queries.
    pub interactive: bool,
    /// stdin is a terminal (ours or not).
    pub stdin: bool,
    /// stdout is a terminal: our own escape sequences (title, mode resets) may be written.
    pub stdout: bool,
}

impl Tty {
    pub fn probe() -> Tty {
        // SAFETY: isatty, tcgetpgrp and getpgrp only read process and descriptor state.
        let (stdin_tty, stdout_tty, foreground) = unsafe {
            let stdin_tty = libc::isatty(libc::STDIN_FILENO) == 1;
            let foreground = stdin_tty && libc::tcgetpgrp(libc::STDIN_FILENO) == libc::getpgrp();
            (
                stdin_tty,
                libc::isatty(libc::STDOUT_FILENO) == 1,
                foreground,
            )
        };
        STDOUT_TTY.store(stdout_tty, Ordering::Relaxed);
        Tty {
            interactive: stdin_tty && foreground,
            stdin: stdin_tty,
            stdout: stdout_tty,
        }
    }
}

/// The size of the real terminal as (rows, cols), from stdout or stdin; `None` when neither is
/// a terminal or it reports 0x0.
pub fn size() -> Option<(u16, u16)> {
    [libc::STDOUT_FILENO, libc::STDIN_FILENO]
        .into_iter()
        .find_map(|fd| {
            // SAFETY: an all-zero winsize is a valid value to pass to TIOCGWINSZ.
            let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
            // SAFETY: TIOCGWINSZ writes a winsize into the valid local `ws`.
            let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &raw mut ws) };
            (rc == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
        })
}

static STDOUT_TTY: AtomicBool = AtomicBool::new(false);
static RAW: AtomicBool = AtomicBool::new(false);
static TITLE_PUSHED: AtomicBool = AtomicBool::new(false);
static AGENT_GROUP: AtomicI32 = AtomicI32::new(0);

/// The agent's process group, so a panic on one of our threads can stop it.
pub fn note_agent(pgid: i32) {
    AGENT_GROUP.store(pgid, Ordering::Relaxed);
}

/// We pushed the window title (it must be popped on every exit path).
pub fn note_title_pushed(pushed: bool) {
    TITLE_PUSHED.store(pushed, Ordering::Relaxed);
}

/// Raw mode on the real terminal, restored on drop.
pub struct RawMode(());

impl RawMode {
    pub fn enable() -> std::io::Result<RawMode> {
        crossterm::terminal::enable_raw_mode()?;
        RAW.store(true, Ordering::SeqCst);
        Ok(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        leave_raw_mode();
    }
}

fn leave_raw_mode() {
    if RAW.swap(false, Ordering::SeqCst)
        && let Err(e) = crossterm::terminal::disable_raw_mode()
    {
        crate::log::warn(&format!("cannot restore the terminal mode: {e}"));
    }
}

/// Restore everything now, from any thread, without locks on our own state: the modes the
/// agent left on, the title, raw mode. Used by the panic hook.
fn emergency_restore() {
    let mut bytes = modes::take_published().reset_sequence();
    if TITLE_PUSHED.swap(false, Ordering::SeqCst) {
        bytes.extend_from_slice(super::title::POP);
    }
    if STDOUT_TTY.load(Ordering::Relaxed) && !bytes.is_empty() {
        bytes.insert(0, 0x18); // end any half-written escape sequence
        // SAFETY: writes an initialised buffer to fd 1; the result is deliberately ignored.
        let _ = unsafe { libc::write(libc::STDOUT_FILENO, bytes.as_ptr().cast(), bytes.len()) };
    }
    leave_raw_mode();
}

/// Restore the terminal before any panic message is printed.
///
/// - A panic inside the screen model is caught there: it is only logged.
/// - A panic on the main thread restores the terminal, then the usual message is printed and
///   the process unwinds (dropping the raw-mode guard does nothing more).
/// - A panic on one of wrap's own threads (`wrap-*`) leaves the session broken: the terminal
///   is restored, the agent's group gets SIGHUP (as if its terminal closed) and we exit 70.
/// - A panic on a runtime worker (a provider task) is caught by the runtime: only logged, the
///   session goes on.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("");
        if super::screen::in_model() {
            crate::log::warn(&format!("screen model panic (recovered): {info}"));
            return;
        }
        crate::log::warn(&format!("panic on thread {name:?}: {info}"));
        if name != "main" && !name.starts_with("wrap-") {
            return;
        }
        emergency_restore();
        previous(info);
        if name.starts_with("wrap-") {
            let group = AGENT_GROUP.load(Ordering::Relaxed);
            if group > 0 {
                super::pty::signal_group(group, libc::SIGHUP);
            }
            std::process::exit(i32::from(crate::error::code::INTERNAL));
        }
    }));
}
