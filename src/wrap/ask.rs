//! From a detected prompt to a request on the human's phone: the request itself (title,
//! redacted context, choices), and the task that waits for its answer through the gate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::prompt::{Prompt, ScreenView};
use super::redact::redact;
use crate::answer::Answer;
use crate::gate::Gate;
use crate::provider::{Closing, Provider, ProviderError, ProviderName, Ticket, TicketEvent};
use crate::request::{Body, Choice, Origin, Request, RequestId};

/// What a request is made of, besides the prompt.
#[derive(Debug, Clone)]
pub struct Shape {
    pub origin: Origin,
    pub timeout: Duration,
    pub reject_feedback_timeout: Duration,
    /// Rows of context above the question (`--context-rows`); `None`: as the pattern says.
    pub context_rows: Option<usize>,
}

/// The request for `prompt`, detected on `screen`.
pub fn request(prompt: &Prompt, screen: &ScreenView, shape: &Shape) -> Request {
    let mut title = format!("{}: {}", prompt.agent, prompt.question.trim());
    let subject = prompt.subject.as_deref().and_then(|s| s.lines().next());
    if let Some(subject) = subject.map(str::trim)
        && !subject.is_empty()
        && !prompt.question.contains(subject)
    {
        title.push_str(" — ");
        title.push_str(subject);
    }
    let context = match shape.context_rows {
        None => context(&prompt.context, &prompt.question, usize::MAX),
        Some(rows) => from_screen(screen, &prompt.question, rows)
            .unwrap_or_else(|| context(&prompt.context, &prompt.question, rows)),
    };
    let mut request = Request::new(
        redact(&title),
        Body::Terminal(redact(&context)),
        shape.origin.clone(),
        shape.timeout,
    );
    request.reject_feedback_timeout = shape.reject_feedback_timeout;
    request.choices = prompt
        .choices
        .iter()
        .map(|c| Choice {
            id: c.id.clone(),
            label: c.label.clone(),
            verdict: c.verdict,
            asks_reason: c.asks_reason,
        })
        .collect();
    request
}

/// `rows` rows of `screen` above the (last) row showing `question`, down to the last non-empty
/// row; `None` if no row shows the question.
fn from_screen(screen: &ScreenView, question: &str, rows: usize) -> Option<String> {
    let question = question.trim();
    if question.is_empty() {
        return None;
    }
    let q = screen.rows.iter().rposition(|r| r.contains(question))?;
    let text = screen.rows[q.saturating_sub(rows)..].join("\n");
    Some(context(&text, question, rows))
}

/// The prompt's context cut to `rows` rows above the prompt itself (the prompt starts at the
/// last line that shows the question), without blank lines at either end.
pub fn context(text: &str, question: &str, rows: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let question = question.trim();
    let start_of_prompt = lines
        .iter()
        .rposition(|l| !question.is_empty() && l.contains(question))
        .unwrap_or(lines.len().saturating_sub(1));
    let mut first = start_of_prompt.saturating_sub(rows);
    let mut last = lines.len();
    while first < last && lines[first].trim().is_empty() {
        first += 1;
    }
    while last > first && lines[last - 1].trim().is_empty() {
        last -= 1;
    }
    lines[first..last].join("\n")
}

/// What the bridge hears from the providers while a request is out.
#[derive(Debug)]
pub enum Heard {
    /// The request is on a channel with live buttons.
    Posted {
        request: RequestId,
        provider: ProviderName,
        at: Instant,
    },
}

/// A provider that tells the bridge when its request was posted (for the title and the
/// detected→posted latency), and otherwise passes everything through.
struct Observed {
    inner: Arc<dyn Provider>,
    heard: mpsc::UnboundedSender<Heard>,
}

/// Wrap every provider of a chain.
pub fn observed(
    chain: Vec<Arc<dyn Provider>>,
    heard: &mpsc::UnboundedSender<Heard>,
) -> Vec<Arc<dyn Provider>> {
    chain
        .into_iter()
        .map(|inner| {
            Arc::new(Observed {
                inner,
                heard: heard.clone(),
            }) as Arc<dyn Provider>
        })
        .collect()
}

impl Provider for Observed {
    fn name(&self) -> ProviderName {
        self.inner.name()
    }

    fn open(&self, request: Arc<Request>) -> Ticket {
        let mut inner = self.inner.open(request.clone());
        let (outer, handle) = Ticket::pair();
        let heard = self.heard.clone();
        let provider = self.inner.name();
        tokio::spawn(async move {
            let crate::provider::TicketHandle { events, mut close } = handle;
            let mut inner_live = true;
            loop {
                tokio::select! {
                    // Cancel-safe: both are channel receives.
                    event = inner.next(), if inner_live => match event {
                        Some(event) => {
                            if matches!(event, TicketEvent::Posted) {
                                let _ = heard.send(Heard::Posted {
                                    request: request.id.clone(),
                                    provider,
                                    at: Instant::now(),
                                });
                            }
                            let _ = events.send(event).await;
                        }
                        None => inner_live = false,
                    },
                    closing = close.recv() => match closing {
                        Some((why, done)) => {
                            inner.close(why).await;
                            let _ = done.send(());
                        }
                        // The gate dropped its ticket: drop ours (the provider forgets it).
                        None => break,
                    },
                }
            }
        });
        outer
    }
}

/// How asking ended.
#[derive(Debug)]
pub enum Asked {
    /// Withdrawn during the grace period: nobody was paged.
    Unasked,
    /// The gate's answer (a `Cancelled` decision when withdrawn).
    Answered(Result<Answer, ProviderError>),
    /// The task asking failed (it panicked).
    Lost(String),
}

/// Wait `grace`, then ask through the gate; `cancel` withdraws the request with its reason.
pub async fn ask(
    gate: Arc<Gate>,
    request: Arc<Request>,
    grace: Duration,
    cancel: oneshot::Receiver<Closing>,
) -> Asked {
    let mut cancel = cancel;
    if !grace.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(grace) => {}
            _ = &mut cancel => return Asked::Unasked,
        }
    }
    let why = async move { cancel.await.unwrap_or(Closing::Cancelled) };
    Asked::Answered(gate.ask(request, why).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Verdict;
    use crate::wrap::prompt::PromptChoice;

    #[test]
    fn context_keeps_rows_above_the_prompt() {
        let text = "\n\na\nb\nc\nd\nDelete it? [y/n]\n\n";
        assert_eq!(
            context(text, "Delete it? [y/n]", 2),
            "c\nd\nDelete it? [y/n]"
        );
        assert_eq!(
            context(text, "Delete it? [y/n]", 20),
            "a\nb\nc\nd\nDelete it? [y/n]"
        );
        let menu = "x\ny\nDo you want to proceed?\n❯ 1. Yes\n  2. No\n";
        assert_eq!(
            context(menu, "Do you want to proceed?", 1),
            "y\nDo you want to proceed?\n❯ 1. Yes\n  2. No"
        );
    }

    #[test]
    fn requests_are_redacted_and_carry_the_choices() {
        let prompt = Prompt {
            pattern: "generic/yes-no".into(),
            agent: "generic".into(),
            kind: None,
            question: "Use key sk-abcdefghijklmnop0123? [y/n]".into(),
            subject: None,
            context: "export TOKEN=hunter2\nUse key sk-abcdefghijklmnop0123? [y/n]".into(),
            choices: vec![PromptChoice {
                id: "y".into(),
                label: "Yes".into(),
                verdict: Verdict::Approve,
                asks_reason: false,
            }],
            fingerprint: 1,
        };
        let mut shape = Shape {
            origin: Origin::default(),
            timeout: Duration::from_secs(5),
            reject_feedback_timeout: Duration::ZERO,
            context_rows: None,
        };
        let screen = ScreenView {
            rows: vec![
                "a".into(),
                "b".into(),
                "export TOKEN=hunter2".into(),
                "Use key sk-abcdefghijklmnop0123? [y/n]".into(),
            ],
            ..ScreenView::default()
        };
        let with_pattern_context = request(&prompt, &screen, &shape);
        shape.context_rows = Some(1);
        let request = request(&prompt, &screen, &shape);
        assert_eq!(with_pattern_context.body, request.body);
        shape.context_rows = Some(2);
        let wider = super::request(&prompt, &screen, &shape);
        assert_eq!(
            wider.body.text(),
            "b\nexport TOKEN=[REDACTED]\nUse key [REDACTED]? [y/n]"
        );
        assert_eq!(request.title, "generic: Use key [REDACTED]? [y/n]");
        assert_eq!(
            request.body.text(),
            "export TOKEN=[REDACTED]\nUse key [REDACTED]? [y/n]"
        );
        assert_eq!(request.choices.len(), 1);
        assert_eq!(request.choices[0].id, "y");
    }
}
