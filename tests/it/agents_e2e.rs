//! Real agents, offline, under `openfeedback wrap`.

use std::time::Duration;

use crate::support::fake_llm::{Action, Api, FakeLlm};

/// A fake LLM for manual lab sessions: `LAB_API=claude LAB_PROJECT=/p LAB_ACTION='shell:touch x'
/// LAB_PORTFILE=/tmp/port LAB_LOG=/tmp/log cargo test --test it agents_e2e::lab_fake_llm --
/// --ignored --nocapture` serves until killed, writing its port and its requests.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a tool for manual sessions, not a test"]
async fn lab_fake_llm() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let api = match var("LAB_API").as_str() {
        "aider" => Api::OpenAiChat,
        "claude" => Api::Anthropic,
        "codex" => Api::OpenAiResponses,
        _ => Api::Gemini,
    };
    let actions = var("LAB_ACTION")
        .split(";;")
        .filter(|a| !a.is_empty())
        .map(|a| match a.split_once(':') {
            Some(("write", rest)) => {
                let (path, content) = rest.split_once(':').unwrap_or((rest, "written by fake"));
                Action::Write {
                    path: path.to_owned(),
                    content: format!("{content}\n"),
                }
            }
            Some((_, command)) => Action::Shell(command.to_owned()),
            None => Action::Shell(a.to_owned()),
        })
        .collect();
    let fake = FakeLlm::start(api, &var("LAB_PROJECT"), actions).await;
    std::fs::write(var("LAB_PORTFILE"), fake.port().to_string()).unwrap();
    let mut written = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let requests = fake.requests();
        for r in &requests[written..] {
            let line = serde_json::json!({"method": r.method, "path": r.path, "kind": r.kind, "body": r.body});
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(var("LAB_LOG"))
                .unwrap();
            std::io::Write::write_all(&mut log, format!("{line}\n").as_bytes()).unwrap();
        }
        written = requests.len();
    }
}
