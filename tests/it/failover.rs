//! The gate across two real providers: the fake Telegram and the fake Discord, one `send`.

use std::time::Duration;

use serde_json::Value;

use crate::support::fake_discord::{FakeDiscord, FakeUser};
use crate::support::fake_telegram::{self, FakeTelegram, Message, TOKEN, User};
use crate::support::{Run, Sandbox};

const WAIT: Duration = Duration::from_secs(20);

struct Both {
    sb: Sandbox,
    tg: FakeTelegram,
    dc: FakeDiscord,
    tg_ann: User,
    dc_ann: FakeUser,
    chat: i64,
}

impl Both {
    async fn new() -> Both {
        let tg = FakeTelegram::start().await;
        let tg_ann = User {
            id: 111,
            first_name: "Ann".into(),
            username: Some("ann".into()),
        };
        let chat = tg.add_private_chat(&tg_ann);
        Both {
            sb: Sandbox::new(),
            tg,
            dc: FakeDiscord::start().await,
            tg_ann,
            dc_ann: FakeUser::human("ann"),
            chat,
        }
    }

    /// A config with both providers; `top` holds the top-level keys.
    fn config(&self, top: &str) -> String {
        let text = format!(
            "{top}\nreject_feedback_timeout = 0\n\n[telegram]\nbot_token = \"{TOKEN}\"\nchat_id = {}\napi_base = \"{}\"\n\n{}",
            self.chat,
            self.tg.base_url(),
            self.dc.config_section(&[&self.dc_ann], false)
        );
        self.sb.write_config(&text).to_str().unwrap().to_owned()
    }

    fn send(&self, config: &str, args: &[&str]) -> tokio::process::Child {
        let mut all = vec!["send", "--config", config, "--title", "Deploy?"];
        all.extend_from_slice(args);
        self.sb.command(&all).spawn().expect("spawn send")
    }

    async fn telegram_request(&self) -> Message {
        self.tg
            .wait_message(|m| m.chat_id == self.chat && m.reply_markup.is_some(), WAIT)
            .await
    }

    fn telegram_now(&self, message: &Message) -> Message {
        self.tg
            .message(message.chat_id, message.message_id)
            .unwrap()
    }

    fn telegram_button(message: &Message, suffix: &str) -> String {
        fake_telegram::buttons(message)
            .into_iter()
            .map(|(_, data)| data)
            .find(|d| d.ends_with(suffix))
            .unwrap()
    }

    async fn discord_request(&self) -> Value {
        tokio::time::timeout(WAIT, self.dc.request_message())
            .await
            .expect("the request reached Discord")
    }

    async fn discord_click(&self, message: &Value, suffix: &str) -> Value {
        let id = message["id"].as_str().unwrap();
        let custom_id = self.dc.button(id, suffix).expect("button");
        let click = self.dc.click(id, &custom_id, &self.dc_ann).unwrap();
        self.dc.callback(&click).await.body
    }
}

fn discord_components(message: &Value) -> usize {
    message["components"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_telegram_escalates_to_discord_which_decides() {
    let t = Both::new().await;
    let config = t.config("default_provider = \"telegram\"\nfailover_provider = \"discord\"\nescalate_after_secs = 2\ndefault_timeout = 60");
    let child = t.send(&config, &[]);
    let tg_msg = t.telegram_request().await;
    let dc_msg = t.discord_request().await;

    // Telegram was withdrawn before Discord got live buttons, and says where the request went.
    let withdrawn = t.telegram_now(&tg_msg);
    assert!(
        withdrawn.text.contains("moved to Discord"),
        "{}",
        withdrawn.text
    );
    assert!(fake_telegram::buttons(&withdrawn).is_empty());
    // A click still racing on the old Telegram message decides nothing and says where to go.
    let late = t.tg.click_stale(
        t.chat,
        tg_msg.message_id,
        &Both::telegram_button(&tg_msg, ":y"),
        &t.tg_ann,
    );
    assert_eq!(
        t.tg.wait_callback_answer(&late, WAIT).await.text.as_deref(),
        Some("This request moved to Discord.")
    );

    let callback = t.discord_click(&dc_msg, ":y").await;
    assert_eq!(callback["type"], 7);
    let run = Run::wait(child).await;
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["decision"], "approved");
    assert_eq!(json["provider"], "discord");
    assert_eq!(json["escalated_from"], "telegram");
    assert_eq!(json["user_id_str"], t.dc_ann.id.as_str());
    assert_eq!(t.sb.audit()[0]["escalated_from"], "telegram");
    t.dc.assert_clean();
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_telegram_fails_over_at_once() {
    let t = Both::new().await;
    t.tg.stop().await;
    // Escalation by silence would take 50 s; a failure must not wait for it.
    let config = t.config("default_provider = \"telegram\"\nfailover_provider = \"discord\"\nescalate_after_secs = 50\ndefault_timeout = 100");
    let child = t.send(&config, &[]);
    let dc_msg = t.discord_request().await;
    t.discord_click(&dc_msg, ":n").await;
    let run = Run::wait(child).await;
    run.assert_code(1);
    let json = run.json();
    assert_eq!(json["decision"], "rejected");
    assert_eq!(json["provider"], "discord");
    assert_eq!(json["escalated_from"], "telegram");
    assert!(!run.stderr.contains(TOKEN), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn both_silent_time_out_and_both_are_cleaned_up() {
    let t = Both::new().await;
    let config = t.config(
        "default_provider = \"telegram\"\nfailover_provider = \"discord\"\nescalate_after_secs = 2",
    );
    let child = t.send(&config, &["--timeout", "5"]);
    let tg_msg = t.telegram_request().await;
    let dc_msg = t.discord_request().await;
    let run = Run::wait(child).await;
    run.assert_code(2);
    let json = run.json();
    assert_eq!(json["decision"], "timeout");
    assert_eq!(json["escalated_from"], "telegram");

    let tg_after = t.telegram_now(&tg_msg);
    assert!(
        tg_after.text.contains("moved to Discord"),
        "{}",
        tg_after.text
    );
    assert!(fake_telegram::buttons(&tg_after).is_empty());
    let dc_after = t.dc.message(dc_msg["id"].as_str().unwrap());
    assert_eq!(
        discord_components(&dc_after),
        0,
        "Discord buttons removed: {dc_after}"
    );
    assert!(
        dc_after["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Timed out"),
        "{dc_after}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_shorter_than_the_configured_escalation_is_refused() {
    let t = Both::new().await;
    let config = t.config("default_provider = \"telegram\"\nfailover_provider = \"discord\"\nescalate_after_secs = 1800");
    let run = Run::wait(t.send(&config, &["--timeout", "600"])).await;
    run.assert_code(78);
    assert!(run.stderr.contains("escalate_after_secs"), "{}", run.stderr);
    assert!(run.stderr.contains("600s"), "{}", run.stderr);
    assert!(run.stderr.contains("config.toml:3"), "{}", run.stderr);
    // --provider means that provider alone: the same config is fine.
    let child = t.send(&config, &["--timeout", "3", "--provider", "telegram"]);
    let tg_msg = t.telegram_request().await;
    Run::wait(child).await.assert_code(2);
    assert!(t.telegram_now(&tg_msg).text.contains("Timed out"));
    assert!(t.dc.messages().is_empty(), "Discord was never used");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_escalation_is_half_the_timeout_in_force() {
    let t = Both::new().await;
    // default_timeout says an hour; --timeout 6 must escalate after 3 s, not 30 min.
    let config = t.config(
        "default_provider = \"telegram\"\nfailover_provider = \"discord\"\ndefault_timeout = 3600",
    );
    let child = t.send(&config, &["--timeout", "6"]);
    let tg_msg = t.telegram_request().await;
    let dc_msg = t.discord_request().await;
    assert!(t.telegram_now(&tg_msg).text.contains("moved to Discord"));
    t.discord_click(&dc_msg, ":y").await;
    let run = Run::wait(child).await;
    run.assert_code(0);
    assert_eq!(run.json()["escalated_from"], "telegram");
}

#[tokio::test(flavor = "multi_thread")]
async fn discord_first_then_telegram() {
    let t = Both::new().await;
    let config = t.config("default_provider = \"discord\"\nfailover_provider = \"telegram\"\nescalate_after_secs = 2\ndefault_timeout = 60");
    let child = t.send(&config, &[]);
    let dc_msg = t.discord_request().await;
    let tg_msg = t.telegram_request().await;
    let dc_after = t.dc.message(dc_msg["id"].as_str().unwrap());
    assert_eq!(discord_components(&dc_after), 0);
    assert!(
        dc_after["content"]
            .as_str()
            .unwrap_or_default()
            .contains("moved to Telegram"),
        "{dc_after}"
    );
    // A click racing on the withdrawn Discord message is told where the request went.
    let id = dc_msg["id"].as_str().unwrap();
    let approve = dc_msg["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let late = t.dc.click_on(&dc_msg, &approve, &t.dc_ann).unwrap();
    let told = t.dc.callback(&late).await.body;
    assert_eq!(told["data"]["flags"], 64, "ephemeral");
    assert_eq!(told["data"]["content"], "This request moved to Telegram.");
    assert_eq!(discord_components(&t.dc.message(id)), 0, "still withdrawn");

    t.tg.click(
        t.chat,
        tg_msg.message_id,
        &Both::telegram_button(&tg_msg, ":y"),
        &t.tg_ann,
    );
    let run = Run::wait(child).await;
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["provider"], "telegram");
    assert_eq!(json["escalated_from"], "discord");
    assert_eq!(json["user_id"], 111);
}
