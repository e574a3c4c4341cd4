use super::*;
use crate::wrap::vt::Tracker;

/// xorshift64*: deterministic streams without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Whether a real vte/vt100 parser that was fed `stream` is in ground state: only then does
/// "CR ⁂" print ⁂ in column 0 (CR is executed or ignored everywhere, ⁂ printed only in ground).
fn vte_in_ground(stream: &[u8]) -> Option<bool> {
    let mut parser = vt100::Parser::new(5, 20, 0);
    parser.process(stream);
    let row = parser.screen().cursor_position().0;
    if parser.screen().cell(row, 0)?.contents() == "⁂" {
        return None;
    }
    parser.process("\r⁂".as_bytes());
    let row = parser.screen().cursor_position().0;
    Some(parser.screen().cell(row, 0)?.contents() == "⁂")
}

#[test]
fn the_tracker_follows_vte() {
    const PIECES: &[&[u8]] = &[
        b"a", b"\x1b", b"[", b"]", b"P", b"X", b"^", b"_", b"\\", b"\x07", b"\x18", b"\x1a",
        b"\x9c", b"\x9b", b"0", b";", b":", b"?", b" ", b"m", b"q", b"\x7f", b"\n", b"\xe2",
        b"\x82", b"\x00", b"#", b"(", b"B", b"~",
    ];
    let mut rng = Rng::new(7);
    let mut checked = 0;
    for _ in 0..20_000 {
        let len = 1 + rng.below(8);
        let stream: Vec<u8> = (0..len)
            .flat_map(|_| (*rng.pick(PIECES)).to_vec())
            .collect();
        let Some(ground) = vte_in_ground(&stream) else {
            continue;
        };
        // Fed whole, and fed in two pieces: the tracker carries its state across calls.
        let mut whole = Tracker::default();
        whole.advance(&stream);
        let cut = rng.below(stream.len() + 1);
        let mut split = Tracker::default();
        split.advance(&stream[..cut]);
        split.advance(&stream[cut..]);
        assert_eq!(whole.ground(), ground, "{stream:?}");
        assert_eq!(split.ground(), ground, "{stream:?} cut at {cut}");
        checked += 1;
    }
    assert!(checked > 10_000, "{checked}");
}

fn lines(n: usize, eol: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for i in 0..n {
        let _ = write!(out, "line {i:05} of the flood{eol}");
    }
    out
}

#[test]
fn the_cut_follows_a_cr_with_enough_line_feeds_after_it() {
    let text = lines(2000, "\r\n");
    let skip = plan(text.as_bytes(), 10).expect("a cut");
    // 22 line feeds must follow the cut: it is right after the CR of the 23rd line from the end.
    let tail = &text[skip.cut..];
    assert_eq!(tail.matches('\n').count(), 22, "{tail:?}");
    assert!(text.as_bytes()[skip.cut - 1] == b'\r');
    assert_eq!(skip.replay, b"\r");
}

#[test]
fn no_cut_without_carriage_returns_or_in_small_batches() {
    assert_eq!(
        plan(lines(2000, "\n").as_bytes(), 10),
        None,
        "bare line feeds"
    );
    assert_eq!(
        plan(lines(300, "\r\n").as_bytes(), 10),
        None,
        "too small to bother"
    );
}

#[test]
fn a_sequence_that_changes_state_ends_the_plain_part() {
    // A scroll region halfway: the cut can only be before it, with enough line feeds between.
    let text = format!("{}\x1b[2;5r{}", lines(1500, "\r\n"), lines(1500, "\r\n"));
    let skip = plan(text.as_bytes(), 10).expect("a cut");
    let region = text.find("\x1b[2;5r").unwrap();
    assert!(skip.cut < region);
    assert_eq!(text[skip.cut..region].matches('\n').count(), 22);
    // Nothing known at the start: no cut at all.
    let text = format!("\x1b[?1049h{}", lines(3000, "\r\n"));
    assert_eq!(plan(text.as_bytes(), 10), None);
}

#[test]
fn vertical_moves_are_skipped_but_never_in_the_lockstep_part() {
    let text = format!("{}\x1b[3A{}", lines(1500, "\r\n"), lines(10, "\r\n"));
    let skip = plan(text.as_bytes(), 10).expect("a cut before the move");
    let up = text.find("\x1b[3A").unwrap();
    assert!(skip.cut < up);
    assert_eq!(text[skip.cut..up].matches('\n').count(), 22);
    let text = format!("\x1b[5;1H{}", lines(1500, "\r\n"));
    assert!(
        plan(text.as_bytes(), 10).is_some(),
        "a move in the skipped part is fine"
    );
}

#[test]
fn the_replay_keeps_the_colours_since_the_last_reset() {
    let text = format!(
        "\x1b[1mbold\x1b[0m\x1b[31mred\x1b[K\x1b[4mline\x1b[10G\r\n{}",
        lines(2000, "\r\n")
    );
    let skip = plan(text.as_bytes(), 10).expect("a cut");
    assert_eq!(skip.replay, b"\x1b[m\x1b[31m\x1b[4m\r");
}
