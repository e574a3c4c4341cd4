//! The parts of Discord objects that openfeedback reads, and the ids it puts in components.
//!
//! Unknown fields are ignored: Discord adds fields all the time. Ids are snowflake strings and
//! stay strings, so no digit is ever lost.

use serde::Deserialize;
use serde_json::Value;

use crate::request::RequestId;

/// Interaction types (the `type` field of an interaction).
pub const MESSAGE_COMPONENT: u8 = 3;
pub const MODAL_SUBMIT: u8 = 5;

/// The `choice` part of the custom id of the "add a reason" button. Choice ids are
/// `[a-z0-9_]`, so this cannot collide with one.
pub const ADD_REASON: &str = "!reason";
/// The custom id of the reason text input in the modal.
pub const REASON_INPUT: &str = "reason";

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: String,
    pub global_name: Option<String>,
    #[serde(default)]
    pub bot: bool,
}

impl User {
    /// The name shown in the message and the `user` field: the unique username, else the
    /// display name.
    pub fn display_name(&self) -> String {
        if self.username.is_empty() {
            self.global_name.clone().unwrap_or_else(|| self.id.clone())
        } else {
            self.username.clone()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub user: Option<User>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InteractionData {
    pub custom_id: Option<String>,
    /// Modal submits: the submitted components, mirroring the modal's layout.
    #[serde(default)]
    pub components: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MessageRef {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Interaction {
    pub id: String,
    pub token: String,
    #[serde(rename = "type")]
    pub kind: u8,
    pub channel_id: Option<String>,
    /// In guilds: who clicked.
    pub member: Option<Member>,
    /// In DMs: who clicked.
    pub user: Option<User>,
    pub data: Option<InteractionData>,
    /// The message the component was on (also for modals opened from a component).
    pub message: Option<MessageRef>,
    /// When the Gateway handed it to us: the 3-second answer window runs from here.
    #[serde(skip, default = "tokio::time::Instant::now")]
    pub received: tokio::time::Instant,
}

impl Interaction {
    /// Who clicked or submitted: `member.user` in guilds, `user` in DMs.
    pub fn who(&self) -> Option<&User> {
        self.member
            .as_ref()
            .and_then(|m| m.user.as_ref())
            .or(self.user.as_ref())
    }

    pub fn custom_id(&self) -> Option<&str> {
        self.data.as_ref()?.custom_id.as_deref()
    }

    /// The text typed into the modal's reason input, trimmed (`None` when empty).
    pub fn reason(&self) -> Option<String> {
        let components = &self.data.as_ref()?.components;
        text_input_value(components, REASON_INPUT)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    pub message_id: Option<String>,
}

/// A `MESSAGE_CREATE` dispatch.
#[allow(clippy::struct_field_names)] // Discord's field names.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub channel_id: String,
    pub author: User,
    /// Empty when the Message Content intent is off (unless the message mentions the bot).
    #[serde(default)]
    pub content: String,
    pub webhook_id: Option<String>,
    pub message_reference: Option<Reference>,
    /// The message replied to (Discord includes it, with its components).
    pub referenced_message: Option<Value>,
}

impl Message {
    /// The id of the message this one replies to.
    pub fn replied_to(&self) -> Option<&str> {
        self.message_reference.as_ref()?.message_id.as_deref()
    }

    /// The request id in the buttons of the message replied to, if they are ours.
    pub fn replied_request(&self) -> Option<RequestId> {
        let rows = self
            .referenced_message
            .as_ref()?
            .get("components")?
            .as_array()?;
        request_in_components(rows)
    }
}

/// The request id in the custom ids of a message's components (action rows), if ours.
pub fn request_in_components(rows: &[Value]) -> Option<RequestId> {
    rows.iter()
        .filter_map(|row| row.get("components")?.as_array())
        .flatten()
        .filter_map(|c| c.get("custom_id")?.as_str())
        .find_map(|id| parse_custom_id(id).map(|(request, _)| request))
}

/// Component custom id: `of1:<request id>:<choice>` (at most 3 + 1 + 16 + 1 + 8 = 29 bytes,
/// well under Discord's 100).
pub fn custom_id(request: &RequestId, choice: &str) -> String {
    format!("of1:{request}:{choice}")
}

/// The request id and choice in a custom id of ours.
pub fn parse_custom_id(data: &str) -> Option<(RequestId, &str)> {
    let rest = data.strip_prefix("of1:")?;
    let (id, choice) = rest.split_once(':')?;
    Some((RequestId::parse(id)?, choice))
}

/// The value of the text input `custom_id` in a modal submit, in either layout: Label
/// (type 18, `component`) or the legacy action row (type 1, `components`). Other component
/// types (e.g. Text Display) are skipped.
pub fn text_input_value(components: &[Value], custom_id: &str) -> Option<String> {
    components.iter().find_map(|c| {
        if c.get("type").and_then(Value::as_u64) == Some(4)
            && c.get("custom_id").and_then(Value::as_str) == Some(custom_id)
        {
            return c.get("value").and_then(Value::as_str).map(str::to_owned);
        }
        if let Some(inner) = c.get("component")
            && let Some(v) = text_input_value(std::slice::from_ref(inner), custom_id)
        {
            return Some(v);
        }
        c.get("components")
            .and_then(Value::as_array)
            .and_then(|inner| text_input_value(inner, custom_id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_ids_round_trip() {
        let id = RequestId::random();
        let data = custom_id(&id, "y");
        assert!(data.len() <= 100);
        assert_eq!(parse_custom_id(&data), Some((id.clone(), "y")));
        assert_eq!(
            parse_custom_id(&custom_id(&id, ADD_REASON)),
            Some((id, ADD_REASON))
        );
        assert_eq!(parse_custom_id("openfeedback::approve"), None);
        assert_eq!(parse_custom_id("of1:short:y"), None);
    }

    #[test]
    fn modal_values_are_read_from_both_layouts() {
        let label = json!([{"type": 10, "id": 1},
            {"type": 18, "id": 2, "component": {"type": 4, "id": 3, "custom_id": "reason", "value": " hotfix "}}]);
        let legacy = json!([{"type": 1, "components": [{"type": 4, "custom_id": "reason", "value": "legacy"}]}]);
        assert_eq!(
            text_input_value(label.as_array().unwrap(), "reason").as_deref(),
            Some(" hotfix ")
        );
        assert_eq!(
            text_input_value(legacy.as_array().unwrap(), "reason").as_deref(),
            Some("legacy")
        );
        assert_eq!(text_input_value(label.as_array().unwrap(), "other"), None);
    }

    #[test]
    fn the_clicker_is_the_member_in_guilds_and_the_user_in_dms() {
        let guild: Interaction = serde_json::from_value(json!({
            "id": "1", "token": "t", "type": 3, "channel_id": "5",
            "member": {"user": {"id": "18446744073709551615", "username": "ann"}},
            "data": {"custom_id": "x", "component_type": 2}
        }))
        .unwrap();
        assert_eq!(guild.who().unwrap().id, "18446744073709551615");
        let dm: Interaction = serde_json::from_value(json!({
            "id": "1", "token": "t", "type": 3, "user": {"id": "7", "username": "bob"}
        }))
        .unwrap();
        assert_eq!(dm.who().unwrap().display_name(), "bob");
    }
}
