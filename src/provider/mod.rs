//! Providers deliver a request to one channel and report the first valid answer.
//!
//! A provider's [`Provider::open`] starts a task that posts the request and returns a
//! [`Ticket`]: a stream of [`TicketEvent`]s and a way to [`Ticket::close`] the request with a
//! reason. Closing removes the buttons and says why on the message; after that, late clicks on
//! that message are told the reason ("moved to Discord", "expired") and decide nothing.
//!
//! A provider marks a request decided itself (edits its message to record who decided) before
//! it reports [`TicketEvent::Answered`]. It reports [`TicketEvent::Holding`] when a decision is
//! made but it is still collecting a reason: the gate then stops its clocks, because a decision
//! the human already made must not turn into a timeout.

pub mod discord;
pub mod telegram;
pub mod web;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::answer::Person;
use crate::request::{Notice, Request, Verdict};

/// The providers openfeedback knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderName {
    Telegram,
    Discord,
    Web,
}

impl ProviderName {
    pub const ALL: [ProviderName; 3] = [
        ProviderName::Telegram,
        ProviderName::Discord,
        ProviderName::Web,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderName::Telegram => "telegram",
            ProviderName::Discord => "discord",
            ProviderName::Web => "web",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The `--provider` flag of `send`, `wrap` and `hook`, checked.
    pub fn from_flag(name: Option<&str>) -> Result<Option<Self>, crate::error::Error> {
        name.map(|name| {
            Self::parse(name).ok_or_else(|| {
                crate::error::Error::Usage(format!(
                    "unknown provider {name:?}: expected telegram, discord or web"
                ))
            })
        })
        .transpose()
    }

    /// The name shown to humans ("moved to Discord").
    pub fn display_name(self) -> &'static str {
        match self {
            ProviderName::Telegram => "Telegram",
            ProviderName::Discord => "Discord",
            ProviderName::Web => "the local approval page",
        }
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider failed. Messages never contain secrets.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct ProviderError {
    pub provider: ProviderName,
    pub message: String,
    /// True when retrying cannot help (bad token, chat not found, forbidden).
    pub permanent: bool,
}

impl ProviderError {
    pub fn new(provider: ProviderName, message: impl Into<String>, permanent: bool) -> Self {
        ProviderError {
            provider,
            message: message.into(),
            permanent,
        }
    }
}

/// The human's answer, as one provider saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub choice: String,
    pub verdict: Verdict,
    pub by: Person,
    pub feedback: Option<String>,
}

/// What a ticket reports.
#[derive(Debug, Clone)]
pub enum TicketEvent {
    /// The request is on the channel with live buttons.
    Posted,
    /// A decision was made; a reason is being collected. Clocks stop.
    Holding,
    /// The final answer. The provider has already recorded it on its message.
    Answered(Reply),
    /// A transient failure (network down, 5xx): the provider keeps retrying until the
    /// deadline, but the gate may move on to the next provider.
    Trouble(ProviderError),
    /// The provider cannot deliver or listen any more.
    Failed(ProviderError),
}

/// Why a request is being withdrawn from a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    /// The deadline passed with no answer.
    TimedOut,
    /// Handed over to another provider.
    Escalated { to: ProviderName },
    /// The process was interrupted (SIGINT, SIGTERM, SIGHUP).
    Cancelled,
    /// Answered somewhere else, e.g. "at the terminal".
    AnsweredElsewhere { place: String },
    /// The request was answered on this ticket; nothing more to show.
    Done,
}

/// What a channel shows when a request is withdrawn from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// The status line added to the message ("⌛ Timed out at …", "↪ … moved to Discord …").
    pub line: String,
    /// What a click that still arrives on the message is told.
    pub late: String,
}

impl Closing {
    /// The withdrawal notice in `text`'s language; `None` for [`Closing::Done`], whose message
    /// already records the answer.
    pub fn withdrawal(&self, text: &crate::i18n::Messages) -> Option<Withdrawal> {
        use crate::i18n::fill;
        let time = crate::i18n::clock(std::time::SystemTime::now());
        let expired = text.expired.to_owned();
        let (line, late) = match self {
            Closing::Done => return None,
            Closing::TimedOut => (fill(text.timed_out, &[("time", &time)]), expired),
            Closing::Cancelled => (fill(text.cancelled, &[("time", &time)]), expired),
            Closing::Escalated { to } => {
                let provider = to.display_name();
                (
                    fill(text.escalated, &[("provider", provider), ("time", &time)]),
                    fill(text.moved, &[("provider", provider)]),
                )
            }
            Closing::AnsweredElsewhere { place } => (
                fill(
                    text.answered_elsewhere,
                    &[("place", place), ("time", &time)],
                ),
                expired,
            ),
        };
        Some(Withdrawal { line, late })
    }
}

/// A request delivered to one provider.
///
/// Dropping the ticket tells the provider to forget the request entirely; until then a closed
/// ticket keeps answering late clicks with its reason.
pub struct Ticket {
    events: mpsc::Receiver<TicketEvent>,
    close: mpsc::Sender<(Closing, oneshot::Sender<()>)>,
    closed: bool,
}

/// The provider's side of a [`Ticket`].
pub struct TicketHandle {
    pub events: mpsc::Sender<TicketEvent>,
    pub close: mpsc::Receiver<(Closing, oneshot::Sender<()>)>,
}

impl Ticket {
    /// A connected ticket and the handle its provider task drives.
    pub fn pair() -> (Ticket, TicketHandle) {
        let (events_tx, events_rx) = mpsc::channel(8);
        let (close_tx, close_rx) = mpsc::channel(1);
        (
            Ticket {
                events: events_rx,
                close: close_tx,
                closed: false,
            },
            TicketHandle {
                events: events_tx,
                close: close_rx,
            },
        )
    }

    /// The next event; `None` when the provider task ended. Cancel-safe.
    pub async fn next(&mut self) -> Option<TicketEvent> {
        self.events.recv().await
    }

    /// Withdraw the request and wait until the provider has cleaned up (best effort: a
    /// provider that cannot reach its service gives up at its own deadline).
    pub async fn close(&mut self, why: Closing) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let (done_tx, done_rx) = oneshot::channel();
        if self.close.send((why, done_tx)).await.is_ok() {
            let _ = done_rx.await;
        }
    }
}

/// The delivery of a [`Notice`]: done once the channel accepted it.
pub type Delivery<'a> = Pin<Box<dyn Future<Output = Result<(), ProviderError>> + Send + 'a>>;

/// A channel that can carry requests.
pub trait Provider: Send + Sync {
    fn name(&self) -> ProviderName;

    /// Deliver `request` and start listening for its answer.
    fn open(&self, request: Arc<Request>) -> Ticket;

    /// Deliver `notice`: a message with no buttons that needs no answer. A provider with no
    /// place to show one refuses it (the default), and the gate tries the next.
    fn notify<'a>(&'a self, notice: &'a Notice) -> Delivery<'a> {
        let _ = notice;
        let name = self.name();
        Box::pin(async move { Err(ProviderError::new(name, "cannot deliver notices", true)) })
    }
}
