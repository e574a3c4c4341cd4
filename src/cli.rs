//! Command-line arguments, as parsed by clap. Validation into typed values happens in the
//! commands.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "openfeedback",
    version,
    about = "Put a human in the loop of AI coding agents."
)]
pub struct Cli {
    /// Config file (default: the platform config path; also OPENFEEDBACK_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask a human to approve something; print the answer as JSON; exit 0 approved,
    /// 1 rejected, 2 timeout.
    Send(SendArgs),
    /// Write a commented config template (mode 0600).
    Init(InitArgs),
    /// Run an agent under a pseudo-terminal and answer its approval prompts remotely;
    /// exit with the agent's exit code.
    Wrap(WrapArgs),
    /// List, show and test the prompt patterns `wrap` recognises.
    Patterns(PatternsArgs),
    /// Answer an agent's own permission hook (Claude Code, Codex, Gemini CLI) from your phone;
    /// install or remove that hook.
    Hook(HookArgs),
    /// Answer rules: test which rule decides a command, list them, trust a project's file.
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// What is being asked.
    #[arg(short, long)]
    pub title: String,
    /// Details (Markdown or plain text).
    #[arg(short, long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the details from a file (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Seconds to wait for an answer (default: `default_timeout` from the config).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
    /// Use this provider alone, with no failover: telegram, discord or web.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// Name the session in the message (default: none).
    #[arg(long)]
    pub label: Option<String>,
    /// Address of the local approval page (default: `[web] listen`, else 127.0.0.1 with a
    /// random port). A non-loopback address lets other machines reach it.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace an existing config file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct WrapArgs {
    /// Name the session in messages (default: the agent's name and the directory).
    #[arg(long)]
    pub label: Option<String>,
    /// Seconds each prompt may wait for a remote answer (default: `default_timeout`).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
    /// Use this provider alone, with no failover: telegram, discord or web.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// What a remote timeout does: `keep` leaves the prompt for the keyboard, `reject` types
    /// the reject answer, `approve` types the approve answer (dangerous).
    #[arg(long, value_name = "WHAT", default_value = "keep")]
    pub on_timeout: OnTimeout,
    /// Wait this long before paging anyone; a prompt answered at the keyboard within it is
    /// never sent.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub grace: u64,
    /// How long the output must stay quiet before the screen is checked for a prompt.
    #[arg(long, value_name = "MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(20..=5000))]
    pub settle: u64,
    /// Rows of screen above the prompt's question sent along as context [default: the
    /// pattern's `context_rows`].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=500))]
    pub context_rows: Option<u16>,
    /// Also load this pattern file or directory (repeatable; later files replace patterns
    /// with the same id).
    #[arg(long = "patterns", value_name = "PATH")]
    pub patterns: Vec<PathBuf>,
    /// Use this agent's patterns (default: picked from the command).
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Terminal size for the agent in headless mode (stdin not a terminal), e.g. 160x50
    /// [default: the size of stdout's terminal, else 120x40].
    #[arg(long, value_name = "COLSxROWS", value_parser = parse_size)]
    pub size: Option<(u16, u16)>,
    /// Write diagnostics here (default: `wrap.log` in the data directory).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Page the human for every prompt, even those the answer rules would answer, and say
    /// in the message what the rules would have done.
    #[arg(long)]
    pub dry_run_rules: bool,
    /// The agent command and its arguments (after `--`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

/// What happens when nobody answers a prompt remotely in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnTimeout {
    /// Leave the prompt on screen for the keyboard.
    Keep,
    /// Type the prompt's reject answer.
    Reject,
    /// Type the prompt's approve answer (dangerous: a silent phone approves).
    Approve,
}

#[derive(Debug, Args)]
pub struct PatternsArgs {
    /// Also load this pattern file or directory (repeatable; later files replace patterns
    /// with the same id).
    #[arg(long = "patterns", value_name = "PATH", global = true)]
    pub patterns: Vec<PathBuf>,

    #[command(subcommand)]
    pub command: PatternsCommand,
}

#[derive(Debug, Subcommand)]
pub enum PatternsCommand {
    /// List every loaded pattern: id, agent, file and description.
    List,
    /// Print a pattern as written and what it compiles to (NAME: `agent/id`, an id, or an
    /// agent).
    Show {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Say which pattern fires on a raw PTY recording or a plain-text screen dump, and why
    /// the others do not. Exits 0 when a pattern fired, 1 when none did.
    Test {
        /// A raw recording (bytes the agent wrote) or a screen dump (`*.txt`).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Try only this agent's patterns (and the generic ones).
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
        /// The `script -T` timing log of a recording (default: `<FILE stem>.timing` next to
        /// it, if present): screens are then taken where the output paused.
        #[arg(long, value_name = "FILE")]
        timing: Option<PathBuf>,
        /// Terminal size for replaying a recording, COLSxROWS (default: the timing log's,
        /// else 120x40).
        #[arg(long, value_name = "COLSxROWS", value_parser = parse_size)]
        size: Option<(u16, u16)>,
    },
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Say which rule decides a command line (or a file path, a URL) and why: the commands it
    /// runs, each one's verdict, the decision. Exits 0 approve, 1 reject, 2 ask.
    Test {
        /// The command line (kind shell), the path (kind edit) or the URL/host (kind network).
        #[arg(value_name = "SUBJECT")]
        subject: String,
        /// The agent asking (default: the pattern's, else `generic`).
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
        /// The prompt kind: shell, edit, network, ... (default: the pattern's, else shell).
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// Judge it as this pattern's prompt (`aider/shell`): its agent, kind and answers.
        #[arg(long, value_name = "ID")]
        pattern: Option<String>,
        /// The prompt's question line, for rules with `question`.
        #[arg(long, value_name = "TEXT")]
        question: Option<String>,
    },
    /// List the rules in force in this directory, in order, and the built-in guards.
    List,
    /// Trust a project's rules file, as it is now (default: the one that applies here).
    Trust {
        /// The `.openfeedback.toml`, or its directory.
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
    },
    /// Stop trusting a project's rules file.
    Untrust {
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
    },
}

/// `120x40` → (columns, rows).
fn parse_size(text: &str) -> Result<(u16, u16), String> {
    let (cols, rows) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{text:?} is not COLSxROWS, e.g. 120x40"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|n| (2..=1000).contains(n))
            .ok_or_else(|| format!("{s:?} is not a size between 2 and 1000"))
    };
    Ok((number(cols)?, number(rows)?))
}

#[derive(Debug, Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub command: HookCommand,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Answer a Claude Code hook: a PermissionRequest, PreToolUse or Notification event as
    /// JSON on stdin, the decision as JSON on stdout.
    ClaudeCode(HookRunArgs),
    /// Answer a Codex CLI PermissionRequest hook (JSON on stdin and stdout).
    Codex(HookRunArgs),
    /// Answer a Gemini CLI BeforeTool (or Notification) hook (JSON on stdin and stdout).
    Gemini(HookRunArgs),
    /// Add openfeedback's hook to an agent's settings file: merged into what is there, with a
    /// backup of the old file.
    Install(HookInstallArgs),
    /// Remove openfeedback's hook from an agent's settings file (only openfeedback's).
    Uninstall(HookInstallArgs),
}

#[derive(Debug, Args)]
pub struct HookRunArgs {
    /// Seconds to wait for an answer (default: `default_timeout` from the config). Keep it
    /// below the agent's own hook timeout.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
    /// Use this provider alone, with no failover: telegram, discord or web.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("scope").args(["user", "project", "local", "file"])))]
pub struct HookInstallArgs {
    /// The agent: claude-code, codex or gemini.
    #[arg(value_enum)]
    pub agent: crate::hook::Agent,
    /// Your own settings, for every project (the default): ~/.claude/settings.json,
    /// $CODEX_HOME/hooks.json (~/.codex/hooks.json), ~/.gemini/settings.json.
    #[arg(long)]
    pub user: bool,
    /// This project's shared settings: .claude/settings.json, .codex/hooks.json,
    /// .gemini/settings.json in the current directory.
    #[arg(long)]
    pub project: bool,
    /// This project's settings that stay out of git (Claude Code's
    /// .claude/settings.local.json).
    #[arg(long)]
    pub local: bool,
    /// This settings file (e.g. one passed to `claude --settings`).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}
