//! Configuration: where it is, how it is read, and the validated [`Settings`].
//!
//! The file is TOML (openfeedback v0.3's keys plus new ones). It is parsed into the raw
//! structs of [`file`], then validated into [`Settings`], whose values are typed (durations,
//! provider names, secrets). Every problem is a [`ConfigError`] that names the file, the line
//! and the key. Secrets may come from the environment instead of the file.

mod error;
mod file;
mod settings;
pub mod template;

pub use error::ConfigError;
pub use settings::{
    DiscordSettings, HookFallback, HookSettings, Plan, Settings, Snowflake, TelegramSettings,
    TrustedUsers, WebSettings,
};

use std::path::{Path, PathBuf};

/// Environment variable that points at a config file (like `--config`).
pub const CONFIG_ENV: &str = "OPENFEEDBACK_CONFIG";
/// Environment variable for the Telegram bot token (wins over the file).
pub const TELEGRAM_TOKEN_ENV: &str = "OPENFEEDBACK_TELEGRAM_BOT_TOKEN";
/// Environment variable for the Discord bot token (wins over the file).
pub const DISCORD_TOKEN_ENV: &str = "OPENFEEDBACK_DISCORD_BOT_TOKEN";

/// The platform config path: `$XDG_CONFIG_HOME/openfeedback/config.toml` on Linux,
/// `~/Library/Application Support/openfeedback/config.toml` on macOS (as in v0.3).
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("openfeedback").join("config.toml"))
}

/// Where the config comes from: `--config`, else `OPENFEEDBACK_CONFIG`, else the platform path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Named explicitly: it must exist.
    Explicit(PathBuf),
    /// The platform default: it may be absent.
    Default(Option<PathBuf>),
}

impl Source {
    pub fn resolve(flag: Option<&Path>) -> Source {
        if let Some(path) = flag {
            return Source::Explicit(path.to_owned());
        }
        match std::env::var_os(CONFIG_ENV) {
            Some(v) if !v.is_empty() => Source::Explicit(PathBuf::from(v)),
            _ => Source::Default(default_path()),
        }
    }
}

/// Load and validate the configuration. A missing default file yields the built-in defaults.
pub fn load(source: &Source) -> Result<Settings, ConfigError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (path, text) = match source {
        Source::Explicit(path) => match std::fs::read_to_string(path) {
            Ok(text) => (Some(path.clone()), text),
            Err(e) => return Err(ConfigError::unreadable(path, &e)),
        },
        Source::Default(Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => (Some(path.clone()), text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, String::new()),
            Err(e) => return Err(ConfigError::unreadable(path, &e)),
        },
        Source::Default(None) => (None, String::new()),
    };
    Settings::parse(path.as_deref(), &text, &env)
}
