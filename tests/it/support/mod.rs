//! Shared test support: run the real binary in a sandbox (its own HOME and XDG dirs, no
//! OPENFEEDBACK_* variables from the outside) and read what it printed.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

pub mod chromium;
pub mod fake_anthropic;
pub mod fake_discord;
pub mod fake_llm;
pub mod fake_telegram;
pub mod llm_server;
pub mod proxy;
pub mod telegram_rig;

/// The openfeedback binary under test; `OPENFEEDBACK_TEST_BIN` runs another build instead
/// (e.g. to benchmark against an older one).
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("OPENFEEDBACK_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_openfeedback").to_owned())
    })
}

/// A private home for one test run of the binary.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["home", "config", "data", "work", "runtime"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// `$XDG_RUNTIME_DIR` of the sandbox: where processes of one bot meet (`openfeedback/`).
    pub fn runtime_dir(&self) -> PathBuf {
        self.path().join("runtime")
    }

    /// The platform config path inside the sandbox.
    pub fn default_config_path(&self) -> PathBuf {
        self.path().join("config/openfeedback/config.toml")
    }

    /// The default audit log inside the sandbox.
    pub fn default_audit_path(&self) -> PathBuf {
        self.path().join("data/openfeedback/audit.jsonl")
    }

    /// Write `text` as a config file and return its path.
    pub fn write_config(&self, text: &str) -> PathBuf {
        let path = self.path().join("work/config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path().join("work").join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Where the scripted agents (tests/agents) are told to log what they read.
    pub fn agent_log(&self) -> PathBuf {
        self.path().join("work/agent.log")
    }

    /// What `wrap --log-file wrap.log` logged (the file in `work`), or nothing.
    pub fn wrap_log(&self) -> String {
        std::fs::read_to_string(self.path().join("work/wrap.log")).unwrap_or_default()
    }

    /// `PROGRAM wrap` headless around `tests/agents/stamp.py`, the agent that stamps each prompt
    /// it shows and each answer it reads in the agent log: `wrap --config CONFIG --log-file
    /// wrap.log --patterns tests/agents/patterns --agent scripted WRAP_OPTS -- python3 stamp.py
    /// AGENT_LOG STAMP_ARGS`.
    pub fn wrap_stamp(
        &self,
        program: &Path,
        config: &Path,
        wrap_opts: &[&str],
        stamp_args: &[&str],
    ) -> tokio::process::Command {
        let log = self.agent_log();
        let mut args = vec![
            "wrap",
            "--config",
            config.to_str().unwrap(),
            "--log-file",
            "wrap.log",
            "--patterns",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/agents/patterns"),
            "--agent",
            "scripted",
        ];
        args.extend_from_slice(wrap_opts);
        args.extend([
            "--",
            "python3",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/agents/stamp.py"),
            log.to_str().unwrap(),
        ]);
        args.extend_from_slice(stamp_args);
        self.command_of(program, &args)
    }

    /// `openfeedback ARGS` with the sandbox's environment.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.command_of(Path::new(bin()), args)
    }

    /// Like [`Sandbox::command`], for another build of the binary (the benchmark measures the
    /// release build).
    pub fn command_of(&self, program: &Path, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .current_dir(self.path().join("work"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Run to completion (at most 60 s).
    pub async fn run(&self, args: &[&str]) -> Run {
        Run::wait(self.command(args).spawn().expect("spawn openfeedback")).await
    }

    /// The records of the default audit log.
    pub fn audit(&self) -> Vec<Value> {
        read_jsonl(&self.default_audit_path())
    }
}

pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub async fn wait(child: tokio::process::Child) -> Run {
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("openfeedback did not finish within 60 s")
            .expect("wait for openfeedback");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The single JSON object on stdout (fails if there is not exactly one line).
    pub fn json(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one JSON line on stdout, got {:?}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        serde_json::from_str(lines[0]).expect("stdout is JSON")
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }
}
