//! Every plan driven by scripted screens: the test plays the bridge, feeding the screen it
//! wants the plan to see after each step.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::patterns::replay::screen_from_dump;
use crate::patterns::{LoadOptions, load};
use crate::wrap::detect::Detector;
use crate::wrap::keys::{ESC_PAUSE, FEEDBACK_PAUSE};
use crate::wrap::prompt::Detect;

fn detector() -> Detector {
    let sketches =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/patterns/menu-sketches.toml");
    Detector::new(
        load(&LoadOptions {
            user_dir: None,
            extra: vec![sketches],
            agent: Some("menu-sketches".into()),
            ..LoadOptions::default()
        })
        .unwrap(),
    )
}

fn write(bytes: &[u8]) -> Step {
    Step::Write(bytes.to_vec())
}

/// Claude-style menu with the marker on row `focus` (0-based) of `labels`.
fn menu(labels: &[&str], focus: usize) -> ScreenView {
    let mut text = String::from(" Bash command\n\n   npm test\n\n Do you want to proceed?\n");
    for (i, label) in labels.iter().enumerate() {
        let marker = if i == focus { "❯" } else { " " };
        let _ = writeln!(text, " {marker} {}. {label}", i + 1);
    }
    text.push_str("\n Esc to cancel · Tab to amend\n");
    ScreenView {
        cursor: (0, 0),
        ..screen_from_dump(&text)
    }
}

const LABELS: [&str; 3] = ["Yes", "Yes, and don't ask again for npm test", "No"];

fn plan_for(
    d: &mut Detector,
    screen: &ScreenView,
    choice: &str,
    fb: Option<&str>,
) -> Box<dyn AnswerPlan> {
    let prompt = d.detect(screen).expect("a prompt on the first screen");
    d.plan(&prompt, choice, fb)
}

#[test]
fn key_plan_types_its_keys() {
    let mut d = detector();
    let screen = screen_from_dump("Overwrite config.json? (y/N)\n");
    let mut plan = plan_for(&mut d, &screen, "y", None);
    assert_eq!(plan.next(&screen), write(b"y"));
    assert_eq!(plan.next(&screen), write(b"\r"));
    assert_eq!(plan.next(&screen), Step::Done);
    assert_eq!(plan.next(&screen), Step::Done);
}

#[test]
fn key_plan_aborts_when_the_prompt_is_gone_or_changed() {
    let mut d = detector();
    let screen = screen_from_dump("Overwrite config.json? (y/N)\n");
    let mut plan = plan_for(&mut d, &screen, "n", None);
    let gone = screen_from_dump("Overwrite config.json? (y/N) n\nkept\n");
    let Step::Abort(reason) = plan.next(&gone) else {
        panic!("typed into a screen without the prompt");
    };
    assert!(reason.contains("no longer on the screen"), "{reason}");
    // Once aborted, it stays aborted.
    assert!(matches!(plan.next(&screen), Step::Abort(_)));

    let mut plan = plan_for(&mut d, &screen, "n", None);
    let other = screen_from_dump("Delete everything? (y/N)\n");
    let Step::Abort(reason) = plan.next(&other) else {
        panic!("answered another prompt");
    };
    assert!(reason.contains("different prompt"), "{reason}");
}

#[test]
fn menu_plan_confirms_when_the_marker_is_already_there() {
    let mut d = detector();
    let screen = menu(&LABELS, 0);
    let mut plan = plan_for(&mut d, &screen, "y", None);
    assert_eq!(plan.next(&screen), write(b"\r"));
    assert_eq!(plan.next(&screen), Step::Done);
}

#[test]
fn menu_plan_moves_one_row_at_a_time_and_verifies() {
    let mut d = detector();
    let mut plan = plan_for(&mut d, &menu(&LABELS, 0), "always", None);
    assert_eq!(plan.next(&menu(&LABELS, 0)), write(b"\x1b[B"));
    assert_eq!(plan.next(&menu(&LABELS, 0)), Step::Settle);
    assert_eq!(plan.next(&menu(&LABELS, 1)), write(b"\r"));
    assert_eq!(plan.next(&menu(&LABELS, 1)), Step::Done);
}

#[test]
fn menu_plan_uses_application_cursor_arrows_and_goes_up() {
    let mut d = detector();
    let at = |focus| ScreenView {
        application_cursor: true,
        ..menu(&LABELS, focus)
    };
    let mut plan = plan_for(&mut d, &at(2), "y", None);
    assert_eq!(plan.next(&at(2)), write(b"\x1bOA"));
    assert_eq!(plan.next(&at(2)), Step::Settle);
    assert_eq!(plan.next(&at(1)), write(b"\x1bOA"));
    assert_eq!(plan.next(&at(1)), Step::Settle);
    assert_eq!(plan.next(&at(0)), write(b"\r"));
    assert_eq!(plan.next(&at(0)), Step::Done);
}

#[test]
fn menu_plan_finds_yes_when_no_comes_first_without_numbers() {
    let mut d = detector();
    let hidden = |focus: usize| {
        let rows = ["No", "Yes"]
            .iter()
            .enumerate()
            .map(|(i, l)| format!(" {} {l}", if i == focus { "❯" } else { " " }))
            .collect::<Vec<_>>()
            .join("\n");
        screen_from_dump(&format!(
            " Do you want to proceed?\n{rows}\n\n Esc to cancel\n"
        ))
    };
    let mut plan = plan_for(&mut d, &hidden(0), "y", None);
    assert_eq!(plan.next(&hidden(0)), write(b"\x1b[B"));
    assert_eq!(plan.next(&hidden(0)), Step::Settle);
    assert_eq!(plan.next(&hidden(1)), write(b"\r"));
}

#[test]
fn menu_plan_aborts_when_the_marker_does_not_move() {
    let mut d = detector();
    let mut plan = plan_for(&mut d, &menu(&LABELS, 0), "always", None);
    assert_eq!(plan.next(&menu(&LABELS, 0)), write(b"\x1b[B"));
    assert_eq!(plan.next(&menu(&LABELS, 0)), Step::Settle);
    let Step::Abort(reason) = plan.next(&menu(&LABELS, 0)) else {
        panic!("kept pressing or confirmed the wrong row");
    };
    assert!(reason.contains("did not move toward"), "{reason}");
}

#[test]
fn menu_plan_aborts_when_the_marker_jumps_away() {
    let mut d = detector();
    let five = ["Yes", "Yes, and don't ask again", "Yes, b", "Yes, c", "No"];
    let mut plan = plan_for(&mut d, &menu(&five, 3), "always", None);
    assert_eq!(plan.next(&menu(&five, 3)), write(b"\x1b[A"));
    assert_eq!(plan.next(&menu(&five, 3)), Step::Settle);
    // Moved the wrong way: farther from the target. Nothing is confirmed.
    let Step::Abort(reason) = plan.next(&menu(&five, 4)) else {
        panic!("went on after the marker moved away");
    };
    assert!(reason.contains("did not move toward"), "{reason}");
}

#[test]
fn menu_plan_aborts_when_the_row_or_marker_is_gone() {
    let mut d = detector();
    let mut plan = plan_for(&mut d, &menu(&LABELS, 0), "always", None);
    assert_eq!(plan.next(&menu(&LABELS, 0)), write(b"\x1b[B"));
    assert_eq!(plan.next(&menu(&LABELS, 0)), Step::Settle);
    // The prompt was redrawn without the "don't ask again" row: a different prompt.
    let Step::Abort(reason) = plan.next(&menu(&["Yes", "No"], 1)) else {
        panic!("confirmed without the target row");
    };
    assert!(
        reason.contains("different prompt") || reason.contains("no menu row"),
        "{reason}"
    );

    let mut plan = plan_for(&mut d, &menu(&LABELS, 0), "always", None);
    let no_marker = menu(&LABELS, 9);
    assert!(matches!(plan.next(&no_marker), Step::Abort(r) if r.contains("no longer")));
}

#[test]
fn wait_then_plan_types_feedback_at_the_idle_prompt() {
    let mut d = detector();
    let prompt_screen = screen_from_dump("proof.txt\nCreate new file? (Y)es/(N)o [Yes]:\n");
    let mut plan = plan_for(
        &mut d,
        &prompt_screen,
        "nf",
        Some("use\r\nsrc/proof.txt\x1b[31m instead"),
    );
    assert_eq!(plan.next(&prompt_screen), write(b"n"));
    assert_eq!(plan.next(&prompt_screen), write(b"\r"));
    assert_eq!(plan.next(&prompt_screen), Step::Settle);
    // Not there yet: the answer is echoed, aider is still busy.
    let busy =
        screen_from_dump("Create new file? (Y)es/(N)o [Yes]: n\nSkipping edits to proof.txt\n");
    assert_eq!(plan.next(&busy), Step::Settle);
    let idle = ScreenView {
        bracketed_paste: true,
        ..screen_from_dump("Skipping edits to proof.txt\n────────\ndiff>\n")
    };
    assert_eq!(
        plan.next(&idle),
        write(b"\x1b[200~use src/proof.txt instead\x1b[201~")
    );
    assert_eq!(plan.next(&idle), Step::Pause(FEEDBACK_PAUSE));
    assert_eq!(plan.next(&idle), write(b"\r"));
    assert_eq!(plan.next(&idle), Step::Done);
}

#[test]
fn wait_then_plan_gives_up() {
    let mut d = detector();
    let screen = screen_from_dump("Create new file? (Y)es/(N)o [Yes]:\n");
    let mut plan = plan_for(&mut d, &screen, "nf", Some("x"));
    assert_eq!(plan.next(&screen), write(b"n"));
    assert_eq!(plan.next(&screen), write(b"\r"));
    let busy = screen_from_dump("working...\n");
    let mut steps = Vec::new();
    for _ in 0..(MAX_WAIT_SETTLES + 10) {
        let step = plan.next(&busy);
        let end = matches!(step, Step::Abort(_));
        steps.push(step);
        if end {
            break;
        }
    }
    let Some(Step::Abort(reason)) = steps.last() else {
        panic!("waited forever: {steps:?}");
    };
    assert!(reason.contains("never showed"), "{reason}");
    assert!(steps.iter().filter(|s| **s == Step::Settle).count() <= MAX_WAIT_SETTLES + 1);
}

#[test]
fn esc_then_type_plan() {
    let mut d = detector();
    let screen = menu(&LABELS, 0);
    let mut plan = plan_for(&mut d, &screen, "nf", Some("run the linter first"));
    assert_eq!(plan.next(&screen), write(b"\x1b"));
    assert_eq!(plan.next(&screen), Step::Pause(ESC_PAUSE));
    assert_eq!(plan.next(&screen), Step::Settle);
    let composer = screen_from_dump(
        "  ⎿  Interrupted · What should Claude do instead?\n───\n❯\u{a0}\n───\n  ? for shortcuts\n",
    );
    assert_eq!(plan.next(&composer), write(b"run the linter first"));
    assert_eq!(plan.next(&composer), Step::Pause(FEEDBACK_PAUSE));
    assert_eq!(plan.next(&composer), write(b"\r"));
    assert_eq!(plan.next(&composer), Step::Done);
}

#[test]
fn feedback_is_only_typed_by_feedback_choices() {
    let mut d = detector();
    let screen = screen_from_dump("Overwrite config.json? (y/N)\n");
    let mut plan = plan_for(&mut d, &screen, "n", Some("ignored text"));
    assert_eq!(plan.next(&screen), write(b"n"));
    assert_eq!(plan.next(&screen), write(b"\r"));
    assert_eq!(plan.next(&screen), Step::Done);
    assert_eq!(ESC_PAUSE, Duration::from_millis(150));
}
