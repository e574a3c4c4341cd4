//! The terminal title while a remote approval is pending.
//!
//! The title is pushed (`CSI 22;2 t`), replaced (OSC 2), and popped (`CSI 23;2 t`) when the
//! request ends. Terminals without the title stack ignore push and pop; for them, the agent's
//! own last title (if it set one) is written again after the pop.

/// Save the current title on the terminal's stack.
pub const PUSH: &[u8] = b"\x1b[22;2t";
/// Restore the saved title.
pub const POP: &[u8] = b"\x1b[23;2t";

/// The bytes that show "approval pending" with `question`.
pub fn pending(question: &str) -> Vec<u8> {
    let mut out = PUSH.to_vec();
    out.extend_from_slice(&set(&format!(
        "⏳ approval pending — {}",
        clean(question, 80)
    )));
    out
}

/// The bytes that show a short note (an automatic answer) until [`restore`].
pub fn note(text: &str) -> Vec<u8> {
    let mut out = PUSH.to_vec();
    out.extend_from_slice(&set(&clean(text, 80)));
    out
}

/// The bytes that put the previous title back; `agent_title` is the last title the agent set.
pub fn restore(agent_title: Option<&str>) -> Vec<u8> {
    let mut out = POP.to_vec();
    if let Some(title) = agent_title {
        out.extend_from_slice(&set(&clean(title, 200)));
    }
    out
}

fn set(title: &str) -> Vec<u8> {
    format!("\x1b]2;{title}\x07").into_bytes()
}

/// One line of printable text, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_carry_no_control_characters() {
        let bytes = pending("Delete\x1b]2;evil\x07 everything?\n[y/n]");
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "\x1b[22;2t\x1b]2;⏳ approval pending — Delete ]2;evil everything? [y/n]\x07"
        );
        assert_eq!(restore(None), POP);
        assert_eq!(restore(Some("vim")), b"\x1b[23;2t\x1b]2;vim\x07".to_vec());
        assert_eq!(clean(&"x".repeat(100), 10).chars().count(), 10);
    }
}
