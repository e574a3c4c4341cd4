//! From a parsed command line to what actually runs.
//!
//! Every simple command is seen in several **forms**: as written, then with each wrapper
//! taken off (`FOO=1`, `env`, `sudo`, `nohup`, `time`, `nice`, `timeout`, `xargs`, ...), down
//! to the program that really runs. Deny rules and the built-in guards look at every form, so
//! `sudo rm -rf /` is `rm -rf /`. Allow rules accept a form only if nothing dangerous was taken
//! off to reach it: a privilege wrapper (`sudo`, `doas`, `su`) or an assignment to a variable
//! that changes what a program does (`PATH`, `LD_PRELOAD`, `NODE_OPTIONS`, ...). So a rule for
//! `npm test` approves `CI=1 npm test` and `time npm test`, but not `sudo npm test`.
//!
//! A shell started with a script in its arguments (`bash -c '…'`, `sh -lc`, `eval`, `su -c`,
//! `env -S`) is not a command of its own: its script is parsed, and its commands are judged
//! one by one (with the shell's wrappers as their outer forms). A script that cannot be read
//! now (`sh -c "$(curl …)"`, `curl … | sh`, `source <(…)`) is recorded in [`Runs`]. `find`'s
//! `-exec` commands are commands too.
//!
//! `cd` is followed within its shell (subshells and substitutions have their own), so the
//! directory each command runs in is known, or known to be unknown.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::shell::{self, Command, ParseError, Redirect, Word};

/// Deepest nesting of shell scripts in shell scripts.
const MAX_DEPTH: usize = 8;

/// One form of a simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub words: Vec<Word>,
    /// An allow rule may approve the command through this form.
    pub approvable: bool,
    /// What was taken off the previous form to reach this one (`sudo`, `FOO=1`, `bash -c`).
    pub via: Option<String>,
}

impl Form {
    /// The program name (basename of the first word), unless it is only known at run time.
    pub fn program(&self) -> Option<&str> {
        let first = self.words.first()?;
        (!first.dynamic).then(|| basename(&first.text))
    }

    /// The words as written, joined by spaces.
    pub fn display(&self) -> String {
        join(&self.words)
    }
}

/// Where the script a command runs comes from, when it is code rather than arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runs {
    /// A shell or interpreter reading its script from standard input.
    Stdin,
    /// A script only known at run time, produced by these commands (indices into the
    /// analysis); empty when nothing produces it (`sh -c "$CODE"`).
    Code(Vec<usize>),
}

/// One command that would run, as judged by the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simple {
    /// As written first, the program that really runs last.
    pub forms: Vec<Form>,
    pub redirects: Vec<Redirect>,
    /// Commands whose output reaches this one's standard input.
    pub upstream: Vec<usize>,
    /// This command runs code it reads (see [`Runs`]).
    pub runs: Option<Runs>,
    /// The directory it runs in, relative to the starting directory (absolute after `cd /x`,
    /// `~`-based after `cd ~`); `None` when a `cd` went somewhere only known at run time.
    pub dir: Option<PathBuf>,
    /// Where it sits: `$( )`, `bash -c`, `find -exec`, outermost first.
    pub within: Vec<String>,
    /// Needs no rule: it runs nothing by itself (`cd`, `true`, a redirection alone). Its
    /// redirections and the guards still count.
    pub neutral: bool,
}

impl Simple {
    /// The innermost form: what really runs.
    pub fn inner(&self) -> &Form {
        self.forms.last().expect("a command has at least one form")
    }

    /// The command as shown to people: the innermost form, and what it was found in.
    pub fn display(&self) -> String {
        let mut text = self.inner().display();
        if text.is_empty() {
            text = self
                .redirects
                .iter()
                .map(|r| r.target.source.clone())
                .collect::<Vec<_>>()
                .join(" ");
            text.insert_str(0, "(redirection) ");
        }
        let via: Vec<&str> = self.forms.iter().filter_map(|f| f.via.as_deref()).collect();
        if !via.is_empty() {
            let _ = write!(text, "  [via {}]", via.join(", "));
        }
        if !self.within.is_empty() {
            let _ = write!(text, "  [in {}]", self.within.join(" › "));
        }
        text
    }
}

/// Parse `text` and list every command it would run.
pub fn analyse(text: &str) -> Result<Vec<Simple>, ParseError> {
    let mut out = Vec::new();
    let outer = Outer {
        forms: Vec::new(),
        approvable: true,
        within: Vec::new(),
        upstream: Vec::new(),
        dir: Some(PathBuf::new()),
    };
    analyse_into(text, &mut out, &outer, 0)?;
    Ok(out)
}

/// The command whose script is being analysed.
struct Outer {
    forms: Vec<Form>,
    approvable: bool,
    within: Vec<String>,
    upstream: Vec<usize>,
    dir: Option<PathBuf>,
}

fn analyse_into(
    text: &str,
    out: &mut Vec<Simple>,
    outer: &Outer,
    depth: usize,
) -> Result<Range<usize>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError {
            message: "shell scripts nested too deeply".into(),
            at: 0,
        });
    }
    let parsed = shell::parse(text)?;
    let start = out.len();
    // Which analysed commands each parsed command became.
    let mut became: Vec<Vec<usize>> = vec![Vec::new(); parsed.commands.len()];
    // The directory of each scope, once a command in it was seen.
    let mut dirs: HashMap<usize, Option<PathBuf>> = HashMap::new();
    dirs.insert(0, outer.dir.clone());

    for (index, command) in parsed.commands.iter().enumerate() {
        let dir = scope_dir(&mut dirs, &parsed.scopes, command.scope);
        if command.header {
            continue;
        }
        let mut upstream: Vec<usize> = outer.upstream.clone();
        upstream.extend(command.upstream.iter().flat_map(|&u| became[u].clone()));
        let mut within = outer.within.clone();
        if let Some(nest) = command.nest {
            within.push(nest.describe().to_owned());
        }
        let unwrapped = unwrap(&command.words);
        let map_subs = |subs: &[usize]| -> Vec<usize> {
            subs.iter().flat_map(|&s| became[s].clone()).collect()
        };
        let runs = unwrapped.runs.as_ref().map(|r| match r {
            RawRuns::Stdin => Runs::Stdin,
            RawRuns::Code(subs) => Runs::Code(map_subs(subs)),
        });
        let mut forms = outer.forms.clone();
        forms.extend(unwrapped.forms.iter().map(|f| Form {
            approvable: f.approvable && outer.approvable,
            ..f.clone()
        }));
        let here = match &unwrapped.chdir {
            None => dir.clone(),
            Some(Chdir::To(to)) => dir.as_ref().map(|d| d.join(to)),
            Some(Chdir::Unknown) => None,
        };

        if let Some((body, description)) = &unwrapped.body {
            // A shell with its script in an argument: the script's commands are the commands.
            let shell_form = forms.len() - 1;
            let inner_outer = Outer {
                approvable: forms[shell_form].approvable,
                forms,
                within: {
                    let mut w = within.clone();
                    w.push(description.clone());
                    w
                },
                upstream: upstream.clone(),
                dir: here.clone(),
            };
            let range = analyse_into(body, out, &inner_outer, depth + 1)?;
            became[index].extend(range);
            if !command.redirects.is_empty() {
                became[index].push(out.len());
                out.push(Simple {
                    forms: inner_outer.forms,
                    redirects: command.redirects.clone(),
                    upstream,
                    runs: None,
                    dir: here,
                    within,
                    neutral: true,
                });
            }
            continue;
        }

        let inner = forms.last().map(|f| f.words.clone()).unwrap_or_default();
        let program = forms.last().and_then(Form::program).map(str::to_owned);
        let neutral = inner.iter().all(|w| w.assignment)
            || matches!(
                program.as_deref(),
                Some("cd" | "pushd" | "popd" | "true" | "false" | ":")
            );
        if matches!(program.as_deref(), Some("cd" | "pushd" | "popd")) {
            dirs.insert(command.scope, change_dir(dir.as_ref(), &inner));
        }
        let exec = if program.as_deref() == Some("find") {
            find_exec(&inner)
        } else {
            Vec::new()
        };
        became[index].push(out.len());
        out.push(Simple {
            forms,
            redirects: command.redirects.clone(),
            upstream: upstream.clone(),
            runs,
            dir: here.clone(),
            within: within.clone(),
            neutral,
        });
        for words in exec {
            let nested = Command {
                words,
                scope: command.scope,
                ..Command::default()
            };
            let unwrapped = unwrap(&nested.words);
            let mut within = within.clone();
            within.push("find -exec".to_owned());
            became[index].push(out.len());
            out.push(Simple {
                forms: unwrapped
                    .forms
                    .into_iter()
                    .map(|f| Form {
                        approvable: f.approvable && outer.approvable,
                        ..f
                    })
                    .collect(),
                redirects: Vec::new(),
                upstream: Vec::new(),
                runs: unwrapped.runs.map(|r| match r {
                    RawRuns::Stdin => Runs::Stdin,
                    RawRuns::Code(_) => Runs::Code(Vec::new()),
                }),
                dir: here.clone(),
                within,
                neutral: false,
            });
        }
    }
    Ok(start..out.len())
}

/// The directory of `scope`: its own once set, else its parent's at this point.
fn scope_dir(
    dirs: &mut HashMap<usize, Option<PathBuf>>,
    parents: &[usize],
    scope: usize,
) -> Option<PathBuf> {
    if let Some(dir) = dirs.get(&scope) {
        return dir.clone();
    }
    let parent = parents[scope];
    let dir = if parent == scope {
        Some(PathBuf::new())
    } else {
        scope_dir(dirs, parents, parent)
    };
    dirs.insert(scope, dir.clone());
    dir
}

/// Where `cd ARGS` (or `pushd`, `popd`) leaves the shell.
fn change_dir(from: Option<&PathBuf>, words: &[Word]) -> Option<PathBuf> {
    let from = from?;
    if basename(&words[0].text) == "popd" {
        return None;
    }
    let target = words[1..]
        .iter()
        .find(|w| !(w.text.starts_with('-') && w.text.len() > 1) || w.text == "--");
    let target = match target {
        Some(w) if w.text == "--" => words.iter().skip_while(|w| w.text != "--").nth(1),
        other => other,
    };
    match target {
        None => Some(PathBuf::from("~")),
        Some(w) if w.dynamic || w.text == "-" => None,
        Some(w) => Some(from.join(&w.text)),
    }
}

/// The commands of `find … -exec CMD ;` (and `-execdir`, `-ok`, `-okdir`).
fn find_exec(words: &[Word]) -> Vec<Vec<Word>> {
    let mut found = Vec::new();
    let mut i = 1;
    while i < words.len() {
        if matches!(
            words[i].text.as_str(),
            "-exec" | "-execdir" | "-ok" | "-okdir"
        ) {
            let mut command = Vec::new();
            i += 1;
            while i < words.len() && !matches!(words[i].text.as_str(), ";" | "+") {
                let mut word = words[i].clone();
                if word.text.contains("{}") {
                    word.dynamic = true;
                }
                command.push(word);
                i += 1;
            }
            if !command.is_empty() {
                found.push(command);
            }
        }
        i += 1;
    }
    found
}

/// [`Runs`] with indices of the parsed line (mapped by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
enum RawRuns {
    Stdin,
    Code(Vec<usize>),
}

#[derive(Debug, Default)]
struct Unwrapped {
    forms: Vec<Form>,
    /// The script of a shell started with one (`bash -c BODY`), and how it was started.
    body: Option<(String, String)>,
    runs: Option<RawRuns>,
    /// `env -C DIR`, `sudo -D DIR`: the innermost command runs elsewhere.
    chdir: Option<Chdir>,
}

/// Where `env -C` and `sudo -D` send a command.
#[derive(Debug, Clone)]
enum Chdir {
    To(PathBuf),
    /// A directory only known at run time.
    Unknown,
}

impl Chdir {
    fn of(word: &Word) -> Chdir {
        if word.dynamic {
            Chdir::Unknown
        } else {
            Chdir::To(PathBuf::from(&word.text))
        }
    }
}

/// One step inward.
enum Step {
    /// The wrapped command starts at this word.
    Inner {
        at: usize,
        via: String,
        privileged: bool,
    },
    /// `xargs`: the command starts here and gets more arguments at run time.
    Xargs { at: usize, replace: Option<String> },
    /// A shell or `eval` whose script is a static argument.
    Script { body: String, via: String },
    /// The command runs code it reads.
    Runs(RawRuns),
    /// Nothing further inside.
    Stop,
}

/// Take the wrappers off `words`, one form per layer.
fn unwrap(words: &[Word]) -> Unwrapped {
    let mut result = Unwrapped::default();
    let mut current = words.to_vec();
    let mut approvable = true;
    result.forms.push(Form {
        words: current.clone(),
        approvable,
        via: None,
    });
    for _ in 0..16 {
        let assignments = current.iter().take_while(|w| w.assignment).count();
        if assignments > 0 && assignments < current.len() {
            let taken: Vec<&Word> = current[..assignments].iter().collect();
            if taken
                .iter()
                .any(|w| w.assigned_name().is_some_and(risky_variable))
            {
                approvable = false;
            }
            let via = taken
                .iter()
                .map(|w| w.source.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            current.drain(..assignments);
            result.forms.push(Form {
                words: current.clone(),
                approvable,
                via: Some(via),
            });
            continue;
        }
        let Some(first) = current.first() else { break };
        if first.dynamic || first.assignment {
            break;
        }
        let name = basename(&first.text).to_owned();
        match step(&name, &current, &mut result.chdir) {
            Step::Inner {
                at,
                via,
                privileged,
            } => {
                if at >= current.len() {
                    break;
                }
                approvable &= !privileged;
                current.drain(..at);
                // `env` and `sudo` take assignments after their options.
                result.forms.push(Form {
                    words: current.clone(),
                    approvable,
                    via: Some(via),
                });
            }
            Step::Xargs { at, replace } => {
                if at >= current.len() {
                    break;
                }
                current.drain(..at);
                for word in &mut current {
                    if replace.as_ref().is_some_and(|r| word.text.contains(r)) {
                        word.dynamic = true;
                    }
                }
                current.push(Word {
                    text: "{xargs input}".into(),
                    glob: "{xargs input}".into(),
                    dynamic: true,
                    source: "{xargs input}".into(),
                    ..Word::default()
                });
                result.forms.push(Form {
                    words: current.clone(),
                    approvable,
                    via: Some("xargs".into()),
                });
            }
            Step::Script { body, via } => {
                result.body = Some((body, via));
                break;
            }
            Step::Runs(runs) => {
                result.runs = Some(runs);
                break;
            }
            Step::Stop => break,
        }
    }
    result
}

/// Variables that change what a program runs or loads: assigning them is not a detail.
fn risky_variable(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "PATH",
        "HOME",
        "IFS",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "ZDOTDIR",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "MANPAGER",
        "LESSOPEN",
        "BROWSER",
        "SHELL",
        "TMPDIR",
    ];
    const PREFIXES: &[&str] = &[
        "LD_",
        "DYLD_",
        "BASH_FUNC_",
        "NODE_",
        "NPM_CONFIG_",
        "npm_config_",
        "PYTHON",
        "PERL",
        "RUBY",
        "GIT_",
        "RUSTC",
        "CARGO_BUILD_",
        "CARGO_TARGET_",
        "GEM_",
        "BUNDLE_",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
    ];
    const SUFFIXES: &[&str] = &["_ASKPASS", "_PRELOAD", "_OPTIONS"];
    EXACT.contains(&name)
        || PREFIXES.iter().any(|p| name.starts_with(p))
        || SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Shells whose `-c` argument is a script in the language this module parses.
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "posh", "rbash",
];
/// Other programs that run code they read on standard input when given no script.
const INTERPRETERS: &[&str] = &[
    "python",
    "python2",
    "python3",
    "perl",
    "ruby",
    "node",
    "nodejs",
    "php",
    "fish",
    "pwsh",
    "lua",
    "tclsh",
    "osascript",
];

/// The word index where options end: the first non-option word after `from`. `short_arg`
/// lists short options that take an argument, `long_arg` long ones (without `--`).
fn after_options(words: &[Word], from: usize, short_arg: &str, long_arg: &[&str]) -> usize {
    let mut i = from;
    while i < words.len() {
        let text = words[i].text.as_str();
        if words[i].dynamic {
            return i;
        }
        if text == "--" {
            return i + 1;
        }
        if let Some(long) = text.strip_prefix("--") {
            if !long.contains('=') && long_arg.contains(&long) {
                i += 1;
            }
            i += 1;
            continue;
        }
        if let Some(cluster) = text.strip_prefix('-').filter(|c| !c.is_empty()) {
            for (k, c) in cluster.char_indices() {
                if short_arg.contains(c) {
                    if k + c.len_utf8() == cluster.len() {
                        i += 1;
                    }
                    break;
                }
            }
            i += 1;
            continue;
        }
        return i;
    }
    i
}

/// Short flags present among the options of `words[from..until]`.
fn has_flag(words: &[Word], from: usize, until: usize, flag: char, long: &str) -> bool {
    words[from..until.min(words.len())].iter().any(|w| {
        let t = w.text.as_str();
        t == format!("--{long}")
            || t.starts_with(&format!("--{long}="))
            || (t.starts_with('-') && !t.starts_with("--") && t[1..].contains(flag))
    })
}

/// The value of option `-X VALUE` / `-XVALUE` / `--long=VALUE` / `--long VALUE`.
fn option_value(words: &[Word], until: usize, short: char, long: &str) -> Option<Word> {
    let until = until.min(words.len());
    let mut i = 1;
    while i < until {
        let t = words[i].text.as_str();
        if let Some(v) = t.strip_prefix(&format!("--{long}=")) {
            let mut w = words[i].clone();
            v.clone_into(&mut w.text);
            return Some(w);
        }
        if t == format!("--{long}") {
            return words.get(i + 1).cloned();
        }
        if let Some(cluster) = t.strip_prefix('-').filter(|c| !c.starts_with('-'))
            && let Some(k) = cluster.find(short)
        {
            {
                let rest = &cluster[k + short.len_utf8()..];
                if rest.is_empty() {
                    return words.get(i + 1).cloned();
                }
                let mut w = words[i].clone();
                rest.clone_into(&mut w.text);
                return Some(w);
            }
        }
        i += 1;
    }
    None
}

fn step(name: &str, words: &[Word], chdir: &mut Option<Chdir>) -> Step {
    let inner = |at: usize, privileged: bool| Step::Inner {
        at,
        via: name.to_owned(),
        privileged,
    };
    match name {
        "sudo" => {
            let at = after_options(
                words,
                1,
                "ugpCDhrtUTR",
                &[
                    "user",
                    "group",
                    "prompt",
                    "close-from",
                    "chdir",
                    "host",
                    "role",
                    "type",
                    "other-user",
                    "command-timeout",
                    "chroot",
                ],
            );
            let listing = words[1..at.min(words.len())].iter().any(|w| {
                let t = w.text.as_str();
                (t.starts_with('-')
                    && !t.starts_with("--")
                    && t[1..].contains(['l', 'v', 'k', 'K', 'V', 'e']))
                    || matches!(
                        t,
                        "--list"
                            | "--validate"
                            | "--edit"
                            | "--version"
                            | "--reset-timestamp"
                            | "--remove-timestamp"
                    )
            });
            if listing {
                return Step::Stop;
            }
            if let Some(dir) = option_value(words, at, 'D', "chdir") {
                *chdir = Some(Chdir::of(&dir));
            }
            inner(at, true)
        }
        "doas" => inner(after_options(words, 1, "uC", &[]), true),
        "su" => {
            let at = after_options(
                words,
                1,
                "cswgG",
                &[
                    "command",
                    "shell",
                    "group",
                    "supp-group",
                    "whitelist-environment",
                ],
            );
            match option_value(words, at, 'c', "command") {
                Some(body) if !body.dynamic => Step::Script {
                    body: body.text,
                    via: "su -c".into(),
                },
                Some(body) => Step::Runs(RawRuns::Code(body.subs)),
                None => Step::Stop,
            }
        }
        "env" => {
            let at = after_options(
                words,
                1,
                "uCSP",
                &[
                    "unset",
                    "chdir",
                    "split-string",
                    "block-signal",
                    "default-signal",
                    "ignore-signal",
                ],
            );
            if let Some(split) = option_value(words, at, 'S', "split-string") {
                if split.dynamic {
                    return Step::Runs(RawRuns::Code(split.subs));
                }
                let mut body = split.text;
                for w in &words[at..] {
                    body.push(' ');
                    body.push_str(&w.source);
                }
                return Step::Script {
                    body,
                    via: "env -S".into(),
                };
            }
            if let Some(dir) = option_value(words, at, 'C', "chdir") {
                *chdir = Some(Chdir::of(&dir));
            }
            // env's own NAME=VALUE words are assignments even when quoted.
            let mut at = at;
            let mut assignments = Vec::new();
            while at < words.len()
                && words[at].text.contains('=')
                && !words[at].text.starts_with('=')
            {
                assignments.push(at);
                at += 1;
            }
            if at >= words.len() {
                return Step::Stop;
            }
            let risky = assignments.iter().any(|&i| {
                let t = &words[i].text;
                risky_variable(t[..t.find('=').unwrap_or(0)].trim_end_matches('+'))
            });
            Step::Inner {
                at,
                via: "env".into(),
                privileged: risky || words[at].dynamic,
            }
        }
        "nohup" | "builtin" | "chronic" | "unbuffer" | "setsid" => {
            inner(after_options(words, 1, "", &[]), false)
        }
        "time" => inner(after_options(words, 1, "fo", &["format", "output"]), false),
        "nice" => inner(after_options(words, 1, "n", &["adjustment"]), false),
        "ionice" => {
            if has_flag(words, 1, words.len(), 'p', "pid")
                || has_flag(words, 1, words.len(), 'P', "pgid")
                || has_flag(words, 1, words.len(), 'u', "uid")
            {
                return Step::Stop;
            }
            inner(
                after_options(words, 1, "cnt", &["class", "classdata"]),
                false,
            )
        }
        "stdbuf" => inner(
            after_options(words, 1, "ioe", &["input", "output", "error"]),
            false,
        ),
        "timeout" => {
            let at = after_options(words, 1, "sk", &["signal", "kill-after"]);
            // The duration comes first.
            inner(at + 1, false)
        }
        "command" => {
            let at = after_options(words, 1, "", &[]);
            if has_flag(words, 1, at, 'v', "") || has_flag(words, 1, at, 'V', "") {
                return Step::Stop;
            }
            inner(at, false)
        }
        "exec" => inner(after_options(words, 1, "a", &[]), false),
        "xargs" => {
            let at = after_options(
                words,
                1,
                "adEILnPs",
                &[
                    "arg-file",
                    "delimiter",
                    "max-args",
                    "max-procs",
                    "max-chars",
                    "process-slot-var",
                ],
            );
            let mut replace = option_value(words, at, 'I', "replace").map(|w| w.text);
            if replace.is_none()
                && words[1..at.min(words.len())]
                    .iter()
                    .any(|w| w.text.starts_with("-i"))
            {
                replace = Some("{}".into());
            }
            Step::Xargs { at, replace }
        }
        "busybox"
            if words
                .get(1)
                .is_some_and(|w| SHELLS.contains(&w.text.as_str())) =>
        {
            inner(1, false)
        }
        "eval" => {
            let args: Vec<&Word> = words[1..].iter().filter(|w| w.text != "--").collect();
            if args.is_empty() {
                return Step::Stop;
            }
            if args.iter().any(|w| w.dynamic) {
                return Step::Runs(RawRuns::Code(
                    args.iter().flat_map(|w| w.subs.clone()).collect(),
                ));
            }
            Step::Script {
                body: args
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                via: "eval".into(),
            }
        }
        "source" | "." => match words.get(1) {
            Some(file) if file.dynamic => Step::Runs(RawRuns::Code(file.subs.clone())),
            _ => Step::Stop,
        },
        _ if SHELLS.contains(&name) => shell_step(name, words),
        _ if INTERPRETERS.contains(&name) || is_versioned_python(name) => interpreter_step(words),
        _ => Step::Stop,
    }
}

/// `python3.12` and the like.
fn is_versioned_python(name: &str) -> bool {
    name.strip_prefix("python")
        .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// A POSIX-like shell: `-c SCRIPT`, a script file, or standard input.
fn shell_step(name: &str, words: &[Word]) -> Step {
    let mut i = 1;
    let mut command = false;
    let mut stdin = false;
    while i < words.len() {
        let t = words[i].text.as_str();
        if words[i].dynamic {
            break;
        }
        if t == "--" || t == "-" {
            i += 1;
            break;
        }
        if let Some(long) = t.strip_prefix("--") {
            if matches!(long, "rcfile" | "init-file") {
                i += 1;
            }
            i += 1;
            continue;
        }
        if let Some(cluster) = t.strip_prefix('-').or_else(|| t.strip_prefix('+')) {
            if cluster.is_empty() {
                break;
            }
            command |= cluster.contains('c');
            stdin |= cluster.contains('s');
            if cluster.contains('o') || cluster.contains('O') {
                i += 1;
            }
            i += 1;
            continue;
        }
        break;
    }
    let via = format!("{name} -c");
    match words.get(i) {
        Some(body) if command && !body.dynamic => Step::Script {
            body: body.text.clone(),
            via,
        },
        Some(body) if command => Step::Runs(RawRuns::Code(body.subs.clone())),
        None if command => Step::Runs(RawRuns::Code(Vec::new())),
        _ if stdin => Step::Runs(RawRuns::Stdin),
        Some(file) if file.dynamic => Step::Runs(RawRuns::Code(file.subs.clone())),
        Some(_) => Step::Stop,
        None => Step::Runs(RawRuns::Stdin),
    }
}

/// An interpreter reads its program from standard input when given no file and no inline
/// code; a file that is a process substitution is code produced now.
fn interpreter_step(words: &[Word]) -> Step {
    let inline = words[1..].iter().any(|w| {
        matches!(
            w.text.as_str(),
            "-c" | "-e" | "-E" | "-p" | "-m" | "--eval" | "--print" | "--command"
        )
    });
    if inline {
        return Step::Stop;
    }
    match words[1..]
        .iter()
        .find(|w| !w.text.starts_with('-') || w.text == "-")
    {
        None => Step::Runs(RawRuns::Stdin),
        Some(w) if w.text == "-" => Step::Runs(RawRuns::Stdin),
        Some(w) if w.dynamic => Step::Runs(RawRuns::Code(w.subs.clone())),
        Some(_) => Step::Stop,
    }
}

/// The last path component of a command name (`/usr/bin/rm` → `rm`).
pub fn basename(text: &str) -> &str {
    Path::new(text)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(text)
}

/// Words joined as written.
pub fn join(words: &[Word]) -> String {
    words
        .iter()
        .map(|w| w.source.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}
