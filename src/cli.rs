//! Command-line arguments, as parsed by clap. Validation into typed values happens in the
//! commands.

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
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace an existing config file.
    #[arg(long)]
    pub force: bool,
}
