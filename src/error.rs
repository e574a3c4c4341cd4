//! Errors that end a run, and the one place where they become exit codes.
//!
//! Exit codes 0, 1 and 2 belong to the human's decision (approved, rejected, timeout). No error
//! may ever use them: an agent must not read an outage as a "no". Errors use sysexits(3) codes.

use std::path::PathBuf;

/// sysexits(3) codes used by openfeedback, plus the decision codes.
pub mod code {
    pub const APPROVED: u8 = 0;
    /// Success of a command that is not a decision: `init`, `hook install`, and every answer
    /// `hook <agent>` gives once it understood the event (see `hook`'s module comment).
    pub const SUCCESS: u8 = 0;
    pub const REJECTED: u8 = 1;
    pub const TIMEOUT: u8 = 2;
    /// Command line usage error (clap's own errors are remapped here).
    pub const USAGE: u8 = 64;
    /// Bad input data: a body file or hook payload that cannot be used.
    pub const DATA: u8 = 65;
    /// A provider could not be reached or refused us (network, auth, API errors); `wrap`:
    /// the agent program could not be started (sysexits: "a support program does not exist").
    pub const UNAVAILABLE: u8 = 69;
    /// A bug in openfeedback.
    pub const INTERNAL: u8 = 70;
    /// The operating system refused something (`wrap`: no pseudo-terminal, no thread).
    pub const OS_ERROR: u8 = 71;
    /// Writing a file failed (config template, audit log).
    pub const CANT_CREATE: u8 = 73;
    /// The configuration is missing or invalid.
    pub const CONFIG: u8 = 78;
    /// The wait was cancelled by SIGINT (128 + 2).
    pub const SIGINT: u8 = 130;
    /// The wait was cancelled by SIGTERM (128 + 15).
    pub const SIGTERM: u8 = 143;
    /// The wait was cancelled by SIGHUP (128 + 1).
    pub const SIGHUP: u8 = 129;
}

/// Everything that can end a run without a decision.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Patterns(#[from] crate::patterns::PatternError),
    #[error("cannot read body file {path}: {source}")]
    BodyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bad input: {0}")]
    Data(String),
    #[error(transparent)]
    Provider(#[from] crate::provider::ProviderError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Exists(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// `wrap` could not start the agent (not found, not executable).
    #[error("{0}")]
    Agent(String),
    /// `wrap` could not set up the terminal (pseudo-terminal, threads, signals).
    #[error("{0}")]
    Os(String),
}

impl Error {
    /// The process exit code for this error. Never 0, 1 or 2.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Patterns(e) if e.is_usage() => code::USAGE,
            Error::Usage(_) => code::USAGE,
            Error::Config(_) | Error::Patterns(_) => code::CONFIG,
            Error::BodyFile { .. } | Error::Data(_) => code::DATA,
            Error::Provider(_) | Error::Agent(_) => code::UNAVAILABLE,
            Error::Write { .. } | Error::Exists(_) => code::CANT_CREATE,
            Error::Internal(_) => code::INTERNAL,
            Error::Os(_) => code::OS_ERROR,
        }
    }
}
