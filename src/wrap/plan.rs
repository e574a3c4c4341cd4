//! Answer plans: the state machines that type one choice into one prompt.
//!
//! A [`ChoicePlan`] runs the stages a choice asks for, each optional except the keys:
//!
//! 1. **Verify**: the prompt (same pattern, question and subject) is still on the screen.
//! 2. **Select** (menu answers): find the option whose label matches `select` and the option
//!    that carries the marker; press one arrow toward the target, settle, and read the screen
//!    again, until the marker is verified on the target. The marker must come closer with
//!    every press and the number of presses is capped; otherwise the plan aborts before
//!    anything is confirmed. Enter is never pressed blindly.
//! 3. **Keys**: type `keys` (for a menu answer, by default `<enter>`).
//! 4. **Wait** (`wait_for`): settle until a row near the bottom of the screen matches, e.g.
//!    aider's idle `> ` prompt after `n <enter>`; give up after [`MAX_WAIT_SETTLES`].
//! 5. **Then**: type `then`, typically `{feedback} <enter>`.
//!
//! Feedback is sanitised once, when the plan is made ([`sanitize_feedback`]).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::patterns::{ChoiceSpec, Pattern};
use crate::wrap::detect::{Match, clean_row, evaluate};
use crate::wrap::keys::{Key, sanitize_feedback};
use crate::wrap::prompt::{AnswerPlan, Prompt, ScreenView, Step};

/// How many settles a `wait_for` waits before it gives up.
pub const MAX_WAIT_SETTLES: usize = 40;
/// `wait_for` looks at this many non-empty rows at the bottom of the screen.
pub const WAIT_REGION: usize = 6;
/// Arrow presses allowed beyond the number of options.
const EXTRA_MOVES: usize = 2;

/// A plan that types nothing: the answer cannot be given.
#[derive(Debug)]
pub struct Refused(pub String);

impl AnswerPlan for Refused {
    fn next(&mut self, _screen: &ScreenView) -> Step {
        Step::Abort(self.0.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Verify,
    Select,
    Keys,
    Wait,
    Then,
    Done,
    Aborted(String),
}

/// Answers one prompt with one choice of its pattern.
#[derive(Debug)]
pub struct ChoicePlan {
    pattern: Arc<Pattern>,
    choice: ChoiceSpec,
    question: String,
    subject: Option<String>,
    feedback: String,
    phase: Phase,
    queue: VecDeque<Step>,
    moves: usize,
    last_distance: Option<usize>,
    waits: usize,
}

impl ChoicePlan {
    pub fn new(pattern: Arc<Pattern>, choice: ChoiceSpec, prompt: &Prompt, feedback: &str) -> Self {
        let feedback = if choice.feedback {
            sanitize_feedback(feedback)
        } else {
            String::new()
        };
        ChoicePlan {
            pattern,
            choice,
            question: prompt.question.clone(),
            subject: prompt.subject.clone(),
            feedback,
            phase: Phase::Verify,
            queue: VecDeque::new(),
            moves: 0,
            last_distance: None,
            waits: 0,
        }
    }

    fn abort(&mut self, reason: String) -> Step {
        self.queue.clear();
        self.phase = Phase::Aborted(reason.clone());
        Step::Abort(reason)
    }

    /// The prompt as it is on `screen`, if it is still the one being answered.
    fn same_prompt(&self, screen: &ScreenView) -> Result<Match, String> {
        let found = evaluate(&self.pattern, screen)
            .map_err(|miss| format!("the prompt is no longer on the screen ({})", miss.reason))?;
        if found.question != self.question || found.subject != self.subject {
            return Err(format!(
                "a different prompt is on the screen now: {:?}",
                found.question
            ));
        }
        Ok(found)
    }

    /// One step of the selection: `Ok(None)` once the marker is verified on the target.
    fn select(&mut self, screen: &ScreenView) -> Result<Option<Key>, String> {
        let Some(select) = &self.choice.select else {
            return Ok(None);
        };
        let found = self.same_prompt(screen)?;
        let labels = || {
            found
                .options
                .iter()
                .map(|o| o.label.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let target = found
            .options
            .iter()
            .position(|o| select.is_match(&o.label))
            .ok_or_else(|| {
                format!(
                    "no menu row matches `select` /{}/ (rows: {})",
                    select.as_str(),
                    labels()
                )
            })?;
        let focused = found
            .focused()
            .ok_or_else(|| "no menu row carries the selection marker".to_owned())?;
        if focused == target {
            return Ok(None);
        }
        let distance = focused.abs_diff(target);
        let key = if target > focused { Key::Down } else { Key::Up };
        if self.last_distance.is_some_and(|last| distance >= last) {
            return Err(format!(
                "the marker did not move toward {:?} (it is on {:?})",
                found.options[target].label, found.options[focused].label
            ));
        }
        if self.moves >= found.options.len() + EXTRA_MOVES {
            return Err(format!("gave up after {} arrow presses", self.moves));
        }
        self.moves += 1;
        self.last_distance = Some(distance);
        Ok(Some(key))
    }

    fn waited_for(&self, screen: &ScreenView) -> bool {
        let Some(re) = &self.choice.wait_for else {
            return true;
        };
        screen
            .rows
            .iter()
            .rev()
            .map(|r| clean_row(r, &[]))
            .filter(|r| !r.trim().is_empty())
            .take(WAIT_REGION)
            .any(|r| re.is_match(&r))
    }
}

impl AnswerPlan for ChoicePlan {
    fn next(&mut self, screen: &ScreenView) -> Step {
        loop {
            if let Some(step) = self.queue.pop_front() {
                return step;
            }
            match self.phase.clone() {
                Phase::Verify => {
                    if let Err(reason) = self.same_prompt(screen) {
                        return self.abort(reason);
                    }
                    self.phase = if self.choice.select.is_some() {
                        Phase::Select
                    } else {
                        Phase::Keys
                    };
                }
                Phase::Select => match self.select(screen) {
                    Ok(Some(key)) => {
                        self.queue
                            .push_back(Step::Write(key.bytes(screen.application_cursor)));
                        self.queue.push_back(Step::Settle);
                    }
                    Ok(None) => self.phase = Phase::Keys,
                    Err(reason) => return self.abort(reason),
                },
                Phase::Keys => {
                    self.queue
                        .extend(self.choice.keys.steps(screen, &self.feedback));
                    if self.choice.wait_for.is_some() {
                        self.queue.push_back(Step::Settle);
                        self.phase = Phase::Wait;
                    } else {
                        self.phase = Phase::Done;
                    }
                }
                Phase::Wait => {
                    if self.waited_for(screen) {
                        self.phase = Phase::Then;
                    } else if self.waits >= MAX_WAIT_SETTLES {
                        let re = self.choice.wait_for.as_ref().map_or("", |r| r.as_str());
                        return self.abort(format!(
                            "typed {:?}, but the screen never showed /{re}/",
                            self.choice.keys.source
                        ));
                    } else {
                        self.waits += 1;
                        return Step::Settle;
                    }
                }
                Phase::Then => {
                    self.queue
                        .extend(self.choice.then.steps(screen, &self.feedback));
                    self.phase = Phase::Done;
                }
                Phase::Done => return Step::Done,
                Phase::Aborted(reason) => return Step::Abort(reason),
            }
        }
    }
}

#[cfg(test)]
mod tests;
