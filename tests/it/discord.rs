//! `send --provider discord` against the fake Discord: buttons, the reason form, replies,
//! refusals, withdrawal, REST faults, Gateway faults, bad tokens, intents and proxies.

use serde_json::{Value, json};

use crate::support::fake_discord::{self, FakeDiscord, FakeUser, Options};
use crate::support::proxy::RecordingProxy;
use crate::support::{Run, Sandbox};

/// A sandbox, a fake Discord and Ann, the trusted human.
struct Case {
    sb: Sandbox,
    fake: FakeDiscord,
    ann: FakeUser,
}

impl Case {
    async fn new() -> Case {
        Self::with(Options::default()).await
    }

    async fn with(options: Options) -> Case {
        Case {
            sb: Sandbox::new(),
            fake: FakeDiscord::start_with(options).await,
            ann: FakeUser::human("ann"),
        }
    }

    /// The text of a config for Discord alone.
    fn config_text(&self, with_gateway_url: bool) -> String {
        format!(
            "default_provider = \"discord\"\ndefault_timeout = 60\nreject_feedback_timeout = 30\n\n{}",
            self.fake.config_section(&[&self.ann], with_gateway_url)
        )
    }

    /// Write `text` as the config; returns its path.
    fn write(&self, text: &str) -> String {
        self.sb.write_config(text).to_str().unwrap().to_owned()
    }

    /// The path of a config for Discord alone.
    fn config(&self, with_gateway_url: bool) -> String {
        self.write(&self.config_text(with_gateway_url))
    }

    /// Start `send` with `args` added, and these environment variables.
    fn send(&self, config: &str, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Child {
        let mut all = vec![
            "send",
            "--provider",
            "discord",
            "--config",
            config,
            "--title",
            "Deploy to prod?",
            "--body",
            "`git push origin main` then *migrate*",
        ];
        all.extend_from_slice(args);
        let mut cmd = self.sb.command(&all);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("spawn openfeedback")
    }

    /// The request message's id, and the custom id of its button ending with `suffix`.
    async fn button(&self, suffix: &str) -> (String, String) {
        let message = self.fake.request_message().await;
        let id = message["id"].as_str().unwrap().to_owned();
        let custom_id = self.fake.button(&id, suffix).expect("the button exists");
        (id, custom_id)
    }

    /// Click Approve as Ann and check the click was answered with type 7.
    async fn approve(&self) -> String {
        let (id, approve) = self.button(":y").await;
        let click = self.fake.click(&id, &approve, &self.ann).unwrap();
        let callback = self.fake.callback(&click).await;
        assert_eq!(callback.body["type"], 7, "{callback:?}");
        id
    }
}

fn components(message: &Value) -> usize {
    message["components"].as_array().map_or(0, Vec::len)
}

fn content(message: &Value) -> &str {
    message["content"].as_str().unwrap_or_default()
}

fn assert_no_token(run: &Run, token: &str) {
    assert!(
        !run.stderr.contains(token),
        "token leaked on stderr: {}",
        run.stderr
    );
    assert!(
        !run.stdout.contains(token),
        "token leaked on stdout: {}",
        run.stdout
    );
}

#[tokio::test]
async fn approve_by_button() {
    let case = Case::new().await;
    let child = case.send(&case.config(false), &[], &[]);
    let message = case.fake.request_message().await;

    // What Discord received: buttons with our ids, no pings, Discord's User-Agent.
    let post = case
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .unwrap();
    assert_eq!(post.body["allowed_mentions"], json!({"parse": []}));
    assert!(
        post.user_agent
            .starts_with("DiscordBot (https://github.com/antx-code/openfeedback, ")
    );
    let row = &message["components"][0]["components"];
    assert_eq!(row[0]["style"], 3);
    assert_eq!(row[1]["style"], 4);
    assert!(row[0]["custom_id"].as_str().unwrap().starts_with("of1:"));
    assert!(content(&message).contains("**Deploy to prod?**"));
    assert_eq!(
        message["embeds"][0]["description"],
        "`git push origin main` then *migrate*"
    );
    assert!(
        message["embeds"][0]["footer"]["text"]
            .as_str()
            .unwrap()
            .contains("Reply to this message to approve with a note.")
    );

    let id = case.approve().await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["decision"], "approved");
    assert_eq!(out["user"], "ann");
    assert_eq!(out["provider"], "discord");
    assert_eq!(out["feedback"], Value::Null);
    // The snowflake's digits, exactly (it is above 2^53).
    assert!(
        run.stdout.contains(&format!("\"user_id\":{}", case.ann.id)),
        "{}",
        run.stdout
    );
    assert_eq!(out["user_id_str"], case.ann.id.as_str());

    let after = case.fake.message(&id);
    assert_eq!(components(&after), 0, "buttons gone: {after}");
    assert!(content(&after).contains("Approved by ann"), "{after}");
    assert_eq!(case.fake.identify_count(), 1);
    case.fake.assert_clean();
}

#[tokio::test]
async fn reject_opens_a_modal_and_the_reason_is_the_feedback() {
    let case = Case::new().await;
    let child = case.send(&case.config(false), &[], &[]);
    let (id, reject) = case.button(":n").await;
    let click = case.fake.click(&id, &reject, &case.ann).unwrap();
    let opened = case.fake.callback(&click).await;
    assert_eq!(opened.body["type"], 9, "{opened:?}");
    let modal = &opened.body["data"];
    assert_eq!(modal["components"][0]["type"], 18, "a Label");
    assert_eq!(
        modal["components"][0]["component"]["type"], 4,
        "a Text Input"
    );

    // The decision shows at once, with a way back into the form.
    let held = case
        .fake
        .message_where(&id, "the rejection recorded", |m| {
            content(m).contains("Rejected by ann")
        })
        .await;
    let buttons = held["components"][0]["components"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(buttons.len(), 1, "{held}");
    assert!(
        buttons[0]["label"]
            .as_str()
            .unwrap()
            .contains("Add a reason")
    );

    // The human dismisses the form (Discord tells nobody), then reopens it.
    let again = case
        .fake
        .click(&id, buttons[0]["custom_id"].as_str().unwrap(), &case.ann)
        .unwrap();
    assert_eq!(case.fake.callback(&again).await.body["type"], 9);
    let submit = case
        .fake
        .submit_modal(&again, &[("reason", "tests are red")], &case.ann)
        .unwrap();
    let updated = case.fake.callback(&submit).await;
    assert_eq!(updated.body["type"], 7, "{updated:?}");

    let run = Run::wait(child).await;
    run.assert_code(1);
    let out = run.json();
    assert_eq!(out["decision"], "rejected");
    assert_eq!(out["feedback"], "tests are red");
    let after = case.fake.message(&id);
    assert_eq!(components(&after), 0);
    assert!(content(&after).contains("Reason: tests are red"), "{after}");
    case.fake.assert_clean();
}

#[tokio::test]
async fn a_reject_stands_without_a_reason_when_none_comes() {
    let case = Case::new().await;
    let config = case.write(&case.config_text(false).replace(
        "reject_feedback_timeout = 30",
        "reject_feedback_timeout = 1",
    ));
    let child = case.send(&config, &[], &[]);
    let (id, reject) = case.button(":n").await;
    let click = case.fake.click(&id, &reject, &case.ann).unwrap();
    assert_eq!(case.fake.callback(&click).await.body["type"], 9);
    let run = Run::wait(child).await;
    run.assert_code(1);
    assert_eq!(run.json()["feedback"], Value::Null);
    let after = case.fake.message(&id);
    assert_eq!(
        components(&after),
        0,
        "the form's button is gone too: {after}"
    );
    assert!(content(&after).contains("Rejected by ann"), "{after}");
    case.fake.assert_clean();
}

#[tokio::test]
async fn reject_without_a_reason_when_feedback_is_off() {
    let case = Case::new().await;
    let config = case.write(&case.config_text(false).replace(
        "reject_feedback_timeout = 30",
        "reject_feedback_timeout = 0",
    ));
    let child = case.send(&config, &[], &[]);
    let (id, reject) = case.button(":n").await;
    let click = case.fake.click(&id, &reject, &case.ann).unwrap();
    assert_eq!(case.fake.callback(&click).await.body["type"], 7);
    let run = Run::wait(child).await;
    run.assert_code(1);
    assert_eq!(run.json()["feedback"], Value::Null);
    case.fake.assert_clean();
}

#[tokio::test]
async fn a_reply_approves_with_feedback() {
    let case = Case::new().await;
    let child = case.send(&case.config(false), &[], &[]);
    let message = case.fake.request_message().await;
    let id = message["id"].as_str().unwrap();
    // Neither a stranger's reply nor a reply to another message counts.
    case.fake.reply(id, "approve!", &FakeUser::human("mallory"));
    case.fake
        .reply(id, "ship it, but watch the error rate", &case.ann);

    let run = Run::wait(child).await;
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["user"], "ann");
    assert_eq!(out["feedback"], "ship it, but watch the error rate");
    let after = case.fake.message(id);
    assert_eq!(components(&after), 0);
    assert!(
        content(&after).contains("Note: ship it, but watch the error rate"),
        "{after}"
    );
    case.fake.assert_clean();
}

#[tokio::test]
async fn an_untrusted_click_is_refused_and_decides_nothing() {
    let case = Case::new().await;
    let child = case.send(&case.config(false), &[], &[]);
    let (id, approve) = case.button(":y").await;
    let mallory = FakeUser::human("mallory");
    let click = case.fake.click(&id, &approve, &mallory).unwrap();
    let refused = case.fake.callback(&click).await;
    assert_eq!(refused.body["type"], 4);
    assert_eq!(refused.body["data"]["flags"], 64, "ephemeral");
    assert!(
        refused.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("not allowed")
    );
    assert_eq!(
        components(&case.fake.message(&id)),
        1,
        "buttons still there"
    );

    case.approve().await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_eq!(run.json()["user"], "ann");
    case.fake.assert_clean();
}

#[tokio::test]
async fn a_click_on_an_old_request_is_told_it_expired() {
    let case = Case::new().await;
    let config = case.config(false);
    // A first process posts, then dies without cleaning up: its buttons stay.
    let mut first = case.send(&config, &[], &[]);
    let (old_id, old_approve) = case.button(":y").await;
    first.kill().await.unwrap();

    let second = case.send(&config, &[], &[]);
    let fresh = case.fake.nth_request_message(1).await;
    let click = case.fake.click(&old_id, &old_approve, &case.ann).unwrap();
    let expired = case.fake.callback(&click).await;
    assert_eq!(expired.body["type"], 4);
    assert_eq!(expired.body["data"]["flags"], 64);
    assert!(
        expired.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let fresh_id = fresh["id"].as_str().unwrap();
    let approve = case.fake.button(fresh_id, ":y").unwrap();
    let click = case.fake.click(fresh_id, &approve, &case.ann).unwrap();
    assert_eq!(case.fake.callback(&click).await.body["type"], 7);
    let run = Run::wait(second).await;
    run.assert_code(0);
    case.fake.assert_clean();
}

#[tokio::test]
async fn timeout_removes_the_buttons() {
    let case = Case::new().await;
    let child = case.send(&case.config(false), &["--timeout", "2"], &[]);
    let message = case.fake.request_message().await;
    let run = Run::wait(child).await;
    run.assert_code(2);
    assert_eq!(run.json()["decision"], "timeout");
    let after = case.fake.message(message["id"].as_str().unwrap());
    assert_eq!(components(&after), 0, "{after}");
    assert!(content(&after).contains("Timed out"), "{after}");
    case.fake.assert_clean();
}

#[tokio::test]
async fn sigterm_withdraws_the_request() {
    let case = Case::new().await;
    let child = case.send(&case.config(false), &[], &[]);
    let message = case.fake.request_message().await;
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: sending a signal to a child process we started and have not reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let run = Run::wait(child).await;
    run.assert_code(143);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let after = case.fake.message(message["id"].as_str().unwrap());
    assert_eq!(components(&after), 0, "{after}");
    assert!(content(&after).contains("Withdrawn"), "{after}");
    case.fake.assert_clean();
}

/// SIGTERM while the post is still being retried: whatever the post creates is withdrawn,
/// so no live button is left behind.
#[tokio::test]
async fn sigterm_while_posting_leaves_no_live_buttons() {
    let case = Case::new().await;
    case.fake.rate_limit_next("POST", "/messages", 1, 1.0);
    let child = case.send(&case.config(false), &[], &[]);
    case.fake
        .request_where("the rate-limited post", |r| r.status == 429)
        .await;
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: sending a signal to a child process we started and have not reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let run = Run::wait(child).await;
    run.assert_code(143);
    let messages = case.fake.messages();
    assert_eq!(
        messages.len(),
        1,
        "the retried post went through: {messages:#?}"
    );
    for message in messages {
        assert_eq!(components(&message), 0, "{message}");
        assert!(content(&message).contains("Withdrawn"), "{message}");
    }
    case.fake.assert_clean();
}

#[tokio::test]
async fn a_429_on_the_first_post_is_waited_out() {
    let case = Case::new().await;
    case.fake.rate_limit_next("POST", "/messages", 1, 0.4);
    let child = case.send(&case.config(false), &[], &[]);
    case.approve().await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    let posts: Vec<u16> = case
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![429, 200]);
    case.fake.assert_clean();
}

#[tokio::test]
async fn a_burst_of_server_errors_is_retried() {
    let case = Case::new().await;
    case.fake.fail_next("POST", "/messages", 3, 502);
    let child = case.send(&case.config(false), &[], &[]);
    case.approve().await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    let posts: Vec<u16> = case
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![502, 502, 502, 200]);
    case.fake.assert_clean();
}

/// Heartbeats that go unacknowledged: the client must call the connection a zombie, close
/// it with a code that keeps the session, and resume on the resume URL.
#[tokio::test]
async fn a_zombie_connection_is_replaced_and_resumed() {
    let case = Case::with(Options {
        heartbeat_interval: std::time::Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let child = case.send(&case.config(false), &[], &[]);
    case.fake.request_message().await;
    case.fake.stop_acks();
    case.fake.resumed(1).await;
    case.approve().await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_eq!(case.fake.identify_count(), 1, "resumed, not re-identified");
    let connections = case.fake.connections();
    assert_eq!(connections[0].client_close, Some(4000), "{connections:?}");
    assert_eq!(connections[1].path, "/resume");
    assert_eq!(connections[1].opened_with, Some("resume"));
    case.fake.assert_clean();
}

#[tokio::test]
async fn op_7_reconnect_resumes() {
    let case = Case::new().await;
    let child = case.send(&case.config(false), &[], &[]);
    case.fake.request_message().await;
    case.fake.send_reconnect();
    case.fake.resumed(1).await;
    case.approve().await;
    Run::wait(child).await.assert_code(0);
    assert_eq!(case.fake.identify_count(), 1);
    case.fake.assert_clean();
}

#[tokio::test]
async fn op_9_not_resumable_identifies_again() {
    let case = Case::new().await;
    let child = case.send(&case.config(false), &[], &[]);
    case.fake.request_message().await;
    case.fake.invalidate_sessions(false);
    case.fake.identified(2).await;
    case.approve().await;
    Run::wait(child).await.assert_code(0);
    assert_eq!(case.fake.resume_count(), 0);
    let connections = case.fake.connections();
    assert_eq!(
        connections[1].path, "/",
        "a new session starts on the gateway URL"
    );
    case.fake.assert_clean();
}

/// The connection drops without a close frame and the human clicks meanwhile: the click is
/// replayed on Resume and still decides.
#[tokio::test]
async fn a_dropped_connection_resumes_and_replays_the_click() {
    let case = Case::new().await;
    let child = case.send(&case.config(false), &[], &[]);
    let (id, approve) = case.button(":y").await;
    case.fake.drop_connections();
    let click = case.fake.click(&id, &approve, &case.ann).unwrap();
    case.fake.resumed(1).await;
    assert_eq!(case.fake.callback(&click).await.body["type"], 7);
    Run::wait(child).await.assert_code(0);
    assert_eq!(case.fake.identify_count(), 1);
    case.fake.assert_clean();
}

#[tokio::test]
async fn a_bad_token_on_the_gateway_is_a_clear_error() {
    let case = Case::new().await;
    let config = case.write(
        &case
            .config_text(true)
            .replace(fake_discord::TOKEN, "MTIz.wrong.token-value-secret"),
    );
    let run = Run::wait(case.send(&config, &[], &[])).await;
    run.assert_code(69);
    assert!(run.stderr.contains("4004"), "{}", run.stderr);
    assert!(run.stderr.contains("bot token"), "{}", run.stderr);
    assert_no_token(&run, "MTIz.wrong.token-value-secret");
    assert!(run.stdout.is_empty());
    assert!(case.fake.requests().is_empty(), "nothing posted");
}

#[tokio::test]
async fn a_bad_token_on_rest_is_a_clear_error() {
    let case = Case::new().await;
    let config = case.write(
        &case
            .config_text(false)
            .replace(fake_discord::TOKEN, "MTIz.wrong.token-value-secret"),
    );
    let run = Run::wait(case.send(&config, &[], &[])).await;
    run.assert_code(69);
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    assert!(run.stderr.contains("bot token"), "{}", run.stderr);
    assert_no_token(&run, "MTIz.wrong.token-value-secret");
}

/// The Message Content switch is off in the Developer Portal: the client says exactly which
/// switch to flip, identifies without the intent, and the buttons still decide.
#[tokio::test]
async fn disallowed_intents_name_the_switch_and_buttons_still_work() {
    let case = Case::with(Options {
        allow_message_content: false,
        ..Options::default()
    })
    .await;
    let child = case.send(&case.config(false), &[], &[]);
    case.fake.identified(1).await;
    let message = case.fake.request_message().await;
    assert!(
        !message["embeds"][0]["footer"]["text"]
            .as_str()
            .unwrap()
            .contains("Reply to this message"),
        "no reply hint without the intent"
    );
    case.approve().await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert!(run.stderr.contains("4014"), "{}", run.stderr);
    assert!(
        run.stderr.contains("\"Message Content Intent\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Privileged Gateway Intents"),
        "{}",
        run.stderr
    );
    let connections = case.fake.connections();
    assert_eq!(connections.len(), 2, "{connections:?}");
    case.fake.assert_clean();
}

#[tokio::test]
async fn reply_feedback_off_asks_for_no_privileged_intent() {
    let case = Case::with(Options {
        allow_message_content: false,
        ..Options::default()
    })
    .await;
    let config = case.write(
        &case
            .config_text(false)
            .replace("[discord]\n", "[discord]\nreply_feedback = false\n"),
    );
    let child = case.send(&config, &[], &[]);
    case.approve().await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert!(!run.stderr.contains("4014"), "{}", run.stderr);
    assert_eq!(case.fake.connections().len(), 1);
    case.fake.assert_clean();
}

#[tokio::test]
async fn rest_and_gateway_go_through_the_proxy_with_credentials() {
    let case = Case::new().await;
    let proxy = RecordingProxy::start().await;
    let url = proxy.url(Some("agent:s%40cret"));
    let child = case.send(
        &case.config(false),
        &[],
        &[("HTTPS_PROXY", &url), ("HTTP_PROXY", &url)],
    );
    case.approve().await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert!(!run.stderr.contains("s@cret") && !run.stderr.contains("s%40cret"));

    let seen = proxy.seen();
    let gateway = format!("CONNECT 127.0.0.1:{} HTTP/1.1", case.fake.gateway_port());
    assert!(seen.iter().any(|s| s.line == gateway), "{seen:#?}");
    let api = format!("http://127.0.0.1:{}/api/v10/", case.fake.api_port());
    assert!(seen.iter().any(|s| s.line.contains(&api)), "{seen:#?}");
    // base64("agent:s@cret")
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Basic YWdlbnQ6c0BjcmV0")),
        "{seen:#?}"
    );
    case.fake.assert_clean();
}

#[tokio::test]
async fn no_proxy_is_honoured() {
    let case = Case::new().await;
    let proxy = RecordingProxy::start().await;
    let url = proxy.url(None);
    let child = case.send(
        &case.config(false),
        &[],
        &[("HTTP_PROXY", &url), ("NO_PROXY", "localhost,127.0.0.1")],
    );
    case.approve().await;
    Run::wait(child).await.assert_code(0);
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
}

#[tokio::test]
async fn a_proxy_that_is_down_is_an_error_not_a_direct_connection() {
    let case = Case::new().await;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://user:hunter2@127.0.0.1:{}",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let run = Run::wait(case.send(
        &case.config(true),
        &["--timeout", "3"],
        &[("HTTP_PROXY", &url), ("HTTPS_PROXY", &url)],
    ))
    .await;
    run.assert_code(69);
    assert!(run.stderr.contains("proxy"), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    assert!(case.fake.connections().is_empty(), "connected directly");
    assert!(case.fake.requests().is_empty(), "called directly");
}

#[tokio::test]
async fn an_https_proxy_is_refused_with_an_explanation() {
    let case = Case::new().await;
    let run = Run::wait(case.send(
        &case.config(true),
        &[],
        &[("HTTP_PROXY", "https://user:hunter2@127.0.0.1:9")],
    ))
    .await;
    run.assert_code(69);
    assert!(
        run.stderr.contains("use an http:// proxy URL"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    assert!(case.fake.connections().is_empty());
}

/// The library seam: one process with two requests uses one Gateway connection, each click
/// reaches its own request, a withdrawn request tells late clicks where it went, and the
/// connection closes with 1000 once no ticket is left.
#[tokio::test]
async fn one_gateway_serves_every_ticket_and_closes_when_idle() {
    use openfeedback::config::{DiscordSettings, Snowflake, TrustedUsers};
    use openfeedback::provider::discord::Discord;
    use openfeedback::provider::{Closing, Provider, ProviderName, TicketEvent};
    use openfeedback::request::{Body, Choice, Origin, Request, Verdict};
    use std::sync::Arc;
    use std::time::Duration;

    let fake = FakeDiscord::start().await;
    let ann = FakeUser::human("ann");
    let settings = DiscordSettings {
        token: openfeedback::secret::Secret::new(fake.token()),
        application_id: Snowflake(fake_discord::APPLICATION.into()),
        channel_id: Snowflake(fake_discord::CHANNEL.into()),
        trusted: TrustedUsers::Only(vec![Snowflake(ann.id.clone())]),
        api_base: fake.api_base(),
        gateway_url: None,
        reply_feedback: true,
    };
    let discord = Discord::new(
        openfeedback::http::client().unwrap(),
        settings,
        openfeedback::i18n::Locale::En,
        &|_| None,
    );
    let request = |title: &str| {
        let mut r = Request::new(
            title,
            Body::Text(String::new()),
            Origin::default(),
            Duration::from_secs(60),
        );
        r.choices = vec![
            Choice {
                id: "y".into(),
                label: "Approve".into(),
                verdict: Verdict::Approve,
                asks_reason: false,
            },
            Choice {
                id: "n".into(),
                label: "Reject".into(),
                verdict: Verdict::Reject,
                asks_reason: true,
            },
        ];
        Arc::new(r)
    };
    let mut first = discord.open(request("first"));
    let mut second = discord.open(request("second"));
    for ticket in [&mut first, &mut second] {
        assert!(matches!(ticket.next().await, Some(TicketEvent::Posted)));
    }
    let messages = [
        fake.nth_request_message(0).await,
        fake.nth_request_message(1).await,
    ];
    let (first_message, second_message) = if content(&messages[0]).contains("first") {
        (messages[0].clone(), messages[1].clone())
    } else {
        (messages[1].clone(), messages[0].clone())
    };

    // The first request escalates; a click racing the withdrawal is told where it went.
    first
        .close(Closing::Escalated {
            to: ProviderName::Telegram,
        })
        .await;
    let withdrawn = fake.message(first_message["id"].as_str().unwrap());
    assert_eq!(components(&withdrawn), 0);
    assert!(
        content(&withdrawn).contains("moved to Telegram"),
        "{withdrawn}"
    );
    let approve = first_message["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap();
    let late = fake.click_on(&first_message, approve, &ann).unwrap();
    let told = fake.callback(&late).await;
    assert_eq!(told.body["type"], 4);
    assert_eq!(told.body["data"]["flags"], 64);
    assert_eq!(
        told.body["data"]["content"],
        "This request moved to Telegram."
    );

    // The second one is still live and gets its own click.
    let second_id = second_message["id"].as_str().unwrap();
    let approve = fake.button(second_id, ":y").unwrap();
    let click = fake.click(second_id, &approve, &ann).unwrap();
    assert_eq!(fake.callback(&click).await.body["type"], 7);
    match second.next().await {
        Some(TicketEvent::Answered(reply)) => {
            assert_eq!(reply.verdict, Verdict::Approve);
            assert_eq!(reply.by.id, ann.id);
        }
        other => panic!("expected an answer, got {other:?}"),
    }
    second.close(Closing::Done).await;
    assert_eq!(
        fake.connections().len(),
        1,
        "one connection for both tickets"
    );
    assert_eq!(fake.identify_count(), 1);

    drop(first);
    drop(second);
    let closed = fake
        .connection_where("the idle Gateway closed with 1000", |c| {
            c.client_close.is_some()
        })
        .await;
    assert_eq!(closed.client_close, Some(1000));
    fake.assert_clean();
}
