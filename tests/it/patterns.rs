//! `openfeedback patterns list|show|test`, and what happens with broken pattern files.

use std::path::PathBuf;

use crate::support::Sandbox;

fn fixture(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
        .display()
        .to_string()
}

const BAD_REGEX: &str = r#"
[[pattern]]
id = "broken"
question = 'Go\? [y/n$'

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

#[tokio::test]
async fn list_shows_the_builtin_generic_patterns() {
    let sb = Sandbox::new();
    let run = sb.run(&["patterns", "list"]).await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("DESCRIPTION"),
        "{}",
        run.stdout
    );
    for id in ["generic/yes-no-word", "generic/y-n"] {
        let line = lines.iter().find(|l| l.starts_with(id)).expect(id);
        assert!(line.contains("built-in patterns/generic.toml"), "{line}");
    }
}

#[tokio::test]
async fn show_prints_the_source_and_the_compiled_form() {
    let sb = Sandbox::new();
    let run = sb.run(&["patterns", "show", "generic/y-n"]).await;
    run.assert_code(0);
    assert!(
        run.stdout.contains("[[pattern]]\nid = \"y-n\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("cursor    end-of-line"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("keys \"y <enter>\""), "{}", run.stdout);
    // An agent name shows all its patterns.
    let run = sb.run(&["patterns", "show", "generic"]).await;
    run.assert_code(0);
    assert_eq!(run.stdout.matches("\ncompiled:").count(), 2);
    let run = sb.run(&["patterns", "show", "nope"]).await;
    run.assert_code(64);
    assert!(
        run.stderr.contains("no pattern named \"nope\""),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn test_reports_the_prompt_on_a_screen_dump() {
    let sb = Sandbox::new();
    let run = sb
        .run(&["patterns", "test", &fixture("screens/apt-continue.txt")])
        .await;
    run.assert_code(0);
    assert!(run.stdout.contains("screen dump"), "{}", run.stdout);
    assert!(
        run.stdout.contains("fired generic/y-n, question on row 8"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("question:    Do you want to continue? [Y/n]")
    );
    assert!(
        run.stdout
            .contains("y \"Yes\" (approve), n \"No\" (reject)")
    );
    assert!(
        run.stdout
            .contains("    | Need to get 1,563 kB of archives.")
    );
}

#[tokio::test]
async fn test_explains_near_misses_and_exits_1() {
    let sb = Sandbox::new();
    let run = sb
        .run(&[
            "patterns",
            "test",
            &fixture("agents/claude-bash-yes.screen.txt"),
            "--agent",
            "generic",
        ])
        .await;
    run.assert_code(1);
    assert!(run.stdout.contains("no pattern fired"), "{}", run.stdout);
    assert!(
        run.stdout.contains("closest:\n  generic/"),
        "{}",
        run.stdout
    );
    // The answered prompt is still visible in scrollback, and said to be outside the region.
    let dump = sb.write(
        "answered.txt",
        "Overwrite config.json? (y/N)\nWrote config.json\n$\n",
    );
    let run = sb.run(&["patterns", "test", dump.to_str().unwrap()]).await;
    run.assert_code(1);
    assert!(run.stdout.contains("generic/y-n at row 0: `question` matches row 0, but the prompt must lie in the bottom 1"), "{}", run.stdout);
}

#[tokio::test]
async fn test_replays_a_recording_with_its_timing_log() {
    let sb = Sandbox::new();
    let run = sb
        .run(&["patterns", "test", &fixture("agents/aider-approve-all.raw")])
        .await;
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("aider-approve-all.timing shows the output pausing"),
        "{}",
        run.stdout
    );
    for (offset, pattern, question) in [
        (
            1019,
            "aider/confirm",
            "Add .aider* to .gitignore (recommended)?",
        ),
        (5174, "aider/file", "Create new file?"),
        (6029, "aider/shell", "Run shell command?"),
        (6572, "aider/confirm", "Add command output to the chat?"),
    ] {
        let fired = format!("fired {pattern} at byte {offset}");
        assert!(run.stdout.contains(&fired), "{fired}\n{}", run.stdout);
        assert!(run.stdout.contains(&format!("question:    {question}")));
    }
    assert!(run.stdout.contains("4 prompt(s) fired"));
}

#[tokio::test]
async fn test_uses_extra_pattern_files_and_agent() {
    let sb = Sandbox::new();
    let sketches = fixture("patterns/menu-sketches.toml");
    let recording = fixture("agents/claude-bash-yes.raw");
    let run = sb
        .run(&[
            "patterns",
            "--patterns",
            &sketches,
            "test",
            &recording,
            "--agent",
            "menu-sketches",
        ])
        .await;
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("patterns tried, in order: menu-sketches/claude-permission"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("fired menu-sketches/claude-permission at byte 5255")
    );
    assert!(
        run.stdout
            .contains("menu:        > Yes | Yes, and always allow")
    );
    let run = sb
        .run(&["patterns", "test", &recording, "--agent", "cursor"])
        .await;
    run.assert_code(64);
    assert!(
        run.stderr
            .contains("--agent: no patterns for agent \"cursor\""),
        "{}",
        run.stderr
    );
    let run = sb.run(&["patterns", "test", "/nonexistent/rec.raw"]).await;
    run.assert_code(65);
}

#[tokio::test]
async fn invalid_user_pattern_file_is_a_config_error() {
    let sb = Sandbox::new();
    let dir = sb.path().join("config/openfeedback/patterns");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("mytool.toml");
    std::fs::write(&bad, BAD_REGEX).unwrap();
    for args in [&["patterns", "list"][..], &["patterns", "show", "generic"]] {
        let run = sb.run(args).await;
        run.assert_code(78);
        let expected = format!(
            "pattern error in {}:4: pattern `broken`: `question` is not a valid regex",
            bad.display()
        );
        assert!(run.stderr.contains(&expected), "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

#[tokio::test]
async fn invalid_extra_files_name_file_line_pattern_and_reason() {
    let sb = Sandbox::new();
    let cases = [
        (
            BAD_REGEX
                .replace("[y/n$", "\\[y/n\\]$")
                .replace("id = \"y\"", "id = \"Yes!\""),
            ":7: pattern `broken`: choice id \"Yes!\" must be 1-8 characters of [a-z0-9_]",
        ),
        (
            BAD_REGEX
                .replace("[y/n$", "\\[y/n\\]$")
                .replace("keys = \"n <enter>\"", "keys = \"n <entr>\""),
            ":16: pattern `broken`: `keys` = \"n <entr>\": at column 3: unknown key `<entr>`",
        ),
        (
            BAD_REGEX.replace("id = \"broken\"", "id = \"broken\"\nregoin = 3"),
            ":4: pattern `broken`: unknown field `regoin`",
        ),
        (
            BAD_REGEX
                .replace("[y/n$", "\\[y/n\\]$")
                .replace("verdict = \"reject\"", "verdict = \"approve\""),
            ":3: pattern `broken`: no reject choice",
        ),
    ];
    for (text, expected) in cases {
        let path = sb.write("extra.toml", &text);
        let run = sb
            .run(&["patterns", "--patterns", path.to_str().unwrap(), "list"])
            .await;
        run.assert_code(78);
        let expected = format!("pattern error in {}{expected}", path.display());
        assert!(
            run.stderr.contains(&expected),
            "expected {expected}\ngot {}",
            run.stderr
        );
    }
}

#[tokio::test]
async fn user_files_override_builtin_patterns_by_id() {
    let sb = Sandbox::new();
    let dir = sb.path().join("config/openfeedback/patterns");
    std::fs::create_dir_all(&dir).unwrap();
    let mine = BAD_REGEX
        .replace("[y/n$", "\\[y/n\\]$")
        .replace("id = \"broken\"", "id = \"y-n\"\ndescription = \"mine\"");
    std::fs::write(dir.join("generic.toml"), mine).unwrap();
    let run = sb.run(&["patterns", "list"]).await;
    run.assert_code(0);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("generic/y-n"))
        .unwrap();
    assert!(
        line.contains("config/openfeedback/patterns/generic.toml") && line.ends_with("mine"),
        "{line}"
    );
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("generic/yes-no-word"))
        .unwrap();
    assert!(line.contains("built-in"), "{line}");
    let generic = run.stdout.lines().filter(|l| l.starts_with("generic/"));
    assert_eq!(generic.count(), 2);
}
