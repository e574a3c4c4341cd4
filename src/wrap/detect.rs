//! The detector: evaluates patterns on a settled screen and says which prompt is shown.
//!
//! # How one pattern is evaluated ([`evaluate`])
//!
//! 1. Rows are cleaned for this pattern: no-break spaces become spaces, the pattern's frame
//!    characters are stripped from both ends (so `│ ● 1. Allow once │` reads `● 1. Allow once`).
//! 2. The *region* is the bottom `region` non-empty rows (trailing empty rows skipped).
//!    Answered prompts stay in scrollback; looking only at the live bottom keeps them out.
//! 3. Candidate question rows are the region's rows matching `question`, bottom-up; the first
//!    candidate that passes every remaining check wins.
//! 4. Checks, in order: the cursor rule, `above` (a row of the context above the question,
//!    such as a dialog's title), `unless`, the menu (enough option rows below the question, exactly
//!    one carrying the marker; wrapped rows joined), the footer, and that the choices offered
//!    on this screen (`when`, `unless`, `select`) include an approve and a reject.
//! 5. The question, subject and context are extracted; the fingerprint hashes the pattern id,
//!    question, subject and option labels, never the cursor, the focused row or anything above
//!    the prompt, so a redraw of the same prompt keeps its fingerprint.
//!
//! A failed evaluation is a [`Miss`] that says how far it got and why it stopped, which is what
//! `openfeedback patterns test` prints for the patterns that came closest.
//!
//! Nothing here may panic on any screen: rows are only indexed within bounds, strings are
//! sliced at match boundaries, and the cursor may lie anywhere.

use std::sync::Arc;

use unicode_width::UnicodeWidthStr;

use crate::patterns::{CursorRule, Menu, Pattern, PatternSet, SubjectRule};
use crate::request::Verdict;
use crate::wrap::plan::{ChoicePlan, Refused};
use crate::wrap::prompt::{AnswerPlan, Detect, Prompt, PromptChoice, ScreenView};

/// Finds prompts with a [`PatternSet`]'s active patterns.
#[derive(Debug, Clone)]
pub struct Detector {
    set: PatternSet,
}

impl Detector {
    pub fn new(set: PatternSet) -> Detector {
        Detector { set }
    }

    pub fn set(&self) -> &PatternSet {
        &self.set
    }

    /// Every active pattern's verdict on `screen`, in order (for `patterns test`).
    pub fn explain(&self, screen: &ScreenView) -> Vec<(Arc<Pattern>, Result<Match, Miss>)> {
        self.set
            .active()
            .iter()
            .map(|p| (Arc::clone(p), evaluate(p, screen)))
            .collect()
    }
}

impl Detect for Detector {
    fn detect(&mut self, screen: &ScreenView) -> Option<Prompt> {
        self.set.active().iter().find_map(|pattern| {
            evaluate(pattern, screen)
                .ok()
                .map(|m| m.into_prompt(pattern))
        })
    }

    fn plan(&self, prompt: &Prompt, choice: &str, feedback: Option<&str>) -> Box<dyn AnswerPlan> {
        let Some(pattern) = self
            .set
            .active()
            .iter()
            .find(|p| p.full_id == prompt.pattern)
        else {
            return Box::new(Refused(format!("no active pattern {}", prompt.pattern)));
        };
        let Some(spec) = pattern.choices.iter().find(|c| c.id == choice) else {
            return Box::new(Refused(format!(
                "pattern {} has no choice {choice:?}",
                pattern.full_id
            )));
        };
        if !prompt.choices.iter().any(|c| c.id == choice) {
            return Box::new(Refused(format!(
                "choice {choice:?} was not offered for this prompt"
            )));
        }
        Box::new(ChoicePlan::new(
            Arc::clone(pattern),
            spec.clone(),
            prompt,
            feedback.unwrap_or(""),
        ))
    }
}

/// One option row of a menu (continuation rows joined into its label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuOption {
    /// First screen row of the option.
    pub row: usize,
    /// Last screen row of the option (its continuation rows included).
    pub end_row: usize,
    pub label: String,
    /// The row carries the selection marker.
    pub focused: bool,
}

/// A pattern that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub question_row: usize,
    /// The last non-empty row of the screen (the bottom of the prompt).
    pub last_row: usize,
    pub question: String,
    pub subject: Option<String>,
    pub context: String,
    pub options: Vec<MenuOption>,
    pub choices: Vec<PromptChoice>,
    pub fingerprint: u64,
}

impl Match {
    pub fn into_prompt(self, pattern: &Pattern) -> Prompt {
        Prompt {
            pattern: pattern.full_id.clone(),
            agent: pattern.agent.clone(),
            kind: pattern.kind.clone(),
            question: self.question,
            subject: self.subject,
            context: self.context,
            choices: self.choices,
            fingerprint: self.fingerprint,
        }
    }

    /// The focused option, if the prompt is a menu.
    pub fn focused(&self) -> Option<usize> {
        self.options.iter().position(|o| o.focused)
    }
}

/// How far an evaluation got: later stages mean "closer to matching".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    NoQuestion,
    OutsideRegion,
    Cursor,
    Above,
    Unless,
    Menu,
    Footer,
    Choices,
}

/// Why a pattern did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    pub stage: Stage,
    /// The question row it was looking at, if any.
    pub row: Option<usize>,
    pub reason: String,
}

fn miss(stage: Stage, row: Option<usize>, reason: String) -> Miss {
    Miss { stage, row, reason }
}

/// Evaluate one pattern on a screen.
pub fn evaluate(pattern: &Pattern, screen: &ScreenView) -> Result<Match, Miss> {
    let clean: Vec<String> = screen
        .rows
        .iter()
        .map(|r| clean_row(r, &pattern.frame))
        .collect();
    let Some(last) = clean.iter().rposition(|r| !r.trim().is_empty()) else {
        return Err(miss(Stage::NoQuestion, None, "the screen is empty".into()));
    };
    let start = region_start(&clean, last, pattern.region);
    let mut best: Option<Miss> = None;
    for q in (start..=last).rev() {
        let Some(caps) = pattern.question.captures(&clean[q]) else {
            continue;
        };
        let found = Found {
            pattern,
            screen,
            clean: &clean,
            question_row: q,
            last,
        };
        match found.check(&caps) {
            Ok(m) => return Ok(m),
            Err(m) if best.as_ref().is_none_or(|b| m.stage > b.stage) => best = Some(m),
            Err(_) => {}
        }
    }
    if let Some(best) = best {
        return Err(best);
    }
    if let Some(q) = (0..start)
        .rev()
        .find(|&q| pattern.question.is_match(&clean[q]))
    {
        return Err(miss(
            Stage::OutsideRegion,
            Some(q),
            format!(
                "`question` matches row {q}, but the prompt must lie in the bottom {} non-empty \
                 row(s) (rows {start}-{last}): an answered prompt in scrollback?",
                pattern.region
            ),
        ));
    }
    Err(miss(
        Stage::NoQuestion,
        None,
        format!("no row of the bottom region (rows {start}-{last}) matches `question`"),
    ))
}

/// A question row found; the remaining checks.
struct Found<'a> {
    pattern: &'a Pattern,
    screen: &'a ScreenView,
    clean: &'a [String],
    question_row: usize,
    last: usize,
}

impl Found<'_> {
    fn check(&self, caps: &regex::Captures<'_>) -> Result<Match, Miss> {
        let q = self.question_row;
        let at = Some(q);
        self.check_cursor()?;
        let top = q.saturating_sub(self.pattern.context_rows);
        if let Some(above) = &self.pattern.above
            && !(top..q).any(|r| above.is_match(&self.clean[r]))
        {
            return Err(miss(
                Stage::Above,
                at,
                format!(
                    "no row of the context above the question (rows {top}-{q}) matches `above`"
                ),
            ));
        }
        if let Some(unless) = &self.pattern.unless
            && let Some(r) = (q..=self.last).find(|&r| unless.is_match(&self.clean[r]))
        {
            return Err(miss(Stage::Unless, at, format!("`unless` matches row {r}")));
        }
        let options = match &self.pattern.menu {
            Some(menu) => self.menu(menu)?,
            None => Vec::new(),
        };
        let below = options.last().map_or(q, |o| o.end_row);
        if let Some(footer) = &self.pattern.footer
            && !(below + 1..=self.last).any(|r| footer.is_match(&self.clean[r]))
        {
            return Err(miss(
                Stage::Footer,
                at,
                format!("no row below row {below} matches `footer`"),
            ));
        }
        let choices = self.choices(&options)?;
        let question = caps
            .name("question")
            .map_or(self.clean[q].as_str(), |m| m.as_str())
            .trim()
            .to_owned();
        let subject = caps
            .name("subject")
            .map(|m| m.as_str().trim().to_owned())
            .filter(|s| !s.is_empty())
            .or_else(|| self.subject());
        let fingerprint = fingerprint(
            &self.pattern.full_id,
            &question,
            subject.as_deref(),
            options.iter().map(|o| o.label.as_str()),
        );
        Ok(Match {
            question_row: q,
            last_row: self.last,
            question,
            subject,
            context: self.context(),
            options,
            choices,
            fingerprint,
        })
    }

    fn check_cursor(&self) -> Result<(), Miss> {
        let q = self.question_row;
        let (row, col) = (
            usize::from(self.screen.cursor.0),
            usize::from(self.screen.cursor.1),
        );
        let end = self.screen.rows.get(q).map_or(0, |r| r.trim_end().width());
        let ok = match self.pattern.cursor {
            CursorRule::EndOfLine => row == q && col >= end,
            CursorRule::QuestionRow => row == q,
            CursorRule::InRegion => row >= q,
            CursorRule::Any => true,
        };
        if ok {
            return Ok(());
        }
        let wanted = match self.pattern.cursor {
            CursorRule::EndOfLine => format!("at the end of row {q} (column {end} or later)"),
            CursorRule::QuestionRow => format!("on row {q}"),
            _ => format!("on row {q} or below"),
        };
        Err(miss(
            Stage::Cursor,
            Some(q),
            format!(
                "cursor rule `{}`: the cursor is at row {row}, column {col}, not {wanted}",
                self.pattern.cursor.name()
            ),
        ))
    }

    /// The option rows below the question: the first row matching `menu.row` starts the
    /// menu; it goes on over option rows and continuation rows and ends at a blank row or
    /// any other row.
    fn menu(&self, menu: &Menu) -> Result<Vec<MenuOption>, Miss> {
        let at = Some(self.question_row);
        let mut options: Vec<MenuOption> = Vec::new();
        let mut label_col = 0;
        for r in self.question_row + 1..=self.last {
            let row = &self.clean[r];
            if let Some(label) = menu.row.captures(row).and_then(|c| {
                let label = c.name("label")?;
                let focused = c
                    .name("marker")
                    .is_some_and(|m| !m.as_str().trim().is_empty());
                Some((label.start(), label.as_str().trim().to_owned(), focused))
            }) {
                label_col = row.get(..label.0).map_or(0, UnicodeWidthStr::width);
                options.push(MenuOption {
                    row: r,
                    end_row: r,
                    label: label.1,
                    focused: label.2,
                });
                continue;
            }
            let Some(option) = options.last_mut() else {
                continue;
            };
            if row.trim().is_empty() {
                break;
            }
            let continues = match &menu.continuation {
                Some(re) => re.is_match(row),
                None => label_col > 0 && indent(row) >= label_col,
            };
            if !continues {
                break;
            }
            option.label.push(' ');
            option.label.push_str(row.trim());
            option.end_row = r;
        }
        if options.len() < menu.min_options {
            return Err(miss(
                Stage::Menu,
                at,
                format!(
                    "{} option row(s) below the question match `menu.row`; at least {} needed",
                    options.len(),
                    menu.min_options
                ),
            ));
        }
        match options.iter().filter(|o| o.focused).count() {
            1 => Ok(options),
            0 => Err(miss(
                Stage::Menu,
                at,
                "no option row carries the selection marker (the `marker` group)".into(),
            )),
            n => Err(miss(
                Stage::Menu,
                at,
                format!("{n} option rows carry the selection marker; expected one"),
            )),
        }
    }

    /// The choices offered on this screen.
    fn choices(&self, options: &[MenuOption]) -> Result<Vec<PromptChoice>, Miss> {
        let rows = &self.clean[self.question_row..=self.last];
        let mut offered = Vec::new();
        for spec in &self.pattern.choices {
            if let Some(when) = &spec.when
                && !rows.iter().any(|r| when.is_match(r))
            {
                continue;
            }
            if let Some(unless) = &spec.unless
                && rows.iter().any(|r| unless.is_match(r))
            {
                continue;
            }
            let selected = match &spec.select {
                Some(select) => match options.iter().find(|o| select.is_match(&o.label)) {
                    Some(o) => Some(o),
                    None => continue,
                },
                None => None,
            };
            let label = spec
                .label
                .clone()
                .or_else(|| selected.map(|o| o.label.clone()))
                .unwrap_or_else(|| spec.id.clone());
            offered.push(PromptChoice {
                id: spec.id.clone(),
                label,
                verdict: spec.verdict,
                asks_reason: spec.feedback,
            });
        }
        for (verdict, word) in [(Verdict::Approve, "approve"), (Verdict::Reject, "reject")] {
            if !offered.iter().any(|c| c.verdict == verdict) {
                return Err(miss(
                    Stage::Choices,
                    Some(self.question_row),
                    format!(
                        "no {word} choice is offered on this screen (their `when`, `unless` \
                         or `select` rule this screen out)"
                    ),
                ));
            }
        }
        Ok(offered)
    }

    fn subject(&self) -> Option<String> {
        let q = self.question_row;
        let rows = |range: std::ops::Range<usize>| {
            let text: Vec<&str> = self.clean[range].iter().map(|r| r.trim()).collect();
            Some(text.join("\n")).filter(|s| !s.is_empty())
        };
        match &self.pattern.subject {
            SubjectRule::None => None,
            SubjectRule::RowsAbove(max) => {
                let top = block_top(self.clean, q, *max);
                rows(top..q)
            }
            SubjectRule::BlockAbove(max) => {
                let bottom = (0..q).rev().find(|&r| !is_separator(&self.clean[r]))? + 1;
                let top = block_top(self.clean, bottom, *max);
                rows(top..bottom)
            }
            SubjectRule::Regex(re) => {
                let top = q.saturating_sub(self.pattern.context_rows);
                self.clean[top..=self.last].iter().find_map(|row| {
                    let caps = re.captures(row)?;
                    let m = caps.name("subject").or_else(|| caps.get(0))?;
                    Some(m.as_str().trim().to_owned()).filter(|s| !s.is_empty())
                })
            }
        }
    }

    /// `context_rows` rows above the question, the question and everything below it, with
    /// leading blank rows dropped.
    fn context(&self) -> String {
        let top = self.question_row.saturating_sub(self.pattern.context_rows);
        let rows = &self.clean[top..=self.last];
        let first = rows.iter().position(|r| !r.trim().is_empty()).unwrap_or(0);
        rows[first..].join("\n")
    }
}

/// The first row of the contiguous rows ending just above `below` that are not separators
/// (at most `max`).
fn block_top(clean: &[String], below: usize, max: usize) -> usize {
    let mut top = below;
    while top > 0 && below - top < max && !is_separator(&clean[top - 1]) {
        top -= 1;
    }
    top
}

/// A row that separates blocks: blank, or a rule drawn only with box-drawing and block
/// characters (`────`, `╌╌╌╌`, `╰──╯`, `▀▀▀▀`), as TUIs draw between a dialog's parts.
fn is_separator(row: &str) -> bool {
    row.chars()
        .all(|c| c.is_whitespace() || ('\u{2500}'..='\u{259f}').contains(&c))
}

/// The index of the `region`-th non-empty row counted up from `last`.
fn region_start(clean: &[String], last: usize, region: usize) -> usize {
    let mut seen = 0;
    for r in (0..=last).rev() {
        if !clean[r].trim().is_empty() {
            seen += 1;
            if seen >= region {
                return r;
            }
        }
    }
    0
}

/// A row as patterns see it: no-break spaces as spaces, the frame stripped, right-trimmed.
pub fn clean_row(row: &str, frame: &[char]) -> String {
    let mut s = row.replace('\u{a0}', " ").trim_end().to_owned();
    if frame.is_empty() {
        return s;
    }
    while let Some(c) = s.chars().next_back().filter(|c| frame.contains(c)) {
        s.truncate(s.len() - c.len_utf8());
        s.truncate(s.trim_end().len());
    }
    loop {
        let trimmed = s.trim_start();
        let Some(c) = trimmed.chars().next().filter(|c| frame.contains(c)) else {
            break;
        };
        let rest = &trimmed[c.len_utf8()..];
        s = rest.strip_prefix(' ').unwrap_or(rest).to_owned();
    }
    s
}

/// Display columns of leading whitespace.
fn indent(row: &str) -> usize {
    row.len() - row.trim_start().len()
}

/// FNV-1a over the prompt's identity: stable across runs and builds (unlike `DefaultHasher`),
/// so `patterns test` output and audit records can be compared.
fn fingerprint<'a>(
    pattern: &str,
    question: &str,
    subject: Option<&str>,
    labels: impl Iterator<Item = &'a str>,
) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    feed(pattern.as_bytes());
    feed(question.as_bytes());
    feed(subject.unwrap_or("").as_bytes());
    for label in labels {
        feed(label.as_bytes());
    }
    hash
}

#[cfg(test)]
mod tests;
