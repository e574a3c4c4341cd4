//! A terminal for the tests: runs a command under a PTY (portable-pty) and renders what it
//! prints with vt100, the way a terminal emulator would. It answers the cursor-position and
//! device-attribute queries like a real terminal (with a reply wrap itself never gives, so a
//! test can tell who answered).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};

/// What this terminal answers to `ESC [ c` (wrap answers `ESC [ ? 1 ; 2 c` in headless mode).
pub const DA1_REPLY: &[u8] = b"\x1b[?62;22c";

struct State {
    parser: vt100::Parser,
    raw: Vec<u8>,
    eof: bool,
}

pub struct Term {
    master: Box<dyn MasterPty + Send>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    state: Arc<Mutex<State>>,
}

/// The real binary with the sandbox's environment, as a PTY command.
pub fn openfeedback(sandbox: &Path, args: &[&str], env: &[(&str, &str)]) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(crate::support::bin());
    cmd.args(args);
    cmd.cwd(sandbox.join("work"));
    cmd.env_clear();
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.env("HOME", sandbox.join("home"));
    cmd.env("XDG_CONFIG_HOME", sandbox.join("config"));
    cmd.env("XDG_DATA_HOME", sandbox.join("data"));
    cmd.env("LANG", "C.UTF-8");
    cmd.env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

impl Term {
    pub fn spawn(cmd: CommandBuilder, rows: u16, cols: u16) -> Term {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let child = pair.slave.spawn_command(cmd).expect("spawn under pty");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = Arc::new(Mutex::new(pair.master.take_writer().expect("writer")));
        let state = Arc::new(Mutex::new(State {
            parser: vt100::Parser::new(rows, cols, 0),
            raw: Vec::new(),
            eof: false,
        }));
        let (st, wr) = (state.clone(), writer.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut s = st.lock().unwrap();
                        let replies = answer_queries(&mut s, &buf[..n]);
                        s.raw.extend_from_slice(&buf[..n]);
                        drop(s);
                        if !replies.is_empty() {
                            let _ = wr.lock().unwrap().write_all(&replies);
                        }
                    }
                }
            }
            st.lock().unwrap().eof = true;
        });
        Term {
            master: pair.master,
            writer,
            child,
            state,
        }
    }

    /// The rendered screen, rows right-trimmed.
    pub fn screen(&self) -> String {
        let s = self.state.lock().unwrap();
        let (_, cols) = s.parser.screen().size();
        s.parser
            .screen()
            .rows(0, cols)
            .map(|r| r.trim_end().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Everything the program printed, as bytes.
    pub fn raw(&self) -> Vec<u8> {
        self.state.lock().unwrap().raw.clone()
    }

    pub fn alternate_screen(&self) -> bool {
        self.state
            .lock()
            .unwrap()
            .parser
            .screen()
            .alternate_screen()
    }

    pub fn cursor_hidden(&self) -> bool {
        self.state.lock().unwrap().parser.screen().hide_cursor()
    }

    /// Type `bytes` at the keyboard.
    pub fn type_bytes(&self, bytes: &[u8]) {
        let mut w = self.writer.lock().unwrap();
        w.write_all(bytes).unwrap();
        w.flush().unwrap();
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        self.state
            .lock()
            .unwrap()
            .parser
            .screen_mut()
            .set_size(rows, cols);
    }

    /// Wait until the screen satisfies `pred`; the screen then.
    pub async fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Wait for the program to exit; its exit code.
    pub async fn wait_exit(&mut self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader take the last bytes.
                for _ in 0..100 {
                    if self.state.lock().unwrap().eof {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                return status.exit_code();
            }
            assert!(
                Instant::now() < deadline,
                "the program did not exit; the screen:\n{}",
                self.screen()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Feed `bytes` to the model, answering CPR and DA1 as they come, like a terminal.
fn answer_queries(state: &mut State, bytes: &[u8]) -> Vec<u8> {
    let mut replies = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let query = if rest.starts_with(b"\x1b[6n") {
            Some((4, true))
        } else if rest.starts_with(b"\x1b[c") {
            Some((3, false))
        } else if rest.starts_with(b"\x1b[0c") {
            Some((4, false))
        } else {
            None
        };
        if let Some((len, cpr)) = query {
            state.parser.process(&bytes[start..i + len]);
            if cpr {
                let (row, col) = state.parser.screen().cursor_position();
                replies.extend_from_slice(format!("\x1b[{};{}R", row + 1, col + 1).as_bytes());
            } else {
                replies.extend_from_slice(DA1_REPLY);
            }
            i += len;
            start = i;
        } else {
            i += 1;
        }
    }
    state.parser.process(&bytes[start..]);
    replies
}
