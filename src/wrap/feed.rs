//! The screen model's input: a bounded byte queue from the PTY reader to the screen thread.
//!
//! The reader appends every chunk (one lock, one copy, no allocation once the buffers have
//! grown) and goes back to the PTY; the screen thread takes everything queued in one swap. At
//! most [`LIMIT`] bytes wait: past that the reader waits for the screen thread (the model must
//! see every byte), which keeps memory flat however much the agent writes. In practice the
//! reader seldom waits: the screen thread renders only the part of a large batch that can
//! still be on the screen at its end ([`super::skim`]).
//!
//! Wake-ups: the reader rings the screen thread's doorbell ([`Push::Ring`]) for the first bytes
//! after the thread went idle, and, while output keeps coming (a flood), only once
//! [`WAKE`] bytes are queued; in between the screen thread takes a batch every few
//! milliseconds on its own. A flood thus costs the model a few hundred batches a second, not
//! one per PTY read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// The most bytes that may wait for the screen thread before the reader waits.
pub const LIMIT: usize = 512 << 10;
/// During a flood, the queue length at which the reader rings the screen thread.
pub const WAKE: usize = LIMIT / 2;

/// What the reader must do after a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Nothing: the screen thread will take the bytes on its own.
    Quiet,
    /// Ring the screen thread's doorbell.
    Ring,
    /// The screen thread is gone: the bytes were dropped.
    Closed,
}

#[derive(Default)]
pub struct Feed {
    state: Mutex<State>,
    room: Condvar,
    /// The session is ending: queued output is only scanned for modes, not rendered.
    skip_rendering: AtomicBool,
}

#[derive(Default)]
struct State {
    bytes: Vec<u8>,
    /// Stream offset of the end of `bytes` (every byte ever pushed).
    written: u64,
    /// When the last bytes arrived.
    last: Option<Instant>,
    /// The screen thread waits for any byte (it is idle), rather than for [`WAKE`] bytes.
    idle: bool,
    /// The doorbell rang and the screen thread has not taken the bytes yet.
    rung: bool,
    /// The reader waits for room.
    full: bool,
    closed: bool,
}

impl Feed {
    pub fn new() -> Feed {
        Feed {
            state: Mutex::new(State {
                idle: true,
                ..State::default()
            }),
            ..Feed::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue a chunk of output (the reader). Waits while [`LIMIT`] bytes are queued.
    pub fn push(&self, chunk: &[u8]) -> Push {
        let mut st = self.lock();
        while !st.closed && st.bytes.len() >= LIMIT {
            st.full = true;
            st = self.room.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        if st.closed {
            return Push::Closed;
        }
        st.bytes.extend_from_slice(chunk);
        st.written += chunk.len() as u64;
        st.last = Some(Instant::now());
        if !st.rung && (st.idle || st.bytes.len() >= WAKE) {
            st.rung = true;
            Push::Ring
        } else {
            Push::Quiet
        }
    }

    /// Take the queued bytes up to stream offset `until` (all of them with `None`) into
    /// `into` (cleared first; the two buffers are swapped, so neither is reallocated). Returns
    /// the stream offset of the first byte taken.
    pub fn take(&self, into: &mut Vec<u8>, until: Option<u64>) -> u64 {
        into.clear();
        let mut st = self.lock();
        let start = st.written - st.bytes.len() as u64;
        let keep = until.map_or(0, |at| {
            usize::try_from(st.written.saturating_sub(at))
                .map_or(st.bytes.len(), |k| k.min(st.bytes.len()))
        });
        if keep == 0 {
            std::mem::swap(&mut st.bytes, into);
        } else {
            let cut = st.bytes.len() - keep;
            into.extend_from_slice(&st.bytes[..cut]);
            st.bytes.drain(..cut);
        }
        let full = std::mem::take(&mut st.full);
        drop(st);
        if full {
            self.room.notify_all();
        }
        start
    }

    /// The screen thread is about to wait (after a batch, or woken before the next one was
    /// due): from now on the reader rings for the next byte if nothing is queued (idle), else
    /// once [`WAKE`] bytes are (a flood). Returns the bytes queued.
    ///
    /// Every wait must be armed: a ring the thread answered without taking a batch would
    /// otherwise be the last one until the next batch, and the reader could fill the queue to
    /// [`LIMIT`] and wait for it, which capped a flood at [`LIMIT`] bytes per flood pause.
    pub fn arm(&self) -> usize {
        let mut st = self.lock();
        st.idle = st.bytes.is_empty();
        st.rung = false;
        st.bytes.len()
    }

    /// Bytes queued.
    pub fn pending(&self) -> usize {
        self.lock().bytes.len()
    }

    /// Stream offset of the end of everything pushed so far.
    pub fn written(&self) -> u64 {
        self.lock().written
    }

    /// When the last bytes arrived.
    pub fn last_arrival(&self) -> Option<Instant> {
        self.lock().last
    }

    /// The screen thread is gone: never make the reader wait again.
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.bytes = Vec::new();
        drop(st);
        self.room.notify_all();
    }

    /// The session is ending: queued output is only scanned for mode switches.
    pub fn skip_rendering(&self) {
        self.skip_rendering.store(true, Ordering::SeqCst);
    }

    pub fn rendering_skipped(&self) -> bool {
        self.skip_rendering.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_when_idle_then_only_at_the_wake_mark() {
        let feed = Feed::new();
        assert_eq!(feed.push(b"abc"), Push::Ring);
        assert_eq!(feed.push(b"def"), Push::Quiet, "rung already");
        let mut batch = Vec::new();
        assert_eq!(feed.take(&mut batch, None), 0);
        assert_eq!(batch, b"abcdef");
        assert_eq!(
            feed.push(b"g"),
            Push::Quiet,
            "the thread is busy with the batch and arms the doorbell after it"
        );
        assert_eq!(feed.arm(), 1, "more came during the batch: a flood");
        assert_eq!(feed.push(b"y"), Push::Quiet, "a flood: not at every push");
        assert_eq!(feed.push(&vec![b'x'; WAKE]), Push::Ring, "at the wake mark");
        assert_eq!(feed.take(&mut batch, None), 6);
        assert_eq!(batch.len(), WAKE + 2);
        assert_eq!(feed.arm(), 0);
        assert_eq!(feed.push(b"h"), Push::Ring, "idle again");
        assert_eq!(feed.written(), 6 + 2 + WAKE as u64 + 1);
    }

    #[test]
    fn a_wake_without_a_batch_rings_again_at_the_wake_mark() {
        let feed = Feed::new();
        assert_eq!(feed.arm(), 0, "after a batch, nothing more");
        assert_eq!(feed.push(b"a"), Push::Ring, "the first byte rings");
        // Woken before the next batch is due, the thread waits on.
        assert_eq!(feed.arm(), 1);
        assert_eq!(feed.push(&vec![b'x'; WAKE - 2]), Push::Quiet);
        assert_eq!(feed.push(b"b"), Push::Ring, "at the wake mark");
    }

    #[test]
    fn takes_up_to_an_offset() {
        let feed = Feed::new();
        feed.push(b"0123456789");
        let mut batch = Vec::new();
        assert_eq!(feed.take(&mut batch, Some(4)), 0);
        assert_eq!(batch, b"0123");
        assert_eq!(feed.pending(), 6);
        assert_eq!(
            feed.take(&mut batch, Some(4)),
            4,
            "nothing before offset 4 is left"
        );
        assert!(batch.is_empty());
        assert_eq!(feed.take(&mut batch, None), 4);
        assert_eq!(batch, b"456789");
    }

    #[test]
    fn the_reader_waits_for_room_and_never_after_close() {
        let feed = std::sync::Arc::new(Feed::new());
        feed.push(&vec![0; LIMIT]);
        let reader = {
            let feed = feed.clone();
            std::thread::spawn(move || feed.push(b"more"))
        };
        // The reader is blocked until the screen thread takes the queue.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(feed.pending(), LIMIT);
        let mut batch = Vec::new();
        feed.take(&mut batch, None);
        assert_ne!(reader.join().unwrap(), Push::Closed);
        assert_eq!(feed.pending(), 4);
        feed.close();
        assert_eq!(feed.push(&vec![0; 2 * LIMIT]), Push::Closed);
        assert_eq!(feed.push(b"x"), Push::Closed);
    }
}
