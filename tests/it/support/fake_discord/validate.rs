//! Discord's validation of message and modal payloads (protocols.md B2, B6, B8 3 and 15).
//! Errors come back in Discord's shape: an object following the JSON path, with `_errors`
//! lists at the leaves.

use std::collections::HashSet;

use serde_json::{Value, json};

struct Errors(Value);

impl Errors {
    fn new() -> Errors {
        Errors(json!({}))
    }

    fn add(&mut self, path: &[String], code: &str, message: &str) {
        let mut node = &mut self.0;
        for key in path {
            node = node
                .as_object_mut()
                .unwrap()
                .entry(key.clone())
                .or_insert_with(|| json!({}));
        }
        let list = node
            .as_object_mut()
            .unwrap()
            .entry("_errors")
            .or_insert_with(|| json!([]));
        list.as_array_mut()
            .unwrap()
            .push(json!({"code": code, "message": message}));
    }

    fn result(self) -> Result<(), Value> {
        if self.0.as_object().unwrap().is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_owned()).collect()
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn max_len(errors: &mut Errors, at: &[String], v: &Value, max: usize) {
    if !v.is_null() && !v.is_string() {
        errors.add(at, "BASE_TYPE_STRING", "Must be a string.");
    } else if chars(v) > max {
        errors.add(
            at,
            "BASE_TYPE_MAX_LENGTH",
            &format!("Must be {max} or fewer in length."),
        );
    }
}

/// Create/Edit Message fields (and type 7 callback data).
pub(super) fn message(body: &Value, create: bool) -> Result<(), Value> {
    let mut errors = Errors::new();
    if !body.is_object() {
        errors.add(&[], "DICT_TYPE_CONVERT", "Only dictionaries may be used.");
        return errors.result();
    }
    max_len(&mut errors, &path(&["content"]), &body["content"], 2000);
    embeds(&mut errors, &body["embeds"]);
    components(&mut errors, &body["components"]);
    allowed_mentions(&mut errors, &body["allowed_mentions"]);
    if !create && !body["message_reference"].is_null() {
        errors.add(
            &path(&["message_reference"]),
            "UNKNOWN_FIELD",
            "message_reference cannot be edited",
        );
    }
    errors.result()
}

/// At least one of the content-bearing fields is required to create a message.
pub(super) fn is_empty_message(body: &Value) -> bool {
    let empty = |key: &str| match &body[key] {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    [
        "content",
        "embeds",
        "components",
        "sticker_ids",
        "poll",
        "attachments",
    ]
    .iter()
    .all(|k| empty(k))
}

fn embeds(errors: &mut Errors, embeds: &Value) {
    let Some(list) = embeds.as_array() else {
        if !embeds.is_null() {
            errors.add(&path(&["embeds"]), "BASE_TYPE_LIST", "Must be a list.");
        }
        return;
    };
    if list.len() > 10 {
        errors.add(
            &path(&["embeds"]),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.",
        );
    }
    let mut total = 0;
    for (i, embed) in list.iter().enumerate() {
        let at = |field: &[&str]| {
            let mut p = vec!["embeds".to_owned(), i.to_string()];
            p.extend(field.iter().map(|f| (*f).to_owned()));
            p
        };
        for (field, limit) in [
            (&["title"][..], 256),
            (&["description"][..], 4096),
            (&["footer", "text"][..], 2048),
            (&["author", "name"][..], 256),
        ] {
            let mut v = embed;
            for f in field {
                v = &v[*f];
            }
            max_len(errors, &at(field), v, limit);
            total += chars(v);
        }
        if let Some(fields) = embed["fields"].as_array() {
            if fields.len() > 25 {
                errors.add(
                    &at(&["fields"]),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                );
            }
            for (j, f) in fields.iter().enumerate() {
                let j = j.to_string();
                max_len(errors, &at(&["fields", &j, "name"]), &f["name"], 256);
                max_len(errors, &at(&["fields", &j, "value"]), &f["value"], 1024);
                total += chars(&f["name"]) + chars(&f["value"]);
            }
        }
    }
    if total > 6000 {
        errors.add(
            &path(&["embeds"]),
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000",
        );
    }
}

/// Legacy components: up to 5 action rows of up to 5 buttons (B2).
fn components(errors: &mut Errors, components: &Value) {
    let Some(rows) = components.as_array() else {
        if !components.is_null() {
            errors.add(&path(&["components"]), "BASE_TYPE_LIST", "Must be a list.");
        }
        return;
    };
    if rows.len() > 5 {
        errors.add(
            &path(&["components"]),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.",
        );
    }
    let mut ids = HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let i = i.to_string();
        if row["type"] != 1 {
            errors.add(
                &path(&["components", &i, "type"]),
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (1,).",
            );
            continue;
        }
        let buttons = row["components"].as_array().cloned().unwrap_or_default();
        if buttons.is_empty() || buttons.len() > 5 {
            errors.add(
                &path(&["components", &i, "components"]),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.",
            );
        }
        for (j, button) in buttons.iter().enumerate() {
            let j = j.to_string();
            let at = |f: &str| path(&["components", &i, "components", &j, f]);
            if button["type"] != 2 {
                errors.add(
                    &at("type"),
                    "COMPONENT_TYPE_INVALID",
                    "Only buttons are expected here.",
                );
                continue;
            }
            max_len(errors, &at("label"), &button["label"], 80);
            let style = button["style"].as_u64().unwrap_or(0);
            match style {
                1..=4 => match button["custom_id"].as_str() {
                    Some(id) if (1..=100).contains(&id.chars().count()) => {
                        if !ids.insert(id.to_owned()) {
                            errors.add(
                                &at("custom_id"),
                                "COMPONENT_CUSTOM_ID_DUPLICATED",
                                "Component custom id cannot be duplicated",
                            );
                        }
                    }
                    _ => errors.add(
                        &at("custom_id"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    ),
                },
                5 => {
                    if button["url"].as_str().is_none() || !button["custom_id"].is_null() {
                        errors.add(
                            &at("url"),
                            "BUTTON_COMPONENT_URL_REQUIRED",
                            "A link button needs a url and no custom_id",
                        );
                    }
                }
                6 => {}
                _ => errors.add(
                    &at("style"),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of (1, 2, 3, 4, 5, 6).",
                ),
            }
        }
    }
}

fn allowed_mentions(errors: &mut Errors, mentions: &Value) {
    if mentions.is_null() {
        return;
    }
    let parse = &mentions["parse"];
    let ok = parse.is_null()
        || parse.as_array().is_some_and(|a| {
            a.iter()
                .all(|p| matches!(p.as_str(), Some("users" | "roles" | "everyone")))
        });
    if !ok {
        errors.add(
            &path(&["allowed_mentions", "parse"]),
            "BASE_TYPE_CHOICES",
            "Must be users, roles or everyone.",
        );
    }
}

/// Data of a type 4 callback: a message (flags limited to what callbacks allow).
pub(super) fn callback_message(data: &Value) -> Result<(), Value> {
    let flags = data["flags"].as_u64().unwrap_or(0);
    let allowed = (1 << 2) | (1 << 6) | (1 << 12) | (1 << 13) | (1 << 15);
    if flags & !allowed != 0 {
        let mut errors = Errors::new();
        errors.add(
            &path(&["data", "flags"]),
            "INVALID_FLAGS",
            "Invalid message flags",
        );
        return errors.result();
    }
    message(data, true).map_err(|e| json!({"data": e}))
}

/// A type 9 modal (B6, B8 15): title ≤ 45, custom_id 1-100, 1-5 components, each a Label
/// around a Text Input, a legacy action row with one Text Input, or a Text Display.
pub(super) fn modal(data: &Value) -> Result<(), Value> {
    let mut errors = Errors::new();
    let at = |parts: &[&str]| {
        let mut p = vec!["data".to_owned()];
        p.extend(parts.iter().map(|s| (*s).to_owned()));
        p
    };
    match data["title"].as_str() {
        Some(t) if (1..=45).contains(&t.chars().count()) => {}
        _ => errors.add(
            &at(&["title"]),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 45 in length.",
        ),
    }
    match data["custom_id"].as_str() {
        Some(t) if (1..=100).contains(&t.chars().count()) => {}
        _ => errors.add(
            &at(&["custom_id"]),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        ),
    }
    let list = data["components"].as_array().cloned().unwrap_or_default();
    if list.is_empty() || list.len() > 5 {
        errors.add(
            &at(&["components"]),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 5 in length.",
        );
    }
    for (i, c) in list.iter().enumerate() {
        let i = i.to_string();
        match c["type"].as_u64() {
            Some(18) => {
                match c["label"].as_str() {
                    Some(l) if (1..=45).contains(&l.chars().count()) => {}
                    _ => errors.add(
                        &at(&["components", &i, "label"]),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 45 in length.",
                    ),
                }
                max_len(
                    &mut errors,
                    &at(&["components", &i, "description"]),
                    &c["description"],
                    100,
                );
                text_input(
                    &mut errors,
                    &at(&["components", &i, "component"]),
                    &c["component"],
                    false,
                );
            }
            Some(1) => {
                let inner = c["components"].as_array().cloned().unwrap_or_default();
                if inner.len() != 1 {
                    errors.add(
                        &at(&["components", &i, "components"]),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be 1 in length.",
                    );
                }
                for (j, input) in inner.iter().enumerate() {
                    text_input(
                        &mut errors,
                        &at(&["components", &i, "components", &j.to_string()]),
                        input,
                        true,
                    );
                }
            }
            Some(10) => max_len(
                &mut errors,
                &at(&["components", &i, "content"]),
                &c["content"],
                4000,
            ),
            _ => errors.add(
                &at(&["components", &i, "type"]),
                "COMPONENT_TYPE_INVALID",
                "Invalid component type for a modal.",
            ),
        }
    }
    errors.result()
}

fn text_input(errors: &mut Errors, at: &[String], input: &Value, legacy: bool) {
    let sub = |f: &str| {
        let mut p = at.to_vec();
        p.push(f.to_owned());
        p
    };
    if input["type"] != 4 {
        errors.add(
            &sub("type"),
            "COMPONENT_TYPE_INVALID",
            "Expected a text input (4).",
        );
        return;
    }
    match input["custom_id"].as_str() {
        Some(t) if (1..=100).contains(&t.chars().count()) => {}
        _ => errors.add(
            &sub("custom_id"),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        ),
    }
    if !matches!(input["style"].as_u64(), Some(1 | 2)) {
        errors.add(
            &sub("style"),
            "BASE_TYPE_CHOICES",
            "Value must be one of (1, 2).",
        );
    }
    if legacy {
        match input["label"].as_str() {
            Some(l) if (1..=45).contains(&l.chars().count()) => {}
            _ => errors.add(
                &sub("label"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 45 in length.",
            ),
        }
    } else if !input["label"].is_null() {
        errors.add(
            &sub("label"),
            "UNKNOWN_FIELD",
            "A text input inside a Label has no label of its own.",
        );
    }
    let min = input["min_length"].as_u64();
    let max = input["max_length"].as_u64();
    if min.is_some_and(|m| m > 4000) {
        errors.add(
            &sub("min_length"),
            "NUMBER_TYPE_MAX",
            "Must be 4000 or less.",
        );
    }
    if max.is_some_and(|m| !(1..=4000).contains(&m)) {
        errors.add(
            &sub("max_length"),
            "NUMBER_TYPE_MAX",
            "Must be between 1 and 4000.",
        );
    }
    max_len(errors, &sub("placeholder"), &input["placeholder"], 100);
    max_len(errors, &sub("value"), &input["value"], 4000);
}

/// What the human's client sends for `modal` when they type `values`: the submit mirrors
/// the modal's layout. Refuses what Discord's client would refuse (required or too short).
pub(super) fn fill_modal(modal: &Value, values: &[(&str, &str)]) -> Result<Value, String> {
    let mut next_id = 1;
    let mut id = || {
        next_id += 1;
        next_id - 1
    };
    let value_of = |input: &Value| -> Result<Value, String> {
        let custom_id = input["custom_id"].as_str().unwrap_or_default();
        let typed = values
            .iter()
            .find(|(k, _)| *k == custom_id)
            .map_or("", |(_, v)| *v);
        let required = input["required"].as_bool().unwrap_or(true);
        let length = |key: &str, default: usize| {
            input[key]
                .as_u64()
                .map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX))
        };
        let (min, max) = (length("min_length", 0), length("max_length", 4000));
        let n = typed.chars().count();
        if (required && n == 0) || (n > 0 && n < min) || n > max {
            return Err(format!(
                "Discord's client would not submit {typed:?} for {custom_id:?}"
            ));
        }
        Ok(json!({"type": 4, "custom_id": custom_id, "value": typed}))
    };
    let mut out = Vec::new();
    for c in modal["components"].as_array().into_iter().flatten() {
        match c["type"].as_u64() {
            Some(18) => {
                let mut inner = value_of(&c["component"])?;
                let outer = id();
                inner["id"] = json!(id());
                out.push(json!({"type": 18, "id": outer, "component": inner}));
            }
            Some(1) => {
                let outer = id();
                let mut inner = Vec::new();
                for input in c["components"].as_array().into_iter().flatten() {
                    let mut v = value_of(input)?;
                    v["id"] = json!(id());
                    inner.push(v);
                }
                out.push(json!({"type": 1, "id": outer, "components": inner}));
            }
            _ => out.push(json!({"type": c["type"], "id": id()})),
        }
    }
    Ok(Value::Array(out))
}

/// Give components the sequential `id`s Discord assigns when they are omitted.
pub(super) fn number_components(mut components: Value) -> Value {
    let mut next = 1;
    if let Some(rows) = components.as_array_mut() {
        for row in rows {
            if row.get("id").is_none() {
                row["id"] = json!(next);
            }
            next += 1;
            if let Some(inner) = row["components"].as_array_mut() {
                for c in inner {
                    if c.get("id").is_none() {
                        c["id"] = json!(next);
                    }
                    next += 1;
                }
            }
        }
    }
    components
}
