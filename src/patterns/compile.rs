//! Validation: raw TOML structs into [`Pattern`]s with compiled regexes and parsed key specs.
//! Every problem is a [`PatternError`] naming the file, the line, the pattern and the reason.

use std::ops::Range;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};
use toml::Spanned;

use super::format::{RawChoice, RawFile, RawMenu, RawPattern, RawSubject};
use super::{PatternError, SourceName};
use crate::request::Verdict;
use crate::wrap::keys::KeySpec;

/// A regex compiled from a pattern file may not grow past this (a guard against patterns
/// that would make every screen evaluation slow).
const REGEX_SIZE_LIMIT: usize = 1 << 20;
const MAX_REGION: i64 = 200;
const DEFAULT_MENU_REGION: usize = 24;
const DEFAULT_CONTEXT_ROWS: usize = 12;
const DEFAULT_SUBJECT_ROWS: usize = 8;

/// One file after validation.
#[derive(Debug, Clone)]
pub struct PatternFile {
    /// File stem: the first half of every pattern's full id.
    pub stem: String,
    pub agent: String,
    pub description: Option<String>,
    pub commands: Vec<String>,
    pub source: SourceName,
    pub patterns: Vec<Arc<Pattern>>,
}

/// Where the cursor must be for a prompt to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorRule {
    /// On the question row, at or after its last character (a line prompt waiting for input).
    EndOfLine,
    /// Anywhere on the question row.
    QuestionRow,
    /// On the question row or below it.
    InRegion,
    Any,
}

impl CursorRule {
    pub fn name(self) -> &'static str {
        match self {
            CursorRule::EndOfLine => "end-of-line",
            CursorRule::QuestionRow => "question-row",
            CursorRule::InRegion => "in-region",
            CursorRule::Any => "any",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Menu {
    pub row: Regex,
    pub continuation: Option<Regex>,
    pub min_options: usize,
}

#[derive(Debug, Clone)]
pub enum SubjectRule {
    None,
    /// The contiguous non-empty rows directly above the question.
    RowsAbove(usize),
    /// The nearest block of non-empty rows above the question (blank rows between skipped).
    BlockAbove(usize),
    /// The first row of the prompt (context rows, question, rows below) that matches.
    Regex(Regex),
}

/// One answer of a pattern.
#[derive(Debug, Clone)]
pub struct ChoiceSpec {
    pub id: String,
    /// `None` for a menu answer without a label: the selected row's label is shown.
    pub label: Option<String>,
    pub verdict: Verdict,
    pub feedback: bool,
    pub when: Option<Regex>,
    /// Not offered when a row of the prompt matches.
    pub unless: Option<Regex>,
    pub select: Option<Regex>,
    pub keys: KeySpec,
    pub wait_for: Option<Regex>,
    pub then: KeySpec,
}

/// A validated pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub id: String,
    /// `<file stem>/<id>`.
    pub full_id: String,
    pub agent: String,
    pub source: SourceName,
    pub description: Option<String>,
    pub kind: Option<String>,
    pub question: Regex,
    pub region: usize,
    pub cursor: CursorRule,
    pub frame: Vec<char>,
    pub footer: Option<Regex>,
    pub unless: Option<Regex>,
    /// A row of the `context_rows` above the question must match (a dialog's title).
    pub above: Option<Regex>,
    pub context_rows: usize,
    pub menu: Option<Menu>,
    pub subject: SubjectRule,
    pub choices: Vec<ChoiceSpec>,
    /// The `[[pattern]]` block as written, for `patterns show`.
    pub text: String,
}

/// Parse and validate one file. `stem` names the file (`generic`), `source` says where it is.
pub fn compile_file(
    stem: &str,
    source: &SourceName,
    text: &str,
) -> Result<PatternFile, PatternError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| s.start);
        PatternError {
            source: source.clone(),
            line: at.map(|a| line_of(text, a)),
            pattern: at.and_then(|a| pattern_id_before(text, a)),
            message: e.message().trim().to_owned(),
        }
    })?;
    let file_error = |span: Range<usize>, message: String| PatternError {
        source: source.clone(),
        line: Some(line_of(text, span.start)),
        pattern: None,
        message,
    };
    let agent = match &raw.agent {
        Some(a) if !is_name(a.get_ref()) => {
            return Err(file_error(
                a.span(),
                format!(
                    "agent {:?} must be lower-case letters, digits, `-` or `_`",
                    a.get_ref()
                ),
            ));
        }
        Some(a) => a.get_ref().clone(),
        None => stem.to_owned(),
    };
    let mut commands = Vec::new();
    for c in &raw.commands {
        let name = c.get_ref().trim();
        if name.is_empty() || name.contains('/') {
            return Err(file_error(
                c.span(),
                format!(
                    "command {:?} must be a program name without a path",
                    c.get_ref()
                ),
            ));
        }
        commands.push(name.to_owned());
    }
    let mut patterns: Vec<Arc<Pattern>> = Vec::new();
    for raw_pattern in &raw.pattern {
        let ctx = Ctx {
            source,
            text,
            pattern: raw_pattern.get_ref().id.get_ref().clone(),
        };
        let pattern = compile_pattern(&ctx, stem, &agent, raw_pattern)?;
        if patterns.iter().any(|p| p.id == pattern.id) {
            return Err(ctx.fail(
                &raw_pattern.get_ref().id,
                "duplicate pattern id in this file".into(),
            ));
        }
        patterns.push(Arc::new(pattern));
    }
    Ok(PatternFile {
        stem: stem.to_owned(),
        agent,
        description: raw.description,
        commands,
        source: source.clone(),
        patterns,
    })
}

/// What every error inside one pattern needs.
struct Ctx<'a> {
    source: &'a SourceName,
    text: &'a str,
    pattern: String,
}

impl Ctx<'_> {
    fn fail<T>(&self, at: &Spanned<T>, message: String) -> PatternError {
        PatternError {
            source: self.source.clone(),
            line: Some(line_of(self.text, at.span().start)),
            pattern: Some(self.pattern.clone()),
            message,
        }
    }

    fn regex(&self, key: &str, value: &Spanned<String>) -> Result<Regex, PatternError> {
        RegexBuilder::new(value.get_ref())
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| self.fail(value, format!("`{key}` is not a valid regex: {e}")))
    }

    fn opt_regex(
        &self,
        key: &str,
        value: Option<&Spanned<String>>,
    ) -> Result<Option<Regex>, PatternError> {
        value.map(|v| self.regex(key, v)).transpose()
    }

    fn count(&self, key: &str, value: &Spanned<i64>, max: i64) -> Result<usize, PatternError> {
        let n = *value.get_ref();
        if !(1..=max).contains(&n) {
            return Err(self.fail(
                value,
                format!("`{key}` must be between 1 and {max}, not {n}"),
            ));
        }
        Ok(usize::try_from(n).unwrap_or(1))
    }

    fn keys(&self, key: &str, value: &Spanned<String>) -> Result<KeySpec, PatternError> {
        KeySpec::parse(value.get_ref())
            .map_err(|e| self.fail(value, format!("`{key}` = {:?}: {e}", value.get_ref())))
    }
}

fn compile_pattern(
    ctx: &Ctx<'_>,
    stem: &str,
    agent: &str,
    spanned: &Spanned<RawPattern>,
) -> Result<Pattern, PatternError> {
    let raw = spanned.get_ref();
    let id = raw.id.get_ref();
    if !is_name(id) || id.len() > 64 {
        return Err(ctx.fail(
            &raw.id,
            format!("pattern id {id:?} must be 1-64 lower-case letters, digits, `-` or `_`"),
        ));
    }
    let question = ctx.regex("question", &raw.question)?;
    if question.is_match("") {
        return Err(ctx.fail(
            &raw.question,
            "`question` matches an empty row, so it would match any screen".into(),
        ));
    }
    let menu = raw
        .menu
        .as_ref()
        .map(|m| compile_menu(ctx, m))
        .transpose()?;
    let region = match &raw.region {
        Some(r) => ctx.count("region", r, MAX_REGION)?,
        None if menu.is_some() => DEFAULT_MENU_REGION,
        None => 1,
    };
    let cursor = match &raw.cursor {
        None if menu.is_some() => CursorRule::Any,
        None => CursorRule::EndOfLine,
        Some(c) => match c.get_ref().as_str() {
            "end-of-line" => CursorRule::EndOfLine,
            "question-row" => CursorRule::QuestionRow,
            "in-region" => CursorRule::InRegion,
            "any" => CursorRule::Any,
            other => {
                return Err(ctx.fail(
                    c,
                    format!(
                        "unknown cursor rule {other:?} (expected \"end-of-line\", \
                         \"question-row\", \"in-region\" or \"any\")"
                    ),
                ));
            }
        },
    };
    let frame: Vec<char> = match &raw.frame {
        Some(f)
            if f.get_ref()
                .chars()
                .any(|c| c.is_alphanumeric() || c.is_whitespace()) =>
        {
            return Err(ctx.fail(
                f,
                "`frame` lists box-drawing characters; letters, digits and spaces cannot be frames"
                    .into(),
            ));
        }
        Some(f) => f.get_ref().chars().collect(),
        None => Vec::new(),
    };
    let context_rows = match &raw.context_rows {
        Some(n) => ctx.count("context_rows", n, MAX_REGION)?,
        None => DEFAULT_CONTEXT_ROWS,
    };
    let subject = raw
        .subject
        .as_ref()
        .map_or(Ok(SubjectRule::None), |s| compile_subject(ctx, s))?;

    let mut choices: Vec<ChoiceSpec> = Vec::new();
    for choice in &raw.choice {
        let spec = compile_choice(ctx, choice, menu.is_some())?;
        if choices.iter().any(|c| c.id == spec.id) {
            return Err(ctx.fail(
                &choice.get_ref().id,
                format!("duplicate choice id {:?}", spec.id),
            ));
        }
        choices.push(spec);
    }
    for (verdict, word) in [(Verdict::Approve, "approve"), (Verdict::Reject, "reject")] {
        if !choices.iter().any(|c| c.verdict == verdict) {
            return Err(ctx.fail(
                &raw.id,
                format!("no {word} choice: add a [[pattern.choice]] with verdict = \"{word}\""),
            ));
        }
    }

    Ok(Pattern {
        id: id.clone(),
        full_id: format!("{stem}/{id}"),
        agent: agent.to_owned(),
        source: ctx.source.clone(),
        description: raw.description.clone(),
        kind: raw.kind.clone(),
        question,
        region,
        cursor,
        frame,
        footer: ctx.opt_regex("footer", raw.footer.as_ref())?,
        unless: ctx.opt_regex("unless", raw.unless.as_ref())?,
        above: ctx.opt_regex("above", raw.above.as_ref())?,
        context_rows,
        menu,
        subject,
        choices,
        text: block_text(ctx.text, spanned.span()),
    })
}

fn compile_menu(ctx: &Ctx<'_>, raw: &RawMenu) -> Result<Menu, PatternError> {
    let row = ctx.regex("menu.row", &raw.row)?;
    if !row.capture_names().any(|n| n == Some("label")) {
        return Err(ctx.fail(
            &raw.row,
            "`menu.row` needs a `(?P<label>...)` group for the option's label".into(),
        ));
    }
    if row.is_match("") {
        return Err(ctx.fail(&raw.row, "`menu.row` matches an empty row".into()));
    }
    let continuation = ctx.opt_regex("menu.continuation", raw.continuation.as_ref())?;
    let min_options = match &raw.min_options {
        Some(n) => ctx.count("menu.min_options", n, 50)?,
        None => 2,
    };
    Ok(Menu {
        row,
        continuation,
        min_options,
    })
}

fn compile_subject(ctx: &Ctx<'_>, raw: &RawSubject) -> Result<SubjectRule, PatternError> {
    let max = match &raw.max_rows {
        Some(n) => ctx.count("subject.max_rows", n, MAX_REGION)?,
        None => DEFAULT_SUBJECT_ROWS,
    };
    match (&raw.from, &raw.regex) {
        (Some(from), None) => match from.get_ref().as_str() {
            "rows-above" => Ok(SubjectRule::RowsAbove(max)),
            "block-above" => Ok(SubjectRule::BlockAbove(max)),
            other => Err(ctx.fail(
                from,
                format!(
                    "unknown subject.from {other:?} (expected \"rows-above\" or \"block-above\")"
                ),
            )),
        },
        (None, Some(regex)) => Ok(SubjectRule::Regex(ctx.regex("subject.regex", regex)?)),
        (Some(from), Some(_)) => Err(ctx.fail(
            from,
            "[pattern.subject] takes either `from` or `regex`, not both".into(),
        )),
        (None, None) => Err(PatternError {
            source: ctx.source.clone(),
            line: None,
            pattern: Some(ctx.pattern.clone()),
            message: "[pattern.subject] needs `from` or `regex`".into(),
        }),
    }
}

fn compile_choice(
    ctx: &Ctx<'_>,
    spanned: &Spanned<RawChoice>,
    has_menu: bool,
) -> Result<ChoiceSpec, PatternError> {
    let raw = spanned.get_ref();
    let id = raw.id.get_ref();
    let valid_id = (1..=8).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid_id {
        return Err(ctx.fail(
            &raw.id,
            format!("choice id {id:?} must be 1-8 characters of [a-z0-9_]"),
        ));
    }
    let verdict = match raw.verdict.get_ref().as_str() {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject,
        other => {
            return Err(ctx.fail(
                &raw.verdict,
                format!("choice {id:?}: verdict must be \"approve\" or \"reject\", not {other:?}"),
            ));
        }
    };
    let label = match &raw.label {
        Some(l) if l.get_ref().trim().is_empty() => {
            return Err(ctx.fail(l, format!("choice {id:?}: empty label")));
        }
        Some(l) => Some(l.get_ref().trim().to_owned()),
        None => None,
    };
    let select = ctx.opt_regex("select", raw.select.as_ref())?;
    if let (Some(at), false) = (&raw.select, has_menu) {
        return Err(ctx.fail(
            at,
            format!("choice {id:?} selects a menu row, but the pattern has no [pattern.menu]"),
        ));
    }
    if label.is_none() && select.is_none() {
        return Err(ctx.fail(&raw.id, format!("choice {id:?} needs a `label`")));
    }
    let keys = match (&raw.keys, &select) {
        (Some(k), _) => ctx.keys("keys", k)?,
        (None, Some(_)) => KeySpec::parse("<enter>").unwrap_or_default(),
        (None, None) => {
            return Err(ctx.fail(
                &raw.id,
                format!("choice {id:?} has no `keys` (and no `select`): nothing would be typed"),
            ));
        }
    };
    if keys.is_empty() {
        return Err(ctx.fail(
            raw.keys.as_ref().unwrap_or(&raw.id),
            format!("choice {id:?} has empty `keys`: nothing would be typed"),
        ));
    }
    let wait_for = ctx.opt_regex("wait_for", raw.wait_for.as_ref())?;
    let then = match &raw.then {
        Some(t) => ctx.keys("then", t)?,
        None => KeySpec::default(),
    };
    match (&raw.wait_for, &raw.then) {
        (Some(w), None) => {
            return Err(ctx.fail(w, format!("choice {id:?}: `wait_for` without `then`")));
        }
        (None, Some(t)) => {
            return Err(ctx.fail(
                t,
                format!("choice {id:?}: `then` without `wait_for` (put the keys in `keys`)"),
            ));
        }
        _ => {}
    }
    if let (Some(w), Some(re)) = (&raw.wait_for, &wait_for)
        && re.is_match("")
    {
        return Err(ctx.fail(w, format!("choice {id:?}: `wait_for` matches an empty row")));
    }
    let uses_feedback = keys.uses_feedback() || then.uses_feedback();
    if raw.feedback && verdict != Verdict::Reject {
        return Err(ctx.fail(
            &raw.id,
            format!("choice {id:?}: only a reject can take feedback"),
        ));
    }
    if raw.feedback && !uses_feedback {
        return Err(ctx.fail(
            &raw.id,
            format!("choice {id:?} takes feedback but its keys never type `{{feedback}}`"),
        ));
    }
    if !raw.feedback && uses_feedback {
        return Err(ctx.fail(
            &raw.id,
            format!("choice {id:?} types `{{feedback}}` but does not say `feedback = true`"),
        ));
    }
    Ok(ChoiceSpec {
        id: id.clone(),
        label,
        verdict,
        feedback: raw.feedback,
        when: ctx.opt_regex("when", raw.when.as_ref())?,
        unless: ctx.opt_regex("unless", raw.unless.as_ref())?,
        select,
        keys,
        wait_for,
        then,
    })
}

/// Lower-case letters, digits, `-`, `_`; not empty.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The 1-based line of byte offset `at`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .split(|&b| b == b'\n')
        .count()
}

/// The id of the `[[pattern]]` block that contains byte offset `at`, read from the text (used
/// for errors found before the pattern is parsed, such as an unknown key).
fn pattern_id_before(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let start = text[..at].rfind("[[pattern]]")?;
    let block_end = text[start + 11..]
        .find("[[pattern]]")
        .map_or(text.len(), |e| start + 11 + e);
    text[start..block_end].lines().find_map(|line| {
        let value = line
            .trim()
            .strip_prefix("id")?
            .trim_start()
            .strip_prefix('=')?
            .trim();
        let quoted = value
            .strip_prefix('"')
            .or_else(|| value.strip_prefix('\''))?;
        Some(quoted.split(['"', '\'']).next()?.to_owned())
    })
}

/// The text of the `[[pattern]]` block around `span`: from its header to the next
/// `[[pattern]]` header (or the end), without trailing blank lines.
fn block_text(text: &str, span: Range<usize>) -> String {
    const HEADER: &str = "[[pattern]]";
    let at = span.start.min(text.len());
    let start = if text.get(at..).is_some_and(|t| t.starts_with(HEADER)) {
        at
    } else {
        text.get(..at).and_then(|t| t.rfind(HEADER)).unwrap_or(at)
    };
    let body = start + HEADER.len().min(text.len() - start);
    let end = text
        .get(body..)
        .and_then(|t| t.find("\n[[pattern]]"))
        .map_or(text.len(), |e| body + e + 1);
    text.get(start..end)
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}
