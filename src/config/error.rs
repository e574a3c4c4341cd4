//! Configuration errors that say where the problem is.

use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration problem: the file, the line, the key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: Option<PathBuf>,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            path: None,
            line: None,
            key: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, line: Option<usize>, key: &str) -> Self {
        self.line = line;
        self.key = Some(key.to_owned());
        self
    }

    pub fn in_file(mut self, path: Option<&Path>) -> Self {
        self.path = path.map(Path::to_owned);
        self
    }

    pub fn unreadable(path: &Path, error: &std::io::Error) -> Self {
        let message = if error.kind() == std::io::ErrorKind::NotFound {
            "config file not found (run `openfeedback init` to create one)".to_owned()
        } else {
            format!("cannot read config file: {error}")
        };
        ConfigError::new(message).in_file(Some(path))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("config error")?;
        match (&self.path, self.line) {
            (Some(path), Some(line)) => write!(f, " in {}:{line}", path.display())?,
            (Some(path), None) => write!(f, " in {}", path.display())?,
            (None, Some(line)) => write!(f, " at line {line}")?,
            (None, None) => {}
        }
        if let Some(key) = &self.key {
            write!(f, ": `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
