//! The screen model: a vt100 emulator fed with every output byte, in order, on its own thread.
//!
//! The PTY reader queues its chunks in a bounded [`Feed`] and never waits for the model unless
//! [`feed::LIMIT`] bytes are already queued. The thread takes whatever has queued up as one
//! batch; while output keeps coming it takes a batch every [`FLOOD_PAUSE`] (or when
//! [`feed::WAKE`] bytes wait), and it renders only the part of a large batch that can still be
//! on the screen at its end ([`super::skim`]); that part waits, undrawn, until the screen is
//! read, as the next batch of a flood usually skips it too. So a flood costs the model little
//! CPU and memory stays flat, while every byte still reaches it in order.
//!
//! It reports [`Settled`] screens to the bridge: when the output has been quiet for the settle
//! window, or, during continuous output, at most every [`CAP`], so a spinner cannot delay
//! detection forever. It also answers [`Input::Snapshot`] requests (the screen after the next
//! quiet window) and [`Input::Current`] requests (the screen now if it is quiet) for the
//! answer plans.
//!
//! Every `process` call runs under `catch_unwind`: a panic inside vt100 rebuilds the model at the
//! same size and the session carries on. Sizes are clamped to at least 2x2.
//!
//! In headless mode the model also answers the terminal queries agents send at startup (cursor
//! position, status, device attributes) at the exact point in the stream where they were asked,
//! so a cursor position report matches what the agent drew before asking.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SendError, Sender};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::feed::{self, Feed};
use super::modes::{self, Modes, Scan};
use super::prompt::ScreenView;
use super::skim;

/// Continuous output is evaluated at least this often.
pub const CAP: Duration = Duration::from_secs(1);
/// While output keeps coming, the model takes a batch this often (or at [`feed::WAKE`] bytes).
/// Shorter than the shortest settle window, so a quiet screen is never reported late.
pub const FLOOD_PAUSE: Duration = Duration::from_millis(10);

/// What the screen thread receives. Output itself goes through the [`Feed`].
pub enum Input {
    /// Output was queued in the feed (the reader's doorbell).
    Output,
    /// The PTY was resized to (rows, cols) when the feed had `at` bytes: the output before
    /// that offset is rendered at the old size.
    Resize { rows: u16, cols: u16, at: u64 },
    /// Send the screen once the output has been quiet for the settle window (counted from
    /// this request at the earliest).
    Snapshot(oneshot::Sender<ScreenView>),
    /// Send the screen now if the output has been quiet for the settle window already,
    /// else like [`Input::Snapshot`].
    Current(oneshot::Sender<ScreenView>),
    /// No more input: report the final state.
    Finish(oneshot::Sender<Final>),
}

/// The screen thread's inputs, for the bridge and the session.
#[derive(Clone)]
pub struct Handle {
    tx: Sender<Input>,
    feed: Arc<Feed>,
}

impl Handle {
    pub fn new(tx: Sender<Input>, feed: Arc<Feed>) -> Handle {
        Handle { tx, feed }
    }

    pub fn send(&self, input: Input) -> Result<(), SendError<Input>> {
        self.tx.send(input)
    }

    /// The PTY was just resized: the output read from now on is drawn at the new size.
    pub fn resize(&self, rows: u16, cols: u16) {
        let at = self.feed.written();
        let _ = self.tx.send(Input::Resize { rows, cols, at });
    }

    /// The session is ending: queued output is only scanned for mode switches.
    pub fn skip_rendering(&self) {
        self.feed.skip_rendering();
    }
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

thread_local! {
    static IN_MODEL: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is inside a guarded vt100 call (the panic hook stays quiet
/// about those: they are caught and the model is rebuilt).
pub fn in_model() -> bool {
    IN_MODEL.with(Cell::get)
}

/// vt100 callbacks: query answers and the modes vt100 does not track.
///
/// Skimming ([`super::skim`]) relies on plain text, C0 controls and SGR having no effect here:
/// do not implement `print`-side callbacks (`unhandled_char`, `unhandled_control`,
/// `audible_bell`) without revisiting it.
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
    /// The parser's state (ground or inside a sequence), for skimming.
    tracker: super::vt::Tracker,
    /// The end of the last skimmed batch, not drawn yet: text and known sequences that end in
    /// ground state ([`skim::Skip::plain_rest`]). During a flood the next batch usually skims past it, so
    /// it is drawn only when the screen is read ([`Model::flush`]) or a batch is not skimmed.
    carry: Vec<u8>,
    /// Whether a line feed on the bottom row scrolls the whole screen, as last probed. Only
    /// drawn bytes and resizes can change that (skimmed and carried bytes cannot).
    scrolls: Option<bool>,
    /// Bytes skimmed rather than rendered, and batches skimmed.
    skimmed: (u64, u64),
    /// Times vt100 panicked and the model was rebuilt.
    rebuilt: u64,
}

impl Model {
    fn new(rows: u16, cols: u16, hooks: Hooks) -> Model {
        Model {
            parser: vt100::Parser::new_with_callbacks(rows.max(2), cols.max(2), 0, hooks),
            tracker: super::vt::Tracker::default(),
            carry: Vec::new(),
            scrolls: None,
            skimmed: (0, 0),
            rebuilt: 0,
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
            let (skimmed, rebuilt) = (self.skimmed, self.rebuilt);
            *self = Model::new(rows, cols, hooks);
            self.skimmed = skimmed;
            self.rebuilt = rebuilt + 1;
        }
    }

    fn size(&self) -> (u16, u16) {
        let screen = self.parser.screen();
        // size() only reads the grid; it cannot leave the parser half-updated.
        screen.size()
    }

    /// Render `bytes`, skimming a large batch (see [`super::skim`]).
    fn feed(&mut self, bytes: &[u8]) {
        // A batch often starts inside the escape sequence the last one ended in (a PTY read
        // cut it): render up to its end, and skim from there.
        let head = self.tracker.to_ground(bytes);
        if head > 0 {
            self.render(&bytes[..head]);
        }
        let bytes = &bytes[head..];
        if bytes.is_empty() {
            return;
        }
        if self.tracker.ground()
            && let Some(skip) = skim::plan(bytes, self.size().0)
            && self.scrolls_whole_screen()
        {
            // What was carried is skipped too: only its colours count.
            if !self.carry.is_empty() {
                self.skimmed.0 += self.carry.len() as u64;
                let replay = skim::replay(&self.carry);
                self.carry.clear();
                self.guarded("output", |p| p.process(&replay));
            }
            self.skimmed.0 += skip.cut as u64;
            self.skimmed.1 += 1;
            // The replay and the skipped head both end in ground state, where the rest starts.
            self.guarded("output", |p| p.process(&skip.replay));
            let rest = &bytes[skip.cut..];
            if skip.plain_rest {
                self.carry.extend_from_slice(rest);
            } else {
                self.render(rest);
            }
        } else {
            self.render(bytes);
        }
    }

    /// Render every byte (after what was carried).
    fn render(&mut self, bytes: &[u8]) {
        self.flush();
        self.tracker.advance(bytes);
        self.scrolls = None;
        self.guarded("output", |p| p.process(bytes));
    }

    /// Draw what was carried: the screen is about to be read, or a batch follows that is not
    /// skimmed.
    fn flush(&mut self) {
        if self.carry.is_empty() {
            return;
        }
        let carried = std::mem::take(&mut self.carry);
        self.guarded("output", |p| p.process(&carried));
        self.carry = carried;
        self.carry.clear();
    }

    /// Whether a line feed on the bottom row scrolls the whole screen (no scroll region), tried
    /// on a copy of the screen once after each change that could alter it.
    fn scrolls_whole_screen(&mut self) -> bool {
        if let Some(scrolls) = self.scrolls {
            return scrolls;
        }
        let scrolls = self.probe_scrolling();
        self.scrolls = Some(scrolls);
        scrolls
    }

    fn probe_scrolling(&self) -> bool {
        let screen = self.parser.screen();
        let (rows, cols) = screen.size();
        std::panic::catch_unwind(|| {
            let mut probe = vt100::Parser::new(rows, cols, 0);
            *probe.screen_mut() = screen.clone();
            // Origin mode off; A on the top row, B on the next; a line feed on the bottom row.
            probe.process(b"\x1b[?6l\x1b[1;1HA\x1b[2;1HB\x1b[9999;1H\n");
            probe
                .screen()
                .cell(0, 0)
                .is_some_and(|c| c.contents() == "B")
        })
        .unwrap_or(false)
    }

    fn resize(&mut self, rows: u16, cols: u16) {
        self.flush();
        self.scrolls = None;
        self.guarded("resize", |p| {
            p.screen_mut().set_size(rows.max(2), cols.max(2));
        });
    }

    fn take_replies(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.parser.callbacks_mut().replies)
    }

    fn view(&mut self) -> ScreenView {
        self.flush();
        ScreenView::of(self.parser.screen())
    }

    /// The modes left on. While output is carried (not drawn yet) and has escape sequences,
    /// the attributes count as set: a needless reset at the end is harmless, a missing one
    /// is not.
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
            memchr::memchr(0x1b, &self.carry).is_some()
                || screen.fgcolor() != vt100::Color::Default
                || screen.bgcolor() != vt100::Color::Default
                || screen.bold()
                || screen.italic()
                || screen.underline()
                || screen.inverse(),
            Modes::ATTRIBUTES,
        );
        modes
    }

    fn finish(&mut self) -> Final {
        self.flush();
        Final {
            modes: self.modes(),
            title: self.title(),
        }
    }

    /// The last window title the agent set.
    fn title(&self) -> Option<String> {
        self.parser
            .callbacks()
            .title
            .as_ref()
            .map(|t| String::from_utf8_lossy(t).into_owned())
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
    feed: Arc<Feed>,
    sinks: Sinks,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("wrap-screen".into())
        .spawn(move || {
            // However the thread ends, the reader must never wait for it again.
            struct Close(Arc<Feed>);
            impl Drop for Close {
                fn drop(&mut self) {
                    self.0.close();
                }
            }
            let close = Close(feed);
            Thread::new(size, settle, &close.0, &sinks).run(&input);
        })
}

/// A request for the screen: when it was asked, whether a screen already quiet will do.
struct Waiter {
    asked: Instant,
    current: bool,
    tx: oneshot::Sender<ScreenView>,
}

/// The screen thread's state.
struct Thread<'a> {
    model: Model,
    feed: &'a Feed,
    sinks: &'a Sinks,
    settle: Duration,
    batch: Vec<u8>,
    /// The output after the session ended, scanned for modes only.
    scan: Option<Scan>,
    /// The screen changed since it was last reported, since then.
    dirty_since: Option<Instant>,
    /// The last resize (activity like output).
    resized_at: Option<Instant>,
    /// During a flood: when to take the next batch.
    next_batch: Option<Instant>,
    waiters: Vec<Waiter>,
    published: Modes,
}

impl<'a> Thread<'a> {
    fn new(
        (rows, cols): (u16, u16),
        settle: Duration,
        feed: &'a Feed,
        sinks: &'a Sinks,
    ) -> Thread<'a> {
        let hooks = Hooks {
            answer_queries: sinks.replies.is_some(),
            ..Hooks::default()
        };
        Thread {
            model: Model::new(rows, cols, hooks),
            feed,
            sinks,
            settle,
            batch: Vec::new(),
            scan: None,
            dirty_since: None,
            resized_at: None,
            next_batch: None,
            waiters: Vec::new(),
            published: Modes::default(),
        }
    }

    /// The last output or resize.
    fn last_activity(&self) -> Option<Instant> {
        self.feed.last_arrival().max(self.resized_at)
    }

    fn quiet(&self, now: Instant) -> bool {
        self.feed.pending() == 0
            && self
                .last_activity()
                .is_none_or(|t| now.duration_since(t) >= self.settle)
    }

    /// How long to wait for input before something is due.
    fn timeout(&self, now: Instant) -> Duration {
        let pending = self.feed.pending();
        if pending >= feed::WAKE {
            // The reader may be waiting for room and will not ring again.
            return Duration::ZERO;
        }
        let mut due: Vec<Instant> = Vec::new();
        if pending > 0 {
            due.push(self.next_batch.unwrap_or(now));
        }
        if self.dirty_since.is_some() || !self.waiters.is_empty() {
            if let Some(t) = self.last_activity() {
                due.push(t + self.settle);
            }
            due.extend(self.dirty_since.map(|t| t + CAP));
            due.extend(
                self.waiters
                    .iter()
                    .flat_map(|w| [w.asked + self.settle, w.asked + CAP]),
            );
        }
        due.into_iter().filter(|t| *t > now).min().map_or(
            if self.dirty_since.is_none() && self.waiters.is_empty() && pending == 0 {
                Duration::from_secs(3600)
            } else {
                Duration::ZERO
            },
            |t| t - now,
        )
    }

    fn run(mut self, input: &Receiver<Input>) {
        loop {
            let timeout = self.timeout(Instant::now());
            match input.recv_timeout(timeout) {
                Ok(Input::Output) | Err(RecvTimeoutError::Timeout) => {}
                Ok(Input::Resize { rows, cols, at }) => {
                    self.take(Some(at));
                    self.model.resize(rows, cols);
                    let now = Instant::now();
                    self.resized_at = Some(now);
                    self.dirty_since.get_or_insert(now);
                }
                Ok(Input::Snapshot(tx)) => self.waiters.push(Waiter {
                    asked: Instant::now(),
                    current: false,
                    tx,
                }),
                Ok(Input::Current(tx)) => self.waiters.push(Waiter {
                    asked: Instant::now(),
                    current: true,
                    tx,
                }),
                Ok(Input::Finish(tx)) => {
                    self.take(None);
                    let mut last = self.model.finish();
                    if let Some(scan) = &self.scan {
                        last.modes = scan.modes();
                    }
                    crate::log::info(&format!(
                        "screen model: {} bytes in {} batches skimmed",
                        self.model.skimmed.0, self.model.skimmed.1
                    ));
                    let _ = tx.send(last);
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = Instant::now();
            // Not due yet (woken by the first bytes of a flood, or for a report): the reader
            // must ring again at the wake mark.
            if self.next_batch.is_none_or(|t| now >= t) || self.feed.arm() >= feed::WAKE {
                self.take(None);
            }
            self.report(Instant::now());
        }
    }

    /// Take and render (or, at the end of the session, scan) what is queued, up to `until`.
    fn take(&mut self, until: Option<u64>) {
        let mut batch = std::mem::take(&mut self.batch);
        self.feed.take(&mut batch, until);
        let took = !batch.is_empty();
        if took {
            if self.feed.rendering_skipped() {
                let model = &mut self.model;
                self.scan
                    .get_or_insert_with(|| {
                        model.flush();
                        Scan::new(model.modes())
                    })
                    .feed(&batch);
            } else {
                feed(&mut self.model, &batch, self.sinks);
            }
            self.dirty_since.get_or_insert_with(Instant::now);
            let now_on = self.model.modes();
            if now_on != self.published {
                self.published = now_on;
                modes::publish(now_on);
            }
        }
        self.batch = batch;
        // After output, the next batch waits a little: in a flood it then holds many PTY reads
        // (big enough to skim, one wake-up for all of them) instead of one read each, rendered
        // in full. Bytes are judged by when they arrived, so a prompt is not seen later.
        let queued = self.feed.arm();
        self.next_batch = (took || queued > 0).then(|| Instant::now() + FLOOD_PAUSE);
    }

    /// Report a settled screen and answer the waiters that are due.
    fn report(&mut self, now: Instant) {
        let quiet = self.quiet(now);
        if let Some(since) = self.dirty_since
            && (quiet || now.duration_since(since) >= CAP)
        {
            let view = self.model.view();
            self.dirty_since = if quiet { None } else { Some(now) };
            let title = self.model.title();
            let _ = self.sinks.settled.send(Settled { view, quiet, title });
        }
        if self.waiters.is_empty() {
            return;
        }
        let settle = self.settle;
        let ready = |w: &Waiter| {
            let waited = now.duration_since(w.asked);
            (quiet && (w.current || waited >= settle)) || waited >= CAP
        };
        if self.waiters.iter().any(ready) {
            let view = self.model.view();
            let (done, wait): (Vec<_>, Vec<_>) = self.waiters.drain(..).partition(ready);
            self.waiters = wait;
            for w in done {
                let _ = w.tx.send(view.clone());
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

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod fuzz;

#[cfg(test)]
mod tests;
