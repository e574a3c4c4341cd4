//! From parsed arguments to an exit code.

use crate::cli::{Cli, Command};
use crate::config::Source;
use crate::error::Error;

/// Run one command; the result is the process exit code.
pub fn run(cli: Cli) -> Result<u8, Error> {
    let source = Source::resolve(cli.config.as_deref());
    match cli.command {
        Command::Init(args) => {
            let path = crate::init::init(&source, args.force)?;
            eprintln!(
                "openfeedback: wrote {} (mode 0600); edit it, then try `openfeedback send --title test`",
                path.display()
            );
            Ok(crate::error::code::APPROVED)
        }
        Command::Send(args) => runtime()?.block_on(crate::send::send(args, &source)),
        Command::Wrap(args) => crate::wrap::run(args, &source),
        Command::Patterns(args) => crate::patterns::command::run(&args),
        Command::Hook(args) => crate::hook::run(args, &source),
        Command::Rules(args) => crate::rules::command::run(&args, &source),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}
