//! The latency half of the benchmark suite (`.ci/bench` runs it; ignored by `cargo test`).
//!
//! `wrap` runs `tests/agents/stamp.py` headless against the fake Telegram:
//! - detection: the agent stamps CLOCK_REALTIME right after the write of its prompt returns
//!   (its last output byte); the fake stamps the `sendMessage` that posts the request when the
//!   request arrives. The fake's stamps are `Instant`s, mapped to wall time through one anchor.
//! - answer: the test stamps the wall time before it delivers the click (the update is handed
//!   to the waiting long poll at once); the agent stamps the line it read.
//! - long polls: with one request left pending, the `getUpdates` calls that reach the fake in
//!   a window, and the context switches of every wrap thread over it.
//!
//! Environment: `OPENFEEDBACK_BENCH_BIN` (the binary to measure; default: this profile's),
//! `OPENFEEDBACK_BENCH_OUT` (write the results there as JSON), `OPENFEEDBACK_BENCH_PROMPTS`
//! (default 20), `OPENFEEDBACK_BENCH_SETTLE` (ms, default wrap's 200),
//! `OPENFEEDBACK_BENCH_POLL_SECS` (the pending window, default 95).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::fake_telegram::Message;
use crate::support::telegram_rig::{Config, Rig};

const WAIT: Duration = Duration::from_secs(30);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Nanoseconds since the epoch of an `Instant`, through an anchor taken once.
struct Clock {
    instant: Instant,
    wall_ns: i128,
}

impl Clock {
    fn new() -> Clock {
        let instant = Instant::now();
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        Clock {
            instant,
            wall_ns: i128::try_from(wall.as_nanos()).unwrap(),
        }
    }

    fn wall_ns(&self, at: Instant) -> i128 {
        match at.checked_duration_since(self.instant) {
            Some(d) => self.wall_ns + i128::try_from(d.as_nanos()).unwrap(),
            None => self.wall_ns - i128::try_from((self.instant - at).as_nanos()).unwrap(),
        }
    }
}

fn now_ns() -> i128 {
    i128::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap()
}

/// `asked K NS` / `answer K TEXT NS` lines of the agent's log.
fn stamps(log: &str, what: &str) -> Vec<(usize, i128)> {
    log.lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words.first() == Some(&what)).then(|| {
                (
                    words[1].parse().unwrap(),
                    words.last().unwrap().parse().unwrap(),
                )
            })
        })
        .collect()
}

fn summary(in_order: &[f64]) -> Value {
    let mut ms = in_order.to_vec();
    ms.sort_by(f64::total_cmp);
    let median = if ms.is_empty() {
        f64::NAN
    } else if ms.len() % 2 == 1 {
        ms[ms.len() / 2]
    } else {
        f64::midpoint(ms[ms.len() / 2 - 1], ms[ms.len() / 2])
    };
    let round = |x: f64| (x * 100.0).round() / 100.0;
    json!({
        "samples": ms.len(),
        "median_ms": round(median),
        "min_ms": round(ms.first().copied().unwrap_or(f64::NAN)),
        "max_ms": round(ms.last().copied().unwrap_or(f64::NAN)),
        "all_ms": ms.iter().map(|x| round(*x)).collect::<Vec<_>>(),
        "in_order_ms": in_order.iter().map(|x| round(*x)).collect::<Vec<_>>(),
    })
}

/// Context switches of every thread of `pid`.
fn switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .flat_map(|s| {
            s.lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// `wrap --settle SETTLE` around `stamp.py AGENT_ARGS`, in the rig.
fn spawn(rig: &Rig, settle: u64, agent_args: &[&str]) -> tokio::process::Child {
    let bin = std::env::var_os("OPENFEEDBACK_BENCH_BIN")
        .map_or_else(|| PathBuf::from(crate::support::bin()), PathBuf::from);
    rig.sb
        .wrap_stamp(
            &bin,
            &rig.config,
            &["--settle", &settle.to_string()],
            agent_args,
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn wrap")
}

/// Wait until a line of the agent's log satisfies `what`.
async fn wait_agent(rig: &Rig, what: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = rig.read_agent_log();
        if log.lines().any(&what) {
            return log;
        }
        assert!(Instant::now() < deadline, "agent log:\n{log}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: .ci/bench runs it"]
async fn latency_and_long_polls() {
    let prompts: usize = env_or("OPENFEEDBACK_BENCH_PROMPTS", 20);
    let settle: u64 = env_or("OPENFEEDBACK_BENCH_SETTLE", 200);
    let poll_secs: u64 = env_or("OPENFEEDBACK_BENCH_POLL_SECS", 95);
    let clock = Clock::new();

    // Detection and answer latency: `prompts` prompts, each clicked a little after it is posted.
    let rig = Rig::new(Config::reject_feedback_timeout(0)).await;
    let count = prompts.to_string();
    let mut child = spawn(&rig, settle, &["--count", &count, "--chatter", "5"]);
    let mut clicks = Vec::new();
    for k in 0..prompts {
        let step = format!("Step {k}:");
        let msg = rig
            .fake
            .wait_message(|m| m.has_keyboard() && m.text.contains(&step), WAIT)
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let data = msg.callback_data("Yes");
        clicks.push(now_ns());
        rig.fake.click(rig.chat, msg.message_id, &data, &rig.ann);
        let answer = format!("answer {k} ");
        wait_agent(&rig, |l| l.starts_with(&answer)).await;
    }
    wait_agent(&rig, |l| l == "done").await;
    let _ = tokio::time::timeout(WAIT, child.wait()).await;
    let log = rig.read_agent_log();
    let asked = stamps(&log, "asked");
    let answered = stamps(&log, "answer");
    let posts: Vec<(usize, Instant)> = rig
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "sendmessage")
        .filter_map(|c| {
            let text = c.param("text")?.to_owned();
            let k = (0..prompts)
                .rev()
                .find(|k| text.contains(&format!("Step {k}:")))?;
            Some((k, c.at))
        })
        .collect();
    let mut detection = Vec::new();
    for (k, at) in &asked {
        let post = posts.iter().find(|(p, _)| p == k).expect("posted").1;
        #[allow(clippy::cast_precision_loss)]
        detection.push((clock.wall_ns(post) - at) as f64 / 1e6);
    }
    let mut keys = Vec::new();
    for (k, at) in &answered {
        #[allow(clippy::cast_precision_loss)]
        keys.push((at - clicks[*k]) as f64 / 1e6);
    }
    let mut detection = summary(&detection);
    detection["settle_ms"] = json!(settle);

    // Long polls while one request stays pending.
    let rig = Rig::new(Config::reject_feedback_timeout(0)).await;
    let child = spawn(&rig, settle, &["--count", "1", "--chatter", "1"]);
    rig.fake.wait_message(Message::has_keyboard, WAIT).await;
    let pid = child.id().expect("wrap runs");
    let start = Instant::now();
    let before = switches(pid);
    tokio::time::sleep(Duration::from_secs(poll_secs)).await;
    let after = switches(pid);
    let polls: Vec<Instant> = rig
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "getupdates" && c.at >= start)
        .map(|c| c.at)
        .collect();
    let gaps: Vec<f64> = polls
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let mean = if gaps.is_empty() {
        f64::NAN
    } else {
        gaps.iter().sum::<f64>() / gaps.len() as f64
    };
    #[allow(clippy::cast_precision_loss)]
    let long_poll = json!({
        "polls": polls.len(),
        "window_s": poll_secs,
        "mean_interval_s": (mean * 10.0).round() / 10.0,
        "wrap_wakeups_per_s": ((after - before) as f64 / poll_secs as f64 * 100.0).round() / 100.0,
    });
    drop(child);

    let result = json!({
        "kind": "latency",
        "detection": detection,
        "keys": summary(&keys),
        "long_poll": long_poll,
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    if let Ok(path) = std::env::var("OPENFEEDBACK_BENCH_OUT") {
        std::fs::write(path, result.to_string()).unwrap();
    }
}
