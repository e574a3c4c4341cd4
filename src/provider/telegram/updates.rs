//! The parts of Bot API objects that openfeedback reads. Unknown fields are ignored, as the
//! Bot API adds new ones every release.

// Field names follow the Bot API's (`update_id`, `message_id`, `callback_query`).
#![allow(clippy::struct_field_names)]

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    pub message: Option<Message>,
    pub callback_query: Option<CallbackQuery>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    pub username: Option<String>,
}

impl User {
    pub fn display_name(&self) -> String {
        match &self.username {
            Some(u) if !u.is_empty() => format!("@{u}"),
            _ => self.first_name.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    pub id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub message_id: i64,
    pub chat: Chat,
    pub from: Option<User>,
    pub text: Option<String>,
    pub reply_to_message: Option<Box<Message>>,
    /// The inline keyboard (Telegram includes it in `reply_to_message`).
    pub reply_markup: Option<Value>,
}

impl Message {
    /// The request id in this message's buttons, if they are ours.
    pub fn request_id(&self) -> Option<crate::request::RequestId> {
        self.reply_markup
            .as_ref()?
            .get("inline_keyboard")?
            .as_array()?
            .iter()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|button| button.get("callback_data")?.as_str())
            .find_map(|data| parse_callback_data(data).map(|(id, _)| id))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    pub message: Option<Message>,
    pub data: Option<String>,
}

/// Button data: `of1:<request id>:<choice>`.
pub fn callback_data(request: &crate::request::RequestId, choice: &str) -> String {
    format!("of1:{request}:{choice}")
}

/// The request id and choice in button data of ours.
pub fn parse_callback_data(data: &str) -> Option<(crate::request::RequestId, &str)> {
    let rest = data.strip_prefix("of1:")?;
    let (id, choice) = rest.split_once(':')?;
    Some((crate::request::RequestId::parse(id)?, choice))
}
