//! Loading, validation errors, overrides and agent selection.

use super::*;

fn compile(text: &str) -> Result<PatternFile, PatternError> {
    compile::compile_file("test", &SourceName::File("test.toml".into()), text)
}

fn no_user_dir() -> LoadOptions {
    LoadOptions {
        user_dir: None,
        ..LoadOptions::default()
    }
}

const MINIMAL: &str = r#"
[[pattern]]
id = "p"
question = 'Go\? \[y/n\]$'

[[pattern.choice]]
id = "y"
label = "Yes"
verdict = "approve"
keys = "y <enter>"

[[pattern.choice]]
id = "n"
label = "No"
verdict = "reject"
keys = "n <enter>"
"#;

/// MINIMAL with `line` inserted after line `after` (1-based) of the text.
fn with(after: usize, line: &str) -> String {
    let mut lines: Vec<&str> = MINIMAL.lines().collect();
    lines.insert(after, line);
    lines.join("\n")
}

#[test]
fn builtin_files_load() {
    let set = load(&no_user_dir()).unwrap();
    let generic: Vec<_> = set.find("generic");
    assert!(generic.len() >= 2, "{generic:?}");
    let agents: Vec<&str> = set.files().iter().map(|f| f.agent.as_str()).collect();
    assert_eq!(
        agents,
        [
            "aider",
            "amazon-q",
            "claude-code",
            "codex",
            "copilot",
            "gemini",
            "goose",
            "generic"
        ]
    );
    // `show` gets the block as written, header first.
    let p = &set.find("generic/y-n")[0];
    assert!(
        p.text.starts_with("[[pattern]]\nid = \"y-n\""),
        "{}",
        p.text
    );
    assert!(!p.text.contains("yes-no-word"));
}

#[test]
fn minimal_file_compiles_with_line_prompt_defaults() {
    let file = compile(MINIMAL).unwrap();
    assert_eq!(file.agent, "test");
    let p = &file.patterns[0];
    assert_eq!(p.full_id, "test/p");
    assert_eq!(p.region, 1);
    assert_eq!(p.cursor, CursorRule::EndOfLine);
    assert_eq!(p.choices.len(), 2);
}

fn error(text: &str) -> PatternError {
    compile(text).expect_err("should be rejected")
}

#[test]
fn errors_name_file_line_pattern_and_reason() {
    let e = error(&MINIMAL.replace(r"Go\? \[y/n\]$", r"Go\? [y/n$"));
    assert_eq!(e.pattern.as_deref(), Some("p"));
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("`question` is not a valid regex"), "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with("pattern error in test.toml:4: pattern `p`: `question`"),
        "{shown}"
    );

    let e = error(&with(3, "colour = \"red\""));
    assert_eq!(e.line, Some(4));
    assert_eq!(e.pattern.as_deref(), Some("p"));
    assert!(e.message.contains("unknown field `colour`"), "{e}");

    let e = error(&with(9, "sound = 1"));
    assert!(e.message.contains("unknown field `sound`"), "{e}");
    assert_eq!(e.pattern.as_deref(), Some("p"));
}

#[test]
fn choices_are_validated() {
    let e = error(&MINIMAL.replace("id = \"y\"", "id = \"Yes!\""));
    assert!(e.message.contains("choice id \"Yes!\" must be 1-8"), "{e}");
    let e = error(&MINIMAL.replace("id = \"y\"", "id = \"approve_it\""));
    assert!(e.message.contains("1-8"), "{e}");
    let e = error(&MINIMAL.replace("id = \"n\"", "id = \"y\""));
    assert!(e.message.contains("duplicate choice id"), "{e}");
    let e = error(&MINIMAL.replace("verdict = \"reject\"", "verdict = \"approve\""));
    assert!(e.message.contains("no reject choice"), "{e}");
    let e = error(&MINIMAL.replace("verdict = \"approve\"", "verdict = \"maybe\""));
    assert!(e.message.contains("verdict must be"), "{e}");
    let e = error(&MINIMAL.replace("keys = \"n <enter>\"", ""));
    assert!(e.message.contains("has no `keys`"), "{e}");
    let e = error(&MINIMAL.replace("keys = \"n <enter>\"", "keys = \" \""));
    assert!(e.message.contains("empty `keys`"), "{e}");
    let e = error(&MINIMAL.replace("n <enter>", "n <entr>"));
    assert!(
        e.message.contains("at column 3: unknown key `<entr>`"),
        "{e}"
    );
    assert_eq!(e.line, Some(16));
    let e = error(&MINIMAL.replace("n <enter>", "n {feedback} <enter>"));
    assert!(e.message.contains("does not say `feedback = true`"), "{e}");
    let e = error(&with(16, "feedback = true"));
    assert!(e.message.contains("never type `{feedback}`"), "{e}");
    let e = error(&with(16, "wait_for = '> $'"));
    assert!(e.message.contains("`wait_for` without `then`"), "{e}");
    let e = error(&with(16, "select = 'No'"));
    assert!(e.message.contains("no [pattern.menu]"), "{e}");
    let e = error(&MINIMAL.replace("label = \"No\"\n", ""));
    assert!(e.message.contains("needs a `label`"), "{e}");
}

#[test]
fn pattern_keys_are_validated() {
    let e = error(&MINIMAL.replace("id = \"p\"", "id = \"p\"\nid2 = 1"));
    assert!(e.message.contains("unknown field `id2`"), "{e}");
    let e = error(&MINIMAL.replace("id = \"p\"", "id = \"P Q\""));
    assert!(e.message.contains("pattern id"), "{e}");
    let e = error(&MINIMAL.replace(r"Go\? \[y/n\]$", ".*"));
    assert!(e.message.contains("matches an empty row"), "{e}");
    let e = error(&with(3, "cursor = \"somewhere\""));
    assert!(e.message.contains("unknown cursor rule"), "{e}");
    let e = error(&with(3, "region = 0"));
    assert!(e.message.contains("`region` must be between 1"), "{e}");
    let e = error(&with(3, "frame = \"a\""));
    assert!(e.message.contains("frame"), "{e}");
    let e = error(&with(4, "[pattern.menu]\nrow = '^\\d\\. .+$'"));
    assert!(e.message.contains("`(?P<label>...)` group"), "{e}");
    let e = error(&with(4, "[pattern.subject]\nfrom = 'somewhere'"));
    assert!(e.message.contains("unknown subject.from"), "{e}");
    let twice = format!("{MINIMAL}\n{}", MINIMAL.trim_start());
    let e = error(&twice);
    assert!(e.message.contains("duplicate pattern id"), "{e}");
    assert_eq!(e.pattern.as_deref(), Some("p"));
    assert_eq!(e.line, Some(19));
    let e = error("agent = \"Claude Code\"\n");
    assert!(e.message.contains("agent"), "{e}");
    assert_eq!(e.pattern, None);
}

fn file(stem: &str, agent: &str, commands: &[&str], ids: &[&str]) -> PatternFile {
    let mut text = format!("agent = \"{agent}\"\ncommands = {commands:?}\n");
    for id in ids {
        text.push_str(&MINIMAL.replace("id = \"p\"", &format!("id = \"{id}\"")));
    }
    compile::compile_file(
        stem,
        &SourceName::File(format!("{stem}.toml").into()),
        &text,
    )
    .unwrap()
}

fn ids(set: &PatternSet) -> Vec<&str> {
    set.active().iter().map(|p| p.full_id.as_str()).collect()
}

#[test]
fn agent_selection_puts_the_agent_first_and_generic_last() {
    let files = || {
        vec![
            file("generic", "generic", &[], &["g"]),
            file("claude-code", "claude-code", &["claude"], &["bash", "edit"]),
            file("aider", "aider", &["aider"], &["confirm"]),
        ]
    };
    let opts = |agent: Option<&str>, command: &[&str]| LoadOptions {
        agent: agent.map(str::to_owned),
        command: command.iter().map(|s| (*s).to_owned()).collect(),
        ..no_user_dir()
    };
    let set = PatternSet::new(files(), &opts(None, &["claude", "--resume"])).unwrap();
    assert_eq!(set.agent(), Some("claude-code"));
    assert_eq!(
        ids(&set),
        ["claude-code/bash", "claude-code/edit", "generic/g"]
    );
    let set = PatternSet::new(files(), &opts(None, &["/usr/bin/vim"])).unwrap();
    assert_eq!(set.agent(), None);
    assert_eq!(ids(&set), ["generic/g"]);
    let set = PatternSet::new(files(), &opts(Some("aider"), &["claude"])).unwrap();
    assert_eq!(ids(&set), ["aider/confirm", "generic/g"]);
    let set = PatternSet::new(files(), &opts(None, &[])).unwrap();
    assert_eq!(
        ids(&set),
        [
            "claude-code/bash",
            "claude-code/edit",
            "aider/confirm",
            "generic/g"
        ]
    );
    let e = PatternSet::new(files(), &opts(Some("cursor"), &[])).unwrap_err();
    assert!(e.is_usage());
    assert!(
        e.to_string()
            .contains("--agent: no patterns for agent \"cursor\""),
        "{e}"
    );
}

#[test]
fn later_files_override_patterns_by_id() {
    let mut user = file("generic", "generic", &[], &["g", "mine"]);
    let replaced = Arc::clone(&user.patterns[0]);
    user.source = SourceName::File("user/generic.toml".into());
    let set = PatternSet::new(
        vec![file("generic", "generic", &[], &["g", "h"]), user],
        &no_user_dir(),
    )
    .unwrap();
    assert_eq!(ids(&set), ["generic/g", "generic/h", "generic/mine"]);
    assert!(Arc::ptr_eq(&set.active()[0], &replaced));
    assert_eq!(set.find("mine").len(), 1);

    let other = file("generic", "mytool", &[], &["g"]);
    let e = PatternSet::new(
        vec![file("generic", "generic", &[], &["g"]), other],
        &no_user_dir(),
    )
    .unwrap_err();
    assert!(e.message.contains("name the file after its agent"), "{e}");
}

#[test]
fn command_names_see_through_launchers() {
    let names =
        |cmd: &[&str]| command_names(&cmd.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    assert_eq!(names(&["/usr/local/bin/claude"]), ["claude"]);
    assert_eq!(
        names(&["npx", "-y", "@anthropic-ai/claude-code@latest"]),
        ["npx", "claude-code"]
    );
    assert_eq!(
        names(&["pnpm", "dlx", "@google/gemini-cli"]),
        ["pnpm", "gemini-cli"]
    );
    assert_eq!(
        names(&[
            "node",
            "--max-old-space-size=4096",
            "/x/node_modules/@google/gemini-cli/dist/index.js"
        ]),
        ["node", "gemini-cli"]
    );
    assert_eq!(
        names(&["node", "node_modules/.bin/codex"]),
        ["node", "codex"]
    );
    assert_eq!(
        names(&["python3.11", "-m", "aider.main", "--yes"]),
        ["python3.11", "aider"]
    );
    assert_eq!(names(&["uvx", "aider-chat==0.86"]), ["uvx", "aider-chat"]);
    assert_eq!(names(&["env", "-i", "TERM=xterm", "aider"]), ["aider"]);
    assert!(names(&[]).is_empty());
}

#[test]
fn missing_extra_path_is_an_error() {
    let e = load(&LoadOptions {
        extra: vec!["/nonexistent/x.toml".into()],
        ..no_user_dir()
    })
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.toml"), "{e}");
    assert!(!e.is_usage());
}

#[test]
fn wrap_compiles_only_the_built_in_files_it_can_use_and_selects_the_same_patterns() {
    let dir = tempfile::tempdir().unwrap();
    // A user file that adds a command name to aider and a pattern to generic.
    std::fs::write(dir.path().join("aider.toml"), "commands = [\"my-aider\"]\n").unwrap();
    std::fs::write(
        dir.path().join("generic.toml"),
        "[[pattern]]\nid = \"mine\"\nquestion = '^(?P<question>Go\\?) \\(yes\\)$'\n\
         [[pattern.choice]]\nid = \"y\"\nverdict = \"approve\"\nkeys = \"yes <enter>\"\n\
         [[pattern.choice]]\nid = \"n\"\nverdict = \"reject\"\nkeys = \"no <enter>\"\n",
    )
    .unwrap();
    let cases: Vec<(Option<&str>, Vec<&str>)> = vec![
        (None, vec!["claude"]),
        (None, vec!["npx", "@anthropic-ai/claude-code"]),
        (None, vec!["python3", "-m", "aider"]),
        (None, vec!["my-aider", "--yes"]),
        (None, vec!["codex", "exec"]),
        (None, vec!["gemini"]),
        (None, vec!["cat", "file"]),
        (Some("goose"), vec!["anything"]),
        (Some("generic"), vec![]),
        (Some("nobody"), vec!["x"]),
    ];
    for (agent, command) in cases {
        let options = LoadOptions {
            extra: vec![],
            agent: agent.map(str::to_owned),
            command: command.iter().map(|s| (*s).to_owned()).collect(),
            user_dir: Some(dir.path().to_owned()),
        };
        let lazy = load(&options);
        let full = load_builtins(&options, false);
        match (lazy, full) {
            (Ok(lazy), Ok(full)) => {
                assert_eq!(lazy.agent(), full.agent(), "{command:?}");
                assert_eq!(ids(&lazy), ids(&full), "{command:?}");
                assert!(
                    lazy.files().len() <= 3,
                    "{command:?}: {}",
                    lazy.files().len()
                );
            }
            (Err(lazy), Err(full)) => assert_eq!(lazy, full, "{agent:?}"),
            (lazy, full) => panic!("{agent:?} {command:?}: {lazy:?} vs {full:?}"),
        }
    }
}
