//! The screen model: a vt100 emulator fed with every output byte, in order, on its own thread.
//!
//! The PTY reader hands chunks over a channel and never waits for the model (unless it falls
//! more than [`BACKLOG_LIMIT`] bytes behind, then the reader waits: the model must see every
//! byte). The thread coalesces whatever has queued up into one parse call.
//!
//! It reports [`Settled`] screens to the bridge: when the output has been quiet for the settle
//! window, or, during continuous output, at most every [`CAP`], so a spinner cannot delay
//! detection forever. It also answers [`Input::Snapshot`] requests (the screen after the next
//! quiet window) for the answer plans.
//!
//! Every `process` call runs under `catch_unwind`: a panic inside vt100 rebuilds the model at the
//! same size and the session carries on. Sizes are clamped to at least 2x2.
//!
//! In headless mode the model also answers the terminal queries agents send at startup (cursor
//! position, status, device attributes) at the exact point in the stream where they were asked,
//! so a cursor position report matches what the agent drew before asking.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::modes::{self, Modes, Scan};
use super::prompt::ScreenView;

/// Continuous output is evaluated at least this often.
pub const CAP: Duration = Duration::from_secs(1);
/// How far the model may fall behind the output before the reader waits for it. The model
/// renders text at roughly the speed the kernel moves it through a PTY, so a huge burst (`cat`
/// of a big file) builds a backlog; below this limit the copy to stdout never waits for it.
pub const BACKLOG_LIMIT: usize = 128 << 20;

/// What the screen thread receives.
pub enum Input {
    /// Agent output, in order.
    Output(Vec<u8>),
    /// The PTY was resized to (rows, cols).
    Resize(u16, u16),
    /// Send the screen once the output has been quiet for the settle window (counted from
    /// this request at the earliest).
    Snapshot(oneshot::Sender<ScreenView>),
    /// No more input: report the final state.
    Finish(oneshot::Sender<Final>),
}

/// The screen after a quiet window (or after [`CAP`] of continuous output).
#[derive(Debug, Clone)]
pub struct Settled {
    pub view: ScreenView,
    /// The output was quiet: the screen is not mid-redraw.
    pub quiet: bool,
    /// The last window title the agent set, if any.
    pub title: Option<String>,
}

/// What the model knew when the session ended.
#[derive(Debug, Clone, Default)]
pub struct Final {
    pub modes: Modes,
    /// The last window title the agent set.
    pub title: Option<String>,
}

/// Byte accounting between the reader (producer) and the screen thread (consumer), and the
/// switch that ends rendering when the session is over.
#[derive(Default)]
pub struct Backlog {
    pending: Mutex<usize>,
    drained: Condvar,
    skip_rendering: AtomicBool,
}

impl Backlog {
    /// The session is ending: output still queued is only scanned for mode switches (the
    /// resets at exit need them), not rendered.
    pub fn skip_rendering(&self) {
        self.skip_rendering.store(true, Ordering::SeqCst);
    }

    /// Count `n` bytes queued; wait while the model is too far behind.
    pub fn add(&self, n: usize) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *pending += n;
        while *pending > BACKLOG_LIMIT {
            pending = self
                .drained
                .wait(pending)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn done(&self, n: usize) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *pending = pending.saturating_sub(n);
        if *pending <= BACKLOG_LIMIT / 2 {
            self.drained.notify_all();
        }
    }
}

thread_local! {
    static IN_MODEL: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is inside a guarded vt100 call (the panic hook stays quiet
/// about those: they are caught and the model is rebuilt).
pub fn in_model() -> bool {
    IN_MODEL.with(Cell::get)
}

/// vt100 callbacks: query answers and the modes vt100 does not track.
#[derive(Default)]
struct Hooks {
    answer_queries: bool,
    replies: Vec<u8>,
    focus_events: bool,
    kitty_depth: u32,
    kitty_flags: bool,
    title: Option<Vec<u8>>,
}

impl vt100::Callbacks for Hooks {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.title = Some(title.to_vec());
    }

    fn unhandled_csi(
        &mut self,
        screen: &mut vt100::Screen,
        i1: Option<u8>,
        i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        let first = params.first().and_then(|p| p.first()).copied();
        match (i1, i2, c) {
            (Some(b'?'), None, 'h' | 'l') if params.iter().any(|p| p.first() == Some(&1004)) => {
                self.focus_events = c == 'h';
            }
            (Some(b'>'), None, 'u') => self.kitty_depth = self.kitty_depth.saturating_add(1),
            (Some(b'<'), None, 'u') => {
                let n = u32::from(first.unwrap_or(1).max(1));
                self.kitty_depth = self.kitty_depth.saturating_sub(n);
                if self.kitty_depth == 0 {
                    self.kitty_flags = false;
                }
            }
            (Some(b'='), None, 'u') => self.kitty_flags = first.unwrap_or(0) != 0,
            _ if !self.answer_queries => {}
            (None, None, 'n') if first == Some(6) => {
                let (rows, cols) = screen.size();
                let (row, col) = screen.cursor_position();
                let row = row.min(rows.saturating_sub(1)) + 1;
                let col = col.min(cols.saturating_sub(1)) + 1;
                self.replies
                    .extend_from_slice(format!("\x1b[{row};{col}R").as_bytes());
            }
            (None, None, 'n') if first == Some(5) => self.replies.extend_from_slice(b"\x1b[0n"),
            (None, None, 'c') if first.unwrap_or(0) == 0 => {
                self.replies.extend_from_slice(b"\x1b[?1;2c");
            }
            (Some(b'>'), None, 'c') if first.unwrap_or(0) == 0 => {
                self.replies.extend_from_slice(b"\x1b[>0;10;1c");
            }
            _ => {}
        }
    }
}

/// The vt100 model with its panic guard.
struct Model {
    parser: vt100::Parser<Hooks>,
}

impl Model {
    fn new(rows: u16, cols: u16, hooks: Hooks) -> Model {
        Model {
            parser: vt100::Parser::new_with_callbacks(rows.max(2), cols.max(2), 0, hooks),
        }
    }

    /// Run `f` on the parser; a panic rebuilds the model (same size, same callbacks state).
    fn guarded(&mut self, what: &str, f: impl FnOnce(&mut vt100::Parser<Hooks>)) {
        IN_MODEL.with(|c| c.set(true));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut self.parser)));
        IN_MODEL.with(|c| c.set(false));
        if result.is_err() {
            crate::log::warn(&format!(
                "the screen model panicked on {what}; it was rebuilt (the screen is blank \
                 until the agent redraws)"
            ));
            let (rows, cols) = self.size();
            let hooks = std::mem::take(self.parser.callbacks_mut());
            *self = Model::new(rows, cols, hooks);
        }
    }

    fn size(&self) -> (u16, u16) {
        let screen = self.parser.screen();
        // size() only reads the grid; it cannot leave the parser half-updated.
        screen.size()
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.guarded("output", |p| p.process(bytes));
    }

    fn resize(&mut self, rows: u16, cols: u16) {
        self.guarded("resize", |p| {
            p.screen_mut().set_size(rows.max(2), cols.max(2));
        });
    }

    fn take_replies(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.parser.callbacks_mut().replies)
    }

    fn view(&self) -> ScreenView {
        let screen = self.parser.screen();
        let (rows, cols) = screen.size();
        ScreenView {
            rows: screen
                .rows(0, cols)
                .map(|r| r.trim_end().to_owned())
                .collect(),
            cursor: screen.cursor_position(),
            size: (rows, cols),
            bracketed_paste: screen.bracketed_paste(),
            application_cursor: screen.application_cursor(),
            alternate_screen: screen.alternate_screen(),
        }
    }

    fn modes(&self) -> Modes {
        let screen = self.parser.screen();
        let hooks = self.parser.callbacks();
        let mut modes = Modes::default();
        let mut set = |on: bool, mode: Modes| {
            if on {
                modes.insert(mode);
            }
        };
        set(screen.alternate_screen(), Modes::ALTERNATE_SCREEN);
        set(screen.hide_cursor(), Modes::HIDDEN_CURSOR);
        set(screen.bracketed_paste(), Modes::BRACKETED_PASTE);
        set(
            screen.mouse_protocol_mode() != vt100::MouseProtocolMode::None
                || screen.mouse_protocol_encoding() != vt100::MouseProtocolEncoding::Default,
            Modes::MOUSE,
        );
        set(screen.application_cursor(), Modes::APPLICATION_CURSOR);
        set(screen.application_keypad(), Modes::APPLICATION_KEYPAD);
        set(hooks.focus_events, Modes::FOCUS_EVENTS);
        set(
            hooks.kitty_depth > 0 || hooks.kitty_flags,
            Modes::KITTY_KEYBOARD,
        );
        set(
            screen.fgcolor() != vt100::Color::Default
                || screen.bgcolor() != vt100::Color::Default
                || screen.bold()
                || screen.italic()
                || screen.underline()
                || screen.inverse(),
            Modes::ATTRIBUTES,
        );
        modes
    }

    fn finish(&self) -> Final {
        Final {
            modes: self.modes(),
            title: self
                .parser
                .callbacks()
                .title
                .as_ref()
                .map(|t| String::from_utf8_lossy(t).into_owned()),
        }
    }
}

/// Where the screen thread sends its results.
pub struct Sinks {
    pub settled: mpsc::UnboundedSender<Settled>,
    /// Replies to terminal queries, for the PTY writer (headless mode only).
    pub replies: Option<std::sync::mpsc::Sender<super::writer::Job>>,
}

/// Start the screen thread.
pub fn spawn(
    size: (u16, u16),
    settle: Duration,
    input: Receiver<Input>,
    backlog: Arc<Backlog>,
    sinks: Sinks,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("wrap-screen".into())
        .spawn(move || run(size, settle, &input, &backlog, &sinks))
}

fn run(
    (rows, cols): (u16, u16),
    settle: Duration,
    input: &Receiver<Input>,
    backlog: &Backlog,
    sinks: &Sinks,
) {
    let hooks = Hooks {
        answer_queries: sinks.replies.is_some(),
        ..Hooks::default()
    };
    let mut model = Model::new(rows, cols, hooks);
    let mut last_activity = Instant::now();
    // Output not yet reported, and when it started.
    let mut dirty_since: Option<Instant> = None;
    let mut waiters: Vec<(Instant, oneshot::Sender<ScreenView>)> = Vec::new();
    let mut published = Modes::default();
    let mut scan: Option<Scan> = None;

    loop {
        let now = Instant::now();
        let timeout = if dirty_since.is_none() && waiters.is_empty() {
            Duration::from_secs(3600)
        } else {
            let quiet_at = last_activity + settle;
            let waiter_at = waiters.iter().map(|(asked, _)| *asked + settle).min();
            let cap_at = dirty_since.map(|t| t + CAP);
            [Some(quiet_at), waiter_at, cap_at]
                .into_iter()
                .flatten()
                .filter(|t| *t > now)
                .min()
                .map_or(Duration::ZERO, |t| t - now)
        };
        match input.recv_timeout(timeout) {
            Ok(Input::Output(bytes)) => {
                // Coalesce: take everything already queued (in order) into one pass.
                let mut batch = bytes;
                let mut pending_other = None;
                while let Ok(next) = input.try_recv() {
                    match next {
                        Input::Output(more) => batch.extend_from_slice(&more),
                        other => {
                            pending_other = Some(other);
                            break;
                        }
                    }
                    if batch.len() >= 1 << 20 {
                        break;
                    }
                }
                if backlog.skip_rendering.load(Ordering::SeqCst) {
                    scan.get_or_insert_with(|| Scan::new(model.modes()))
                        .feed(&batch);
                } else {
                    feed(&mut model, &batch, sinks);
                }
                backlog.done(batch.len());
                last_activity = Instant::now();
                dirty_since.get_or_insert(last_activity);
                if let Some(other) = pending_other
                    && !handle_other(
                        other,
                        &mut model,
                        scan.as_ref(),
                        &mut waiters,
                        &mut last_activity,
                        &mut dirty_since,
                    )
                {
                    return;
                }
                let now_on = model.modes();
                if now_on != published {
                    published = now_on;
                    modes::publish(now_on);
                }
            }
            Ok(other) => {
                if !handle_other(
                    other,
                    &mut model,
                    scan.as_ref(),
                    &mut waiters,
                    &mut last_activity,
                    &mut dirty_since,
                ) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }

        let now = Instant::now();
        let quiet = now.duration_since(last_activity) >= settle;
        if let Some(since) = dirty_since
            && (quiet || now.duration_since(since) >= CAP)
        {
            let view = model.view();
            dirty_since = if quiet { None } else { Some(now) };
            let title = model.finish().title;
            let _ = sinks.settled.send(Settled { view, quiet, title });
        }
        if !waiters.is_empty() {
            let ready = |asked: &Instant| {
                (quiet && now.duration_since(*asked) >= settle) || now.duration_since(*asked) >= CAP
            };
            if waiters.iter().any(|(asked, _)| ready(asked)) {
                let view = model.view();
                let (done, wait): (Vec<_>, Vec<_>) =
                    waiters.drain(..).partition(|(asked, _)| ready(asked));
                waiters = wait;
                for (_, tx) in done {
                    let _ = tx.send(view.clone());
                }
            }
        }
    }
}

/// Feed one batch. In headless mode the callbacks answer each query as the parser reaches it,
/// so each reply reflects the screen at that point; the replies go to the PTY writer.
fn feed(model: &mut Model, bytes: &[u8], sinks: &Sinks) {
    model.feed(bytes);
    if let Some(replies) = &sinks.replies {
        let answer = model.take_replies();
        if !answer.is_empty() {
            let _ = replies.send(super::writer::Job::bytes(answer));
        }
    }
}

/// Handle a non-output input; false when the thread should stop.
fn handle_other(
    input: Input,
    model: &mut Model,
    scan: Option<&Scan>,
    waiters: &mut Vec<(Instant, oneshot::Sender<ScreenView>)>,
    last_activity: &mut Instant,
    dirty_since: &mut Option<Instant>,
) -> bool {
    match input {
        Input::Output(_) => unreachable!("output is handled by the caller"),
        Input::Resize(rows, cols) => {
            model.resize(rows, cols);
            *last_activity = Instant::now();
            dirty_since.get_or_insert(*last_activity);
        }
        Input::Snapshot(tx) => waiters.push((Instant::now(), tx)),
        Input::Finish(tx) => {
            let mut last = model.finish();
            if let Some(scan) = scan {
                last.modes = scan.modes();
            }
            let _ = tx.send(last);
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(headless: bool) -> Model {
        Model::new(
            5,
            20,
            Hooks {
                answer_queries: headless,
                ..Hooks::default()
            },
        )
    }

    #[test]
    fn view_rows_are_trimmed_and_cursor_reported() {
        let mut m = model(false);
        m.feed(b"hello   \r\nworld? [y/n] ");
        let view = m.view();
        assert_eq!(view.rows[0], "hello");
        assert_eq!(view.rows[1], "world? [y/n]");
        assert_eq!(view.cursor, (1, 13));
        assert_eq!(view.size, (5, 20));
        assert!(!view.alternate_screen);
    }

    #[test]
    fn queries_are_answered_at_their_place_in_the_stream() {
        let mut m = model(true);
        m.feed(b"abc\x1b[6n\r\nxy\x1b[6n\x1b[5n\x1b[c");
        assert_eq!(m.take_replies(), b"\x1b[1;4R\x1b[2;3R\x1b[0n\x1b[?1;2c");
        let mut interactive = model(false);
        interactive.feed(b"\x1b[6n\x1b[c");
        assert!(interactive.take_replies().is_empty());
    }

    #[test]
    fn modes_left_on_are_tracked() {
        let mut m = model(false);
        m.feed(b"\x1b[?1049h\x1b[?25l\x1b[?2004h\x1b[?1000h\x1b[?1006h\x1b[?1004h\x1b[>1u\x1b[1m");
        let modes = m.modes();
        for mode in [
            Modes::ALTERNATE_SCREEN,
            Modes::HIDDEN_CURSOR,
            Modes::BRACKETED_PASTE,
            Modes::MOUSE,
            Modes::FOCUS_EVENTS,
            Modes::KITTY_KEYBOARD,
            Modes::ATTRIBUTES,
        ] {
            assert!(modes.contains(mode), "{mode:?} in {modes:?}");
        }
        m.feed(b"\x1b[<u\x1b[?1004l\x1b[?1000l\x1b[?1006l\x1b[?2004l\x1b[?25h\x1b[?1049l\x1b[0m");
        assert_eq!(m.modes(), Modes::default());
    }

    #[test]
    fn tiny_sizes_are_clamped() {
        let mut m = Model::new(0, 0, Hooks::default());
        m.feed(b"abcdef\r\n\r\n\r\n");
        assert_eq!(m.view().size, (2, 2));
        m.resize(0, 1);
        assert_eq!(m.view().size, (2, 2));
    }
}
