//! `send` over Telegram, end to end: the real binary against the fake Bot API.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::support::fake_telegram::{FakeTelegram, Message, TOKEN, User};
use crate::support::{Run, Sandbox};

const WAIT: Duration = Duration::from_secs(20);

struct Setup {
    fake: FakeTelegram,
    sb: Sandbox,
    ann: User,
    mallory: User,
    chat: i64,
    config: std::path::PathBuf,
}

fn user(id: i64, name: &str) -> User {
    User {
        id,
        first_name: name.to_owned(),
        username: Some(name.to_lowercase()),
    }
}

impl Setup {
    async fn new(extra: &str) -> Setup {
        let fake = FakeTelegram::start().await;
        let ann = user(111, "Ann");
        let mallory = user(666, "Mallory");
        let chat = fake.add_private_chat(&ann);
        let sb = Sandbox::new();
        let config = sb.write_config(&format!(
            "default_provider = \"telegram\"\nreject_feedback_timeout = 10\n{extra}\n[telegram]\nbot_token = \"{TOKEN}\"\nchat_id = {chat}\napi_base = \"{}\"\n",
            fake.base_url()
        ));
        Setup {
            fake,
            sb,
            ann,
            mallory,
            chat,
            config,
        }
    }

    fn send(&self, args: &[&str]) -> tokio::process::Child {
        let mut all = vec!["send", "--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        self.sb.command(&all).spawn().expect("spawn send")
    }

    /// The request message, once it is posted with its keyboard.
    async fn request(&self) -> Message {
        self.fake
            .wait_message(
                |m| m.chat_id == self.chat && m.reply_markup.is_some() && m.reply_to.is_none(),
                WAIT,
            )
            .await
    }

    fn data(message: &Message, label_part: &str) -> String {
        crate::support::fake_telegram::buttons(message)
            .into_iter()
            .find(|(text, _)| text.contains(label_part))
            .unwrap_or_else(|| panic!("no button {label_part:?} in {:?}", message.reply_markup))
            .1
    }

    fn current(&self, message: &Message) -> Message {
        self.fake
            .message(message.chat_id, message.message_id)
            .expect("message still there")
    }
}

fn assert_no_keyboard(message: &Message) {
    let keys = crate::support::fake_telegram::buttons(message);
    assert!(keys.is_empty(), "buttons left on the message: {keys:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn approve() {
    let t = Setup::new("").await;
    let child = t.send(&[
        "--title",
        "Deploy <prod>?",
        "--body",
        "3 commits & a migration",
        "--label",
        "ci",
    ]);
    let msg = t.request().await;
    assert!(
        msg.html.contains("<b>Deploy &lt;prod&gt;?</b>"),
        "{}",
        msg.html
    );
    assert!(msg.text.contains("3 commits & a migration"));
    assert!(msg.text.contains("Session: ci"));
    assert!(msg.text.contains("Answer by"));
    let cb = t.fake.click(
        t.chat,
        msg.message_id,
        &Setup::data(&msg, "Approve"),
        &t.ann,
    );
    let answer = t.fake.wait_callback_answer(&cb, WAIT).await;
    assert_eq!(answer.text.as_deref(), Some("Approved ✔"));

    let run = Run::wait(child).await;
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["decision"], "approved");
    assert_eq!(json["user"], "@ann");
    assert_eq!(json["user_id"], 111);
    assert_eq!(json["feedback"], Value::Null);
    assert_eq!(json["request_title"], "Deploy <prod>?");
    assert_eq!(json["provider"], "telegram");
    assert!(json.get("escalated_from").is_none());
    assert!(json["timestamp"].as_str().unwrap().ends_with('Z'));

    let after = t.current(&msg);
    assert!(after.text.contains("Approved by @ann at"), "{}", after.text);
    assert_no_keyboard(&after);
    assert!(t.fake.unanswered_callbacks().is_empty());

    let audit = t.sb.audit();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["decision"], "approved");
    assert_eq!(audit[0]["request_id"], json["request_id"]);
    assert_eq!(audit[0]["user_id"], "111");
}

#[tokio::test(flavor = "multi_thread")]
async fn reject_without_a_reason() {
    let t = Setup::new("").await;
    let child = t.send(&["--title", "Drop table?"]);
    let msg = t.request().await;
    t.fake
        .click(t.chat, msg.message_id, &Setup::data(&msg, "Reject"), &t.ann);
    let prompt = t
        .fake
        .wait_message(|m| m.reply_to == Some(msg.message_id), WAIT)
        .await;
    assert!(prompt.text.contains("Why reject"), "{}", prompt.text);
    assert!(crate::support::fake_telegram::is_force_reply(&prompt));
    // Nobody types a reason: after reject_feedback_timeout (10 s) the rejection stands.
    let run = Run::wait(child).await;
    run.assert_code(1);
    assert_eq!(run.json()["decision"], "rejected");
    assert_eq!(run.json()["feedback"], Value::Null);
    assert!(t.current(&msg).text.contains("Rejected by @ann"));
}

#[tokio::test(flavor = "multi_thread")]
async fn reject_with_a_reason_replied_to_the_prompt() {
    let t = Setup::new("").await;
    let child = t.send(&["--title", "Drop table?"]);
    let msg = t.request().await;
    t.fake
        .click(t.chat, msg.message_id, &Setup::data(&msg, "Reject"), &t.ann);
    let prompt = t
        .fake
        .wait_message(|m| m.reply_to == Some(msg.message_id), WAIT)
        .await;
    // Noise first: a plain message, a reply by an untrusted user, a sticker reply.
    t.fake.say(t.chat, "unrelated chatter", &t.ann);
    t.fake
        .reply(t.chat, prompt.message_id, "let it burn", &t.mallory);
    t.fake.reply_sticker(t.chat, prompt.message_id, &t.ann);
    t.fake
        .reply(t.chat, prompt.message_id, "use a migration instead", &t.ann);
    let run = Run::wait(child).await;
    run.assert_code(1);
    let json = run.json();
    assert_eq!(json["decision"], "rejected");
    assert_eq!(json["feedback"], "use a migration instead");
    let after = t.current(&msg);
    assert!(
        after.text.contains("Reason: use a migration instead"),
        "{}",
        after.text
    );
    assert_no_keyboard(&after);
}

#[tokio::test(flavor = "multi_thread")]
async fn reject_feedback_timeout_zero_skips_the_question() {
    let t = Setup::new("").await;
    let config = std::fs::read_to_string(&t.config).unwrap().replace(
        "reject_feedback_timeout = 10",
        "reject_feedback_timeout = 0",
    );
    std::fs::write(&t.config, config).unwrap();
    let child = t.send(&["--title", "x"]);
    let msg = t.request().await;
    t.fake
        .click(t.chat, msg.message_id, &Setup::data(&msg, "Reject"), &t.ann);
    Run::wait(child).await.assert_code(1);
    assert_eq!(
        t.fake.bot_messages(t.chat).len(),
        1,
        "no reason prompt was sent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_reply_approves_with_a_note() {
    let t = Setup::new("").await;
    let child = t.send(&["--title", "Ship it?"]);
    let msg = t.request().await;
    t.fake.reply_sticker(t.chat, msg.message_id, &t.ann);
    t.fake
        .reply(t.chat, msg.message_id, "sure, I'm watching", &t.mallory);
    t.fake.reply(
        t.chat,
        msg.message_id,
        "yes, but watch the error rate",
        &t.ann,
    );
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_eq!(run.json()["feedback"], "yes, but watch the error rate");
    let after = t.current(&msg);
    assert!(
        after.text.contains("Note: yes, but watch the error rate"),
        "{}",
        after.text
    );
    assert_no_keyboard(&after);
}

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_and_stale_clicks_decide_nothing() {
    let t = Setup::new("").await;
    let child = t.send(&["--title", "Ship it?"]);
    let msg = t.request().await;
    let approve = Setup::data(&msg, "Approve");

    let cb = t.fake.click(t.chat, msg.message_id, &approve, &t.mallory);
    let answer = t.fake.wait_callback_answer(&cb, WAIT).await;
    assert_eq!(
        answer.text.as_deref(),
        Some("You are not allowed to answer this request.")
    );

    // A button of an old request (another id) in the same chat.
    let stale = approve.replacen(&approve[4..20], "AAAAAAAAAAAAAAAA", 1);
    let cb = t.fake.click_stale(t.chat, msg.message_id, &stale, &t.ann);
    let answer = t.fake.wait_callback_answer(&cb, WAIT).await;
    assert_eq!(answer.text.as_deref(), Some("This request has expired."));
    // Data that is not ours at all.
    let cb = t
        .fake
        .click_stale(t.chat, msg.message_id, "approve", &t.ann);
    assert_eq!(
        t.fake.wait_callback_answer(&cb, WAIT).await.text.as_deref(),
        Some("This request has expired.")
    );

    assert!(
        crate::support::fake_telegram::buttons(&t.current(&msg)).len() == 2,
        "still live"
    );
    t.fake
        .click(t.chat, msg.message_id, &Setup::data(&msg, "Reject"), &t.ann);
    let prompt = t
        .fake
        .wait_message(|m| m.reply_to == Some(msg.message_id), WAIT)
        .await;
    t.fake.reply(t.chat, prompt.message_id, "no", &t.ann);
    let run = Run::wait(child).await;
    run.assert_code(1);
    assert_eq!(run.json()["user"], "@ann");
    assert!(t.fake.unanswered_callbacks().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_click_from_another_chat_is_refused() {
    let t = Setup::new("").await;
    // The same bot also posts into a group (another config, another request).
    let group = -1_001_234_567_890;
    t.fake.add_group(group, "elsewhere", false);
    let other = t.sb.write(
        "group.toml",
        &std::fs::read_to_string(&t.config).unwrap().replace(
            &format!("chat_id = {}", t.chat),
            &format!("chat_id = {group}\nallow_any_member = true"),
        ),
    );
    let elsewhere =
        t.sb.command(&[
            "send",
            "--config",
            other.to_str().unwrap(),
            "--title",
            "group",
            "--timeout",
            "1",
        ])
        .spawn()
        .unwrap();
    let group_msg = t
        .fake
        .wait_message(|m| m.chat_id == group && m.reply_markup.is_some(), WAIT)
        .await;
    // Let it finish, so the process under test is the only one polling.
    Run::wait(elsewhere).await.assert_code(2);

    let child = t.send(&["--title", "Ship it?", "--timeout", "4"]);
    let msg = t.request().await;
    // Our request id, but on a message in another chat: refused by the process that owns it.
    let cb = t.fake.click_stale(
        group,
        group_msg.message_id,
        &Setup::data(&msg, "Approve"),
        &t.ann,
    );
    let answer = t.fake.wait_callback_answer(&cb, WAIT).await;
    assert_eq!(answer.text.as_deref(), Some("This request has expired."));
    let run = Run::wait(child).await;
    run.assert_code(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_removes_the_buttons() {
    let t = Setup::new("").await;
    let child = t.send(&["--title", "Anyone?", "--timeout", "2"]);
    let msg = t.request().await;
    let run = Run::wait(child).await;
    run.assert_code(2);
    let json = run.json();
    assert_eq!(json["decision"], "timeout");
    assert_eq!(json["user"], "");
    assert_eq!(json["user_id"], 0);
    let after = t.current(&msg);
    assert!(after.text.contains("Timed out at"), "{}", after.text);
    assert_no_keyboard(&after);
    assert_eq!(t.sb.audit()[0]["decision"], "timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_send_is_retried() {
    let t = Setup::new("").await;
    t.fake.rate_limit_next("sendMessage", 1, 1);
    let child = t.send(&["--title", "Ship it?"]);
    let msg = t.request().await;
    t.fake.click(
        t.chat,
        msg.message_id,
        &Setup::data(&msg, "Approve"),
        &t.ann,
    );
    Run::wait(child).await.assert_code(0);
    let sends = t
        .fake
        .calls()
        .iter()
        .filter(|c| c.method == "sendmessage")
        .count();
    assert_eq!(sends, 2, "one 429, one success");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_and_failing_polls_are_retried() {
    let t = Setup::new("").await;
    t.fake.rate_limit_next("getUpdates", 1, 1);
    t.fake.fail_next("getUpdates", 2, 502, "Bad Gateway");
    let child = t.send(&["--title", "Ship it?"]);
    let msg = t.request().await;
    t.fake.click(
        t.chat,
        msg.message_id,
        &Setup::data(&msg, "Approve"),
        &t.ann,
    );
    Run::wait(child).await.assert_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_down_then_up() {
    let t = Setup::new("").await;
    t.fake.stop().await;
    let child = t.send(&["--title", "Ship it?"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    t.fake.restart().await;
    let msg = t.request().await;
    t.fake.click(
        t.chat,
        msg.message_id,
        &Setup::data(&msg, "Approve"),
        &t.ann,
    );
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert!(!run.stderr.contains(TOKEN), "token leaked: {}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_until_the_deadline_is_an_error_not_a_timeout() {
    let t = Setup::new("").await;
    t.fake.stop().await;
    let run = Run::wait(t.send(&["--title", "Ship it?", "--timeout", "3"])).await;
    run.assert_code(69);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("telegram"), "{}", run.stderr);
    assert!(
        !run.stderr.contains(TOKEN) && !run.stderr.contains("AAHfake"),
        "token leaked: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_exits_69_without_leaking_it() {
    let t = Setup::new("").await;
    let wrong = "987654321:AAHwrongwrongwrongwrongwrong-XYZ";
    let config = std::fs::read_to_string(&t.config)
        .unwrap()
        .replace(TOKEN, wrong);
    std::fs::write(&t.config, config).unwrap();
    let run = Run::wait(t.send(&["--title", "x"])).await;
    run.assert_code(69);
    assert!(run.stderr.contains("Unauthorized"), "{}", run.stderr);
    assert!(
        !run.stderr.contains(wrong) && !run.stderr.contains("AAHwrong"),
        "token leaked: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_can_come_from_the_environment() {
    let t = Setup::new("").await;
    let config = std::fs::read_to_string(&t.config)
        .unwrap()
        .replace(&format!("bot_token = \"{TOKEN}\"\n"), "");
    std::fs::write(&t.config, config).unwrap();
    let mut cmd = t.sb.command(&[
        "send",
        "--config",
        t.config.to_str().unwrap(),
        "--title",
        "env",
    ]);
    cmd.env("OPENFEEDBACK_TELEGRAM_BOT_TOKEN", TOKEN);
    let child = cmd.spawn().unwrap();
    let msg = t.request().await;
    t.fake.click(
        t.chat,
        msg.message_id,
        &Setup::data(&msg, "Approve"),
        &t.ann,
    );
    Run::wait(child).await.assert_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_withdraws_the_request() {
    let t = Setup::new("").await;
    let child = t.send(&["--title", "Ship it?"]);
    let msg = t.request().await;
    let pid = child.id().unwrap();
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    unsafe { libc::kill(pid.cast_signed(), libc::SIGTERM) };
    let run = Run::wait(child).await;
    run.assert_code(143);
    assert!(run.stdout.is_empty(), "no decision printed: {}", run.stdout);
    let after = t.current(&msg);
    assert!(after.text.contains("Withdrawn at"), "{}", after.text);
    assert_no_keyboard(&after);
    assert_eq!(t.sb.audit()[0]["decision"], "cancelled");
}

#[tokio::test(flavor = "multi_thread")]
async fn long_bodies_are_cut_with_a_marker() {
    let t = Setup::new("").await;
    let body = t.sb.write("body.md", &"All work and no play. ".repeat(500));
    let child = t.send(&[
        "--title",
        "Long",
        "--body-file",
        body.to_str().unwrap(),
        "--timeout",
        "2",
    ]);
    let msg = t.request().await;
    assert!(msg.text.contains("… (truncated)"), "{}", msg.text);
    assert!(msg.text.chars().count() <= 4096);
    Run::wait(child).await.assert_code(2);
    // The edited message, with its status line, also fits.
    assert!(t.current(&msg).text.chars().count() <= 4096);
}

#[tokio::test(flavor = "multi_thread")]
async fn body_from_stdin_and_no_body_at_all() {
    let t = Setup::new("").await;
    let child = t.send(&["--title", "No body", "--timeout", "2"]);
    let msg = t.request().await;
    assert!(
        msg.text.starts_with("🔔 No body\n\nAsked from"),
        "{:?}",
        msg.text
    );
    Run::wait(child).await.assert_code(2);

    let mut cmd = t.sb.command(&[
        "send",
        "--config",
        t.config.to_str().unwrap(),
        "--title",
        "stdin",
        "--body-file",
        "-",
        "--timeout",
        "2",
    ]);
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"from a pipe").await.unwrap();
    drop(stdin);
    let msg = t
        .fake
        .wait_message(|m| m.text.contains("from a pipe"), WAIT)
        .await;
    assert!(msg.text.contains("stdin"));
    Run::wait(child).await.assert_code(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn chinese_locale() {
    let t = Setup::new("locale = \"zh-CN\"").await;
    let child = t.send(&["--title", "部署？"]);
    let msg = t.request().await;
    assert!(Setup::data(&msg, "批准").starts_with("of1:"));
    t.fake
        .click(t.chat, msg.message_id, &Setup::data(&msg, "批准"), &t.ann);
    Run::wait(child).await.assert_code(0);
    assert!(t.current(&msg).text.contains("批准"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_never_reaches_messages_or_the_audit_log() {
    let t = Setup::new("").await;
    let child = t.send(&["--title", "Ship it?"]);
    let msg = t.request().await;
    t.fake.click(
        t.chat,
        msg.message_id,
        &Setup::data(&msg, "Approve"),
        &t.ann,
    );
    let run = Run::wait(child).await;
    run.assert_code(0);
    for call in t.fake.calls() {
        assert!(
            !call.params.to_string().contains(TOKEN),
            "token in {} params",
            call.method
        );
    }
    let audit = std::fs::read_to_string(t.sb.default_audit_path()).unwrap();
    assert!(!audit.contains(TOKEN));
    let mode = std::fs::metadata(t.sb.default_audit_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread")]
async fn long_polls_confirm_offsets_and_do_not_spin() {
    let t = Setup::new("").await;
    let child = t.send(&["--title", "Ship it?"]);
    let msg = t.request().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let polls: Vec<_> = t
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "getupdates")
        .collect();
    assert!(
        polls.len() <= 2,
        "a long poll, not a spin: {} polls in 2 s",
        polls.len()
    );
    assert!(
        polls.iter().all(|p| p.int("timeout").unwrap_or(0) >= 25),
        "timeout param"
    );
    t.fake.click(
        t.chat,
        msg.message_id,
        &Setup::data(&msg, "Approve"),
        &t.ann,
    );
    Run::wait(child).await.assert_code(0);
    assert_eq!(t.fake.max_concurrent_pollers(), 1);
    assert_eq!(t.fake.conflicts(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn https_proxy_is_honoured() {
    // The fake is plain HTTP, so HTTP_PROXY applies: a proxy that forwards and records.
    let t = Setup::new("").await;
    let proxy = crate::support::proxy::RecordingProxy::start().await;
    let mut cmd = t.sb.command(&[
        "send",
        "--config",
        t.config.to_str().unwrap(),
        "--title",
        "via proxy",
    ]);
    cmd.env("HTTP_PROXY", proxy.url(None)).env("NO_PROXY", "");
    let child = cmd.spawn().unwrap();
    let msg = t.request().await;
    t.fake.click(
        t.chat,
        msg.message_id,
        &Setup::data(&msg, "Approve"),
        &t.ann,
    );
    Run::wait(child).await.assert_code(0);
    let seen = proxy.seen();
    assert!(
        seen.iter().any(|s| s.line.contains("/sendMessage")),
        "{seen:?}"
    );
}
