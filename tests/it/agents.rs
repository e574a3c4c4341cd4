//! The built-in agent patterns through the command line: `openfeedback patterns list` shows
//! them, and `openfeedback patterns test <recording>` explains where each prompt of a real
//! agent session fires, with which pattern, question, subject, choices and menu.

use std::path::PathBuf;

use crate::support::Sandbox;

fn recording(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/agents")
        .join(name)
        .display()
        .to_string()
}

#[tokio::test]
async fn list_shows_every_agent_file() {
    let sb = Sandbox::new();
    let run = sb.run(&["patterns", "list"]).await;
    run.assert_code(0);
    for (id, file) in [
        ("aider/shell", "aider.toml"),
        ("claude-code/bash", "claude-code.toml"),
        ("claude-code/trust", "claude-code.toml"),
        ("codex/exec", "codex.toml"),
        ("gemini/shell", "gemini.toml"),
        ("gemini/edit", "gemini.toml"),
    ] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} in\n{}", run.stdout));
        assert!(
            line.contains(&format!("built-in patterns/{file}")),
            "{line}"
        );
    }
}

/// `patterns test <name>.raw`: the output lines that must be there, in this order.
async fn explains(name: &str, agent: Option<&str>, expected: &[&str]) {
    let sb = Sandbox::new();
    let file = recording(&format!("{name}.raw"));
    let mut args = vec!["patterns", "test", file.as_str()];
    if let Some(agent) = agent {
        args.extend(["--agent", agent]);
    }
    let run = sb.run(&args).await;
    run.assert_code(0);
    let mut rest = run.stdout.as_str();
    for line in expected {
        let at = rest.find(line).unwrap_or_else(|| {
            panic!(
                "{name}: {line:?} missing (or out of order) in\n{}",
                run.stdout
            )
        });
        rest = &rest[at + line.len()..];
    }
}

#[tokio::test]
async fn claude_code_recordings() {
    explains(
        "claude-bash-yes",
        Some("claude-code"),
        &[
            "claude-bash-yes.timing shows the output pausing",
            "patterns tried, in order: claude-code/bash, claude-code/mcp,",
            "fired claude-code/bash at byte 5255, question on row 26",
            "question:    Do you want to proceed?",
            "subject:     touch proof.txt / Create proof file",
            "choices:     y \"Yes\" (approve), always \"Yes, and always allow access to proj/ from this project\" (approve), n \"No\" (reject), nf \"No, and tell Claude\" (reject+feedback)",
            "menu:        > Yes | Yes, and always allow access to proj/ from this project | No",
            "    |  Bash command",
            "1 prompt(s) fired",
        ],
    )
    .await;
    explains(
        "claude-startup-dialogs",
        None,
        &[
            "fired claude-code/trust at byte 1312",
            "question:    Is this a project you created or one you trust?",
            "subject:     /tmp/claude-lab-ojvtygr_/proj",
            "choices:     y \"Yes, I trust this folder\" (approve), n \"No, exit\" (reject)",
            "fired claude-code/api-key at byte 1924",
            "menu:        Yes | > No",
            "fired claude-code/bash at byte 7254",
            "3 prompt(s) fired",
        ],
    )
    .await;
    explains(
        "claude-2329-bash-amend",
        None,
        &[
            "fired claude-code/bash at byte 4852",
            "subject:     touch proof.txt\n",
            "menu:        > Yes | Yes, and always allow access to /tmp/lab/cl/proj from this project | Yes, and switch to auto mode · auto mode handles these prompts for you | No",
            "1 prompt(s) fired",
        ],
    )
    .await;
}

#[tokio::test]
async fn codex_recordings() {
    explains(
        "codex-trust-queued",
        None,
        &[
            "fired codex/trust at byte 6127",
            "question:    Trust this folder?",
            "choices:     y \"Trust and continue\" (approve), n \"Back to Agent Command Center\" (reject)",
            "fired codex/exec at byte 14790",
            "subject:     touch proof.txt",
            "choices:     y \"Yes, proceed\" (approve), p \"Yes, and don't ask again for commands that start with `touch proof.txt`\" (approve), n \"No\" (reject), nf \"No, and tell Codex\" (reject+feedback)",
            "fired codex/exec at byte 15355",
            "subject:     touch second.txt",
            "3 prompt(s) fired",
        ],
    )
    .await;
}

#[tokio::test]
async fn gemini_recordings() {
    explains(
        "gemini-shell-yes",
        None,
        &[
            "fired gemini/shell at byte 17975",
            "question:    Allow execution of [Shell]?",
            "subject:     touch proof.txt",
            "menu:        > Allow once | Allow for this session | No, suggest changes",
            "1 prompt(s) fired",
        ],
    )
    .await;
    explains(
        "gemini-trust-write-session",
        None,
        &[
            "fired gemini/trust at byte 5488",
            "choices:     y \"Trust folder (proj)\" (approve), parent \"Trust parent folder (gw)\" (approve), n \"Don't trust\" (reject)",
            "fired gemini/edit at byte 36334",
            "question:    Apply this change?",
            "subject:     Writing to proof.txt",
            "menu:        > Allow once | Allow for this session | Modify with external editor | No, suggest changes",
            "2 prompt(s) fired",
        ],
    )
    .await;
}

#[tokio::test]
async fn aider_recordings() {
    explains(
        "aider-deny-all",
        None,
        &[
            "fired aider/confirm at byte 1019, question on row 2",
            "question:    Add .aider* to .gitignore (recommended)?",
            "choices:     y \"Yes\" (approve), n \"No\" (reject), nf \"No, and tell aider\" (reject+feedback)",
            "fired aider/file at byte 5151",
            "subject:     proof.txt",
            "fired aider/shell at byte 5957",
            "subject:     touch shell_proof.txt && echo shell-ran",
            "choices:     y \"Yes\" (approve), n \"No\" (reject), d \"Don't ask again\" (reject), nf \"No, and tell aider\" (reject+feedback)",
            "3 prompt(s) fired",
        ],
    )
    .await;
}

#[tokio::test]
async fn show_explains_the_claude_bash_pattern() {
    let sb = Sandbox::new();
    let run = sb.run(&["patterns", "show", "claude-code/bash"]).await;
    run.assert_code(0);
    for part in [
        "above     /^\\s*Bash command\\b/",
        "frame     \"│\"",
        "nf       reject+feedback \"No, and tell Claude\"; when /\\bTab to amend\\b/; select /^No$/ then; keys \"<tab>\"",
        "nf_esc   reject+feedback \"No, and tell Claude\"; unless /\\bTab to amend\\b/; keys \"<esc>\"",
    ] {
        assert!(run.stdout.contains(part), "{part:?} in\n{}", run.stdout);
    }
}

#[tokio::test]
async fn every_recording_fires_once_per_prompt_with_its_agents_patterns() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/agents");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".raw")?.to_owned();
            std::path::Path::new(&stem)
                .extension()
                .is_none()
                .then_some(stem)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 17, "{names:?}");
    let sb = Sandbox::new();
    for name in names {
        let record: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let prompts = record["stages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s.get("raw_offset_at_prompt").is_some())
            .count();
        let agent = match record["agent"].as_str().unwrap() {
            "gemini-cli" => "gemini",
            other => other,
        };
        let file = recording(&format!("{name}.raw"));
        let run = sb.run(&["patterns", "test", &file]).await;
        run.assert_code(0);
        assert!(
            run.stdout.contains(&format!("\n{prompts} prompt(s) fired")),
            "{name}: expected {prompts} prompts\n{}",
            run.stdout
        );
        let fired: Vec<&str> = run
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("fired "))
            .collect();
        assert_eq!(fired.len(), prompts, "{name}");
        for line in fired {
            assert!(line.starts_with(&format!("{agent}/")), "{name}: {line}");
        }
    }
}
