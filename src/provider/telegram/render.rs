//! The request as a Telegram HTML message, cut to Telegram's 4096-character limit.

use crate::i18n::{Messages, fill};
use crate::request::{Body, Notice, Request};
use crate::text::{cut_end, cut_top};

/// Telegram's limit on message text, counted after entity parsing.
pub const LIMIT: usize = 4096;
/// Room kept free for the status lines added when the request is decided or withdrawn.
const STATUS_ROOM: usize = 700;
/// Longest reason or note quoted back into the message.
pub const QUOTE_LIMIT: usize = 500;

/// Escape text for Telegram's HTML parse mode.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The message for `request`, without status lines.
pub fn message(request: &Request, text: &Messages) -> String {
    let mut footer = request.origin.lines(text.asked_from, text);
    footer.push(fill(
        text.answer_by,
        &[("deadline", &crate::i18n::clock(request.deadline()))],
    ));
    compose(
        "🔔",
        &request.title,
        &request.body,
        &footer,
        STATUS_ROOM,
        text,
    )
}

/// A notice: its title, its body, and where it comes from; no deadline, no status room.
pub fn notice(notice: &Notice, text: &Messages) -> String {
    let footer = notice.origin.lines(text.sent_from, text);
    compose("📣", &notice.title, &notice.body, &footer, 64, text)
}

/// `icon` and the title in bold, the body in the room left after `reserved` characters (the
/// status lines a request may get), and the footer lines in italics.
fn compose(
    icon: &str,
    title: &str,
    content: &Body,
    footer: &[String],
    reserved: usize,
    text: &Messages,
) -> String {
    let title = cut_end(title, 256, text.truncated);
    let fixed =
        title.chars().count() + footer.iter().map(|l| l.chars().count() + 1).sum::<usize>() + 16;
    let room = LIMIT.saturating_sub(reserved + fixed);
    let mut html = format!("{icon} <b>{}</b>\n", escape(&title));
    if !content.is_empty() {
        html.push('\n');
        body(&mut html, content, room, text);
        html.push('\n');
    }
    html.push('\n');
    html.push_str(
        &footer
            .iter()
            .map(|l| format!("<i>{}</i>", escape(l)))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    html
}

fn body(html: &mut String, body: &Body, room: usize, text: &Messages) {
    match body {
        Body::Text(body) => {
            html.push_str(&escape(&cut_end(body.trim_end(), room, text.truncated)));
        }
        Body::Terminal(screen) => {
            let shown = cut_top(screen.trim_end(), room, text.truncated);
            html.push_str("<pre>");
            html.push_str(&escape(&shown));
            html.push_str("</pre>");
        }
    }
}

/// `message` followed by status lines (already escaped HTML).
pub fn with_status(request: &Request, text: &Messages, status: &[String]) -> String {
    let mut html = message(request, text);
    html.push_str("\n\n");
    html.push_str(&status.join("\n"));
    html
}

/// The visible length of an HTML message (what Telegram counts).
pub fn visible_len(html: &str) -> usize {
    let mut count = 0;
    let mut in_tag = false;
    let mut entity = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            '&' => entity = true,
            ';' if entity => {
                entity = false;
                count += 1;
            }
            _ if entity => {}
            _ => count += 1,
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;
    use crate::request::Origin;
    use std::time::Duration;

    fn request(body: Body) -> Request {
        let origin = Origin {
            host: "box".into(),
            directory: "~/src/app".into(),
            label: None,
        };
        Request::new(
            "Deploy <prod> & more",
            body,
            origin,
            Duration::from_secs(60),
        )
    }

    #[test]
    fn escapes_title_and_body() {
        let html = message(
            &request(Body::Text("a < b && c > d".into())),
            Locale::En.messages(),
        );
        assert!(
            html.contains("<b>Deploy &lt;prod&gt; &amp; more</b>"),
            "{html}"
        );
        assert!(html.contains("a &lt; b &amp;&amp; c &gt; d"), "{html}");
        assert!(
            html.contains("<i>Asked from box in ~/src/app</i>"),
            "{html}"
        );
    }

    #[test]
    fn terminal_context_goes_in_pre() {
        let html = message(
            &request(Body::Terminal("$ rm -rf build\nRun? [y/n]".into())),
            Locale::En.messages(),
        );
        assert!(
            html.contains("<pre>$ rm -rf build\nRun? [y/n]</pre>"),
            "{html}"
        );
    }

    #[test]
    fn long_terminal_context_keeps_the_prompt_line() {
        let screen = (0..2000)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\nProceed? [y/N]";
        let html = message(&request(Body::Terminal(screen)), Locale::En.messages());
        assert!(
            visible_len(&html) <= LIMIT - STATUS_ROOM,
            "{}",
            visible_len(&html)
        );
        assert!(html.contains("… (truncated)\n"));
        assert!(html.contains("Proceed? [y/N]</pre>"));
        assert!(!html.contains("line 0\n"));
    }

    #[test]
    fn long_text_body_is_cut_at_the_end() {
        let html = message(
            &request(Body::Text("x".repeat(10_000))),
            Locale::En.messages(),
        );
        assert!(visible_len(&html) <= LIMIT - STATUS_ROOM);
        assert!(html.contains("x\n… (truncated)"));
    }

    #[test]
    fn visible_len_counts_entities_once() {
        assert_eq!(visible_len("<b>a&amp;b</b>"), 3);
    }
}
