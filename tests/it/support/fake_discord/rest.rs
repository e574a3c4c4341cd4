//! The fake REST API under `/api/v10` (protocols.md B1-B3, B6, B8 1-5 and 13-16).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderMap;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::{
    BOT_USER, CHANNEL, Callback, FaultKind, GUILD, Recorded, Shared, State, gateway, validate,
};

/// What a handler answers.
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
        }
    }

    fn error(status: u16, code: u64, message: &str) -> Reply {
        Reply::json(status, json!({"message": message, "code": code}))
    }

    fn not_found() -> Reply {
        Reply::error(404, 0, "404: Not Found")
    }
}

pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let reply = shared.with(|s| {
        let reply = route(s, shared, &method, &path, &headers, &bytes);
        s.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            status: reply.status,
            user_agent: header(&headers, "user-agent").to_owned(),
        });
        reply
    });
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    let bucket = format!("fake-{}", bucket_of(&method, &path));
    let reset = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 1.0;
    let mut limit_headers = vec![
        ("x-ratelimit-limit".to_owned(), "5".to_owned()),
        ("x-ratelimit-bucket".to_owned(), bucket),
    ];
    if reply.status != 429 {
        limit_headers.push(("x-ratelimit-remaining".into(), "4".into()));
        limit_headers.push(("x-ratelimit-reset".into(), format!("{reset:.3}")));
        limit_headers.push(("x-ratelimit-reset-after".into(), "1.000".into()));
    }
    for (name, value) in limit_headers.into_iter().chain(reply.headers) {
        response = response.header(name, value);
    }
    let body = match reply.body {
        Some(body) => {
            response = response.header("content-type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    response.body(Full::new(body)).unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A bucket name per route, ids of minor parameters left out.
fn bucket_of(method: &Method, path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    let mut out = method.to_string();
    for (i, part) in parts.iter().enumerate() {
        let after_channels = i > 0 && parts[i - 1] == "channels";
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() && !after_channels {
            out.push_str("/:id");
        } else if i > 0 && parts[i - 1] == "interactions" {
            return format!("{method}/interactions/callback");
        } else if !part.is_empty() {
            out.push('/');
            out.push_str(part);
        }
    }
    out
}

fn route(
    s: &mut State,
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Reply {
    let options = &shared.options;
    let Some(rest) = path.strip_prefix("/api/v10") else {
        s.violation(format!("{method} {path}: not under /api/v10"));
        return Reply::not_found();
    };
    let user_agent = header(headers, "user-agent");
    if options.strict_user_agent && !user_agent.starts_with("DiscordBot (") {
        s.violation(format!("{method} {path}: User-Agent {user_agent:?}"));
        return Reply::error(400, 0, "400: Bad Request (User-Agent)");
    }
    let segments: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let is_callback = segments.first() == Some(&"interactions");
    if !is_callback {
        let authorization = header(headers, "authorization");
        if authorization != format!("Bot {}", options.token) {
            return Reply::error(401, 0, "401: Unauthorized");
        }
    }
    if let Some(reply) = scripted_fault(s, method, path) {
        return reply;
    }
    let body = if matches!(*method, Method::POST | Method::PATCH | Method::PUT) {
        let content_type = header(headers, "content-type");
        if !content_type.starts_with("application/json") {
            s.violation(format!("{method} {path}: Content-Type {content_type:?}"));
            return Reply::json(
                400,
                json!({"code": 50035, "message": "Invalid Form Body", "errors": {"_errors": [
                    {"code": "CONTENT_TYPE_INVALID", "message": "Expected \"Content-Type\" header to be one of {'application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'}."}]}}),
            );
        }
        if let Ok(body) = serde_json::from_slice::<Value>(bytes) {
            body
        } else {
            s.violation(format!("{method} {path}: body is not JSON"));
            return Reply::error(400, 50109, "The request body contains invalid JSON.");
        }
    } else {
        Value::Null
    };
    match (method.clone(), segments.as_slice()) {
        (Method::GET, ["gateway", "bot"]) => Reply::json(
            200,
            json!({"url": shared.gateway_url(), "shards": 1, "session_start_limit": {
                "total": 1000, "remaining": 1000 - s.identifies, "reset_after": 14_400_000,
                "max_concurrency": 1}}),
        ),
        (Method::GET, ["gateway"]) => Reply::json(200, json!({"url": shared.gateway_url()})),
        (Method::GET, ["users", "@me"]) => Reply::json(200, bot_user()),
        (Method::POST, ["channels", channel, "messages"]) => create_message(s, channel, &body),
        (Method::GET, ["channels", channel, "messages", id]) => {
            match s.message(id).filter(|_| *channel == CHANNEL) {
                Some(m) => Reply::json(200, m.clone()),
                None => Reply::error(404, 10008, "Unknown Message"),
            }
        }
        (Method::PATCH, ["channels", channel, "messages", id]) => {
            edit_message(s, channel, id, &body)
        }
        (Method::POST, ["interactions", id, token, "callback"]) => {
            callback(s, shared, id, token, &body)
        }
        (_, ["gateway" | "users" | "channels" | "interactions", ..]) => {
            Reply::error(405, 0, "405: Method Not Allowed")
        }
        _ => Reply::not_found(),
    }
}

fn scripted_fault(s: &mut State, method: &Method, path: &str) -> Option<Reply> {
    let fault = s.faults.iter_mut().find(|f| {
        f.remaining > 0
            && f.method.eq_ignore_ascii_case(method.as_str())
            && path.contains(&f.path_contains)
    })?;
    fault.remaining -= 1;
    Some(match fault.kind {
        FaultKind::RateLimit {
            retry_after,
            global,
        } => {
            let mut reply = Reply::json(
                429,
                json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global}),
            );
            reply.headers = vec![
                ("retry-after".into(), format!("{:.0}", retry_after.ceil())),
                ("x-ratelimit-remaining".into(), "0".into()),
                (
                    "x-ratelimit-reset-after".into(),
                    format!("{retry_after:.3}"),
                ),
                (
                    "x-ratelimit-scope".into(),
                    if global { "global" } else { "user" }.into(),
                ),
            ];
            if global {
                reply
                    .headers
                    .push(("x-ratelimit-global".into(), "true".into()));
            }
            reply
        }
        FaultKind::Status(status) => Reply::json(
            status,
            json!({"message": format!("{status}: Server Error"), "code": 0}),
        ),
    })
}

fn bot_user() -> Value {
    json!({"id": BOT_USER, "username": "openfeedback", "discriminator": "0", "global_name": null,
           "avatar": null, "bot": true, "flags": 0})
}

fn create_message(s: &mut State, channel: &str, body: &Value) -> Reply {
    if channel != CHANNEL {
        return Reply::error(404, 10003, "Unknown Channel");
    }
    if let Err(errors) = validate::message(body, true) {
        return validation_error(s, "POST message", &errors);
    }
    if validate::is_empty_message(body) {
        s.violation("POST message: empty message".into());
        return Reply::error(400, 50006, "Cannot send an empty message");
    }
    let id = s.snowflake();
    let mut message = json!({
        "id": id, "channel_id": CHANNEL, "type": 0, "author": bot_user(),
        "content": body.get("content").cloned().unwrap_or(json!("")),
        "timestamp": super::now(), "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
        "components": validate::number_components(body.get("components").cloned().unwrap_or(json!([]))),
        "flags": body.get("flags").cloned().unwrap_or(json!(0)), "pinned": false,
    });
    if let Some(reference) = body.get("message_reference").filter(|r| !r.is_null()) {
        let target = reference["message_id"].as_str().unwrap_or_default();
        match s.message(target).cloned() {
            Some(referenced) => {
                message["type"] = json!(19);
                message["message_reference"] = json!({"type": 0, "message_id": target, "channel_id": CHANNEL, "guild_id": GUILD});
                message["referenced_message"] = referenced;
            }
            None if reference["fail_if_not_exists"] == false => {}
            None => {
                return Reply::json(
                    400,
                    json!({"code": 50035, "message": "Invalid Form Body", "errors": {"message_reference": {"_errors": [
                        {"code": "REPLIES_UNKNOWN_MESSAGE", "message": "Unknown message"}]}}}),
                );
            }
        }
    }
    s.messages.push(message.clone());
    gateway::dispatch_message(s, "MESSAGE_CREATE", &message);
    Reply::json(200, message)
}

fn edit_message(s: &mut State, channel: &str, id: &str, body: &Value) -> Reply {
    if channel != CHANNEL {
        return Reply::error(404, 10003, "Unknown Channel");
    }
    let Some(author) = s.message(id).map(|m| m["author"]["id"].clone()) else {
        return Reply::error(404, 10008, "Unknown Message");
    };
    if author != BOT_USER {
        s.violation(format!("PATCH message {id}: not the bot's message"));
        return Reply::error(403, 50005, "Cannot edit a message authored by another user");
    }
    if let Err(errors) = validate::message(body, false) {
        return validation_error(s, "PATCH message", &errors);
    }
    let updated = apply_edit(s, id, body);
    Reply::json(200, updated)
}

/// Partial update: omitted fields stay, `[]` clears; fires MESSAGE_UPDATE.
fn apply_edit(s: &mut State, id: &str, fields: &Value) -> Value {
    let message = s.message_mut(id).expect("message exists");
    for key in [
        "content",
        "embeds",
        "components",
        "flags",
        "allowed_mentions",
    ] {
        if let Some(value) = fields.get(key) {
            if key == "allowed_mentions" {
                continue;
            }
            let value = if key == "components" {
                validate::number_components(value.clone())
            } else if value.is_null() {
                match key {
                    "content" => json!(""),
                    "flags" => json!(0),
                    _ => json!([]),
                }
            } else {
                value.clone()
            };
            message[key] = value;
        }
    }
    message["edited_timestamp"] = json!(super::now());
    let updated = message.clone();
    gateway::dispatch_message(s, "MESSAGE_UPDATE", &updated);
    updated
}

fn validation_error(s: &mut State, what: &str, errors: &Value) -> Reply {
    s.violation(format!("{what}: invalid form body {errors}"));
    Reply::json(
        400,
        json!({"code": 50035, "message": "Invalid Form Body", "errors": errors}),
    )
}

/// `POST /interactions/{id}/{token}/callback` (B6, B8 14).
fn callback(s: &mut State, shared: &Shared, id: &str, token: &str, body: &Value) -> Reply {
    let deadline = shared.options.interaction_deadline;
    let Some(interaction) = s.interactions.get(id).filter(|i| i.token == token) else {
        s.late
            .push(format!("callback for an unknown interaction {id}"));
        return Reply::error(404, 10062, "Unknown interaction");
    };
    let elapsed = Instant::now().duration_since(interaction.created);
    let record = |s: &mut State, status: u16| {
        s.callbacks.push(Callback {
            interaction: id.to_owned(),
            body: body.clone(),
            status,
        });
    };
    if elapsed > deadline {
        s.late.push(format!(
            "callback for interaction {id} after {:.3}s (window {:.1}s): {body}",
            elapsed.as_secs_f64(),
            deadline.as_secs_f64()
        ));
        record(s, 404);
        return Reply::error(404, 10062, "Unknown interaction");
    }
    if interaction.response.is_some() {
        s.violation(format!("a second callback for interaction {id}: {body}"));
        record(s, 400);
        return Reply::error(400, 40060, "Interaction has already been acknowledged.");
    }
    let kind = interaction.kind;
    let message_id = interaction.message_id.clone();
    let response_type = body["type"].as_u64().unwrap_or(0);
    let data = &body["data"];
    let invalid = |s: &mut State, errors: Value| {
        record(s, 400);
        validation_error(s, "interaction callback", &errors)
    };
    match response_type {
        4 => {
            if let Err(errors) = validate::callback_message(data) {
                return invalid(s, errors);
            }
            let ephemeral = data["flags"].as_u64().unwrap_or(0) & 64 != 0;
            if !ephemeral {
                let new_id = s.snowflake();
                let message = json!({
                    "id": new_id, "channel_id": CHANNEL, "type": 20, "author": bot_user(),
                    "content": data.get("content").cloned().unwrap_or(json!("")),
                    "timestamp": super::now(), "edited_timestamp": null, "mentions": [],
                    "embeds": data.get("embeds").cloned().unwrap_or(json!([])), "attachments": [],
                    "components": data.get("components").cloned().unwrap_or(json!([])),
                    "flags": data["flags"].as_u64().unwrap_or(0),
                    "interaction_metadata": {"id": id, "type": kind},
                });
                s.messages.push(message.clone());
                gateway::dispatch_message(s, "MESSAGE_CREATE", &message);
            }
        }
        5 => {
            if data["flags"].as_u64().unwrap_or(0) & !64 != 0 {
                return invalid(
                    s,
                    json!({"data": {"flags": {"_errors": [{"code": "INVALID", "message": "only EPHEMERAL"}]}}}),
                );
            }
        }
        6 | 7 => {
            if kind != 3 && kind != 5 {
                return invalid(
                    s,
                    json!({"type": {"_errors": [{"code": "INTERACTION_RESPONSE_TYPE_INVALID", "message": "Interaction response type is not valid for this interaction"}]}}),
                );
            }
            if response_type == 7 {
                if let Err(errors) = validate::message(data, false) {
                    return invalid(s, errors);
                }
                apply_edit(s, &message_id, data);
            }
        }
        9 => {
            if kind == 5 {
                return invalid(
                    s,
                    json!({"type": {"_errors": [{"code": "INTERACTION_RESPONSE_TYPE_INVALID", "message": "A modal cannot answer a modal submit"}]}}),
                );
            }
            if let Err(errors) = validate::modal(data) {
                return invalid(s, errors);
            }
        }
        _ => {
            return invalid(
                s,
                json!({"type": {"_errors": [{"code": "BASE_TYPE_CHOICES", "message": format!("Value must be one of (4, 5, 6, 7, 9), not {response_type}")}]}}),
            );
        }
    }
    let interaction = s.interactions.get_mut(id).expect("checked above");
    interaction.response = Some(body.clone());
    if response_type == 9 {
        interaction.modal = Some(data.clone());
    }
    record(s, 204);
    Reply::no_content()
}
