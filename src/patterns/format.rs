//! A pattern file as written: raw TOML structs, checked only for shape. Unknown keys are
//! errors (a typo must not silently turn a rule off). [`super::compile`] turns these into
//! validated patterns. The format itself is documented in `patterns/README.md` and in
//! [`super`].

use serde::Deserialize;
use toml::Spanned;

/// One `patterns/<agent>.toml` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// The agent these patterns belong to (default: the file stem).
    pub agent: Option<Spanned<String>>,
    pub description: Option<String>,
    /// Command names (argv[0] basenames, or the package run by npx/node/python -m) that
    /// select this file under `wrap`.
    #[serde(default)]
    pub commands: Vec<Spanned<String>>,
    #[serde(default)]
    pub pattern: Vec<Spanned<RawPattern>>,
}

/// One `[[pattern]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPattern {
    pub id: Spanned<String>,
    pub description: Option<String>,
    /// The kind of prompt (`shell`, `edit`, `network`...), for rules and messages.
    pub kind: Option<String>,
    /// Regex over one screen row: the question line.
    pub question: Spanned<String>,
    /// How many non-empty rows at the bottom of the screen the prompt may occupy.
    pub region: Option<Spanned<i64>>,
    /// `end-of-line`, `question-row`, `in-region` or `any`.
    pub cursor: Option<Spanned<String>>,
    /// Characters of a box frame (`│`) stripped from both ends of every row before matching.
    pub frame: Option<Spanned<String>>,
    /// Regex a row below the question (and below the menu) must match.
    pub footer: Option<Spanned<String>>,
    /// Regex that, when it matches any row of the prompt, means "not this prompt".
    pub unless: Option<Spanned<String>>,
    /// Regex a row of the context above the question must match: a dialog's title.
    pub above: Option<Spanned<String>>,
    /// Rows above the question sent to the human as context.
    pub context_rows: Option<Spanned<i64>>,
    pub menu: Option<RawMenu>,
    pub subject: Option<RawSubject>,
    #[serde(default)]
    pub choice: Vec<Spanned<RawChoice>>,
}

/// `[pattern.menu]`: option rows below the question.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMenu {
    /// Regex for an option row: group `label` (required), `marker` (non-empty on the focused
    /// row).
    pub row: Spanned<String>,
    /// Regex for a row that continues the previous option's label (a wrapped line). Default:
    /// a row indented at least as far as the previous label starts.
    pub continuation: Option<Spanned<String>>,
    /// Fewer option rows than this and it is not this prompt (default 2).
    pub min_options: Option<Spanned<i64>>,
}

/// `[pattern.subject]`: what is being approved.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubject {
    /// `rows-above` or `block-above`.
    pub from: Option<Spanned<String>>,
    /// Regex over the prompt's rows; group `subject` or the whole match.
    pub regex: Option<Spanned<String>>,
    /// At most this many rows (default 8).
    pub max_rows: Option<Spanned<i64>>,
}

/// One `[[pattern.choice]]`: an answer, which becomes one button.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChoice {
    pub id: Spanned<String>,
    pub label: Option<Spanned<String>>,
    /// `approve` or `reject`.
    pub verdict: Spanned<String>,
    /// A reject that takes the human's free text (typed where `{feedback}` is).
    #[serde(default)]
    pub feedback: bool,
    /// Offered only when a row of the prompt matches this regex.
    pub when: Option<Spanned<String>>,
    /// Not offered when a row of the prompt matches this regex.
    pub unless: Option<Spanned<String>>,
    /// Menu answer: the option whose label matches this regex is selected (offered only when
    /// such a row exists).
    pub select: Option<Spanned<String>>,
    /// Keys typed (after the selection, for a menu answer: default `<enter>`).
    pub keys: Option<Spanned<String>>,
    /// After `keys`, wait until a row at the bottom of the screen matches this regex...
    pub wait_for: Option<Spanned<String>>,
    /// ...then type these keys.
    pub then: Option<Spanned<String>>,
}
