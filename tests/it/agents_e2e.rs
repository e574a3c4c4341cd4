//! Real agents, offline, under `openfeedback wrap`, answered from the fake Telegram.
//!
//! Opt-in: these tests install aider (PyPI, in a venv), Claude Code, Codex CLI and Gemini CLI
//! (npm) and run them, which takes minutes. Without `OPENFEEDBACK_REAL_AGENTS=1` each test
//! prints `SKIPPED: set OPENFEEDBACK_REAL_AGENTS=1` and passes.
//!
//! # Theory of operation
//!
//! A test runs twice, as two processes:
//!
//! 1. **Outside** (the normal `cargo test` process): it checks the switch, installs the agent
//!    into the cache (`$OPENFEEDBACK_AGENT_CACHE`, default `target/agent-cache`, reused across
//!    runs; this is the only step that uses the network), then runs *this same test binary*
//!    again, filtered to this one test, inside a new network namespace that holds only a
//!    loopback interface: `unshare -n sh -c 'ip link set lo up && exec <test binary> --exact
//!    agents_e2e::<test>'`, with `OPENFEEDBACK_E2E_NETNS=1` set. It passes when that run passes.
//! 2. **Inside** the namespace the test body runs for real: the fake LLM server
//!    ([`crate::support::fake_llm`]) and the fake Telegram start in-process on 127.0.0.1,
//!    `openfeedback wrap` runs headless (stdin from /dev/null) around the agent, and the
//!    scripted human answers on the fake Telegram. Everything the agent could reach is in the
//!    namespace; anything else (Codex's start-up look-up, a telemetry endpoint) fails at once.
//!
//! So the servers, `wrap` and the agent share one namespace without any helper binary, and the
//! test body is ordinary test code. The outer runs hold a lock, so one agent runs at a time.
//!
//! A test is a [`Scenario`] (the agent, what the fake model asks it to do, how the agent is set
//! up) and a body that drives the started [`Session`]. Each body checks what the human saw (the
//! Telegram message: question and subject), what the agent did (the file it created or not, the
//! text the fake LLM received next), what the terminal showed at the end (`wrap`'s output
//! replayed through vt100) and the audit record. Waits are generous deadlines, never timing
//! assertions.
//!
//! Needs: root (or CAP_SYS_ADMIN) for `unshare -n`, `ip` (iproute2), git, python3 3.10-3.12
//! with venv, npm and Node.js 20+ (Gemini CLI; Claude Code needs 18, Codex 16). What is missing
//! or too old is reported as SKIPPED with the reason.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::support::Sandbox;
use crate::support::fake_llm::{Action, Api, DONE_TEXT, FakeLlm};
use crate::support::fake_telegram::{FakeTelegram, Message, TOKEN, User};

/// The switch that turns the suite on.
const SWITCH: &str = "OPENFEEDBACK_REAL_AGENTS";
/// Set in the inner run (inside the network namespace).
const INSIDE: &str = "OPENFEEDBACK_E2E_NETNS";
/// Where agents are installed.
const CACHE: &str = "OPENFEEDBACK_AGENT_CACHE";
/// Put on `wrap` and so on every process of the session, to find them all at the end.
const MARK: &str = "OPENFEEDBACK_E2E_SESSION";

/// How long any one thing may take (an agent's cold start on a busy machine included).
const WAIT: Duration = Duration::from_secs(120);

/// One agent run at a time: they are heavy, and the machine is shared.
static SERIAL: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------------------------------------
// Agents: package, install, configuration

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agent {
    Aider,
    Claude,
    Codex,
    Gemini,
}

impl Agent {
    fn name(self) -> &'static str {
        match self {
            Agent::Aider => "aider",
            Agent::Claude => "claude",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
        }
    }

    /// The versions `agent-lab.md` verified; the patterns are tested on more.
    fn package(self) -> &'static str {
        match self {
            Agent::Aider => "aider-chat==0.86.2",
            Agent::Claude => "@anthropic-ai/claude-code@2.1.197",
            Agent::Codex => "@openai/codex@0.169.0",
            Agent::Gemini => "@google/gemini-cli@0.61.0",
        }
    }

    fn api(self) -> Api {
        match self {
            Agent::Aider => Api::OpenAiChat,
            Agent::Claude => Api::Anthropic,
            Agent::Codex => Api::OpenAiResponses,
            Agent::Gemini => Api::Gemini,
        }
    }

    /// The oldest Node.js the npm package declares (`engines`), for the npm agents.
    fn node(self) -> Option<u32> {
        match self {
            Agent::Aider => None,
            Agent::Claude => Some(18),
            Agent::Codex => Some(16),
            Agent::Gemini => Some(20),
        }
    }

    fn bin(self, cache: &Path) -> PathBuf {
        match self {
            Agent::Aider => cache.join("aider-venv/bin/aider"),
            other => cache
                .join(other.name())
                .join("node_modules/.bin")
                .join(other.name()),
        }
    }
}

fn cache_dir() -> PathBuf {
    std::env::var_os(CACHE).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/agent-cache"),
        PathBuf::from,
    )
}

/// Why a test is skipped.
struct Skip(String);

/// Run an install step; a failure that looks like "no network" is a [`Skip`].
fn step(what: &str, cmd: &mut Command) -> Result<(), Skip> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Skip(format!("{what}: cannot run {cmd:?}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let tail: String = text
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    let offline = [
        "enotfound",
        "eai_again",
        "econnrefused",
        "econnreset",
        "etimedout",
        "enetunreach",
        "network is unreachable",
        "temporary failure in name resolution",
        "failed to establish a new connection",
        "no matching distribution found",
        "connectionerror",
        "could not resolve",
        "request to https://registry",
    ];
    let lower = text.to_lowercase();
    if offline.iter().any(|w| lower.contains(w)) {
        return Err(Skip(format!(
            "{what}: the package registry is unreachable:\n{tail}"
        )));
    }
    if what.contains("venv") {
        return Err(Skip(format!(
            "{what}: `python3 -m venv` does not work here (on Debian: apt-get install \
             python3-venv):\n{tail}"
        )));
    }
    panic!("{what} failed ({}):\n{tail}", out.status);
}

/// Install `agent` into the cache unless it is there; returns its executable.
fn install(agent: Agent) -> Result<PathBuf, Skip> {
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).map_err(|e| Skip(format!("{}: {e}", cache.display())))?;
    let lock = std::fs::File::create(cache.join(".lock")).expect("cache lock file");
    // SAFETY: flock on a file descriptor we own; released when `lock` is dropped.
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    if let Some(needed) = agent.node() {
        node_at_least(agent, needed)?;
    }
    let bin = agent.bin(&cache);
    let stamp = cache.join(format!(".{}.installed", agent.package().replace('/', "_")));
    if stamp.is_file() && bin.exists() {
        return Ok(bin);
    }
    let started = Instant::now();
    match agent {
        Agent::Aider => {
            let version = Command::new("python3")
                .args(["-c", "import sys; print(sys.version_info[1])"])
                .output()
                .map_err(|e| Skip(format!("python3 is needed for aider: {e}")))?;
            let minor: u32 = String::from_utf8_lossy(&version.stdout)
                .trim()
                .parse()
                .unwrap_or(0);
            if !(10..=12).contains(&minor) {
                return Err(Skip(format!(
                    "aider-chat 0.86 needs Python 3.10 to 3.12; python3 is 3.{minor}"
                )));
            }
            let venv = cache.join("aider-venv");
            step(
                "python3 -m venv",
                Command::new("python3").arg("-m").arg("venv").arg(&venv),
            )?;
            step(
                "pip install aider-chat",
                Command::new(venv.join("bin/pip")).args([
                    "install",
                    "--disable-pip-version-check",
                    "--quiet",
                    agent.package(),
                ]),
            )?;
        }
        _ => {
            step(
                &format!("npm install {}", agent.package()),
                Command::new("npm")
                    .arg("install")
                    .arg("--prefix")
                    .arg(cache.join(agent.name()))
                    .args(["--no-audit", "--no-fund", agent.package()]),
            )?;
        }
    }
    assert!(
        bin.exists(),
        "installed {}, but {} is missing",
        agent.package(),
        bin.display()
    );
    std::fs::write(&stamp, "").expect("install stamp");
    println!(
        "installed {} in {:.0?} into {}",
        agent.package(),
        started.elapsed(),
        cache.display()
    );
    Ok(bin)
}

/// Skip when `node` is missing or older than `needed` (Debian 12's own nodejs is 18).
fn node_at_least(agent: Agent, needed: u32) -> Result<(), Skip> {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| Skip(format!("{} needs node: {e}", agent.package())))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let major: Option<u32> = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok());
    match major {
        Some(major) if major >= needed => Ok(()),
        _ => Err(Skip(format!(
            "{} needs Node.js {needed} or later; node --version says {version:?}",
            agent.package()
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// The two runs

/// What a test sets up: the agent, what the fake model asks it to do, how it is configured.
struct Scenario {
    agent: Agent,
    actions: Vec<Action>,
    options: Options,
}

impl Scenario {
    fn new(agent: Agent, actions: impl Into<Vec<Action>>) -> Scenario {
        Scenario {
            agent,
            actions: actions.into(),
            options: Options::default(),
        }
    }

    /// See [`Options::untrusted`].
    fn untrusted(mut self) -> Scenario {
        self.options.untrusted = true;
        self
    }

    /// See [`Options::gitignore`].
    fn gitignore(mut self) -> Scenario {
        self.options.gitignore = true;
        self
    }

    /// See [`Options::files`].
    fn file(mut self, name: &'static str, content: &'static str) -> Scenario {
        self.options.files.push((name, content));
        self
    }

    /// See [`Options::withhold_actions_until`].
    fn withhold_actions_until(mut self, text: &'static str) -> Scenario {
        self.options.withhold_actions_until = Some(text);
        self
    }

    /// Run `body` as `test` (this module's test of that name): outside, see [`outside`];
    /// inside, start the session, run `body` on it, and stop it.
    fn run(self, test: &str, body: impl AsyncFnOnce(&mut Session)) {
        if std::env::var_os(INSIDE).is_none() {
            outside(test, self.agent);
            return;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let bin = self.agent.bin(&cache_dir());
            let mut session = Session::start(self.agent, &bin, self.actions, self.options).await;
            body(&mut session).await;
            session.stop().await;
        });
    }
}

/// Outside: install `agent` and re-run `test` inside a loopback-only network namespace; pass
/// when that run passes.
fn outside(test: &str, agent: Agent) {
    if std::env::var(SWITCH).as_deref() != Ok("1") {
        println!("SKIPPED: set {SWITCH}=1 to run {test} (installs and runs the real agent)");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Err(Skip(why)) = netns_works() {
        println!("SKIPPED: {test}: {why}");
        return;
    }
    if let Err(Skip(why)) = install(agent) {
        println!("SKIPPED: {test}: {why}");
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let name = format!("agents_e2e::{test}");
    let started = Instant::now();
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(&exe)
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .env(CACHE, cache_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(&format!("test {name} ... ok")),
        "{name} failed inside the network namespace ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    println!("{name}: passed in {:.1?}", started.elapsed());
}

fn netns_works() -> Result<(), Skip> {
    let ok = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(Skip(
            "needs `unshare -n` and `ip` (root or CAP_SYS_ADMIN, util-linux, iproute2) to run \
             the agent in a loopback-only network namespace"
                .into(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// One session: fake LLM, fake Telegram, wrap around the agent

struct Session {
    agent: Agent,
    sb: Sandbox,
    project: PathBuf,
    llm: FakeLlm,
    tg: FakeTelegram,
    ann: User,
    chat: i64,
    child: Option<tokio::process::Child>,
    output: Arc<Mutex<Vec<u8>>>,
    mark: String,
    /// Request messages already handled.
    seen: Vec<i64>,
}

/// What a session is started with.
#[derive(Default)]
struct Options {
    /// Leave out the agent's "this folder is trusted" (and Claude's "this key is approved")
    /// settings, so the start-up dialogs come first.
    untrusted: bool,
    /// aider: keep the `.gitignore` question.
    gitignore: bool,
    /// Files written into the project before the agent starts (left out of its git commit).
    files: Vec<(&'static str, &'static str)>,
    /// The fake model keeps the actions for the first request that contains this text (see
    /// [`FakeLlm::withhold_actions_until`]); set before the agent starts.
    withhold_actions_until: Option<&'static str>,
}

const MESSAGE: &str = "please do the task";

impl Session {
    async fn start(agent: Agent, bin: &Path, actions: Vec<Action>, options: Options) -> Session {
        let sb = Sandbox::new();
        let project = sb.path().join("proj");
        std::fs::create_dir_all(&project).unwrap();
        let home = sb.home();
        let llm = FakeLlm::start(agent.api(), &project.display().to_string(), actions).await;
        let tg = FakeTelegram::start().await;
        let ann = User::new(111, "Ann", Some("ann"));
        let chat = tg.add_private_chat(&ann);
        let config = sb.write_config(&format!(
            "default_provider = \"telegram\"\nreject_feedback_timeout = 60\n\
             [telegram]\nbot_token = \"{TOKEN}\"\nchat_id = {chat}\napi_base = \"{}\"\n",
            tg.base_url()
        ));
        if let Some(text) = options.withhold_actions_until {
            llm.withhold_actions_until(text);
        }
        let (command, env) = setup(agent, bin, &home, &project, &llm.base_url(), &options);
        for (name, content) in &options.files {
            std::fs::write(project.join(name), content).unwrap();
        }
        let mark = format!("{}-{}", std::process::id(), llm.port());
        let mut args: Vec<String> = vec![
            "wrap".into(),
            "--config".into(),
            config.display().to_string(),
            "--log-file".into(),
            sb.path().join("work/wrap.log").display().to_string(),
            "--size".into(),
            "120x40".into(),
            "--".into(),
        ];
        args.extend(command);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = sb.command(&args);
        cmd.current_dir(&project)
            .env("TERM", "xterm-256color")
            .env(MARK, &mark)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn wrap");
        // Drain wrap's output (the agent's screen) so the agent never blocks on a full pipe.
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().expect("stdout");
        let sink = Arc::clone(&output);
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stdout.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(&buf[..n]);
            }
        });
        Session {
            agent,
            sb,
            project,
            llm,
            tg,
            ann,
            chat,
            child: Some(child),
            output,
            mark,
            seen: Vec::new(),
        }
    }

    fn wrap_log(&self) -> String {
        std::fs::read_to_string(self.sb.path().join("work/wrap.log")).unwrap_or_default()
    }

    /// The agent's screen now: wrap's output so far, rendered.
    fn screen(&self) -> String {
        let bytes = self
            .output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut parser = vt100::Parser::new(40, 120, 0);
        parser.process(&bytes);
        parser.screen().contents()
    }

    /// Everything that helps when a wait fails.
    fn describe(&self) -> String {
        format!(
            "--- screen\n{}\n--- fake LLM requests\n{}\n--- wrap log\n{}",
            self.screen(),
            self.llm.summary(),
            self.wrap_log()
        )
    }

    /// The next request posted with buttons.
    async fn request(&mut self) -> Message {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.tg.bot_messages(self.chat).into_iter().find(|m| {
                m.has_keyboard() && m.reply_to.is_none() && !self.seen.contains(&m.message_id)
            });
            if let Some(message) = found {
                self.seen.push(message.message_id);
                return message;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no request on Telegram\n{}",
                self.agent.name(),
                self.describe()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Click the button whose label contains `label`; wait until the buttons are gone.
    async fn click(&self, message: &Message, label: &str) {
        self.press(message, label);
        self.wait_answered(message).await;
    }

    /// Click the button `label` (a reject that asks for a reason) and reply with `text`.
    async fn click_with_reason(&self, message: &Message, label: &str, text: &str) {
        self.press(message, label);
        let ask = self
            .tg
            .wait_message(|m| m.reply_to == Some(message.message_id), WAIT)
            .await;
        self.tg.reply(self.chat, ask.message_id, text, &self.ann);
        self.wait_answered(message).await;
    }

    /// Click the button whose label contains `label`, as Ann.
    fn press(&self, message: &Message, label: &str) {
        let data = message
            .buttons()
            .into_iter()
            .find(|(text, _)| text.contains(label))
            .unwrap_or_else(|| panic!("no button {label:?} in {:?}", message.buttons()))
            .1;
        self.tg
            .click(self.chat, message.message_id, &data, &self.ann);
    }

    async fn wait_answered(&self, message: &Message) {
        self.wait("the request to be answered", || {
            self.tg
                .message(self.chat, message.message_id)
                .is_some_and(|m| !m.has_keyboard())
        })
        .await;
    }

    async fn wait(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "{}: timed out waiting for {what}\n{}",
                self.agent.name(),
                self.describe()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_file(&self, name: &str) {
        let path = self.project.join(name);
        self.wait(&format!("{name} to be created"), || path.exists())
            .await;
    }

    /// Wait until the agent has written `content` to `name` (it may create the file first
    /// and write it a moment later).
    async fn wait_content(&self, name: &str, content: &str) {
        let path = self.project.join(name);
        self.wait(&format!("{name} to hold {content:?}"), || {
            std::fs::read_to_string(&path).is_ok_and(|c| c == content)
        })
        .await;
    }

    async fn wait_screen(&self, what: &str, text: &str) {
        self.wait(&format!("{what} ({text:?}) on the screen"), || {
            self.screen().contains(text)
        })
        .await;
    }

    /// Wait until the fake LLM got a request, after the scripted one, containing `text`.
    async fn wait_llm_got(&self, text: &str) {
        self.wait(&format!("the fake LLM to receive {text:?}"), || {
            self.llm.later_request_containing(text).is_some()
        })
        .await;
    }

    /// Wait until the agent sent its next turn to the model (the scripted answer was used).
    async fn wait_next_turn(&self) {
        self.wait("the agent's next request to the model", || {
            self.llm.requests().iter().any(|r| r.kind == "done")
        })
        .await;
    }

    fn exists(&self, name: &str) -> bool {
        self.project.join(name).exists()
    }

    /// The wrap records of the audit log.
    fn audit(&self) -> Vec<Value> {
        self.sb
            .audit()
            .into_iter()
            .filter(|r| r["kind"] == "wrap")
            .collect()
    }

    async fn wait_audit(&self, n: usize) -> Vec<Value> {
        self.wait(&format!("{n} audit record(s)"), || self.audit().len() >= n)
            .await;
        self.audit()
    }

    /// Stop wrap (SIGTERM: it stops the agent's process group), then every process left
    /// with this session's mark (daemons and relaunched children outside the group).
    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                // SAFETY: signalling our own child by pid.
                unsafe { libc::kill(i32::try_from(pid).unwrap_or(0), libc::SIGTERM) };
            }
            let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
            let _ = child.kill().await;
        }
        kill_marked(&self.mark);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
        kill_marked(&self.mark);
    }
}

/// SIGKILL every process whose environment carries `MARK=mark`, by pid.
fn kill_marked(mark: &str) {
    let needle = format!("{MARK}={mark}\0");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let mut environ = Vec::new();
        let readable = std::fs::File::open(entry.path().join("environ"))
            .and_then(|mut f| f.read_to_end(&mut environ));
        if readable.is_ok()
            && environ
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        {
            // SAFETY: plain kill(2) on a pid we found carrying our mark.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The agent's configuration files (as `agent-lab.md` gives them), command and environment.
fn setup(
    agent: Agent,
    bin: &Path,
    home: &Path,
    project: &Path,
    llm: &str,
    options: &Options,
) -> (Vec<String>, Vec<(String, String)>) {
    let write = |path: PathBuf, text: &str| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let bin = bin.display().to_string();
    let project_dir = project.display().to_string();
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    if agent != Agent::Claude {
        git_repo(project);
    }
    match agent {
        Agent::Aider => {
            write(
                home.join(".aider/caches/model_prices_and_context_window.json"),
                r#"{"openai/fake": {"max_input_tokens": 128000, "max_output_tokens": 4096,
                   "max_tokens": 4096, "input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
                   "litellm_provider": "openai", "mode": "chat"}}"#,
            );
            // The first message comes from a --load file: `/code <message>`. /code uses the
            // model's own edit format, hence the model settings.
            write(
                home.join("models.yml"),
                "- name: openai/fake\n  edit_format: diff\n",
            );
            write(home.join("start.txt"), &format!("/code {MESSAGE}\n"));
            let mut command = vec![
                bin,
                "--openai-api-base".into(),
                format!("{llm}/v1"),
                "--openai-api-key".into(),
                "x".into(),
                "--model".into(),
                "openai/fake".into(),
                "--edit-format".into(),
                "diff".into(),
                "--model-settings-file".into(),
                home.join("models.yml").display().to_string(),
                "--no-check-update".into(),
                "--no-show-release-notes".into(),
                "--no-analytics".into(),
                "--load".into(),
                home.join("start.txt").display().to_string(),
            ];
            if !options.gitignore {
                command.push("--no-gitignore".into());
            }
            (command, env(&[("LITELLM_LOCAL_MODEL_COST_MAP", "True")]))
        }
        Agent::Claude => {
            let trusted = if options.untrusted {
                String::new()
            } else {
                format!(
                    r#", "customApiKeyResponses": {{"approved": ["-fake-key-0123456789"], "rejected": []}},
                    "projects": {{"{project_dir}": {{"hasTrustDialogAccepted": true, "allowedTools": []}}}}"#
                )
            };
            write(
                home.join(".claude.json"),
                &format!(
                    r#"{{"hasCompletedOnboarding": true, "lastOnboardingVersion": "2.1.197",
                    "theme": "dark", "numStartups": 1{trusted}}}"#
                ),
            );
            (
                vec![bin, MESSAGE.into()],
                env(&[
                    ("ANTHROPIC_BASE_URL", llm),
                    ("ANTHROPIC_API_KEY", "sk-ant-fake-key-0123456789"),
                    ("DISABLE_TELEMETRY", "1"),
                    ("DISABLE_ERROR_REPORTING", "1"),
                    ("DISABLE_AUTOUPDATER", "1"),
                    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
                    ("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1"),
                ]),
            )
        }
        Agent::Codex => {
            let codex_home = home.join(".codex");
            let mut config = format!(
                "model = \"fake-model\"\nmodel_provider = \"fake\"\n\
                 approval_policy = \"on-request\"\nsandbox_mode = \"read-only\"\n\
                 check_for_update_on_startup = false\n\n\
                 [model_providers.fake]\nname = \"Fake\"\nbase_url = \"{llm}/v1\"\n\
                 env_key = \"FAKE_OPENAI_KEY\"\nwire_api = \"responses\"\n\n\
                 [analytics]\nenabled = false\n\n\
                 [features]\nplugins = false\nremote_plugin = false\napps = false\n"
            );
            if !options.untrusted {
                let _ = write!(
                    config,
                    "\n[projects.\"{project_dir}\"]\ntrust_level = \"trusted\"\n"
                );
            }
            write(codex_home.join("config.toml"), &config);
            (
                vec![bin, "--no-daemon".into(), MESSAGE.into()],
                env(&[
                    ("CODEX_HOME", &codex_home.display().to_string()),
                    ("FAKE_OPENAI_KEY", "x"),
                ]),
            )
        }
        Agent::Gemini => {
            let trust = if options.untrusted { "true" } else { "false" };
            write(
                home.join(".gemini/settings.json"),
                &format!(
                    r#"{{"security": {{"auth": {{"selectedType": "gemini-api-key"}},
                       "folderTrust": {{"enabled": {trust}}}}},
                     "general": {{"enableAutoUpdate": false, "enableAutoUpdateNotification": false}},
                     "privacy": {{"usageStatisticsEnabled": false}}, "telemetry": {{"enabled": false}},
                     "ui": {{"theme": "Default"}}}}"#
                ),
            );
            (
                vec![bin, "-i".into(), MESSAGE.into()],
                env(&[
                    ("GEMINI_API_KEY", "x"),
                    ("GOOGLE_GEMINI_BASE_URL", llm),
                    ("COLORTERM", "truecolor"),
                ]),
            )
        }
    }
}

/// A git repository with one commit (aider commits its edits; Codex and Gemini want a repo).
fn git_repo(dir: &Path) {
    std::fs::write(dir.join("README.md"), "test project\n").unwrap();
    for args in [
        &["init", "-q", "."][..],
        &["config", "user.email", "test@example.com"],
        &["config", "user.name", "Test"],
        &["add", "."],
        &["commit", "-q", "-m", "init"],
    ] {
        let ok = Command::new("git")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git {args:?} failed (is git installed?)");
    }
}

fn shell(command: &str) -> Action {
    Action::Shell(command.to_owned())
}

fn write_file(path: &str, content: &str) -> Action {
    Action::Write {
        path: path.to_owned(),
        content: content.to_owned(),
    }
}

fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "{part:?} not in:\n{text}");
}

// ---------------------------------------------------------------------------------------------
// aider

#[test]
fn aider_approve_creates_the_file_and_runs_the_command() {
    let actions = [
        write_file("proof.txt", "created by the fake model\n"),
        shell("touch shell_proof.txt && echo shell-ran"),
    ];
    Scenario::new(Agent::Aider, actions).gitignore().run(
        "aider_approve_creates_the_file_and_runs_the_command",
        async |s| {
            let gitignore = s.request().await;
            assert_contains(&gitignore.text, "Add .aider* to .gitignore (recommended)?");
            s.click(&gitignore, "Yes").await;
            let create = s.request().await;
            assert_contains(&create.text, "aider: Create new file? — proof.txt");
            s.click(&create, "Yes").await;
            s.wait_content("proof.txt", "created by the fake model\n")
                .await;
            let run = s.request().await;
            assert_contains(
                &run.text,
                "aider: Run shell command? — touch shell_proof.txt && echo shell-ran",
            );
            let labels: Vec<String> = run.buttons().into_iter().map(|(t, _)| t).collect();
            assert!(
                labels.iter().any(|l| l.contains("Don't ask again")),
                "{labels:?}"
            );
            s.click(&run, "Yes").await;
            s.wait_file("shell_proof.txt").await;
            let output = s.request().await;
            assert_contains(&output.text, "Add command output to the chat?");
            s.click(&output, "Yes").await;
            s.wait_screen("aider's note", "Added 2 lines of output to the chat")
                .await;
            assert_contains(
                &std::fs::read_to_string(s.project.join(".gitignore")).unwrap(),
                ".aider*",
            );
            let audit = s.wait_audit(4).await;
            let patterns: Vec<&str> = audit
                .iter()
                .map(|r| r["pattern"].as_str().unwrap())
                .collect();
            assert_eq!(
                patterns,
                [
                    "aider/confirm",
                    "aider/file",
                    "aider/shell",
                    "aider/confirm"
                ]
            );
            assert!(
                audit
                    .iter()
                    .all(|r| r["result"] == "typed" && r["keys"] == "y ⏎"),
                "{audit:?}"
            );
        },
    );
}

#[test]
fn aider_reject_with_feedback_reaches_the_model() {
    let actions = [shell("touch shell_proof.txt && echo shell-ran")];
    Scenario::new(Agent::Aider, actions).run(
        "aider_reject_with_feedback_reaches_the_model",
        async |s| {
            let run = s.request().await;
            assert_contains(&run.text, "Run shell command?");
            s.click_with_reason(&run, "No, and tell aider", "use make test instead")
                .await;
            s.wait_llm_got("use make test instead").await;
            assert!(!s.exists("shell_proof.txt"), "the command ran");
            s.wait_screen("the model's answer", DONE_TEXT).await;
            let audit = s.wait_audit(1).await;
            assert_eq!(audit[0]["choice"], "nf");
        },
    );
}

#[test]
fn aider_dont_ask_again_declines_the_command() {
    let actions = [shell("touch shell_proof.txt && echo shell-ran")];
    Scenario::new(Agent::Aider, actions).run(
        "aider_dont_ask_again_declines_the_command",
        async |s| {
            let run = s.request().await;
            s.click(&run, "Don't ask again").await;
            let audit = s.wait_audit(1).await;
            assert_eq!(audit[0]["choice"], "d");
            assert_eq!(audit[0]["keys"], "d ⏎");
            // aider answers `d` by not running the command and going back to its prompt.
            s.wait_screen("aider's answered question", "[Yes]: d").await;
            assert!(!s.exists("shell_proof.txt"), "the command ran");
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Claude Code

#[test]
fn claude_approve_bash_runs_it() {
    Scenario::new(Agent::Claude, [shell("touch proof.txt")]).run(
        "claude_approve_bash_runs_it",
        async |s| {
            let ask = s.request().await;
            assert_contains(
                &ask.text,
                "claude-code: Do you want to proceed? — touch proof.txt",
            );
            s.click(&ask, "Yes").await;
            s.wait_file("proof.txt").await;
            s.wait_next_turn().await;
            let audit = s.wait_audit(1).await;
            assert_eq!(audit[0]["pattern"], "claude-code/bash");
            assert_eq!(audit[0]["choice"], "y");
        },
    );
}

#[test]
fn claude_startup_dialogs_then_bash() {
    Scenario::new(Agent::Claude, [shell("touch proof.txt")])
        .untrusted()
        .run("claude_startup_dialogs_then_bash", async |s| {
            let trust = s.request().await;
            assert_contains(
                &trust.text,
                "Is this a project you created or one you trust?",
            );
            s.click(&trust, "Yes, I trust this folder").await;
            // The key dialog has No pre-selected: Yes must be selected and verified first.
            let key = s.request().await;
            assert_contains(&key.text, "Do you want to use this API key?");
            s.click(&key, "Yes").await;
            let bash = s.request().await;
            assert_contains(&bash.text, "Do you want to proceed?");
            s.click(&bash, "Yes").await;
            s.wait_file("proof.txt").await;
            let audit = s.wait_audit(3).await;
            assert_eq!(audit[1]["pattern"], "claude-code/api-key");
            assert_eq!(audit[1]["keys"], "↑ ⏎");
        });
}

#[test]
fn claude_reject_write_creates_nothing() {
    let actions = [write_file("proof.txt", "written by fake model\n")];
    Scenario::new(Agent::Claude, actions).run("claude_reject_write_creates_nothing", async |s| {
        let ask = s.request().await;
        assert_contains(&ask.text, "Do you want to create proof.txt?");
        s.click(&ask, "No").await;
        s.wait_screen("the rejection", "User rejected write to proof.txt")
            .await;
        assert!(!s.exists("proof.txt"));
    });
}

#[test]
fn claude_reject_with_feedback_reaches_the_model() {
    Scenario::new(Agent::Claude, [shell("touch proof.txt")]).run(
        "claude_reject_with_feedback_reaches_the_model",
        async |s| {
            let ask = s.request().await;
            s.click_with_reason(&ask, "No, and tell Claude", "name it evidence.txt")
                .await;
            s.wait_llm_got("name it evidence.txt").await;
            assert!(!s.exists("proof.txt"));
            let audit = s.wait_audit(1).await;
            assert_eq!(audit[0]["choice"], "nf");
        },
    );
}

#[test]
fn claude_allow_edits_for_the_session_switches_mode() {
    let actions = [write_file("proof.txt", "written by fake model\n")];
    Scenario::new(Agent::Claude, actions).run(
        "claude_allow_edits_for_the_session_switches_mode",
        async |s| {
            let ask = s.request().await;
            s.click(&ask, "allow all edits during this session").await;
            s.wait_content("proof.txt", "written by fake model\n").await;
            s.wait_screen("the mode Claude switched to", "accept edits on")
                .await;
            let audit = s.wait_audit(1).await;
            assert_eq!(audit[0]["choice"], "always");
            assert_eq!(audit[0]["keys"], "↓ ⏎");
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Codex CLI

#[test]
fn codex_trust_then_approve_the_command() {
    Scenario::new(Agent::Codex, [shell("touch proof.txt")])
        .untrusted()
        .run("codex_trust_then_approve_the_command", async |s| {
            let trust = s.request().await;
            assert_contains(&trust.text, "Trust this folder?");
            s.click(&trust, "Trust and continue").await;
            let run = s.request().await;
            assert_contains(
                &run.text,
                "codex: Would you like to run the following command? — touch proof.txt",
            );
            s.click(&run, "Yes, proceed").await;
            s.wait_file("proof.txt").await;
            s.wait_screen(
                "Codex's history line",
                "You approved codex to run touch proof.txt",
            )
            .await;
            let audit = s.wait_audit(2).await;
            assert_eq!(audit[1]["keys"], "y");
        });
}

#[test]
fn codex_reject_with_feedback_reaches_the_model() {
    Scenario::new(Agent::Codex, [shell("touch proof.txt")]).run(
        "codex_reject_with_feedback_reaches_the_model",
        async |s| {
            let run = s.request().await;
            s.click_with_reason(&run, "No, and tell Codex", "use the tmp directory")
                .await;
            s.wait_llm_got("use the tmp directory").await;
            assert!(!s.exists("proof.txt"));
            s.wait_screen("Codex's history line", "You canceled the request")
                .await;
        },
    );
}

#[test]
fn codex_queued_commands_are_asked_one_after_another() {
    let actions = [shell("touch proof.txt"), shell("touch second.txt")];
    Scenario::new(Agent::Codex, actions).run(
        "codex_queued_commands_are_asked_one_after_another",
        async |s| {
            // Codex runs the two calls in parallel: which approval comes first varies. (Both
            // are approved: Esc on one would stop the turn, and with it the other.)
            let mut asked = Vec::new();
            for _ in 0..2 {
                let ask = s.request().await;
                assert_contains(&ask.text, "Would you like to run the following command?");
                let subject = if ask.text.contains("— touch proof.txt") {
                    "proof.txt"
                } else {
                    assert_contains(&ask.text, "— touch second.txt");
                    "second.txt"
                };
                asked.push(subject);
                s.click(&ask, "Yes, proceed").await;
                s.wait_file(subject).await;
            }
            asked.sort_unstable();
            assert_eq!(asked, ["proof.txt", "second.txt"]);
            s.wait_next_turn().await;
            let audit = s.wait_audit(2).await;
            assert!(audit.iter().all(|r| r["keys"] == "y"), "{audit:?}");
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Gemini CLI

#[test]
fn gemini_approve_shell_runs_it() {
    Scenario::new(Agent::Gemini, [shell("touch proof.txt")]).run(
        "gemini_approve_shell_runs_it",
        async |s| {
            let ask = s.request().await;
            assert_contains(
                &ask.text,
                "gemini: Allow execution of [Shell]? — touch proof.txt",
            );
            s.click(&ask, "Allow once").await;
            s.wait_file("proof.txt").await;
            s.wait_next_turn().await;
        },
    );
}

#[test]
fn gemini_reject_shell_runs_nothing() {
    Scenario::new(Agent::Gemini, [shell("touch proof.txt")]).run(
        "gemini_reject_shell_runs_nothing",
        async |s| {
            let ask = s.request().await;
            s.click(&ask, "No").await;
            s.wait_screen("the cancellation", "Request cancelled").await;
            assert!(!s.exists("proof.txt"));
        },
    );
}

/// Gemini sends its first message twice: from the instance that shows the trust dialog, and
/// again from the one that restarts once the folder is trusted. Given the write, the untrusted
/// instance shows its own edit prompt (without "Allow for this session", which needs a trusted
/// folder) above the trust dialog, and both menus listen to the keyboard: the Enter meant for
/// the dialog could approve the write instead, or that prompt could be the one paged. Only the
/// trusted instance reads the project's GEMINI.md, so the fake model keeps the write for the
/// request that carries the file's text, and the untrusted one gets a plain text answer.
#[test]
fn gemini_trust_then_allow_edits_for_the_session() {
    const TRUSTED_MARK: &str = "This project is trusted (openfeedback e2e).";
    let actions = [write_file("proof.txt", "written by fake model\n")];
    Scenario::new(Agent::Gemini, actions)
        .untrusted()
        .file("GEMINI.md", TRUSTED_MARK)
        .withhold_actions_until(TRUSTED_MARK)
        .run("gemini_trust_then_allow_edits_for_the_session", async |s| {
            let trust = s.request().await;
            assert_contains(&trust.text, "Do you trust the files in this folder?");
            s.click(&trust, "Trust folder (proj)").await;
            let edit = s.request().await;
            assert_contains(
                &edit.text,
                "gemini: Apply this change? — Writing to proof.txt",
            );
            s.click(&edit, "Allow for this session").await;
            s.wait_content("proof.txt", "written by fake model\n").await;
            s.wait_screen("the mode Gemini switched to", "auto-accept edits")
                .await;
        });
}

#[test]
fn gemini_reject_with_feedback_reaches_the_model() {
    Scenario::new(Agent::Gemini, [shell("touch proof.txt")]).run(
        "gemini_reject_with_feedback_reaches_the_model",
        async |s| {
            let ask = s.request().await;
            s.click_with_reason(&ask, "No, suggest changes", "list the files first")
                .await;
            s.wait_llm_got("list the files first").await;
            assert!(!s.exists("proof.txt"));
        },
    );
}

// ---------------------------------------------------------------------------------------------
// A tool for manual sessions

/// A fake LLM for manual lab sessions: `LAB_API=claude LAB_PROJECT=/p LAB_ACTION='shell:touch x'
/// LAB_PORTFILE=/tmp/port LAB_LOG=/tmp/log cargo test --test it agents_e2e::lab_fake_llm --
/// --ignored --nocapture` serves until killed, writing its port and its requests. Actions are
/// separated by `;;`: `shell:<command>` or `write:<path>:<content>`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a tool for manual sessions, not a test"]
async fn lab_fake_llm() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let api = match var("LAB_API").as_str() {
        "aider" => Api::OpenAiChat,
        "claude" => Api::Anthropic,
        "codex" => Api::OpenAiResponses,
        _ => Api::Gemini,
    };
    let actions = var("LAB_ACTION")
        .split(";;")
        .filter(|a| !a.is_empty())
        .map(|a| match a.split_once(':') {
            Some(("write", rest)) => {
                let (path, content) = rest.split_once(':').unwrap_or((rest, "written by fake"));
                write_file(path, &format!("{content}\n"))
            }
            Some((_, command)) => shell(command),
            None => shell(a),
        })
        .collect();
    let fake = FakeLlm::start(api, &var("LAB_PROJECT"), actions).await;
    std::fs::write(var("LAB_PORTFILE"), fake.port().to_string()).unwrap();
    let mut written = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let requests = fake.requests();
        let mut lines = String::new();
        for r in &requests[written..] {
            let line = serde_json::json!({"method": r.method, "path": r.path, "kind": r.kind,
                                          "body": r.body});
            let _ = writeln!(lines, "{line}");
        }
        if !lines.is_empty() {
            use std::io::Write as _;
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(var("LAB_LOG"))
                .unwrap();
            log.write_all(lines.as_bytes()).unwrap();
        }
        written = requests.len();
    }
}
