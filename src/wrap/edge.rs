//! Which prompt is on screen: the edges the bridge acts on.
//!
//! A prompt fires once when it appears (or replaces another); it is gone only when a quiet
//! screen no longer shows it, so a screen caught mid-redraw during continuous output does not
//! count as an answer. The same prompt shown again after it went away is a new instance.

use super::prompt::Prompt;

/// Tracks which prompt is on screen and reports its edges.
#[derive(Debug, Default)]
pub struct Edge {
    shown: Option<u64>,
}

/// What changed on screen.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Nothing,
    /// A prompt appeared where there was none.
    Appeared(Prompt),
    /// Another prompt took the place of the one shown.
    Replaced(Prompt),
    /// The prompt shown went away.
    Gone,
}

impl Edge {
    /// `detected` on a screen that is `quiet` (not mid-redraw) or not.
    pub fn observe(&mut self, detected: Option<Prompt>, quiet: bool) -> Change {
        match (self.shown, detected) {
            (None, Some(p)) => {
                self.shown = Some(p.fingerprint);
                Change::Appeared(p)
            }
            (Some(shown), Some(p)) if shown == p.fingerprint => Change::Nothing,
            (Some(_), Some(p)) => {
                self.shown = Some(p.fingerprint);
                Change::Replaced(p)
            }
            (Some(_), None) if quiet => {
                self.shown = None;
                Change::Gone
            }
            (_, None) => Change::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Verdict;
    use crate::wrap::prompt::PromptChoice;

    fn prompt(fingerprint: u64) -> Prompt {
        Prompt {
            pattern: "t/p".into(),
            agent: "t".into(),
            kind: None,
            question: "ok?".into(),
            subject: None,
            context: String::new(),
            choices: vec![PromptChoice {
                id: "y".into(),
                label: "Yes".into(),
                verdict: Verdict::Approve,
                asks_reason: false,
            }],
            fingerprint,
        }
    }

    #[test]
    fn edges_fire_once_and_disappear_only_when_quiet() {
        let mut edge = Edge::default();
        assert_eq!(edge.observe(None, true), Change::Nothing);
        assert_eq!(
            edge.observe(Some(prompt(1)), false),
            Change::Appeared(prompt(1))
        );
        assert_eq!(edge.observe(Some(prompt(1)), true), Change::Nothing);
        // A half-drawn screen during continuous output does not make it disappear.
        assert_eq!(edge.observe(None, false), Change::Nothing);
        assert_eq!(edge.observe(Some(prompt(1)), true), Change::Nothing);
        assert_eq!(
            edge.observe(Some(prompt(2)), true),
            Change::Replaced(prompt(2))
        );
        assert_eq!(edge.observe(None, true), Change::Gone);
        assert_eq!(edge.observe(None, true), Change::Nothing);
        // The same prompt shown again later is a new instance.
        assert_eq!(
            edge.observe(Some(prompt(2)), true),
            Change::Appeared(prompt(2))
        );
    }
}
