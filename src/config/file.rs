//! The config file as written: raw TOML structs. Unknown keys are errors.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub default_provider: Option<Spanned<String>>,
    pub default_timeout: Option<Spanned<u64>>,
    pub reject_feedback_timeout: Option<Spanned<u64>>,
    pub locale: Option<Spanned<String>>,
    pub failover_provider: Option<Spanned<String>>,
    pub escalate_after_secs: Option<Spanned<u64>>,
    pub telegram: Option<Spanned<RawTelegram>>,
    pub discord: Option<Spanned<RawDiscord>>,
    pub web: Option<RawWeb>,
    pub logging: Option<RawLogging>,
    pub hook: Option<RawHook>,
    /// Answer rules (`[[rule]]`), see `crate::rules`.
    #[serde(default)]
    pub rule: Vec<Spanned<crate::rules::RawRule>>,
    /// `[rules] disable_builtin = [...]`.
    pub rules: Option<Spanned<crate::rules::RawRulesSection>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelegram {
    pub bot_token: Option<Spanned<String>>,
    pub chat_id: Option<Spanned<i64>>,
    #[serde(default)]
    pub trusted_user_ids: Option<Spanned<Vec<i64>>>,
    /// Explicit opt-in: any member of a group chat may answer.
    pub allow_any_member: Option<bool>,
    pub api_base: Option<Spanned<String>>,
    /// Post into this forum topic.
    pub message_thread_id: Option<i64>,
    /// One forum topic per session label, created on demand.
    pub topic_per_session: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDiscord {
    pub bot_token: Option<Spanned<String>>,
    pub application_id: Option<Spanned<RawSnowflake>>,
    pub channel_id: Option<Spanned<RawSnowflake>>,
    #[serde(default)]
    pub trusted_user_ids: Option<Spanned<Vec<RawSnowflake>>>,
    pub allow_any_member: Option<bool>,
    pub api_base: Option<Spanned<String>>,
    pub gateway_url: Option<Spanned<String>>,
    /// Read replies to the request as "approved, with this note" (needs the privileged
    /// Message Content intent). Default true.
    pub reply_feedback: Option<bool>,
}

/// Discord ids: strings in new configs; integers are accepted for old ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawSnowflake {
    Text(String),
    Number(u64),
}

impl RawSnowflake {
    pub fn digits(&self) -> String {
        match self {
            RawSnowflake::Text(s) => s.trim().to_owned(),
            RawSnowflake::Number(n) => n.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    pub listen: Option<Spanned<String>>,
    pub public_url: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    pub audit_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHook {
    pub on_timeout: Option<Spanned<String>>,
    pub on_error: Option<Spanned<String>>,
}
