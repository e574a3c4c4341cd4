//! The local approval page: `send` with no configuration, driven over HTTP on 127.0.0.1 and in
//! a real headless Chromium.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use crate::support::chromium::{Chromium, png_size};
use crate::support::{Run, Sandbox};

const URL_LINE: &str = "openfeedback: approve or reject at ";
/// Longest wait for the binary to print something: a hang, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `openfeedback send` whose stderr is watched as it arrives.
struct Asking {
    child: tokio::process::Child,
    stderr: watch::Receiver<String>,
    reader: tokio::task::JoinHandle<()>,
}

impl Asking {
    fn start(sb: &Sandbox, args: &[&str]) -> Asking {
        Asking::spawn(sb.command(args))
    }

    fn spawn(mut command: tokio::process::Command) -> Asking {
        let mut child = command.spawn().expect("spawn openfeedback");
        let (tx, stderr) = watch::channel(String::new());
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let reader = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tx.send_modify(|all| {
                    all.push_str(&line);
                    all.push('\n');
                });
            }
        });
        Asking {
            child,
            stderr,
            reader,
        }
    }

    /// The rest of the first stderr line that starts with `prefix`.
    async fn line_after(&mut self, prefix: &str) -> String {
        let find = async {
            loop {
                if let Some(rest) = self
                    .stderr
                    .borrow_and_update()
                    .lines()
                    .find_map(|l| l.strip_prefix(prefix))
                {
                    return rest.to_owned();
                }
                let ended = self.stderr.changed().await.is_err();
                assert!(
                    !ended,
                    "openfeedback ended without printing {prefix:?}; stderr:\n{}",
                    *self.stderr.borrow()
                );
            }
        };
        tokio::time::timeout(PATIENCE, find)
            .await
            .unwrap_or_else(|_| panic!("openfeedback printed no {prefix:?}"))
    }

    async fn url(&mut self) -> String {
        self.line_after(URL_LINE).await
    }

    async fn finish(self) -> Run {
        let output = tokio::time::timeout(PATIENCE, self.child.wait_with_output())
            .await
            .expect("openfeedback did not finish")
            .expect("wait for openfeedback");
        let _ = self.reader.await;
        let stderr = self.stderr.borrow().clone();
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
        }
    }
}

fn http() -> reqwest::Client {
    openfeedback::http::install_crypto();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get(url: &str) -> (u16, String) {
    let response = http().get(url).send().await.expect("GET the page");
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn post(url: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = http().post(url).form(fields);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("POST the page");
    (response.status().as_u16(), response.text().await.unwrap())
}

fn form_token(html: &str) -> String {
    let marker = "name=\"form\" value=\"";
    let start = html.find(marker).expect("the page has a form") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Load the page and submit its form as a browser would (same-origin).
async fn answer(url: &str, choice: &str, feedback: &str) -> (u16, String) {
    let (status, html) = get(url).await;
    assert_eq!(status, 200, "{html}");
    let origin = url.split("/r/").next().unwrap();
    post(
        url,
        &[
            ("form", &form_token(&html)),
            ("choice", choice),
            ("feedback", feedback),
        ],
        &[("sec-fetch-site", "same-origin"), ("origin", origin)],
    )
    .await
}

fn assert_outcome(run: &Run, decision: &str, title: &str, feedback: &Value) {
    let json = run.json();
    assert_eq!(json["decision"], decision, "{json}");
    assert_eq!(json["provider"], "web", "{json}");
    assert_eq!(json["request_title"], title, "{json}");
    assert_eq!(&json["feedback"], feedback, "{json}");
    if decision != "timeout" {
        assert_eq!(json["user"], "web (127.0.0.1)", "{json}");
        assert_eq!(json["user_id"], 0, "{json}");
    }
}

#[tokio::test]
async fn with_no_config_the_page_approves() {
    let sb = Sandbox::new();
    let mut asking = Asking::start(
        &sb,
        &[
            "send",
            "--title",
            "Deploy <prod>",
            "--body",
            "kubectl apply -f <all>",
            "--label",
            "ci",
        ],
    );
    let url = asking.url().await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let token = url.trim_end_matches('/').rsplit('/').next().unwrap();
    assert!(token.len() >= 22, "at least 128 bits: {token}");

    let (status, html) = get(&url).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Deploy &lt;prod&gt;</h1>"), "{html}");
    assert!(
        html.contains("kubectl apply -f &lt;all&gt;</pre>"),
        "{html}"
    );
    assert!(html.contains("Session: ci"));
    assert!(html.contains("name=\"viewport\""));

    let (status, html) = answer(&url, "y", "").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Approved by web (127.0.0.1)"), "{html}");

    let run = asking.finish().await;
    run.assert_code(0);
    assert_outcome(&run, "approved", "Deploy <prod>", &Value::Null);
}

#[tokio::test]
async fn reject_with_a_reason() {
    let sb = Sandbox::new();
    let mut asking = Asking::start(&sb, &["send", "--title", "Drop table users"]);
    let url = asking.url().await;
    let (status, html) = answer(&url, "n", "Back it up first.\r\nThen ask again.").await;
    assert_eq!(status, 200);
    assert!(html.contains("Reason: Back it up first."), "{html}");
    let run = asking.finish().await;
    run.assert_code(1);
    assert_outcome(
        &run,
        "rejected",
        "Drop table users",
        &json!("Back it up first.\nThen ask again."),
    );
}

#[tokio::test]
async fn approve_with_a_note() {
    let sb = Sandbox::new();
    let mut asking = Asking::start(&sb, &["send", "--title", "npm install left-pad"]);
    let url = asking.url().await;
    let (status, _) = answer(&url, "y", "pin it to 1.3.0").await;
    assert_eq!(status, 200);
    let run = asking.finish().await;
    run.assert_code(0);
    assert_outcome(
        &run,
        "approved",
        "npm install left-pad",
        &json!("pin it to 1.3.0"),
    );
}

#[tokio::test]
async fn a_second_answer_is_refused() {
    let sb = Sandbox::new();
    let mut asking = Asking::start(&sb, &["send", "--title", "Force push"]);
    let url = asking.url().await;
    let (_, html) = get(&url).await;
    let form = form_token(&html);
    let (status, _) = post(&url, &[("form", &form), ("choice", "y")], &[]).await;
    assert_eq!(status, 200);
    // The same form again, as from a second tab. `send` exits once answered, so the server
    // may be gone already; if it still answers, it must refuse and show the first answer.
    let second = http()
        .post(&url)
        .form(&[("form", form.as_str()), ("choice", "n")])
        .send()
        .await;
    if let Ok(response) = second {
        assert_eq!(response.status(), 409);
        let html = response.text().await.unwrap();
        assert!(html.contains("Approved by web (127.0.0.1)"), "{html}");
    }
    let run = asking.finish().await;
    run.assert_code(0);
    assert_outcome(&run, "approved", "Force push", &Value::Null);
}

#[tokio::test]
async fn a_wrong_token_is_not_found() {
    let sb = Sandbox::new();
    let mut asking = Asking::start(&sb, &["send", "--title", "Migrate"]);
    let url = asking.url().await;
    let (_, html) = get(&url).await;
    let form = form_token(&html);
    let base = url.split("/r/").next().unwrap();
    let wrong = format!("{base}/r/AAAAAAAAAAAAAAAAAAAAAA/");
    let (status, html) = get(&wrong).await;
    assert_eq!(status, 404);
    assert!(!html.contains("/s/"), "a 404 reveals nothing: {html}");
    let fields = [("form", form.as_str()), ("choice", "y")];
    assert_eq!(post(&wrong, &fields, &[]).await.0, 404);
    assert_eq!(
        get(&format!("{base}/s/AAAAAAAAAAAAAAAAAAAAAA/")).await.0,
        404
    );

    // The real page is unharmed.
    let (status, _) = answer(&url, "n", "").await;
    assert_eq!(status, 200);
    asking.finish().await.assert_code(1);
}

#[tokio::test]
async fn a_cross_site_post_is_forbidden() {
    let sb = Sandbox::new();
    let mut asking = Asking::start(&sb, &["send", "--title", "Rotate keys"]);
    let url = asking.url().await;
    let (_, html) = get(&url).await;
    let form = form_token(&html);
    let fields = [("form", form.as_str()), ("choice", "y")];
    let (status, html) = post(&url, &fields, &[("origin", "https://evil.example")]).await;
    assert_eq!(status, 403);
    assert!(html.contains("Refused"), "{html}");
    let (status, _) = post(&url, &fields, &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(status, 403);

    let (status, html) = get(&url).await;
    assert_eq!(status, 200);
    assert!(html.contains("<form"), "still open: {html}");
    answer(&url, "n", "").await;
    asking.finish().await.assert_code(1);
}

#[tokio::test]
async fn an_unanswered_page_times_out() {
    let sb = Sandbox::new();
    let mut asking = Asking::start(&sb, &["send", "--title", "Nobody home", "--timeout", "2"]);
    let url = asking.url().await;
    let run = asking.finish().await;
    run.assert_code(2);
    let json = run.json();
    assert_eq!(json["decision"], "timeout", "{json}");
    assert_eq!(json["provider"], "web");
    assert_eq!(json["user"], "");
    assert_eq!(json["request_title"], "Nobody home");
    // The server ended with the process: a late answer is never accepted (the connection is
    // refused, or, should another process have taken the port since, not a success).
    let late = http()
        .post(&url)
        .form(&[("form", "x"), ("choice", "y")])
        .send()
        .await;
    assert!(
        late.as_ref().map_or(true, |r| !r.status().is_success()),
        "{late:?}"
    );
}

#[tokio::test]
async fn listen_chooses_the_address() {
    let sb = Sandbox::new();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mut asking = Asking::start(&sb, &["send", "--title", "x", "--listen", &listen]);
    let url = asking.url().await;
    assert!(url.starts_with(&format!("http://{listen}/r/")), "{url}");
    answer(&url, "y", "").await;
    asking.finish().await.assert_code(0);

    let run = sb
        .run(&["send", "--title", "x", "--listen", "not-an-address"])
        .await;
    run.assert_code(64);
    assert!(run.stdout.is_empty());
}

#[tokio::test]
async fn a_busy_address_is_an_error_not_a_decision() {
    let sb = Sandbox::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let run = sb.run(&["send", "--title", "x", "--listen", &listen]).await;
    run.assert_code(69);
    assert!(run.stderr.contains("cannot listen on"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[tokio::test]
async fn config_selects_web_and_public_url_prints_the_tunnel_address() {
    let sb = Sandbox::new();
    let config = sb.write_config(
        "default_provider = \"web\"\n[web]\nlisten = \"127.0.0.1:0\"\n\
         public_url = \"https://approve.example.net/of/\"\n",
    );
    let mut asking = Asking::start(
        &sb,
        &[
            "send",
            "--title",
            "Tunnelled",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let url = asking.url().await;
    let path = url
        .strip_prefix("https://approve.example.net/of/r/")
        .expect("printed with the tunnel's base");
    let served = asking
        .line_after("openfeedback: info: the approval page is served on ")
        .await;
    let local = served.split(' ').next().unwrap();
    // What the tunnel would deliver: the public origin, the path under /of.
    let local_url = format!("http://{local}/of/r/{path}");
    let (status, html) = get(&local_url).await;
    assert_eq!(status, 200, "{html}");
    let (status, html) = post(
        &local_url,
        &[("form", &form_token(&html)), ("choice", "y")],
        &[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://approve.example.net"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let run = asking.finish().await;
    run.assert_code(0);
    assert_outcome(&run, "approved", "Tunnelled", &Value::Null);
}

#[tokio::test]
async fn web_takes_over_when_telegram_is_down() {
    let sb = Sandbox::new();
    let dead = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let config = sb.write_config(&format!(
        "default_provider = \"telegram\"\nfailover_provider = \"web\"\n\
         [telegram]\nbot_token = \"1:abc\"\nchat_id = 5\ntrusted_user_ids = [7]\n\
         api_base = \"http://{dead}\"\n"
    ));
    let mut asking = Asking::start(
        &sb,
        &[
            "send",
            "--title",
            "Failover",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let url = asking.url().await;
    answer(&url, "y", "").await;
    let run = asking.finish().await;
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["provider"], "web", "{json}");
    assert_eq!(json["escalated_from"], "telegram", "{json}");
}

/// Where the browser tests leave their screenshots.
fn screenshot_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[tokio::test]
async fn a_phone_browser_approves() {
    let Some(mut browser) = Chromium::launch().await else {
        return;
    };
    let sb = Sandbox::new();
    let body = "$ git push --force origin main\n\
                remote: Resolving deltas: 100% (12/12), done.\n\
                To github.com:acme/api.git\n + 3f9c2e1...a41d07b main -> main (forced update)\n\n\
                Rewrites 3 commits on main that CI already deployed.";
    // A realistic directory for the screenshot: shown as ~/src/api.
    let project = sb.home().join("src/api");
    std::fs::create_dir_all(&project).unwrap();
    let mut command = sb.command(&[
        "send",
        "--title",
        "Force-push to main?",
        "--body",
        body,
        "--label",
        "api-refactor",
    ]);
    command.current_dir(&project);
    let mut asking = Asking::spawn(command);
    let url = asking.url().await;

    let tab = browser.open_tab().await;
    for domain in ["Page.enable", "Log.enable"] {
        browser.call(Some(&tab), domain, json!({})).await;
    }
    browser
        .call(
            Some(&tab),
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
        )
        .await;
    browser.navigate(&tab, &url).await;

    // The countdown script ran (its nonce satisfied the CSP), and nothing overflows sideways.
    let left = browser
        .eval(&tab, "document.getElementById('left').textContent")
        .await;
    assert!(left.as_str().unwrap().ends_with(" left"), "{left}");
    let fits = browser
        .eval(
            &tab,
            "document.documentElement.scrollWidth <= window.innerWidth",
        )
        .await;
    assert_eq!(fits, json!(true), "the page is wider than the phone");

    let png = browser.screenshot(&tab).await;
    assert_eq!(png_size(&png), (780, 1688));
    let path = screenshot_path("web-page-phone.png");
    std::fs::write(&path, &png).unwrap();
    println!("phone screenshot: {}", path.display());

    browser
        .eval(
            &tab,
            "document.querySelector('button[value=\"y\"]').click(), true",
        )
        .await;
    browser.event(&tab, "Page.loadEventFired").await;
    let status = browser
        .eval(&tab, "document.querySelector('.status').innerText")
        .await;
    assert!(
        status
            .as_str()
            .unwrap()
            .contains("Approved by web (127.0.0.1)"),
        "{status}"
    );
    std::fs::write(
        screenshot_path("web-page-phone-approved.png"),
        browser.screenshot(&tab).await,
    )
    .unwrap();

    let csp_errors: Vec<Value> = browser
        .seen(&tab, "Log.entryAdded")
        .into_iter()
        .filter(|e| {
            e["entry"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("Content Security Policy"))
        })
        .collect();
    assert!(csp_errors.is_empty(), "{csp_errors:?}");

    let run = asking.finish().await;
    run.assert_code(0);
    assert_outcome(&run, "approved", "Force-push to main?", &Value::Null);
}

#[tokio::test]
async fn the_page_works_without_javascript() {
    let Some(mut browser) = Chromium::launch().await else {
        return;
    };
    let sb = Sandbox::new();
    let mut asking = Asking::start(&sb, &["send", "--title", "Delete the bucket"]);
    let url = asking.url().await;

    let tab = browser.open_tab().await;
    browser.call(Some(&tab), "Page.enable", json!({})).await;
    browser
        .call(
            Some(&tab),
            "Emulation.setScriptExecutionDisabled",
            json!({"value": true}),
        )
        .await;
    browser.navigate(&tab, &url).await;

    // Type a reason and press Reject like a person: focus, keyboard text, a mouse click.
    let doc = browser.call(Some(&tab), "DOM.getDocument", json!({})).await;
    let textarea = browser
        .call(
            Some(&tab),
            "DOM.querySelector",
            json!({"nodeId": doc["root"]["nodeId"], "selector": "textarea"}),
        )
        .await;
    browser
        .call(
            Some(&tab),
            "DOM.focus",
            json!({"nodeId": textarea["nodeId"]}),
        )
        .await;
    browser
        .call(
            Some(&tab),
            "Input.insertText",
            json!({"text": "Not before the backup."}),
        )
        .await;
    let reject = browser.centre(&tab, "button[value=\"n\"]").await;
    browser.click_at(&tab, reject).await;
    browser.event(&tab, "Page.loadEventFired").await;

    let run = asking.finish().await;
    run.assert_code(1);
    assert_outcome(
        &run,
        "rejected",
        "Delete the bucket",
        &json!("Not before the backup."),
    );
}

/// In an interactive `wrap` with no configuration, the session page's URL is printed before the
/// agent takes the screen (the per-request URLs would draw over the agent, so they go to the
/// log only), and a prompt is answered from that page.
#[tokio::test]
async fn interactive_wrap_prints_the_session_page_and_is_answered_there() {
    use crate::wrap::term::{Term, openfeedback};
    const SESSION_LINE: &str = "openfeedback: approve or reject this session's requests at ";
    let sb = Sandbox::new();
    let agents = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/agents");
    let (patterns, yesno) = (format!("{agents}/patterns"), format!("{agents}/yesno.py"));
    let log = sb.agent_log();
    let args = [
        "wrap",
        "--log-file",
        "wrap.log",
        "--patterns",
        &patterns,
        "--agent",
        "scripted",
        "--",
        "python3",
        &yesno,
        log.to_str().unwrap(),
    ];
    let mut term = Term::spawn(openfeedback(sb.path(), &args, &[]), 30, 100);
    term.wait_screen("the prompt", |s| s.contains("[y/n]"))
        .await;
    let raw = String::from_utf8_lossy(&term.raw()).into_owned();
    let line = raw.find(SESSION_LINE).expect("no session line") + SESSION_LINE.len();
    let session = raw[line..].split_whitespace().next().unwrap().to_owned();
    assert!(
        session.starts_with("http://127.0.0.1:") && session.contains("/s/"),
        "{session}"
    );
    assert!(
        raw.find(SESSION_LINE) < raw.find("Planning the change"),
        "the line came after the agent's output: {raw:?}"
    );

    // The session page lists the request once it is posted (it refreshes itself).
    let base = session.split("/s/").next().unwrap();
    let page = tokio::time::timeout(PATIENCE, async {
        loop {
            let (status, html) = get(&session).await;
            assert_eq!(status, 200, "{html}");
            if let Some(at) = html.find("href=\"/r/") {
                let href = html[at + 6..].split('"').next().unwrap().to_owned();
                assert!(html.contains("Apply the change to config.toml?"), "{html}");
                return format!("{base}{href}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the session page never listed the request");
    let (status, html) = answer(&page, "y", "").await;
    assert_eq!(status, 200, "{html}");

    term.wait_screen("the agent's reply", |s| s.contains("ok: y"))
        .await;
    assert_eq!(term.wait_exit().await, 0, "the agent's exit code");
    let agent_log = std::fs::read_to_string(&log).unwrap();
    assert!(agent_log.contains("answer:y\n"), "{agent_log}");
    // The request's own URL went to the log, not over the agent's screen.
    let raw = String::from_utf8_lossy(&term.raw()).into_owned();
    assert!(!raw.contains("approve or reject at"), "{raw:?}");
    assert!(
        sb.wrap_log()
            .contains("approve or reject at http://127.0.0.1:")
    );
}
