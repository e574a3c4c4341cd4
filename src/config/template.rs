//! The commented config template that `openfeedback init` writes.

pub const TEMPLATE: &str = r#"# openfeedback configuration. Keys and sections are documented in README.md.
# Unknown keys are an error, so typos do not pass silently.

# Where requests go first: "telegram", "discord" or "web" (the local approval page).
default_provider = "telegram"
# Seconds to wait for an answer (overridden by `send --timeout`).
default_timeout = 3600
# After a Reject, seconds to wait for a reason (0 = do not ask).
reject_feedback_timeout = 60
# "en", "zh-CN" or "zh-TW".
locale = "en"

# --- Failover (optional) ---
# When the first provider stays silent past escalate_after_secs, or fails (network down, bad
# token), the request moves here. The default escalation point is half of the timeout in force.
# failover_provider = "discord"
# escalate_after_secs = 1800

[telegram]
# From @BotFather. Or leave it out and set OPENFEEDBACK_TELEGRAM_BOT_TOKEN.
bot_token = "YOUR_BOT_TOKEN"
# Your chat with the bot (a positive number), or a group (negative). See README.
chat_id = 0
# User ids allowed to answer. Empty in a private chat = the chat's owner only.
# In a group it must list ids, or set allow_any_member = true.
trusted_user_ids = []
# allow_any_member = false
# api_base = "https://api.telegram.org"   # e.g. a self-hosted Bot API server
# message_thread_id = 42                  # post into this forum topic
# topic_per_session = true                # a forum group: one topic per session label

# [discord]
# bot_token = "YOUR_BOT_TOKEN"            # or OPENFEEDBACK_DISCORD_BOT_TOKEN
# application_id = "123456789012345678"
# channel_id = "123456789012345678"
# trusted_user_ids = ["123456789012345678"]
# reply_feedback = true                   # replies = "approve with a note"; needs the
#                                         # Message Content Intent (Developer Portal → Bot)

# [web]
# listen = "127.0.0.1:0"                  # address of the local approval page
# public_url = "https://example.trycloudflare.com"  # printed instead, e.g. a tunnel

# [hook]
# What `openfeedback hook` answers an agent when nobody answered in time (on_timeout) or no
# provider could be reached (on_error): "ask" (no decision: the agent shows its own dialog) or
# "deny". A timeout never allows.
# on_timeout = "ask"
# on_error = "ask"

[logging]
# audit_file = "~/.local/share/openfeedback/audit.jsonl"   # "" turns the audit log off

# --- Answer rules (optional): routine prompts answered without paging anyone ---
# Reject beats ask beats approve; a command line is approved only if every command in it is.
# Try them with `openfeedback rules test "npm test && git status" --agent aider`.
# [[rule]]
# name = "tests"
# action = "approve"                       # "approve", "reject" (with `message`) or "ask"
# agent = "aider"                          # optional filters: agent, pattern, kind, question
# kind = "shell"
# command = ["npm test", "npm run lint *", "git status"]   # or path = [...], host = [...]
#
# [rules]
# disable_builtin = []                     # built-in guards to turn off, by id (rules list)
"#;
