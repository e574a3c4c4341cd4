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

// ---------------------------------------------------------------------------------------------
// Skimming renders the same screen as rendering everything.

use super::fuzz::state;
use crate::wrap::skim::tests::Rng;

/// Pieces of agent-like output: mostly text and line ends, some colours and cursor moves, and
/// now and then something that changes state (a scroll region, the alternate screen, a title,
/// a query, invalid UTF-8).
fn piece(rng: &mut Rng, out: &mut Vec<u8>) {
    const COMMON: &[&str] = &[
        "\r\n",
        "\r\n",
        "\r\n",
        "\n",
        "\r",
        "\t",
        "\x08",
        "\x07",
        "\x1b[0m",
        "\x1b[m",
        "\x1b[1m",
        "\x1b[31m",
        "\x1b[38;5;123m",
        "\x1b[48:2::1:2:3m",
        "\x1b[22;39m",
        "\x1b[K",
        "\x1b[2K",
        "\x1b[1K",
        "\x1b[5C",
        "\x1b[3D",
        "\x1b[10G",
        "\x1b[2A",
        "\x1b[B",
        "\x1b[3;7H",
        "\x1b[H",
        "漢字",
        "e\u{301}",
        "\u{301}",
        "\r\n\u{301}",
        "\u{fe0f}",
        "🙂",
    ];
    const RARE: &[&[u8]] = &[
        b"\x1b[5;20r",
        b"\x1b[r",
        b"\x1b[?1049h",
        b"\x1b[?1049l",
        b"\x1b]0;title\x07",
        b"\x1b[6n",
        b"\x1b7",
        b"\x1b8",
        b"\x1bc",
        b"\x1b[2J",
        b"\x1b[?6h",
        b"\x1b[?6l",
        b"\x1bM",
        b"\x1b[2S",
        b"\x1b[3L",
        b"\x1b[",
        b"\x1bP1$r",
        b"\x1b\\",
        b"\xff",
        b"\xe2\x82",
        b"\x9b",
        b"\x18",
        b"\x0c",
        b"\x0b",
        b"\x1b[?25l",
        b"\x1b[?2004h",
        b"\x1b[4h",
    ];
    match rng.below(100) {
        0..=54 => {
            let long = rng.below(10) == 0;
            let len = 1 + rng.below(if long { 300 } else { 30 });
            for _ in 0..len {
                out.push(b"abcdefghij klmnop:/.-_0123456789"[rng.below(32)]);
            }
        }
        55..=97 => out.extend_from_slice(rng.pick(COMMON).as_bytes()),
        _ => {
            let rare: &&[u8] = rng.pick(RARE);
            out.extend_from_slice(rare);
        }
    }
}

/// One line of a flood (`cat` of a log, a verbose build); with `resets`, colours are switched
/// off again now and then.
fn flood_line(rng: &mut Rng, out: &mut Vec<u8>, resets: bool) {
    const BITS: &[&str] = &[
        "Compiling",
        "warning:",
        "src/main.rs:12",
        "\t",
        "漢字",
        "é",
        "\x1b[K",
        "\x1b[4G",
        "\x1b[2C",
        "\x1b[D",
        "\x08",
        "🙂",
        "\x1b[33m",
        "\x1b[4m",
        "\x1b[7;45m",
        "\x1b[38:5:200m",
    ];
    const RESETS: &[&str] = &["\x1b[32mok\x1b[0m", "\x1b[1;31merror\x1b[m"];
    let long = rng.below(20) == 0;
    for _ in 0..rng.below(if long { 60 } else { 12 }) {
        if resets && rng.below(8) == 0 {
            out.extend_from_slice(rng.pick(RESETS).as_bytes());
        } else {
            out.extend_from_slice(rng.pick(BITS).as_bytes());
        }
        out.push(b' ');
    }
    out.extend_from_slice(match rng.below(30) {
        0 => b"\n",
        1 => b"\r",
        2 => b"\r\x1b[K",
        _ => b"\r\n",
    });
}

fn differential(seed: u64, size: (u16, u16), bytes: usize) -> u64 {
    let mut rng = Rng::new(seed);
    let mut stream = Vec::with_capacity(bytes + (64 << 10));
    while stream.len() < bytes {
        if rng.below(3) == 0 {
            // A flood: lines of plain output with colours and horizontal moves.
            let resets = rng.below(2) == 0;
            for _ in 0..200 + rng.below(3000) {
                flood_line(&mut rng, &mut stream, resets);
            }
        } else {
            for _ in 0..=rng.below(200) {
                piece(&mut rng, &mut stream);
            }
        }
    }
    let hooks = || Hooks {
        answer_queries: true,
        ..Hooks::default()
    };
    let mut skimming = Model::new(size.0, size.1, hooks());
    let mut plain = Model::new(size.0, size.1, hooks());
    let mut at = 0;
    while at < stream.len() {
        let len = match rng.below(4) {
            0 => 1 + rng.below(64),
            1 => 1 + rng.below(4096),
            _ => (16 << 10) + rng.below(48 << 10),
        };
        let chunk = &stream[at..(at + len).min(stream.len())];
        skimming.feed(chunk);
        plain.render(chunk);
        at += chunk.len();
        if rng.below(40) == 0 {
            let rows = u16::try_from(2 + rng.below(50)).unwrap();
            let cols = u16::try_from(2 + rng.below(150)).unwrap();
            skimming.resize(rows, cols);
            plain.resize(rows, cols);
        }
        // Reading the screen draws what a skim carried: often the next batch comes first.
        if rng.below(3) == 0 || at == stream.len() {
            assert!(
                state(&mut skimming) == state(&mut plain),
                "seed {seed}: the screens differ after {at} bytes"
            );
        }
    }
    skimming.skimmed.1
}

#[test]
fn skimming_renders_the_same_screen_as_rendering_everything() {
    let mut skimmed = 0;
    for seed in 0..12_u64 {
        let size = [(40, 120), (5, 20), (24, 80), (2, 2)][usize::try_from(seed % 4).unwrap()];
        skimmed += differential(seed, size, 400 << 10);
    }
    assert!(
        skimmed > 20,
        "the streams exercise skimming: {skimmed} batches"
    );
}

#[test]
fn a_scroll_region_stops_skimming() {
    let mut m = Model::new(10, 40, Hooks::default());
    m.feed(b"\x1b[2;9r");
    assert!(!m.scrolls_whole_screen());
    let flood: Vec<u8> = (0..3000)
        .flat_map(|i| format!("row {i}\r\n").into_bytes())
        .collect();
    let mut plain = Model::new(10, 40, Hooks::default());
    plain.render(b"\x1b[2;9r");
    m.feed(&flood);
    plain.render(&flood);
    assert_eq!(m.skimmed.1, 0);
    assert!(state(&mut m) == state(&mut plain));
    m.feed(b"\x1b[r");
    assert!(m.scrolls_whole_screen());
    m.feed(&flood);
    assert_eq!(m.skimmed.1, 1);
}

#[test]
fn a_batch_that_starts_inside_a_sequence_is_skimmed_after_it() {
    // The previous PTY read ended in the middle of a colour.
    let first = b"hello \x1b[3";
    let mut second = b"1mred\x1b[0m\r\n".to_vec();
    for i in 0..2000 {
        second.extend_from_slice(format!("line {i} \x1b[32mok\x1b[m\r\n").as_bytes());
    }
    let mut skimming = Model::new(24, 80, Hooks::default());
    let mut plain = Model::new(24, 80, Hooks::default());
    for chunk in [&first[..], &second[..]] {
        skimming.feed(chunk);
        plain.render(chunk);
    }
    assert_eq!(skimming.skimmed.1, 1, "the second batch is skimmed");
    assert!(
        state(&mut skimming) == state(&mut plain),
        "and shows the same"
    );
    assert!(plain.view().rows.iter().any(|r| r.contains("line 1999 ok")));
}

#[test]
fn a_flood_draws_only_the_end_of_its_last_batch() {
    let mut skimming = Model::new(24, 80, Hooks::default());
    let mut plain = Model::new(24, 80, Hooks::default());
    let mut total = 0;
    for batch in 0..3 {
        let bytes: Vec<u8> = (0..2000)
            .flat_map(|i| format!("batch {batch} line {i} \x1b[32mok\x1b[m\r\n").into_bytes())
            .collect();
        skimming.feed(&bytes);
        plain.render(&bytes);
        total += bytes.len() as u64;
    }
    assert_eq!(skimming.skimmed.1, 3, "every batch is skimmed");
    // The ends of the first two batches were skipped by the next one, not drawn.
    let carried = skimming.carry.len() as u64;
    assert!(carried > 0);
    assert_eq!(skimming.skimmed.0, total - carried);
    assert!(state(&mut skimming) == state(&mut plain));
    assert!(skimming.carry.is_empty(), "reading the screen drew it");
    let view = skimming.view();
    assert!(view.rows.iter().any(|r| r.contains("batch 2 line 1999 ok")));
}
