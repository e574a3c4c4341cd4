use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match openfeedback::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap exits 2 on usage errors, which would read as "timeout": remap to 64.
            return ExitCode::from(if e.use_stderr() {
                openfeedback::error::code::USAGE
            } else {
                0
            });
        }
    };
    match openfeedback::run::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let mut message = format!("openfeedback: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let _ = write!(message, ": {cause}");
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::from(error.exit_code())
        }
    }
}
