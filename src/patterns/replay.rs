//! Screens to test patterns on, without running an agent: plain-text screen dumps, and raw
//! PTY recordings replayed through the vt100 screen model.
//!
//! # Where a recording is evaluated
//!
//! The live bridge evaluates patterns when the output goes quiet. When the recording comes
//! with a util-linux `script` timing log (`script -T FILE -m advanced`, `<name>.timing` next
//! to `<name>.raw`), the quiet points are real: wherever the output paused for at least
//! [`QUIET`], and wherever keys were typed ([`parse_timing`]). Without one, quiet points are
//! guessed from what terminal programs do when they finish drawing a frame:
//!
//! - right after `ESC[?25h` (show cursor): TUIs hide the cursor while drawing and show it
//!   when the frame is done (prompt_toolkit);
//! - right after `ESC[?2026l` (end of a synchronized update);
//! - right after a BEL or ST: the end of an OSC title update (Ink apps retitle the window
//!   after a frame), or a bell (aider rings before a prompt);
//! - right before `ESC[6n` (a cursor-position query: the program is about to read input);
//! - every [`CHUNK`] bytes, so a program that does none of these is still looked at;
//! - at the end of the recording.
//!
//! Evaluating at a few extra points is mostly harmless (the detector is edge-triggered by
//! fingerprint); missing the one quiet point at a prompt is not, hence the generous list. But
//! guesses have limits both ways, which is why a timing log is better: a point inside a
//! half-drawn frame can show half a menu (evaluating after every line feed did, and made
//! prompt_toolkit's redraw look like two prompts), and a prompt answered before the program
//! emitted any marker is never seen (Claude Code answered with a quick Esc).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use unicode_width::UnicodeWidthStr;

use crate::wrap::prompt::ScreenView;

/// Evaluate at least every this many bytes (when there is no timing log).
pub const CHUNK: usize = 4096;
/// An output pause at least this long is a quiet point (the bridge's settle window).
pub const QUIET: Duration = Duration::from_millis(100);

/// A screen at one quiet point of a recording.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Bytes of the recording consumed when this screen was taken.
    pub offset: usize,
    pub screen: ScreenView,
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
    const AFTER: [&[u8]; 4] = [b"\x1b[?25h", b"\x1b[?2026l", b"\x07", b"\x1b\\"];
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

/// What a `script` timing log says about a recording.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timing {
    /// Output offsets where the output paused for [`QUIET`] or keys were typed.
    pub points: Vec<usize>,
    /// (rows, columns) from the `LINES` and `COLUMNS` header lines.
    pub size: Option<(u16, u16)>,
}

/// Parse a util-linux `script` advanced timing log: `H <delay> <NAME> <value>` header lines,
/// `O <delay> <bytes>` output and `I <delay> <bytes>` input chunks (delay in seconds since the
/// previous chunk). Lines of other types are skipped.
pub fn parse_timing(text: &str) -> Result<Timing, String> {
    let mut timing = Timing::default();
    let (mut lines_hdr, mut cols_hdr) = (None, None);
    let mut offset = 0usize;
    for (n, line) in text.lines().enumerate() {
        let bad = || {
            format!(
                "line {}: not a `script -m advanced` timing entry: {line:?}",
                n + 1
            )
        };
        let mut fields = line.split_whitespace();
        let (Some(kind), Some(delay)) = (fields.next(), fields.next()) else {
            continue;
        };
        let delay: f64 = delay.parse().map_err(|_| bad())?;
        match kind {
            "H" => match (fields.next(), fields.next()) {
                (Some("LINES"), Some(v)) => lines_hdr = v.parse().ok(),
                (Some("COLUMNS"), Some(v)) => cols_hdr = v.parse().ok(),
                _ => {}
            },
            "O" | "I" => {
                let size: usize = fields.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
                if offset > 0 && (kind == "I" || delay >= QUIET.as_secs_f64()) {
                    timing.points.push(offset);
                }
                if kind == "O" {
                    offset += size;
                }
            }
            _ => {}
        }
    }
    timing.points.push(offset);
    timing.points.dedup();
    timing.size = lines_hdr.zip(cols_hdr);
    Ok(timing)
}

/// Replay a raw recording on a `rows` x `cols` terminal and take the screen at every guessed
/// quiet point ([`quiet_points`]).
pub fn replay(bytes: &[u8], rows: u16, cols: u16) -> Vec<Frame> {
    replay_at(bytes, rows, cols, &quiet_points(bytes))
}

/// Replay a raw recording and take the screen at each of `points` (byte offsets, ascending;
/// offsets past the end are clamped). A panic inside the screen model (malformed input)
/// resets the model and goes on.
pub fn replay_at(bytes: &[u8], rows: u16, cols: u16, points: &[usize]) -> Vec<Frame> {
    let (rows, cols) = (rows.max(2), cols.max(2));
    let mut parser = vt100::Parser::new(rows, cols, 0);
    let mut frames = Vec::new();
    let mut done = 0;
    for &point in points {
        let point = point.clamp(done, bytes.len());
        let chunk = &bytes[done..point];
        let ok = catch_unwind(AssertUnwindSafe(|| parser.process(chunk))).is_ok();
        if !ok {
            parser = vt100::Parser::new(rows, cols, 0);
        }
        done = point;
        frames.push(Frame {
            offset: point,
            screen: ScreenView::of(parser.screen()),
        });
    }
    frames
}

/// The prompts of `frames` in the order they first appeared, edge-triggered by fingerprint as
/// the bridge does (tests).
#[cfg(test)]
pub fn prompts_fired(
    detector: &mut crate::wrap::detect::Detector,
    frames: &[Frame],
) -> Vec<(usize, crate::wrap::prompt::Prompt)> {
    use crate::wrap::prompt::Detect as _;
    let mut fired = Vec::new();
    let mut current = None;
    for frame in frames {
        let prompt = detector.detect(&frame.screen);
        let fingerprint = prompt.as_ref().map(|p| p.fingerprint);
        if fingerprint != current {
            if let Some(p) = prompt {
                fired.push((frame.offset, p));
            }
            current = fingerprint;
        }
    }
    fired
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
    fn timing_gives_pauses_and_keystrokes() {
        let log = "H 0.000000 COLUMNS 100\nH 0.000000 LINES 30\nO 0.3 10\nO 0.01 5\n\
                   O 0.5 7\nI 0.02 1\nO 0.001 3\nS 0.1 SIGWINCH\n";
        let timing = parse_timing(log).unwrap();
        assert_eq!(timing.points, vec![15, 22, 25]);
        assert_eq!(timing.size, Some((30, 100)));
        assert!(parse_timing("O soon 5\n").unwrap_err().contains("line 1"));
        assert!(parse_timing("O 0.1\n").is_err());
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
