//! A small built-in detector used until the pattern engine is wired in: a generic `[y/n]`
//! line prompt, and a numbered permission menu in the style of Claude Code (a question line,
//! `❯ 1. Yes` rows, a `No` row), answered by selecting the option by its label.

use std::hash::{Hash, Hasher};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use super::prompt::{AnswerPlan, Detect, Prompt, PromptChoice, ScreenView, Step};
use crate::request::Verdict;

static YES_NO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\[y/n\]|\(y/n\)|\[yes/no\]|\(yes/no\))\s*[:?]?$").expect("regex")
});
static OPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?P<sel>❯|>)?\s+(?P<n>[1-9])\.\s+(?P<label>\S.*?)\s*$").expect("regex")
});
static QUESTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?P<q>\S.*\?)\s*$").expect("regex"));

/// The stand-in detector.
#[derive(Debug, Default)]
pub struct StandIn;

impl Detect for StandIn {
    fn detect(&mut self, screen: &ScreenView) -> Option<Prompt> {
        line_prompt(screen).or_else(|| menu(screen))
    }

    fn plan(&self, prompt: &Prompt, choice: &str, feedback: Option<&str>) -> Box<dyn AnswerPlan> {
        let feedback = feedback.map(sanitise).filter(|f| !f.is_empty());
        if prompt.pattern.ends_with("/menu") {
            let label = prompt
                .choices
                .iter()
                .find(|c| c.id == choice)
                .map(|c| c.label.clone())
                .unwrap_or_default();
            Box::new(MenuPlan {
                label,
                feedback,
                rounds: 0,
                state: MenuState::Select,
            })
        } else {
            let key = if choice == "y" { "y" } else { "n" };
            let mut steps = vec![Step::Write(format!("{key}\r").into_bytes())];
            if let (Some(text), "n") = (feedback, key) {
                steps.push(Step::Settle);
                steps.push(Step::Write(text.into_bytes()));
                steps.push(Step::Pause(Duration::from_millis(100)));
                steps.push(Step::Write(b"\r".to_vec()));
            }
            steps.push(Step::Done);
            steps.reverse();
            Box::new(Script(steps))
        }
    }
}

fn fingerprint(parts: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

fn context_above(screen: &ScreenView, last_row: usize) -> String {
    screen.rows[..=last_row].join("\n")
}

fn line_prompt(screen: &ScreenView) -> Option<Prompt> {
    let row = usize::from(screen.cursor.0);
    let text = screen.rows.get(row)?.trim();
    let cursor_after = usize::from(screen.cursor.1) >= text.chars().count();
    if !YES_NO.is_match(text) || !cursor_after {
        return None;
    }
    Some(Prompt {
        pattern: "stand-in/yes-no".into(),
        agent: "generic".into(),
        kind: None,
        question: text.to_owned(),
        subject: None,
        context: context_above(screen, row),
        choices: vec![
            choice("y", "Yes", Verdict::Approve, false),
            choice("n", "No", Verdict::Reject, true),
        ],
        fingerprint: fingerprint(&["yes-no", text]),
    })
}

fn menu(screen: &ScreenView) -> Option<Prompt> {
    let last = screen.rows.iter().rposition(|r| OPTION.is_match(r))?;
    let mut first = last;
    while first > 0 && OPTION.is_match(&screen.rows[first - 1]) {
        first -= 1;
    }
    // The menu must be near the bottom of what is drawn, and offer a "No".
    let drawn = screen.rows.iter().rposition(|r| !r.trim().is_empty())?;
    if drawn > last + 3 {
        return None;
    }
    let options: Vec<(bool, String, String)> = screen.rows[first..=last]
        .iter()
        .filter_map(|r| OPTION.captures(r))
        .map(|c| {
            (
                c.name("sel").is_some(),
                c["n"].to_owned(),
                c["label"].to_owned(),
            )
        })
        .collect();
    if !options.iter().any(|(_, _, label)| label.starts_with("No")) {
        return None;
    }
    let question = screen.rows[..first]
        .iter()
        .rev()
        .take(3)
        .find_map(|r| QUESTION.captures(r))
        .map(|c| c["q"].to_owned())?;
    let choices: Vec<PromptChoice> = options
        .iter()
        .map(|(_, n, label)| {
            let approve = label.starts_with("Yes");
            choice(
                n,
                label,
                if approve {
                    Verdict::Approve
                } else {
                    Verdict::Reject
                },
                !approve,
            )
        })
        .collect();
    let mut parts = vec!["menu", question.as_str()];
    parts.extend(options.iter().map(|(_, _, l)| l.as_str()));
    Some(Prompt {
        pattern: "stand-in/menu".into(),
        agent: "generic".into(),
        kind: None,
        fingerprint: fingerprint(&parts),
        question,
        subject: None,
        context: context_above(screen, last),
        choices,
    })
}

fn choice(id: &str, label: &str, verdict: Verdict, asks_reason: bool) -> PromptChoice {
    PromptChoice {
        id: id.into(),
        label: label.into(),
        verdict,
        asks_reason,
    }
}

/// Feedback as one line of printable text.
fn sanitise(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fixed steps, popped from the end.
struct Script(Vec<Step>);

impl AnswerPlan for Script {
    fn next(&mut self, _screen: &ScreenView) -> Step {
        self.0.pop().unwrap_or(Step::Done)
    }
}

enum MenuState {
    Select,
    /// Arrows were written: settle before looking again.
    Moved,
    /// Feedback was typed: pause, then confirm.
    Typed,
    Confirm,
    Finished,
}

/// Move the selection marker to the row labelled `label`, verify, then confirm.
struct MenuPlan {
    label: String,
    feedback: Option<String>,
    rounds: u8,
    state: MenuState,
}

impl AnswerPlan for MenuPlan {
    fn next(&mut self, screen: &ScreenView) -> Step {
        match self.state {
            MenuState::Finished => return Step::Done,
            MenuState::Moved => {
                self.state = MenuState::Select;
                return Step::Settle;
            }
            MenuState::Typed => {
                self.state = MenuState::Confirm;
                return Step::Pause(Duration::from_millis(100));
            }
            MenuState::Confirm => {
                self.state = MenuState::Finished;
                return Step::Write(b"\r".to_vec());
            }
            MenuState::Select => {}
        }
        let rows: Vec<(usize, bool, String)> = screen
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                OPTION
                    .captures(r)
                    .map(|c| (i, c.name("sel").is_some(), c["label"].to_owned()))
            })
            .collect();
        let Some(target) = rows.iter().find(|(_, _, l)| *l == self.label) else {
            return Step::Abort(format!("no option labelled {:?} on screen", self.label));
        };
        let Some(selected) = rows.iter().find(|(_, sel, _)| *sel) else {
            return Step::Abort("no option is selected".into());
        };
        if target.0 == selected.0 {
            return match self.feedback.take() {
                Some(text) => {
                    self.state = MenuState::Typed;
                    let mut bytes = b"\t".to_vec();
                    bytes.extend_from_slice(text.as_bytes());
                    Step::Write(bytes)
                }
                None => {
                    self.state = MenuState::Finished;
                    Step::Write(b"\r".to_vec())
                }
            };
        }
        self.rounds += 1;
        if self.rounds > 3 {
            return Step::Abort("the selection does not move to the intended option".into());
        }
        let key: &[u8] = match (target.0 > selected.0, screen.application_cursor) {
            (true, false) => b"\x1b[B",
            (true, true) => b"\x1bOB",
            (false, false) => b"\x1b[A",
            (false, true) => b"\x1bOA",
        };
        self.state = MenuState::Moved;
        Step::Write(key.repeat(target.0.abs_diff(selected.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(rows: &[&str], cursor: (u16, u16)) -> ScreenView {
        ScreenView {
            rows: rows.iter().map(|s| (*s).to_owned()).collect(),
            cursor,
            size: (24, 80),
            ..ScreenView::default()
        }
    }

    #[test]
    fn line_prompt_needs_the_cursor_after_it() {
        let mut d = StandIn;
        let v = view(&["working", "Delete build/? [y/n] "], (1, 21));
        let p = d.detect(&v).expect("prompt");
        assert_eq!(p.question, "Delete build/? [y/n]");
        assert_eq!(p.context, "working\nDelete build/? [y/n]");
        let answered = view(&["working", "Delete build/? [y/n] y", ""], (2, 0));
        assert!(d.detect(&answered).is_none());
    }

    #[test]
    fn menu_fingerprint_ignores_the_selection() {
        let mut d = StandIn;
        let a = view(
            &[
                "Bash command",
                "  rm -rf x",
                "Do you want to proceed?",
                "❯ 1. Yes",
                "  2. No",
            ],
            (4, 0),
        );
        let b = view(
            &[
                "Bash command",
                "  rm -rf x",
                "Do you want to proceed?",
                "  1. Yes",
                "❯ 2. No",
            ],
            (4, 0),
        );
        let pa = d.detect(&a).expect("menu");
        let pb = d.detect(&b).expect("menu");
        assert_eq!(pa.fingerprint, pb.fingerprint);
        assert_eq!(pa.question, "Do you want to proceed?");
        assert_eq!(pa.choices[1].verdict, Verdict::Reject);

        let mut plan = d.plan(&pa, "2", None);
        assert_eq!(plan.next(&a), Step::Write(b"\x1b[B".to_vec()));
        assert_eq!(plan.next(&a), Step::Settle);
        assert_eq!(plan.next(&b), Step::Write(b"\r".to_vec()));
        assert_eq!(plan.next(&b), Step::Done);
    }
}
