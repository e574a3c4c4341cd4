//! The real Claude Code, offline, asking through `openfeedback hook claude-code`.
//!
//! Behind `OPENFEEDBACK_REAL_AGENTS=1` (otherwise it prints `SKIPPED: …` and passes). It installs
//! `@anthropic-ai/claude-code` with npm into `$OPENFEEDBACK_AGENT_CACHE` (default
//! `target/agent-cache`), then re-runs this test binary's [`inside_the_namespace`] in a network
//! namespace that holds only the loopback interface (`unshare -n`, with `-r` when not root), so
//! the fake Anthropic server, the fake Telegram and Claude Code all meet on 127.0.0.1 and
//! nothing reaches the internet. Setup and SSE shapes: `../shared/research/agent-lab.md`.
//!
//! Inside, for each case: `hook install claude-code --file` writes the settings file that
//! `claude --settings` reads; Claude Code runs under a pseudo-terminal; the message "please
//! create proof.txt" makes the fake model call `Bash(touch proof.txt)`; Claude Code's
//! PermissionRequest hook runs openfeedback, which posts to the fake Telegram; the scripted human
//! answers. Approve: the file exists. Reject with a reason: the reason is the tool result the
//! fake model receives next, and the file does not exist.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::support::Sandbox;
use crate::support::fake_anthropic::{self, FakeAnthropic};
use crate::support::fake_telegram::{FakeTelegram, TOKEN, User};

const REAL_AGENTS: &str = "OPENFEEDBACK_REAL_AGENTS";
/// Set on the re-run inside the namespace, with the path of the `claude` launcher.
const INNER: &str = "OPENFEEDBACK_TEST_INSIDE_NETNS_CLAUDE";
/// The version agent-lab.md ran offline; `OPENFEEDBACK_CLAUDE_CODE_VERSION` overrides it.
const CLAUDE_CODE_VERSION: &str = "2.1.197";
const API_KEY: &str = "sk-ant-fake-key-0123456789";
const SLOW: Duration = Duration::from_secs(45);

#[tokio::test(flavor = "multi_thread")]
async fn real_claude_code_asks_through_the_hook() {
    if std::env::var(REAL_AGENTS).as_deref() != Ok("1") {
        println!(
            "SKIPPED: the real Claude Code end-to-end test needs {REAL_AGENTS}=1 (npm, and \
             unshare for a loopback-only network namespace)"
        );
        return;
    }
    let claude = tokio::task::spawn_blocking(install_claude_code)
        .await
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut cmd = tokio::process::Command::new("unshare");
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        cmd.arg("-r");
    }
    cmd.args(["-n", "sh", "-c", r#"ip link set lo up && exec "$0" "$@""#])
        .arg(&exe)
        .args([
            "--exact",
            "hook::real::inside_the_namespace",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, &claude)
        .kill_on_drop(true);
    println!(
        "running Claude Code {} offline: {}",
        claude_version(),
        claude.display()
    );
    let output = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("the namespaced run finished within 5 minutes")
        .expect("run unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success()
            && stdout.contains("CASE PASSED: approve")
            && stdout.contains("CASE PASSED: reject with a reason")
            && stdout.contains("CASE PASSED: timeout falls back to the dialog")
            && stdout.contains("CASE PASSED: answered at the terminal"),
        "inside the namespace: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
}

/// Run only by [`real_claude_code_asks_through_the_hook`], inside the namespace.
#[tokio::test(flavor = "multi_thread")]
async fn inside_the_namespace() {
    let Some(claude) = std::env::var_os(INNER).map(PathBuf::from) else {
        return;
    };
    let offline = std::net::TcpStream::connect_timeout(
        &"1.1.1.1:443".parse().unwrap(),
        Duration::from_secs(2),
    );
    assert!(
        offline.is_err(),
        "the namespace must have no outside network"
    );

    // Approve: the tool runs.
    let run = Case::start(&claude).await;
    let msg = run.ask().await;
    run.click(&msg, "Approve");
    run.wait_screen(fake_anthropic::DONE).await;
    assert!(run.proof().exists(), "approved: proof.txt was created");
    assert!(
        run.screen().contains("Allowed by PermissionRequest hook"),
        "{}",
        run.screen()
    );
    run.finish();
    println!("CASE PASSED: approve");

    // Reject with a reason: the model is told the reason, the tool does not run.
    let run = Case::start(&claude).await;
    let msg = run.ask().await;
    run.click(&msg, "Reject");
    let prompt = run
        .telegram
        .wait_message(|m| m.reply_to == Some(msg.message_id), SLOW)
        .await;
    run.telegram.reply(
        run.chat,
        prompt.message_id,
        "use a migration instead",
        &run.ann,
    );
    let told = run
        .model
        .wait_request(
            |r| {
                fake_anthropic::tool_results(&r.body)
                    .iter()
                    .any(|(text, is_error)| text == "use a migration instead" && *is_error)
            },
            SLOW,
        )
        .await;
    assert!(
        told.is_some(),
        "the model received the reason as the tool result; requests: {:#?}",
        run.model
            .requests()
            .iter()
            .map(|r| fake_anthropic::tool_results(&r.body))
            .collect::<Vec<_>>()
    );
    run.wait_screen(fake_anthropic::DONE).await;
    assert!(!run.proof().exists(), "rejected: proof.txt was not created");
    run.finish();
    println!("CASE PASSED: reject with a reason");

    // Nobody answers: no decision. Claude Code's own dialog (shown while the hook runs) stays,
    // and the tool has not run.
    let run = Case::start_with_timeout(&claude, 2).await;
    let msg = run.ask().await;
    run.wait_edit(&msg, "Timed out").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        run.screen().contains("Do you want to proceed?"),
        "{}",
        run.screen()
    );
    assert!(!run.proof().exists(), "a timeout never allows");
    run.type_keys("\x1b");
    run.wait_screen("Interrupted").await;
    assert!(!run.proof().exists());
    run.finish();
    println!("CASE PASSED: timeout falls back to the dialog");

    // Answered at the keyboard first: the chat message loses its buttons.
    let run = Case::start(&claude).await;
    let msg = run.ask().await;
    run.wait_screen("Do you want to proceed?").await;
    run.type_keys("1");
    run.wait_screen(fake_anthropic::DONE).await;
    assert!(run.proof().exists(), "approved at the terminal");
    run.wait_edit(&msg, "Answered at the terminal").await;
    let after = run.telegram.message(run.chat, msg.message_id).unwrap();
    assert!(!after.has_keyboard(), "no stale buttons");
    run.finish();
    println!("CASE PASSED: answered at the terminal");
}

/// One Claude Code session with its fakes.
struct Case {
    sb: Sandbox,
    telegram: FakeTelegram,
    model: FakeAnthropic,
    ann: User,
    chat: i64,
    project: PathBuf,
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Mutex<Box<dyn Write + Send>>,
    child: Mutex<Box<dyn portable_pty::Child + Send + Sync>>,
}

impl Case {
    async fn start(claude: &Path) -> Case {
        Case::start_with_timeout(claude, 120).await
    }

    /// `timeout` is openfeedback's `default_timeout`, in seconds.
    async fn start_with_timeout(claude: &Path, timeout: u64) -> Case {
        let telegram = FakeTelegram::start().await;
        let ann = User::new(111, "Ann", Some("ann"));
        let chat = telegram.add_private_chat(&ann);
        let model = FakeAnthropic::start(json!({
            "name": "Bash",
            "input": {"command": "touch proof.txt", "description": "Create proof file"},
        }))
        .await;
        let sb = Sandbox::new();
        let config = sb.write_config(&format!(
            "default_provider = \"telegram\"\ndefault_timeout = {timeout}\nreject_feedback_timeout = 30\n\n[telegram]\nbot_token = \"{TOKEN}\"\nchat_id = {chat}\napi_base = \"{}\"\n",
            telegram.base_url()
        ));
        let project = sb.path().join("work/proj");
        std::fs::create_dir_all(&project).unwrap();
        let project = project.canonicalize().unwrap();
        let settings = sb.path().join("work/claude-settings.json");
        sb.run(&[
            "hook",
            "install",
            "claude-code",
            "--file",
            settings.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .await
        .assert_code(0);

        // No onboarding, the key accepted, the folder trusted: no start-up dialogs.
        let key_tail = &API_KEY[API_KEY.len() - 20..];
        let state = json!({
            "hasCompletedOnboarding": true,
            "lastOnboardingVersion": claude_version(),
            "theme": "dark",
            "numStartups": 1,
            "customApiKeyResponses": {"approved": [key_tail], "rejected": []},
            "projects": {project.to_str().unwrap(): {"hasTrustDialogAccepted": true, "allowedTools": []}},
        });
        std::fs::write(sb.home().join(".claude.json"), state.to_string()).unwrap();

        let pty = portable_pty::native_pty_system()
            .openpty(portable_pty::PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = portable_pty::CommandBuilder::new(claude);
        cmd.args(["--settings", settings.to_str().unwrap()]);
        cmd.cwd(&project);
        cmd.env_clear();
        for (key, value) in [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", sb.home().display().to_string()),
            (
                "XDG_CONFIG_HOME",
                sb.path().join("config").display().to_string(),
            ),
            (
                "XDG_DATA_HOME",
                sb.path().join("data").display().to_string(),
            ),
            ("LANG", "C.UTF-8".to_owned()),
            ("TERM", "xterm-256color".to_owned()),
            ("ANTHROPIC_BASE_URL", model.base_url()),
            ("ANTHROPIC_API_KEY", API_KEY.to_owned()),
            ("DISABLE_TELEMETRY", "1".to_owned()),
            ("DISABLE_ERROR_REPORTING", "1".to_owned()),
            ("DISABLE_AUTOUPDATER", "1".to_owned()),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_owned()),
            (
                "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL",
                "1".to_owned(),
            ),
        ] {
            cmd.env(key, value);
        }
        let child = pty.slave.spawn_command(cmd).expect("spawn claude");
        drop(pty.slave);
        let writer = pty.master.take_writer().expect("pty writer");
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(40, 120, 0)));
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            // The master stays open through `pty.master`, moved here so it lives as long.
            let _master = pty.master;
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().process(&buf[..n]);
            }
        });
        let case = Case {
            sb,
            telegram,
            model,
            ann,
            chat,
            project,
            screen,
            writer: Mutex::new(writer),
            child: Mutex::new(child),
        };
        case.wait_screen("for shortcuts").await;
        case
    }

    fn screen(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    async fn wait_screen(&self, text: &str) {
        let deadline = tokio::time::Instant::now() + SLOW;
        while !self.screen().contains(text) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited for {text:?} on Claude Code's screen:\n{}",
                self.screen()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Wait until the chat message `msg` has been edited to contain `text`.
    async fn wait_edit(&self, msg: &crate::support::fake_telegram::Message, text: &str) {
        let deadline = tokio::time::Instant::now() + SLOW;
        loop {
            let now = self.telegram.message(self.chat, msg.message_id).unwrap();
            if now.text.contains(text) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited for {text:?} in the chat message: {}\nscreen:\n{}\ntranscripts:\n{}",
                now.text,
                self.screen(),
                self.transcripts()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn type_keys(&self, keys: &str) {
        let mut writer = self.writer.lock().unwrap();
        writer.write_all(keys.as_bytes()).unwrap();
        writer.flush().unwrap();
    }

    /// Type the message and wait for openfeedback's request in the chat.
    async fn ask(&self) -> crate::support::fake_telegram::Message {
        self.type_keys("please create proof.txt");
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.type_keys("\r");
        let msg = self
            .telegram
            .wait_message(|m| m.has_keyboard() && m.reply_to.is_none(), SLOW)
            .await;
        assert!(
            msg.text
                .starts_with("🔔 Bash: touch proof.txt\n\n# Create proof file\n$ touch proof.txt"),
            "{}",
            msg.text
        );
        assert!(msg.text.contains("Session: Claude Code "), "{}", msg.text);
        msg
    }

    fn click(&self, msg: &crate::support::fake_telegram::Message, label: &str) {
        let data = msg
            .buttons()
            .into_iter()
            .find(|(text, _)| text.contains(label))
            .unwrap_or_else(|| panic!("no {label:?} button: {:?}", msg.buttons()))
            .1;
        self.telegram
            .click(self.chat, msg.message_id, &data, &self.ann);
    }

    /// The tool calls and results in Claude Code's session transcripts, for failure messages.
    fn transcripts(&self) -> String {
        let root = self.sb.home().join(".claude/projects");
        let mut out = String::new();
        let dirs = std::fs::read_dir(&root).into_iter().flatten().flatten();
        for file in dirs.flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten()) {
            let text = std::fs::read_to_string(file.path()).unwrap_or_default();
            for line in text
                .lines()
                .filter(|l| l.contains("tool_use") || l.contains("tool_result"))
            {
                out.push_str(&line.chars().take(400).collect::<String>());
                out.push('\n');
            }
        }
        out
    }

    fn proof(&self) -> PathBuf {
        self.project.join("proof.txt")
    }

    fn finish(self) {
        let _ = self.child.lock().unwrap().kill();
        let _ = self.child.lock().unwrap().wait();
        drop(self.sb);
    }
}

fn claude_version() -> String {
    std::env::var("OPENFEEDBACK_CLAUDE_CODE_VERSION")
        .unwrap_or_else(|_| CLAUDE_CODE_VERSION.to_owned())
}

/// `claude` from npm, installed once into the agent cache.
fn install_claude_code() -> PathBuf {
    let version = claude_version();
    let cache = std::env::var_os("OPENFEEDBACK_AGENT_CACHE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/agent-cache"),
        PathBuf::from,
    );
    let prefix = cache.join(format!("claude-code-{version}"));
    let claude = prefix.join("node_modules/.bin/claude");
    let works = || {
        std::process::Command::new(&claude)
            .arg("--version")
            .output()
            .is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains(&version)
            })
    };
    if !works() {
        std::fs::create_dir_all(&prefix).unwrap();
        let status = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("@anthropic-ai/claude-code@{version}"))
            .status()
            .expect("run npm (Node.js 18 or newer)");
        assert!(
            status.success(),
            "npm install @anthropic-ai/claude-code@{version}"
        );
        if !works() {
            // npm skipped the install script that places the native binary.
            let script = prefix.join("node_modules/@anthropic-ai/claude-code/install.cjs");
            let _ = std::process::Command::new("node").arg(script).status();
        }
        assert!(
            works(),
            "{} --version does not print {version}",
            claude.display()
        );
    }
    claude
}
