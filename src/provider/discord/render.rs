//! The request as a Discord message: a short `content` (title and status lines, at most 2000
//! characters) and one embed whose description carries the body (at most 4096 characters).
//!
//! Terminal context goes in a code block and, when too long, loses its top lines (the prompt
//! is at the bottom); free text loses its end. Either way a visible marker says so. Text from
//! outside (titles, names, reasons) is escaped so it cannot format or break the message;
//! mentions never ping because every message is sent with `allowed_mentions: {parse: []}`.

use serde_json::{Value, json};

use crate::i18n::{Messages, fill};
use crate::request::{Body, Notice, Request};
use crate::text::{cut_end, cut_top};

/// Discord's limit on `content`.
pub const CONTENT_LIMIT: usize = 2000;
/// Discord's limit on an embed description.
pub const DESCRIPTION_LIMIT: usize = 4096;
/// Discord's limit on embed footer text.
const FOOTER_LIMIT: usize = 2048;
/// Longest title shown.
const TITLE_LIMIT: usize = 256;
/// Longest reason or note quoted back into the message.
pub const QUOTE_LIMIT: usize = 500;
/// The embed's colour (a calm blue).
const COLOUR: u32 = 0x005A_9BD5;

/// Escape Discord Markdown in text that must show literally.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '-' | '[' | ']' | '(' | ')'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `content`: the title, then the status lines (already escaped).
pub fn content(request: &Request, text: &Messages, status: &[String]) -> String {
    let title = escape(&clip(
        request.title.lines().next().unwrap_or_default(),
        TITLE_LIMIT,
    ));
    let mut out = format!("🔔 **{title}**");
    for line in status {
        out.push('\n');
        out.push_str(line);
    }
    cut_end(&out, CONTENT_LIMIT, text.truncated)
}

/// The embed: the body, and a footer saying where the request comes from and until when.
pub fn embed(request: &Request, text: &Messages, reply_hint: bool) -> Value {
    let mut footer = request.origin.lines(text.asked_from, text);
    footer.push(fill(
        text.answer_by,
        &[("deadline", &crate::i18n::clock(request.deadline()))],
    ));
    if reply_hint {
        footer.push(text.reply_hint.to_owned());
    }
    let mut embed = json!({
        "color": COLOUR,
        "footer": {"text": cut_end(&footer.join("\n"), FOOTER_LIMIT, text.truncated)},
    });
    if !request.body.is_empty() {
        embed["description"] = json!(description(&request.body, text));
    }
    embed
}

/// The whole message for a notice: its title, its body in an embed, where it comes from; no
/// components.
pub fn notice(notice: &Notice, text: &Messages) -> Value {
    let title = escape(&clip(
        notice.title.lines().next().unwrap_or_default(),
        TITLE_LIMIT,
    ));
    let footer = notice.origin.lines(text.sent_from, text);
    let mut embed = json!({
        "color": COLOUR,
        "footer": {"text": cut_end(&footer.join("\n"), FOOTER_LIMIT, text.truncated)},
    });
    if !notice.body.is_empty() {
        embed["description"] = json!(description(&notice.body, text));
    }
    json!({
        "content": format!("📣 **{title}**"),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

/// The body as an embed description, within Discord's limit.
fn description(body: &Body, text: &Messages) -> String {
    match body {
        Body::Text(body) => cut_end(body.trim_end(), DESCRIPTION_LIMIT, text.truncated),
        Body::Terminal(screen) => {
            // A run of three backticks would end the block early.
            let screen = screen.trim_end().replace("```", "`\u{200b}``");
            let fence = "```\n\n```".chars().count();
            let shown = cut_top(&screen, DESCRIPTION_LIMIT - fence, text.truncated);
            format!("```\n{shown}\n```")
        }
    }
}

/// At most `limit` characters of `text`, ending in "…" when cut.
fn clip(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A status line saying who decided what.
pub fn decided_line(
    text: &Messages,
    choice: &crate::request::Choice,
    by: &str,
    time: &str,
) -> String {
    use crate::request::{Choice, Verdict};
    let by = escape(by);
    let line = match (choice.verdict, choice.id.as_str()) {
        (Verdict::Approve, Choice::APPROVE) => {
            fill(text.approved_by, &[("user", &by), ("time", time)])
        }
        (Verdict::Reject, Choice::REJECT) => {
            fill(text.rejected_by, &[("user", &by), ("time", time)])
        }
        _ => fill(
            text.chose_by,
            &[
                ("choice", &escape(&choice.label)),
                ("user", &by),
                ("time", time),
            ],
        ),
    };
    format!("**{line}**")
}

/// A quoted reason or note.
pub fn quote(template: &str, said: &str) -> String {
    let said = clip(&said.replace('\n', " "), QUOTE_LIMIT);
    format!("> {}", fill(template, &[("text", &escape(&said))]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;
    use crate::request::Origin;
    use std::time::Duration;

    fn request(title: &str, body: Body) -> Request {
        let origin = Origin {
            host: "box".into(),
            directory: "~/src/app".into(),
            label: Some("aider".into()),
        };
        Request::new(title, body, origin, Duration::from_secs(60))
    }

    #[test]
    fn title_is_escaped_and_bold() {
        let r = request("Deploy *prod* <@everyone>", Body::Text(String::new()));
        let c = content(&r, Locale::En.messages(), &[]);
        assert_eq!(c, "🔔 **Deploy \\*prod\\* \\<@everyone\\>**");
    }

    #[test]
    fn terminal_context_is_a_code_block_cut_from_the_top() {
        let screen = (0..3000)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n```evil```\nProceed? [y/N]";
        let r = request("t", Body::Terminal(screen));
        let e = embed(&r, Locale::En.messages(), false);
        let d = e["description"].as_str().unwrap();
        assert!(
            d.chars().count() <= DESCRIPTION_LIMIT,
            "{}",
            d.chars().count()
        );
        assert!(d.starts_with("```\n… (truncated)\n"), "{}", &d[..40]);
        assert!(d.ends_with("Proceed? [y/N]\n```"));
        assert!(!d.contains("line 0\n"));
        assert_eq!(d.matches("```").count(), 2, "inner fences are broken up");
    }

    #[test]
    fn long_text_is_cut_at_the_end_with_a_marker() {
        let r = request("t", Body::Text("x".repeat(10_000)));
        let e = embed(&r, Locale::En.messages(), true);
        let d = e["description"].as_str().unwrap();
        assert_eq!(d.chars().count(), DESCRIPTION_LIMIT);
        assert!(d.ends_with("x\n… (truncated)"));
        let footer = e["footer"]["text"].as_str().unwrap();
        assert!(footer.contains("Asked from box in ~/src/app"));
        assert!(footer.contains("Session: aider"));
        assert!(footer.contains(Locale::En.messages().reply_hint));
    }

    #[test]
    fn content_stays_within_2000_characters() {
        let r = request(&"t".repeat(5000), Body::Text(String::new()));
        let status = vec!["s".repeat(3000)];
        let c = content(&r, Locale::En.messages(), &status);
        assert!(c.chars().count() <= CONTENT_LIMIT);
    }

    #[test]
    fn quotes_are_escaped_single_lines() {
        assert_eq!(
            quote("Reason: {text}", "no *way*\nnever"),
            "> Reason: no \\*way\\* never"
        );
    }
}
