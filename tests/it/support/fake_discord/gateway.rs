//! The fake Gateway: one task per WebSocket connection, sessions in the shared state.
//!
//! Rules enforced (protocols.md B4, B8 6-12): Hello first; heartbeats accepted before
//! Identify, one ACK per heartbeat (unless the connection is made a zombie), close 4009 when
//! heartbeats stop; any other op before Identify/Resume → 4003; second Identify → 4005; bad
//! token → 4004; unknown op → 4001; bad JSON or > 4096 bytes → 4002; invalid intent bits →
//! 4013; privileged intent not enabled → 4014; `v` other than 10 → 4012; more than 120
//! payloads a minute → 4008. READY carries `session_id` and a distinct `resume_gateway_url`;
//! `s` increases strictly for op 0 only. Resume replays the session's events after `seq`,
//! then RESUMED; an unknown or ended session gets op 9 `false`; a `seq` ahead of the
//! session → 4007. A client close with 1000/1001 ends the session.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{
    APPLICATION, BOT_USER, CHANNEL, Command, Conn, Connection, FakeUser, GUILD,
    INTENT_GUILD_MESSAGES, INTENT_MESSAGE_CONTENT, KNOWN_INTENTS, PRIVILEGED, Session, Shared,
    State,
};

const MAX_PAYLOAD: usize = 4096;
const SEND_LIMIT: usize = 120;

pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut next = 0u64;
    while let Ok((stream, _)) = listener.accept().await {
        next += 1;
        tokio::spawn(connection(stream, next, shared.clone()));
    }
}

/// Make interaction `kind` with `data` on `message` by `user`, and deliver it to every
/// session. Returns the interaction id.
pub(super) fn interaction(
    s: &mut State,
    kind: u8,
    data: &Value,
    message: &Value,
    user: &FakeUser,
) -> String {
    let id = s.snowflake();
    let token = format!("aW50ZXJhY3Rpb246{}", super::random_token());
    let payload = json!({
        "id": id, "application_id": APPLICATION, "type": kind, "version": 1, "token": token,
        "guild_id": GUILD, "channel_id": CHANNEL,
        "channel": {"id": CHANNEL, "type": 0, "guild_id": GUILD},
        "member": {"user": user.json(), "roles": [], "permissions": "2248473465835073",
                   "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false},
        "data": data, "message": message,
        "app_permissions": "2248473465835073", "locale": "en-US", "guild_locale": "en-US",
        "entitlements": [], "authorizing_integration_owners": {"0": GUILD}, "context": 0,
        "attachment_size_limit": 10_485_760,
    });
    s.interactions.insert(
        id.clone(),
        super::Interaction {
            token,
            kind,
            created: Instant::now(),
            message_id: message["id"].as_str().unwrap_or_default().to_owned(),
            user: user.clone(),
            response: None,
            modal: None,
        },
    );
    dispatch(s, "INTERACTION_CREATE", &payload, |_| true);
    id
}

/// Deliver a message event, filtered by each session's intents (B5, B8 9): no event without
/// GUILD_MESSAGES; without MESSAGE_CONTENT the content is blanked unless the message is the
/// bot's own or mentions the bot.
pub(super) fn dispatch_message(s: &mut State, kind: &str, message: &Value) {
    let own = message["author"]["id"] == BOT_USER;
    let mentions_bot = message["mentions"]
        .as_array()
        .is_some_and(|m| m.iter().any(|u| u["id"] == BOT_USER));
    let session_ids: Vec<String> = s.sessions.keys().cloned().collect();
    for id in session_ids {
        let intents = s.sessions[&id].intents;
        if intents & INTENT_GUILD_MESSAGES == 0 {
            continue;
        }
        let mut visible = message.clone();
        visible["guild_id"] = json!(GUILD);
        if intents & INTENT_MESSAGE_CONTENT == 0 && !own && !mentions_bot {
            visible["content"] = json!("");
            visible["embeds"] = json!([]);
            visible["attachments"] = json!([]);
            visible["components"] = json!([]);
        }
        send_dispatch(s, &id, kind, &visible);
    }
}

/// Deliver an event to every valid session for which `wants` is true.
fn dispatch(s: &mut State, kind: &str, d: &Value, wants: impl Fn(u64) -> bool) {
    let session_ids: Vec<String> = s
        .sessions
        .iter()
        .filter(|(_, session)| session.valid && wants(session.intents))
        .map(|(id, _)| id.clone())
        .collect();
    for id in session_ids {
        send_dispatch(s, &id, kind, d);
    }
}

/// Number, buffer and (if connected) send one dispatch of session `id`.
fn send_dispatch(s: &mut State, id: &str, kind: &str, d: &Value) {
    let Some(session) = s.sessions.get_mut(id) else {
        return;
    };
    if !session.valid {
        return;
    }
    session.seq += 1;
    let payload = json!({"op": 0, "t": kind, "s": session.seq, "d": d.clone()});
    session.buffer.push(payload.clone());
    if let Some(conn) = session.conn.and_then(|c| s.conns.get(&c)) {
        let _ = conn.tx.send(Command::Send(payload));
    }
}

/// How a connection's loop ends.
enum Exit {
    /// We close with this code.
    Close(u16),
    /// Drop without a close frame.
    Drop,
    /// The client closed (or the socket broke).
    Gone,
}

async fn connection(stream: TcpStream, n: u64, shared: Arc<Shared>) {
    let mut target = (String::new(), String::new());
    #[allow(clippy::result_large_err)] // tungstenite's callback signature
    let callback = |request: &Request, response: Response| {
        target = (
            request.uri().path().to_owned(),
            request.uri().query().unwrap_or_default().to_owned(),
        );
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let (path, query) = target;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let index = shared.with(|s| {
        s.conns.insert(
            n,
            Conn {
                tx,
                session: None,
                zombie: false,
            },
        );
        s.connections.push(Connection {
            path: path.clone(),
            query: query.clone(),
            ..Connection::default()
        });
        s.connections.len() - 1
    });

    let exit = if query.split('&').any(|p| p == "v=10") {
        if query
            .split('&')
            .any(|p| p.starts_with("encoding=") && p != "encoding=json")
        {
            shared.with(|s| s.violation(format!("unsupported encoding in {query:?}")));
        }
        let interval = u64::try_from(shared.options.heartbeat_interval.as_millis()).unwrap();
        let hello = json!({"op": 10, "d": {"heartbeat_interval": interval}, "s": null, "t": null});
        if ws.send(Message::text(hello.to_string())).await.is_err() {
            Exit::Gone
        } else {
            run(&mut ws, &mut rx, n, index, &path, &shared).await
        }
    } else {
        Exit::Close(4012)
    };
    match exit {
        Exit::Close(code) => {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: "".into(),
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(Some(frame))).await;
        }
        Exit::Drop | Exit::Gone => {}
    }
    drop(ws);
    shared.with(|s| {
        if let Some(conn) = s.conns.remove(&n)
            && let Some(session) = conn.session.and_then(|id| s.sessions.get_mut(&id))
            && session.conn == Some(n)
        {
            session.conn = None;
        }
        s.connections[index].ended = true;
    });
}

async fn run(
    ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
    rx: &mut mpsc::UnboundedReceiver<Command>,
    n: u64,
    index: usize,
    path: &str,
    shared: &Arc<Shared>,
) -> Exit {
    let options = &shared.options;
    let mut last_beat = Instant::now();
    let mut sent_times: Vec<Instant> = Vec::new();
    loop {
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
                    Some(Ok(Message::Binary(_))) => return Exit::Close(4002),
                    Some(Ok(Message::Close(frame))) => {
                        let code = frame.map(|f| u16::from(f.code));
                        shared.with(|s| {
                            s.connections[index].client_close = code;
                            if matches!(code, Some(1000 | 1001))
                                && let Some(id) = s.conns.get(&n).and_then(|c| c.session.clone())
                                && let Some(session) = s.sessions.get_mut(&id)
                            {
                                session.valid = false;
                            }
                        });
                        return Exit::Gone;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return Exit::Gone,
                };
                let now = Instant::now();
                sent_times.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
                sent_times.push(now);
                if sent_times.len() > SEND_LIMIT {
                    shared.with(|s| s.violation("more than 120 Gateway payloads in 60 s".into()));
                    return Exit::Close(4008);
                }
                if text.len() > MAX_PAYLOAD {
                    shared.with(|s| s.violation(format!("a Gateway payload of {} bytes", text.len())));
                    return Exit::Close(4002);
                }
                let Ok(payload) = serde_json::from_str::<Value>(&text) else {
                    shared.with(|s| s.violation(format!("a Gateway payload that is not JSON: {text:?}")));
                    return Exit::Close(4002);
                };
                if payload["op"] == 1 {
                    last_beat = Instant::now();
                }
                if let Some(exit) = shared.with(|s| on_payload(s, n, index, path, &payload, shared)) {
                    return exit;
                }
            }
            command = rx.recv() => match command {
                Some(Command::Send(payload)) => {
                    if ws.send(Message::text(payload.to_string())).await.is_err() {
                        return Exit::Gone;
                    }
                }
                Some(Command::Close(code)) => return Exit::Close(code),
                Some(Command::Drop) | None => return Exit::Drop,
            },
            () = tokio::time::sleep_until(last_beat + options.heartbeat_timeout) => {
                return Exit::Close(4009);
            }
        }
    }
}

/// Handle one client payload; `Some` ends the connection.
fn on_payload(
    s: &mut State,
    n: u64,
    index: usize,
    path: &str,
    payload: &Value,
    shared: &Shared,
) -> Option<Exit> {
    let options = &shared.options;
    let authenticated = s.conns.get(&n).is_some_and(|c| c.session.is_some());
    let d = &payload["d"];
    match payload["op"].as_u64() {
        Some(1) => {
            s.heartbeats += 1;
            let session_seq = s
                .conns
                .get(&n)
                .and_then(|c| c.session.as_ref())
                .and_then(|id| s.sessions.get(id))
                .map(|session| session.seq);
            if let (Some(sent), Some(seq)) = (d.as_u64(), session_seq)
                && sent > seq
            {
                s.violation(format!(
                    "heartbeat with seq {sent} beyond the session's {seq}"
                ));
            }
            let conn = s.conns.get(&n)?;
            if !conn.zombie {
                let _ = conn.tx.send(Command::Send(
                    json!({"op": 11, "d": null, "s": null, "t": null}),
                ));
            }
            None
        }
        Some(2) => {
            if authenticated {
                s.violation("a second Identify on one connection".into());
                return Some(Exit::Close(4005));
            }
            if d["token"].as_str() != Some(options.token.as_str()) {
                return Some(Exit::Close(4004));
            }
            let Some(intents) = d["intents"].as_u64() else {
                s.violation("Identify without intents".into());
                return Some(Exit::Close(4001));
            };
            if d["properties"]["os"].as_str().is_none() {
                s.violation("Identify without properties.os".into());
            }
            if intents & !KNOWN_INTENTS != 0 {
                return Some(Exit::Close(4013));
            }
            let privileged = intents & PRIVILEGED;
            let allowed = if options.allow_message_content {
                INTENT_MESSAGE_CONTENT
            } else {
                0
            };
            if privileged & !allowed != 0 {
                return Some(Exit::Close(4014));
            }
            if path.starts_with("/resume") {
                s.violation("Identify sent to the resume URL".into());
            }
            s.identifies += 1;
            s.connections[index].opened_with = Some("identify");
            let id = super::random_token();
            s.sessions.insert(
                id.clone(),
                Session {
                    intents,
                    seq: 0,
                    buffer: Vec::new(),
                    conn: Some(n),
                    valid: true,
                },
            );
            s.conns.get_mut(&n)?.session = Some(id.clone());
            let ready = json!({
                "v": 10,
                "user": {"id": BOT_USER, "username": "openfeedback", "discriminator": "0", "bot": true, "avatar": null},
                "guilds": [{"id": GUILD, "unavailable": true}],
                "session_id": id,
                "resume_gateway_url": shared.resume_url(),
                "shard": [0, 1],
                "application": {"id": APPLICATION, "flags": 0},
            });
            send_dispatch(s, &id, "READY", &ready);
            None
        }
        Some(6) => {
            if authenticated {
                s.violation("Resume on an authenticated connection".into());
                return Some(Exit::Close(4005));
            }
            if d["token"].as_str() != Some(options.token.as_str()) {
                return Some(Exit::Close(4004));
            }
            if !path.starts_with("/resume") {
                s.violation(format!(
                    "Resume sent to {path:?}, not to resume_gateway_url"
                ));
            }
            let id = d["session_id"].as_str().unwrap_or_default().to_owned();
            let seq = d["seq"].as_u64();
            let Some(session) = s.sessions.get_mut(&id).filter(|x| x.valid) else {
                let conn = s.conns.get(&n)?;
                let _ = conn.tx.send(Command::Send(
                    json!({"op": 9, "d": false, "s": null, "t": null}),
                ));
                return None;
            };
            if seq.is_some_and(|q| q > session.seq) {
                return Some(Exit::Close(4007));
            }
            // A session lives on one connection: take it from any other.
            let previous = session.conn.replace(n);
            let replay: Vec<Value> = session
                .buffer
                .iter()
                .filter(|p| p["s"].as_u64() > seq)
                .cloned()
                .collect();
            if let Some(old) = previous.filter(|old| *old != n)
                && let Some(conn) = s.conns.get_mut(&old)
            {
                conn.session = None;
                let _ = conn.tx.send(Command::Drop);
            }
            s.conns.get_mut(&n)?.session = Some(id.clone());
            s.resumes += 1;
            s.connections[index].opened_with = Some("resume");
            let conn = s.conns.get(&n)?;
            for payload in replay {
                let _ = conn.tx.send(Command::Send(payload));
            }
            send_dispatch(s, &id, "RESUMED", &Value::Null);
            None
        }
        Some(3 | 4 | 8 | 31 | 43) if authenticated => None,
        Some(3 | 4 | 8 | 31 | 43) => Some(Exit::Close(4003)),
        Some(_) if !authenticated => {
            s.violation(format!("op {} before Identify", payload["op"]));
            Some(Exit::Close(4003))
        }
        _ => {
            s.violation(format!("unknown op {}", payload["op"]));
            Some(Exit::Close(4001))
        }
    }
}
