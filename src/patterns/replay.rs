//! Screens to test patterns on, without running an agent: plain-text screen dumps, and raw
//! PTY recordings replayed through the vt100 screen model.
//!
//! # Where a recording is evaluated
//!
//! The live bridge evaluates patterns when the output goes quiet. A raw recording has no
//! timing, so quiet points are guessed from what terminal programs do when they finish
//! drawing a frame and wait for input:
//!
//! - right after `ESC[?25h` (show cursor): TUIs hide the cursor while drawing and show it
//!   when the frame is done (prompt_toolkit, Ink);
//! - right after `ESC[?2026l` (end of a synchronized update);
//! - right before `ESC[6n` (a cursor-position query: the program is about to read input);
//! - every [`CHUNK`] bytes, so a program that does none of these is still looked at;
//! - at the end of the recording.
//!
//! Evaluating at a few extra points is harmless (the detector is edge-triggered by
//! fingerprint); missing the one quiet point at a prompt is not, hence the generous list.

use std::panic::{AssertUnwindSafe, catch_unwind};

use unicode_width::UnicodeWidthStr;

use crate::wrap::prompt::ScreenView;

/// Evaluate at least every this many bytes.
pub const CHUNK: usize = 4096;

/// A screen at one quiet point of a recording.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Bytes of the recording consumed when this screen was taken.
    pub offset: usize,
    pub screen: ScreenView,
}

/// The screen as the detector sees it, taken from a vt100 model.
pub fn screen_view(screen: &vt100::Screen) -> ScreenView {
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

/// A plain-text screen dump (one line per row). A dump has no cursor, so the cursor is put
/// just after the last character of the last non-empty row, where a line prompt leaves it.
pub fn screen_from_dump(text: &str) -> ScreenView {
    let rows: Vec<String> = text.lines().map(|l| l.trim_end().to_owned()).collect();
    let last = rows.iter().rposition(|r| !r.is_empty()).unwrap_or(0);
    let col = rows.get(last).map_or(0, |r| r.width());
    let width = rows.iter().map(|r| r.width()).max().unwrap_or(0).max(2);
    let clamp = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    ScreenView {
        size: (clamp(rows.len().max(2)), clamp(width)),
        cursor: (clamp(last), clamp(col)),
        rows,
        ..ScreenView::default()
    }
}

/// Byte offsets of `bytes` at which to take a screen (see the module doc).
pub fn quiet_points(bytes: &[u8]) -> Vec<usize> {
    const AFTER: [&[u8]; 2] = [b"\x1b[?25h", b"\x1b[?2026l"];
    const BEFORE: &[u8] = b"\x1b[6n";
    let mut points = Vec::new();
    for (i, window) in bytes.windows(BEFORE.len()).enumerate() {
        if window == BEFORE {
            points.push(i);
        }
    }
    for marker in AFTER {
        for (i, window) in bytes.windows(marker.len()).enumerate() {
            if window == marker {
                points.push(i + marker.len());
            }
        }
    }
    points.extend((CHUNK..bytes.len()).step_by(CHUNK));
    points.push(bytes.len());
    points.retain(|&p| p > 0);
    points.sort_unstable();
    points.dedup();
    points
}

/// Replay a raw recording on a `rows` x `cols` terminal and take the screen at every quiet
/// point. A panic inside the screen model (malformed input) resets the model and goes on.
pub fn replay(bytes: &[u8], rows: u16, cols: u16) -> Vec<Frame> {
    let (rows, cols) = (rows.max(2), cols.max(2));
    let mut parser = vt100::Parser::new(rows, cols, 0);
    let mut frames = Vec::new();
    let mut done = 0;
    for point in quiet_points(bytes) {
        let chunk = &bytes[done..point];
        let ok = catch_unwind(AssertUnwindSafe(|| parser.process(chunk))).is_ok();
        if !ok {
            parser = vt100::Parser::new(rows, cols, 0);
        }
        done = point;
        frames.push(Frame {
            offset: point,
            screen: screen_view(parser.screen()),
        });
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_puts_the_cursor_after_the_last_row() {
        let s = screen_from_dump("a\nDelete it? [y/N]\n\n\n");
        assert_eq!(s.rows.len(), 4);
        assert_eq!(s.cursor, (1, 16));
        assert_eq!(s.size, (4, 16));
        let empty = screen_from_dump("");
        assert_eq!(empty.cursor, (0, 0));
        assert_eq!(empty.size, (2, 2));
    }

    #[test]
    fn quiet_points_follow_cursor_show_sync_end_and_queries() {
        let bytes = b"ab\x1b[?25lxy\x1b[?25hq\x1b[6nz\x1b[?2026lend";
        let points = quiet_points(bytes);
        let show = 2 + 6 + 2 + 6;
        assert_eq!(
            points,
            vec![show, show + 1, show + 1 + 4 + 1 + 8, bytes.len()]
        );
    }

    #[test]
    fn replay_renders_cursor_moves() {
        // Words placed with cursor-column moves, as Claude Code does.
        let frames = replay(b"\x1b[2GDo\x1b[5Gyou\x1b[9Gwant?\x1b[?25h", 5, 20);
        let last = frames.last().unwrap();
        assert_eq!(last.screen.rows[0], " Do you want?");
        assert_eq!(last.screen.cursor, (0, 13));
    }
}
