//! Fault injection under `wrap`: the fake Telegram and the fake Discord misbehave while a
//! scripted agent (`tests/agents/stamp.py`) asks, and a human answers through them.
//!
//! Faults: a connection reset in the middle of a long poll, a poll whose answer is lost, the
//! server down for a while (and the click made meanwhile), bursts of 5xx, storms of 429, slow
//! answers, a `sendMessage` carried out whose answer is lost, a double click, and a Discord
//! Gateway that stops acknowledging heartbeats. Every test checks the same three things:
//! no decision is lost (each prompt is answered, with the human's answer), nothing is typed
//! twice (the agent keeps reading after its last prompt and logs anything extra), and no live
//! button is left behind (no message keeps a keyboard once wrap has exited).
//!
//! Outage length: `OPENFEEDBACK_FAULT_OUTAGE_SECS` (default 3 s, to keep the default suite
//! quick; `OPENFEEDBACK_FAULT_OUTAGE_SECS=30` runs the 30-second outage).
//!
//! Clock jumps: moving the machine's clock would disturb everything else on it, so the jump is
//! made for wrap alone with libfaketime (LD_PRELOAD; the test prints `SKIPPED:` without it,
//! unless `OPENFEEDBACK_TEST_FAKETIME=require`; `tests/run` installs it where it can).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::Sandbox;
use crate::support::fake_discord::{FakeDiscord, FakeUser, Options};
use crate::support::fake_telegram::{FakeTelegram, Message, User};
use crate::support::telegram_rig::{Config, Rig};

const WAIT: Duration = Duration::from_secs(40);

fn outage() -> Duration {
    Duration::from_secs(
        std::env::var("OPENFEEDBACK_FAULT_OUTAGE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3),
    )
}

/// A sandbox with a config for one provider, and wrap around stamp.py in it.
struct Agent {
    sb: Sandbox,
    config: PathBuf,
}

impl Agent {
    fn new(config: &str) -> Agent {
        let sb = Sandbox::new();
        let config = sb.write_config(config);
        Agent { sb, config }
    }

    /// `wrap` headless around `stamp.py --count prompts`.
    fn spawn(&self, prompts: usize) -> tokio::process::Child {
        self.wrap(
            &[],
            &[
                "--count",
                &prompts.to_string(),
                "--chatter",
                "2",
                "--drain",
                "3",
            ],
        )
        .spawn()
        .expect("spawn wrap")
    }

    /// `wrap WRAP_OPTS` headless around `stamp.py STAMP_ARGS`, its stdout thrown away.
    fn wrap(&self, wrap_opts: &[&str], stamp_args: &[&str]) -> tokio::process::Command {
        let mut cmd = self.sb.wrap_stamp(
            Path::new(crate::support::bin()),
            &self.config,
            wrap_opts,
            stamp_args,
        );
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        cmd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.sb.agent_log()).unwrap_or_default()
    }

    /// Wait until the agent logged a line starting with `prefix`.
    async fn logged(&self, prefix: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.log().lines().any(|l| l.starts_with(prefix)) {
            assert!(
                Instant::now() < deadline,
                "the agent never logged {prefix:?}; its log:\n{}\nwrap log:\n{}",
                self.log(),
                self.sb.wrap_log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Wait for wrap to exit; check it exited 0 and that the agent read exactly one `answer`
    /// per prompt, in order, and nothing else.
    async fn finish(&self, mut child: tokio::process::Child, answers: &[&str]) {
        let status = tokio::time::timeout(WAIT, child.wait())
            .await
            .expect("wrap exits")
            .unwrap();
        let log = self.log();
        assert_eq!(
            status.code(),
            Some(0),
            "agent log:\n{log}\nwrap log:\n{}",
            self.sb.wrap_log()
        );
        let got: Vec<String> = log
            .lines()
            .filter(|l| l.starts_with("answer ") || l.starts_with("extra ") || *l == "done")
            .map(|l| {
                // "answer K TEXT NS" → "K TEXT"
                let words: Vec<&str> = l.split_whitespace().collect();
                match words[0] {
                    "answer" => format!("{} {}", words[1], words[2..words.len() - 1].join(" ")),
                    _ => l.to_owned(),
                }
            })
            .collect();
        let want: Vec<String> = answers
            .iter()
            .enumerate()
            .map(|(k, a)| format!("{k} {a}"))
            .chain(std::iter::once("done".to_owned()))
            .collect();
        assert_eq!(
            got,
            want,
            "each prompt answered once, nothing typed twice\nwrap log:\n{}",
            self.sb.wrap_log()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Telegram

struct Telegram {
    fake: FakeTelegram,
    ann: User,
    chat: i64,
    agent: Agent,
}

impl Telegram {
    async fn new() -> Telegram {
        let Rig {
            fake,
            sb,
            ann,
            chat,
            config,
        } = Rig::new(Config::reject_feedback_timeout(0)).await;
        Telegram {
            fake,
            ann,
            chat,
            agent: Agent { sb, config },
        }
    }

    /// The live request for prompt `k`.
    async fn request(&self, k: usize) -> Message {
        let step = format!("Step {k}:");
        self.fake
            .wait_message(|m| m.has_keyboard() && m.text.contains(&step), WAIT)
            .await
    }

    /// The `n` messages with live buttons posted for prompt `k`, oldest first.
    async fn copies(&self, k: usize, n: usize) -> Vec<Message> {
        let step = format!("Step {k}:");
        let deadline = Instant::now() + WAIT;
        loop {
            let copies: Vec<Message> = self
                .fake
                .bot_messages(self.chat)
                .into_iter()
                .filter(|m| m.has_keyboard() && m.text.contains(&step))
                .collect();
            if copies.len() >= n {
                return copies;
            }
            assert!(
                Instant::now() < deadline,
                "{} copies of prompt {k}, not {n}\nwrap log:\n{}",
                copies.len(),
                self.agent.sb.wrap_log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Click the button whose label contains `label`; returns the callback query id.
    fn click(&self, message: &Message, label: &str) -> String {
        self.fake.click(
            self.chat,
            message.message_id,
            &message.callback_data(label),
            &self.ann,
        )
    }

    /// No message of the chat keeps a keyboard, and `prompts` requests were posted (a
    /// request posted twice would be a second message).
    fn assert_no_live_buttons(&self, prompts: usize) {
        let messages = self.fake.bot_messages(self.chat);
        let live: Vec<&Message> = messages.iter().filter(|m| m.has_keyboard()).collect();
        assert!(
            live.is_empty(),
            "live buttons left behind: {live:#?}\nwrap log:\n{}",
            self.agent.sb.wrap_log()
        );
        let requests = messages
            .iter()
            .filter(|m| m.text.contains("proceed?") && m.reply_to.is_none())
            .count();
        assert!(
            requests >= prompts,
            "{requests} request messages for {prompts} prompts"
        );
    }

    fn assert_callbacks_answered(&self) {
        assert_eq!(self.fake.unanswered_callbacks(), Vec::<String>::new());
    }

    /// Answer prompt `k` with Yes and wait until the agent read it.
    async fn approve(&self, k: usize) {
        let message = self.request(k).await;
        self.click(&message, "Yes");
        self.agent.logged(&format!("answer {k} ")).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_reset_in_the_middle_of_a_poll_loses_nothing() {
    let t = Telegram::new().await;
    let child = t.agent.spawn(2);
    let message = t.request(0).await;
    // The long poll is waiting: cut it.
    t.fake.wait_call(|c| c.method == "getupdates", WAIT).await;
    t.fake.reset_connections().await;
    t.click(&message, "Yes");
    t.agent.logged("answer 0 ").await;
    // The poll that carries the next click loses its answer: the click comes again.
    t.fake.lose_answer_next("getUpdates", 1);
    t.fake.reset_connections().await;
    t.approve(1).await;
    t.agent.finish(child, &["y", "y"]).await;
    t.assert_no_live_buttons(2);
    t.assert_callbacks_answered();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_loses_no_decision_and_posts_once_it_is_over() {
    let t = Telegram::new().await;
    // Down before the first prompt: the request is posted when the server is back.
    t.fake.stop().await;
    let child = t.agent.spawn(2);
    t.agent.logged("asked 0 ").await;
    tokio::time::sleep(outage()).await;
    t.fake.restart().await;
    let message = t.request(0).await;
    // Down after posting: the human clicks meanwhile; the click counts once it is back.
    t.fake.wait_call(|c| c.method == "getupdates", WAIT).await;
    t.fake.stop().await;
    t.click(&message, "Yes");
    tokio::time::sleep(outage()).await;
    t.fake.restart().await;
    t.agent.logged("answer 0 ").await;
    t.approve(1).await;
    t.agent.finish(child, &["y", "y"]).await;
    t.assert_no_live_buttons(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bursts_of_server_errors_are_ridden_out() {
    let t = Telegram::new().await;
    t.fake.fail_next("sendMessage", 3, 502, "Bad Gateway");
    t.fake
        .fail_next("getUpdates", 4, 500, "Internal Server Error");
    t.fake
        .fail_next("answerCallbackQuery", 2, 500, "Internal Server Error");
    t.fake
        .fail_next("editMessageText", 3, 503, "Service Unavailable");
    let child = t.agent.spawn(2);
    t.approve(0).await;
    t.fake.fail_next("getUpdates", 3, 502, "Bad Gateway");
    t.fake
        .fail_next("editMessageText", 2, 500, "Internal Server Error");
    let message = t.request(1).await;
    t.click(&message, "No");
    t.agent.logged("answer 1 ").await;
    t.agent.finish(child, &["y", "n"]).await;
    t.assert_no_live_buttons(2);
    t.assert_callbacks_answered();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storm_of_429s_is_waited_out() {
    let t = Telegram::new().await;
    t.fake.rate_limit_next("sendMessage", 3, 1);
    t.fake.rate_limit_next("getUpdates", 3, 1);
    t.fake.rate_limit_next("answerCallbackQuery", 2, 1);
    t.fake.rate_limit_next("editMessageText", 2, 1);
    let child = t.agent.spawn(1);
    t.approve(0).await;
    t.agent.finish(child, &["y"]).await;
    t.assert_no_live_buttons(1);
    t.assert_callbacks_answered();
    let sends: Vec<u16> = t
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "sendmessage")
        .map(|c| c.status)
        .collect();
    assert_eq!(
        sends,
        vec![429, 429, 429, 200],
        "retried after retry_after, not sooner"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_answers_are_waited_for() {
    let t = Telegram::new().await;
    t.fake.delay_next("sendMessage", 1, Duration::from_secs(2));
    t.fake.delay_next("getUpdates", 2, Duration::from_secs(1));
    t.fake
        .delay_next("editMessageText", 2, Duration::from_secs(2));
    t.fake
        .delay_next("answerCallbackQuery", 1, Duration::from_millis(1500));
    let child = t.agent.spawn(1);
    t.approve(0).await;
    t.agent.finish(child, &["y"]).await;
    t.assert_no_live_buttons(1);
    t.assert_callbacks_answered();
    let posts = t
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "sendmessage")
        .count();
    assert_eq!(posts, 1, "a slow answer is not a reason to post again");
}

/// `sendMessage` is carried out but its answer is lost: the client cannot know the message
/// exists and posts again, so the human sees two copies. The Bot API has no idempotent send
/// and no way to find the lost message, so the copy wrap never heard of is cleaned up when it
/// is clicked: a click on it decides like one on the other copy (and both lose their
/// buttons), and a click on it once the request is over takes its buttons away.
#[tokio::test(flavor = "multi_thread")]
async fn a_post_whose_answer_is_lost_leaves_no_live_copy_once_clicked() {
    let t = Telegram::new().await;
    t.fake.lose_answer_next("sendMessage", 1);
    let child = t.agent.spawn(2);
    // The human clicks the copy wrap never heard of.
    let copies = t.copies(0, 2).await;
    t.click(&copies[0], "Yes");
    t.fake.lose_answer_next("sendMessage", 1);
    t.agent.logged("answer 0 ").await;
    // The human clicks the copy wrap knows, and the other one after the decision.
    let copies = t.copies(1, 2).await;
    t.click(&copies[1], "No");
    t.agent.logged("answer 1 ").await;
    t.agent.logged("feedback 1 ").await;
    let late = t.click(&copies[0], "No");
    t.fake.wait_callback_answer(&late, WAIT).await;
    let deadline = Instant::now() + WAIT;
    while t
        .fake
        .message(t.chat, copies[0].message_id)
        .is_some_and(|m| m.has_keyboard())
    {
        assert!(Instant::now() < deadline, "the stale copy kept its buttons");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.agent.finish(child, &["y", "n"]).await;
    t.assert_no_live_buttons(2);
    t.assert_callbacks_answered();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_double_click_types_once() {
    let t = Telegram::new().await;
    let child = t.agent.spawn(1);
    let message = t.request(0).await;
    let data = message.callback_data("Yes");
    let first = t.click(&message, "Yes");
    let second = t
        .fake
        .click_stale(t.chat, message.message_id, &data, &t.ann);
    t.agent.logged("answer 0 ").await;
    t.agent.finish(child, &["y"]).await;
    t.assert_no_live_buttons(1);
    for id in [first, second] {
        t.fake.wait_callback_answer(&id, WAIT).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Discord

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_that_stops_acking_is_replaced_and_the_click_typed_once() {
    // Short heartbeats make the zombie quick to spot; not so short that they break Discord's
    // 120-payloads-a-minute limit over the test.
    let fake = FakeDiscord::start_with(Options {
        heartbeat_interval: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let ann = FakeUser::human("ann");
    let agent = Agent::new(&format!(
        "default_provider = \"discord\"\nreject_feedback_timeout = 0\n\n{}",
        fake.config_section(&[&ann], false)
    ));
    let child = agent.spawn(2);
    let request = |n: usize| {
        let fake = &fake;
        async move {
            let message = fake.nth_request_message(n).await;
            let id = message["id"].as_str().unwrap().to_owned();
            let yes = fake.button(&id, ":y").expect("a Yes button");
            (id, yes)
        }
    };
    let (id, yes) = request(0).await;
    // Heartbeats go unacknowledged: the client must call the connection a zombie and resume
    // while the request waits; the click then comes through the new connection.
    fake.stop_acks();
    fake.resumed(1).await;
    let click = fake.click(&id, &yes, &ann).unwrap();
    assert_eq!(fake.callback(&click).await.body["type"], 7);
    agent.logged("answer 0 ").await;
    // The connection drops without a close frame and the human clicks meanwhile: the click
    // is replayed on Resume and typed once.
    let (id, yes) = request(1).await;
    fake.drop_connections();
    fake.click(&id, &yes, &ann).unwrap();
    fake.resumed(2).await;
    agent.logged("answer 1 ").await;
    agent.finish(child, &["y", "y"]).await;
    let live: Vec<Value> = fake
        .messages()
        .into_iter()
        .filter(|m| {
            m["components"]
                .as_array()
                .is_some_and(|rows| !rows.is_empty())
        })
        .collect();
    assert!(live.is_empty(), "live buttons left behind: {live:#?}");
    fake.assert_clean();
}

// ---------------------------------------------------------------------------------------------
// Clock jumps

/// libfaketime, which moves the wall clock of one process (and its children) without
/// privileges; `None` (and `SKIPPED:`) when it is not installed, unless
/// `OPENFEEDBACK_TEST_FAKETIME=require`.
fn libfaketime(test: &str) -> Option<PathBuf> {
    let found = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
        "/usr/local/lib/faketime/libfaketime.so.1",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("OPENFEEDBACK_TEST_FAKETIME").as_deref() != Ok("require"),
            "libfaketime is required (OPENFEEDBACK_TEST_FAKETIME=require) but not installed"
        );
        println!("SKIPPED: {test}: libfaketime is not installed");
    }
    found
}

/// The wall clock jumps two days ahead while a request waits, then a day back while the next
/// one waits. Neither may fire a timeout early or hold one back: every deadline is measured
/// with the monotonic clock (libfaketime leaves it alone here), the wall clock only stamps.
#[tokio::test(flavor = "multi_thread")]
async fn clock_jumps_neither_expire_nor_extend_a_request() {
    let Some(lib) = libfaketime("clock_jumps_neither_expire_nor_extend_a_request") else {
        return;
    };
    let t = Telegram::new().await;
    let clock = t.agent.sb.path().join("work/clock");
    std::fs::write(&clock, "+0\n").unwrap();
    let child = t
        .agent
        .wrap(
            &["--timeout", "8", "--on-timeout", "reject"],
            &["--count", "2", "--chatter", "1", "--drain", "1.5"],
        )
        .env("LD_PRELOAD", &lib)
        .env("FAKETIME_TIMESTAMP_FILE", &clock)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .spawn()
        .expect("spawn wrap");
    // Two days ahead: a deadline kept in wall-clock time would have passed long ago.
    let message = t.request(0).await;
    std::fs::write(&clock, "+2d\n").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ahead = |days: u64| {
        let at = std::time::SystemTime::now() + Duration::from_secs(days * 86_400);
        humantime::format_rfc3339_seconds(at).to_string()[..10].to_owned()
    };
    let before = ahead(2);
    t.click(&message, "Yes");
    t.agent.logged("answer 0 ").await;
    // The jump took: the decision is stamped two days ahead.
    let decided = t.fake.message(t.chat, message.message_id).unwrap().text;
    assert!(
        decided.contains(&before) || decided.contains(&ahead(2)),
        "no {before} in {decided:?}"
    );
    // A day back: a deadline kept in wall-clock time would be a day away. Nobody answers;
    // the 8-second timeout must still come, and --on-timeout types the reject.
    let message = t.request(1).await;
    std::fs::write(&clock, "-1d\n").unwrap();
    t.agent.logged("answer 1 ").await;
    let message = t.fake.message(t.chat, message.message_id).unwrap();
    assert!(!message.has_keyboard(), "{message:?}");
    t.agent.finish(child, &["y", "n"]).await;
    t.assert_no_live_buttons(2);
    let records: Vec<Value> = t.agent.sb.audit();
    let results: Vec<&str> = records
        .iter()
        .filter(|r| r["kind"] == "wrap")
        .map(|r| r["answered_at"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(results, vec!["remote", "timeout"], "{records:#?}");
}
