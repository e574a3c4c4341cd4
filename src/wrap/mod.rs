//! `openfeedback wrap`: run an agent under a pseudo-terminal and answer its prompts remotely.
//!
//! Theory of operation: one owner per resource.
//!
//! ```text
//!  keyboard ─▶ wrap-keyboard ─┐                        ┌─▶ stdout (Output: agent bytes + title/resets)
//!  bridge answers ────────────┼─▶ wrap-writer ─▶ PTY ─▶ wrap-reader ─┤
//!  headless query replies ────┘      (single writer)    └─▶ wrap-screen (vt100) ─▶ bridge ─▶ gate
//!  wrap-wait: waitpid(agent) ─▶ bridge (the agent's exit ends the session)
//! ```
//!
//! - `wrap-reader` copies PTY output to stdout on the hot path and hands each chunk to
//!   `wrap-screen`, which feeds the vt100 model off the hot path and reports settled screens.
//! - `wrap-writer` owns portable-pty's writer for the whole life of the agent; keyboard bytes,
//!   remote answers and headless query replies are serialised through it.
//! - The [`bridge::Bridge`] runs on the async runtime: detection edges, the gate, answering.
//! - The real terminal is in raw mode only in interactive mode (stdin is a terminal and we are
//!   in the foreground process group); a guard and a panic hook restore it, and the modes the
//!   agent left on are reset at the end.
//! - All diagnostics go to the log file (`--log-file`, default `<data dir>/wrap.log`), never
//!   onto the agent's screen.
//!
//! Test hook: when the environment variable `OPENFEEDBACK_TEST_PANIC` is `after-start`, wrap
//! panics on its main thread once the agent has started and its first screen has settled (raw
//! mode on, the agent's modes on), so tests can check that a panic restores the terminal. It is
//! compiled into every build and does nothing unless set.

pub mod detect;
pub mod keys;
pub mod plan;
pub mod prompt;
pub mod redact;

mod ask;
mod bridge;
mod edge;
mod feed;
mod modes;
mod output;
mod pty;
mod reader;
mod record;
mod screen;
pub(crate) mod skim;
mod terminal;
mod title;
mod typed;
mod vt;
mod writer;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::cli::{OnTimeout, WrapArgs};
use crate::config::{Plan, Source};
use crate::error::Error;
use crate::gate::Gate;
use crate::provider::ProviderName;
use crate::provider::web::Web;
use crate::request::Origin;

/// The environment variable of the panic test hook.
pub const TEST_PANIC_ENV: &str = "OPENFEEDBACK_TEST_PANIC";
/// The PTY size without a terminal, as (rows, cols).
const HEADLESS_SIZE: (u16, u16) = (40, 120);
/// How long a stopped agent gets between SIGTERM (or SIGHUP) and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// The command line, validated.
struct Options {
    command: Vec<OsString>,
    label: Option<String>,
    /// `--size`, as (rows, cols).
    size: Option<(u16, u16)>,
    settle: Duration,
    grace: Duration,
    context_rows: Option<usize>,
    patterns: Vec<PathBuf>,
    agent: Option<String>,
    on_timeout: OnTimeout,
    log_file: Option<PathBuf>,
    dry_run_rules: bool,
}

impl Options {
    fn parse(args: WrapArgs) -> Result<(Options, Option<ProviderName>, Option<Duration>), Error> {
        let size = args.size.map(|(cols, rows)| (rows, cols));
        let provider = ProviderName::from_flag(args.provider.as_deref())?;
        let options = Options {
            command: args.command,
            label: args.label,
            size,
            settle: Duration::from_millis(args.settle),
            grace: Duration::from_secs(args.grace),
            context_rows: args.context_rows.map(usize::from),
            patterns: args.patterns,
            agent: args.agent,
            on_timeout: args.on_timeout,
            log_file: args.log_file,
            dry_run_rules: args.dry_run_rules,
        };
        Ok((options, provider, args.timeout.map(Duration::from_secs)))
    }
}

/// The screen model and detector on arbitrary bytes (see [`crate::fuzz::screen`]).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn fuzz_screen(data: &[u8]) {
    screen::fuzz::drive(data);
}

/// Run `openfeedback wrap`; the result is the agent's exit code.
pub fn run(args: WrapArgs, source: &Source) -> Result<u8, Error> {
    let (options, provider, timeout) = Options::parse(args)?;
    let settings = crate::config::load(source)?;
    let plan = settings.plan(provider, timeout)?;
    let patterns = crate::patterns::load(&crate::patterns::LoadOptions {
        extra: options.patterns.clone(),
        agent: options.agent.clone(),
        command: options
            .command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        user_dir: crate::patterns::user_dir(),
    })?;
    let detector = detect::Detector::new(patterns);
    open_log(options.log_file.clone())?;
    crate::log::info(&format!(
        "wrap starting: {}",
        options
            .command
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    if options.on_timeout == OnTimeout::Approve {
        let warning = "WARNING: --on-timeout approve: every prompt nobody answers in time will \
                       be APPROVED automatically";
        eprintln!("openfeedback: {warning}");
        crate::log::warn(warning);
    }
    crate::log::info(&format!(
        "patterns: agent {}, {} active",
        detector.set().agent().unwrap_or("generic"),
        detector.set().active().len()
    ));
    let policy = rules(settings.rules)?;
    crate::run::runtime()?.block_on(session(options, plan, Box::new(detector), policy))
}

/// The answer rules for this session. An untrusted project file is shown and asked about
/// when a human is at the terminal; headless, it is ignored with a warning in the log.
fn rules(config: crate::rules::ConfigRules) -> Result<crate::rules::Policy, Error> {
    use std::io::Write as _;
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Os(format!("cannot read the working directory: {e}")))?;
    let interactive = terminal::Tty::probe().interactive;
    let mut ask = |candidate: &crate::rules::project::Candidate<'_>| {
        let path = candidate.path.display();
        let what = if candidate.changed {
            "changed since you trusted it"
        } else {
            "is not trusted yet"
        };
        if !interactive {
            crate::log::warn(&format!(
                "{path} {what}: its rules are ignored (run `openfeedback rules trust` there)"
            ));
            return false;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "openfeedback: {path} {what}. Its rules:\n{}Trust them for this and later sessions? [y/N] ",
            crate::rules::explain::candidate(candidate)
        );
        let _ = stderr.flush();
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let yes = matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes");
        if !yes {
            crate::log::warn(&format!(
                "{path} {what}: its rules are ignored (not trusted)"
            ));
        }
        yes
    };
    let store = crate::rules::TrustStore::default_location();
    let policy = crate::rules::command::policy(config, &cwd, &store, &mut ask)?;
    crate::log::info(&format!(
        "rules: {} in force, {} built-in guards{}, project file: {}",
        policy.rules.len(),
        policy.builtins().count(),
        if policy.disabled.is_empty() {
            String::new()
        } else {
            format!(
                " ({} off: {})",
                policy.disabled.len(),
                policy
                    .disabled
                    .iter()
                    .map(|d| d.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        match &policy.project {
            crate::rules::ProjectStatus::None => "none".to_owned(),
            crate::rules::ProjectStatus::Trusted(p) => format!("{} (trusted)", p.display()),
            crate::rules::ProjectStatus::Untrusted { path, .. } =>
                format!("{} (ignored: not trusted)", path.display()),
        }
    ));
    Ok(policy)
}

fn open_log(path: Option<PathBuf>) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let Some(path) = path.or_else(|| crate::paths::data_dir().map(|d| d.join("wrap.log"))) else {
        return Ok(());
    };
    let open = || {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
    };
    let file = open().map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;
    crate::log::to_file(file);
    Ok(())
}

fn os_error(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Os(format!("{what}: {e}"))
}

/// The agent's name for humans: the program a launcher runs (`npx @x/claude-code` → the
/// package, `python3 -m aider` → aider), else argv[0]'s file name.
fn program_name(command: &[OsString]) -> String {
    let words: Vec<String> = command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    crate::patterns::command_names(&words)
        .pop()
        .unwrap_or_else(|| words.first().cloned().unwrap_or_default())
}

/// The session label: `--label`, else "<program> · <directory name>".
fn label(options: &Options) -> String {
    if let Some(label) = &options.label {
        return label.clone();
    }
    let program = program_name(&options.command);
    let dir = std::env::current_dir()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
    match dir {
        Some(dir) => format!("{program} · {dir}"),
        None => program,
    }
}

async fn session(
    options: Options,
    plan: Plan,
    detector: Box<dyn prompt::Detect>,
    rules: crate::rules::Policy,
) -> Result<u8, Error> {
    let tty = terminal::Tty::probe();
    // The local approval page's URLs: always in the log; on stderr too in headless mode, where
    // stderr is not the agent's screen. In interactive mode the session page's URL is printed
    // once, before the agent takes the screen.
    let headless = !tty.interactive;
    let web = plan.chain.contains(&ProviderName::Web).then(|| {
        Web::with_notices(plan.web.clone(), plan.locale, move |text: &str| {
            for line in text.lines() {
                crate::log::info(line.trim_start_matches("openfeedback: "));
            }
            if headless {
                eprint!("{text}");
            }
        })
    });
    if let Some(web) = web.as_ref().filter(|_| tty.interactive) {
        let url = web.session_page()?;
        eprintln!("openfeedback: approve or reject this session's requests at {url}");
    }
    let size = if tty.interactive {
        terminal::size().or(options.size).unwrap_or(HEADLESS_SIZE)
    } else {
        options
            .size
            .or_else(|| if tty.stdout { terminal::size() } else { None })
            .unwrap_or(HEADLESS_SIZE)
    };
    crate::log::info(&format!(
        "{} mode, {}x{}",
        if tty.interactive {
            "interactive"
        } else {
            "headless"
        },
        size.1,
        size.0
    ));

    // Listen for signals before raw mode is on, so none can leave the terminal raw.
    let stop = crate::signal::stop_signals().map_err(os_error("cannot watch signals"))?;
    let resized = if tty.interactive {
        use tokio::signal::unix::{SignalKind, signal};
        Some(signal(SignalKind::window_change()).map_err(os_error("cannot watch SIGWINCH"))?)
    } else {
        None
    };
    terminal::install_panic_hook();
    let raw = if tty.interactive {
        Some(terminal::RawMode::enable().map_err(os_error("cannot put the terminal in raw mode"))?)
    } else {
        None
    };

    let spawned = pty::spawn(&options.command, size, !tty.interactive)?;
    let pid = spawned.agent.pid;
    terminal::note_agent(pid);
    crate::log::info(&format!("agent started, pid {pid}"));
    let started = start_threads(
        pid,
        spawned.reader,
        spawned.writer,
        tty,
        size,
        options.settle,
    );
    let (output, jobs, screen, mut reader, mut exited, settled_rx) = match started {
        Ok(parts) => parts,
        Err(e) => {
            pty::signal_group(pid, libc::SIGKILL);
            return Err(e);
        }
    };
    // The providers are built once the agent runs: nothing is asked before its first prompt,
    // and the chat providers' HTTP client takes a while to build (root certificates).
    let (heard_tx, heard_rx) = mpsc::unbounded_channel();
    let chain = match crate::providers::build_with(&plan, web.as_ref()) {
        Ok(chain) => ask::observed(chain, &heard_tx),
        Err(e) => {
            pty::signal_group(pid, libc::SIGKILL);
            return Err(e);
        }
    };
    let gate = Arc::new(Gate::new(chain, plan.escalate_after));
    // While the agent starts, not when its first prompt is waiting to be sent.
    redact::prepare();

    let config = bridge::Config {
        shape: ask::Shape {
            origin: Origin::here(Some(label(&options))),
            timeout: plan.timeout,
            reject_feedback_timeout: plan.reject_feedback_timeout,
            context_rows: options.context_rows,
        },
        grace: options.grace,
        on_timeout: options.on_timeout,
        audit_file: plan.audit_file.clone(),
        at_the_terminal: plan.locale.messages().at_the_terminal.to_owned(),
        command: program_name(&options.command),
        title: tty.stdout,
        test_panic: std::env::var(TEST_PANIC_ENV).is_ok_and(|v| v == "after-start"),
        rules: Some(rules),
        dry_run_rules: options.dry_run_rules,
    };
    let agent = spawned.agent;
    let mut bridge = bridge::Bridge::new(
        detector,
        gate,
        config,
        Box::new(move |size| agent.resize(size)),
        screen.clone(),
        jobs,
        output.clone(),
    );
    let end = bridge
        .run(bridge::Inputs {
            settled: settled_rx,
            heard: heard_rx,
            exited: &mut exited,
            stop,
            resized,
        })
        .await;
    // From here on nobody looks at the screen: the model only needs the modes left on.
    screen.skip_rendering();

    let code = match end {
        bridge::End::Exited(code) => {
            crate::log::info(&format!("the agent exited with code {code}"));
            code
        }
        bridge::End::Stopped(signal) => {
            crate::log::info(&format!("stopped by {signal:?}: stopping the agent"));
            let first = if signal == crate::signal::Stop::HangUp {
                libc::SIGHUP
            } else {
                libc::SIGTERM
            };
            pty::signal_group(pid, first);
            if tokio::time::timeout(KILL_GRACE, &mut exited).await.is_err() {
                crate::log::warn("the agent ignored the signal: SIGKILL");
                pty::signal_group(pid, libc::SIGKILL);
                let _ = tokio::time::timeout(Duration::from_secs(1), &mut exited).await;
            }
            signal.exit_code()
        }
    };

    reader.drain().await;

    // Give the terminal back first, then withdraw what is still out (that may take a while
    // when the network is bad; a second Ctrl-C or SIGTERM stops waiting).
    let (tx, rx) = tokio::sync::oneshot::channel();
    let last = match screen.send(screen::Input::Finish(tx)) {
        Ok(()) => tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
        Err(_) => screen::Final::default(),
    };
    modes::take_published();
    let mut trailer = Vec::new();
    if tty.stdout {
        trailer = last.modes.reset_sequence();
        if bridge.title_shown() {
            trailer.extend_from_slice(&title::restore(last.title.as_deref()));
        }
    }
    terminal::note_title_pushed(false);
    output.close(&trailer);
    drop(raw);

    match crate::signal::stop_signals() {
        Ok(stop) => {
            tokio::select! {
                () = bridge.finish() => {}
                _ = stop => crate::log::warn("stopped while withdrawing requests"),
            }
        }
        Err(_) => bridge.finish().await,
    }
    crate::log::info(&format!("wrap done, exit code {code}"));
    Ok(code)
}

type Started = (
    Arc<output::Output>,
    std::sync::mpsc::Sender<writer::Job>,
    screen::Handle,
    reader::Reader,
    tokio::sync::oneshot::Receiver<u8>,
    mpsc::UnboundedReceiver<screen::Settled>,
);

fn start_threads(
    pid: i32,
    pty_reader: Box<dyn std::io::Read + Send>,
    pty_writer: Box<dyn std::io::Write + Send>,
    tty: terminal::Tty,
    size: (u16, u16),
    settle: Duration,
) -> Result<Started, Error> {
    let thread = os_error("cannot start a thread");
    let output = Arc::new(output::Output::stdout().map_err(os_error("cannot use stdout"))?);
    let (jobs_tx, jobs_rx) = std::sync::mpsc::channel();
    writer::spawn(pty_writer, jobs_rx).map_err(&thread)?;
    // Keys from a terminal we own, or bytes from a pipe; never from a terminal that belongs to
    // another job (reading it would stop us with SIGTTIN).
    if tty.interactive || !tty.stdin {
        writer::spawn_keyboard(jobs_tx.clone()).map_err(&thread)?;
    }
    let (screen_tx, screen_rx) = std::sync::mpsc::channel();
    let feed = Arc::new(feed::Feed::new());
    let (settled_tx, settled_rx) = mpsc::unbounded_channel();
    screen::spawn(
        size,
        settle,
        screen_rx,
        feed.clone(),
        screen::Sinks {
            settled: settled_tx,
            replies: (!tty.interactive).then(|| jobs_tx.clone()),
        },
    )
    .map_err(&thread)?;
    let reader = reader::Reader::spawn(pty_reader, output.clone(), screen_tx.clone(), feed.clone())
        .map_err(&thread)?;
    let exited = pty::wait_thread(pid).map_err(&thread)?;
    let screen = screen::Handle::new(screen_tx, feed);
    Ok((output, jobs_tx, screen, reader, exited, settled_rx))
}
