//! The soak test: `wrap` around a chatty agent that asks every few seconds, for a long time,
//! answered through the fake Telegram or at the keyboard (stdin), at random.
//!
//! Runs only with `OPENFEEDBACK_SOAK=1` (otherwise it prints `SKIPPED:`); the duration is
//! `OPENFEEDBACK_SOAK_SECS` (default 600), the seed `OPENFEEDBACK_SOAK_SEED` (default 1).
//!
//! Checks: every prompt is answered exactly once and with the answer given (the agent logs
//! what it read, and anything extra); no request keeps live buttons; wrap's memory stays flat
//! (resident set sampled every few seconds: the second half of the run may not grow past the
//! first half's peak by more than a small margin for allocator noise); no thread or file
//! descriptor leaks (counts from /proc at the end of the run are back to those of the start,
//! give or take the HTTP connection pool).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;

use crate::support::fake_telegram::Message;
use crate::support::telegram_rig::{Config, Rig};

const WAIT: Duration = Duration::from_secs(40);

/// xorshift64*: the same run for the same seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// What /proc says about a process: resident set (KiB), threads, open descriptors.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    threads: usize,
    fds: usize,
}

fn sample(pid: u32, at: Duration) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Sample {
        at,
        rss_kib: field("VmRSS:")?,
        threads: usize::try_from(field("Threads:")?).ok()?,
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count(),
    })
}

/// What the human types after a reject, when the agent asks what to do instead.
fn feedback(answer: &str) -> &'static str {
    if answer == "n" { "use a branch\n" } else { "" }
}

fn agent_log(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn soak() {
    if std::env::var("OPENFEEDBACK_SOAK").as_deref() != Ok("1") {
        println!("SKIPPED: soak: set OPENFEEDBACK_SOAK=1 (and OPENFEEDBACK_SOAK_SECS) to run it");
        return;
    }
    let secs: u64 = std::env::var("OPENFEEDBACK_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let seed: u64 = std::env::var("OPENFEEDBACK_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);

    let rig = Rig::new(Config::reject_feedback_timeout(0)).await;
    let log = rig.sb.agent_log();
    let bin = std::env::var_os("OPENFEEDBACK_BENCH_BIN")
        .map_or_else(|| PathBuf::from(crate::support::bin()), PathBuf::from);
    let seed_arg = seed.to_string();
    let stamp_args = [
        "--count",
        "1000000",
        "--chatter",
        "20",
        "--every",
        "2.5",
        "--seed",
        &seed_arg,
        "--drain",
        "2",
    ];
    let mut child = rig
        .sb
        .wrap_stamp(&bin, &rig.config, &[], &stamp_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn wrap");
    let pid = child.id().expect("wrap runs");
    let mut keyboard = child.stdin.take().expect("stdin");
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let mut samples = vec![sample(pid, Duration::ZERO).expect("wrap's /proc entry")];
    let mut last_sample = Instant::now();
    let mut expected: Vec<String> = Vec::new();
    let (mut remote, mut local) = (0, 0);

    let mut k = 0;
    while Instant::now() < end {
        // The agent asks.
        let asked = format!("asked {k} ");
        let deadline = Instant::now() + WAIT;
        while !agent_log(&log).lines().any(|l| l.starts_with(&asked)) {
            assert!(Instant::now() < deadline, "prompt {k} never came");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let answer = if rng.below(2) == 0 { "y" } else { "n" };
        match rng.below(3) {
            // At the keyboard, right away (before or while the request is being posted).
            0 => {
                keyboard
                    .write_all(format!("{answer}\n{}", feedback(answer)).as_bytes())
                    .await
                    .unwrap();
                local += 1;
            }
            // At the keyboard once the request is posted: it must be withdrawn.
            1 => {
                let step = format!("Step {k}:");
                rig.fake
                    .wait_message(|m| m.has_keyboard() && m.text.contains(&step), WAIT)
                    .await;
                keyboard
                    .write_all(format!("{answer}\n{}", feedback(answer)).as_bytes())
                    .await
                    .unwrap();
                local += 1;
            }
            // From the phone.
            _ => {
                let step = format!("Step {k}:");
                let message: Message = rig
                    .fake
                    .wait_message(|m| m.has_keyboard() && m.text.contains(&step), WAIT)
                    .await;
                let label = if answer == "y" { "Yes" } else { "No" };
                rig.click(&message, label);
                remote += 1;
            }
        }
        expected.push(format!("{k} {answer}"));
        let answered = format!("answer {k} ");
        let deadline = Instant::now() + WAIT;
        while !agent_log(&log).lines().any(|l| l.starts_with(&answered)) {
            assert!(
                Instant::now() < deadline,
                "prompt {k} was never answered; agent log tail:\n{}",
                agent_log(&log)
                    .lines()
                    .rev()
                    .take(10)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if last_sample.elapsed() >= Duration::from_secs(5) {
            samples.push(sample(pid, started.elapsed()).expect("wrap still runs"));
            last_sample = Instant::now();
        }
        k += 1;
    }
    // Let the last request retire, then take the final sample.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let last = sample(pid, started.elapsed()).expect("wrap still runs");
    samples.push(last);
    // Stop wrap the way a user's kill would: the prompt it may be asking meanwhile is
    // withdrawn, not left live.
    // SAFETY: kill(2) on a pid this test spawned and has not reaped.
    unsafe { libc::kill(i32::try_from(pid).unwrap(), libc::SIGTERM) };
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("wrap exits on SIGTERM")
        .unwrap();
    assert_eq!(
        status.code(),
        Some(143),
        "wrap's exit on SIGTERM: {status:?}"
    );

    // Every prompt answered once, with what was given, and nothing else read.
    let got: Vec<String> = agent_log(&log)
        .lines()
        .filter(|l| l.starts_with("answer ") || l.starts_with("extra "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w[0] == "answer" {
                format!("{} {}", w[1], w[2..w.len() - 1].join(" "))
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_eq!(got, expected, "answers as given, each once");

    // No live buttons.
    let live: Vec<Message> = rig
        .fake
        .bot_messages(rig.chat)
        .into_iter()
        .filter(Message::has_keyboard)
        .collect();
    assert!(live.is_empty(), "live buttons: {live:#?}");

    // Flat memory; no leaked threads or descriptors.
    let half = samples.len() / 2;
    let first_peak = samples[1..half.max(2)]
        .iter()
        .map(|s| s.rss_kib)
        .max()
        .unwrap();
    let second_peak = samples[half..].iter().map(|s| s.rss_kib).max().unwrap();
    let start = samples[1];
    println!(
        "soak: {k} prompts in {:?} ({remote} answered remotely, {local} locally); samples \
         (s, RSS KiB, threads, fds): {:?}",
        started.elapsed(),
        samples
            .iter()
            .map(|s| (s.at.as_secs(), s.rss_kib, s.threads, s.fds))
            .collect::<Vec<_>>()
    );
    assert!(
        second_peak <= first_peak + 1024,
        "memory grows: first half peaked at {first_peak} KiB, second half at {second_peak} KiB"
    );
    assert!(
        last.threads <= start.threads + 1,
        "threads: {} at the start, {} at the end",
        start.threads,
        last.threads
    );
    assert!(
        last.fds <= start.fds + 2,
        "file descriptors: {} at the start, {} at the end",
        start.fds,
        last.fds
    );
    assert!(
        k >= 3,
        "the run was too short to say anything ({k} prompts)"
    );
}
