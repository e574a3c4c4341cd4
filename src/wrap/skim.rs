//! Skimming: render only the part of a large batch of output that can still be on the screen.
//!
//! When an agent floods the terminal (`cat` of a big file, a verbose build), most lines scroll
//! off the top long before anyone could look at them, and rendering them is most of the cost of
//! the screen model. For a batch whose start is plain text (text, C0 controls, colours and a
//! few cursor moves), [`plan`] finds a cut after which the batch carries at least 2 x rows line
//! feeds of "lockstep" bytes, and the model is fed only the colours of the skipped part, a
//! carriage return, and the rest from the cut. The screen that results is the one the whole
//! batch would have produced. Why:
//!
//! - The skipped bytes change nothing but the grid's cells, the cursor, and the attributes.
//!   The attributes are replayed (every SGR since the last reset). In vt100 the cursor moves of
//!   text, CR, LF, TAB, BS, EL and horizontal moves depend only on the cursor and the size,
//!   never on what the cells hold (a wide character, a wrap: decided by widths alone).
//! - At the cut, right after a CR, both models stand in column 0, in ground state, with equal
//!   attributes; only their grids and cursor rows differ. The lockstep bytes after the cut move
//!   the cursor down only (never up, never to an absolute row): after rows - 1 line feeds both
//!   cursors are on the bottom row, from then on they move together, and every further line feed
//!   scrolls a blank row in at the bottom of both. After rows more, every visible row has been
//!   written the same way in both models.
//! - That needs line feeds to scroll the whole screen. A scroll region (DECSTBM) would keep
//!   rows the skipped part drew, so the model checks that on a copy of its screen first
//!   ([`crate::wrap::screen`]); and the parser must be in ground state where the batch starts,
//!   which [`super::vt::Tracker`] follows byte for byte the way vte does.
//!
//! The differential tests below (and the `screen_skim` fuzz target) feed random streams to a
//! skimming model and to a plain one and compare every visible cell, the cursor and the modes.

/// What to feed instead of a batch's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The batch from this offset on is fed as it is.
    pub cut: usize,
    /// Fed instead of `..cut`: the attribute changes since the last reset, then CR.
    pub replay: Vec<u8>,
    /// Every escape sequence from the cut to the end is a known token, complete: the rest may
    /// be skipped or drawn later just as well as now.
    pub plain_rest: bool,
}

/// An escape sequence in a run of plain output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// SGR: attributes only. `reset` for `ESC [ m` and `ESC [ 0 m`.
    Sgr { reset: bool },
    /// EL and the horizontal moves (CUF, CUB, CHA): the cursor stays on its row.
    Horizontal,
    /// CUU, CUD, CUP: allowed in the skipped part only.
    Vertical,
}

/// Parse the escape sequence at `bytes[0] == ESC`: its kind and length, or `None` for anything
/// else (a mode switch, a title, a query, a sequence cut by the end of the batch...).
fn token(bytes: &[u8]) -> Option<(Token, usize)> {
    // The usual colours first, without looking for ';' and ':'.
    match bytes {
        [_, b'[', b'm', ..] => return Some((Token::Sgr { reset: true }, 3)),
        [_, b'[', d, b'm', ..] if d.is_ascii_digit() => {
            return Some((Token::Sgr { reset: *d == b'0' }, 4));
        }
        [_, b'[', d, e, b'm', ..] if d.is_ascii_digit() && e.is_ascii_digit() => {
            return Some((Token::Sgr { reset: false }, 5));
        }
        [_, b'[', ..] => {}
        _ => return None,
    }
    let params_end = 2 + bytes[2..]
        .iter()
        .position(|b| !matches!(b, b'0'..=b'9' | b';' | b':'))?;
    let params = &bytes[2..params_end];
    let single = !params.contains(&b';') && !params.contains(&b':');
    let token = match bytes[params_end] {
        b'm' => Token::Sgr {
            reset: params.is_empty() || params == b"0",
        },
        b'K' if single && matches!(params, b"" | b"0" | b"1" | b"2") => Token::Horizontal,
        b'C' | b'D' | b'G' if single => Token::Horizontal,
        b'A' | b'B' if single => Token::Vertical,
        b'H' if !params.contains(&b':') => Token::Vertical,
        _ => return None,
    };
    Some((token, params_end + 1))
}

/// Where to cut `batch` (which starts in ground state) for a screen of `rows` rows, if a cut
/// saves enough work to be worth it.
///
/// The cut lies in a lockstep run: a stretch of plain bytes whose escape sequences are all
/// known tokens, bounded by vertical moves, by the first unknown sequence, or by the batch.
/// The first pass looks only at the escape sequences (every one before the cut must be known);
/// the second counts line feeds back from the end of a run, so it reads only the run's tail.
pub fn plan(batch: &[u8], rows: u16) -> Option<Skip> {
    const WORTH: usize = 16 << 10;
    if batch.len() < WORTH {
        return None;
    }
    // Where each run starts; the last one ends at `known`.
    let mut starts = vec![0];
    let mut known = batch.len();
    for at in memchr::memchr_iter(0x1b, batch) {
        match token(&batch[at..]) {
            Some((Token::Vertical, len)) => starts.push(at + len),
            Some(_) => {}
            None => {
                known = at;
                break;
            }
        }
    }
    let need = 2 * usize::from(rows) + 2;
    let mut end = known;
    // A later run's cut is further on: the first run (from the end) with one is the best.
    let cut = starts.iter().rev().find_map(|&start| {
        let run = &batch[start..end];
        end = start;
        cut_in(run, need).map(|cut| start + cut)
    })?;
    (cut >= WORTH).then(|| Skip {
        cut,
        replay: replay(&batch[..cut]),
        plain_rest: known == batch.len(),
    })
}

/// The cut in one run: right after the last CR that has `need` row increments (LF, VT) after
/// it. FF also moves down but is not counted, which errs on the safe side.
fn cut_in(run: &[u8], need: usize) -> Option<usize> {
    let mut end = run.len();
    for _ in 0..need {
        end = memchr::memrchr2(b'\n', 0x0b, &run[..end])?;
    }
    memchr::memrchr(b'\r', &run[..end]).map(|cr| cr + 1)
}

/// The SGR sequences of `head` from its last reset on, then CR. Walks back from the end over
/// the escape sequences (every one in `head` must be a known token, as before a cut of
/// [`plan`] or after it when [`Skip::plain_rest`]), so it reads only what follows the last
/// reset.
pub fn replay(head: &[u8]) -> Vec<u8> {
    let mut sgrs: Vec<&[u8]> = Vec::new();
    let mut end = head.len();
    let mut reset = false;
    while let Some(at) = memchr::memrchr(0x1b, &head[..end]) {
        let Some((token, len)) = token(&head[at..]) else {
            break;
        };
        match token {
            Token::Sgr { reset: true } => {
                reset = true;
                break;
            }
            Token::Sgr { reset: false } => sgrs.push(&head[at..at + len]),
            Token::Horizontal | Token::Vertical => {}
        }
        end = at;
    }
    let mut out = Vec::new();
    if reset {
        out.extend_from_slice(b"\x1b[m");
    }
    for sgr in sgrs.iter().rev() {
        out.extend_from_slice(sgr);
    }
    out.push(b'\r');
    out
}

#[cfg(test)]
pub(crate) mod tests;
