//! Prompt patterns: data files that say how to recognise an agent's approval prompt on the
//! rendered screen and how to answer it.
//!
//! # Where patterns come from
//!
//! 1. The built-in files (`patterns/*.toml` in the repository, compiled in: [`builtin`]).
//! 2. The user's files, `<config dir>/openfeedback/patterns/*.toml`, in name order.
//! 3. `--patterns PATH` (a file or a directory), in the order given.
//!
//! A later file may replace a pattern by its full id `<file stem>/<id>`: a user's
//! `generic.toml` holding `id = "yes-no"` replaces the built-in `generic/yes-no` in place.
//! Every file is validated when it is loaded; a problem is a [`PatternError`] naming the file,
//! the line, the pattern and the reason, and nothing runs with a broken pattern.
//!
//! # Which patterns are active
//!
//! Each file belongs to an agent (`agent = ...`, default the file stem) and lists the command
//! names that select it (`commands = ["claude"]`). `wrap -- <command>` picks the agent from
//! the command (`claude`, `npx @anthropic-ai/claude-code`, `python -m aider`, ...), `--agent`
//! names it outright. The agent's patterns are tried first, in file order, then the `generic`
//! ones, which always apply as the fallback. An unknown command gets only `generic`; with no
//! command and no agent (`patterns test`), every pattern is tried, `generic` last.
//!
//! # The format, in brief
//!
//! ```toml
//! agent = "generic"                  # default: the file stem
//! description = "..."
//! commands = []                      # argv[0] names that select this file
//!
//! [[pattern]]
//! id = "y-n"                         # [a-z0-9_-]; full id "<file stem>/y-n"
//! kind = "confirm"                   # optional: shell, edit, network, ...
//! question = '(?P<question>.+\?) \[y/n\]:?$'  # regex over ONE row (groups: question, subject)
//! region = 1                         # the prompt lies in the bottom N non-empty rows
//! cursor = "end-of-line"             # | "question-row" | "in-region" | "any"
//! frame = "│"                        # box characters stripped from both ends of each row
//! footer = 'Esc to cancel'           # a row below the question/menu must match
//! unless = 'Working'                 # no row of the prompt may match
//! above = '^\s*Bash command'         # a row of the context above the question must match
//! context_rows = 12                  # rows above the question sent as context
//!
//! [pattern.menu]                     # a TUI menu below the question
//! row = '^\s*(?P<marker>❯)?\s*\d+\.\s+(?P<label>.+)$'   # `marker` non-empty = focused row
//! continuation = '^\s{5,}\S'         # optional; default: indented under the previous label
//!
//! [pattern.subject]                  # what is approved: from = "rows-above" | "block-above",
//! from = "rows-above"                #   or regex = '...(?P<subject>...)'
//!
//! [[pattern.choice]]                 # one button per choice
//! id = "y"                           # [a-z0-9_]{1,8}
//! label = "Yes"
//! verdict = "approve"                # | "reject"; at least one of each per pattern
//! keys = "y <enter>"                 # see crate::wrap::keys
//! # when = '\(A\)ll'                 # offered only when a row of the prompt matches
//! # unless = 'Tab to amend'          # not offered when a row of the prompt matches
//! # select = '^No\b'                 # menu: move the marker to this row, verify, then `keys`
//! # feedback = true                  # a reject that types {feedback}
//! # wait_for = '^\w*> ?$'            # after `keys`, wait for this row, then type `then`
//! # then = "{feedback} <enter>"
//! ```
//!
//! The detector ([`crate::wrap::detect`]) evaluates these; `patterns/README.md` explains how
//! to write a file for a new agent.

pub mod builtin;
pub mod command;
pub mod compile;
mod format;
pub mod replay;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use compile::{ChoiceSpec, CursorRule, Menu, Pattern, PatternFile, SubjectRule};

/// The agent whose patterns always apply.
pub const GENERIC: &str = "generic";

/// Where a pattern file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceName {
    /// Compiled in: `patterns/<stem>.toml` of the source tree.
    Builtin(String),
    File(PathBuf),
    /// A command-line value (`--agent`).
    Argument(&'static str),
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceName::Builtin(name) => write!(f, "built-in {name}"),
            SourceName::File(path) => write!(f, "{}", path.display()),
            SourceName::Argument(flag) => f.write_str(flag),
        }
    }
}

/// A pattern file that cannot be used, or an `--agent` that names no agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub source: SourceName,
    pub line: Option<usize>,
    /// The pattern's id, when the problem is inside one.
    pub pattern: Option<String>,
    pub message: String,
}

impl PatternError {
    /// A wrong command-line value (exit 64) rather than a broken file (exit 78).
    pub fn is_usage(&self) -> bool {
        matches!(self.source, SourceName::Argument(_))
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let SourceName::Argument(flag) = &self.source {
            return write!(f, "{flag}: {}", self.message);
        }
        write!(f, "pattern error in {}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(id) = &self.pattern {
            write!(f, ": pattern `{id}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PatternError {}

/// What to load and which agent to select.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `--patterns` files and directories, in order.
    pub extra: Vec<PathBuf>,
    /// `--agent`.
    pub agent: Option<String>,
    /// The wrapped command (`wrap -- <command>`); empty when there is none.
    pub command: Vec<String>,
    /// The user's pattern directory; `None` skips it. [`LoadOptions::default`] uses
    /// [`user_dir`].
    pub user_dir: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            extra: Vec::new(),
            agent: None,
            command: Vec::new(),
            user_dir: user_dir(),
        }
    }
}

/// `<config dir>/openfeedback/patterns`, e.g. `~/.config/openfeedback/patterns`.
pub fn user_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("openfeedback").join("patterns"))
}

/// Every loaded pattern, and the ones the detector tries.
#[derive(Debug, Clone)]
pub struct PatternSet {
    files: Vec<PatternFile>,
    active: Vec<Arc<Pattern>>,
    agent: Option<String>,
}

impl PatternSet {
    /// Build from validated files (in load order) and select the active patterns. Errors: a
    /// file that overrides another one's patterns under a different agent, or an `--agent`
    /// that no file is for ([`PatternError::is_usage`]).
    pub fn new(files: Vec<PatternFile>, options: &LoadOptions) -> Result<PatternSet, PatternError> {
        let files = merge(files)?;
        let agent = match &options.agent {
            Some(name) => {
                if !files.iter().any(|f| f.agent == *name) {
                    let mut known: Vec<&str> = files.iter().map(|f| f.agent.as_str()).collect();
                    known.dedup();
                    return Err(PatternError {
                        source: SourceName::Argument("--agent"),
                        line: None,
                        pattern: None,
                        message: format!(
                            "no patterns for agent {name:?} (known: {})",
                            known.join(", ")
                        ),
                    });
                }
                Some(name.clone())
            }
            None => agent_for_command(&files, &options.command),
        };
        let of = |agent: &str| -> Vec<Arc<Pattern>> {
            files
                .iter()
                .filter(|f| f.agent == agent)
                .flat_map(|f| f.patterns.iter().cloned())
                .collect()
        };
        let active: Vec<Arc<Pattern>> = match &agent {
            Some(a) if a == GENERIC => of(GENERIC),
            Some(a) => [of(a), of(GENERIC)].concat(),
            None if options.command.is_empty() => files
                .iter()
                .filter(|f| f.agent != GENERIC)
                .flat_map(|f| f.patterns.iter().cloned())
                .chain(of(GENERIC))
                .collect(),
            None => of(GENERIC),
        };
        Ok(PatternSet {
            files,
            active,
            agent,
        })
    }

    /// The files, after overrides were merged in.
    pub fn files(&self) -> &[PatternFile] {
        &self.files
    }

    /// Every loaded pattern, file by file.
    pub fn patterns(&self) -> impl Iterator<Item = &Arc<Pattern>> {
        self.files.iter().flat_map(|f| f.patterns.iter())
    }

    /// The patterns the detector tries, in order.
    pub fn active(&self) -> &[Arc<Pattern>] {
        &self.active
    }

    /// The selected agent (`None`: no command and no `--agent`, or an unknown command).
    pub fn agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }

    /// Patterns named by `name`: a full id (`generic/y-n`), a bare id when it is unique
    /// within the loaded files, or an agent name (all its patterns).
    pub fn find(&self, name: &str) -> Vec<&Arc<Pattern>> {
        let exact: Vec<_> = self.patterns().filter(|p| p.full_id == name).collect();
        if !exact.is_empty() {
            return exact;
        }
        let by_agent: Vec<_> = self.patterns().filter(|p| p.agent == name).collect();
        if !by_agent.is_empty() {
            return by_agent;
        }
        self.patterns().filter(|p| p.id == name).collect()
    }
}

/// Fold files with the same stem into the first one: a later pattern with the same id
/// replaces the earlier one in place, new ones are appended, commands are added. A later file
/// cannot move the stem to another agent.
fn merge(files: Vec<PatternFile>) -> Result<Vec<PatternFile>, PatternError> {
    let mut merged: Vec<PatternFile> = Vec::new();
    for file in files {
        let Some(base) = merged.iter_mut().find(|f| f.stem == file.stem) else {
            merged.push(file);
            continue;
        };
        if base.agent != file.agent {
            return Err(PatternError {
                source: file.source,
                line: None,
                pattern: None,
                message: format!(
                    "this file is for agent {:?}, but it overrides {}.toml ({}), which is for \
                     agent {:?}; name the file after its agent",
                    file.agent, file.stem, base.source, base.agent
                ),
            });
        }
        for pattern in file.patterns {
            match base.patterns.iter_mut().find(|p| p.id == pattern.id) {
                Some(slot) => *slot = pattern,
                None => base.patterns.push(pattern),
            }
        }
        for command in file.commands {
            if !base.commands.contains(&command) {
                base.commands.push(command);
            }
        }
        if file.description.is_some() {
            base.description = file.description;
        }
    }
    Ok(merged)
}

/// Load the built-in files, the user's directory and `--patterns`, validate them, and select
/// the active patterns.
///
/// With a command or `--agent` (that is, under `wrap`), only the built-in files whose patterns
/// can be active are compiled: the selected agent's and `generic`. Compiling the regexes of
/// every agent's file took most of `wrap`'s startup, and the built-in files are checked by the
/// test suite. The user's files and `--patterns` are always compiled, so a mistake in them is
/// reported whichever agent runs.
pub fn load(options: &LoadOptions) -> Result<PatternSet, PatternError> {
    load_builtins(options, true)
}

/// [`load`], compiling every built-in file when `only_needed` is false.
fn load_builtins(options: &LoadOptions, only_needed: bool) -> Result<PatternSet, PatternError> {
    let mut own = Vec::new();
    if let Some(dir) = &options.user_dir
        && dir.is_dir()
    {
        own.extend(load_dir(dir)?);
    }
    for path in &options.extra {
        if path.is_dir() {
            own.extend(load_dir(path)?);
        } else {
            own.push(load_file(path)?);
        }
    }
    let needed = if only_needed {
        needed_builtins(options, &own)
    } else {
        None
    };
    let mut files = Vec::new();
    for (stem, text) in builtin::FILES {
        if needed
            .as_ref()
            .is_some_and(|agents| !agents.contains(&builtin_header(stem, text).0))
        {
            continue;
        }
        let source = SourceName::Builtin(format!("patterns/{stem}.toml"));
        files.push(compile::compile_file(stem, &source, text)?);
    }
    files.extend(own);
    PatternSet::new(files, options)
}

/// A built-in file's agent and command names, read without compiling its patterns.
fn builtin_header(stem: &str, text: &str) -> (String, Vec<String>) {
    #[derive(serde::Deserialize)]
    struct Header {
        agent: Option<String>,
        #[serde(default)]
        commands: Vec<String>,
    }
    match toml::from_str::<Header>(text) {
        Ok(h) => (h.agent.unwrap_or_else(|| stem.to_owned()), h.commands),
        // Cannot happen (the tests compile every built-in file); compile it to report why.
        Err(_) => (String::new(), Vec::new()),
    }
}

/// The agents whose built-in files must be compiled, or `None` for all of them (no command
/// and no agent, as in `patterns list`; or an `--agent` nobody knows, so that the error can
/// list every agent).
fn needed_builtins(options: &LoadOptions, own: &[PatternFile]) -> Option<Vec<String>> {
    if options.agent.is_none() && options.command.is_empty() {
        return None;
    }
    let headers: Vec<(String, Vec<String>)> = builtin::FILES
        .iter()
        .map(|(stem, text)| builtin_header(stem, text))
        .chain(own.iter().map(|f| (f.agent.clone(), f.commands.clone())))
        .collect();
    let agent = match &options.agent {
        Some(name) if headers.iter().any(|(agent, _)| agent == name) => Some(name.clone()),
        Some(_) => return None,
        None => command_names(&options.command)
            .into_iter()
            .find_map(|name| {
                headers
                    .iter()
                    .find(|(agent, commands)| commands.contains(&name) || *agent == name)
                    .map(|(agent, _)| agent.clone())
            }),
    };
    Some(
        [Some(GENERIC.to_owned()), agent, Some(String::new())]
            .into_iter()
            .flatten()
            .collect(),
    )
}

fn unreadable(path: &Path, error: &std::io::Error) -> PatternError {
    PatternError {
        source: SourceName::File(path.to_owned()),
        line: None,
        pattern: None,
        message: format!("cannot read pattern file: {error}"),
    }
}

/// One pattern file from disk.
pub fn load_file(path: &Path) -> Result<PatternFile, PatternError> {
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(path, &e))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    compile::compile_file(&stem, &SourceName::File(path.to_owned()), &text)
}

/// Every `*.toml` in `dir`, in name order.
fn load_dir(dir: &Path) -> Result<Vec<PatternFile>, PatternError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, &e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    paths.sort();
    paths.iter().map(|p| load_file(p)).collect()
}

/// The agent whose file lists one of the names `command` runs as.
pub fn agent_for_command(files: &[PatternFile], command: &[String]) -> Option<String> {
    command_names(command).into_iter().find_map(|name| {
        files
            .iter()
            .find(|f| f.commands.contains(&name) || f.agent == name)
            .map(|f| f.agent.clone())
    })
}

/// The names a command may be known by: argv[0]'s basename, and behind a launcher (`env`,
/// `npx`, `node`, `python -m`, `uvx`, ...) the program or package it runs.
pub fn command_names(command: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    let mut args = command.iter().map(String::as_str).peekable();
    // `env A=b cmd`: skip env's options and assignments.
    while let Some(&arg) = args.peek() {
        if base(arg) == "env" || arg.contains('=') || (arg.starts_with('-') && names.is_empty()) {
            args.next();
        } else {
            break;
        }
    }
    let Some(first) = args.next() else {
        return names;
    };
    let program = base(first);
    names.push(program.to_owned());
    let rest: Vec<&str> = args.collect();
    let next_operand = |skip_words: &[&str]| {
        rest.iter()
            .copied()
            .find(|a| !a.starts_with('-') && !skip_words.contains(a))
    };
    let launched = match program {
        "npx" | "pnpx" | "bunx" | "uvx" => next_operand(&[]).map(package_name),
        "npm" | "pnpm" | "yarn" | "pipx" | "uv" => {
            next_operand(&["exec", "dlx", "run", "x", "tool"]).map(package_name)
        }
        "node" | "nodejs" | "bun" | "deno" => next_operand(&["run"]).map(script_name),
        p if p.starts_with("python") => match rest.iter().position(|a| *a == "-m") {
            Some(i) => rest
                .get(i + 1)
                .map(|m| m.split('.').next().unwrap_or(m).to_owned()),
            None => next_operand(&[]).map(script_name),
        },
        _ => None,
    };
    names.extend(launched);
    names
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `@anthropic-ai/claude-code@2.1.0` → `claude-code`; `aider-chat==0.86` → `aider-chat`.
fn package_name(spec: &str) -> String {
    let unscoped = spec.rsplit('/').next().unwrap_or(spec);
    let name = unscoped
        .split(['@', '=', '<', '>', '~', '['])
        .next()
        .unwrap_or(unscoped);
    name.to_owned()
}

/// `node_modules/@google/gemini-cli/dist/index.js` → `gemini-cli`; `bin/claude` → `claude`;
/// `gemini.js` → `gemini`.
fn script_name(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    if let Some(i) = parts.iter().rposition(|p| *p == "node_modules") {
        match parts.get(i + 1) {
            Some(scope) if scope.starts_with('@') => {
                if let Some(pkg) = parts.get(i + 2) {
                    return (*pkg).to_owned();
                }
            }
            Some(pkg) if *pkg != ".bin" => return (*pkg).to_owned(),
            _ => {}
        }
    }
    let file = base(path);
    let stem = [".js", ".mjs", ".cjs", ".ts", ".py"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext))
        .unwrap_or(file);
    stem.to_owned()
}

#[cfg(test)]
mod tests;
