//! Rules and decisions as text, for `openfeedback rules test|list|trust` and for the y/N
//! question `wrap` asks about an untrusted project file.

use std::fmt::Write as _;

use super::{
    Action, By, Decision, Item, ItemVerdict, Layer, Policy, ProjectStatus, Rule, SubjectMatch,
};
use crate::wrap::prompt::Prompt;

/// One line: what a rule matches and what it does.
pub fn rule_line(rule: &Rule) -> String {
    let mut parts = vec![format!("{:<7}", rule.action.name())];
    let list = |items: Vec<String>| {
        items
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !rule.agents.is_empty() {
        parts.push(format!(
            "agent {}",
            list(rule.agents.iter().map(|g| g.source.clone()).collect())
        ));
    }
    if !rule.patterns.is_empty() {
        parts.push(format!(
            "pattern {}",
            list(rule.patterns.iter().map(|g| g.source.clone()).collect())
        ));
    }
    if !rule.kinds.is_empty() {
        parts.push(format!("kind {}", list(rule.kinds.clone())));
    }
    if let Some(q) = &rule.question {
        parts.push(format!("question /{}/", q.as_str()));
    }
    match &rule.subject {
        SubjectMatch::Any => {}
        SubjectMatch::Commands(p) => parts.push(format!(
            "command {}",
            list(p.iter().map(|p| p.source.clone()).collect())
        )),
        SubjectMatch::Paths(p) => parts.push(format!(
            "path {}",
            list(p.iter().map(|p| p.source.clone()).collect())
        )),
        SubjectMatch::Hosts(p) => parts.push(format!(
            "host {}",
            list(p.iter().map(|p| p.source.clone()).collect())
        )),
    }
    if let Some(choice) = &rule.choice {
        parts.push(format!("choice {choice:?}"));
    }
    if let Some(message) = &rule.message {
        parts.push(format!("message {message:?}"));
    }
    parts.join("  ")
}

fn verdict_word(verdict: ItemVerdict) -> &'static str {
    match verdict {
        ItemVerdict::Reject => "reject",
        ItemVerdict::Ask => "ask",
        ItemVerdict::Approve => "approve",
        ItemVerdict::Neutral => "ok",
        ItemVerdict::NoRule => "no rule",
    }
}

/// Where the rules come from, in a few lines.
pub fn sources(policy: &Policy, out: &mut String) {
    let config: Vec<&Rule> = policy
        .rules
        .iter()
        .filter(|r| r.origin.layer == Layer::Config)
        .collect();
    let project = policy.rules.len() - config.len();
    let config_file = config
        .first()
        .and_then(|r| r.origin.path.as_ref())
        .map(|p| format!(" from {}", policy.ctx.show(p)))
        .unwrap_or_default();
    let _ = writeln!(out, "project:  {}", policy.ctx.show(&policy.ctx.project));
    let _ = writeln!(
        out,
        "rules:    {} in your config{config_file}",
        config.len()
    );
    match &policy.project {
        ProjectStatus::None => {
            let _ = writeln!(
                out,
                "          no {} in the project",
                super::project::FILE_NAME
            );
        }
        ProjectStatus::Trusted(path) => {
            let _ = writeln!(
                out,
                "          {project} in {} (trusted)",
                policy.ctx.show(path)
            );
        }
        ProjectStatus::Untrusted { path, changed } => {
            let _ = writeln!(
                out,
                "          {} is IGNORED: {} (run `openfeedback rules trust` to use it)",
                policy.ctx.show(path),
                if *changed {
                    "it changed since you trusted it"
                } else {
                    "not trusted yet"
                }
            );
        }
    }
    let on = policy.builtins().count();
    let _ = writeln!(
        out,
        "          {on} built-in guards{}",
        if policy.disabled.is_empty() {
            String::new()
        } else {
            format!(
                ", {} turned off: {}",
                policy.disabled.len(),
                disabled_list(policy)
            )
        }
    );
}

fn disabled_list(policy: &Policy) -> String {
    policy
        .disabled
        .iter()
        .map(|d| match (&d.path, d.line) {
            (Some(p), Some(line)) => format!(
                "{} ({}:{line})",
                d.id,
                p.file_name().map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            ),
            _ => d.id.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn hit_lines(policy: &Policy, hits: &[super::Hit], out: &mut String) {
    for hit in hits {
        let _ = writeln!(
            out,
            "       {:<8} {}: {}",
            hit.action.name(),
            policy.label(&hit.by),
            hit.why
        );
    }
}

fn item_lines(policy: &Policy, n: usize, item: &Item, out: &mut String) {
    let _ = writeln!(out, "  {n}. {}", item.text);
    if item.hits.is_empty() {
        let _ = writeln!(
            out,
            "       {:<8} {}",
            verdict_word(item.verdict),
            item.note.as_deref().unwrap_or(match item.verdict {
                ItemVerdict::Neutral => "runs nothing that needs a rule",
                _ => "no rule matches",
            })
        );
    } else {
        hit_lines(policy, &item.hits, out);
        if let Some(note) = &item.note {
            let _ = writeln!(out, "       note     {note}");
        }
        let _ = writeln!(out, "       => {}", verdict_word(item.verdict));
    }
}

/// The full explanation `rules test` prints.
pub fn report(policy: &Policy, prompt: &Prompt, decision: &Decision) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "prompt:   agent {}, kind {}{}",
        prompt.agent,
        prompt.kind.as_deref().unwrap_or("(none)"),
        if prompt.pattern.is_empty() {
            String::new()
        } else {
            format!(", pattern {}", prompt.pattern)
        }
    );
    if let Some(subject) = &prompt.subject {
        let _ = writeln!(out, "subject:  {}", subject.replace('\n', "\n          "));
    }
    sources(policy, &mut out);
    out.push('\n');
    if let Some(note) = &decision.subject_note {
        let _ = writeln!(out, "subject {note}:");
    }
    for (i, item) in decision.items.iter().enumerate() {
        item_lines(policy, i + 1, item, &mut out);
    }
    if !decision.prompt_hits.is_empty() {
        let _ = writeln!(out, "rules on the whole prompt:");
        hit_lines(policy, &decision.prompt_hits, &mut out);
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "decision: {} — {}",
        decision.action.name().to_uppercase(),
        decision.reason
    );
    if decision.action == Action::Ask {
        let _ = writeln!(out, "          a human is asked (paged)");
    } else {
        let _ = write!(
            out,
            "          answer {:?}",
            decision.choice.clone().unwrap_or_default()
        );
        match &decision.feedback {
            Some(message) => {
                let _ = writeln!(out, ", typing the message {message:?}");
            }
            None => out.push('\n'),
        }
    }
    if !policy.disabled.is_empty() {
        let _ = writeln!(out, "built-in guards off: {}", disabled_list(policy));
    }
    out
}

/// `rules list`: every rule in evaluation order, then the guards.
pub fn list(policy: &Policy) -> String {
    let mut out = String::new();
    sources(policy, &mut out);
    out.push('\n');
    if policy.rules.is_empty() {
        let _ = writeln!(
            out,
            "no rules: every prompt is asked (except what the guards refuse)"
        );
    }
    for (i, rule) in policy.rules.iter().enumerate() {
        let _ = writeln!(out, "{}", policy.label(&By::Rule(i)));
        let _ = writeln!(out, "    {}", rule_line(rule));
    }
    out.push('\n');
    let _ = writeln!(out, "built-in guards:");
    for b in super::builtin::BUILTINS {
        let off = policy.disabled.iter().any(|d| d.id == b.id);
        let _ = writeln!(
            out,
            "  {:<22} {}{}",
            b.id,
            if off { "[OFF] " } else { "" },
            b.summary
        );
    }
    out
}

/// The rules of a project file, for the user deciding whether to trust it.
pub fn candidate(candidate: &super::project::Candidate<'_>) -> String {
    let mut out = String::new();
    match candidate.rules {
        Ok(rules) if rules.is_empty() => {
            let _ = writeln!(out, "  (no rules)");
        }
        Ok(rules) => {
            for rule in rules {
                let _ = writeln!(out, "  {}", rule_line(rule));
            }
        }
        Err(e) => {
            let _ = writeln!(out, "  {e}");
        }
    }
    out
}
