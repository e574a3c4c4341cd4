//! `openfeedback hook install|uninstall <agent>`: add or remove openfeedback's command hook in
//! an agent's settings file.
//!
//! The three agents share one shape: `{"hooks": {"<Event>": [{"matcher": …, "hooks":
//! [{"type": "command", "command": …, "timeout": …}]}]}}`. The file is merged, never replaced:
//! other keys, other events and other hooks stay as they were, in their order (serde_json's
//! `preserve_order`), and the result is written with two-space indentation. A file that is not
//! a JSON object is refused untouched. Before any change the old file is copied to
//! `<name>.bak-<UTC time>`; the new one replaces it atomically (a temporary file and a rename),
//! keeping its permissions. "Ours" is a command hook whose command runs an `openfeedback`
//! binary with `hook <agent>`; uninstall removes only those.
//!
//! Where each agent reads hooks (and how sure we are):
//! - Claude Code: `~/.claude/settings.json`, `<project>/.claude/settings.json`,
//!   `<project>/.claude/settings.local.json`; `timeout` in seconds (default 600).
//!   Verified: agent-prompts.md §2.5, and the end-to-end test runs the real Claude Code.
//! - Codex: `$CODEX_HOME/hooks.json` (default `~/.codex/hooks.json`) and
//!   `<project>/.codex/hooks.json`; `timeout` in seconds (default 600). Read in openai/codex's
//!   source (`codex-rs/hooks/src/engine/discovery.rs`, `codex-rs/config` `HooksFile`; the
//!   0.169.0 binary has the same strings), not run here. Codex runs a user or project hook only
//!   once it is trusted (a hash of the hook kept in its config), so it must be reviewed in
//!   Codex after installing.
//! - Gemini CLI: `~/.gemini/settings.json`, `<project>/.gemini/settings.json`; `timeout` in
//!   milliseconds (default 60 000). From Gemini's `docs/hooks/reference.md` and the 0.61.0
//!   bundle (hooks on by default: `hooksConfig.enabled`), not run here. Project hooks run only
//!   in a trusted folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Agent;
use crate::cli::HookInstallArgs;
use crate::config::Source;
use crate::error::Error;

/// Added to the longest wait, so the agent never kills a hook that is still within its time.
const MARGIN: Duration = Duration::from_secs(60);

/// What one agent needs in its settings.
struct Spec {
    event: &'static str,
    matcher: &'static str,
    /// The agent's `timeout` unit.
    millis: bool,
    /// Extra fields of the command hook.
    extra: fn() -> Map<String, Value>,
}

fn spec(agent: Agent) -> Spec {
    match agent {
        Agent::ClaudeCode => Spec {
            event: "PermissionRequest",
            matcher: "*",
            millis: false,
            extra: Map::new,
        },
        Agent::Codex => Spec {
            event: "PermissionRequest",
            matcher: "*",
            millis: false,
            extra: || {
                let mut extra = Map::new();
                extra.insert(
                    "statusMessage".into(),
                    json!("Waiting for approval through openfeedback"),
                );
                extra
            },
        },
        // Only the tools that change something: every read would page the human otherwise.
        Agent::Gemini => Spec {
            event: "BeforeTool",
            matcher: "run_shell_command|write_file|replace",
            millis: true,
            extra: || {
                let mut extra = Map::new();
                extra.insert("name".into(), json!("openfeedback"));
                extra
            },
        },
    }
}

/// The settings file `args` points at.
fn settings_path(args: &HookInstallArgs) -> Result<PathBuf, Error> {
    if let Some(file) = &args.file {
        return Ok(file.clone());
    }
    let home =
        || dirs::home_dir().ok_or_else(|| Error::Usage("no home directory: pass --file".into()));
    let here = || {
        std::env::current_dir()
            .map_err(|e| Error::Internal(format!("cannot read the current directory: {e}")))
    };
    let project = args.project || args.local;
    let path = match args.agent {
        Agent::ClaudeCode if args.local => here()?.join(".claude/settings.local.json"),
        Agent::ClaudeCode if project => here()?.join(".claude/settings.json"),
        Agent::ClaudeCode => home()?.join(".claude/settings.json"),
        Agent::Codex | Agent::Gemini if args.local => {
            return Err(Error::Usage(format!(
                "--local is for Claude Code; use --project for {}",
                args.agent.display_name()
            )));
        }
        Agent::Codex if project => here()?.join(".codex/hooks.json"),
        Agent::Codex => match std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir).join("hooks.json"),
            None => home()?.join(".codex/hooks.json"),
        },
        Agent::Gemini if project => here()?.join(".gemini/settings.json"),
        Agent::Gemini => home()?.join(".gemini/settings.json"),
    };
    Ok(path)
}

/// Add (or refresh) openfeedback's hook for `args.agent`.
pub fn install(args: &HookInstallArgs, source: &Source) -> Result<u8, Error> {
    let agent = args.agent;
    let settings = crate::config::load(source)?;
    let wait = settings.default_timeout + settings.reject_feedback_timeout + MARGIN;
    let path = settings_path(args)?;
    let command = command_line(agent, source)?;

    let spec = spec(agent);
    let mut hook = Map::new();
    hook.insert("type".into(), json!("command"));
    hook.insert("command".into(), json!(command));
    let timeout = if spec.millis {
        wait.as_millis()
    } else {
        u128::from(wait.as_secs())
    };
    hook.insert("timeout".into(), json!(timeout));
    hook.extend((spec.extra)());
    let group = json!({"matcher": spec.matcher, "hooks": [Value::Object(hook)]});

    let (mut root, original) = read(&path)?;
    remove_ours(&mut root, agent, &path)?;
    let hooks = object_entry(&mut root, "hooks", &path)?;
    let Value::Array(groups) = hooks
        .entry(spec.event)
        .or_insert_with(|| Value::Array(Vec::new()))
    else {
        return Err(not_a(&path, &format!("hooks.{}", spec.event), "list"));
    };
    groups.push(group);

    let written = write(&path, &root, original.as_deref())?;
    match written {
        Written::Unchanged => eprintln!(
            "openfeedback: the {} hook is already installed in {}",
            agent.display_name(),
            path.display()
        ),
        Written::Changed { backup } => {
            eprintln!(
                "openfeedback: installed the {} {} hook in {} (timeout {}{})",
                agent.display_name(),
                spec.event,
                path.display(),
                timeout,
                if spec.millis { " ms" } else { " s" }
            );
            if let Some(backup) = backup {
                eprintln!("openfeedback: the previous file is in {}", backup.display());
            }
        }
    }
    match agent {
        Agent::ClaudeCode if args.project => eprintln!(
            "openfeedback: .claude/settings.json is usually committed and now names this \
             machine's openfeedback; --local keeps the hook out of git"
        ),
        Agent::ClaudeCode => {}
        Agent::Codex => eprintln!(
            "openfeedback: Codex runs a new hook only after you trust it: review it in Codex \
             (the /hooks view) before relying on it"
        ),
        Agent::Gemini => eprintln!(
            "openfeedback: Gemini CLI still applies its own approval mode after an approval \
             from openfeedback; see README (hook) for running it with --approval-mode=yolo"
        ),
    }
    Ok(crate::error::code::SUCCESS)
}

/// Remove openfeedback's hooks for `args.agent`, and nothing else.
pub fn uninstall(args: &HookInstallArgs) -> Result<u8, Error> {
    let agent = args.agent;
    let path = settings_path(args)?;
    if !path.exists() {
        eprintln!(
            "openfeedback: {} does not exist: nothing to remove",
            path.display()
        );
        return Ok(crate::error::code::SUCCESS);
    }
    let (mut root, original) = read(&path)?;
    let removed = remove_ours(&mut root, agent, &path)?;
    if removed == 0 {
        eprintln!(
            "openfeedback: no openfeedback {} hook in {}: nothing to remove",
            agent.display_name(),
            path.display()
        );
        return Ok(crate::error::code::SUCCESS);
    }
    if let Written::Changed { backup } = write(&path, &root, original.as_deref())? {
        eprintln!(
            "openfeedback: removed {removed} openfeedback hook{} from {}",
            if removed == 1 { "" } else { "s" },
            path.display()
        );
        if let Some(backup) = backup {
            eprintln!("openfeedback: the previous file is in {}", backup.display());
        }
    }
    Ok(crate::error::code::SUCCESS)
}

/// The shell command the agent runs: this binary, `hook <agent>`, and the config file when it
/// was named explicitly (the agent's environment may not carry OPENFEEDBACK_CONFIG).
fn command_line(agent: Agent, source: &Source) -> Result<String, Error> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::Internal(format!("cannot find the openfeedback binary: {e}")))?;
    let mut command = format!("{} hook {}", quote(&exe.to_string_lossy()), agent.as_str());
    if let Source::Explicit(config) = source {
        let config = std::path::absolute(config).unwrap_or_else(|_| config.clone());
        command.push_str(" --config ");
        command.push_str(&quote(&config.to_string_lossy()));
    }
    Ok(command)
}

/// Quote `word` for a POSIX shell when it needs it.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Whether `command` runs openfeedback's hook for `agent`.
fn is_ours(command: &str, agent: Agent) -> bool {
    let words = shell_words(command);
    let runs_openfeedback = words.first().is_some_and(|program| {
        Path::new(program)
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("openfeedback"))
    });
    runs_openfeedback
        && words
            .windows(2)
            .any(|pair| pair[0] == "hook" && pair[1] == agent.as_str())
}

/// The words of a simple shell command: whitespace-separated, with '…' and "…" quoting and
/// backslash escapes (enough to read back what [`quote`] wrote, and what people type).
fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Remove our command hooks from every event; drop what that leaves empty. Returns how many
/// hooks were removed.
fn remove_ours(root: &mut Map<String, Value>, agent: Agent, path: &Path) -> Result<usize, Error> {
    let Some(hooks) = root.get_mut("hooks") else {
        return Ok(0);
    };
    let Value::Object(events) = hooks else {
        return Err(not_a(path, "hooks", "object"));
    };
    let mut removed = 0;
    let mut emptied = Vec::new();
    for (event, groups) in events.iter_mut() {
        // Gemini keeps switches such as `"enabled": true` next to the events.
        let Value::Array(groups) = groups else {
            continue;
        };
        let before = removed;
        groups.retain_mut(|group| {
            let Some(Value::Array(handlers)) = group.get_mut("hooks") else {
                return true;
            };
            let count = handlers.len();
            handlers.retain(|handler| {
                !handler
                    .get("command")
                    .and_then(Value::as_str)
                    .is_some_and(|c| is_ours(c, agent))
            });
            removed += count - handlers.len();
            !(handlers.is_empty() && count > 0)
        });
        if removed > before && groups.is_empty() {
            emptied.push(event.clone());
        }
    }
    for event in emptied {
        events.shift_remove(&event);
    }
    if removed > 0 && events.is_empty() {
        root.shift_remove("hooks");
    }
    Ok(removed)
}

fn object_entry<'a>(
    root: &'a mut Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<&'a mut Map<String, Value>, Error> {
    match root.entry(key).or_insert_with(|| Value::Object(Map::new())) {
        Value::Object(object) => Ok(object),
        _ => Err(not_a(path, key, "object")),
    }
}

fn not_a(path: &Path, key: &str, what: &str) -> Error {
    Error::Data(format!(
        "{}: `{key}` is not a JSON {what}; nothing was changed",
        path.display()
    ))
}

/// The file's top-level object (empty when the file is absent or blank) and its text.
fn read(path: &Path) -> Result<(Map<String, Value>, Option<String>), Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Map::new(), None)),
        Err(e) => {
            return Err(Error::Data(format!("cannot read {}: {e}", path.display())));
        }
    };
    if text.trim().is_empty() {
        return Ok((Map::new(), Some(text)));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(root)) => Ok((root, Some(text))),
        Ok(_) => Err(Error::Data(format!(
            "{} is not a JSON object; nothing was changed",
            path.display()
        ))),
        Err(e) => Err(Error::Data(format!(
            "{} is not valid JSON ({e}); nothing was changed",
            path.display()
        ))),
    }
}

enum Written {
    Unchanged,
    Changed { backup: Option<PathBuf> },
}

/// Write `root` to `path` unless that changes nothing; back the old file up first.
fn write(path: &Path, root: &Map<String, Value>, original: Option<&str>) -> Result<Written, Error> {
    let mut text = serde_json::to_string_pretty(root)
        .map_err(|e| Error::Internal(format!("cannot serialise settings: {e}")))?;
    text.push('\n');
    if original == Some(text.as_str()) {
        return Ok(Written::Unchanged);
    }
    let failed = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let backup = match original {
        Some(_) => Some(backup(path).map_err(failed)?),
        None => None,
    };
    let temp = path.with_file_name(format!(
        ".{}.openfeedback-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&temp, &text).map_err(failed)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&temp, meta.permissions());
    }
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        failed(e)
    })?;
    Ok(Written::Changed { backup })
}

/// Copy `path` to `<name>.bak-<UTC time>` (with `-2`, `-3`, ... if that exists).
fn backup(path: &Path) -> std::io::Result<PathBuf> {
    let stamp: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut candidate = path.with_file_name(format!("{name}.bak-{stamp}"));
    let mut n = 1;
    while candidate.exists() {
        n += 1;
        candidate = path.with_file_name(format!("{name}.bak-{stamp}-{n}"));
    }
    std::fs::copy(path, &candidate)?;
    Ok(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("/usr/bin/openfeedback"), "/usr/bin/openfeedback");
        assert_eq!(quote("/a b/it's"), r"'/a b/it'\''s'");
    }

    #[test]
    fn shell_words_read_back_quotes() {
        assert_eq!(
            shell_words(r#"'/a b/it'\''s' hook "x y" z\ w"#),
            ["/a b/it's", "hook", "x y", "z w"]
        );
    }

    #[test]
    fn ours_is_openfeedback_with_hook_and_the_agent() {
        let ours = "/usr/local/bin/openfeedback hook claude-code --config '/a b/c.toml'";
        assert!(is_ours(ours, Agent::ClaudeCode));
        assert!(!is_ours(ours, Agent::Codex));
        assert!(is_ours("'/x y/openfeedback' hook codex", Agent::Codex));
        assert!(!is_ours(
            "echo openfeedback hook claude-code",
            Agent::ClaudeCode
        ));
        assert!(!is_ours("/bin/my-hook claude-code", Agent::ClaudeCode));
    }

    #[test]
    fn removing_keeps_everything_else() {
        let mut root: Map<String, Value> = serde_json::from_str(
            r#"{"model": "x", "hooks": {
                "PermissionRequest": [
                    {"matcher": "*", "hooks": [{"type": "command", "command": "openfeedback hook claude-code"}]},
                    {"matcher": "Bash", "hooks": [
                        {"type": "command", "command": "/bin/audit"},
                        {"type": "command", "command": "/opt/openfeedback hook claude-code"}
                    ]}
                ],
                "PreToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": "openfeedback hook claude-code"}]}],
                "Stop": [{"hooks": [{"type": "command", "command": "/bin/done"}]}]
            }}"#,
        )
        .unwrap();
        let removed = remove_ours(&mut root, Agent::ClaudeCode, Path::new("s.json")).unwrap();
        assert_eq!(removed, 3);
        assert_eq!(
            Value::Object(root).to_string(),
            r#"{"model":"x","hooks":{"PermissionRequest":[{"matcher":"Bash","hooks":[{"type":"command","command":"/bin/audit"}]}],"Stop":[{"hooks":[{"type":"command","command":"/bin/done"}]}]}}"#
        );
    }
}
