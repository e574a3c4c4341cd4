//! Typed keys as a readable string for the audit log: `y⏎`, `↓ ↓ ⏎`, `Esc`, and free text
//! replaced by its length so feedback never lands in the log.

/// The keys typed for one answer, accumulated over the plan's writes.
#[derive(Debug, Default, Clone)]
pub struct Keys {
    parts: Vec<String>,
}

impl Keys {
    /// Record one write. `masked`: the answer carried free text, so runs of two or more
    /// printable characters (the text, not a key) are shown as their length.
    pub fn push(&mut self, bytes: &[u8], masked: bool) {
        let mut rest = bytes;
        let mut text = String::new();
        let flush = |text: &mut String, parts: &mut Vec<String>| {
            if text.is_empty() {
                return;
            }
            let chars = text.chars().count();
            if masked && chars >= 2 {
                parts.push(format!("‹{chars} chars›"));
            } else {
                parts.push(std::mem::take(text));
            }
            text.clear();
        };
        while !rest.is_empty() {
            if let Some((name, len)) = named_key(rest) {
                flush(&mut text, &mut self.parts);
                self.parts.push(name.to_owned());
                rest = &rest[len..];
                continue;
            }
            let b = rest[0];
            if b < 0x20 || b == 0x7f {
                flush(&mut text, &mut self.parts);
                self.parts.push(control_name(b));
                rest = &rest[1..];
                continue;
            }
            // A printable run up to the next control byte, decoded lossily.
            let end = rest
                .iter()
                .position(|&b| b < 0x20 || b == 0x7f)
                .unwrap_or(rest.len());
            text.push_str(&String::from_utf8_lossy(&rest[..end]));
            rest = &rest[end..];
        }
        flush(&mut text, &mut self.parts);
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

impl std::fmt::Display for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.parts.join(" "))
    }
}

/// Escape sequences with a name, and their length.
fn named_key(bytes: &[u8]) -> Option<(&'static str, usize)> {
    const KEYS: [(&[u8], &str); 12] = [
        (b"\x1b[200~", "‹paste›"),
        (b"\x1b[201~", "‹/paste›"),
        (b"\x1b[Z", "⇤"),
        (b"\x1b[A", "↑"),
        (b"\x1b[B", "↓"),
        (b"\x1b[C", "→"),
        (b"\x1b[D", "←"),
        (b"\x1bOA", "↑"),
        (b"\x1bOB", "↓"),
        (b"\x1bOC", "→"),
        (b"\x1bOD", "←"),
        (b"\x1b", "Esc"),
    ];
    KEYS.iter()
        .find(|(seq, _)| bytes.starts_with(seq))
        .map(|(seq, name)| (*name, seq.len()))
}

fn control_name(b: u8) -> String {
    match b {
        b'\r' => "⏎".to_owned(),
        b'\n' => "↵".to_owned(),
        b'\t' => "⇥".to_owned(),
        0x7f => "⌫".to_owned(),
        b => format!("^{}", char::from(b + 0x40)),
    }
}

#[cfg(test)]
mod tests {
    use super::Keys;

    fn show(writes: &[&[u8]], masked: bool) -> String {
        let mut keys = Keys::default();
        for w in writes {
            keys.push(w, masked);
        }
        keys.to_string()
    }

    #[test]
    fn keys_are_named() {
        assert_eq!(show(&[b"y\r"], false), "y ⏎");
        assert_eq!(show(&[b"\x1b[B", b"\x1b[B", b"\r"], false), "↓ ↓ ⏎");
        assert_eq!(show(&[b"\x1b"], false), "Esc");
        assert_eq!(show(&[b"\x1bOA\t\x03"], false), "↑ ⇥ ^C");
    }

    #[test]
    fn free_text_is_replaced_by_its_length() {
        assert_eq!(
            show(&[b"n\r", b"use the staging db", b"\r"], true),
            "n ⏎ ‹18 chars› ⏎"
        );
        assert_eq!(
            show(&[b"\x1b[200~h\xc3\xa9llo\x1b[201~", b"\r"], true),
            "‹paste› ‹5 chars› ‹/paste› ⏎"
        );
        assert_eq!(show(&[b"hello"], false), "hello");
    }
}
