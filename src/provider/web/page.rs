//! The HTML of the approval page, the session index and the refusal pages.
//!
//! Invariants:
//! - Everything that comes from a request or a human (title, body, labels, feedback, host,
//!   directory) goes through [`escape`]; the only raw HTML is this module's own markup.
//! - Pages load nothing: CSS and the countdown script are inline and carry the response's CSP
//!   nonce. The script only updates the countdown; the form works without it.
//! - The session link (which lists every request) appears only on pages reached with a valid
//!   token, never on refusal pages.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::pages::{Page, State};
use crate::i18n::{Messages, fill};
use crate::provider::Closing;
use crate::request::{Body, Choice, Verdict};
use crate::text::{cut_end, cut_top};

/// Longest body shown; a terminal screen keeps its bottom rows, text keeps its start.
const BODY_LIMIT: usize = 100_000;
/// Longest reason or note quoted in a status line.
const QUOTE_LIMIT: usize = 2_000;

/// What every page of one response shares.
pub struct Chrome<'a> {
    pub text: &'static Messages,
    /// `<html lang>`.
    pub lang: &'static str,
    /// The response's CSP nonce.
    pub nonce: &'a str,
    /// The path the server is mounted at behind `public_url` ("" or e.g. "/approvals").
    pub base_path: &'a str,
    pub session: &'a str,
}

impl Chrome<'_> {
    fn session_href(&self) -> String {
        format!("{}/s/{}/", self.base_path, self.session)
    }

    fn page_href(&self, token: &str) -> String {
        format!("{}/r/{token}/", self.base_path)
    }

    fn open(&self, out: &mut String, title: &str, refresh: bool) {
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"referrer\" content=\"same-origin\">\n\
             <meta name=\"color-scheme\" content=\"light dark\">\n",
            lang = self.lang
        );
        if refresh {
            // The index follows new requests without JavaScript.
            out.push_str("<meta http-equiv=\"refresh\" content=\"15\">\n");
        }
        let _ = write!(
            out,
            "<title>{} · openfeedback</title>\n<style nonce=\"{}\">{CSS}</style>\n</head>\n<body>\n<main>\n",
            escape(title),
            self.nonce
        );
    }

    fn bar(&self, out: &mut String, session_link: bool) {
        out.push_str("<header class=\"bar\"><span class=\"brand\">openfeedback</span>");
        if session_link {
            let _ = write!(
                out,
                "<a href=\"{}\">{}</a>",
                escape(&self.session_href()),
                escape(self.text.web_all_requests)
            );
        }
        out.push_str("</header>\n");
    }

    fn close(&self, out: &mut String, script: bool) {
        out.push_str("</main>\n");
        if script {
            let _ = writeln!(out, "<script nonce=\"{}\">{SCRIPT}</script>", self.nonce);
        }
        out.push_str("</body>\n</html>\n");
    }
}

/// Escape text for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page of one request. `notice` is shown on top (e.g. "no longer open" on a 409).
pub fn request_page(chrome: &Chrome<'_>, page: &Page, notice: Option<&str>) -> String {
    let text = chrome.text;
    let request = &page.request;
    let mut out = String::with_capacity(8 * 1024 + request.body.text().len());
    chrome.open(&mut out, &cut_end(&request.title, 100, "…"), false);
    chrome.bar(&mut out, true);
    if let Some(notice) = notice {
        let _ = writeln!(
            out,
            "<p class=\"notice\" role=\"alert\">{}</p>",
            escape(notice)
        );
    }
    let class = match &page.state {
        State::Live(_) => "live",
        State::Answered { approved: true, .. } => "approved",
        State::Answered { .. } => "rejected",
        State::Closed { .. } => "closed",
    };
    let _ = write!(
        out,
        "<article class=\"card {class}\">\n<h1>{}</h1>\n<p class=\"who\">{}",
        escape(&request.title),
        escape(&fill(
            text.asked_from,
            &[
                ("host", &request.origin.host),
                ("directory", &request.origin.directory),
            ],
        ))
    );
    if let Some(label) = &request.origin.label {
        let _ = write!(
            out,
            "<br>{}",
            escape(&fill(text.session, &[("label", label)]))
        );
    }
    out.push_str("</p>\n");
    status(&mut out, &page.state);
    body(&mut out, &request.body, text);
    if let State::Live(_) = page.state {
        deadline(&mut out, request.deadline(), text);
        form(&mut out, page, text);
    }
    out.push_str("</article>\n");
    chrome.close(&mut out, page.is_live());
    out
}

fn status(out: &mut String, state: &State) {
    let lines: &[String] = match state {
        State::Live(_) => return,
        State::Answered { lines, .. } => lines,
        State::Closed { line } => std::slice::from_ref(line),
    };
    out.push_str("<div class=\"status\" role=\"status\">");
    for (i, line) in lines.iter().enumerate() {
        let tag = if i == 0 { "strong" } else { "span" };
        let _ = write!(out, "<{tag}>{}</{tag}>", escape(line));
    }
    out.push_str("</div>\n");
}

fn body(out: &mut String, body: &Body, text: &Messages) {
    if body.is_empty() {
        return;
    }
    let (class, shown) = match body {
        Body::Text(s) => ("text", cut_end(s.trim_end(), BODY_LIMIT, text.truncated)),
        Body::Terminal(s) => (
            "terminal",
            cut_top(s.trim_end(), BODY_LIMIT, text.truncated),
        ),
    };
    let _ = writeln!(out, "<pre class=\"{class}\">{}</pre>", escape(&shown));
}

fn deadline(out: &mut String, at: SystemTime, text: &Messages) {
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let _ = writeln!(
        out,
        "<p class=\"deadline\">{} <b id=\"left\" data-left=\"{left}\" data-template=\"{}\" data-over=\"{}\"></b></p>",
        escape(&fill(
            text.answer_by,
            &[("deadline", &crate::i18n::clock(at))]
        )),
        escape(text.web_time_left),
        escape(text.web_time_up),
    );
}

fn form(out: &mut String, page: &Page, text: &Messages) {
    // No `action`: the form posts back to the page's own URL, whatever prefix a tunnel adds.
    let _ = write!(
        out,
        "<form method=\"post\">\n<input type=\"hidden\" name=\"form\" value=\"{}\">\n\
         <label for=\"feedback\">{}</label>\n\
         <textarea id=\"feedback\" name=\"feedback\" rows=\"3\" maxlength=\"8000\" placeholder=\"{}\"></textarea>\n\
         <p class=\"hint\">{}</p>\n<div class=\"buttons\">\n",
        escape(&page.form_token),
        escape(text.web_feedback_label),
        escape(text.web_feedback_placeholder),
        escape(text.web_feedback_hint),
    );
    let plain = |c: &&Choice| c.id == Choice::APPROVE || c.id == Choice::REJECT;
    let choices = &page.request.choices;
    for choice in choices
        .iter()
        .filter(plain)
        .chain(choices.iter().filter(|c| !plain(c)))
    {
        let (class, label) = match choice.id.as_str() {
            Choice::APPROVE => ("approve", bare(&choice.label)),
            Choice::REJECT => ("reject", bare(&choice.label)),
            _ => ("other", choice.label.as_str()),
        };
        let _ = writeln!(
            out,
            "<button type=\"submit\" name=\"choice\" value=\"{}\" class=\"{class}\">{}</button>",
            escape(&choice.id),
            escape(label)
        );
    }
    out.push_str("</div>\n</form>\n");
}

/// A label without its leading symbol ("✅ Approve" → "Approve"): on the coloured buttons the
/// colour and a CSS glyph say it, and an emoji needs a font the machine may not have.
fn bare(label: &str) -> &str {
    let word = label
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim();
    if word.is_empty() { label } else { word }
}

/// The session index: every request of this process, newest first.
pub fn index_page<'p>(chrome: &Chrome<'_>, pages: impl Iterator<Item = &'p Page>) -> String {
    let text = chrome.text;
    let mut out = String::with_capacity(4096);
    chrome.open(&mut out, text.web_session_title, true);
    chrome.bar(&mut out, false);
    let _ = writeln!(
        out,
        "<article class=\"card\">\n<h1>{}</h1>",
        escape(text.web_session_title)
    );
    let mut any = false;
    for page in pages {
        if !any {
            out.push_str("<ul class=\"list\">\n");
            any = true;
        }
        let request = &page.request;
        let (class, state) = match &page.state {
            State::Live(_) => ("live", text.web_waiting),
            State::Answered { lines, .. } => ("done", lines.first().map_or("", String::as_str)),
            State::Closed { line } => ("done", line.as_str()),
        };
        let from = request.origin.label.as_deref().map_or_else(
            || request.origin.directory.clone(),
            |label| fill(text.session, &[("label", label)]),
        );
        let _ = writeln!(
            out,
            "<li class=\"{class}\"><a href=\"{}\"><span class=\"title\">{}</span>\
             <span class=\"meta\">{}</span><span class=\"state\">{}</span></a></li>",
            escape(&chrome.page_href(&page.token)),
            escape(&cut_end(&request.title, 200, "…")),
            escape(&from),
            escape(state),
        );
    }
    if any {
        out.push_str("</ul>\n");
    } else {
        let _ = writeln!(out, "<p class=\"who\">{}</p>", escape(text.web_no_requests));
    }
    out.push_str("</article>\n");
    chrome.close(&mut out, false);
    out
}

/// A refusal or error: one sentence, no links.
pub fn message_page(chrome: &Chrome<'_>, message: &str) -> String {
    let mut out = String::with_capacity(2048);
    chrome.open(&mut out, "openfeedback", false);
    chrome.bar(&mut out, false);
    let _ = writeln!(
        out,
        "<article class=\"card closed\">\n<p class=\"notice\" role=\"alert\">{}</p>\n</article>",
        escape(message)
    );
    chrome.close(&mut out, false);
    out
}

/// The status lines of an answer given on the page: who decided, then the reason or note.
pub fn decided_lines(
    text: &Messages,
    choice: &Choice,
    by: &str,
    feedback: Option<&str>,
) -> Vec<String> {
    let time = crate::i18n::clock(SystemTime::now());
    let first = match (choice.verdict, choice.id.as_str()) {
        (Verdict::Approve, Choice::APPROVE) => {
            fill(text.approved_by, &[("user", by), ("time", &time)])
        }
        (Verdict::Reject, Choice::REJECT) => {
            fill(text.rejected_by, &[("user", by), ("time", &time)])
        }
        _ => fill(
            text.chose_by,
            &[("choice", &choice.label), ("user", by), ("time", &time)],
        ),
    };
    let mut lines = vec![first];
    if let Some(said) = feedback {
        let template = match choice.verdict {
            Verdict::Reject => text.reason,
            Verdict::Approve => text.note,
        };
        let said = cut_end(said, QUOTE_LIMIT, "…");
        lines.push(fill(template, &[("text", &said)]));
    }
    lines
}

/// What a withdrawn page says; `None` for [`Closing::Done`] (the page keeps its answer).
pub fn closing_line(text: &Messages, why: &Closing) -> Option<String> {
    why.withdrawal(text).map(|notice| notice.line)
}

/// Counts down the time left; at zero, says so and disables the buttons (the server decides
/// anyway). The page works without it.
const SCRIPT: &str = r#"(function(){var e=document.getElementById("left");if(!e)return;var end=Date.now()+1000*Number(e.getAttribute("data-left"));function p(n){return(n<10?"0":"")+n}function t(){var s=Math.max(0,Math.ceil((end-Date.now())/1000));if(!s){e.textContent=e.getAttribute("data-over");var b=document.querySelectorAll("button");for(var i=0;i<b.length;i++)b[i].disabled=true;return}var h=Math.floor(s/3600),m=Math.floor(s%3600/60);e.textContent=e.getAttribute("data-template").replace("{time}",(h?h+":"+p(m):m)+":"+p(s%60));setTimeout(t,1000)}t()})();"#;

const CSS: &str = "\
:root{--bg:#f3f4f6;--card:#fff;--fg:#16181d;--muted:#5b6270;--line:#d9dce1;--code:#f6f7f9;\
--ok:#1a7f37;--no:#c62828;--accent:#0b57d0;--okbg:#e8f5ec;--nobg:#fdecec}\
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#1a1d23;--fg:#e8eaed;--muted:#9aa0a8;\
--line:#2e333b;--code:#12151a;--ok:#2ea043;--no:#e5534b;--accent:#8ab4f8;--okbg:#132a1b;--nobg:#2d1516}}\
*{box-sizing:border-box}\
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\
body{margin:0;background:var(--bg);color:var(--fg);\
font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\"Noto Sans CJK SC\",sans-serif}\
main{max-width:46rem;margin:0 auto;padding:10px 12px 28px}\
.bar{display:flex;justify-content:space-between;align-items:center;gap:12px;font-size:14px;\
color:var(--muted);padding:4px 2px 10px}\
.brand{font-weight:700;letter-spacing:.01em}\
a{color:var(--accent)}\
.bar a{text-decoration:none;font-weight:600}\
.card{background:var(--card);border:1px solid var(--line);border-radius:16px;padding:16px;\
box-shadow:0 1px 2px rgba(0,0,0,.05)}\
.card.live{border-top:4px solid var(--accent)}\
.card.approved{border-top:4px solid var(--ok)}\
.card.rejected{border-top:4px solid var(--no)}\
.card.closed{border-top:4px solid var(--muted)}\
h1{font-size:1.3rem;line-height:1.3;margin:2px 0 6px;overflow-wrap:anywhere}\
.who{margin:0 0 14px;color:var(--muted);font-size:14px;overflow-wrap:anywhere}\
pre{background:var(--code);border:1px solid var(--line);border-radius:10px;padding:10px 12px;\
margin:0 0 14px;font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,\"Liberation Mono\",monospace;\
max-height:55vh;overflow:auto;tab-size:4}\
pre.text{white-space:pre-wrap;overflow-wrap:anywhere}\
.deadline{font-size:14px;color:var(--muted);margin:0 0 14px}\
.deadline b{color:var(--fg);white-space:nowrap}\
label{display:block;font-weight:600;margin:0 0 6px}\
textarea{display:block;width:100%;min-height:5.5em;font:inherit;padding:10px 12px;\
border:1px solid var(--line);border-radius:10px;background:var(--card);color:var(--fg);resize:vertical}\
textarea:focus{outline:2px solid var(--accent);outline-offset:1px}\
.hint{font-size:13px;color:var(--muted);margin:6px 0 16px}\
.buttons{display:grid;grid-template-columns:1fr 1fr;gap:10px}\
button{font:inherit;font-weight:650;min-height:52px;padding:12px;border-radius:12px;\
border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer;\
touch-action:manipulation}\
button.approve{background:var(--ok);border-color:var(--ok);color:#fff}\
button.reject{background:var(--no);border-color:var(--no);color:#fff}\
button.approve::before{content:\"\\2713\\00a0\"}\
button.reject::before{content:\"\\2715\\00a0\"}\
button.other{grid-column:1/-1}\
button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}\
button:disabled{opacity:.45;cursor:not-allowed}\
.status{display:flex;flex-direction:column;gap:4px;border-radius:10px;padding:12px 14px;\
margin:0 0 14px;background:var(--code);border:1px solid var(--line);overflow-wrap:anywhere}\
.approved .status{background:var(--okbg);border-color:var(--ok)}\
.rejected .status{background:var(--nobg);border-color:var(--no)}\
.status span{white-space:pre-wrap}\
.notice{margin:0 0 12px;padding:12px 14px;border-radius:10px;background:var(--nobg);\
border:1px solid var(--no);font-weight:600}\
.list{list-style:none;margin:0;padding:0}\
.list li{border-top:1px solid var(--line)}\
.list a{display:flex;flex-direction:column;gap:2px;padding:12px 2px;color:inherit;text-decoration:none}\
.list .title{font-weight:600;overflow-wrap:anywhere}\
.list .meta,.list .state{font-size:14px;color:var(--muted)}\
.list .live .state{color:var(--accent);font-weight:600}\
@media (max-width:340px){.buttons{grid-template-columns:1fr}}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;
    use crate::request::{Origin, Request};
    use std::sync::Arc;

    fn chrome() -> Chrome<'static> {
        Chrome {
            text: Locale::En.messages(),
            lang: "en",
            nonce: "NONCE",
            base_path: "",
            session: "SESSION",
        }
    }

    fn page(state: State) -> Page {
        let mut request = Request::new(
            "Deploy <script>alert(1)</script> & \"more\"",
            Body::Text("rm -rf '/' && echo <b>hi</b>".into()),
            Origin {
                host: "box<1>".into(),
                directory: "~/src/\"app\"".into(),
                label: Some("agent & co".into()),
            },
            Duration::from_secs(600),
        );
        request.choices = vec![
            Choice {
                id: "y".into(),
                label: "✅ Approve".into(),
                verdict: Verdict::Approve,
                asks_reason: false,
            },
            Choice {
                id: "n".into(),
                label: "Reject".into(),
                verdict: Verdict::Reject,
                asks_reason: true,
            },
            Choice {
                id: "always".into(),
                label: "Yes, <don't> ask again".into(),
                verdict: Verdict::Approve,
                asks_reason: false,
            },
        ];
        Page {
            token: "TOKEN".into(),
            form_token: "FORM".into(),
            request: Arc::new(request),
            state,
        }
    }

    fn live() -> State {
        State::Live(tokio::sync::oneshot::channel().0)
    }

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(escape("plain ✓"), "plain ✓");
    }

    #[test]
    fn every_human_supplied_string_is_escaped() {
        let html = request_page(&chrome(), &page(live()), None);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains(
            "<h1>Deploy &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;</h1>"
        ));
        assert!(html.contains(
            "<pre class=\"text\">rm -rf &#39;/&#39; &amp;&amp; echo &lt;b&gt;hi&lt;/b&gt;</pre>"
        ));
        assert!(html.contains("Asked from box&lt;1&gt; in ~/src/&quot;app&quot;"));
        assert!(html.contains("Session: agent &amp; co"));
        assert!(html.contains(">Yes, &lt;don&#39;t&gt; ask again</button>"));
        // The only scripts are ours, with the nonce.
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("<script nonce=\"NONCE\">"));
        assert!(html.contains("<style nonce=\"NONCE\">"));
    }

    #[test]
    fn a_live_page_has_the_form_and_every_choice() {
        let html = request_page(&chrome(), &page(live()), None);
        assert!(html.contains("<form method=\"post\">"));
        assert!(html.contains("name=\"form\" value=\"FORM\""));
        assert!(html.contains("<textarea id=\"feedback\" name=\"feedback\""));
        assert!(
            html.contains("class=\"approve\">Approve</button>"),
            "{html}"
        );
        for value in ["y", "n", "always"] {
            assert!(html.contains(&format!("name=\"choice\" value=\"{value}\"")));
        }
        assert!(html.contains("name=\"viewport\""));
        assert!(html.contains("href=\"/s/SESSION/\""));
        assert!(html.contains("data-left=\""));
    }

    #[test]
    fn a_finished_page_says_why_and_has_no_form() {
        let answered = State::Answered {
            lines: vec!["✅ Approved by web (127.0.0.1)".into(), "Note: <ok>".into()],
            approved: true,
        };
        let html = request_page(&chrome(), &page(answered), None);
        assert!(!html.contains("<form"));
        assert!(!html.contains("<script"));
        assert!(html.contains("<strong>✅ Approved by web (127.0.0.1)</strong>"));
        assert!(html.contains("<span>Note: &lt;ok&gt;</span>"));

        let closed = State::Closed {
            line: "⌛ Timed out".into(),
        };
        let html = request_page(&chrome(), &page(closed), Some("no longer open"));
        assert!(!html.contains("<form"));
        assert!(html.contains("card closed"));
        assert!(html.contains("⌛ Timed out"));
        assert!(html.contains("<p class=\"notice\" role=\"alert\">no longer open</p>"));
    }

    #[test]
    fn refusal_pages_do_not_link_the_session() {
        let html = message_page(&chrome(), "nope <x>");
        assert!(!html.contains("SESSION"));
        assert!(html.contains("nope &lt;x&gt;"));
    }

    #[test]
    fn the_index_lists_pages_newest_first_with_links() {
        let mut a = page(live());
        a.token = "AAA".into();
        let mut b = page(State::Closed {
            line: "moved".into(),
        });
        b.token = "BBB".into();
        let html = index_page(&chrome(), [&b, &a].into_iter());
        let at_b = html.find("/r/BBB/").unwrap();
        let at_a = html.find("/r/AAA/").unwrap();
        assert!(at_b < at_a);
        assert!(html.contains("Waiting for an answer"));
        assert!(html.contains("http-equiv=\"refresh\""));
    }

    #[test]
    fn status_lines_say_who_decided_and_quote_the_feedback() {
        let text = Locale::En.messages();
        let reject = page(live()).request.choices[1].clone();
        let lines = decided_lines(text, &reject, "web (127.0.0.1)", Some("not on Friday"));
        assert!(lines[0].starts_with("❌ Rejected by web (127.0.0.1) at "));
        assert_eq!(lines[1], "Reason: not on Friday");
        let line = closing_line(
            text,
            &Closing::Escalated {
                to: crate::provider::ProviderName::Telegram,
            },
        )
        .unwrap();
        assert!(line.contains("moved to Telegram"), "{line}");
        assert_eq!(closing_line(text, &Closing::Done), None);
    }
}
