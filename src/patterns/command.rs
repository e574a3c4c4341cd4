//! `openfeedback patterns list|show|test`: see the loaded patterns, and which one fires on a
//! recording or a screen dump, and why the others do not.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::replay::{Frame, parse_timing, replay, replay_at, screen_from_dump};
use super::{LoadOptions, Pattern, PatternSet, SubjectRule, load};
use crate::cli::{PatternsArgs, PatternsCommand};
use crate::error::Error;
use crate::request::Verdict;
use crate::wrap::detect::{Detector, Match, Miss};

/// How many near misses `test` reports when nothing fires.
const CLOSEST: usize = 3;

pub fn run(args: &PatternsArgs) -> Result<u8, Error> {
    let agent = match &args.command {
        PatternsCommand::Test { agent, .. } => agent.clone(),
        _ => None,
    };
    let set = load(&LoadOptions {
        extra: args.patterns.clone(),
        agent,
        ..LoadOptions::default()
    })?;
    let mut out = String::new();
    let code = match &args.command {
        PatternsCommand::List => {
            list(&set, &mut out);
            0
        }
        PatternsCommand::Show { name } => {
            let found = set.find(name);
            if found.is_empty() {
                return Err(Error::Usage(format!(
                    "no pattern named {name:?} (see `openfeedback patterns list`)"
                )));
            }
            for (i, pattern) in found.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                show(pattern, &mut out);
            }
            0
        }
        PatternsCommand::Test {
            file, size, timing, ..
        } => {
            let (source, frames) = screens(file, *size, timing.as_deref())?;
            test(set, file, &source, &frames, &mut out)
        }
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
    Ok(code)
}

fn list(set: &PatternSet, out: &mut String) {
    let rows: Vec<[String; 4]> = set
        .patterns()
        .map(|p| {
            [
                p.full_id.clone(),
                p.agent.clone(),
                p.source.to_string(),
                p.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["ID", "AGENT", "FILE", "DESCRIPTION"].map(str::to_owned);
    let width = |i: usize| {
        rows.iter()
            .chain([&header])
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn show(p: &Pattern, out: &mut String) {
    let _ = writeln!(out, "# {} (agent {}, {})", p.full_id, p.agent, p.source);
    let _ = writeln!(out, "{}\n", p.text);
    let _ = writeln!(out, "compiled:");
    let mut field = |name: &str, value: String| {
        let _ = writeln!(out, "  {name:<9} {value}");
    };
    field("question", format!("/{}/", p.question.as_str()));
    field("region", format!("bottom {} non-empty row(s)", p.region));
    field("cursor", p.cursor.name().to_owned());
    if !p.frame.is_empty() {
        field("frame", format!("{:?}", p.frame.iter().collect::<String>()));
    }
    if let Some(menu) = &p.menu {
        let continuation = menu.continuation.as_ref().map_or_else(
            || "rows indented under the label".to_owned(),
            |c| format!("/{}/", c.as_str()),
        );
        field(
            "menu",
            format!(
                "rows /{}/, continued by {continuation}, at least {} options, one marked",
                menu.row.as_str(),
                menu.min_options
            ),
        );
    }
    if let Some(footer) = &p.footer {
        field("footer", format!("/{}/", footer.as_str()));
    }
    if let Some(unless) = &p.unless {
        field("unless", format!("/{}/", unless.as_str()));
    }
    if let Some(above) = &p.above {
        field("above", format!("/{}/", above.as_str()));
    }
    let subject = match &p.subject {
        SubjectRule::None => "the `subject` group of the question, if any".to_owned(),
        SubjectRule::RowsAbove(n) => format!("up to {n} non-empty rows right above the question"),
        SubjectRule::BlockAbove(n) => {
            format!("the nearest block of non-empty rows above the question (up to {n})")
        }
        SubjectRule::Regex(re) => format!("first prompt row matching /{}/", re.as_str()),
    };
    field("subject", subject);
    field(
        "context",
        format!("{} rows above the question", p.context_rows),
    );
    let _ = writeln!(out, "  choices:");
    for c in &p.choices {
        let verdict = match (c.verdict, c.feedback) {
            (Verdict::Approve, _) => "approve",
            (Verdict::Reject, false) => "reject",
            (Verdict::Reject, true) => "reject+feedback",
        };
        let mut line = format!("    {:<8} {verdict:<15}", c.id);
        match &c.label {
            Some(label) => {
                let _ = write!(line, " {label:?}");
            }
            None => line.push_str(" (label of the selected row)"),
        }
        if let Some(when) = &c.when {
            let _ = write!(line, "; when /{}/", when.as_str());
        }
        if let Some(unless) = &c.unless {
            let _ = write!(line, "; unless /{}/", unless.as_str());
        }
        if let Some(select) = &c.select {
            let _ = write!(line, "; select /{}/ then", select.as_str());
        }
        let _ = write!(line, "; keys {:?}", c.keys.source);
        if let Some(wait) = &c.wait_for {
            let _ = write!(
                line,
                "; wait for /{}/; then {:?}",
                wait.as_str(),
                c.then.source
            );
        }
        let _ = writeln!(out, "{line}");
    }
}

/// How a file was read.
enum Source {
    Dump,
    /// A recording, with the timing log used, if any.
    Recording(Option<std::path::PathBuf>),
}

/// The screens to evaluate: one for a dump, one per quiet point for a recording. The quiet
/// points come from `timing` (or `<file>.timing` next to a `.raw` file) when there is one.
fn screens(
    path: &Path,
    size: Option<(u16, u16)>,
    timing: Option<&Path>,
) -> Result<(Source, Vec<Frame>), Error> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| Error::Data(format!("cannot read {}: {e}", p.display())))
    };
    let bytes = read(path)?;
    let is_text = path.extension().is_some_and(|e| e == "txt");
    if let Ok(text) = std::str::from_utf8(&bytes)
        && (is_text || !text.contains('\x1b'))
    {
        let frame = Frame {
            offset: bytes.len(),
            screen: screen_from_dump(text),
        };
        return Ok((Source::Dump, vec![frame]));
    }
    let sibling = path.with_extension("timing");
    let timing_path = match timing {
        Some(t) => Some(t.to_owned()),
        None => sibling.is_file().then_some(sibling),
    };
    let timing = match &timing_path {
        Some(t) => {
            let text = String::from_utf8_lossy(&read(t)?).into_owned();
            Some(parse_timing(&text).map_err(|e| Error::Data(format!("{}: {e}", t.display())))?)
        }
        None => None,
    };
    // (columns, rows): the flag, else the timing log's header, else the headless default.
    let (cols, rows) = size
        .or_else(|| timing.as_ref().and_then(|t| t.size).map(|(r, c)| (c, r)))
        .unwrap_or((120, 40));
    let frames = match &timing {
        Some(t) => replay_at(&bytes, rows, cols, &t.points),
        None => replay(&bytes, rows, cols),
    };
    Ok((Source::Recording(timing_path), frames))
}

fn test(set: PatternSet, path: &Path, source: &Source, frames: &[Frame], out: &mut String) -> u8 {
    let is_dump = matches!(source, Source::Dump);
    let detector = Detector::new(set);
    let tried: Vec<&str> = detector
        .set()
        .active()
        .iter()
        .map(|p| p.full_id.as_str())
        .collect();
    let _ = writeln!(out, "{}: {}", path.display(), kind_of(source, frames));
    let _ = writeln!(out, "patterns tried, in order: {}", tried.join(", "));

    let mut fired = 0;
    let mut current = None;
    // Per pattern: the miss that got furthest, and where.
    let mut closest: HashMap<String, (Miss, usize)> = HashMap::new();
    for frame in frames {
        let results = detector.explain(&frame.screen);
        let hit = results
            .iter()
            .find_map(|(p, r)| r.as_ref().ok().map(|m| (p, m)));
        let fingerprint = hit.map(|(_, m)| m.fingerprint);
        if let Some((pattern, found)) = hit
            && fingerprint != current
        {
            fired += 1;
            report_fire(out, pattern, found, frame, is_dump);
        }
        current = fingerprint;
        if fired == 0 {
            for (pattern, result) in results {
                if let Err(miss) = result {
                    let better = closest
                        .get(&pattern.full_id)
                        .is_none_or(|(best, _)| miss.stage >= best.stage);
                    if better {
                        closest.insert(pattern.full_id.clone(), (miss, frame.offset));
                    }
                }
            }
        }
    }
    if fired > 0 {
        let _ = writeln!(out, "\n{fired} prompt(s) fired");
        return 0;
    }
    let _ = writeln!(out, "\nno pattern fired");
    let mut near: Vec<(String, Miss, usize)> = closest
        .into_iter()
        .map(|(id, (m, at))| (id, m, at))
        .collect();
    near.sort_by(|a, b| b.1.stage.cmp(&a.1.stage).then_with(|| a.0.cmp(&b.0)));
    if !near.is_empty() {
        let _ = writeln!(out, "closest:");
    }
    for (id, miss, offset) in near.into_iter().take(CLOSEST) {
        let mut at = String::new();
        if !is_dump {
            let _ = write!(at, " at byte {offset}");
        }
        if let Some(row) = miss.row {
            let _ = write!(at, "{}row {row}", if at.is_empty() { " at " } else { ", " });
        }
        let _ = writeln!(out, "  {id}{at}: {}", miss.reason);
    }
    1
}

fn kind_of(source: &Source, frames: &[Frame]) -> String {
    match (source, frames.first()) {
        (Source::Dump, Some(f)) => format!(
            "screen dump, {} rows; no cursor in a dump, so it is assumed after the last \
             character of the last non-empty row (row {}, column {})",
            f.screen.rows.len(),
            f.screen.cursor.0,
            f.screen.cursor.1
        ),
        (Source::Recording(Some(timing)), _) => format!(
            "raw recording, {} screens evaluated where {} shows the output pausing for {} ms \
             or keys typed",
            frames.len(),
            timing.display(),
            super::replay::QUIET.as_millis()
        ),
        _ => format!(
            "raw recording without a timing log, {} screens evaluated (after each cursor \
             show, synchronized-update end, title or bell; before each cursor-position query; \
             every {} KiB; at the end)",
            frames.len(),
            super::replay::CHUNK / 1024
        ),
    }
}

fn report_fire(
    out: &mut String,
    pattern: &Arc<Pattern>,
    found: &Match,
    frame: &Frame,
    is_dump: bool,
) {
    let at = if is_dump {
        String::new()
    } else {
        format!(" at byte {}", frame.offset)
    };
    let _ = writeln!(
        out,
        "\nfired {}{at}, question on row {}",
        pattern.full_id, found.question_row
    );
    let _ = writeln!(out, "  question:    {}", found.question);
    if let Some(subject) = &found.subject {
        let _ = writeln!(out, "  subject:     {}", subject.replace('\n', " / "));
    }
    let choices: Vec<String> = found
        .choices
        .iter()
        .map(|c| {
            let verdict = match (c.verdict, c.asks_reason) {
                (Verdict::Approve, _) => "approve",
                (Verdict::Reject, false) => "reject",
                (Verdict::Reject, true) => "reject+feedback",
            };
            format!("{} {:?} ({verdict})", c.id, c.label)
        })
        .collect();
    let _ = writeln!(out, "  choices:     {}", choices.join(", "));
    if !found.options.is_empty() {
        let options: Vec<String> = found
            .options
            .iter()
            .map(|o| format!("{}{}", if o.focused { "> " } else { "" }, o.label))
            .collect();
        let _ = writeln!(out, "  menu:        {}", options.join(" | "));
    }
    let _ = writeln!(out, "  fingerprint: {:016x}", found.fingerprint);
    let _ = writeln!(out, "  context:");
    for line in found.context.lines() {
        let _ = writeln!(out, "{}", format!("    | {line}").trim_end());
    }
}
