//! The contract between the screen side of `wrap` (patterns, detector) and the terminal side
//! (PTY bridge): a snapshot of the screen, a detected prompt, and the plan that answers it.
//!
//! The detector only reads [`ScreenView`]s and returns [`Prompt`]s. Answering is a small state
//! machine ([`AnswerPlan`]) that the bridge drives: it asks for the next [`Step`], performs it
//! (write bytes to the PTY, pause, wait for the screen to settle), and feeds back the new
//! screen, so menu selection can be verified row by row before anything is confirmed.

use std::time::Duration;

use crate::request::Verdict;

/// What the screen shows now, as rendered by the screen model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScreenView {
    /// Every visible row, right-trimmed, top to bottom.
    pub rows: Vec<String>,
    /// Cursor (row, column), 0-based.
    pub cursor: (u16, u16),
    /// (rows, columns).
    pub size: (u16, u16),
    /// The agent enabled bracketed paste (`ESC[?2004h`).
    pub bracketed_paste: bool,
    /// The agent enabled application cursor keys (DECCKM, `ESC[?1h`): arrows are `ESC O A`.
    pub application_cursor: bool,
    /// The alternate screen is active.
    pub alternate_screen: bool,
}

impl ScreenView {
    /// What a vt100 screen shows.
    pub fn of(screen: &vt100::Screen) -> ScreenView {
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
}

/// One answer offered for a prompt (becomes one button).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptChoice {
    /// Short id: `y`, `n`, or the pattern's own (`a`, `d`, `always`), `[a-z0-9_]{1,8}`.
    pub id: String,
    pub label: String,
    pub verdict: Verdict,
    /// A reject that takes free-text feedback (typed into the agent).
    pub asks_reason: bool,
}

/// A prompt the detector recognised on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// `<file stem>/<pattern id>`, e.g. `generic/yes-no`.
    pub pattern: String,
    /// The agent the pattern belongs to (`generic`, `aider`, `claude-code`, ...).
    pub agent: String,
    /// The kind of prompt when the pattern says (`shell`, `edit`, `network`, ...).
    pub kind: Option<String>,
    /// The question line as shown.
    pub question: String,
    /// What is being approved: the command, the file, the URL, when extracted.
    pub subject: Option<String>,
    /// Rows above the prompt (and the prompt itself), for the human's context.
    pub context: String,
    pub choices: Vec<PromptChoice>,
    /// Identity of this prompt instance: equal fingerprints = the same prompt redrawn.
    pub fingerprint: u64,
}

/// One thing for the bridge to do while answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes through the single PTY writer.
    Write(Vec<u8>),
    /// Wait this long (e.g. after a lone Esc).
    Pause(Duration),
    /// Wait until the output is quiet, then call [`AnswerPlan::next`] with the new screen.
    Settle,
    /// The answer was entered.
    Done,
    /// The screen is not what the plan expected; nothing more will be typed.
    Abort(String),
}

/// A state machine that answers one prompt with one choice.
pub trait AnswerPlan: Send {
    /// The next step, given the latest settled screen (the screen at the prompt on the
    /// first call).
    fn next(&mut self, screen: &ScreenView) -> Step;
}

/// Recognises prompts on settled screens and plans their answers. The bridge owns edge
/// detection (fire once per fingerprint, notice disappearance); a detector only looks.
pub trait Detect: Send {
    /// The prompt shown in the live bottom region of `screen`, if any.
    fn detect(&mut self, screen: &ScreenView) -> Option<Prompt>;

    /// The plan that answers `prompt` with the choice `choice` (an id from `prompt.choices`),
    /// typing `feedback` where the choice takes it. Feedback is sanitised by the plan: no
    /// control characters or escape sequences reach the agent, and it cannot submit extra lines.
    fn plan(&self, prompt: &Prompt, choice: &str, feedback: Option<&str>) -> Box<dyn AnswerPlan>;
}
