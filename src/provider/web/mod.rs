//! The web provider: a local approval page, the default that needs no account.
//!
//! Theory of operation:
//! - One [`Web`] owns one HTTP server (started by the first request, on `[web] listen` /
//!   `--listen`, 127.0.0.1 with a random port by default) and serves every request of the
//!   process through it: each request gets a page at `/r/{token}/`, and `/s/{token}/` lists
//!   them all (the session index). Build one `Web` per process and share it (it is `Clone`).
//! - Opening a ticket adds a live page and prints its URL on stderr (with a QR code the first
//!   time, when stderr is a terminal; and the session URL once a second request exists).
//!   `[web] public_url` replaces the printed base, for a tunnel.
//! - The human answers with one form: a button (approve, reject, or an extra choice) plus an
//!   optional feedback box. Feedback with a reject is the reason, with an approve a note; the
//!   reason arrives with the click, so this provider never reports `Holding`.
//! - The page records the answer, then the ticket reports [`TicketEvent::Answered`]. Closing
//!   the ticket makes the page say why (timed out, moved to Telegram, answered at the
//!   terminal) and refuse answers with 409. Dropping the ticket leaves the page closed.
//!
//! Who answered: the page has no accounts. The answer's `user` is `web (PEER)`, where PEER is
//! the address the answer came from (`web (127.0.0.1)`; behind a tunnel, the tunnel's local
//! end), and `user_id` is `0`. Knowing the page's URL is what authorises an answer.
//!
//! Security: page and session tokens are 128-bit random and compared in constant time; an
//! answer also needs the page's form token and must not come from another site
//! ([`guard`]); only loopback peers are served unless a non-loopback address was chosen to
//! listen on; every response sends a strict Content-Security-Policy ([`server`]).

mod form;
mod guard;
pub mod page;
mod pages;
mod qr;
mod server;

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use self::page::Chrome;
use self::pages::{Pages, Submission};
use crate::config::WebSettings;
use crate::i18n::{Locale, Messages};
use crate::provider::{Provider, ProviderError, ProviderName, Ticket, TicketEvent, TicketHandle};
use crate::request::Request;

/// How long closing a ticket waits for the answer's response to reach the browser.
const FLUSH_PATIENCE: Duration = Duration::from_secs(5);

/// Where the URL announcements go.
type Notices = Arc<dyn Fn(&str) + Send + Sync>;

/// The web provider. Clones share one server.
#[derive(Clone)]
pub struct Web {
    site: Arc<Site>,
}

impl Web {
    /// A provider that prints its URLs on stderr (and QR codes, when stderr is a terminal).
    pub fn new(settings: WebSettings, locale: Locale) -> Self {
        Web::build(settings, locale, None)
    }

    /// A provider that hands its announcements (plain text lines, no QR code) to `notices`,
    /// e.g. for `wrap`, where stderr belongs to the agent's screen.
    pub fn with_notices(
        settings: WebSettings,
        locale: Locale,
        notices: impl Fn(&str) + Send + Sync + 'static,
    ) -> Self {
        Web::build(settings, locale, Some(Arc::new(notices)))
    }

    fn build(settings: WebSettings, locale: Locale, notices: Option<Notices>) -> Self {
        let public_origin = settings.public_url.as_deref().and_then(guard::origin_of);
        let base_path = settings
            .public_url
            .as_deref()
            .and_then(|url| {
                let origin = guard::origin_of(url)?;
                Some(url.get(origin.len()..)?.trim_end_matches('/').to_owned())
            })
            .unwrap_or_default();
        Web {
            site: Arc::new(Site {
                listen: settings.listen,
                public_url: settings.public_url,
                public_origin,
                base_path,
                locale,
                text: locale.messages(),
                session: crate::token::random_token(16),
                pages: Mutex::default(),
                bound: Mutex::default(),
                announced: AtomicUsize::new(0),
                notices,
            }),
        }
    }

    /// Start the server now (otherwise the first request starts it) and return the session
    /// page's URL: it lists every request of this process as it comes, so it can be opened
    /// before there is any (`wrap` prints it before the agent takes the screen).
    pub fn session_page(&self) -> Result<String, ProviderError> {
        let base = self.site.ensure_server()?;
        Ok(self.site.session_url(&base))
    }

    /// The session index URL, once the server is listening.
    pub fn session_url(&self) -> Option<String> {
        let bound = self.site.bound.lock().expect("bound");
        let (_, base) = bound.as_ref()?;
        Some(self.site.session_url(base))
    }

    /// The address the server listens on, once it does.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.site
            .bound
            .lock()
            .expect("bound")
            .as_ref()
            .map(|(addr, _)| *addr)
    }
}

impl Provider for Web {
    fn name(&self) -> ProviderName {
        ProviderName::Web
    }

    fn open(&self, request: Arc<Request>) -> Ticket {
        let (ticket, handle) = Ticket::pair();
        tokio::spawn(run_ticket(self.site.clone(), request, handle));
        ticket
    }
}

/// What the server and the tickets of one [`Web`] share.
struct Site {
    listen: SocketAddr,
    public_url: Option<String>,
    /// `scheme://authority` of `public_url`: an accepted `Origin`.
    public_origin: Option<String>,
    /// The path of `public_url` ("" when none), under which the pages live.
    base_path: String,
    locale: Locale,
    text: &'static Messages,
    session: String,
    pages: Mutex<Pages>,
    /// The bound address and the printed base URL, set once the server listens.
    bound: Mutex<Option<(SocketAddr, String)>>,
    announced: AtomicUsize,
    notices: Option<Notices>,
}

impl Site {
    fn chrome<'a>(&'a self, nonce: &'a str) -> Chrome<'a> {
        Chrome {
            text: self.text,
            lang: self.locale.tag(),
            nonce,
            base_path: &self.base_path,
            session: &self.session,
        }
    }

    fn session_url(&self, base: &str) -> String {
        format!("{base}/s/{}/", self.session)
    }

    /// Start the server unless it runs; returns the base URL pages are printed under.
    fn ensure_server(self: &Arc<Self>) -> Result<String, ProviderError> {
        let mut bound_now = self.bound.lock().expect("bound");
        if let Some((_, base)) = &*bound_now {
            return Ok(base.clone());
        }
        let bound = server::start(self.clone(), self.listen).map_err(|e| {
            ProviderError::new(
                ProviderName::Web,
                format!("cannot listen on {}: {e}", self.listen),
                true,
            )
        })?;
        if !bound.ip().to_canonical().is_loopback() {
            crate::log::info(&format!(
                "the approval page listens on {bound}: other machines can reach it (each page \
                 still needs its secret link)"
            ));
        }
        let base = match &self.public_url {
            Some(url) => {
                // The tunnel has to forward to this address, and the printed URL hides it.
                let mut note = format!("the approval page is served on {bound} for {url}");
                if self.listen.port() == 0 {
                    note.push_str(
                        " (a random port: set [web] listen or --listen to the port your tunnel \
                         forwards to)",
                    );
                }
                crate::log::info(&note);
                url.clone()
            }
            None => format!("http://{}", shown_addr(bound)),
        };
        *bound_now = Some((bound, base.clone()));
        Ok(base)
    }

    /// Tell the human where to answer.
    fn announce(&self, base: &str, url: &str) {
        let count = self.announced.fetch_add(1, Ordering::Relaxed);
        let mut text = String::new();
        let terminal = self.notices.is_none() && std::io::stderr().is_terminal();
        if let Some(code) = (count == 0 && terminal).then(|| qr::render(url)).flatten() {
            text.push_str(&code);
        }
        let _ = writeln!(text, "openfeedback: approve or reject at {url}");
        if count == 1 {
            let session = self.session_url(base);
            let _ = writeln!(
                text,
                "openfeedback: every request of this session: {session}"
            );
        }
        match &self.notices {
            Some(notices) => notices(&text),
            None => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
    }
}

/// The address to print for a bound socket: a wildcard address is not somewhere a browser can
/// go, so show loopback with the same port.
fn shown_addr(bound: SocketAddr) -> SocketAddr {
    match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, bound.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, bound.port()))
        }
        _ => bound,
    }
}

async fn run_ticket(site: Arc<Site>, request: Arc<Request>, handle: TicketHandle) {
    let TicketHandle { events, mut close } = handle;
    let base = match site.ensure_server() {
        Ok(base) => base,
        Err(error) => {
            let _ = events.send(TicketEvent::Failed(error)).await;
            if let Some((_, done)) = close.recv().await {
                let _ = done.send(());
            }
            return;
        }
    };
    let (token, mut submitted) = site.pages.lock().expect("pages").add(request);
    site.announce(&base, &format!("{base}/r/{token}/"));
    let _ = events.send(TicketEvent::Posted).await;

    let mut open = true;
    let mut flushed = None;
    loop {
        tokio::select! {
            // Cancel-safe: a oneshot receiver polled by reference keeps its value.
            got = &mut submitted, if open => {
                open = false;
                if let Ok(Submission { reply, flushed: sent }) = got {
                    flushed = Some(sent);
                    let _ = events.send(TicketEvent::Answered(reply)).await;
                }
            }
            closing = close.recv() => match closing {
                Some((why, done)) => {
                    open = false;
                    // If an answer raced this close, the close wins: the gate has already
                    // decided otherwise, so the page must say what really happened.
                    let line = page::closing_line(site.text, &why);
                    site.pages
                        .lock()
                        .expect("pages")
                        .close(&token, line, site.text.expired);
                    if let Some(sent) = flushed.take() {
                        let _ = tokio::time::timeout(FLUSH_PATIENCE, sent).await;
                    }
                    let _ = done.send(());
                }
                None => break,
            },
        }
    }
    site.pages
        .lock()
        .expect("pages")
        .forget(&token, site.text.expired);
}

#[cfg(test)]
mod tests;
