//! The fake Discord itself: it must refuse what Discord refuses (protocols.md B8), or the
//! Discord tests prove nothing.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::fake_discord::{CHANNEL, FakeDiscord, FakeUser, Options};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("connect")
        .0
}

/// The next JSON payload, or the close code as `Err`.
async fn next(ws: &mut Ws) -> Result<Value, Option<u16>> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("the fake answered");
        match frame {
            Some(Ok(Message::Text(text))) => {
                return Ok(serde_json::from_str(text.as_str()).unwrap());
            }
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(None),
        }
    }
}

async fn send(ws: &mut Ws, payload: Value) {
    ws.send(Message::text(payload.to_string())).await.unwrap();
}

fn identify(token: &str, intents: u64) -> Value {
    json!({"op": 2, "d": {"token": token, "intents": intents,
        "properties": {"os": "linux", "browser": "test", "device": "test"}}})
}

/// Connect, read Hello, send `payload`, and return the close code that follows.
async fn closes_with(url: &str, payload: Value) -> Option<u16> {
    let mut ws = connect(url).await;
    assert_eq!(next(&mut ws).await.unwrap()["op"], 10);
    send(&mut ws, payload).await;
    loop {
        if let Err(code) = next(&mut ws).await {
            return code;
        }
    }
}

#[tokio::test]
async fn the_gateway_enforces_discords_rules() {
    let fake = FakeDiscord::start_with(Options {
        allow_message_content: false,
        ..Options::default()
    })
    .await;
    let url = format!("{}/?v=10&encoding=json", fake.gateway_url());
    let token = fake.token().to_owned();

    assert_eq!(
        closes_with(&url, json!({"op": 3, "d": {}})).await,
        Some(4003)
    );
    assert_eq!(closes_with(&url, identify("wrong", 512)).await, Some(4004));
    assert_eq!(
        closes_with(&url, identify(&token, 1 << 30)).await,
        Some(4013)
    );
    assert_eq!(
        closes_with(&url, identify(&token, 512 | (1 << 15))).await,
        Some(4014)
    );
    assert_eq!(
        closes_with(&url, json!({"op": 2, "d": "x".repeat(5000)})).await,
        Some(4002)
    );
    let old = format!("{}/?v=9&encoding=json", fake.gateway_url());
    let mut ws = connect(&old).await;
    assert_eq!(next(&mut ws).await, Err(Some(4012)));

    // Hello, heartbeat before Identify, READY, one ACK per heartbeat, no second Identify.
    let mut ws = connect(&url).await;
    let hello = next(&mut ws).await.unwrap();
    assert_eq!(hello["op"], 10);
    assert!(hello["d"]["heartbeat_interval"].as_u64().unwrap() > 0);
    send(&mut ws, json!({"op": 1, "d": null})).await;
    assert_eq!(next(&mut ws).await.unwrap()["op"], 11);
    send(&mut ws, identify(&token, 512)).await;
    let ready = next(&mut ws).await.unwrap();
    assert_eq!(
        (ready["op"].clone(), ready["t"].clone(), ready["s"].clone()),
        (json!(0), json!("READY"), json!(1))
    );
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    let resume_url = ready["d"]["resume_gateway_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(resume_url, fake.gateway_url(), "a distinct resume URL");
    send(&mut ws, identify(&token, 512)).await;
    assert_eq!(next(&mut ws).await, Err(Some(4005)));

    // Resume: a seq ahead of the session → 4007; an unknown session → op 9 false.
    let resume = format!("{resume_url}?v=10&encoding=json");
    let ahead = json!({"op": 6, "d": {"token": token, "session_id": session, "seq": 99}});
    assert_eq!(closes_with(&resume, ahead).await, Some(4007));
    let mut ws = connect(&resume).await;
    next(&mut ws).await.unwrap();
    send(
        &mut ws,
        json!({"op": 6, "d": {"token": token, "session_id": "nope", "seq": 1}}),
    )
    .await;
    let invalid = next(&mut ws).await.unwrap();
    assert_eq!(
        (invalid["op"].clone(), invalid["d"].clone()),
        (json!(9), json!(false))
    );
}

#[tokio::test]
async fn resume_replays_missed_events_in_order_then_says_resumed() {
    let fake = FakeDiscord::start().await;
    let url = format!("{}/?v=10&encoding=json", fake.gateway_url());
    let mut ws = connect(&url).await;
    next(&mut ws).await.unwrap();
    send(&mut ws, identify(fake.token(), 512 | 4096 | (1 << 15))).await;
    let ready = next(&mut ws).await.unwrap();
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    let resume_url = ready["d"]["resume_gateway_url"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(ws);

    // Post while disconnected: the echo of our own message is buffered.
    openfeedback::http::install_crypto();
    let http = reqwest::Client::new();
    let posted = http
        .post(format!("{}/channels/{CHANNEL}/messages", fake.api_base()))
        .header("authorization", format!("Bot {}", fake.token()))
        .header("user-agent", "DiscordBot (https://example.com, 1.0)")
        .json(&json!({"content": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);

    let mut ws = connect(&format!("{resume_url}?v=10&encoding=json")).await;
    next(&mut ws).await.unwrap();
    send(
        &mut ws,
        json!({"op": 6, "d": {"token": fake.token(), "session_id": session, "seq": 1}}),
    )
    .await;
    let replayed = next(&mut ws).await.unwrap();
    assert_eq!(
        (replayed["t"].clone(), replayed["s"].clone()),
        (json!("MESSAGE_CREATE"), json!(2))
    );
    assert_eq!(replayed["d"]["content"], "hello");
    let resumed = next(&mut ws).await.unwrap();
    assert_eq!(
        (resumed["t"].clone(), resumed["s"].clone()),
        (json!("RESUMED"), json!(3))
    );
    assert_eq!(fake.resume_count(), 1);
}

#[tokio::test]
async fn message_content_is_blanked_without_the_intent_unless_the_bot_is_mentioned() {
    let fake = FakeDiscord::start().await;
    let url = format!("{}/?v=10&encoding=json", fake.gateway_url());
    let mut ws = connect(&url).await;
    next(&mut ws).await.unwrap();
    send(&mut ws, identify(fake.token(), 512)).await;
    next(&mut ws).await.unwrap();
    openfeedback::http::install_crypto();
    reqwest::Client::new()
        .post(format!("{}/channels/{CHANNEL}/messages", fake.api_base()))
        .header("authorization", format!("Bot {}", fake.token()))
        .header("user-agent", "DiscordBot (https://example.com, 1.0)")
        .json(&json!({"content": "request"}))
        .send()
        .await
        .unwrap();
    let own = next(&mut ws).await.unwrap();
    assert_eq!(
        own["d"]["content"], "request",
        "the bot's own message stays visible"
    );
    let id = own["d"]["id"].as_str().unwrap().to_owned();
    let ann = FakeUser::human("ann");
    fake.reply(&id, "quiet reply", &ann);
    assert_eq!(next(&mut ws).await.unwrap()["d"]["content"], "");
    fake.reply_with(&id, "pinging reply", &ann, true);
    assert_eq!(
        next(&mut ws).await.unwrap()["d"]["content"],
        "pinging reply"
    );
}

/// Status, JSON body (or null) and headers of a request.
async fn read(r: reqwest::RequestBuilder) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = r.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

#[tokio::test]
async fn rest_refuses_what_discord_refuses() {
    let fake = FakeDiscord::start().await;
    openfeedback::http::install_crypto();
    let http = reqwest::Client::new();
    let api = fake.api_base();
    let auth = format!("Bot {}", fake.token());
    let ua = "DiscordBot (https://example.com, 1.0)";
    let post = |path: &str, body: Value| {
        http.post(format!("{api}{path}"))
            .header("authorization", &auth)
            .header("user-agent", ua)
            .json(&body)
    };

    let (status, body, headers) = read(
        http.get(format!("{api}/gateway/bot"))
            .header("user-agent", ua),
    )
    .await;
    assert_eq!(
        (status, body),
        (401, json!({"message": "401: Unauthorized", "code": 0}))
    );
    assert!(headers.contains_key("x-ratelimit-bucket"));
    let (status, ..) = read(
        http.get(format!("{api}/gateway/bot"))
            .header("authorization", &auth)
            .header("user-agent", "curl/8"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body, _) = read(post(
        &format!("/channels/{CHANNEL}/messages"),
        json!({"content": "x".repeat(2001)}),
    ))
    .await;
    assert_eq!((status, body["code"].clone()), (400, json!(50035)));
    assert_eq!(
        body["errors"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    let (status, body, _) = read(post(
        &format!("/channels/{CHANNEL}/messages"),
        json!({"embeds": [{"description": "x".repeat(4097)}]}),
    ))
    .await;
    assert_eq!(status, 400);
    assert!(
        body["errors"]["embeds"]["0"]["description"].is_object(),
        "{body}"
    );
    let (status, body, _) = read(post(
        &format!("/channels/{CHANNEL}/messages"),
        json!({"content": ""}),
    ))
    .await;
    assert_eq!((status, body["code"].clone()), (400, json!(50006)));
    let (status, body, _) = read(post("/channels/42/messages", json!({"content": "x"}))).await;
    assert_eq!((status, body["code"].clone()), (404, json!(10003)));
    let dupes = json!({"content": "x", "components": [{"type": 1, "components": [
        {"type": 2, "style": 1, "label": "a", "custom_id": "same"},
        {"type": 2, "style": 1, "label": "b", "custom_id": "same"}]}]});
    let (status, _, _) = read(post(&format!("/channels/{CHANNEL}/messages"), dupes)).await;
    assert_eq!(status, 400);
    let (status, body, _) = read(
        http.post(format!("{api}/channels/{CHANNEL}/messages"))
            .header("authorization", &auth)
            .header("user-agent", ua)
            .header("content-type", "text/plain")
            .body("content=x"),
    )
    .await;
    assert_eq!((status, body["code"].clone()), (400, json!(50035)));

    fake.rate_limit_next("POST", "/messages", 1, 1.25);
    let (status, body, headers) = read(post(
        &format!("/channels/{CHANNEL}/messages"),
        json!({"content": "x"}),
    ))
    .await;
    assert_eq!(status, 429);
    assert_eq!(body["retry_after"], 1.25);
    assert_eq!(headers["retry-after"], "2");
    assert_eq!(headers["x-ratelimit-scope"], "user");

    // Interactions: 204 once, 40060 the second time; type 7 edits the message.
    let button = json!({"content": "q", "components": [{"type": 1, "components": [
        {"type": 2, "style": 3, "label": "Yes", "custom_id": "yes"}]}]});
    let (_, message, _) = read(post(&format!("/channels/{CHANNEL}/messages"), button)).await;
    let id = message["id"].as_str().unwrap();
    let click = fake.click(id, "yes", &FakeUser::human("ann")).unwrap();
    let token = fake.interaction_token(&click);
    let callback = format!("/interactions/{click}/{token}/callback");
    let update = json!({"type": 7, "data": {"content": "done", "components": []}});
    let (status, ..) = read(post(&callback, update.clone())).await;
    assert_eq!(status, 204);
    assert_eq!(fake.message(id)["content"], "done");
    assert_eq!(fake.message(id)["components"], json!([]));
    let (status, body, _) = read(post(&callback, update)).await;
    assert_eq!((status, body["code"].clone()), (400, json!(40060)));
    assert!(
        fake.click(id, "yes", &FakeUser::human("ann")).is_err(),
        "the button is gone"
    );
    let violations = fake.violations();
    assert!(
        violations.iter().any(|v| v.contains("second callback")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn a_late_callback_is_refused_and_recorded() {
    let fake = FakeDiscord::start_with(Options {
        interaction_deadline: Duration::ZERO,
        ..Options::default()
    })
    .await;
    openfeedback::http::install_crypto();
    let http = reqwest::Client::new();
    let message = http
        .post(format!("{}/channels/{CHANNEL}/messages", fake.api_base()))
        .header("authorization", format!("Bot {}", fake.token()))
        .header("user-agent", "DiscordBot (https://example.com, 1.0)")
        .json(
            &json!({"content": "q", "components": [{"type": 1, "components": [
            {"type": 2, "style": 3, "label": "Yes", "custom_id": "yes"}]}]}),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let click = fake
        .click(
            message["id"].as_str().unwrap(),
            "yes",
            &FakeUser::human("ann"),
        )
        .unwrap();
    let token = fake.interaction_token(&click);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let response = http
        .post(format!(
            "{}/interactions/{click}/{token}/callback",
            fake.api_base()
        ))
        .header("user-agent", "DiscordBot (https://example.com, 1.0)")
        .json(&json!({"type": 6}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], 10062);
    assert_eq!(fake.late_callbacks().len(), 1);
}
