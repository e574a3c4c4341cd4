//! The answer form as browsers submit it: `application/x-www-form-urlencoded`.
//!
//! Invariant: parsing never panics on hostile input; bad percent escapes or invalid UTF-8 make
//! the whole form unreadable (the page then says so) rather than being guessed at.

/// The fields of an answer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// The page's form token.
    pub form: String,
    /// The id of the chosen button.
    pub choice: String,
    /// The feedback box, trimmed, with browser line ends (CRLF) made `\n`.
    pub feedback: Option<String>,
}

/// Parse a urlencoded body into an [`Answer`]. Unknown fields are ignored; a repeated field
/// keeps its first value.
pub fn parse(body: &[u8]) -> Option<Answer> {
    let mut form = None;
    let mut choice = None;
    let mut feedback = None;
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let slot = match decode(name)?.as_str() {
            "form" => &mut form,
            "choice" => &mut choice,
            "feedback" => &mut feedback,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(decode(value)?);
        }
    }
    let feedback = feedback
        .map(|f| {
            f.replace("\r\n", "\n")
                .replace('\r', "\n")
                .trim()
                .to_owned()
        })
        .filter(|f| !f.is_empty());
    Some(Answer {
        form: form?,
        choice: choice?,
        feedback,
    })
}

/// Percent-decode one name or value (`+` is a space).
fn decode(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(*bytes.next()?)?;
                let lo = hex(*bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_a_browser_sends() {
        let body = b"form=abc-_1&feedback=Not+on+Friday%21%0D%0ASecond+line%0D%0A&choice=n";
        assert_eq!(
            parse(body),
            Some(Answer {
                form: "abc-_1".into(),
                choice: "n".into(),
                feedback: Some("Not on Friday!\nSecond line".into()),
            })
        );
    }

    #[test]
    fn blank_feedback_is_none_and_unicode_survives() {
        let answer = parse(b"form=f&choice=y&feedback=+%0D%0A+").unwrap();
        assert_eq!(answer.feedback, None);
        let answer = parse("form=f&choice=y&feedback=%E5%A5%BD".as_bytes()).unwrap();
        assert_eq!(answer.feedback.as_deref(), Some("好"));
    }

    #[test]
    fn the_first_value_wins_and_unknown_fields_are_ignored() {
        let answer = parse(b"choice=y&choice=n&form=f&x=1&&=").unwrap();
        assert_eq!(answer.choice, "y");
    }

    #[test]
    fn broken_input_is_refused_not_guessed() {
        assert_eq!(parse(b"form=f"), None, "no choice");
        assert_eq!(parse(b"form=f&choice=%4"), None, "short escape");
        assert_eq!(parse(b"form=f&choice=%zz"), None, "bad hex");
        assert_eq!(parse(b"form=f&choice=%FF"), None, "not UTF-8");
        assert_eq!(parse(b""), None);
    }
}
