//! `hook <agent>`: agents' hook events piped into the real binary, the fake Bot API answering,
//! and the stdout JSON compared byte for byte with what the agent reads. Then `hook install` /
//! `uninstall` on settings files, and (behind OPENFEEDBACK_REAL_AGENTS=1) the real Claude Code.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::support::fake_discord::{FakeDiscord, FakeUser};
use crate::support::fake_telegram::TOKEN;
use crate::support::telegram_rig::{Config, Rig, WAIT};
use crate::support::{Run, Sandbox};

mod real;

const CLAUDE_BASH: &str =
    include_str!("../../fixtures/hooks/claude-code-permission-request-bash.json");
const CLAUDE_WRITE: &str =
    include_str!("../../fixtures/hooks/claude-code-permission-request-write.json");
const CLAUDE_EDIT: &str =
    include_str!("../../fixtures/hooks/claude-code-permission-request-edit.json");
const CLAUDE_PRE_WRITE: &str =
    include_str!("../../fixtures/hooks/claude-code-pre-tool-use-write.json");
const CLAUDE_NOTIFICATION: &str =
    include_str!("../../fixtures/hooks/claude-code-notification.json");
const CODEX: &str = include_str!("../../fixtures/hooks/codex-permission-request.json");
const GEMINI: &str = include_str!("../../fixtures/hooks/gemini-before-tool.json");

const ALLOW: &str = r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"allow"}}}
"#;

/// The Telegram rig, and `hook` run in it.
struct Setup(Rig);

impl Deref for Setup {
    type Target = Rig;

    fn deref(&self) -> &Rig {
        &self.0
    }
}

impl Setup {
    /// `reject_feedback_timeout = 10`, then `extra` (top-level keys, or a `[hook]` table).
    async fn new(extra: &str) -> Setup {
        Setup::with(Config::reject_feedback_timeout(10).before_telegram(extra)).await
    }

    async fn with(config: Config<'_>) -> Setup {
        Setup(Rig::new(config).await)
    }

    /// `openfeedback hook <agent> ARGS` with `payload` on stdin (see [`spawn_hook`]).
    async fn hook(&self, agent: &str, payload: &str, args: &[&str]) -> tokio::process::Child {
        spawn_hook(&self.sb, &self.config, agent, payload, args).await
    }

    /// Send `payload` again while the earlier request is in the chat, decided, and reject the
    /// new one with `reason`.
    async fn ask_again_and_reject(&self, agent: &str, payload: &str, reason: &str) -> Run {
        let child = self.hook(agent, payload, &[]).await;
        let msg = self
            .fake
            .wait_message(
                |m| m.has_keyboard() && m.reply_to.is_none() && !m.text.contains("Approved"),
                WAIT,
            )
            .await;
        self.reject_with(&msg, "Reject", reason).await;
        Run::wait(child).await
    }
}

/// `openfeedback hook <agent> --config CONFIG ARGS` with `payload` on stdin. The recorded
/// payloads' session transcripts are moved into the sandbox (where they do not exist).
async fn spawn_hook(
    sb: &Sandbox,
    config: &Path,
    agent: &str,
    payload: &str,
    args: &[&str],
) -> tokio::process::Child {
    let payload = payload.replace("/tmp/cc-exp/home/", &format!("{}/", sb.home().display()));
    let mut all = vec!["hook", agent, "--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut cmd = sb.command(&all);
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn hook");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(payload.as_bytes()).await.unwrap();
    drop(stdin);
    child
}

fn assert_stdout(run: &Run, expected: &str) {
    assert_eq!(
        run.stdout, expected,
        "stdout, byte for byte\nstderr: {}",
        run.stderr
    );
}

// --- Claude Code --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn claude_approve_allows_and_shows_the_command() {
    let t = Setup::new("").await;
    let child = t.hook("claude-code", CLAUDE_BASH, &[]).await;
    let msg = t.request().await;
    assert!(
        msg.html.starts_with(
            "🔔 <b>Bash: touch proof.txt</b>\n\n<pre># Create proof file\n$ touch proof.txt</pre>"
        ),
        "{}",
        msg.html
    );
    assert!(msg.text.contains("in /tmp/cc-exp/proj"), "{}", msg.text);
    assert!(
        msg.text.contains("Session: Claude Code ce688121"),
        "{}",
        msg.text
    );
    let labels: Vec<String> = msg.buttons().into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels[..2], ["✅ Approve", "❌ Reject"]);
    assert!(
        labels[2].starts_with("✅ Always allow access to /tmp/cc-exp/proj; edits"),
        "{labels:?}"
    );
    assert!(labels[2].chars().count() <= 64, "{labels:?}");
    t.click(&msg, "Approve");
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(&run, ALLOW);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let after = t.fake.message(t.chat, msg.message_id).unwrap();
    assert!(after.text.contains("Approved by @ann"), "{}", after.text);
    assert!(!after.has_keyboard());
    let audit = t.sb.audit();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["kind"], "hook");
    assert_eq!(audit[0]["decision"], "approved");
    assert_eq!(audit[0]["title"], "Bash: touch proof.txt");
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_reject_with_a_reason_is_the_message_to_the_model() {
    let t = Setup::new("").await;
    let child = t.hook("claude-code", CLAUDE_BASH, &[]).await;
    let msg = t.request().await;
    t.reject_with(&msg, "Reject", "use a \"migration\" instead")
        .await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(
        &run,
        r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"deny","message":"use a \"migration\" instead"}}}
"#,
    );
    assert_eq!(t.sb.audit()[0]["decision"], "rejected");
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_reject_without_a_reason_says_who_denied() {
    let t = Setup::with(Config::reject_feedback_timeout(0)).await;
    let child = t.hook("claude-code", CLAUDE_WRITE, &[]).await;
    let msg = t.request().await;
    t.click(&msg, "Reject");
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(
        &run,
        r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"deny","message":"Denied by @ann on Telegram through openfeedback."}}}
"#,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_answered_at_the_terminal_withdraws_the_request() {
    // Claude Code shows its own dialog while the hook waits; an answer there shows up in the
    // session transcript as the tool call's result.
    let t = Setup::new("").await;
    let transcript = t.sb.path().join("work/session.jsonl");
    let now = || humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let tool_use = json!({"type": "assistant", "timestamp": now(), "message": {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_01", "name": "Bash",
         "input": {"command": "touch proof.txt", "description": "Create proof file"}}
    ]}});
    std::fs::write(&transcript, format!("{tool_use}\n")).unwrap();
    let mut payload: Value = serde_json::from_str(CLAUDE_BASH).unwrap();
    payload["transcript_path"] = json!(transcript);
    let child = t.hook("claude-code", &payload.to_string(), &[]).await;
    let msg = t.request().await;

    let result = json!({"type": "user", "timestamp": now(), "message": {"role": "user", "content": [
        {"tool_use_id": "toolu_01", "type": "tool_result", "content": "(Bash completed with no output)", "is_error": false}
    ]}});
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    std::io::Write::write_all(&mut file, format!("{result}\n").as_bytes()).unwrap();

    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(&run, "");
    assert!(
        run.stderr.contains("answered at the terminal"),
        "{}",
        run.stderr
    );
    let after = t.fake.message(t.chat, msg.message_id).unwrap();
    assert!(
        after.text.contains("Answered at the terminal at"),
        "{}",
        after.text
    );
    assert!(!after.has_keyboard());
    assert_eq!(t.sb.audit()[0]["decision"], "cancelled");
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_always_allow_passes_the_suggestions_back() {
    let t = Setup::new("").await;
    let child = t.hook("claude-code", CLAUDE_BASH, &[]).await;
    let msg = t.request().await;
    t.click(&msg, "Always allow");
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(
        &run,
        r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"allow","updatedPermissions":[{"type":"addDirectories","directories":["/tmp/cc-exp/proj"],"destination":"session"},{"type":"setMode","mode":"acceptEdits","destination":"session"}]}}}
"#,
    );
    let after = t.fake.message(t.chat, msg.message_id).unwrap();
    assert!(after.text.contains("Always allow"), "{}", after.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_approve_with_a_note_tells_the_user() {
    let t = Setup::new("").await;
    let child = t.hook("claude-code", CLAUDE_WRITE, &[]).await;
    let msg = t.request().await;
    t.fake
        .reply(t.chat, msg.message_id, "fine, but no more files", &t.ann);
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(
        &run,
        r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"allow"}},"systemMessage":"Approved by @ann on Telegram: fine, but no more files"}
"#,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_edit_shows_a_diff_preview() {
    let t = Setup::new("").await;
    let child = t
        .hook("claude-code", CLAUDE_EDIT, &["--timeout", "2"])
        .await;
    let msg = t.request().await;
    assert!(
        msg.text.starts_with(
            "🔔 Edit: src/db.rs\n\nsrc/db.rs\n- DROP TABLE users;\n+ -- keep the users table\n+ ALTER TABLE users ADD COLUMN email TEXT;\n"
        ),
        "{}",
        msg.text
    );
    assert!(msg.text.contains("in /home/u/proj"), "{}", msg.text);
    Run::wait(child).await.assert_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_timeout_gives_no_decision() {
    let t = Setup::new("").await;
    let child = t
        .hook("claude-code", CLAUDE_BASH, &["--timeout", "2"])
        .await;
    let msg = t.request().await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(
        &run,
        "{\"systemMessage\":\"openfeedback: nobody answered within 2s\"}\n",
    );
    assert!(
        run.stderr
            .contains("no decision (nobody answered within 2s); Claude Code asks at the terminal"),
        "{}",
        run.stderr
    );
    let after = t.fake.message(t.chat, msg.message_id).unwrap();
    assert!(after.text.contains("Timed out"), "{}", after.text);
    assert!(!after.has_keyboard());
    assert_eq!(t.sb.audit()[0]["decision"], "timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_timeout_denies_when_configured() {
    let t = Setup::new("[hook]\non_timeout = \"deny\"").await;
    let child = t
        .hook("claude-code", CLAUDE_BASH, &["--timeout", "2"])
        .await;
    t.request().await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(
        &run,
        r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"deny","message":"Denied: nobody approved this within 2s (openfeedback's [hook] on_timeout is \"deny\")."}}}
"#,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_pre_tool_use_uses_permission_decision() {
    let t = Setup::new("").await;
    let child = t.hook("claude-code", CLAUDE_PRE_WRITE, &[]).await;
    let msg = t.request().await;
    assert!(
        msg.text
            .starts_with("🔔 Write: proof.txt\n\nproof.txt\nwritten by fake model\n"),
        "{}",
        msg.text
    );
    assert_eq!(msg.buttons().len(), 2, "no Always allow for PreToolUse");
    t.click(&msg, "Approve");
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(
        &run,
        r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow","permissionDecisionReason":"Approved by @ann on Telegram through openfeedback"}}
"#,
    );

    let run = t
        .ask_again_and_reject("claude-code", CLAUDE_PRE_WRITE, "not in this directory")
        .await;
    assert_stdout(
        &run,
        r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"not in this directory"}}
"#,
    );

    let run = Run::wait(
        t.hook("claude-code", CLAUDE_PRE_WRITE, &["--timeout", "1"])
            .await,
    )
    .await;
    run.assert_code(0);
    assert_stdout(
        &run,
        r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"ask","permissionDecisionReason":"openfeedback: nobody answered within 1s"}}
"#,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_notification_is_a_message_without_buttons() {
    let t = Setup::new("").await;
    let run = Run::wait(t.hook("claude-code", CLAUDE_NOTIFICATION, &[]).await).await;
    run.assert_code(0);
    assert_stdout(&run, "");
    let messages = t.fake.bot_messages(t.chat);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].text,
        "📣 Claude Code\n\nClaude is waiting for your input\n\nFrom {host} in /home/u/proj\nSession: Claude Code 0d6c1f2a"
            .replace("{host}", &host()),
    );
    assert!(!messages[0].has_keyboard());
    assert!(t.sb.audit().is_empty(), "notices decide nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_tool_input_is_cut_and_still_decided() {
    let t = Setup::new("").await;
    let lines: Vec<String> = (0..60_000)
        .map(|i| format!("line {i} of a big file"))
        .collect();
    let content = lines.join("\n");
    let mut payload: Value = serde_json::from_str(CLAUDE_WRITE).unwrap();
    payload["tool_input"]["content"] = json!(content);
    let payload = payload.to_string();
    assert!(payload.len() > 1_000_000);
    let child = t.hook("claude-code", &payload, &[]).await;
    let msg = t.request().await;
    assert!(msg.text.chars().count() <= 4096);
    assert!(
        msg.text
            .contains("line 39 of a big file\n… 59960 more lines"),
        "{}",
        msg.text
    );
    t.click(&msg, "Approve");
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(&run, ALLOW);
    let after = t.fake.message(t.chat, msg.message_id).unwrap();
    assert!(after.text.chars().count() <= 4096);
}

// --- Codex and Gemini CLI -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn codex_permission_request() {
    let t = Setup::new("").await;
    let child = t.hook("codex", CODEX, &[]).await;
    let msg = t.request().await;
    assert!(
        msg.html.starts_with(
            "🔔 <b>Bash: git push origin main</b>\n\n<pre># Push the release branch\n$ git push origin main</pre>"
        ),
        "{}",
        msg.html
    );
    assert_eq!(
        msg.buttons().len(),
        2,
        "Codex has no standing rules to offer"
    );
    assert!(msg.text.contains("Session: Codex 019a3f7e"), "{}", msg.text);
    t.click(&msg, "Approve");
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(&run, ALLOW);

    assert_stdout(
        &t.ask_again_and_reject("codex", CODEX, "push to a branch, not main")
            .await,
        r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"deny","message":"push to a branch, not main"}}}
"#,
    );

    let run = Run::wait(t.hook("codex", CODEX, &["--timeout", "1"]).await).await;
    run.assert_code(0);
    assert_stdout(
        &run,
        "{\"systemMessage\":\"openfeedback: nobody answered within 1s\"}\n",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_before_tool() {
    let t = Setup::new("").await;
    let child = t.hook("gemini", GEMINI, &[]).await;
    let msg = t.request().await;
    assert!(
        msg.text.starts_with(
            "🔔 run_shell_command: rm -rf build\n\n# Clean the build directory\n# in /home/u/repo\n$ rm -rf build\n"
        ),
        "{}",
        msg.text
    );
    t.click(&msg, "Approve");
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(&run, "{\"decision\":\"allow\"}\n");

    assert_stdout(
        &t.ask_again_and_reject("gemini", GEMINI, "keep the build cache")
            .await,
        "{\"decision\":\"deny\",\"reason\":\"keep the build cache\"}\n",
    );

    let run = Run::wait(t.hook("gemini", GEMINI, &["--timeout", "1"]).await).await;
    run.assert_code(0);
    assert_stdout(
        &run,
        "{\"decision\":\"ask\",\"systemMessage\":\"openfeedback: nobody answered within 1s\"}\n",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn discord_carries_hook_requests_and_notices() {
    let fake = FakeDiscord::start().await;
    let ann = FakeUser::human("ann");
    let sb = Sandbox::new();
    let config = sb.write_config(&format!(
        "default_provider = \"discord\"\ndefault_timeout = 60\nreject_feedback_timeout = 30\n\n{}",
        fake.config_section(&[&ann], true)
    ));
    let child = spawn_hook(&sb, &config, "claude-code", CLAUDE_BASH, &[]).await;
    let message = fake.request_message().await;
    assert_eq!(message["content"], "🔔 **Bash: touch proof.txt**");
    let id = message["id"].as_str().unwrap().to_owned();
    let always = fake.button(&id, ":always").expect("an Always allow button");
    let click = fake.click(&id, &always, &ann).unwrap();
    assert_eq!(fake.callback(&click).await.body["type"], 7);
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_stdout(
        &run,
        r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"allow","updatedPermissions":[{"type":"addDirectories","directories":["/tmp/cc-exp/proj"],"destination":"session"},{"type":"setMode","mode":"acceptEdits","destination":"session"}]}}}
"#,
    );

    let run =
        Run::wait(spawn_hook(&sb, &config, "claude-code", CLAUDE_NOTIFICATION, &[]).await).await;
    run.assert_code(0);
    assert_stdout(&run, "");
    let notice = fake.nth_request_message(1).await;
    assert_eq!(notice["content"], "📣 **Claude Code**");
    assert_eq!(
        notice["embeds"][0]["description"],
        "Claude is waiting for your input"
    );
    assert!(
        notice["components"].as_array().is_none_or(Vec::is_empty),
        "{notice}"
    );
    fake.assert_clean();
}

// --- Bad input, outages, signals --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn malformed_input_is_no_decision_never_an_allow() {
    let t = Setup::new("").await;
    let cases = [
        ("", "nothing on standard input"),
        (
            "{\"hook_event_name\": \"PermissionRequest\", ",
            "not valid JSON",
        ),
        ("[\"Bash\"]", "not a JSON object"),
        (
            r#"{"hook_event_name":"PermissionRequest","tool_input":{"command":"rm -rf /"}}"#,
            "`tool_name` is missing",
        ),
        (
            r#"{"hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{}}"#,
            "does not handle the Claude Code hook event \"PostToolUse\"",
        ),
    ];
    for (payload, expected) in cases {
        let run = Run::wait(t.hook("claude-code", payload, &[]).await).await;
        run.assert_code(65);
        assert_stdout(&run, "");
        assert!(run.stderr.contains(expected), "{payload:?}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with("openfeedback: bad input: hook event: ")
        );
    }
    let run = Run::wait(t.hook("codex", CLAUDE_PRE_WRITE, &[]).await).await;
    run.assert_code(65);
    assert_stdout(&run, "");
    assert!(run.stderr.contains("\"PreToolUse\""), "{}", run.stderr);

    // Gemini reads any non-zero exit as allow-with-a-warning or deny, depending on its version:
    // it gets an explicit "ask" instead.
    let run = Run::wait(t.hook("gemini", "not json", &[]).await).await;
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("{\"decision\":\"ask\",\"systemMessage\":\"openfeedback: bad input: hook event: not valid JSON"),
        "{}",
        run.stdout
    );
    assert!(t.fake.bot_messages(t.chat).is_empty(), "nothing was asked");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_provider_is_no_decision_or_a_configured_deny() {
    let t = Setup::new("").await;
    t.fake.stop().await;
    let run = Run::wait(
        t.hook("claude-code", CLAUDE_BASH, &["--timeout", "3"])
            .await,
    )
    .await;
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("{\"systemMessage\":\"openfeedback: could not reach a human: telegram: "),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("allow"), "{}", run.stdout);
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains(TOKEN) && !text.contains("AAHfake"),
            "token leaked: {text}"
        );
    }

    let text = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(&t.config, format!("{text}\n[hook]\non_error = \"deny\"\n")).unwrap();
    let run = Run::wait(
        t.hook("claude-code", CLAUDE_BASH, &["--timeout", "3"])
            .await,
    )
    .await;
    run.assert_code(0);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["hookSpecificOutput"]["decision"]["behavior"], "deny");
    assert!(
        out["hookSpecificOutput"]["decision"]["message"]
            .as_str()
            .unwrap()
            .starts_with(
                "Denied: openfeedback could not reach a human to approve this (telegram: "
            ),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_config_is_no_decision() {
    let t = Setup::new("").await;
    std::fs::write(&t.config, "default_provider = \"pigeon\"\n").unwrap();
    let run = Run::wait(t.hook("claude-code", CLAUDE_BASH, &[]).await).await;
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("{\"systemMessage\":\"openfeedback: config error in "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("unknown provider"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_from_the_agent_withdraws_the_request_and_prints_nothing() {
    let t = Setup::new("").await;
    let child = t.hook("claude-code", CLAUDE_BASH, &[]).await;
    let msg = t.request().await;
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    unsafe { libc::kill(child.id().unwrap().cast_signed(), libc::SIGTERM) };
    let run = Run::wait(child).await;
    run.assert_code(143);
    assert_stdout(&run, "");
    let after = t.fake.message(t.chat, msg.message_id).unwrap();
    assert!(after.text.contains("Withdrawn"), "{}", after.text);
    assert!(!after.has_keyboard());
}

// --- install / uninstall ----------------------------------------------------------------------

/// The command line `hook install` writes, for this sandbox's config.
fn our_command(t: &Setup, agent: &str) -> String {
    format!(
        "{} hook {agent} --config {}",
        crate::support::bin(),
        t.config.display()
    )
}

fn backups(path: &Path) -> Vec<PathBuf> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut found: Vec<PathBuf> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{name}.bak-"))
        })
        .collect();
    found.sort();
    found
}

/// A settings file as Claude Code writes it (`JSON.stringify(settings, null, 2)`), with hooks
/// and keys of its own.
const EXISTING: &str = r#"{
  "model": "opus",
  "permissions": {
    "allow": [
      "Bash(npm test:*)"
    ]
  },
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/local/bin/audit-bash"
          }
        ]
      }
    ],
    "PermissionRequest": [
      {
        "matcher": "Write",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/local/bin/check-write",
            "timeout": 5
          }
        ]
      }
    ]
  },
  "env": {
    "FOO": "bar"
  }
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn install_merges_keeps_a_backup_and_uninstall_removes_only_ours() {
    let t = Setup::new("default_timeout = 600").await;
    let settings = t.sb.write("settings.json", EXISTING);
    let file = settings.to_str().unwrap();
    let config = t.config.to_str().unwrap();
    let install = [
        "hook",
        "install",
        "claude-code",
        "--file",
        file,
        "--config",
        config,
    ];
    let uninstall = ["hook", "uninstall", "claude-code", "--file", file];

    let run = t.sb.run(&install).await;
    run.assert_code(0);
    assert!(
        run.stderr
            .contains("installed the Claude Code PermissionRequest hook"),
        "{}",
        run.stderr
    );
    let expected = EXISTING.replace(
        r#"            "timeout": 5
          }
        ]
      }
    ]"#,
        &format!(
            r#"            "timeout": 5
          }}
        ]
      }},
      {{
        "matcher": "*",
        "hooks": [
          {{
            "type": "command",
            "command": "{}",
            "timeout": 670
          }}
        ]
      }}
    ]"#,
            our_command(&t, "claude-code")
        ),
    );
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), expected);
    let saved = backups(&settings);
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(std::fs::read_to_string(&saved[0]).unwrap(), EXISTING);

    // Again: nothing changes, no second backup.
    let run = t.sb.run(&install).await;
    run.assert_code(0);
    assert!(run.stderr.contains("already installed"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), expected);
    assert_eq!(backups(&settings).len(), 1);

    // Uninstall gives back the original file.
    std::thread::sleep(Duration::from_millis(1100)); // a distinct backup name
    let run = t.sb.run(&uninstall).await;
    run.assert_code(0);
    assert!(
        run.stderr.contains("removed 1 openfeedback hook"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), EXISTING);
    assert_eq!(backups(&settings).len(), 2);
    let run = t.sb.run(&uninstall).await;
    run.assert_code(0);
    assert!(run.stderr.contains("nothing to remove"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn install_creates_user_and_project_files_per_agent() {
    let t =
        Setup::with(Config::reject_feedback_timeout(20).before_telegram("default_timeout = 100"))
            .await;
    let config = t.config.to_str().unwrap();
    let home = t.sb.home();
    let work = t.sb.path().join("work");

    for (args, path, event, timeout) in [
        (
            vec!["claude-code"],
            home.join(".claude/settings.json"),
            "PermissionRequest",
            180,
        ),
        (
            vec!["claude-code", "--project"],
            work.join(".claude/settings.json"),
            "PermissionRequest",
            180,
        ),
        (
            vec!["claude-code", "--local"],
            work.join(".claude/settings.local.json"),
            "PermissionRequest",
            180,
        ),
        (
            vec!["codex", "--user"],
            home.join(".codex/hooks.json"),
            "PermissionRequest",
            180,
        ),
        (
            vec!["codex", "--project"],
            work.join(".codex/hooks.json"),
            "PermissionRequest",
            180,
        ),
        (
            vec!["gemini"],
            home.join(".gemini/settings.json"),
            "BeforeTool",
            180_000,
        ),
        (
            vec!["gemini", "--project"],
            work.join(".gemini/settings.json"),
            "BeforeTool",
            180_000,
        ),
    ] {
        let mut all = vec!["hook", "install"];
        all.extend(&args);
        all.extend(["--config", config]);
        t.sb.run(&all).await.assert_code(0);
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let hook = &written["hooks"][event][0]["hooks"][0];
        assert_eq!(hook["type"], "command", "{args:?}");
        assert_eq!(hook["command"], our_command(&t, args[0]), "{args:?}");
        assert_eq!(hook["timeout"], timeout, "{args:?}");
        assert!(backups(&path).is_empty(), "a new file needs no backup");
    }
    let gemini: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join(".gemini/settings.json")).unwrap())
            .unwrap();
    assert_eq!(
        gemini["hooks"]["BeforeTool"][0]["matcher"],
        "run_shell_command|write_file|replace"
    );

    // CODEX_HOME moves Codex's user file.
    let codex_home = t.sb.path().join("codex-home");
    let mut cmd =
        t.sb.command(&["hook", "install", "codex", "--config", config]);
    cmd.env("CODEX_HOME", &codex_home);
    Run::wait(cmd.spawn().unwrap()).await.assert_code(0);
    assert!(codex_home.join("hooks.json").exists());

    t.sb.run(&["hook", "install", "codex", "--local"])
        .await
        .assert_code(64);
    t.sb.run(&["hook", "install", "claude-code", "--user", "--project"])
        .await
        .assert_code(64);
}

#[tokio::test(flavor = "multi_thread")]
async fn install_refuses_a_broken_settings_file_and_leaves_it_alone() {
    let t = Setup::new("").await;
    let config = t.config.to_str().unwrap();
    for broken in [
        "{\"hooks\": {",
        "[1, 2]",
        "{\"hooks\": []}",
        "{\"hooks\": {\"PermissionRequest\": {}}}",
    ] {
        let path = t.sb.write("broken.json", broken);
        let run =
            t.sb.run(&[
                "hook",
                "install",
                "claude-code",
                "--file",
                path.to_str().unwrap(),
                "--config",
                config,
            ])
            .await;
        run.assert_code(65);
        assert!(
            run.stderr.contains("nothing was changed"),
            "{broken}: {}",
            run.stderr
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
        assert!(backups(&path).is_empty());
    }
}

/// This machine's name, as openfeedback reads it.
fn host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of its length; we read up to the first NUL only.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0);
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
