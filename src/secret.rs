//! A string that must never be shown: bot tokens and the like.

use std::fmt;

/// A secret value. `Debug` and `Display` print `***`; use [`Secret::expose`] deliberately.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for building a request. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// Replace every occurrence of the secret in `text` with `***`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("123456:ABCdef");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let s = Secret::new("123456:ABCdef");
        assert_eq!(
            s.redact("http://x/bot123456:ABCdef/getMe and 123456:ABCdef"),
            "http://x/bot***/getMe and ***"
        );
    }
}
