//! `wrap`, end to end: the real binary around scripted agents (tests/agents/*.py), under a
//! PTY of the test's own (rendered with vt100) or headless, answered through the fake Telegram.

pub mod term;
mod tmux;

use std::ops::Deref;
use std::process::Stdio;
use std::time::{Duration, Instant};

use self::term::{Term, openfeedback};
use crate::support::fake_telegram::Message;
use crate::support::telegram_rig::{Config, Rig, WAIT};

fn agent(name: &str) -> String {
    format!("{}/tests/agents/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn patterns() -> String {
    agent("patterns")
}

/// The Telegram rig, and `wrap` run in it around the scripted agents.
struct Setup(Rig);

impl Deref for Setup {
    type Target = Rig;

    fn deref(&self) -> &Rig {
        &self.0
    }
}

impl Setup {
    /// `reject_feedback_timeout = 10`, then `extra`.
    async fn new(extra: &str) -> Setup {
        Setup(Rig::new(Config::reject_feedback_timeout(10).before_telegram(extra)).await)
    }

    /// `wrap [opts] -- python3 tests/agents/<script> <agent log> [agent args]`.
    fn args(&self, opts: &[&str], script: &str, agent_args: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "wrap".into(),
            "--config".into(),
            self.config.display().to_string(),
            "--log-file".into(),
            self.sb.path().join("work/wrap.log").display().to_string(),
            "--patterns".into(),
            patterns(),
            "--agent".into(),
            "scripted".into(),
        ];
        args.extend(opts.iter().map(|s| (*s).to_owned()));
        args.push("--".into());
        args.push("python3".into());
        args.push(agent(script));
        if script != "flood.py" && script != "modes.py" && script != "size.py" {
            args.push(self.sb.agent_log().display().to_string());
        }
        args.extend(agent_args.iter().map(|s| (*s).to_owned()));
        args
    }

    /// wrap in an interactive terminal (a PTY of ours).
    fn term(&self, opts: &[&str], script: &str, agent_args: &[&str]) -> Term {
        self.term_env(opts, script, agent_args, &[])
    }

    fn term_env(
        &self,
        opts: &[&str],
        script: &str,
        agent_args: &[&str],
        env: &[(&str, &str)],
    ) -> Term {
        let args = self.args(opts, script, agent_args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Term::spawn(openfeedback(self.sb.path(), &args, env), 30, 100)
    }

    /// wrap headless: stdin from /dev/null, stdout and stderr piped.
    fn headless(&self, opts: &[&str], script: &str, agent_args: &[&str]) -> tokio::process::Child {
        let args = self.args(opts, script, agent_args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.sb
            .command(&args)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn wrap")
    }

    fn current(&self, message: &Message) -> Message {
        self.fake
            .message(message.chat_id, message.message_id)
            .expect("message still there")
    }

    /// Wait until the message satisfies `pred`.
    async fn wait_edit(
        &self,
        message: &Message,
        what: &str,
        pred: impl Fn(&Message) -> bool,
    ) -> Message {
        let deadline = Instant::now() + WAIT;
        loop {
            let now = self.current(message);
            if pred(&now) {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}\nwrap log:\n{}",
                now.text,
                self.sb.wrap_log()
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Wait until the request is withdrawn, its message saying it was answered at the terminal.
    async fn wait_answered_at_the_terminal(&self, message: &Message) {
        let after = self
            .wait_edit(message, "the withdrawal", |m| !m.has_keyboard())
            .await;
        assert!(
            after.text.contains("Answered at the terminal"),
            "{}",
            after.text
        );
    }
}

fn assert_no_keyboard(message: &Message) {
    assert!(
        !message.has_keyboard(),
        "buttons left on the message: {:?}",
        message.buttons()
    );
}

async fn exit_of(child: tokio::process::Child) -> crate::support::Run {
    crate::support::Run::wait(child).await
}

// ---------------------------------------------------------------------------------------------
// Answer paths through Telegram

#[tokio::test(flavor = "multi_thread")]
async fn line_prompt_approved_from_telegram() {
    let t = Setup::new("").await;
    let mut term = t.term(&["--label", "demo"], "yesno.py", &["--exit", "3"]);
    let msg = t.request().await;
    assert!(
        msg.text
            .contains("scripted: Apply the change to config.toml?"),
        "{}",
        msg.text
    );
    assert!(
        msg.text.contains("edit config.toml: retries = 3"),
        "{}",
        msg.text
    );
    assert!(msg.text.contains("Session: demo"), "{}", msg.text);
    // The key on the agent's screen is redacted before it leaves the machine.
    assert!(
        msg.text.contains("OPENAI_API_KEY=[REDACTED]"),
        "{}",
        msg.text
    );
    assert!(!msg.text.contains("sk-proj"), "{}", msg.text);
    // While the request is out, the terminal title says so.
    term.wait_screen("the prompt", |s| s.contains("[y/n]"))
        .await;

    t.click(&msg, "Yes");
    let log = t.wait_agent("answer:y").await;
    assert!(!log.contains("answer:n"));
    term.wait_screen("the agent's reply", |s| s.contains("ok: y"))
        .await;
    assert_eq!(term.wait_exit().await, 3, "the agent's exit code");
    let raw = String::from_utf8_lossy(&term.raw()).into_owned();
    assert!(
        raw.contains("\x1b]2;⏳ approval pending"),
        "no pending title in the output"
    );
    assert!(raw.contains("\x1b[23;2t"), "the title was not restored");

    let after = t.current(&msg);
    assert!(after.text.contains("by @ann"), "{}", after.text);
    assert_no_keyboard(&after);

    let audit = t.wait_audit(1).await;
    let r = &audit[0];
    assert_eq!(r["pattern"], "scripted/ask");
    assert_eq!(r["answered_at"], "remote");
    assert_eq!(r["result"], "typed");
    assert_eq!(r["provider"], "telegram");
    assert_eq!(r["user_id"], "111");
    assert_eq!(r["choice"], "y");
    assert_eq!(r["keys"], "y ⏎");
    assert_eq!(r["paged"], true);
    assert_eq!(r["context_sha256"].as_str().unwrap().len(), 64);
    assert!(r["detected_to_posted_ms"].is_u64(), "{r}");
    assert!(r["answered_to_typed_ms"].is_u64(), "{r}");
    let text = r.to_string();
    assert!(
        !text.contains("retries = 3"),
        "the context itself is not audited: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn builtin_generic_patterns_answer_a_plain_yes_no_prompt() {
    let t = Setup::new("").await;
    let config = t.config.display().to_string();
    let log = t.sb.path().join("work/wrap.log").display().to_string();
    let agent_log = t.sb.agent_log().display().to_string();
    let script = agent("yesno.py");
    let args = [
        "wrap",
        "--config",
        &config,
        "--log-file",
        &log,
        "--",
        "python3",
        &script,
        &agent_log,
    ];
    let mut term = Term::spawn(openfeedback(t.sb.path(), &args, &[]), 30, 100);
    let msg = t.request().await;
    assert!(
        msg.text
            .contains("generic: Apply the change to config.toml? [y/n]"),
        "{}",
        msg.text
    );
    t.click(&msg, "No");
    t.wait_agent("answer:n").await;
    // The generic pattern's reject takes no feedback: the follow-up question is left to the
    // keyboard.
    term.wait_screen("the follow-up", |s| s.contains("What should I do instead?"))
        .await;
    term.type_bytes(b"\r");
    assert_eq!(term.wait_exit().await, 0);
    let audit = t.wait_audit(1).await;
    assert_eq!(audit[0]["pattern"], "generic/y-n");
    assert_eq!(audit[0]["keys"], "n ⏎");
}

#[tokio::test(flavor = "multi_thread")]
async fn line_prompt_rejected_with_feedback() {
    let t = Setup::new("").await;
    let mut term = t.term(&[], "yesno.py", &[]);
    let msg = t.request().await;
    let prompt = t
        .reject_with(&msg, "No", "keep retries at 5\n\x1b[31mand nothing else")
        .await;
    assert!(prompt.is_force_reply());
    t.wait_agent("answer:n").await;
    // One line, no escape sequence: the newline and the colour sequence were sanitised away.
    t.wait_agent("feedback:keep retries at 5 and nothing else")
        .await;
    term.wait_screen("the agent's note", |s| {
        s.contains("ok, noted: keep retries")
    })
    .await;
    assert_eq!(term.wait_exit().await, 0);
    let after = t.current(&msg);
    assert!(
        after.text.contains("Reason: keep retries at 5"),
        "{}",
        after.text
    );
    assert_no_keyboard(&after);
    let audit = t.wait_audit(1).await;
    assert_eq!(audit[0]["result"], "typed");
    assert_eq!(audit[0]["choice"], "n");
    assert_eq!(audit[0]["keys"], "n ⏎ ‹34 chars› ⏎");
    assert_eq!(audit[0]["feedback_chars"], 39);
    assert!(!audit[0].to_string().contains("retries at 5"));
}

#[tokio::test(flavor = "multi_thread")]
async fn line_prompt_rejected_without_feedback() {
    let t = Setup::new("").await;
    let mut term = t.term(&[], "yesno.py", &[]);
    let msg = t.request().await;
    t.click(&msg, "No");
    // Nobody gives a reason: after reject_feedback_timeout (10 s) the rejection stands.
    t.wait_agent("answer:n").await;
    t.wait_agent("feedback:").await;
    assert_eq!(term.wait_exit().await, 0);
    assert!(t.current(&msg).text.contains("Rejected by @ann"));
}

#[tokio::test(flavor = "multi_thread")]
async fn local_answer_withdraws_the_request() {
    let t = Setup::new("").await;
    let mut term = t.term(&[], "yesno.py", &[]);
    let msg = t.request().await;
    term.type_bytes(b"y\r");
    t.wait_agent("answer:y").await;
    t.wait_answered_at_the_terminal(&msg).await;
    assert_eq!(term.wait_exit().await, 0);
    let audit = t.wait_audit(1).await;
    assert_eq!(audit[0]["answered_at"], "terminal");
    assert_eq!(audit[0]["result"], "local");
    assert_eq!(audit[0]["paged"], true);
    assert!(audit[0]["keys"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_answering_itself_withdraws_the_request_headless() {
    let t = Setup::new("").await;
    let child = t.headless(&[], "yesno.py", &["--self-answer", "2.5"]);
    let msg = t.request().await;
    t.wait_answered_at_the_terminal(&msg).await;
    let run = exit_of(child).await;
    run.assert_code(0);
    assert!(
        run.stdout.contains("(answered by itself)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.is_empty(),
        "diagnostics went to stderr: {}",
        run.stderr
    );
    assert!(t.read_agent_log().contains("answer:y (self)"));
}

#[tokio::test(flavor = "multi_thread")]
async fn grace_period_pages_nobody_for_a_quick_local_answer() {
    let t = Setup::new("").await;
    let child = t.headless(&["--grace", "5"], "yesno.py", &["--self-answer", "1"]);
    let run = exit_of(child).await;
    run.assert_code(0);
    assert!(t.fake.bot_messages(t.chat).is_empty(), "someone was paged");
    let audit = t.wait_audit(1).await;
    assert_eq!(audit[0]["paged"], false);
    assert_eq!(audit[0]["answered_at"], "terminal");
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_leaves_the_prompt_for_the_keyboard() {
    let t = Setup::new("").await;
    let mut term = t.term(&["--timeout", "2"], "yesno.py", &[]);
    let msg = t.request().await;
    let after = t
        .wait_edit(&msg, "the timeout", |m| !m.has_keyboard())
        .await;
    assert!(after.text.contains("Timed out"), "{}", after.text);
    // Nothing was typed: the prompt still waits for the keyboard.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!t.read_agent_log().contains("answer:"));
    assert!(term.screen().contains("[y/n]"));
    term.type_bytes(b"y\r");
    t.wait_agent("answer:y").await;
    assert_eq!(term.wait_exit().await, 0);
    let audit = t.wait_audit(1).await;
    assert_eq!(audit[0]["answered_at"], "timeout");
    assert_eq!(audit[0]["result"], "left");
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_rejects_when_asked_to() {
    let t = Setup::new("").await;
    let child = t.headless(
        &["--timeout", "2", "--on-timeout", "reject"],
        "yesno.py",
        &[],
    );
    let msg = t.request().await;
    t.wait_agent("answer:n").await;
    let run = exit_of(child).await;
    run.assert_code(0);
    assert!(t.current(&msg).text.contains("Timed out"));
    let audit = t.wait_audit(1).await;
    assert_eq!(audit[0]["answered_at"], "timeout");
    assert_eq!(audit[0]["result"], "typed");
    assert_eq!(audit[0]["choice"], "n");
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_on_timeout_is_loudly_warned_about() {
    let t = Setup::new("").await;
    let child = t.headless(
        &["--on-timeout", "approve"],
        "yesno.py",
        &["--self-answer", "0.5"],
    );
    let run = exit_of(child).await;
    run.assert_code(0);
    assert!(
        run.stderr.contains("WARNING: --on-timeout approve"),
        "{}",
        run.stderr
    );
    assert!(t.sb.wrap_log().contains("WARNING: --on-timeout approve"));
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_exit_while_pending_withdraws_and_keeps_the_exit_code() {
    let t = Setup::new("").await;
    let mut term = t.term(&[], "yesno.py", &["--exit-after", "2", "--exit", "5"]);
    let msg = t.request().await;
    assert_eq!(term.wait_exit().await, 5);
    // wrap waited for the withdrawal before exiting.
    let after = t.current(&msg);
    assert_no_keyboard(&after);
    assert!(after.text.contains("Withdrawn"), "{}", after.text);
    let audit = t.wait_audit(1).await;
    assert_eq!(audit[0]["result"], "withdrawn");
    assert_eq!(audit[0]["answered_at"], "nowhere");
}

#[tokio::test(flavor = "multi_thread")]
async fn redrawn_menu_is_sent_once_and_answered_by_label() {
    let t = Setup::new("").await;
    let mut term = t.term(&[], "menu.py", &[]);
    let msg = t.request().await;
    let labels: Vec<String> = msg.buttons().into_iter().map(|(text, _)| text).collect();
    assert_eq!(
        labels,
        [
            "Yes",
            "No",
            "Yes, and don't ask again for rm commands",
            "No, and say why"
        ],
        "{msg:?}"
    );
    assert!(msg.text.contains("rm -rf build"), "{}", msg.text);
    // The dialog keeps being redrawn (half-drawn frames included): still one request.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(t.fake.bot_messages(t.chat).len(), 1);

    t.click(&msg, "Yes, and");
    let log = t
        .wait_agent("choice:Yes, and don't ask again for rm commands")
        .await;
    // Selected by label: one Down (application cursor mode: SS3), then Enter.
    assert!(log.contains("key:1b4f42\nkey:0d"), "{log}");
    term.wait_screen("the result", |s| s.contains("Chose: Yes, and"))
        .await;
    assert_eq!(term.wait_exit().await, 0);
    let audit = t.wait_audit(1).await;
    assert_eq!(audit[0]["pattern"], "scripted/menu");
    assert_eq!(audit[0]["keys"], "↓ ⏎");
}

#[tokio::test(flavor = "multi_thread")]
async fn menu_rejected_with_feedback() {
    let t = Setup::new("").await;
    let mut term = t.term(&[], "menu.py", &["--redraw", "0.5"]);
    let msg = t.request().await;
    t.reject_with(&msg, "say why", "only clean dist/").await;
    t.wait_agent("feedback:only clean dist/").await;
    assert!(t.read_agent_log().contains("choice:No\n"));
    assert_eq!(term.wait_exit().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_answer_in_a_menu_withdraws_the_request() {
    let t = Setup::new("").await;
    let mut term = t.term(&[], "menu.py", &[]);
    let msg = t.request().await;
    for key in [&b"\x1b[B"[..], b"\x1b[B", b"\r"] {
        term.type_bytes(key);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    t.wait_agent("choice:No").await;
    t.wait_answered_at_the_terminal(&msg).await;
    assert_eq!(term.wait_exit().await, 0);
}

// ---------------------------------------------------------------------------------------------
// The terminal side

#[tokio::test(flavor = "multi_thread")]
async fn headless_answers_terminal_queries() {
    let t = Setup::new("").await;
    let child = t.headless(&["--size", "90x20"], "queries.py", &[]);
    let run = exit_of(child).await;
    run.assert_code(0);
    let log = t.read_agent_log();
    // CPR after "hello\r\n  world": row 2, column 8.
    assert!(log.contains("1b5b366e -> 1b5b323b3852"), "{log}");
    assert!(log.contains("1b5b63 -> 1b5b3f313b3263"), "{log}");
    assert!(log.contains("1b5b356e -> 1b5b306e"), "{log}");
    assert!(run.stdout.contains("queries answered"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn interactive_queries_go_to_the_real_terminal() {
    let t = Setup::new("").await;
    let mut term = t.term(&[], "queries.py", &[]);
    term.wait_screen("the end", |s| s.contains("queries")).await;
    let code = term.wait_exit().await;
    let log = t.read_agent_log();
    // The DA1 reply is the test terminal's own, not wrap's.
    let da1 = term::DA1_REPLY
        .iter()
        .fold(String::new(), |s, b| s + &format!("{b:02x}"));
    assert!(log.contains(&format!("1b5b63 -> {da1}")), "{log}");
    assert!(log.contains("1b5b366e -> 1b5b323b3852"), "{log}");
    assert_eq!(
        code, 9,
        "DSR 5n has no answer from this terminal: the agent says so"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn output_is_byte_identical_headless() {
    let t = Setup::new("").await;
    // 8 MiB of every byte value (escape sequences, invalid UTF-8, NULs), then a marker.
    let mut data = Vec::with_capacity(8 << 20);
    let mut x: u32 = 0x1234_5678;
    while data.len() < 8 << 20 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.extend_from_slice(b"THE LAST BYTES");
    let input = t.sb.write("flood.bin", "");
    std::fs::write(&input, &data).unwrap();
    let out = t.sb.path().join("work/out.bin");
    let args = t.args(&[], "flood.py", &[input.to_str().unwrap()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let status =
        t.sb.command(&args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .status()
            .await
            .unwrap();
    assert_eq!(status.code(), Some(0), "wrap log:\n{}", t.sb.wrap_log());
    let got = std::fs::read(&out).unwrap();
    assert_eq!(got.len(), data.len(), "length differs");
    assert!(got == data, "bytes differ");
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_and_signals_propagate() {
    let t = Setup::new("").await;
    let wrap = |script: &str| {
        let config = t.config.display().to_string();
        let log = t.sb.path().join("work/wrap.log").display().to_string();
        let args = [
            "wrap",
            "--config",
            &config,
            "--log-file",
            &log,
            "--",
            "sh",
            "-c",
            script,
        ];
        t.sb.command(&args).stdin(Stdio::null()).spawn().unwrap()
    };
    exit_of(wrap("echo hi; exit 7")).await.assert_code(7);
    exit_of(wrap("kill -TERM $$")).await.assert_code(143);
    exit_of(wrap("kill -KILL $$")).await.assert_code(137);
    let run = exit_of(wrap("printf 'no newline at the end'")).await;
    run.assert_code(0);
    assert_eq!(run.stdout, "no newline at the end");
}

#[tokio::test(flavor = "multi_thread")]
async fn headless_size_comes_from_the_option() {
    let t = Setup::new("").await;
    let config = t.config.display().to_string();
    let log = t.sb.path().join("work/wrap.log").display().to_string();
    let show = "import os; s = os.get_terminal_size(0); print(f'{s.columns}x{s.lines}')";
    let wrap = |size: Option<&str>| {
        let mut args = vec!["wrap", "--config", &config, "--log-file", &log];
        if let Some(size) = size {
            args.extend(["--size", size]);
        }
        args.extend(["--", "python3", "-c", show]);
        t.sb.command(&args).stdin(Stdio::null()).spawn().unwrap()
    };
    let run = exit_of(wrap(Some("160x50"))).await;
    run.assert_code(0);
    assert_eq!(run.stdout.trim(), "160x50");
    let run = exit_of(wrap(None)).await;
    assert_eq!(run.stdout.trim(), "120x40", "the default");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_before_the_agent_starts_use_sysexits() {
    let t = Setup::new("").await;
    let config = t.config.display().to_string();
    let run = t.sb.run(&["wrap", "--config", &config]).await;
    run.assert_code(64);
    let run =
        t.sb.run(&["wrap", "--config", &config, "--", "no-such-agent-xyz"])
            .await;
    run.assert_code(69);
    assert!(run.stderr.contains("no-such-agent-xyz"), "{}", run.stderr);
    let run =
        t.sb.run(&["wrap", "--config", &config, "--size", "0x5", "--", "true"])
            .await;
    run.assert_code(64);
    let broken = t.sb.write_config("default_provider = \"pigeon\"\n");
    let run =
        t.sb.run(&["wrap", "--config", broken.to_str().unwrap(), "--", "true"])
            .await;
    run.assert_code(78);
}

#[tokio::test(flavor = "multi_thread")]
async fn window_size_follows_the_terminal() {
    let t = Setup::new("").await;
    let mut term = t.term(&[], "size.py", &[]);
    term.wait_screen("the first size", |s| s.contains("size 100x30"))
        .await;
    term.resize(25, 80);
    term.wait_screen("the new size", |s| s.contains("size 80x25"))
        .await;
    term.type_bytes(b"q");
    assert_eq!(term.wait_exit().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn modes_left_on_by_the_agent_are_reset() {
    let t = Setup::new("").await;
    let mut term = t.term(&[], "modes.py", &["--exit", "4"]);
    assert_eq!(term.wait_exit().await, 4);
    assert!(!term.alternate_screen(), "still on the alternate screen");
    assert!(!term.cursor_hidden(), "the cursor is still hidden");
    let raw = term.raw();
    let tail = &raw[raw.len().saturating_sub(200)..];
    let tail = String::from_utf8_lossy(tail);
    for reset in [
        "\x1b[?1049l",
        "\x1b[?2004l",
        "\x1b[?1000l",
        "\x1b[?1004l",
        "\x1b[<99u",
        "\x1b[?25h",
    ] {
        assert!(tail.contains(reset), "{reset:?} missing from {tail:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Terminal restoration in a real terminal (tmux)

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// The pane's script: `stty -g` before, wrap as the foreground job (its pid in `wrap.pid`),
/// its exit code in `rc`, `stty -g` after; then the pane stays open for inspection.
fn pane_script(t: &Setup, args: &[String], env: &[(&str, &str)]) -> String {
    let sb = t.sb.path();
    let mut envs = vec![
        format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
        format!("HOME={}", sb.join("home").display()),
        format!("XDG_CONFIG_HOME={}", sb.join("config").display()),
        format!("XDG_DATA_HOME={}", sb.join("data").display()),
        "LANG=C.UTF-8".to_owned(),
    ];
    envs.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    let envs: Vec<String> = envs.iter().map(|e| shell_quote(e)).collect();
    let args: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    format!(
        "stty -g > before\n\
         sh -c 'echo $$ > wrap.pid; exec \"$@\"' sh env -i TERM=\"$TERM\" {} {} {}\n\
         echo $? > rc\n\
         stty -g > after\n\
         sleep 60\n",
        envs.join(" "),
        shell_quote(crate::support::bin()),
        args.join(" ")
    )
}

/// Modes the pane's terminal still has on, as tmux reports them.
fn modes_left_on(tmux: &tmux::Tmux) -> Vec<&'static str> {
    let mut on = Vec::new();
    for (name, format, off) in [
        ("alternate screen", "#{alternate_on}", "0"),
        ("hidden cursor", "#{cursor_flag}", "1"),
        ("mouse reporting", "#{mouse_any_flag}", "0"),
        ("application cursor keys", "#{keypad_cursor_flag}", "0"),
    ] {
        if tmux.format(format) != off {
            on.push(name);
        }
    }
    on
}

/// Run modes.py under wrap in tmux, end it with `end`, and check the terminal came back.
async fn restored_after(
    test: &str,
    agent_args: &[&str],
    env: &[(&str, &str)],
    end: Option<i32>,
    code: &str,
) -> Option<Setup> {
    if !tmux::available(test) {
        return None;
    }
    let t = Setup::new("").await;
    let args = t.args(&[], "modes.py", agent_args);
    let dir = t.sb.path().join("work");
    let tmux = tmux::Tmux::start(&dir, &pane_script(&t, &args, env));
    let before = tmux.wait_file("before").await;
    if let Some(signal) = end {
        tmux.wait_pane("the agent", |p| p.contains("READY modes on"))
            .await;
        assert_ne!(
            tmux.stty(),
            before,
            "wrap did not put the terminal in raw mode"
        );
        assert!(
            !modes_left_on(&tmux).is_empty(),
            "the agent's modes are not on"
        );
        let pid: i32 = tmux.wait_file("wrap.pid").await.parse().unwrap();
        // SAFETY: signals the wrap process this test started (its pid was just recorded).
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }
    let rc = tmux.wait_file("rc").await;
    let after = tmux.wait_file("after").await;
    assert_eq!(
        rc,
        code,
        "exit code; the pane:\n{}\nwrap log:\n{}",
        tmux.capture(),
        t.sb.wrap_log()
    );
    assert_eq!(after, before, "stty -g differs after wrap");
    assert_eq!(modes_left_on(&tmux), Vec::<&str>::new(), "modes left on");
    Some(t)
}

#[tokio::test(flavor = "multi_thread")]
async fn terminal_restored_after_the_agent_exits_tmux() {
    restored_after(
        "terminal_restored_after_the_agent_exits_tmux",
        &["--exit", "4"],
        &[],
        None,
        "4",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn terminal_restored_after_sigterm_tmux() {
    restored_after(
        "terminal_restored_after_sigterm_tmux",
        &["--wait"],
        &[],
        Some(libc::SIGTERM),
        "143",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn terminal_restored_after_sighup_and_sigint_tmux() {
    restored_after(
        "terminal_restored_after_sighup_and_sigint_tmux",
        &["--wait"],
        &[],
        Some(libc::SIGHUP),
        "129",
    )
    .await;
    restored_after(
        "terminal_restored_after_sighup_and_sigint_tmux",
        &["--wait"],
        &[],
        Some(libc::SIGINT),
        "130",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn terminal_restored_after_a_panic_tmux() {
    let t = restored_after(
        "terminal_restored_after_a_panic_tmux",
        &["--wait"],
        &[("OPENFEEDBACK_TEST_PANIC", "after-start")],
        None,
        "101",
    )
    .await;
    if let Some(t) = t {
        // The panic came after the agent switched its modes on (they were reset by the hook).
        let log = t.sb.wrap_log();
        assert!(log.contains("the test hook panics here"), "{log}");
        assert!(log.contains("agent started"), "{log}");
    }
}
