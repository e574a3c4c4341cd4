//! The built-in guards: the classic foot-guns, refused (or sent to a human) whatever the
//! allow rules say.
//!
//! Each guard has an id. A user can add deny rules of their own, and can turn a guard off only
//! by naming it in `[rules] disable_builtin` in their own config (never in a project file);
//! `rules test` and `rules list` say which guards are off.

use std::path::Path;

use super::Action;
use super::context::{Context, Target};
use super::glob::PathGlob;
use super::simple::{Form, Runs, Simple, basename};

/// A built-in guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub id: &'static str,
    pub summary: &'static str,
    /// Typed as the rejection's feedback where the agent takes some.
    pub message: &'static str,
}

pub const RM_OUTSIDE: &str = "rm-recursive-outside";
pub const PIPE_TO_SHELL: &str = "pipe-to-shell";
pub const STARTUP_FILES: &str = "shell-startup-files";
pub const CREDENTIALS: &str = "credentials";
pub const DOTENV: &str = "dotenv";
pub const GIT_PUSH_FORCE: &str = "git-push-force";
pub const PUBLISH: &str = "package-publish";
pub const DOCKER_PUSH: &str = "docker-push";

pub const BUILTINS: &[Builtin] = &[
    Builtin {
        id: RM_OUTSIDE,
        summary: "reject recursive deletes outside the project (rm -rf ~, /, .., the project \
                  itself, absolute paths elsewhere, find -delete there); ask when the target \
                  is only known at run time",
        message: "Recursive deletes outside the project are not allowed. Stay inside the project directory.",
    },
    Builtin {
        id: PIPE_TO_SHELL,
        summary: "reject running downloaded code (curl … | sh, wget … | bash, sh -c \"$(curl …)\", \
                  source <(curl …)); ask for any other script that cannot be read now",
        message: "Running code downloaded from the network is not allowed. Download it to a file so it can be reviewed first.",
    },
    Builtin {
        id: STARTUP_FILES,
        summary: "reject writes to shell startup files (~/.bashrc, ~/.zshrc, ~/.profile, \
                  /etc/profile, ...)",
        message: "Changing shell startup files is not allowed.",
    },
    Builtin {
        id: CREDENTIALS,
        summary: "reject writes to credentials (~/.ssh, ~/.aws, ~/.netrc, ~/.npmrc, \
                  ~/.docker/config.json, ...) and edits of them; ask when a command only \
                  reads them",
        message: "Credentials (~/.ssh, ~/.aws, ...) are off limits.",
    },
    Builtin {
        id: DOTENV,
        summary: "ask before writing .env files (secrets live there); never approved by a rule",
        message: "Changes to .env files need a human.",
    },
    Builtin {
        id: GIT_PUSH_FORCE,
        summary: "reject git push --force, -f, --force-with-lease, --mirror and +refspecs, to \
                  any branch",
        message: "Force pushes are not allowed. Push without --force, or ask the user to do it.",
    },
    Builtin {
        id: PUBLISH,
        summary: "reject publishing packages (npm/pnpm/yarn/bun publish, cargo publish, twine \
                  upload, gem push, poetry/uv/hatch/flit publish, ...)",
        message: "Publishing packages is not allowed from an agent session.",
    },
    Builtin {
        id: DOCKER_PUSH,
        summary: "ask before pushing images (docker/podman push, buildx --push); never approved \
                  by a rule",
        message: "Pushing images needs a human.",
    },
];

/// The guard with this id.
pub fn find(id: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.id == id)
}

/// A guard that spoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: &'static str,
    pub action: Action,
    pub why: String,
}

fn finding(id: &'static str, action: Action, why: impl Into<String>) -> Finding {
    Finding {
        id,
        action,
        why: why.into(),
    }
}

/// Home-relative and absolute globs of the protected files.
pub struct Guards {
    startup: Vec<PathGlob>,
    credentials: Vec<PathGlob>,
    /// The same, relative to any home (`~alice/.ssh/x` → `.ssh/x`).
    startup_rel: Vec<PathGlob>,
    credentials_rel: Vec<PathGlob>,
}

const STARTUP_HOME: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".zlogout",
    ".kshrc",
    ".mkshrc",
    ".cshrc",
    ".tcshrc",
    ".login",
    ".xprofile",
    ".xinitrc",
    ".inputrc",
    ".config/fish/**",
    ".config/environment.d/**",
    ".config/autostart/**",
    ".oh-my-zsh/custom/**",
];
const STARTUP_SYSTEM: &[&str] = &[
    "/etc/profile",
    "/etc/profile.d/**",
    "/etc/bash.bashrc",
    "/etc/bashrc",
    "/etc/zshrc",
    "/etc/zshenv",
    "/etc/zprofile",
    "/etc/zsh/**",
    "/etc/environment",
];
const CREDENTIALS_HOME: &[&str] = &[
    ".ssh/**",
    ".aws/**",
    ".azure/**",
    ".config/gcloud/**",
    ".kube/config",
    ".docker/config.json",
    ".netrc",
    ".git-credentials",
    ".gnupg/**",
    ".npmrc",
    ".yarnrc.yml",
    ".pypirc",
    ".gem/credentials",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".config/gh/hosts.yml",
    ".config/hub",
    ".terraform.d/credentials.tfrc.json",
    ".password-store/**",
    ".local/share/keyrings/**",
];

impl Guards {
    pub fn new(home: Option<&Path>) -> Guards {
        let rel = |list: &[&str]| -> Vec<PathGlob> {
            list.iter()
                .filter_map(|g| PathGlob::new(g, None).ok())
                .collect()
        };
        let abs = |list: &[&str], system: &[&str]| -> Vec<PathGlob> {
            let mut globs: Vec<PathGlob> = match home {
                Some(home) => list
                    .iter()
                    .filter_map(|g| PathGlob::new(&format!("~/{g}"), Some(home)).ok())
                    .collect(),
                None => Vec::new(),
            };
            globs.extend(system.iter().filter_map(|g| PathGlob::new(g, None).ok()));
            globs
        };
        Guards {
            startup: abs(STARTUP_HOME, STARTUP_SYSTEM),
            credentials: abs(CREDENTIALS_HOME, &[]),
            startup_rel: rel(STARTUP_HOME),
            credentials_rel: rel(CREDENTIALS_HOME),
        }
    }

    /// Which protected class `target` falls in.
    fn class(&self, target: &Target) -> Option<&'static str> {
        let (absolute, relative) = match target {
            Target::Path(p) | Target::Below(p) => (Some(p.to_string_lossy().into_owned()), None),
            Target::OtherHome(rel) => (None, Some(rel.clone())),
            Target::Unknown(_) => return None,
        };
        let hit = |abs: &[PathGlob], rel: &[PathGlob]| {
            absolute
                .as_ref()
                .is_some_and(|p| abs.iter().any(|g| g.matches(p) || below_match(target, g)))
                || relative
                    .as_ref()
                    .is_some_and(|p| rel.iter().any(|g| g.matches(p)))
        };
        if hit(&self.credentials, &self.credentials_rel) {
            Some(CREDENTIALS)
        } else if hit(&self.startup, &self.startup_rel) {
            Some(STARTUP_FILES)
        } else if is_dotenv(target) {
            Some(DOTENV)
        } else {
            None
        }
    }
}

/// `Below(dir)` (a glob in `dir`) could hit a protected file directly in `dir`.
fn below_match(target: &Target, glob: &PathGlob) -> bool {
    match target {
        Target::Below(dir) => {
            glob.matches(&dir.join(".x").to_string_lossy())
                || glob.matches(&dir.join("x").to_string_lossy())
        }
        _ => false,
    }
}

fn is_dotenv(target: &Target) -> bool {
    let Target::Path(p) = target else {
        return false;
    };
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name == ".env"
        || name.strip_prefix(".env.").is_some_and(|suffix| {
            !matches!(
                suffix,
                "example" | "sample" | "template" | "dist" | "defaults" | "schema"
            )
        })
}

/// The guards for a file prompt (an edit, a file added to the chat).
pub fn check_path(target: &Target, ctx: &Context, guards: &Guards) -> Vec<Finding> {
    let shown = show_target(target, ctx);
    match guards.class(target) {
        Some(CREDENTIALS) => vec![finding(
            CREDENTIALS,
            Action::Reject,
            format!("{shown} holds credentials"),
        )],
        Some(STARTUP_FILES) => vec![finding(
            STARTUP_FILES,
            Action::Reject,
            format!("{shown} is a shell startup file"),
        )],
        Some(DOTENV) => vec![finding(
            DOTENV,
            Action::Ask,
            format!("{shown} is a .env file"),
        )],
        _ => Vec::new(),
    }
}

fn show_target(target: &Target, ctx: &Context) -> String {
    match target {
        Target::Path(p) => ctx.show(p),
        Target::Below(p) => format!("{}/*", ctx.show(p)),
        Target::OtherHome(rel) => format!("~user/{rel}"),
        Target::Unknown(why) => why.clone(),
    }
}

/// The guards for one command of a command line (`all` is the whole line, for pipelines).
pub fn check_command(
    simple: &Simple,
    all: &[Simple],
    ctx: &Context,
    guards: &Guards,
) -> Vec<Finding> {
    let mut found: Vec<Finding> = Vec::new();
    let dir = simple.dir.as_deref();
    for form in &simple.forms {
        for f in form_findings(form, dir, ctx, guards) {
            if !found.iter().any(|x| x.id == f.id && x.action == f.action) {
                found.push(f);
            }
        }
    }
    for redirect in &simple.redirects {
        if let Some(word) = redirect.written() {
            let target = ctx.word_target(dir, word);
            if let Some(f) = write_finding(&target, ctx, guards, "writes") {
                found.push(f);
            }
        }
    }
    if let Some(runs) = &simple.runs {
        let stdin_fed = simple.redirects.iter().any(shell_feeds_stdin);
        match runs {
            Runs::Stdin => {
                if let Some(name) = first_downloader(&simple.upstream, all) {
                    found.push(finding(
                        PIPE_TO_SHELL,
                        Action::Reject,
                        format!("runs code piped from `{name}`"),
                    ));
                } else if !simple.upstream.is_empty() || stdin_fed {
                    found.push(finding(
                        PIPE_TO_SHELL,
                        Action::Ask,
                        "runs a script read from its input, which cannot be checked now",
                    ));
                }
            }
            Runs::Code(producers) => {
                if let Some(name) = first_downloader(producers, all) {
                    found.push(finding(
                        PIPE_TO_SHELL,
                        Action::Reject,
                        format!("runs code downloaded by `{name}`"),
                    ));
                } else {
                    found.push(finding(
                        PIPE_TO_SHELL,
                        Action::Ask,
                        "runs code that is only known at run time",
                    ));
                }
            }
        }
    }
    found
}

fn shell_feeds_stdin(redirect: &super::shell::Redirect) -> bool {
    redirect.feeds_stdin()
}

const DOWNLOADERS: &[&str] = &[
    "curl",
    "wget",
    "fetch",
    "aria2c",
    "http",
    "https",
    "xh",
    "xhs",
    "httpie",
    "lwp-request",
    "lwp-download",
    "GET",
    "nc",
    "ncat",
    "netcat",
    "socat",
    "lynx",
    "w3m",
];

/// The downloader a command runs, if it runs one.
/// The first of the commands `indices` (into `all`) that downloads something, by name.
fn first_downloader(indices: &[usize], all: &[Simple]) -> Option<String> {
    indices
        .iter()
        .filter_map(|&i| all.get(i))
        .find_map(downloader)
}

fn downloader(simple: &Simple) -> Option<String> {
    simple
        .forms
        .iter()
        .filter_map(Form::program)
        .find(|p| DOWNLOADERS.contains(p))
        .map(str::to_owned)
}

fn write_finding(target: &Target, ctx: &Context, guards: &Guards, verb: &str) -> Option<Finding> {
    let shown = show_target(target, ctx);
    match guards.class(target)? {
        CREDENTIALS => Some(finding(
            CREDENTIALS,
            Action::Reject,
            format!("{verb} {shown} (credentials)"),
        )),
        STARTUP_FILES => Some(finding(
            STARTUP_FILES,
            Action::Reject,
            format!("{verb} {shown} (a shell startup file)"),
        )),
        DOTENV => Some(finding(
            DOTENV,
            Action::Ask,
            format!("{verb} {shown} (a .env file)"),
        )),
        _ => None,
    }
}

/// Arguments of `words` that are not options (everything after `--`).
fn operands(words: &[super::shell::Word]) -> Vec<&super::shell::Word> {
    let mut out = Vec::new();
    let mut options = true;
    for word in words.iter().skip(1) {
        if options && word.text == "--" {
            options = false;
            continue;
        }
        if options && word.text.starts_with('-') && word.text.len() > 1 && !word.dynamic {
            continue;
        }
        out.push(word);
    }
    out
}

fn form_findings(form: &Form, dir: Option<&Path>, ctx: &Context, guards: &Guards) -> Vec<Finding> {
    let Some(program) = form.program() else {
        return Vec::new();
    };
    let words = &form.words;
    let mut found = Vec::new();
    match program {
        "rm" | "rmdir" | "shred" | "unlink" | "srm" => {
            let recursive = program == "rm"
                && words
                    .iter()
                    .skip(1)
                    .take_while(|w| w.text != "--")
                    .any(|w| {
                        let t = w.text.as_str();
                        t == "--recursive"
                            || (t.starts_with('-')
                                && !t.starts_with("--")
                                && t.contains(['r', 'R']))
                    });
            for word in operands(words) {
                let target = ctx.word_target(dir, word);
                if recursive && let Some(f) = outside(&target, ctx, &word.source) {
                    found.push(f);
                }
                found.extend(write_finding(&target, ctx, guards, "deletes"));
            }
        }
        "find" => {
            let deletes = words.iter().any(|w| w.text == "-delete");
            if deletes {
                let roots: Vec<&super::shell::Word> = words
                    .iter()
                    .skip(1)
                    .skip_while(|w| {
                        matches!(w.text.as_str(), "-H" | "-L" | "-P")
                            || w.text.starts_with("-O")
                            || w.text.starts_with("-D")
                    })
                    .take_while(|w| !(w.text.starts_with('-') || w.text == "(" || w.text == "!"))
                    .collect();
                if roots.is_empty() {
                    // `find -delete` starts at `.`.
                    let dot = super::shell::Word::plain(".");
                    if let Some(f) = outside(&ctx.word_target(dir, &dot), ctx, "find -delete") {
                        found.push(f);
                    }
                }
                for root in roots {
                    let target = match ctx.word_target(dir, root) {
                        Target::Path(p) => Target::Below(p),
                        other => other,
                    };
                    if let Some(f) = outside(&target, ctx, &root.source) {
                        found.push(f);
                    }
                }
            }
        }
        "tee" | "truncate" | "touch" | "chmod" | "chown" | "chgrp" | "chattr" => {
            let args = operands(words);
            // chmod/chown: the first operand is the mode or the owner.
            let skip = usize::from(matches!(program, "chmod" | "chown" | "chgrp" | "chattr"));
            for word in args.into_iter().skip(skip) {
                found.extend(write_finding(
                    &ctx.word_target(dir, word),
                    ctx,
                    guards,
                    "writes",
                ));
            }
        }
        "mv" => {
            for word in operands(words) {
                found.extend(write_finding(
                    &ctx.word_target(dir, word),
                    ctx,
                    guards,
                    "moves",
                ));
            }
        }
        "cp" | "ln" | "install" | "rsync" | "scp" | "dd" => {
            let args = operands(words);
            let mut targets: Vec<&super::shell::Word> = args.last().copied().into_iter().collect();
            targets.extend(
                words
                    .iter()
                    .skip(1)
                    .zip(words.iter().skip(2))
                    .filter(|(o, _)| o.text == "-t")
                    .map(|(_, v)| v),
            );
            let of: Vec<super::shell::Word> = words
                .iter()
                .filter_map(|w| {
                    w.text.strip_prefix("of=").map(|v| {
                        let mut w = w.clone();
                        v.clone_into(&mut w.text);
                        w.glob = super::shell::escape_glob(v);
                        w
                    })
                })
                .collect();
            targets.extend(of.iter());
            for word in targets {
                found.extend(write_finding(
                    &ctx.word_target(dir, word),
                    ctx,
                    guards,
                    "writes",
                ));
            }
        }
        "sed" | "perl" | "ruby"
            if words.iter().any(|w| {
                w.text.starts_with("-i")
                    || w.text == "--in-place"
                    || (w.text.starts_with("-p") && w.text.contains('i'))
            }) =>
        {
            for word in operands(words) {
                found.extend(write_finding(
                    &ctx.word_target(dir, word),
                    ctx,
                    guards,
                    "edits",
                ));
            }
        }
        "git" => found.extend(git_push_force(words)),
        _ => {}
    }
    if let Some(f) = publish(program, words) {
        found.push(f);
    }
    // Reading credentials: any argument that names them.
    if !found.iter().any(|f| f.id == CREDENTIALS) {
        for word in words
            .iter()
            .skip(1)
            .filter(|w| !w.text.starts_with('-') || w.text.contains('/'))
        {
            let text = word
                .text
                .split_once('=')
                .map_or(word.text.as_str(), |(_, v)| v);
            let mut w = word.clone();
            text.clone_into(&mut w.text);
            let target = ctx.word_target(dir, &w);
            if guards.class(&target) == Some(CREDENTIALS) {
                found.push(finding(
                    CREDENTIALS,
                    Action::Ask,
                    format!("reads {} (credentials)", show_target(&target, ctx)),
                ));
                break;
            }
        }
    }
    found
}

/// A recursive delete of `target`: outside the project?
fn outside(target: &Target, ctx: &Context, written: &str) -> Option<Finding> {
    let reject = |why: String| Some(finding(RM_OUTSIDE, Action::Reject, why));
    match target {
        Target::Unknown(why) => Some(finding(
            RM_OUTSIDE,
            Action::Ask,
            format!("recursive delete of `{written}`: {why}"),
        )),
        Target::OtherHome(_) => reject(format!(
            "recursive delete of `{written}` in another user's home"
        )),
        _ if ctx.broad_project() => Some(finding(
            RM_OUTSIDE,
            Action::Ask,
            format!(
                "recursive delete of `{written}` while the project is {} (no repository to stay inside)",
                ctx.show(&ctx.project)
            ),
        )),
        Target::Path(p) => {
            if ctx.in_project(p).is_some() {
                None
            } else if *p == ctx.project {
                reject(format!(
                    "recursive delete of `{written}`: the whole project"
                ))
            } else {
                reject(format!(
                    "recursive delete of `{written}` = {} (outside the project {})",
                    ctx.show(p),
                    ctx.show(&ctx.project)
                ))
            }
        }
        Target::Below(p) => {
            if ctx.in_project(p).is_some() || *p == ctx.project {
                None
            } else {
                reject(format!(
                    "recursive delete of `{written}` = everything in {} (outside the project {})",
                    ctx.show(p),
                    ctx.show(&ctx.project)
                ))
            }
        }
    }
}

/// git's global options that take a value as the next word.
const GIT_GLOBAL_WITH_VALUE: &[&str] = &[
    "-C",
    "-c",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--exec-path",
    "--config-env",
    "--super-prefix",
];

fn git_push_force(words: &[super::shell::Word]) -> Option<Finding> {
    let mut i = 1;
    while i < words.len() {
        let t = words[i].text.as_str();
        if GIT_GLOBAL_WITH_VALUE.contains(&t) {
            i += 2;
        } else if t.starts_with('-') {
            i += 1;
        } else {
            break;
        }
    }
    if words.get(i).map(|w| w.text.as_str()) != Some("push") {
        return None;
    }
    for word in &words[i + 1..] {
        let t = word.text.as_str();
        let forced = t == "--force"
            || t.starts_with("--force-with-lease")
            || t == "--force-if-includes"
            || t == "--mirror"
            || (t.starts_with('-')
                && !t.starts_with("--")
                && t[1..].split('o').next().is_some_and(|c| c.contains('f')))
            || (t.starts_with('+') && t.len() > 1)
            || (t.contains(":+"));
        if forced {
            return Some(finding(
                GIT_PUSH_FORCE,
                Action::Reject,
                format!("`{}` is a force push", word.source),
            ));
        }
        if t == "--" {
            break;
        }
    }
    None
}

/// Publishing commands: program, then a word that must appear among its arguments.
const PUBLISHERS: &[(&str, &str, &str)] = &[
    ("npm", "publish", PUBLISH),
    ("pnpm", "publish", PUBLISH),
    ("yarn", "publish", PUBLISH),
    ("bun", "publish", PUBLISH),
    ("lerna", "publish", PUBLISH),
    ("cargo", "publish", PUBLISH),
    ("twine", "upload", PUBLISH),
    ("gem", "push", PUBLISH),
    ("poetry", "publish", PUBLISH),
    ("uv", "publish", PUBLISH),
    ("hatch", "publish", PUBLISH),
    ("flit", "publish", PUBLISH),
    ("pdm", "publish", PUBLISH),
    ("vsce", "publish", PUBLISH),
    ("ovsx", "publish", PUBLISH),
    ("dotnet", "push", PUBLISH),
    ("nuget", "push", PUBLISH),
    ("docker", "push", DOCKER_PUSH),
    ("podman", "push", DOCKER_PUSH),
    ("buildah", "push", DOCKER_PUSH),
];

fn publish(program: &str, words: &[super::shell::Word]) -> Option<Finding> {
    let args: Vec<&str> = words.iter().skip(1).map(|w| w.text.as_str()).collect();
    let dry_run = args
        .iter()
        .any(|a| matches!(*a, "--dry-run" | "-n" | "--dryrun"));
    // `python -m twine upload`
    let (program, args) = match (basename(program), args.as_slice()) {
        (p, ["-m", module, rest @ ..]) if p.starts_with("python") => (*module, rest.to_vec()),
        (p, _) => (p, args.clone()),
    };
    let buildx_push = program == "docker"
        && args.first() == Some(&"buildx")
        && args
            .iter()
            .any(|a| *a == "--push" || a.starts_with("--output=type=registry"));
    let hit = PUBLISHERS
        .iter()
        .find(|(p, verb, _)| *p == program && args.iter().any(|a| a == verb));
    if buildx_push {
        return Some(finding(
            DOCKER_PUSH,
            Action::Ask,
            "`docker buildx … --push` pushes an image",
        ));
    }
    let (_, verb, id) = hit?;
    if dry_run && *id == PUBLISH {
        return None;
    }
    let action = if *id == DOCKER_PUSH {
        Action::Ask
    } else {
        Action::Reject
    };
    Some(finding(id, action, format!("`{program} {verb}` publishes")))
}
