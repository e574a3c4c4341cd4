//! Answer rules: routine prompts answered by policy, only risky ones page a human.
//!
//! # Theory of operation
//!
//! A [`Policy`] is the rules in force for one session, in three layers:
//!
//! 1. `[[rule]]` entries of the user's config file;
//! 2. `[[rule]]` entries of the project's `.openfeedback.toml` (the nearest one between the
//!    working directory and the repository root), **only once the user has trusted that exact
//!    file** (path and SHA-256 of its contents, recorded in the data directory): a cloned
//!    repository cannot approve its own commands, and a changed file must be trusted again;
//! 3. the built-in guards ([`builtin`]), which the user can extend with deny rules but only
//!    turn off one by one, by id, in their own config.
//!
//! [`Policy::decide`] judges one detected [`Prompt`]. Rules filter on the agent, the pattern,
//! the prompt's kind and its question, and match its **subject** by kind:
//!
//! | kind | subject | rule key |
//! |---|---|---|
//! | `shell` (`command`, `exec`, `bash`, `run`) | a command line, parsed ([`shell`], [`simple`]) | `command` |
//! | `edit` (`write`, `create`, `file`, `patch`, `read`, `delete`) | file paths, one per line | `path` |
//! | `network` (`fetch`, `web`, `url`, `host`, `connection`) | URLs or hosts | `host` |
//!
//! A command line is judged command by command: every simple command it would run (in
//! pipelines, lists, subshells, substitutions, `bash -c` bodies, behind `sudo`/`env`/`xargs`)
//! gets a verdict, and the line is approved only if **every** command is approved. The same
//! holds for several paths or hosts. For each item, and for rules without a subject key that
//! match the prompt as a whole, the strongest verdict wins: **reject > ask > approve**, so deny
//! rules beat allow rules, and an `ask` rule carves an exception out of a broad allow rule.
//! Nothing matching means ask, which is also what happens when the subject cannot be read
//! (a line the parser refuses, a prompt whose pattern extracted no subject, a word only known
//! at run time, a path outside the project).
//!
//! The result is a [`Decision`]: the action, the prompt's choice to type (and the message to
//! type with a rejection, where the agent takes feedback), what decided, and a per-item
//! explanation that `openfeedback rules test` prints.

pub mod builtin;
pub mod command;
mod compile;
pub mod context;
pub mod explain;
pub mod glob;
pub mod project;
pub mod shell;
pub mod simple;

pub use compile::{RawRule, RawRulesSection, compile_config_rules};
pub use context::Context;
pub use project::{ProjectFile, ProjectRules, TrustStore};

use std::fmt;
use std::path::PathBuf;

use regex::Regex;
use serde::Serialize;

use self::builtin::{Builtin, Finding, Guards};
use self::context::Target;
use self::glob::{CommandPattern, HostGlob, NameGlob, PathBase, PathGlob};
use self::simple::Simple;
use crate::request::Verdict;
use crate::wrap::prompt::Prompt;

/// What a rule says to do, and what a decision is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    // Ordered by strength: the strongest verdict wins.
    Approve,
    Ask,
    Reject,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Ask => "ask",
            Action::Reject => "reject",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which file a rule was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The user's config file.
    Config,
    /// The project's `.openfeedback.toml`.
    Project,
}

/// Where a rule was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub layer: Layer,
    pub path: Option<PathBuf>,
    /// 1-based position among the file's `[[rule]]` entries.
    pub index: usize,
    pub line: Option<usize>,
}

/// What a rule's subject key matches.
#[derive(Debug, Clone)]
pub enum SubjectMatch {
    /// No subject key: the rule matches the prompt as a whole.
    Any,
    Commands(Vec<CommandPattern>),
    Paths(Vec<PathGlob>),
    Hosts(Vec<HostGlob>),
}

/// One `[[rule]]`, validated.
#[derive(Debug, Clone)]
pub struct Rule {
    pub origin: Origin,
    pub name: Option<String>,
    pub action: Action,
    /// Answer with this choice id (when the prompt offers it with the matching verdict).
    pub choice: Option<String>,
    /// For `reject`: typed as feedback where the agent takes some.
    pub message: Option<String>,
    pub agents: Vec<NameGlob>,
    pub patterns: Vec<NameGlob>,
    pub kinds: Vec<String>,
    pub question: Option<Regex>,
    pub subject: SubjectMatch,
}

impl Rule {
    /// `rule "tests" (config.toml:12)` or `rule #2 (.openfeedback.toml:7)`.
    pub fn label(&self) -> String {
        let name = match &self.name {
            Some(name) => format!("rule {name:?}"),
            None => format!("rule #{}", self.origin.index),
        };
        let file = self
            .origin
            .path
            .as_ref()
            .and_then(|p| p.file_name())
            .map_or_else(
                || match self.origin.layer {
                    Layer::Config => "config".to_owned(),
                    Layer::Project => ".openfeedback.toml".to_owned(),
                },
                |n| n.to_string_lossy().into_owned(),
            );
        match self.origin.line {
            Some(line) => format!("{name} ({file}:{line})"),
            None => format!("{name} ({file})"),
        }
    }

    /// The prompt-level filters (agent, pattern, kind, question) all match; `Err` says which
    /// one did not.
    fn filters(&self, prompt: &Prompt) -> Result<(), String> {
        if !self.agents.is_empty() && !self.agents.iter().any(|g| g.matches(&prompt.agent)) {
            return Err(format!("agent is {:?}", prompt.agent));
        }
        if !self.patterns.is_empty() && !self.patterns.iter().any(|g| g.matches(&prompt.pattern)) {
            return Err(format!("pattern is {:?}", prompt.pattern));
        }
        let kind = prompt.kind.as_deref().unwrap_or("");
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k == "*" || k == kind) {
            return Err(format!("kind is {kind:?}"));
        }
        let class = SubjectClass::of(prompt.kind.as_deref());
        let wanted = match self.subject {
            SubjectMatch::Any => None,
            SubjectMatch::Commands(_) => Some(SubjectClass::Command),
            SubjectMatch::Paths(_) => Some(SubjectClass::Path),
            SubjectMatch::Hosts(_) => Some(SubjectClass::Host),
        };
        if wanted.is_some_and(|w| w != class) {
            return Err(format!(
                "kind {kind:?} has no {} subject",
                wanted.map_or("", SubjectClass::key)
            ));
        }
        if let Some(question) = &self.question
            && !question.is_match(&prompt.question)
        {
            return Err("question does not match".into());
        }
        Ok(())
    }
}

/// How a prompt's subject is read, by its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectClass {
    Command,
    Path,
    Host,
    Other,
}

impl SubjectClass {
    pub fn of(kind: Option<&str>) -> SubjectClass {
        match kind.unwrap_or("") {
            "shell" | "command" | "exec" | "bash" | "run" | "terminal" => SubjectClass::Command,
            "edit" | "write" | "create" | "file" | "patch" | "read" | "delete" => {
                SubjectClass::Path
            }
            "network" | "fetch" | "web" | "url" | "host" | "connection" => SubjectClass::Host,
            _ => SubjectClass::Other,
        }
    }

    fn key(self) -> &'static str {
        match self {
            SubjectClass::Command => "command",
            SubjectClass::Path => "path",
            SubjectClass::Host => "host",
            SubjectClass::Other => "subject",
        }
    }
}

/// A built-in guard turned off, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    pub id: &'static str,
    pub path: Option<PathBuf>,
    pub line: Option<usize>,
}

/// The rules of the user's config file.
#[derive(Debug, Clone, Default)]
pub struct ConfigRules {
    pub rules: Vec<Rule>,
    pub disabled: Vec<Disabled>,
}

/// What the project file contributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectStatus {
    /// No `.openfeedback.toml` between the working directory and the repository root.
    None,
    /// Trusted: its rules are in force.
    Trusted(PathBuf),
    /// Not trusted (new, or changed since it was trusted): ignored.
    Untrusted { path: PathBuf, changed: bool },
}

/// The rules in force for a session.
pub struct Policy {
    pub rules: Vec<Rule>,
    pub disabled: Vec<Disabled>,
    pub project: ProjectStatus,
    pub ctx: Context,
    guards: Guards,
}

/// What decided, or took part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum By {
    /// The index into [`Policy::rules`].
    Rule(usize),
    Builtin(&'static str),
}

/// A rule or guard that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub by: By,
    pub action: Action,
    pub why: String,
}

/// The verdict on one item of the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemVerdict {
    Reject,
    Ask,
    Approve,
    /// Runs nothing that needs a rule (`cd`, `true`).
    Neutral,
    /// No rule matched.
    NoRule,
}

/// One command, path or host of the subject, and its verdict.
#[derive(Debug, Clone)]
pub struct Item {
    pub text: String,
    pub verdict: ItemVerdict,
    pub hits: Vec<Hit>,
    /// Why allow rules could not apply, if they could not.
    pub note: Option<String>,
    /// A rule on the whole prompt (no subject key) may approve it: it runs in the project,
    /// as written, with no word only known at run time.
    pub whole_approvable: bool,
}

/// The decision on one prompt.
#[derive(Debug, Clone)]
pub struct Decision {
    pub action: Action,
    /// The choice to type, for approve and reject.
    pub choice: Option<String>,
    /// The rule's message, typed with a rejection where the chosen answer takes feedback.
    pub feedback: Option<String>,
    /// What decided: the rejecting rule, the approving rules, the asking rule (empty: no rule).
    pub by: Vec<Hit>,
    /// One line: why.
    pub reason: String,
    pub items: Vec<Item>,
    /// Rules without a subject key that matched the prompt.
    pub prompt_hits: Vec<Hit>,
    /// How the subject was read (`parsed into 2 commands`, a parse error, ...).
    pub subject_note: Option<String>,
}

impl Policy {
    /// A policy from already-loaded parts.
    pub fn new(config: ConfigRules, project: ProjectRules, ctx: Context) -> Policy {
        let mut rules = config.rules;
        let status = project.status;
        rules.extend(project.rules);
        let guards = Guards::new(ctx.home.as_deref());
        Policy {
            rules,
            disabled: config.disabled,
            project: status,
            ctx,
            guards,
        }
    }

    /// The built-in guards in force.
    pub fn builtins(&self) -> impl Iterator<Item = &'static Builtin> + '_ {
        builtin::BUILTINS
            .iter()
            .filter(|b| !self.disabled.iter().any(|d| d.id == b.id))
    }

    fn enabled(&self, id: &str) -> bool {
        !self.disabled.iter().any(|d| d.id == id)
    }

    /// The message a hit carries (a rule's `message`, a guard's own).
    pub fn message(&self, hit: &Hit) -> Option<String> {
        match &hit.by {
            By::Rule(i) => self.rules[*i].message.clone(),
            By::Builtin(id) => builtin::find(id).map(|b| b.message.to_owned()),
        }
    }

    /// How a hit's source is named: `rule "tests" (config.toml:4)`, `built-in git-push-force`.
    pub fn label(&self, by: &By) -> String {
        match by {
            By::Rule(i) => self.rules[*i].label(),
            By::Builtin(id) => format!("built-in {id}"),
        }
    }

    /// Judge `prompt`.
    pub fn decide(&self, prompt: &Prompt) -> Decision {
        // Rules that apply to this prompt at all.
        let applicable: Vec<usize> = (0..self.rules.len())
            .filter(|&i| self.rules[i].filters(prompt).is_ok())
            .collect();
        let prompt_hits: Vec<Hit> = applicable
            .iter()
            .filter(|&&i| matches!(self.rules[i].subject, SubjectMatch::Any))
            .map(|&i| Hit {
                by: By::Rule(i),
                action: self.rules[i].action,
                why: "matches the prompt".into(),
            })
            .collect();

        let class = SubjectClass::of(prompt.kind.as_deref());
        let subject = prompt
            .subject
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let mut items = Vec::new();
        let mut subject_note = None;
        // Why nothing can be approved, whatever the rules say.
        let mut unapprovable: Option<String> = None;
        match (class, subject) {
            (SubjectClass::Other, _) => {}
            (_, None) => {
                unapprovable = Some(format!(
                    "the pattern extracted no {} from the screen",
                    class.key()
                ));
            }
            (SubjectClass::Command, Some(text)) => match simple::analyse(text) {
                Ok(commands) => {
                    subject_note = Some(format!(
                        "parsed into {} command{}",
                        commands.len(),
                        if commands.len() == 1 { "" } else { "s" }
                    ));
                    items = commands
                        .iter()
                        .map(|c| self.judge_command(c, &commands, &applicable))
                        .collect();
                    if items.iter().all(|i| i.verdict == ItemVerdict::Neutral) {
                        unapprovable = Some("the command runs nothing a rule approves".into());
                    }
                }
                Err(e) => {
                    subject_note = Some(format!("cannot be parsed: {e}"));
                    unapprovable = Some(format!("the command line cannot be parsed ({e})"));
                }
            },
            (SubjectClass::Path, Some(text)) => {
                items = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| self.judge_path(l, &applicable))
                    .collect();
            }
            (SubjectClass::Host, Some(text)) => {
                items = text
                    .split_whitespace()
                    .map(|t| self.judge_host(t, &applicable))
                    .collect();
            }
        }

        self.conclude(prompt, prompt_hits, items, subject_note, unapprovable)
    }

    fn conclude(
        &self,
        prompt: &Prompt,
        prompt_hits: Vec<Hit>,
        items: Vec<Item>,
        subject_note: Option<String>,
        unapprovable: Option<String>,
    ) -> Decision {
        let all_hits = || {
            prompt_hits
                .iter()
                .chain(items.iter().flat_map(|i| i.hits.iter()))
        };
        let mut decision = Decision {
            action: Action::Ask,
            choice: None,
            feedback: None,
            by: Vec::new(),
            reason: String::new(),
            items: Vec::new(),
            prompt_hits: Vec::new(),
            subject_note,
        };
        // 1. Any rejection rejects.
        let rejecting = prompt_hits
            .iter()
            .find(|h| h.action == Action::Reject)
            .cloned()
            .or_else(|| {
                items
                    .iter()
                    .filter(|i| i.verdict == ItemVerdict::Reject)
                    .flat_map(|i| i.hits.iter())
                    .find(|h| h.action == Action::Reject)
                    .cloned()
            });
        if let Some(hit) = rejecting {
            decision.reason = format!("{}: {}", self.label(&hit.by), hit.why);
            decision.by = vec![hit];
            return self.with_choice(prompt, decision, Action::Reject, prompt_hits, items);
        }
        // 2. Any explicit ask, or a subject that cannot be judged, asks.
        let asking = prompt_hits
            .iter()
            .find(|h| h.action == Action::Ask)
            .cloned()
            .or_else(|| {
                items
                    .iter()
                    .filter(|i| i.verdict == ItemVerdict::Ask)
                    .flat_map(|i| i.hits.iter())
                    .find(|h| h.action == Action::Ask)
                    .cloned()
            });
        if let Some(hit) = asking {
            decision.reason = format!("{}: {}", self.label(&hit.by), hit.why);
            decision.by = vec![hit];
            decision.prompt_hits = prompt_hits;
            decision.items = items;
            return decision;
        }
        if let Some(why) = unapprovable {
            decision.reason = why;
            decision.prompt_hits = prompt_hits;
            decision.items = items;
            return decision;
        }
        if let Some(item) = items.iter().find(|i| i.verdict == ItemVerdict::Ask) {
            decision.reason = format!("`{}`: {}", item.text, item.note.clone().unwrap_or_default());
            decision.prompt_hits = prompt_hits;
            decision.items = items;
            return decision;
        }
        // 3. Approved as a whole by a rule without a subject key, or item by item.
        let whole = prompt_hits
            .iter()
            .find(|h| h.action == Action::Approve)
            .cloned();
        let every_item = !items.is_empty()
            && items
                .iter()
                .all(|i| matches!(i.verdict, ItemVerdict::Approve | ItemVerdict::Neutral))
            && items.iter().any(|i| i.verdict == ItemVerdict::Approve);
        if let Some(hit) = whole {
            let blocked = items
                .iter()
                .find(|i| i.verdict == ItemVerdict::NoRule && !i.whole_approvable);
            if let Some(item) = blocked {
                decision.reason =
                    format!("`{}`: {}", item.text, item.note.clone().unwrap_or_default());
                decision.prompt_hits = prompt_hits;
                decision.items = items;
                return decision;
            }
            decision.reason = format!("{}: {}", self.label(&hit.by), hit.why);
            decision.by = vec![hit];
            return self.with_choice(prompt, decision, Action::Approve, prompt_hits, items);
        }
        if every_item {
            let mut by: Vec<Hit> = Vec::new();
            for hit in all_hits().filter(|h| h.action == Action::Approve) {
                if !by.iter().any(|b| b.by == hit.by) {
                    by.push(hit.clone());
                }
            }
            decision.reason = format!(
                "approved by {}",
                by.iter()
                    .map(|h| self.label(&h.by))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            decision.by = by;
            return self.with_choice(prompt, decision, Action::Approve, prompt_hits, items);
        }
        decision.reason = match items.iter().find(|i| i.verdict == ItemVerdict::NoRule) {
            Some(item) => format!(
                "no rule approves `{}`{}",
                item.text,
                item.note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
            None => "no rule matches".into(),
        };
        decision.prompt_hits = prompt_hits;
        decision.items = items;
        decision
    }

    /// Pick the prompt's answer for `action`; fall back to asking when it offers none.
    fn with_choice(
        &self,
        prompt: &Prompt,
        mut decision: Decision,
        action: Action,
        prompt_hits: Vec<Hit>,
        items: Vec<Item>,
    ) -> Decision {
        decision.prompt_hits = prompt_hits;
        decision.items = items;
        let verdict = if action == Action::Approve {
            Verdict::Approve
        } else {
            Verdict::Reject
        };
        // A choice named by the deciding rule(s), when they agree.
        let named: Vec<&str> = decision
            .by
            .iter()
            .filter_map(|h| match h.by {
                By::Rule(i) => Some(self.rules[i].choice.as_deref()),
                By::Builtin(_) => None,
            })
            .map(|c| c.unwrap_or(""))
            .collect();
        let wanted = named
            .first()
            .filter(|first| !first.is_empty() && named.iter().all(|c| c == *first))
            .copied();
        let message = decision
            .by
            .first()
            .and_then(|h| self.message(h))
            .filter(|_| action == Action::Reject);
        let offered = |id: &str| {
            prompt
                .choices
                .iter()
                .find(|c| c.id == id && c.verdict == verdict)
        };
        let chosen = wanted.and_then(offered).or_else(|| {
            let mut candidates = prompt.choices.iter().filter(|c| c.verdict == verdict);
            if message.is_some() {
                prompt
                    .choices
                    .iter()
                    .find(|c| c.verdict == verdict && c.asks_reason)
                    .or_else(|| candidates.find(|c| !c.asks_reason))
            } else {
                candidates.find(|c| !c.asks_reason)
            }
        });
        if let Some(choice) = chosen {
            decision.action = action;
            decision.choice = Some(choice.id.clone());
            if choice.asks_reason {
                decision.feedback = message;
            }
        } else {
            decision.action = Action::Ask;
            decision.reason = format!(
                "{} (but the prompt offers no {} answer, so a human decides)",
                decision.reason,
                action.name()
            );
        }
        decision
    }

    fn judge_command(&self, command: &Simple, all: &[Simple], applicable: &[usize]) -> Item {
        let mut hits: Vec<Hit> = builtin::check_command(command, all, &self.ctx, &self.guards)
            .into_iter()
            .filter(|f| self.enabled(f.id))
            .map(finding_hit)
            .collect();
        // Why no rule may approve it at all (where it runs, what it writes).
        let blocker = self.command_blocker(command, !command.neutral);
        // Why a rule on the whole prompt, which names no words, may not approve it.
        let inner = command.inner();
        let hidden = if let Some(word) = inner.words.iter().find(|w| w.dynamic) {
            Some(format!("`{}` is only known at run time", word.source))
        } else if !inner.approvable {
            Some(format!(
                "it runs through {}, which an allow rule must name",
                wrappers(command)
            ))
        } else {
            None
        };
        // An allow rule that would match a form it may not approve through.
        let mut near_miss: Option<String> = None;
        for &i in applicable {
            let rule = &self.rules[i];
            let SubjectMatch::Commands(patterns) = &rule.subject else {
                continue;
            };
            let approvable =
                |form: &simple::Form| form.approvable && !form.words.iter().any(|w| w.dynamic);
            let matched = command.forms.iter().find_map(|form| {
                if rule.action == Action::Approve && !approvable(form) {
                    return None;
                }
                patterns
                    .iter()
                    .find(|p| p.matches(&form.words))
                    .map(|p| (p, form))
            });
            let Some((pattern, form)) = matched else {
                if rule.action == Action::Approve && near_miss.is_none() {
                    let missed = command
                        .forms
                        .iter()
                        .find_map(|f| patterns.iter().find(|p| p.matches(&f.words)));
                    if let Some(p) = missed {
                        near_miss = Some(format!(
                            "{} matches {:?}, but {}",
                            rule.label(),
                            p.source,
                            hidden.clone().unwrap_or_else(|| "not as written".into())
                        ));
                    }
                }
                continue;
            };
            if rule.action == Action::Approve && blocker.is_some() {
                continue;
            }
            let mut why = format!("matches {:?}", pattern.source);
            if let Some(via) = &form.via {
                why.push_str(" (without ");
                why.push_str(via);
                why.push(')');
            }
            hits.push(Hit {
                by: By::Rule(i),
                action: rule.action,
                why,
            });
        }
        let mut verdict = strongest(&hits);
        if verdict == ItemVerdict::NoRule && command.neutral && blocker.is_none() {
            verdict = ItemVerdict::Neutral;
        }
        let whole_approvable = blocker.is_none() && hidden.is_none();
        let note = match verdict {
            ItemVerdict::NoRule => blocker.or(near_miss).or(hidden),
            _ => blocker,
        };
        Item {
            text: command.display(),
            verdict,
            hits,
            note,
            whole_approvable,
        }
    }

    /// Why an allow rule cannot approve this command, whatever its words: it runs outside
    /// the project (`dir`: unless it runs nothing), or writes files outside it.
    fn command_blocker(&self, command: &Simple, dir: bool) -> Option<String> {
        if dir {
            let Some(dir) = self.ctx.command_dir(command.dir.as_deref()) else {
                return Some("it runs after a `cd` to a directory only known at run time".into());
            };
            let dir = context::resolve(&dir);
            if dir != self.ctx.project && self.ctx.in_project(&dir).is_none() {
                return Some(format!(
                    "it runs in {}, outside the project",
                    self.ctx.show(&dir)
                ));
            }
        }
        for redirect in &command.redirects {
            let Some(word) = redirect.written() else {
                continue;
            };
            if matches!(
                word.text.as_str(),
                "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty"
            ) {
                continue;
            }
            match self.ctx.word_target(command.dir.as_deref(), word) {
                Target::Path(p) if self.ctx.in_project(&p).is_some() => {}
                Target::Unknown(why) => {
                    return Some(format!("it writes to `{}`: {why}", word.source));
                }
                _ => {
                    return Some(format!(
                        "it writes to `{}`, outside the project",
                        word.source
                    ));
                }
            }
        }
        None
    }

    fn judge_path(&self, text: &str, applicable: &[usize]) -> Item {
        let target = self.ctx.subject_target(text);
        let mut hits: Vec<Hit> = builtin::check_path(&target, &self.ctx, &self.guards)
            .into_iter()
            .filter(|f| self.enabled(f.id))
            .map(finding_hit)
            .collect();
        let (absolute, relative) = match &target {
            Target::Path(p) => (
                Some(p.to_string_lossy().into_owned()),
                self.ctx.in_project(p),
            ),
            _ => (None, None),
        };
        let note = if relative.is_none() {
            Some(match &target {
                Target::Path(p) => format!("{} is outside the project", self.ctx.show(p)),
                _ => "not a path inside the project".to_owned(),
            })
        } else {
            None
        };
        for &i in applicable {
            let rule = &self.rules[i];
            let SubjectMatch::Paths(globs) = &rule.subject else {
                continue;
            };
            let matched = globs.iter().find(|g| match g.base {
                PathBase::Project => relative.as_ref().is_some_and(|r| g.matches(r)),
                PathBase::Absolute => {
                    rule.action != Action::Approve
                        && absolute.as_ref().is_some_and(|a| g.matches(a))
                }
            });
            if let Some(glob) = matched {
                hits.push(Hit {
                    by: By::Rule(i),
                    action: rule.action,
                    why: format!("matches {:?}", glob.source),
                });
            }
        }
        Item {
            text: match &target {
                Target::Path(p) => self.ctx.show(p),
                _ => text.to_owned(),
            },
            verdict: strongest(&hits),
            hits,
            whole_approvable: note.is_none(),
            note,
        }
    }

    fn judge_host(&self, text: &str, applicable: &[usize]) -> Item {
        let Some(host) = glob::host_of(text) else {
            return Item {
                text: text.to_owned(),
                verdict: ItemVerdict::Ask,
                hits: Vec::new(),
                note: Some("not a URL or a host name".into()),
                whole_approvable: false,
            };
        };
        let mut hits = Vec::new();
        for &i in applicable {
            let rule = &self.rules[i];
            let SubjectMatch::Hosts(globs) = &rule.subject else {
                continue;
            };
            if let Some(glob) = globs.iter().find(|g| g.matches(&host)) {
                hits.push(Hit {
                    by: By::Rule(i),
                    action: rule.action,
                    why: format!("matches {:?}", glob.source),
                });
            }
        }
        Item {
            text: host,
            verdict: strongest(&hits),
            hits,
            note: None,
            whole_approvable: true,
        }
    }
}

/// The wrappers taken off to reach a command, as written (`sudo`, `LD_PRELOAD=x`).
fn wrappers(command: &Simple) -> String {
    let via: Vec<&str> = command
        .forms
        .iter()
        .filter_map(|f| f.via.as_deref())
        .collect();
    format!("`{}`", via.join(" "))
}

fn finding_hit(f: Finding) -> Hit {
    Hit {
        by: By::Builtin(f.id),
        action: f.action,
        why: f.why,
    }
}

fn strongest(hits: &[Hit]) -> ItemVerdict {
    match hits.iter().map(|h| h.action).max() {
        Some(Action::Reject) => ItemVerdict::Reject,
        Some(Action::Ask) => ItemVerdict::Ask,
        Some(Action::Approve) => ItemVerdict::Approve,
        None => ItemVerdict::NoRule,
    }
}

/// What the rules said about a prompt, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fired {
    /// `approve` or `reject` (answered automatically), or `ask` (a human was paged).
    pub action: Action,
    /// What decided: `rule "tests" (config.toml:4)`, `built-in git-push-force`; empty when
    /// no rule matched.
    pub rule: String,
    /// The deciding rule's name, or the guard's id.
    pub id: Option<String>,
    /// `config`, `project` or `builtin`.
    pub source: Option<&'static str>,
    pub file: Option<String>,
    pub line: Option<usize>,
    /// The choice typed (or, in a dry run, that would have been).
    pub choice: Option<String>,
    /// The message typed as feedback, if any.
    pub message: Option<String>,
    pub reason: String,
    /// `wrap --dry-run-rules`: nothing was answered automatically, a human was paged.
    pub dry_run: bool,
}

impl Decision {
    /// The audit facts of this decision.
    pub fn record(&self, policy: &Policy, dry_run: bool) -> Fired {
        let (id, source, file, line) = match self.by.first().map(|h| &h.by) {
            Some(By::Rule(i)) => {
                let rule = &policy.rules[*i];
                (
                    rule.name.clone(),
                    Some(match rule.origin.layer {
                        Layer::Config => "config",
                        Layer::Project => "project",
                    }),
                    rule.origin.path.as_ref().map(|p| p.display().to_string()),
                    rule.origin.line,
                )
            }
            Some(By::Builtin(id)) => (Some((*id).to_owned()), Some("builtin"), None, None),
            None => (None, None, None, None),
        };
        Fired {
            action: self.action,
            rule: self
                .by
                .iter()
                .map(|h| policy.label(&h.by))
                .collect::<Vec<_>>()
                .join(", "),
            id,
            source,
            file,
            line,
            choice: self.choice.clone(),
            message: self.feedback.clone(),
            reason: self.reason.clone(),
            dry_run,
        }
    }

    /// Whether the rules answer this prompt themselves.
    pub fn is_automatic(&self) -> bool {
        self.action != Action::Ask && self.choice.is_some()
    }

    /// A short line for the terminal title after an automatic answer.
    pub fn title(&self, policy: &Policy, prompt: &Prompt) -> Option<String> {
        let what = prompt
            .subject
            .as_deref()
            .and_then(|s| s.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or(prompt.question.trim());
        let by = self.by.first().map(|h| policy.label(&h.by))?;
        let by = by.split(" (").next().unwrap_or(&by).to_owned();
        match self.action {
            Action::Approve => Some(format!("✓ auto-approved by {by}: {what}")),
            Action::Reject => Some(format!("✗ auto-rejected by {by}: {what}")),
            Action::Ask => None,
        }
    }

    /// For `wrap --dry-run-rules`: the line added to the human's message.
    pub fn dry_run_note(&self, policy: &Policy) -> String {
        match self.action {
            Action::Ask => format!("[rules] would ask you: {}", self.reason),
            action => format!(
                "[rules] would {} automatically ({}), choice {:?}{}",
                action.name(),
                self.by
                    .iter()
                    .map(|h| policy.label(&h.by))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.choice.clone().unwrap_or_default(),
                self.feedback
                    .as_ref()
                    .map(|m| format!(", message {m:?}"))
                    .unwrap_or_default()
            ),
        }
    }
}

#[cfg(test)]
mod tests;
