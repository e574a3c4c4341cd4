//! The one owner of our standard output: the agent's bytes, unmodified, plus the few bytes of
//! our own (the terminal title while an approval is pending, and the mode resets at the end).
//!
//! The PTY reader thread writes every chunk here on the hot path: one uncontended lock, one
//! `write(2)`, and a scan of the chunk's tail that tracks whether the stream stands between
//! escape sequences and between UTF-8 characters. Our own bytes are written only at such a
//! boundary; otherwise they wait for the next chunk that ends at one. So an injected title can
//! never split an agent's escape sequence or character.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;

use super::vt::Tracker;

/// Standard output, shared by the PTY reader and the bridge.
pub struct Output {
    inner: Mutex<Inner>,
}

struct Inner {
    /// `None` once stdout failed (closed pipe): the agent keeps running, its output is dropped.
    file: Option<File>,
    boundary: Boundary,
    deferred: Vec<u8>,
    closed: bool,
}

impl Output {
    /// Our standard output (a duplicate of fd 1, written with plain `write(2)`, no buffering).
    pub fn stdout() -> std::io::Result<Output> {
        let fd: OwnedFd = std::io::stdout().as_fd().try_clone_to_owned()?;
        Ok(Output::new(File::from(fd)))
    }

    pub fn new(file: File) -> Output {
        Output {
            inner: Mutex::new(Inner {
                file: Some(file),
                boundary: Boundary::default(),
                deferred: Vec::new(),
                closed: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Write a chunk of the agent's output (the hot path).
    pub fn agent(&self, bytes: &[u8]) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        inner.write(bytes);
        inner.boundary.advance(bytes);
        if inner.boundary.at_rest() && !inner.deferred.is_empty() {
            let deferred = std::mem::take(&mut inner.deferred);
            inner.write(&deferred);
        }
    }

    /// Write bytes of our own as soon as the stream is at a boundary.
    pub fn inject(&self, bytes: &[u8]) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        if inner.boundary.at_rest() {
            inner.write(bytes);
        } else {
            inner.deferred.extend_from_slice(bytes);
        }
    }

    /// Write what is still deferred and `trailer`, then drop any later agent output: the
    /// session is over. If the agent's last bytes stopped inside an escape sequence, a CAN
    /// (`0x18`) ends it first so the trailer is read as intended.
    pub fn close(&self, trailer: &[u8]) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        let mut last = Vec::new();
        if !inner.boundary.at_rest() && (!inner.deferred.is_empty() || !trailer.is_empty()) {
            last.push(0x18);
        }
        last.append(&mut inner.deferred);
        last.extend_from_slice(trailer);
        if !last.is_empty() {
            inner.write(&last);
        }
        inner.closed = true;
    }
}

impl Inner {
    fn write(&mut self, bytes: &[u8]) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if let Err(e) = file.write_all(bytes) {
            crate::log::warn(&format!(
                "cannot write to standard output ({e}); the agent's output is dropped from now on"
            ));
            self.file = None;
        }
    }
}

/// Tracks whether a byte stream ends at a place where other bytes may be inserted: in ground
/// state, as vte's parser would be, and not inside a UTF-8 character.
#[derive(Debug, Default, Clone)]
pub struct Boundary {
    vt: Tracker,
    /// The stream ends inside a UTF-8 character.
    split_char: bool,
}

impl Boundary {
    pub fn at_rest(&self) -> bool {
        self.vt.ground() && !self.split_char
    }

    pub fn advance(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.vt.advance(bytes);
        self.split_char = self.vt.ground() && ends_inside_char(bytes);
    }
}

/// Whether `bytes` ends with an incomplete UTF-8 sequence.
fn ends_inside_char(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(3)..];
    for (i, &b) in tail.iter().enumerate().rev() {
        let have = tail.len() - i;
        let need = match b {
            0x80..=0xbf => continue,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => return false,
        };
        return have < need;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest_after(chunks: &[&[u8]]) -> bool {
        let mut b = Boundary::default();
        for c in chunks {
            b.advance(c);
        }
        b.at_rest()
    }

    #[test]
    fn boundaries() {
        assert!(rest_after(&[b"plain text\r\n"]));
        assert!(!rest_after(&[b"text \x1b[3"]));
        assert!(rest_after(&[b"text \x1b[3", b"1mred"]));
        assert!(!rest_after(&[b"\x1b]2;title"]));
        assert!(!rest_after(&[b"\x1b]2;title", b" more"]));
        assert!(rest_after(&[b"\x1b]2;title", b" more\x07x"]));
        assert!(rest_after(&[b"\x1b]2;title\x1b\\"]));
        assert!(rest_after(&[b"\x1b7\x1b(B"]));
        assert!(!rest_after(&[b"caf\xc3"]));
        assert!(rest_after(&[b"caf\xc3", b"\xa9"]));
        assert!(!rest_after(&[b"\xe2\x9d"]));
        assert!(rest_after(&[b"\xe2\x9d\xaf"]));
        assert!(rest_after(&[b"\x1b[?2004h\xe2\x9d\xaf 1. Yes"]));
    }

    #[test]
    fn injected_bytes_wait_for_a_boundary() {
        let path = tempfile::NamedTempFile::new().unwrap();
        let out = Output::new(path.reopen().unwrap());
        out.agent(b"a\x1b[3");
        out.inject(b"<T>");
        out.agent(b"1m");
        out.inject(b"<U>");
        out.agent(b"\x1b]0;x");
        out.close(b"<END>");
        out.agent(b"late");
        let written = std::fs::read(path.path()).unwrap();
        assert_eq!(written, b"a\x1b[31m<T><U>\x1b]0;x\x18<END>");
    }
}
