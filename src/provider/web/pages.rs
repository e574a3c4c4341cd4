//! The pages this process serves: one per request, looked up by its URL token.
//!
//! Invariants:
//! - A page's URL token and form token are 128-bit random strings; both are compared in
//!   constant time, and a lookup always scans every page (no early exit, no hash lookup keyed
//!   by the secret), so response timing does not reveal how much of a guess was right.
//! - A page is answered at most once: the live state owns the only sender to its ticket, and
//!   taking it (under the registry lock) is what decides which POST won.
//! - Status lines are plain text; the page renderer escapes them.
//! - Past pages stay listed (so a late visitor learns what happened) up to [`HISTORY`] pages;
//!   beyond that the oldest finished ones are forgotten.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::provider::Reply;
use crate::request::Request;
use crate::token::{constant_time_eq, random_token};

/// How many pages are kept, live ones included. Live pages are never dropped.
const HISTORY: usize = 200;

/// An answer given on a page, on its way to the page's ticket.
#[derive(Debug)]
pub struct Submission {
    pub reply: Reply,
    /// Resolves (or is dropped) once the connection that carried the answer has sent its
    /// response: the ticket waits for it before letting the process exit.
    pub flushed: oneshot::Receiver<()>,
}

/// Where a page stands.
#[derive(Debug)]
pub enum State {
    /// Open for answers; the sender reaches the page's ticket.
    Live(oneshot::Sender<Submission>),
    /// Answered here: who decided, and the reason or note if any.
    Answered { lines: Vec<String>, approved: bool },
    /// Withdrawn without an answer from this page: why.
    Closed { line: String },
}

#[derive(Debug)]
pub struct Page {
    pub token: String,
    /// Embedded in the page's form and required with every answer.
    pub form_token: String,
    pub request: Arc<Request>,
    pub state: State,
}

impl Page {
    pub fn is_live(&self) -> bool {
        matches!(self.state, State::Live(_))
    }
}

/// Every page of this process, oldest first.
#[derive(Debug, Default)]
pub struct Pages {
    pages: Vec<Page>,
}

impl Pages {
    /// Add a live page for `request`; returns its URL token and the receiver of its answer.
    pub fn add(&mut self, request: Arc<Request>) -> (String, oneshot::Receiver<Submission>) {
        let (tx, rx) = oneshot::channel();
        let token = random_token(16);
        self.pages.push(Page {
            token: token.clone(),
            form_token: random_token(16),
            request,
            state: State::Live(tx),
        });
        self.trim();
        (token, rx)
    }

    /// The page whose URL token is `token`. Scans every page in constant time per page.
    pub fn find(&self, token: &str) -> Option<&Page> {
        self.index(token).map(|i| &self.pages[i])
    }

    pub fn find_mut(&mut self, token: &str) -> Option<&mut Page> {
        self.index(token).map(|i| &mut self.pages[i])
    }

    fn index(&self, token: &str) -> Option<usize> {
        let mut found = None;
        for (i, page) in self.pages.iter().enumerate() {
            // No early exit: every page costs the same comparison.
            if constant_time_eq(page.token.as_bytes(), token.as_bytes()) {
                found = Some(i);
            }
        }
        found
    }

    /// Newest first, for the session index.
    pub fn newest_first(&self) -> impl Iterator<Item = &Page> {
        self.pages.iter().rev()
    }

    /// Withdraw a page: it shows `line` and takes no more answers. With `line` `None` (the
    /// gate accepted this page's answer) an answered page keeps its answer, and a page still
    /// live shows `fallback`.
    pub fn close(&mut self, token: &str, line: Option<String>, fallback: &str) {
        let Some(page) = self.find_mut(token) else {
            return;
        };
        match line {
            Some(line) => page.state = State::Closed { line },
            None if page.is_live() => {
                page.state = State::Closed {
                    line: fallback.to_owned(),
                };
            }
            None => {}
        }
    }

    /// The ticket is gone: a page still live can no longer be answered.
    pub fn forget(&mut self, token: &str, line: &str) {
        if let Some(page) = self.find_mut(token).filter(|p| p.is_live()) {
            page.state = State::Closed {
                line: line.to_owned(),
            };
        }
    }

    fn trim(&mut self) {
        while self.pages.len() > HISTORY {
            let Some(oldest) = self.pages.iter().position(|p| !p.is_live()) else {
                return;
            };
            self.pages.remove(oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Body, Origin};
    use std::time::Duration;

    fn request() -> Arc<Request> {
        Arc::new(Request::new(
            "t",
            Body::Text(String::new()),
            Origin::default(),
            Duration::from_secs(60),
        ))
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let mut pages = Pages::default();
        let (a, _) = pages.add(request());
        let (b, _) = pages.add(request());
        assert_ne!(a, b);
        // 16 random bytes: 128 bits.
        assert_eq!(a.len(), 22);
        assert_ne!(pages.find(&a).unwrap().form_token, a);
    }

    #[test]
    fn only_the_exact_token_finds_a_page() {
        let mut pages = Pages::default();
        let (token, _) = pages.add(request());
        assert!(pages.find(&token).is_some());
        assert!(pages.find("").is_none());
        assert!(pages.find(&token[..21]).is_none(), "a prefix");
        assert!(pages.find(&format!("{token}x")).is_none(), "an extension");
        let mut wrong = token.clone().into_bytes();
        wrong[21] = if wrong[21] == b'A' { b'B' } else { b'A' };
        assert!(pages.find(std::str::from_utf8(&wrong).unwrap()).is_none());
    }

    #[test]
    fn closing_replaces_the_state_and_forgetting_spares_finished_pages() {
        let mut pages = Pages::default();
        let (a, _) = pages.add(request());
        let (b, _) = pages.add(request());
        pages.close(&a, Some("Timed out".into()), "expired");
        assert!(
            matches!(&pages.find(&a).unwrap().state, State::Closed { line } if line == "Timed out")
        );
        pages.forget(&a, "expired");
        assert!(
            matches!(&pages.find(&a).unwrap().state, State::Closed { line } if line == "Timed out")
        );
        pages.forget(&b, "expired");
        assert!(
            matches!(&pages.find(&b).unwrap().state, State::Closed { line } if line == "expired")
        );
    }

    #[test]
    fn history_drops_the_oldest_finished_pages_only() {
        let mut pages = Pages::default();
        let (live, _rx) = pages.add(request());
        let mut first_finished = None;
        for _ in 0..HISTORY + 5 {
            let (t, _) = pages.add(request());
            pages.close(&t, Some("x".into()), "expired");
            first_finished.get_or_insert(t);
        }
        assert_eq!(pages.pages.len(), HISTORY);
        assert!(pages.find(&live).is_some(), "live pages are kept");
        assert!(pages.find(&first_finished.unwrap()).is_none());
    }
}
