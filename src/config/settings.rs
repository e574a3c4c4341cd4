//! Validated settings, and the [`Plan`] for one call (with command-line overrides applied).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::{ConfigError, line_of};
use super::file::{RawConfig, RawDiscord, RawSnowflake, RawTelegram};
use super::{DISCORD_TOKEN_ENV, TELEGRAM_TOKEN_ENV};
use crate::i18n::Locale;
use crate::provider::ProviderName;
use crate::secret::Secret;

const DEFAULT_TIMEOUT_SECS: u64 = 3600;
const DEFAULT_REJECT_FEEDBACK_SECS: u64 = 60;
pub const TELEGRAM_API_BASE: &str = "https://api.telegram.org";
pub const DISCORD_API_BASE: &str = "https://discord.com/api/v10";
const PLACEHOLDER_TOKEN: &str = "YOUR_BOT_TOKEN";

/// The configuration, checked. Provider sections are checked when a call uses them
/// ([`Settings::plan`]), as in v0.3: a half-written `[discord]` does not break Telegram.
pub struct Settings {
    pub path: Option<PathBuf>,
    pub default_provider: ProviderName,
    pub failover_provider: Option<ProviderName>,
    pub default_timeout: Duration,
    pub reject_feedback_timeout: Duration,
    pub locale: Locale,
    pub escalate_after: Option<Duration>,
    pub audit_file: Option<PathBuf>,
    pub web: WebSettings,
    pub hook: HookSettings,
    /// `[[rule]]` entries and `[rules]`, validated.
    pub rules: crate::rules::ConfigRules,
    raw: RawConfig,
    text: String,
    telegram_token_env: Option<String>,
    discord_token_env: Option<String>,
}

/// Who may answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedUsers<T> {
    Only(Vec<T>),
    /// Explicitly allowed with `allow_any_member = true`.
    Anyone,
}

impl<T: PartialEq> TrustedUsers<T> {
    pub fn allows(&self, user: &T) -> bool {
        match self {
            TrustedUsers::Only(ids) => ids.contains(user),
            TrustedUsers::Anyone => true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub token: Secret,
    pub chat_id: i64,
    pub trusted: TrustedUsers<i64>,
    /// Without a trailing slash; bot calls go to `{api_base}/bot{token}/{method}`.
    pub api_base: String,
    pub message_thread_id: Option<i64>,
    /// Post each session (by its label) into its own forum topic, created on demand.
    pub topic_per_session: bool,
}

/// A Discord id: 64-bit, kept as its decimal digits so it never loses precision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Snowflake(pub String);

#[derive(Debug, Clone)]
pub struct DiscordSettings {
    pub token: Secret,
    pub application_id: Snowflake,
    pub channel_id: Snowflake,
    pub trusted: TrustedUsers<Snowflake>,
    /// Without a trailing slash, e.g. `https://discord.com/api/v10`.
    pub api_base: String,
    /// Overrides the URL from `GET /gateway/bot`.
    pub gateway_url: Option<String>,
    /// Ask for the Message Content intent so replies can carry a note (default true).
    pub reply_feedback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSettings {
    pub listen: SocketAddr,
    /// When set, printed URLs use this base (a tunnel's address) instead of `listen`.
    pub public_url: Option<String>,
}

/// What `openfeedback hook` answers when the human gave no decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HookFallback {
    /// No decision: the agent shows its own permission dialog (the default).
    #[default]
    Ask,
    /// Deny the tool call, with a message saying why.
    Deny,
}

/// The `[hook]` section. There is deliberately no way to allow on a timeout or an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HookSettings {
    /// When nobody answered before the deadline.
    pub on_timeout: HookFallback,
    /// When no provider could deliver the request (network down, bad token).
    pub on_error: HookFallback,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
        }
    }
}

/// Everything one call needs, validated against the values in force for that call.
#[derive(Debug, Clone)]
pub struct Plan {
    pub chain: Vec<ProviderName>,
    pub timeout: Duration,
    pub escalate_after: Option<Duration>,
    pub reject_feedback_timeout: Duration,
    pub locale: Locale,
    pub telegram: Option<TelegramSettings>,
    pub discord: Option<DiscordSettings>,
    pub web: WebSettings,
    pub audit_file: Option<PathBuf>,
}

impl Settings {
    /// Parse `text` (the contents of `path`). `env` looks up environment variables.
    pub fn parse(
        path: Option<&Path>,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let key = line.and_then(|l| key_on_line(text, l));
            ConfigError {
                path: None,
                line,
                key,
                message: e.message().trim().to_owned(),
            }
            .in_file(path)
        })?;
        let located = |span: std::ops::Range<usize>| Some(line_of(text, span.start));
        let fail = |span: std::ops::Range<usize>, key: &str, message: String| {
            ConfigError::new(message)
                .at(located(span), key)
                .in_file(path)
        };

        let provider = |value: &Spanned<String>, key: &str| {
            ProviderName::parse(value.get_ref().trim()).ok_or_else(|| {
                fail(
                    value.span(),
                    key,
                    format!(
                        "unknown provider {:?} (expected \"telegram\", \"discord\" or \"web\")",
                        value.get_ref()
                    ),
                )
            })
        };
        // No file at all: the built-in local approval page needs no account.
        let default_provider = match &raw.default_provider {
            Some(v) => provider(v, "default_provider")?,
            None if path.is_none() => ProviderName::Web,
            None => ProviderName::Telegram,
        };
        let failover_provider = raw
            .failover_provider
            .as_ref()
            .map(|v| provider(v, "failover_provider"))
            .transpose()?;
        if let (Some(failover), Some(span)) = (failover_provider, &raw.failover_provider)
            && failover == default_provider
        {
            return Err(fail(
                span.span(),
                "failover_provider",
                format!("must differ from default_provider (both are {failover})"),
            ));
        }

        let default_timeout = match &raw.default_timeout {
            Some(v) if *v.get_ref() == 0 => {
                return Err(fail(
                    v.span(),
                    "default_timeout",
                    "must be at least 1 second".into(),
                ));
            }
            Some(v) => Duration::from_secs(*v.get_ref()),
            None => Duration::from_secs(DEFAULT_TIMEOUT_SECS),
        };
        let reject_feedback_timeout = Duration::from_secs(
            raw.reject_feedback_timeout
                .as_ref()
                .map_or(DEFAULT_REJECT_FEEDBACK_SECS, |v| *v.get_ref()),
        );
        let locale = match &raw.locale {
            Some(v) => Locale::parse(v.get_ref()).ok_or_else(|| {
                fail(
                    v.span(),
                    "locale",
                    format!(
                        "unknown locale {:?} (expected \"en\", \"zh-CN\" or \"zh-TW\")",
                        v.get_ref()
                    ),
                )
            })?,
            None => Locale::En,
        };
        let escalate_after = match &raw.escalate_after_secs {
            Some(v) if *v.get_ref() == 0 => {
                return Err(fail(
                    v.span(),
                    "escalate_after_secs",
                    "must be at least 1 second".into(),
                ));
            }
            Some(v) => Some(Duration::from_secs(*v.get_ref())),
            None => None,
        };

        let audit_file = match raw.logging.as_ref().and_then(|l| l.audit_file.as_deref()) {
            Some("") => None,
            Some(p) => Some(crate::paths::expand_tilde(p)),
            None => crate::paths::data_dir().map(|d| d.join("audit.jsonl")),
        };

        let mut web = WebSettings::default();
        if let Some(raw_web) = &raw.web {
            if let Some(listen) = &raw_web.listen {
                web.listen = listen.get_ref().trim().parse().map_err(|_| {
                    fail(
                        listen.span(),
                        "web.listen",
                        format!(
                            "{:?} is not an address such as \"127.0.0.1:8080\"",
                            listen.get_ref()
                        ),
                    )
                })?;
            }
            if let Some(url) = &raw_web.public_url {
                web.public_url = Some(http_base(url, "web.public_url", &fail)?);
            }
        }

        let fallback = |value: &Option<Spanned<String>>, key: &str| match value {
            None => Ok(HookFallback::Ask),
            Some(v) => match v.get_ref().trim() {
                "ask" => Ok(HookFallback::Ask),
                "deny" => Ok(HookFallback::Deny),
                "allow" | "approve" => Err(fail(
                    v.span(),
                    key,
                    "cannot be \"allow\": openfeedback never allows a tool call nobody approved \
                     (use \"ask\" to fall back to the agent's own dialog, or \"deny\")"
                        .into(),
                )),
                other => Err(fail(
                    v.span(),
                    key,
                    format!("unknown value {other:?} (expected \"ask\" or \"deny\")"),
                )),
            },
        };
        let hook = match &raw.hook {
            Some(section) => HookSettings {
                on_timeout: fallback(&section.on_timeout, "hook.on_timeout")?,
                on_error: fallback(&section.on_error, "hook.on_error")?,
            },
            None => HookSettings::default(),
        };
        let rules = crate::rules::compile_config_rules(&raw.rule, raw.rules.as_ref(), text, path)?;

        Ok(Settings {
            path: path.map(Path::to_owned),
            default_provider,
            failover_provider,
            default_timeout,
            reject_feedback_timeout,
            locale,
            escalate_after,
            audit_file,
            web,
            hook,
            rules,
            text: text.to_owned(),
            raw,
            telegram_token_env: env(TELEGRAM_TOKEN_ENV),
            discord_token_env: env(DISCORD_TOKEN_ENV),
        })
    }

    /// The plan for one call. `provider` (`--provider`) means that provider alone, no failover;
    /// `timeout` (`--timeout`) replaces `default_timeout`, and the escalation point is checked
    /// against it.
    pub fn plan(
        &self,
        provider: Option<ProviderName>,
        timeout: Option<Duration>,
    ) -> Result<Plan, ConfigError> {
        let timeout = timeout.unwrap_or(self.default_timeout);
        let chain = match provider {
            Some(p) => vec![p],
            None => std::iter::once(self.default_provider)
                .chain(self.failover_provider)
                .collect(),
        };
        let escalate_after = if chain.len() > 1 {
            if let (Some(after), Some(raw)) = (self.escalate_after, &self.raw.escalate_after_secs)
                && after >= timeout
            {
                return Err(self.fail(
                    raw.span(),
                    "escalate_after_secs",
                    format!(
                        "{}s leaves the failover provider no time: the timeout in force for \
                         this call is {}s (lower escalate_after_secs or raise the timeout)",
                        after.as_secs(),
                        timeout.as_secs()
                    ),
                ));
            }
            self.escalate_after
        } else {
            None
        };
        let telegram = chain
            .contains(&ProviderName::Telegram)
            .then(|| self.telegram())
            .transpose()?;
        let discord = chain
            .contains(&ProviderName::Discord)
            .then(|| self.discord())
            .transpose()?;
        Ok(Plan {
            chain,
            timeout,
            escalate_after,
            reject_feedback_timeout: self.reject_feedback_timeout,
            locale: self.locale,
            telegram,
            discord,
            web: self.web.clone(),
            audit_file: self.audit_file.clone(),
        })
    }

    fn fail(&self, span: std::ops::Range<usize>, key: &str, message: String) -> ConfigError {
        ConfigError::new(message)
            .at(Some(line_of(&self.text, span.start)), key)
            .in_file(self.path.as_deref())
    }

    fn missing_section(&self, section: &str) -> ConfigError {
        let line = self
            .raw
            .default_provider
            .as_ref()
            .map(|v| line_of(&self.text, v.span().start));
        let message = match &self.path {
            Some(_) => {
                format!("the {section} provider is used but the [{section}] section is missing")
            }
            None => format!(
                "the {section} provider needs a config file with a [{section}] section \
                 (run `openfeedback init`, or pass --config)"
            ),
        };
        ConfigError::new(message)
            .at(line, section)
            .in_file(self.path.as_deref())
    }

    fn telegram(&self) -> Result<TelegramSettings, ConfigError> {
        let Some(section) = &self.raw.telegram else {
            return Err(self.missing_section("telegram"));
        };
        let RawTelegram {
            bot_token,
            chat_id,
            trusted_user_ids,
            allow_any_member,
            api_base,
            message_thread_id,
            topic_per_session,
        } = section.get_ref();
        let token = self.token(
            self.telegram_token_env.as_deref(),
            bot_token.as_ref(),
            section.span(),
            "telegram.bot_token",
            TELEGRAM_TOKEN_ENV,
        )?;
        if token.expose().contains('/') || token.expose().chars().any(char::is_whitespace) {
            let span = bot_token.as_ref().map_or(section.span(), Spanned::span);
            return Err(self.fail(
                span,
                "telegram.bot_token",
                "is not a bot token (it contains '/' or spaces)".into(),
            ));
        }
        let chat_id = match chat_id {
            Some(v) if *v.get_ref() != 0 => *v.get_ref(),
            Some(v) => {
                return Err(self.fail(
                    v.span(),
                    "telegram.chat_id",
                    "must be set to your chat's id, not 0 (see README: finding the chat id)".into(),
                ));
            }
            None => return Err(self.fail(section.span(), "telegram.chat_id", "is missing".into())),
        };
        let listed = trusted_user_ids
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_default();
        let trusted = if allow_any_member == &Some(true) {
            TrustedUsers::Anyone
        } else if !listed.is_empty() {
            TrustedUsers::Only(listed)
        } else if chat_id > 0 {
            // A private chat with the bot: its only human is the user whose id is the chat id.
            TrustedUsers::Only(vec![chat_id])
        } else {
            let span = trusted_user_ids
                .as_ref()
                .map_or(section.span(), Spanned::span);
            return Err(self.fail(
                span,
                "telegram.trusted_user_ids",
                "is empty, and chat_id is a group: any member could approve. List the user ids \
                 allowed to answer, or set `allow_any_member = true` to allow everyone in the group"
                    .into(),
            ));
        };
        let api_base = match api_base {
            Some(v) => http_base(v, "telegram.api_base", &|s, k, m| self.fail(s, k, m))?,
            None => TELEGRAM_API_BASE.to_owned(),
        };
        Ok(TelegramSettings {
            token,
            chat_id,
            trusted,
            api_base,
            message_thread_id: *message_thread_id,
            topic_per_session: topic_per_session.unwrap_or(false),
        })
    }

    fn discord(&self) -> Result<DiscordSettings, ConfigError> {
        let Some(section) = &self.raw.discord else {
            return Err(self.missing_section("discord"));
        };
        let RawDiscord {
            bot_token,
            application_id,
            channel_id,
            trusted_user_ids,
            allow_any_member,
            api_base,
            gateway_url,
            reply_feedback,
        } = section.get_ref();
        let token = self.token(
            self.discord_token_env.as_deref(),
            bot_token.as_ref(),
            section.span(),
            "discord.bot_token",
            DISCORD_TOKEN_ENV,
        )?;
        let snowflake = |value: &Option<Spanned<RawSnowflake>>, key: &str| match value {
            Some(v) => self.snowflake(v.get_ref(), v.span(), key),
            None => Err(self.fail(section.span(), key, "is missing".into())),
        };
        let application_id = snowflake(application_id, "discord.application_id")?;
        let channel_id = snowflake(channel_id, "discord.channel_id")?;
        let listed = match trusted_user_ids {
            Some(v) => v
                .get_ref()
                .iter()
                .map(|s| self.snowflake(s, v.span(), "discord.trusted_user_ids"))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let trusted = if allow_any_member == &Some(true) {
            TrustedUsers::Anyone
        } else if !listed.is_empty() {
            TrustedUsers::Only(listed)
        } else {
            let span = trusted_user_ids
                .as_ref()
                .map_or(section.span(), Spanned::span);
            return Err(self.fail(
                span,
                "discord.trusted_user_ids",
                "is empty: anyone who can see the channel could approve. List the user ids \
                 allowed to answer, or set `allow_any_member = true`"
                    .into(),
            ));
        };
        let api_base = match api_base {
            Some(v) => http_base(v, "discord.api_base", &|s, k, m| self.fail(s, k, m))?,
            None => DISCORD_API_BASE.to_owned(),
        };
        let gateway_url = match gateway_url {
            Some(v) if v.get_ref().starts_with("ws://") || v.get_ref().starts_with("wss://") => {
                Some(v.get_ref().trim_end_matches('/').to_owned())
            }
            Some(v) => {
                return Err(self.fail(
                    v.span(),
                    "discord.gateway_url",
                    "must start with ws:// or wss://".into(),
                ));
            }
            None => None,
        };
        Ok(DiscordSettings {
            token,
            application_id,
            channel_id,
            trusted,
            api_base,
            gateway_url,
            reply_feedback: reply_feedback.unwrap_or(true),
        })
    }

    fn token(
        &self,
        from_env: Option<&str>,
        from_file: Option<&Spanned<String>>,
        section: std::ops::Range<usize>,
        key: &str,
        env_name: &str,
    ) -> Result<Secret, ConfigError> {
        if let Some(token) = from_env {
            return Ok(Secret::new(token.trim()));
        }
        match from_file {
            Some(v) if v.get_ref().trim() == PLACEHOLDER_TOKEN => Err(self.fail(
                v.span(),
                key,
                format!(
                    "is still the template placeholder: put your bot token here or in {env_name}"
                ),
            )),
            Some(v) if !v.get_ref().trim().is_empty() => Ok(Secret::new(v.get_ref().trim())),
            Some(v) => Err(self.fail(
                v.span(),
                key,
                format!("is empty: set it, or set {env_name}"),
            )),
            None => Err(self.fail(
                section,
                key,
                format!("is missing: set it, or set {env_name}"),
            )),
        }
    }

    fn snowflake(
        &self,
        raw: &RawSnowflake,
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Result<Snowflake, ConfigError> {
        let digits = raw.digits();
        if digits.is_empty()
            || digits == "0"
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.parse::<u64>().is_err()
        {
            return Err(self.fail(span, key, format!("{digits:?} is not a Discord id (a number in quotes, e.g. \"1234567890123456789\")")));
        }
        Ok(Snowflake(digits))
    }
}

/// The dotted key assigned on `line` (1-based), if the line is a `key = value` line.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let (key, _) = lines.get(line - 1)?.split_once('=')?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return None;
    }
    let table = lines[..line - 1]
        .iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']')))
        .map(|t| t.trim_matches(['[', ']']).trim().to_owned());
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_owned(),
    })
}

fn http_base(
    value: &Spanned<String>,
    key: &str,
    fail: &dyn Fn(std::ops::Range<usize>, &str, String) -> ConfigError,
) -> Result<String, ConfigError> {
    let v = value.get_ref().trim();
    if !(v.starts_with("http://") || v.starts_with("https://")) {
        return Err(fail(
            value.span(),
            key,
            format!("{v:?} must start with http:// or https://"),
        ));
    }
    Ok(v.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests;
