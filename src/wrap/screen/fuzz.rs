//! The screen model and the detector driven by arbitrary bytes (the `screen` fuzz target, and
//! a seeded loop in the unit tests).
//!
//! The input is a little program: output chunks (some repeated into floods, so that skimming
//! runs), resizes, and "look now" steps where every built-in pattern is evaluated on the view
//! and every choice of a prompt found is planned and stepped through. Two models take the same
//! output, one skimming and one rendering every byte; they must agree on the screen after every
//! chunk that was skimmed and at the end, unless vt100 panicked in one of them (the model is
//! rebuilt then, by design).

use std::sync::OnceLock;

use super::{Hooks, Model};
use crate::wrap::detect::{Detector, evaluate};
use crate::wrap::prompt::{Detect, ScreenView, Step};

/// Every built-in pattern, compiled once.
fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let set = crate::patterns::load(&crate::patterns::LoadOptions {
            user_dir: None,
            ..crate::patterns::LoadOptions::default()
        })
        .expect("the built-in patterns load");
        Detector::new(set)
    })
}

/// What must be the same in both models.
#[allow(clippy::type_complexity)]
pub(super) fn state(
    m: &mut Model,
) -> (
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    (u16, u16),
    super::Modes,
    Option<String>,
    ScreenView,
    Vec<u8>,
) {
    m.flush();
    let screen = m.parser.screen();
    (
        screen.contents_formatted(),
        screen.state_formatted(),
        screen.attributes_formatted(),
        screen.cursor_position(),
        m.modes(),
        m.finish().title,
        m.view(),
        m.take_replies(),
    )
}

/// Evaluate every pattern on `view`; plan and step through every choice of what matches.
fn look(view: &ScreenView, feedback: &str) {
    let detector = detector();
    for pattern in detector.set().active() {
        let Ok(found) = evaluate(pattern, view) else {
            continue;
        };
        let prompt = found.into_prompt(pattern);
        for choice in &prompt.choices {
            let mut plan = detector.plan(&prompt, &choice.id, Some(feedback));
            for _ in 0..32 {
                match plan.next(view) {
                    Step::Write(_) | Step::Pause(_) | Step::Settle => {}
                    Step::Done | Step::Abort(_) => break,
                }
            }
        }
    }
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// Run one program (see the module docs). Floods are capped so that one input stays fast
/// (a fuzzer learns from many short runs, not a few long ones): 64 KiB is well past the point
/// where skimming starts, and an input feeds at most 512 KiB and looks at most 16 times.
pub(crate) fn drive(data: &[u8]) {
    const MAX_FLOOD: usize = 64 << 10;
    const MAX_TOTAL: usize = 512 << 10;
    const MAX_LOOKS: usize = 16;
    let (mut total, mut looks) = (0, 0);
    let mut input = Input(data);
    let rows = 2 + u16::from(input.byte().unwrap_or(22) % 60);
    let cols = 2 + u16::from(input.byte().unwrap_or(78));
    let hooks = || Hooks {
        answer_queries: true,
        ..Hooks::default()
    };
    let mut skimming = Model::new(rows, cols, hooks());
    let mut plain = Model::new(rows, cols, hooks());
    let mut feedback = String::from("fuzz says no");
    while let Some(op) = input.byte() {
        let chunk: Vec<u8> = match op % 8 {
            // Output, up to 255 bytes.
            0..=3 => {
                let n = usize::from(input.byte().unwrap_or(0));
                input.take(n).to_vec()
            }
            // A flood: a piece repeated.
            4 | 5 => {
                let n = usize::from(input.byte().unwrap_or(0)).max(1);
                let times = usize::from(input.byte().unwrap_or(0)) << 4;
                let piece = input.take(n).to_vec();
                let room = MAX_FLOOD.min(MAX_TOTAL.saturating_sub(total));
                let mut flood = piece.repeat(times.min(room / piece.len().max(1) + 1));
                flood.truncate(room);
                flood
            }
            6 => {
                let rows = 2 + u16::from(input.byte().unwrap_or(0) % 60);
                let cols = 2 + u16::from(input.byte().unwrap_or(0));
                skimming.resize(rows, cols);
                plain.resize(rows, cols);
                continue;
            }
            _ => {
                let n = usize::from(input.byte().unwrap_or(0) % 32);
                feedback = String::from_utf8_lossy(input.take(n)).into_owned();
                if looks < MAX_LOOKS {
                    looks += 1;
                    look(&skimming.view(), &feedback);
                }
                continue;
            }
        };
        total += chunk.len();
        let skims = skimming.skimmed.1;
        skimming.feed(&chunk);
        plain.render(&chunk);
        // Compare where a difference would start (a skim), and at the end. Reading the screen
        // draws what the skim carried, so every other skim is left unread: the next batch
        // then skips or draws the carried bytes itself.
        if skimming.skimmed.1 != skims && skimming.skimmed.1.is_multiple_of(2) {
            compare(&mut skimming, &mut plain);
        }
    }
    compare(&mut skimming, &mut plain);
    look(&plain.view(), &feedback);
}

/// The two models show the same, unless vt100 panicked in one (it is rebuilt then, by design).
fn compare(skimming: &mut Model, plain: &mut Model) {
    if skimming.rebuilt == 0 && plain.rebuilt == 0 {
        assert!(
            state(skimming) == state(plain),
            "skimming changed the screen"
        );
    }
}
