//! Diagnostics for the human running openfeedback: warnings go to stderr by default, or to a
//! log file (in `wrap`, where stderr belongs to the agent's screen). Callers pass text that
//! holds no secrets.

use std::io::Write;
use std::sync::Mutex;

static SINK: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Send diagnostics to `file` from now on.
pub fn to_file(file: std::fs::File) {
    *SINK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(file);
}

pub fn warn(message: &str) {
    write_line("warning", message);
}

pub fn info(message: &str) {
    write_line("info", message);
}

fn write_line(level: &str, message: &str) {
    let mut sink = SINK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let line = format!("openfeedback: {level}: {message}\n");
    match sink.as_mut() {
        Some(file) => {
            let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now());
            let _ = write!(file, "{stamp} {line}");
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}
