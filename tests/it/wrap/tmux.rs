//! A real terminal for the restoration tests: a tmux server of our own (private socket) whose
//! pane runs a script around `wrap`, recording `stty -g` before and after.
//!
//! Without tmux the tests print `SKIPPED:` and pass, unless `OPENFEEDBACK_TEST_TMUX=require`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    dir: PathBuf,
}

/// Whether tmux can be used; prints the reason when not (and fails when it is required).
pub fn available(test: &str) -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("OPENFEEDBACK_TEST_TMUX").as_deref() != Ok("require"),
            "tmux is required (OPENFEEDBACK_TEST_TMUX=require) but not installed"
        );
        println!("SKIPPED: {test}: tmux is not installed");
    }
    found
}

impl Tmux {
    /// Start a server whose only pane runs `script` (sh) in `dir`.
    pub fn start(dir: &Path, script: &str) -> Tmux {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let socket = format!("of-test-{}-{n}", std::process::id());
        let path = dir.join("pane.sh");
        std::fs::write(&path, script).unwrap();
        let tmux = Tmux {
            socket,
            dir: dir.to_owned(),
        };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-x", "100", "-y", "30", "-c"])
            .arg(dir)
            .arg(format!("sh {}", path.display()))
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"]);
        cmd
    }

    /// A `display -p` format of the pane (`#{alternate_on}`, `#{pane_tty}`, ...).
    pub fn format(&self, format: &str) -> String {
        let out = self
            .command()
            .args(["display-message", "-p", format])
            .output()
            .expect("tmux display");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn capture(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The current `stty -g` of the pane's terminal.
    pub fn stty(&self) -> String {
        let tty = self.format("#{pane_tty}");
        let out = Command::new("stty")
            .args(["-g", "-F", &tty])
            .output()
            .expect("stty");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Wait until `file` (in the directory) exists and is not empty; its contents.
    pub async fn wait_file(&self, file: &str) -> String {
        let path = self.dir.join(file);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(&path)
                && !text.trim().is_empty()
            {
                return text.trim().to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "{file} never appeared; the pane:\n{}",
                self.capture()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_pane(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let pane = self.capture();
            if pred(&pane) {
                return pane;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the pane:\n{pane}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}
