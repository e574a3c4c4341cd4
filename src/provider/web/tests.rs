//! The provider end to end inside one process: tickets, the server, and a real HTTP client on
//! 127.0.0.1.

use super::*;
use crate::answer::Person;
use crate::provider::{Closing, Reply};
use crate::request::{Body, Choice, Origin, Verdict};

struct Harness {
    web: Web,
    said: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(WebSettings::default())
    }

    fn with(settings: WebSettings) -> Harness {
        let said = Arc::new(Mutex::new(String::new()));
        let sink = said.clone();
        let web = Web::with_notices(settings, Locale::En, move |text| {
            sink.lock().unwrap().push_str(text);
        });
        crate::http::install_crypto();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Harness { web, said, http }
    }

    /// Open a ticket and wait until its page is up; returns the ticket and the printed URL.
    async fn open(&self, title: &str) -> (Ticket, String) {
        let mut ticket = self.web.open(request(title));
        assert!(matches!(ticket.next().await, Some(TicketEvent::Posted)));
        let said = self.said.lock().unwrap();
        let url = said
            .lines()
            .filter_map(|l| l.strip_prefix("openfeedback: approve or reject at "))
            .next_back()
            .expect("the URL was announced")
            .to_owned();
        (ticket, url)
    }

    /// A URL on the local server (behind `public_url`, the printed one is not reachable).
    fn local(&self, path: &str) -> String {
        format!("http://{}{path}", self.web.local_addr().unwrap())
    }

    async fn get(&self, url: &str) -> (u16, String) {
        let response = self.http.get(url).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// POST an answer with the page's own form token.
    async fn answer(&self, url: &str, choice: &str, feedback: &str) -> (u16, String) {
        let (_, html) = self.get(url).await;
        let form = form_token(&html).unwrap_or_default();
        self.post(
            url,
            &[("form", &form), ("choice", choice), ("feedback", feedback)],
            &[],
        )
        .await
    }

    async fn post(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let mut post = self.http.post(url).form(fields);
        for (name, value) in headers {
            post = post.header(*name, *value);
        }
        let response = post.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

fn request(title: &str) -> Arc<Request> {
    let mut request = Request::new(
        title,
        Body::Terminal("$ git push --force\nProceed? [y/N]".into()),
        Origin {
            host: "box".into(),
            directory: "~/src/app".into(),
            label: Some("aider".into()),
        },
        Duration::from_secs(600),
    );
    request.choices = vec![
        Choice {
            id: Choice::APPROVE.into(),
            label: "Approve".into(),
            verdict: Verdict::Approve,
            asks_reason: false,
        },
        Choice {
            id: Choice::REJECT.into(),
            label: "Reject".into(),
            verdict: Verdict::Reject,
            asks_reason: true,
        },
        Choice {
            id: "always".into(),
            label: "Yes, and don't ask again".into(),
            verdict: Verdict::Approve,
            asks_reason: false,
        },
    ];
    Arc::new(request)
}

fn form_token(html: &str) -> Option<String> {
    let start = html.find("name=\"form\" value=\"")? + "name=\"form\" value=\"".len();
    Some(html[start..].split('"').next()?.to_owned())
}

fn web_person() -> Person {
    Person {
        name: "web (127.0.0.1)".into(),
        id: "0".into(),
    }
}

#[tokio::test]
async fn requests_share_one_server_and_the_index_lists_them() {
    let h = Harness::new();
    let (_a, url_a) = h.open("First <one>").await;
    let (_b, url_b) = h.open("Second").await;
    let origin = |u: &str| u.split("/r/").next().unwrap().to_owned();
    assert_eq!(origin(&url_a), origin(&url_b), "one listener");
    assert!(url_a.starts_with("http://127.0.0.1:"), "{url_a}");
    assert_ne!(url_a, url_b);

    let session = h.web.session_url().unwrap();
    assert!(
        h.said.lock().unwrap().contains(&session),
        "the session URL is printed once a second request exists"
    );
    let (status, html) = h.get(&session).await;
    assert_eq!(status, 200);
    assert!(html.contains("First &lt;one&gt;") && html.contains("Second"));
    assert_eq!(html.matches("Waiting for an answer").count(), 2);
    // Newest first.
    assert!(html.find("Second").unwrap() < html.find("First").unwrap());
}

#[tokio::test]
async fn the_page_shows_the_request() {
    let h = Harness::new();
    let (_ticket, url) = h.open("Push to main").await;
    let response = h.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(html.contains(&format!("<style nonce=\"{nonce}\">")));
    assert!(html.contains("<h1>Push to main</h1>"));
    assert!(html.contains("Asked from box in ~/src/app"));
    assert!(html.contains("Session: aider"));
    assert!(html.contains("<pre class=\"terminal\">$ git push --force\nProceed? [y/N]</pre>"));
}

#[tokio::test]
async fn a_reject_with_reason_is_answered_once() {
    let h = Harness::new();
    let (mut ticket, url) = h.open("Drop the table").await;
    let (_, live) = h.get(&url).await;
    let form = form_token(&live).unwrap();
    let (status, html) = h.answer(&url, "n", "Not on a Friday\r\n").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Rejected by web (127.0.0.1)"), "{html}");
    assert!(html.contains("Reason: Not on a Friday"), "{html}");
    assert!(!html.contains("<form"));

    let Some(TicketEvent::Answered(reply)) = ticket.next().await else {
        panic!("expected an answer");
    };
    assert_eq!(
        reply,
        Reply {
            choice: "n".into(),
            verdict: Verdict::Reject,
            by: web_person(),
            feedback: Some("Not on a Friday".into()),
        }
    );
    ticket.close(Closing::Done).await;

    // A second answer from the same (stale) form is refused.
    let (status, html) = h.post(&url, &[("form", &form), ("choice", "y")], &[]).await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("no longer open"), "{html}");
    assert!(html.contains("Rejected by web (127.0.0.1)"), "{html}");
}

#[tokio::test]
async fn approve_with_a_note_and_extra_choices() {
    let h = Harness::new();
    let (mut ticket, url) = h.open("Install numpy").await;
    let (status, html) = h.answer(&url, "y", "pin the version").await;
    assert_eq!(status, 200);
    assert!(html.contains("Note: pin the version"), "{html}");
    let Some(TicketEvent::Answered(reply)) = ticket.next().await else {
        panic!("expected an answer");
    };
    assert_eq!(reply.verdict, Verdict::Approve);
    assert_eq!(reply.feedback.as_deref(), Some("pin the version"));

    let (mut ticket, url) = h.open("Edit files").await;
    let (status, html) = h.answer(&url, "always", "").await;
    assert_eq!(status, 200);
    assert!(html.contains("Yes, and don&#39;t ask again: chosen by web (127.0.0.1)"));
    let Some(TicketEvent::Answered(reply)) = ticket.next().await else {
        panic!("expected an answer");
    };
    assert_eq!((reply.choice.as_str(), reply.feedback), ("always", None));
}

#[tokio::test]
async fn a_closed_page_says_why_and_refuses_answers() {
    let cases = [
        (Closing::TimedOut, "Timed out at"),
        (
            Closing::Escalated {
                to: ProviderName::Telegram,
            },
            "moved to Telegram",
        ),
        (
            Closing::AnsweredElsewhere {
                place: "at the terminal".into(),
            },
            "Answered at the terminal",
        ),
        (Closing::Cancelled, "the requester stopped waiting"),
    ];
    let h = Harness::new();
    for (why, says) in cases {
        let (mut ticket, url) = h.open("Deploy").await;
        let (_, live) = h.get(&url).await;
        let form = form_token(&live).unwrap();
        ticket.close(why).await;
        let (status, html) = h.get(&url).await;
        assert_eq!(status, 200);
        assert!(html.contains(says), "{says}: {html}");
        assert!(!html.contains("<form"), "{says}");
        let (status, html) = h.post(&url, &[("form", &form), ("choice", "y")], &[]).await;
        assert_eq!(status, 409, "{says}");
        assert!(html.contains(says), "{says}: {html}");
    }
}

#[tokio::test]
async fn forged_or_misdirected_answers_are_refused() {
    let h = Harness::new();
    let (_ticket, url) = h.open("Deploy").await;
    let (_, html) = h.get(&url).await;
    let form = form_token(&html).unwrap();
    let fields = [("form", form.as_str()), ("choice", "y")];

    let evil = [("origin", "https://evil.example")];
    assert_eq!(h.post(&url, &fields, &evil).await.0, 403);
    let cross = [("sec-fetch-site", "cross-site")];
    assert_eq!(h.post(&url, &fields, &cross).await.0, 403);
    let other_port = [("sec-fetch-site", "same-site")];
    assert_eq!(h.post(&url, &fields, &other_port).await.0, 403);
    let wrong_form = [("form", "AAAAAAAAAAAAAAAAAAAAAA"), ("choice", "y")];
    assert_eq!(h.post(&url, &wrong_form, &[]).await.0, 403);
    let unknown_choice = [("form", form.as_str()), ("choice", "maybe")];
    assert_eq!(h.post(&url, &unknown_choice, &[]).await.0, 400);

    let wrong_page = h.local("/r/AAAAAAAAAAAAAAAAAAAAAA/");
    assert_eq!(h.get(&wrong_page).await.0, 404);
    assert_eq!(h.post(&wrong_page, &fields, &[]).await.0, 404);
    let (status, html) = h.get(&h.local("/s/AAAAAAAAAAAAAAAAAAAAAA/")).await;
    assert_eq!(status, 404);
    assert!(!html.contains("/s/"), "a refusal links nowhere");
    assert_eq!(h.get(&h.local("/")).await.0, 404);

    let text = h
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .body("form=x&choice=y")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    let put = h.http.put(&url).send().await.unwrap();
    assert_eq!(put.status(), 405);

    // After all that, the page is still open, and a same-origin browser POST is accepted.
    let same = [
        ("sec-fetch-site", "same-origin"),
        ("origin", &*url.split("/r/").next().unwrap().to_owned()),
    ];
    let (status, html) = h.post(&url, &fields, &same).await;
    assert_eq!(status, 200, "{html}");
}

#[tokio::test]
async fn public_url_is_printed_and_its_path_is_served() {
    let h = Harness::with(WebSettings {
        public_url: Some("https://abc.trycloudflare.example/approvals".into()),
        ..WebSettings::default()
    });
    let (mut ticket, url) = h.open("Deploy").await;
    let token_path = url
        .strip_prefix("https://abc.trycloudflare.example/approvals")
        .expect("printed under public_url");
    assert!(token_path.starts_with("/r/"), "{url}");
    let local = h.local(&format!("/approvals{token_path}"));
    let (status, html) = h.get(&local).await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/approvals/s/"), "{html}");
    let form = form_token(&html).unwrap();
    let tunnel = [
        ("sec-fetch-site", "same-origin"),
        ("origin", "https://abc.trycloudflare.example"),
    ];
    let (status, _) = h
        .post(&local, &[("form", &form), ("choice", "y")], &tunnel)
        .await;
    assert_eq!(status, 200);
    assert!(matches!(
        ticket.next().await,
        Some(TicketEvent::Answered(_))
    ));
}

#[tokio::test]
async fn a_busy_port_fails_the_ticket() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let h = Harness::with(WebSettings {
        listen: taken.local_addr().unwrap(),
        public_url: None,
    });
    let mut ticket = h.web.open(request("x"));
    let Some(TicketEvent::Failed(error)) = ticket.next().await else {
        panic!("expected a failure");
    };
    assert_eq!(error.provider, ProviderName::Web);
    assert!(
        error.message.contains("cannot listen on 127.0.0.1:"),
        "{error}"
    );
    ticket.close(Closing::Cancelled).await;
}

#[test]
fn a_wildcard_address_is_printed_as_loopback() {
    assert_eq!(
        shown_addr("0.0.0.0:8080".parse().unwrap()),
        "127.0.0.1:8080".parse().unwrap()
    );
    assert_eq!(
        shown_addr("[::]:8080".parse().unwrap()),
        "[::1]:8080".parse().unwrap()
    );
    let lan: SocketAddr = "192.168.1.5:8080".parse().unwrap();
    assert_eq!(shown_addr(lan), lan);
}
