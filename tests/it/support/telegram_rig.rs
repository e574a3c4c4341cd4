//! The rig of the tests that answer the real binary through the fake Telegram: the fake, Ann
//! in her private chat with the bot, and a sandbox whose config points at the fake.
//!
//! The tests that wrap a scripted agent also find here its log, and wrap's audit records.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Sandbox;
use super::fake_telegram::{FakeTelegram, Message, TOKEN, User};

/// How long the rig waits for a message, a line of the agent or an audit record.
pub const WAIT: Duration = Duration::from_secs(20);

/// The config a rig writes: `default_provider = "telegram"` and `reject_feedback_timeout`,
/// then `before_telegram`, the `[telegram]` table for the fake, then `after_telegram`.
pub struct Config<'a> {
    reject_feedback_timeout: u32,
    before_telegram: &'a str,
    after_telegram: &'a str,
}

impl<'a> Config<'a> {
    /// `reject_feedback_timeout` (seconds) and nothing else.
    pub fn reject_feedback_timeout(seconds: u32) -> Config<'a> {
        Config {
            reject_feedback_timeout: seconds,
            before_telegram: "",
            after_telegram: "",
        }
    }

    /// More top-level keys, or a table that must come before `[telegram]` (such as `[hook]`).
    pub fn before_telegram(self, text: &'a str) -> Config<'a> {
        Config {
            before_telegram: text,
            ..self
        }
    }

    /// What follows `[telegram]`, on lines of its own (`[[rule]]`s, whose line numbers the
    /// tests check).
    pub fn after_telegram(self, text: &'a str) -> Config<'a> {
        Config {
            after_telegram: text,
            ..self
        }
    }
}

pub struct Rig {
    pub fake: FakeTelegram,
    pub sb: Sandbox,
    pub ann: User,
    pub chat: i64,
    pub config: PathBuf,
}

impl Rig {
    pub async fn new(config: Config<'_>) -> Rig {
        let fake = FakeTelegram::start().await;
        let ann = User::new(111, "Ann", Some("ann"));
        let chat = fake.add_private_chat(&ann);
        let sb = Sandbox::new();
        let config = sb.write_config(&format!(
            "default_provider = \"telegram\"\nreject_feedback_timeout = {}\n{}\n\
             [telegram]\nbot_token = \"{TOKEN}\"\nchat_id = {chat}\napi_base = \"{}\"\n{}",
            config.reject_feedback_timeout,
            config.before_telegram,
            fake.base_url(),
            config.after_telegram
        ));
        Rig {
            fake,
            sb,
            ann,
            chat,
            config,
        }
    }

    /// The request message, once it is posted with its keyboard.
    pub async fn request(&self) -> Message {
        self.request_containing("").await
    }

    /// The next request message (with its keyboard) whose text holds `needle`.
    pub async fn request_containing(&self, needle: &str) -> Message {
        self.fake
            .wait_message(
                |m| {
                    m.chat_id == self.chat
                        && m.has_keyboard()
                        && m.reply_to.is_none()
                        && m.text.contains(needle)
                },
                WAIT,
            )
            .await
    }

    /// Ann clicks the button whose label contains `label_part`; returns the callback query id.
    pub fn click(&self, message: &Message, label_part: &str) -> String {
        self.fake.click(
            self.chat,
            message.message_id,
            &message.callback_data(label_part),
            &self.ann,
        )
    }

    /// Ann clicks `button` (a reject), then answers the prompt for a reason with `reason`;
    /// returns that prompt.
    pub async fn reject_with(&self, message: &Message, button: &str, reason: &str) -> Message {
        self.click(message, button);
        let prompt = self
            .fake
            .wait_message(|m| m.reply_to == Some(message.message_id), WAIT)
            .await;
        self.fake
            .reply(self.chat, prompt.message_id, reason, &self.ann);
        prompt
    }

    /// The scripted agent's log, or nothing.
    pub fn read_agent_log(&self) -> String {
        std::fs::read_to_string(self.sb.agent_log()).unwrap_or_default()
    }

    /// Wait until the agent's log has a line equal to `line`.
    pub async fn wait_agent(&self, line: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.read_agent_log();
            if log.lines().any(|l| l == line) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the agent never logged {line:?}; its log:\n{log}\nwrap log:\n{}",
                self.sb.wrap_log()
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Wait for `n` wrap records in the audit log.
    pub async fn wait_audit(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let records: Vec<Value> = self
                .sb
                .audit()
                .into_iter()
                .filter(|r| r["kind"] == "wrap")
                .collect();
            if records.len() >= n {
                return records;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} audit records, have {records:#?}\nwrap log:\n{}",
                self.sb.wrap_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
