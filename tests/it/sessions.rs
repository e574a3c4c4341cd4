//! Many agents, one bot (issue 7): concurrent `send` processes share one Telegram poller and
//! one Discord Gateway, every request is answered once by its own process, a killed poller
//! loses nothing, and sessions get their own forum topics.
//!
//! The benchmarks are ignored tests that print the time from a click to the exit of the
//! process that owns the request: with 100 requests waiting (a click every 50 ms, then 100
//! clicks at once), and for a lone `send` (30 runs):
//!
//! ```text
//! cargo test --release --test it sessions::bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `OPENFEEDBACK_TEST_BIN=/path/to/openfeedback` runs another build of the binary (e.g. an
//! older one, for comparison). `OPENFEEDBACK_RELAY_DEBUG=1` makes every process log the
//! relay's decisions to a file that a failing test prints.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::fake_discord::{FakeDiscord, FakeUser};
use crate::support::fake_telegram::{FakeTelegram, Message, TOKEN, User};
use crate::support::{Run, Sandbox};

const WAIT: Duration = Duration::from_secs(30);

/// A sandbox with a fake Telegram and a fake Discord, one config naming both, and Ann, who
/// may answer on both.
struct Bots {
    sb: Sandbox,
    tg: FakeTelegram,
    dc: FakeDiscord,
    ann: User,
    ann_dc: FakeUser,
    chat: i64,
    config: PathBuf,
}

impl Bots {
    async fn new() -> Bots {
        Self::with_telegram(None, "").await
    }

    /// `group`: post into this supergroup (a forum) instead of Ann's private chat.
    async fn with_telegram(group: Option<i64>, telegram_extra: &str) -> Bots {
        let tg = FakeTelegram::start().await;
        let dc = FakeDiscord::start().await;
        let ann = User::new(111, "Ann", Some("ann"));
        let ann_dc = FakeUser::human("ann");
        let private = tg.add_private_chat(&ann);
        let chat = match group {
            Some(id) => {
                tg.add_group(id, "agents", true);
                id
            }
            None => private,
        };
        let sb = Sandbox::new();
        let config = sb.write_config(&format!(
            "default_provider = \"telegram\"\ndefault_timeout = 120\nreject_feedback_timeout = 60\n\n\
             [telegram]\nbot_token = \"{TOKEN}\"\nchat_id = {chat}\ntrusted_user_ids = [111]\n\
             api_base = \"{}\"\n{telegram_extra}\n\n{}",
            tg.base_url(),
            dc.config_section(&[&ann_dc], false)
        ));
        Bots {
            sb,
            tg,
            dc,
            ann,
            ann_dc,
            chat,
            config,
        }
    }

    fn send(&self, provider: &str, title: &str, label: &str) -> tokio::process::Child {
        let mut cmd = self.sb.command(&[
            "send",
            "--config",
            self.config.to_str().unwrap(),
            "--provider",
            provider,
            "--title",
            title,
            "--label",
            label,
        ]);
        // With the relay's diagnostics on, every process logs to a file that a failing test
        // prints (see `Drop`).
        if let Some(debug) = std::env::var_os("OPENFEEDBACK_RELAY_DEBUG") {
            let logs = self.sb.path().join("logs");
            std::fs::create_dir_all(&logs).unwrap();
            let log = std::fs::File::create(logs.join(format!("{title}.log"))).unwrap();
            cmd.env("OPENFEEDBACK_RELAY_DEBUG", debug).stderr(log);
        }
        cmd.spawn().expect("spawn send")
    }

    /// The Telegram request message whose text contains `title`.
    async fn tg_request(&self, title: &str) -> Message {
        self.tg
            .wait_message(
                |m| m.chat_id == self.chat && m.has_keyboard() && m.text.contains(title),
                WAIT,
            )
            .await
    }

    /// The Discord request message whose content contains `title`, once `count` exist.
    async fn dc_request(&self, title: &str, count: usize) -> Value {
        self.dc.nth_request_message(count - 1).await;
        self.dc
            .messages()
            .into_iter()
            .find(|m| m["content"].as_str().unwrap_or_default().contains(title))
            .unwrap_or_else(|| panic!("no Discord message for {title:?}"))
    }

    fn tg_click(&self, message: &Message, label: &str) -> String {
        let data = message
            .buttons()
            .into_iter()
            .find(|(text, _)| text.contains(label))
            .unwrap_or_else(|| panic!("no button {label:?}"))
            .1;
        self.tg
            .click(self.chat, message.message_id, &data, &self.ann)
    }

    fn dc_click(&self, message: &Value, suffix: &str) -> String {
        let id = message["id"].as_str().unwrap();
        let button = self.dc.button(id, suffix).expect("the button is there");
        self.dc.click(id, &button, &self.ann_dc).unwrap()
    }

    /// The pid in the lock file of the bot whose files start with `prefix` (`tg-`, `dc-`):
    /// the process that polls (or holds the Gateway), or last did.
    fn leader(&self, prefix: &str) -> u32 {
        let dir = self.sb.runtime_dir().join("openfeedback");
        let lock = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with(prefix)
                    && p.extension().is_some_and(|e| e == "lock")
                    && !name.contains("topics")
            })
            .unwrap_or_else(|| panic!("no {prefix} lock file in {}", dir.display()));
        std::fs::read_to_string(lock)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Bots {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Ok(logs) = std::fs::read_dir(self.sb.path().join("logs")) else {
            return;
        };
        for log in logs.filter_map(Result::ok) {
            let text = std::fs::read_to_string(log.path()).unwrap_or_default();
            eprintln!("--- {}:\n{text}", log.file_name().to_string_lossy());
        }
    }
}

/// What the human does with one request.
#[derive(Clone, Debug)]
enum Plan {
    Approve,
    /// Reject, then give this reason (a reply to the prompt / the modal).
    Reason(String),
    /// Reply to the request: approved with this note.
    Note(String),
}

impl Plan {
    fn code(&self) -> i32 {
        match self {
            Plan::Reason(_) => 1,
            Plan::Approve | Plan::Note(_) => 0,
        }
    }

    fn feedback(&self) -> Value {
        match self {
            Plan::Approve => Value::Null,
            Plan::Reason(text) | Plan::Note(text) => json!(text),
        }
    }
}

/// A small xorshift generator, seeded from the OS and printed, so a failing order can be
/// replayed with `OPENFEEDBACK_TEST_SEED`.
struct Shuffle(u64);

impl Shuffle {
    fn new() -> Shuffle {
        let seed = std::env::var("OPENFEEDBACK_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let mut bytes = [0u8; 8];
                getrandom::fill(&mut bytes).unwrap();
                u64::from_le_bytes(bytes) | 1
            });
        eprintln!("shuffle seed: {seed} (set OPENFEEDBACK_TEST_SEED to replay)");
        Shuffle(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.next() % (i as u64 + 1)).unwrap();
            items.swap(i, j);
        }
    }
}

/// The getUpdates calls, for failure messages.
fn polls(tg: &FakeTelegram) -> String {
    let calls = tg.calls();
    let start = calls.first().map(|c| c.at);
    let mut out = String::new();
    for c in calls.iter().filter(|c| c.method == "getupdates") {
        let _ = writeln!(
            out,
            "+{:?} offset {:?} timeout {:?} -> {} ({} updates)",
            c.at - start.unwrap(),
            c.param("offset"),
            c.param("timeout"),
            c.status,
            c.response["result"].as_array().map_or(0, Vec::len)
        );
    }
    out
}

/// Wait for `child` (at most 45 s); if it hangs, kill it and show what it said.
async fn finish(child: tokio::process::Child) -> Run {
    let pid = child.id().expect("running");
    let mut output = tokio::spawn(child.wait_with_output());
    let Ok(done) = tokio::time::timeout(Duration::from_secs(45), &mut output).await else {
        // SAFETY: kill(2) with a pid we spawned and have not reaped.
        unsafe { libc::kill(pid.cast_signed(), libc::SIGKILL) };
        let out = output.await.unwrap().unwrap();
        panic!(
            "process {pid} hung; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let output = done.unwrap().unwrap();
    if std::env::var_os("OPENFEEDBACK_RELAY_DEBUG").is_some() {
        eprintln!(
            "--- {pid} exited {:?}:\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn signal(child: &tokio::process::Child, signal: i32) {
    let pid = child.id().expect("still running");
    // SAFETY: kill(2) with a pid we spawned (not yet reaped) and a valid signal number.
    unsafe { libc::kill(pid.cast_signed(), signal) };
}

/// Stop `child` (SIGSTOP) and wait until the kernel says it is stopped.
async fn stop(child: &tokio::process::Child) {
    signal(child, libc::SIGSTOP);
    let stat = format!("/proc/{}/stat", child.id().unwrap());
    for _ in 0..500 {
        let text = std::fs::read_to_string(&stat).unwrap_or_default();
        // `pid (comm) state ...`: the state follows the last ')'.
        let state = text.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        if state.is_some_and(|s| s.starts_with('T')) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("process {stat} did not stop");
}

/// One waiting process and what the human will do with it.
struct Asked {
    provider: &'static str,
    title: String,
    plan: Plan,
    child: Option<tokio::process::Child>,
    tg: Option<Message>,
    dc: Option<Value>,
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_processes_share_one_bot_and_each_gets_its_own_answer() {
    let bots = Bots::new().await;
    let mut rng = Shuffle::new();
    let mut asked: Vec<Asked> = Vec::new();
    for i in 0..20 {
        let provider = if i % 2 == 0 { "telegram" } else { "discord" };
        let title = format!("{provider} job {i:02}");
        let plan = match i % 3 {
            0 => Plan::Approve,
            1 => Plan::Reason(format!("no: {title} breaks prod")),
            _ => Plan::Note(format!("ok, but watch {title}")),
        };
        let child = bots.send(provider, &title, &format!("agent-{i:02}"));
        asked.push(Asked {
            provider,
            title,
            plan,
            child: Some(child),
            tg: None,
            dc: None,
        });
    }
    for a in &mut asked {
        if a.provider == "telegram" {
            let message = bots.tg_request(&a.title).await;
            let label = format!("Session: agent-{}", &a.title[a.title.len() - 2..]);
            assert!(message.text.contains(&label), "{}", message.text);
            a.tg = Some(message);
        } else {
            a.dc = Some(bots.dc_request(&a.title, 10).await);
        }
    }

    // First the clicks and the replies, in a random order across both bots.
    let mut order: Vec<usize> = (0..asked.len()).collect();
    rng.shuffle(&mut order);
    let mut modal_openers = Vec::new();
    for &i in &order {
        let a = &asked[i];
        match (&a.plan, &a.tg, &a.dc) {
            (Plan::Approve, Some(m), _) => drop(bots.tg_click(m, "Approve")),
            (Plan::Reason(_), Some(m), _) => drop(bots.tg_click(m, "Reject")),
            (Plan::Note(note), Some(m), _) => {
                bots.tg.reply(bots.chat, m.message_id, note, &bots.ann);
            }
            (Plan::Approve, _, Some(m)) => drop(bots.dc_click(m, ":y")),
            (Plan::Reason(_), _, Some(m)) => modal_openers.push((i, bots.dc_click(m, ":n"))),
            (Plan::Note(note), _, Some(m)) => {
                bots.dc.reply(m["id"].as_str().unwrap(), note, &bots.ann_dc);
            }
            _ => unreachable!(),
        }
    }
    // Then the reasons, in another random order: each is a reply to its own prompt (or its
    // own form), while the other rejected requests wait for theirs too.
    let mut reasons: Vec<usize> = (0..asked.len())
        .filter(|&i| matches!(asked[i].plan, Plan::Reason(_)))
        .collect();
    rng.shuffle(&mut reasons);
    for i in reasons {
        let a = &asked[i];
        let Plan::Reason(reason) = &a.plan else {
            unreachable!()
        };
        if let Some(m) = &a.tg {
            let prompt = bots
                .tg
                .wait_message(
                    |p| p.reply_to == Some(m.message_id) && p.is_force_reply(),
                    WAIT,
                )
                .await;
            bots.tg
                .reply(bots.chat, prompt.message_id, reason, &bots.ann);
        } else {
            let (_, opener) = modal_openers.iter().find(|(j, _)| *j == i).unwrap();
            assert_eq!(bots.dc.callback(opener).await.body["type"], 9, "a modal");
            bots.dc
                .submit_modal(opener, &[("reason", reason)], &bots.ann_dc)
                .unwrap();
        }
    }

    let runs =
        futures_util::future::join_all(asked.iter_mut().map(|a| finish(a.child.take().unwrap())));
    tokio::pin!(runs);
    let runs = tokio::select! {
        runs = &mut runs => runs,
        () = tokio::time::sleep(Duration::from_secs(40)) => {
            // Something hangs: say what the fakes saw before `finish` gives up.
            let callbacks: Vec<_> = bots
                .dc
                .callbacks()
                .iter()
                .map(|c| (c.interaction.clone(), c.body["type"].clone(), c.status))
                .collect();
            eprintln!(
                "Discord: connections {:#?}\nidentifies {} resumes {}\ncallbacks {callbacks:#?}\n\
                 Telegram polls:\n{}",
                bots.dc.connections(),
                bots.dc.identify_count(),
                bots.dc.resume_count(),
                polls(&bots.tg),
            );
            runs.await
        }
    };
    for (a, run) in asked.iter().zip(runs) {
        run.assert_code(a.plan.code());
        let out = run.json();
        assert_eq!(out["request_title"], a.title.as_str(), "{run:?}");
        assert_eq!(out["provider"], a.provider);
        assert_eq!(out["feedback"], a.plan.feedback(), "{}: {run:?}", a.title);
        assert!(out["user"].as_str().unwrap().contains("ann"));
    }

    assert_eq!(
        bots.tg.max_concurrent_pollers(),
        1,
        "one getUpdates at a time"
    );
    assert_eq!(bots.tg.conflicts(), 0, "no 409");
    assert!(bots.tg.unanswered_callbacks().is_empty());
    let polls = bots
        .tg
        .calls()
        .iter()
        .filter(|c| c.method == "getupdates")
        .count();
    eprintln!("getUpdates calls: {polls}");
    assert_eq!(
        bots.dc.identify_count(),
        1,
        "one Identify for ten processes"
    );
    eprintln!("Gateway resumes: {}", bots.dc.resume_count());
    assert_session_kept(&bots.dc);
    bots.dc.assert_clean();
}

/// Only the last Gateway connection may end the session (close 1000): every earlier one
/// belonged to a leader that left with others still waiting.
fn assert_session_kept(dc: &FakeDiscord) {
    let connections = dc.connections();
    let ended: Vec<_> = connections
        .iter()
        .enumerate()
        .filter(|(i, c)| c.client_close == Some(1000) && i + 1 < connections.len())
        .collect();
    assert!(
        ended.is_empty(),
        "a session was ended early: {connections:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_poller_loses_no_answer() {
    let bots = Bots::new().await;
    let titles: Vec<String> = (0..4).map(|i| format!("deploy {i}")).collect();
    let mut children: Vec<_> = titles
        .iter()
        .map(|t| Some(bots.send("telegram", t, t)))
        .collect();
    let mut messages = Vec::new();
    for title in &titles {
        messages.push(bots.tg_request(title).await);
    }
    let leader_pid = bots.leader("tg-");
    let leader = children
        .iter()
        .position(|c| c.as_ref().unwrap().id() == Some(leader_pid))
        .expect("the poller is one of ours");
    let followers: Vec<usize> = (0..4).filter(|&i| i != leader).collect();

    // Nobody polls: the followers are stopped, the poller is killed.
    for &i in &followers {
        stop(children[i].as_ref().unwrap()).await;
    }
    signal(children[leader].as_ref().unwrap(), libc::SIGKILL);
    let killed = finish(children[leader].take().unwrap()).await;
    assert_eq!(killed.code, None, "killed by a signal");
    let b = followers[0];
    let click_b = bots.tg_click(&messages[b], "Approve");
    // A click on the dead process's request: whoever polls next says it expired.
    let stale = bots.tg_click(&messages[leader], "Approve");
    tokio::time::sleep(Duration::from_millis(300)).await;
    if bots.tg.pending_updates() != 2 {
        eprintln!(
            "leader {leader_pid}, children {:?}, calls: {:#?}",
            children
                .iter()
                .map(|c| c.as_ref().and_then(tokio::process::Child::id))
                .collect::<Vec<_>>(),
            bots.tg
                .calls()
                .iter()
                .map(|c| (
                    c.method.clone(),
                    c.param("offset").map(str::to_owned),
                    c.status,
                    c.at
                ))
                .collect::<Vec<_>>()
        );
        for child in children.iter_mut().filter_map(Option::take) {
            signal(&child, libc::SIGKILL);
            let out = child.wait_with_output().await.unwrap();
            eprintln!("--- stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        panic!("the clicks did not wait at Telegram");
    }
    for &i in &followers {
        signal(children[i].as_ref().unwrap(), libc::SIGCONT);
    }

    let answer = bots.tg.wait_callback_answer(&click_b, WAIT).await;
    if answer.text.as_deref() != Some("Approved ✔") {
        for child in children.iter_mut().filter_map(Option::take) {
            signal(&child, libc::SIGKILL);
            let out = child.wait_with_output().await.unwrap();
            eprintln!("--- stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        panic!("B was told {answer:?}");
    }
    let run = finish(children[b].take().unwrap()).await;
    run.assert_code(0);
    assert_eq!(run.json()["request_title"], titles[b].as_str());
    let expired = bots.tg.wait_callback_answer(&stale, WAIT).await;
    assert_eq!(expired.text.as_deref(), Some("This request has expired."));

    // The others are still served by whoever polls now.
    let (c, d) = (followers[1], followers[2]);
    bots.tg_click(&messages[c], "Reject");
    let prompt = bots
        .tg
        .wait_message(|p| p.reply_to == Some(messages[c].message_id), WAIT)
        .await;
    bots.tg
        .reply(bots.chat, messages[d].message_id, "fine, go", &bots.ann);
    bots.tg
        .reply(bots.chat, prompt.message_id, "not today", &bots.ann);
    let run_c = finish(children[c].take().unwrap()).await;
    run_c.assert_code(1);
    assert_eq!(run_c.json()["feedback"], "not today");
    let run_d = finish(children[d].take().unwrap()).await;
    run_d.assert_code(0);
    assert_eq!(run_d.json()["feedback"], "fine, go");

    assert!(bots.tg.unanswered_callbacks().is_empty());
    assert_eq!(bots.tg.conflicts(), 0, "no 409");
    assert_eq!(bots.tg.max_concurrent_pollers(), 1, "{}", polls(&bots.tg));
    assert_ne!(bots.leader("tg-"), leader_pid, "a survivor took over");
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_gateway_holder_hands_its_session_over() {
    let bots = Bots::new().await;
    let titles: Vec<String> = (0..3).map(|i| format!("migrate {i}")).collect();
    let mut children: Vec<_> = titles
        .iter()
        .map(|t| Some(bots.send("discord", t, t)))
        .collect();
    let mut messages = Vec::new();
    for title in &titles {
        messages.push(bots.dc_request(title, 3).await);
    }
    let leader_pid = bots.leader("dc-");
    let leader = children
        .iter()
        .position(|c| c.as_ref().unwrap().id() == Some(leader_pid))
        .expect("the Gateway holder is one of ours");
    let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();

    for &i in &followers {
        stop(children[i].as_ref().unwrap()).await;
    }
    signal(children[leader].as_ref().unwrap(), libc::SIGKILL);
    finish(children[leader].take().unwrap()).await;
    // Clicked while no process holds the Gateway: Discord keeps it for the session.
    let b = followers[0];
    let click_b = bots.dc_click(&messages[b], ":y");
    let stale = bots.dc_click(&messages[leader], ":y");
    for &i in &followers {
        signal(children[i].as_ref().unwrap(), libc::SIGCONT);
    }

    assert_eq!(bots.dc.callback(&click_b).await.body["type"], 7);
    let run = finish(children[b].take().unwrap()).await;
    run.assert_code(0);
    assert_eq!(run.json()["request_title"], titles[b].as_str());
    let told = bots.dc.callback(&stale).await;
    assert_eq!(told.body["type"], 4);
    assert!(
        told.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{told:?}"
    );

    let c = followers[1];
    bots.dc.reply(
        messages[c]["id"].as_str().unwrap(),
        "go ahead",
        &bots.ann_dc,
    );
    let run = finish(children[c].take().unwrap()).await;
    run.assert_code(0);
    assert_eq!(run.json()["feedback"], "go ahead");

    assert_eq!(
        bots.dc.identify_count(),
        1,
        "the session was resumed, not replaced"
    );
    assert_session_kept(&bots.dc);
    assert!(bots.dc.resume_count() >= 1);
    bots.dc.assert_clean();
}

#[tokio::test(flavor = "multi_thread")]
async fn each_session_gets_its_own_forum_topic() {
    let group = -1_001_234_567_890;
    let bots = Bots::with_telegram(Some(group), "topic_per_session = true").await;
    let alpha_1 = bots.send("telegram", "alpha one", "alpha");
    let alpha_2 = bots.send("telegram", "alpha two", "alpha");
    let beta = bots.send("telegram", "beta one", "beta");
    let a1 = bots.tg_request("alpha one").await;
    let a2 = bots.tg_request("alpha two").await;
    let b1 = bots.tg_request("beta one").await;
    assert!(a1.thread_id.is_some(), "in a topic: {a1:?}");
    assert_eq!(a1.thread_id, a2.thread_id, "one topic per label");
    assert_ne!(a1.thread_id, b1.thread_id);
    let created = |bots: &Bots| {
        bots.tg
            .calls()
            .iter()
            .filter(|c| c.method == "createforumtopic" && c.status == 200)
            .map(|c| c.param("name").unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let mut names = created(&bots);
    names.sort();
    assert_eq!(names, ["alpha", "beta"]);

    // The reason prompt goes to the same topic, and the reason reaches its request.
    bots.tg_click(&a2, "Reject");
    let prompt = bots
        .tg
        .wait_message(|p| p.reply_to == Some(a2.message_id), WAIT)
        .await;
    assert_eq!(prompt.thread_id, a2.thread_id);
    bots.tg_click(&a1, "Approve");
    bots.tg_click(&b1, "Approve");
    bots.tg
        .reply(bots.chat, prompt.message_id, "wrong branch", &bots.ann);
    finish(alpha_1).await.assert_code(0);
    let run = finish(alpha_2).await;
    run.assert_code(1);
    assert_eq!(run.json()["feedback"], "wrong branch");
    finish(beta).await.assert_code(0);

    // A later process of the same session finds the topic again.
    let again = bots.send("telegram", "alpha three", "alpha");
    let a3 = bots.tg_request("alpha three").await;
    assert_eq!(a3.thread_id, a1.thread_id);
    assert_eq!(created(&bots).len(), 2, "no new topic");
    bots.tg_click(&a3, "Approve");
    finish(again).await.assert_code(0);
}

/// A request message on either bot.
enum Target {
    Tg(Message),
    Dc(Value),
}

/// Time from a click to the exit of the process that owns the request, with `n` requests
/// waiting on one bot; one latency per request.
async fn click_to_exit(provider: &str, n: usize, spacing: Duration) -> Vec<Duration> {
    let bots = Bots::new().await;
    let titles: Vec<String> = (0..n).map(|i| format!("bench {i:03}")).collect();
    let mut children: Vec<_> = titles
        .iter()
        .map(|t| Some(bots.send(provider, t, t)))
        .collect();
    let mut targets = Vec::new();
    for title in &titles {
        targets.push(if provider == "telegram" {
            Target::Tg(bots.tg_request(title).await)
        } else {
            Target::Dc(bots.dc_request(title, n).await)
        });
    }
    // Let every process finish posting and settle into waiting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let exits: Vec<_> = children
        .iter_mut()
        .map(|c| {
            let mut child = c.take().unwrap();
            tokio::spawn(async move {
                let status = child.wait().await.unwrap();
                (Instant::now(), status.code())
            })
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    Shuffle::new().shuffle(&mut order);
    let mut clicked = vec![Instant::now(); n];
    for &i in &order {
        clicked[i] = Instant::now();
        match &targets[i] {
            Target::Tg(m) => drop(bots.tg_click(m, "Approve")),
            Target::Dc(m) => drop(bots.dc_click(m, ":y")),
        }
        if !spacing.is_zero() {
            tokio::time::sleep(spacing).await;
        }
    }
    let mut latencies = Vec::new();
    for (i, exit) in exits.into_iter().enumerate() {
        let (at, code) = exit.await.unwrap();
        assert_eq!(code, Some(0), "{}", titles[i]);
        latencies.push(at - clicked[i]);
    }
    if provider == "telegram" {
        assert_eq!(bots.tg.conflicts(), 0);
        assert_eq!(bots.tg.max_concurrent_pollers(), 1);
    } else {
        assert_eq!(bots.dc.identify_count(), 1);
    }
    latencies
}

/// Print the median, the 95th percentile and the maximum of `latencies`.
fn report(what: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let n = latencies.len();
    let median = latencies[n / 2];
    let p95 = latencies[(n * 95).div_ceil(100) - 1];
    eprintln!(
        "{what}: median {median:.1?}, p95 {p95:.1?}, max {:.1?} ({n} samples)",
        latencies[n - 1]
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn bench_click_to_exit() {
    for provider in ["telegram", "discord"] {
        let spaced = click_to_exit(provider, 100, Duration::from_millis(50)).await;
        report(
            &format!("{provider}, 100 waiting, a click every 50 ms"),
            spaced,
        );
        let burst = click_to_exit(provider, 100, Duration::ZERO).await;
        report(
            &format!("{provider}, 100 waiting, 100 clicks at once"),
            burst,
        );
    }
}

/// The single-process path: one `send` alone, 30 times (compare builds with
/// `OPENFEEDBACK_TEST_BIN=/path/to/openfeedback`).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn bench_lone_click_to_exit() {
    for provider in ["telegram", "discord"] {
        let mut latencies = Vec::new();
        for _ in 0..30 {
            latencies.extend(click_to_exit(provider, 1, Duration::ZERO).await);
        }
        report(&format!("{provider}, a lone send"), latencies);
    }
}
