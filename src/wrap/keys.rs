//! Key specs: the little language patterns use to say what to type, and the bytes it becomes.
//!
//! A spec is a whitespace-separated list of tokens:
//!
//! | token | bytes |
//! |---|---|
//! | `y`, `yes`, `/exit` (any text without spaces, `<` or `{`) | the text itself |
//! | `<enter>` | `\r` (never `\n`: Claude Code reads `\n` as "insert newline") |
//! | `<esc>` | `\x1b` sent alone, then a pause of at least [`ESC_PAUSE`] so the agent does not read it as Alt+key |
//! | `<tab>`, `<backtab>` | `\t`, `ESC [ Z` |
//! | `<up>` `<down>` `<left>` `<right>` | `ESC [ A`.., or `ESC O A`.. when the agent enabled application cursor keys |
//! | `<space>`, `<backspace>`, `<lt>`, `<gt>` | ` `, `\x7f`, `<`, `>` |
//! | `<ctrl-c>` (any letter) | the control byte, `\x03` |
//! | `<pause 200ms>`, `<pause 1s>` | a pause (at most 10 s) |
//! | `{feedback}` | the human's sanitised feedback, then a pause ([`FEEDBACK_PAUSE`]) so a following `<enter>` is not taken as part of the text; bracketed paste when the agent enabled it |
//!
//! Specs are parsed when patterns load ([`KeySpec::parse`]); errors say at which column the spec
//! is wrong. Arrow keys and bracketed paste depend on the terminal modes the agent set, so bytes
//! are produced only when answering ([`KeySpec::steps`]).

use std::fmt;
use std::time::Duration;

use crate::wrap::prompt::{ScreenView, Step};

/// The pause after a lone Esc.
pub const ESC_PAUSE: Duration = Duration::from_millis(150);
/// The pause between typed feedback and whatever follows it (usually Enter).
pub const FEEDBACK_PAUSE: Duration = Duration::from_millis(150);
/// The longest pause a spec may ask for.
pub const MAX_PAUSE: Duration = Duration::from_secs(10);
/// Feedback longer than this many characters is cut.
pub const MAX_FEEDBACK_CHARS: usize = 2000;

/// A named key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    Space,
    Backspace,
    /// A control byte (`<ctrl-c>` = 0x03).
    Ctrl(u8),
}

impl Key {
    /// The bytes for this key; arrows depend on DECCKM (application cursor mode).
    pub fn bytes(self, application_cursor: bool) -> Vec<u8> {
        let arrow = |letter: u8| {
            if application_cursor {
                vec![0x1b, b'O', letter]
            } else {
                vec![0x1b, b'[', letter]
            }
        };
        match self {
            Key::Enter => b"\r".to_vec(),
            Key::Esc => vec![0x1b],
            Key::Tab => b"\t".to_vec(),
            Key::BackTab => b"\x1b[Z".to_vec(),
            Key::Up => arrow(b'A'),
            Key::Down => arrow(b'B'),
            Key::Right => arrow(b'C'),
            Key::Left => arrow(b'D'),
            Key::Space => b" ".to_vec(),
            Key::Backspace => vec![0x7f],
            Key::Ctrl(byte) => vec![byte],
        }
    }
}

/// One token of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyItem {
    Text(String),
    Key(Key),
    Pause(Duration),
    Feedback,
}

/// A parsed key spec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySpec {
    pub items: Vec<KeyItem>,
    /// The spec as written, for messages and `patterns show`.
    pub source: String,
}

/// Where and why a key spec is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// 1-based character column in the spec.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for KeyError {}

impl KeySpec {
    /// Parse a spec such as `"n <enter>"` or `"<esc> <pause 200ms> {feedback} <enter>"`.
    pub fn parse(spec: &str) -> Result<KeySpec, KeyError> {
        let chars: Vec<char> = spec.chars().collect();
        let mut items = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() {
                i += 1;
            } else if c == '<' {
                let close = chars[i..].iter().position(|&c| c == '>').ok_or(KeyError {
                    column: i + 1,
                    message: "`<` without a closing `>` (write `<lt>` for a literal `<`)".into(),
                })?;
                let name: String = chars[i + 1..i + close].iter().collect();
                items.push(named(&name).map_err(|message| KeyError {
                    column: i + 1,
                    message,
                })?);
                i += close + 1;
            } else if c == '{' {
                let word: String = chars[i..].iter().take_while(|&&c| c != '}').collect();
                if word != "{feedback" || i + word.len() >= chars.len() {
                    return Err(KeyError {
                        column: i + 1,
                        message: "`{` starts a placeholder, and the only one is `{feedback}`"
                            .into(),
                    });
                }
                items.push(KeyItem::Feedback);
                i += word.chars().count() + 1;
            } else if c.is_control() {
                return Err(KeyError {
                    column: i + 1,
                    message: format!(
                        "control character U+{:04X} in the text; name the key instead, e.g. `<enter>`",
                        u32::from(c)
                    ),
                });
            } else {
                let text: String = chars[i..]
                    .iter()
                    .take_while(|&&c| {
                        !(c.is_whitespace() || c == '<' || c == '{' || c.is_control())
                    })
                    .collect();
                i += text.chars().count();
                items.push(KeyItem::Text(text));
            }
        }
        Ok(KeySpec {
            items,
            source: spec.to_owned(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn uses_feedback(&self) -> bool {
        self.items.contains(&KeyItem::Feedback)
    }

    /// The steps that type this spec on `screen` (whose modes decide the arrow bytes and
    /// bracketed paste). `feedback` must already be sanitised; an empty one types nothing.
    pub fn steps(&self, screen: &ScreenView, feedback: &str) -> Vec<Step> {
        let mut steps = Vec::new();
        for (n, item) in self.items.iter().enumerate() {
            match item {
                KeyItem::Text(text) => steps.push(Step::Write(text.as_bytes().to_vec())),
                KeyItem::Key(key) => {
                    steps.push(Step::Write(key.bytes(screen.application_cursor)));
                    if *key == Key::Esc {
                        // Esc followed quickly by anything reads as Alt+key: pause, at least
                        // ESC_PAUSE even when the spec asks for a shorter pause next.
                        match self.items.get(n + 1) {
                            Some(KeyItem::Pause(d)) if *d >= ESC_PAUSE => {}
                            _ => steps.push(Step::Pause(ESC_PAUSE)),
                        }
                    }
                }
                KeyItem::Pause(d) => {
                    let after_esc = n > 0 && self.items[n - 1] == KeyItem::Key(Key::Esc);
                    if !(after_esc && *d < ESC_PAUSE) {
                        steps.push(Step::Pause(*d));
                    }
                }
                KeyItem::Feedback => {
                    if feedback.is_empty() {
                        continue;
                    }
                    let bytes = if screen.bracketed_paste {
                        [b"\x1b[200~".as_slice(), feedback.as_bytes(), b"\x1b[201~"].concat()
                    } else {
                        feedback.as_bytes().to_vec()
                    };
                    steps.push(Step::Write(bytes));
                    steps.push(Step::Pause(FEEDBACK_PAUSE));
                }
            }
        }
        steps
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The item for `<name>`.
fn named(name: &str) -> Result<KeyItem, String> {
    let lower = name.trim().to_ascii_lowercase();
    let key = match lower.as_str() {
        "enter" | "return" | "cr" => Key::Enter,
        "esc" | "escape" => Key::Esc,
        "tab" => Key::Tab,
        "backtab" | "shift-tab" => Key::BackTab,
        "up" => Key::Up,
        "down" => Key::Down,
        "left" => Key::Left,
        "right" => Key::Right,
        "space" => Key::Space,
        "backspace" | "bs" => Key::Backspace,
        "lt" => return Ok(KeyItem::Text("<".into())),
        "gt" => return Ok(KeyItem::Text(">".into())),
        _ => {
            if let Some(rest) = lower.strip_prefix("pause") {
                return pause(rest.trim()).map(KeyItem::Pause);
            }
            if let Some(letter) = lower.strip_prefix("ctrl-") {
                return match letter.as_bytes() {
                    [c @ b'a'..=b'z'] => Ok(KeyItem::Key(Key::Ctrl(c - b'a' + 1))),
                    _ => Err(format!(
                        "`<{name}>`: ctrl- takes one letter, e.g. `<ctrl-c>`"
                    )),
                };
            }
            return Err(format!(
                "unknown key `<{name}>` (known: enter, esc, tab, backtab, up, down, left, right, \
                 space, backspace, ctrl-<letter>, pause <n>ms, lt, gt)"
            ));
        }
    };
    Ok(KeyItem::Key(key))
}

/// `200ms` or `1s`.
fn pause(text: &str) -> Result<Duration, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`<pause {text}>`: expected a duration such as `200ms` or `1s`"))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        _ => return Err(format!("`<pause {text}>`: the unit must be `ms` or `s`")),
    };
    if d > MAX_PAUSE {
        return Err(format!("`<pause {text}>` is longer than the 10 s limit"));
    }
    Ok(d)
}

/// Make chat text safe to type into an agent: no C0/C1 control characters, no escape
/// sequences (so no bracketed-paste terminator, no cursor games), newlines folded into spaces
/// (the text cannot submit extra lines), whitespace runs collapsed, trimmed, and cut to
/// [`MAX_FEEDBACK_CHARS`] characters.
pub fn sanitize_feedback(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_FEEDBACK_CHARS * 4));
    let mut chars = text.chars().peekable();
    let mut count = 0;
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            skip_escape(&mut chars);
            continue;
        }
        // Line and paragraph separators would be newlines to some agents.
        let blank = c.is_whitespace() || matches!(c, '\u{2028}' | '\u{2029}');
        if blank {
            pending_space = !out.is_empty();
            continue;
        }
        // C0, DEL, C1 (`char::is_control` covers all three).
        if c.is_control() {
            continue;
        }
        if pending_space {
            if count + 1 >= MAX_FEEDBACK_CHARS {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= MAX_FEEDBACK_CHARS {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Skip the rest of an escape sequence whose ESC was just read: CSI (`ESC [` params final),
/// OSC/DCS/SOS/PM/APC strings (up to BEL or ST), or a two-character escape.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']' | 'P' | 'X' | '^' | '_') => {
            while let Some(c) = chars.next() {
                if c == '\x07' || c == '\u{9c}' {
                    break;
                }
                if c == '\x1b' {
                    chars.next_if_eq(&'\\');
                    break;
                }
            }
        }
        // A two-character escape (`ESC c`, `ESC 7`, ...): the character is dropped too.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(app_cursor: bool, paste: bool) -> ScreenView {
        ScreenView {
            application_cursor: app_cursor,
            bracketed_paste: paste,
            ..ScreenView::default()
        }
    }

    fn writes(steps: &[Step]) -> Vec<u8> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Write(b) => Some(b.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn parses_text_and_named_keys() {
        let spec = KeySpec::parse("y <enter>").unwrap();
        assert_eq!(
            spec.items,
            vec![KeyItem::Text("y".into()), KeyItem::Key(Key::Enter)]
        );
        let spec = KeySpec::parse("<ESC><pause 200ms>{feedback} <Enter>").unwrap();
        assert_eq!(
            spec.items,
            vec![
                KeyItem::Key(Key::Esc),
                KeyItem::Pause(Duration::from_millis(200)),
                KeyItem::Feedback,
                KeyItem::Key(Key::Enter)
            ]
        );
        assert!(spec.uses_feedback());
        assert_eq!(
            KeySpec::parse("<ctrl-c> <lt>x<gt> <pause 1s>")
                .unwrap()
                .items,
            vec![
                KeyItem::Key(Key::Ctrl(3)),
                KeyItem::Text("<".into()),
                KeyItem::Text("x".into()),
                KeyItem::Text(">".into()),
                KeyItem::Pause(Duration::from_secs(1))
            ]
        );
        assert!(KeySpec::parse("   ").unwrap().is_empty());
    }

    #[test]
    fn errors_say_where() {
        let e = KeySpec::parse("y <entr>").unwrap_err();
        assert_eq!(e.column, 3);
        assert!(e.message.contains("unknown key `<entr>`"), "{e}");
        let e = KeySpec::parse("y <enter").unwrap_err();
        assert_eq!(e.column, 3);
        let e = KeySpec::parse("ab {reason}").unwrap_err();
        assert_eq!(e.column, 4);
        assert!(KeySpec::parse("{feedback").is_err());
        assert!(
            KeySpec::parse("<pause 20>")
                .unwrap_err()
                .message
                .contains("unit")
        );
        assert!(
            KeySpec::parse("<pause 11s>")
                .unwrap_err()
                .message
                .contains("limit")
        );
        assert!(KeySpec::parse("<pause fast>").is_err());
        assert!(KeySpec::parse("<ctrl-1>").is_err());
        assert!(KeySpec::parse("a\u{7}b").is_err());
    }

    #[test]
    fn arrows_follow_application_cursor_mode() {
        let spec = KeySpec::parse("<up> <down>").unwrap();
        assert_eq!(
            writes(&spec.steps(&screen(false, false), "")),
            b"\x1b[A\x1b[B"
        );
        assert_eq!(
            writes(&spec.steps(&screen(true, false), "")),
            b"\x1bOA\x1bOB"
        );
    }

    #[test]
    fn esc_is_sent_alone_then_paused() {
        let steps = KeySpec::parse("<esc> x")
            .unwrap()
            .steps(&screen(false, false), "");
        assert_eq!(
            steps,
            vec![
                Step::Write(vec![0x1b]),
                Step::Pause(ESC_PAUSE),
                Step::Write(b"x".to_vec())
            ]
        );
        // A longer explicit pause replaces the default; a shorter one is raised.
        let steps = KeySpec::parse("<esc> <pause 400ms>")
            .unwrap()
            .steps(&screen(false, false), "");
        assert_eq!(
            steps,
            vec![
                Step::Write(vec![0x1b]),
                Step::Pause(Duration::from_millis(400))
            ]
        );
        let steps = KeySpec::parse("<esc> <pause 10ms>")
            .unwrap()
            .steps(&screen(false, false), "");
        assert_eq!(steps, vec![Step::Write(vec![0x1b]), Step::Pause(ESC_PAUSE)]);
    }

    #[test]
    fn feedback_is_typed_then_paused_and_pasted_when_enabled() {
        let spec = KeySpec::parse("{feedback} <enter>").unwrap();
        assert_eq!(
            spec.steps(&screen(false, false), "use pnpm"),
            vec![
                Step::Write(b"use pnpm".to_vec()),
                Step::Pause(FEEDBACK_PAUSE),
                Step::Write(b"\r".to_vec())
            ]
        );
        assert_eq!(
            writes(&spec.steps(&screen(false, true), "use pnpm")),
            b"\x1b[200~use pnpm\x1b[201~\r"
        );
        // No feedback: nothing typed for it, the rest still runs.
        assert_eq!(
            spec.steps(&screen(false, false), ""),
            vec![Step::Write(b"\r".to_vec())]
        );
    }

    #[test]
    fn sanitize_strips_controls_and_escapes_and_folds_lines() {
        assert_eq!(
            sanitize_feedback("  use pnpm\r\nnot npm \n"),
            "use pnpm not npm"
        );
        assert_eq!(sanitize_feedback("a\x1b[201~b\x1b[31mc"), "abc");
        assert_eq!(
            sanitize_feedback("a\x1b]0;title\x07b\x1b]8;;x\x1b\\c"),
            "abc"
        );
        assert_eq!(sanitize_feedback("a\x03b\x7fc\u{9b}d\u{85}e\x00"), "abcd e");
        assert_eq!(sanitize_feedback("x\u{2028}y\ty"), "x y y");
        assert_eq!(sanitize_feedback("\x1b"), "");
        assert_eq!(sanitize_feedback("日本語 ok"), "日本語 ok");
        let long = "é".repeat(MAX_FEEDBACK_CHARS + 50);
        assert_eq!(sanitize_feedback(&long).chars().count(), MAX_FEEDBACK_CHARS);
        let spaced = "a ".repeat(MAX_FEEDBACK_CHARS);
        let cut = sanitize_feedback(&spaced);
        assert!(cut.chars().count() <= MAX_FEEDBACK_CHARS && !cut.ends_with(' '));
    }
}
