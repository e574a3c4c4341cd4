//! The gate runs one request over an ordered chain of providers.
//!
//! Theory of operation:
//! - One deadline covers the whole chain (`request.timeout` from the start of [`Gate::ask`]).
//! - Exactly one provider holds live buttons at a time. The gate opens a ticket on the first
//!   provider; when that provider stays silent past the escalation point, or fails, the gate
//!   closes its ticket with [`Closing::Escalated`] (buttons removed, "moved to X" shown) before
//!   opening the next one. Each hop gets `escalate_after`, capped by the deadline; the last
//!   provider waits until the deadline.
//! - A ticket that reports [`TicketEvent::Holding`] has a decision and is collecting a reason:
//!   no clock runs against it any more (the provider bounds that wait itself).
//! - A transient failure ([`TicketEvent::Trouble`]) escalates at once when another provider
//!   follows; the last provider keeps retrying until the deadline. If no provider ever posted
//!   the request by then, the human never saw it: that is an error, not a timeout.
//! - The `cancel` future withdraws the request (a signal, or the prompt was answered at the
//!   terminal); the live ticket is closed with that reason and the answer is `Cancelled`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::{Instant, sleep_until};

use crate::answer::{Answer, Decision};
use crate::provider::{Closing, Provider, ProviderError, ProviderName, Ticket, TicketEvent};
use crate::request::{Notice, Request};

/// An ordered chain of providers with an escalation interval.
pub struct Gate {
    chain: Vec<Arc<dyn Provider>>,
    escalate_after: Option<Duration>,
}

impl Gate {
    /// `escalate_after` is how long each provider but the last may stay silent; `None` means
    /// half of the request's timeout.
    pub fn new(chain: Vec<Arc<dyn Provider>>, escalate_after: Option<Duration>) -> Self {
        assert!(!chain.is_empty(), "a gate needs at least one provider");
        Gate {
            chain,
            escalate_after,
        }
    }

    pub fn providers(&self) -> impl Iterator<Item = ProviderName> + '_ {
        self.chain.iter().map(|p| p.name())
    }

    /// Ask `request` and wait for its answer, a timeout, or `cancel`.
    ///
    /// Errors only when every provider of the chain failed.
    pub async fn ask(
        &self,
        request: Arc<Request>,
        cancel: impl Future<Output = Closing>,
    ) -> Result<Answer, ProviderError> {
        let start = Instant::now();
        let deadline = start + request.timeout;
        let step = self
            .escalate_after
            .unwrap_or(request.timeout / 2)
            .max(Duration::from_secs(1));
        let first = self.chain[0].name();
        let mut cancel = std::pin::pin!(cancel);
        let mut last_error = None;
        let mut posted_anywhere = false;
        // Closed tickets stay alive until the gate returns, so they keep telling late clicks why.
        let mut retired: Vec<Ticket> = Vec::new();

        for (index, provider) in self.chain.iter().enumerate() {
            let is_last = index + 1 == self.chain.len();
            let hop_end = if is_last {
                deadline
            } else {
                (Instant::now() + step).min(deadline)
            };
            let escalated_from = (index > 0).then_some(first);
            let mut ticket = provider.open(request.clone());
            let mut holding = false;
            let answer = |decision, reply: Option<crate::provider::Reply>| Answer {
                decision,
                by: reply.as_ref().map(|r| r.by.clone()),
                feedback: reply.and_then(|r| r.feedback),
                provider: Some(provider.name()),
                escalated_from,
                at: SystemTime::now(),
            };

            let outcome = loop {
                tokio::select! {
                    // Cancel-safe: `Ticket::next` is an mpsc receive.
                    event = ticket.next() => match event {
                        Some(TicketEvent::Posted) => posted_anywhere = true,
                        Some(TicketEvent::Trouble(error)) if !is_last => break Hop::Failed(error),
                        Some(TicketEvent::Trouble(error)) => last_error = Some(error),
                        Some(TicketEvent::Holding) => holding = true,
                        Some(TicketEvent::Answered(reply)) => {
                            ticket.close(Closing::Done).await;
                            let decision = Decision::Decided {
                                verdict: reply.verdict,
                                choice: reply.choice.clone(),
                            };
                            return Ok(answer(decision, Some(reply)));
                        }
                        Some(TicketEvent::Failed(error)) => break Hop::Failed(error),
                        None => break Hop::Failed(ProviderError::new(
                            provider.name(), "stopped without an answer", false)),
                    },
                    () = sleep_until(hop_end), if !holding => break Hop::Silent,
                    why = &mut cancel, if !holding => {
                        ticket.close(why).await;
                        return Ok(answer(Decision::Cancelled, None));
                    }
                }
            };

            let next = self.chain.get(index + 1).map(|p| p.name());
            match (outcome, next) {
                (Hop::Silent, None) => {
                    ticket.close(Closing::TimedOut).await;
                    if !posted_anywhere && let Some(error) = last_error {
                        return Err(error);
                    }
                    return Ok(answer(Decision::TimedOut, None));
                }
                (Hop::Silent, Some(to)) if Instant::now() < deadline => {
                    ticket.close(Closing::Escalated { to }).await;
                    retired.push(ticket);
                }
                (Hop::Silent, Some(_)) => {
                    ticket.close(Closing::TimedOut).await;
                    return Ok(answer(Decision::TimedOut, None));
                }
                (Hop::Failed(error), next) => {
                    if let Some(to) = next {
                        ticket.close(Closing::Escalated { to }).await;
                    }
                    retired.push(ticket);
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.expect("the loop only ends after a failure"))
    }
}

impl Gate {
    /// Deliver `notice` on the first provider of the chain that accepts it (no waiting, no
    /// answer). Errors only when every provider refused or failed; the error is the last one.
    pub async fn notify(&self, notice: &Notice) -> Result<ProviderName, ProviderError> {
        let mut last_error = None;
        for provider in &self.chain {
            match provider.notify(notice).await {
                Ok(()) => return Ok(provider.name()),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("a gate has at least one provider"))
    }
}

enum Hop {
    Silent,
    Failed(ProviderError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::Person;
    use crate::provider::{Reply, TicketHandle};
    use crate::request::{Body, Notice, Origin, Verdict};
    use std::sync::Mutex;

    /// A provider whose behaviour is a script: answer after a delay, fail, or stay silent.
    struct Scripted {
        name: ProviderName,
        script: Script,
        closed: Arc<Mutex<Vec<Closing>>>,
    }

    #[derive(Clone)]
    enum Script {
        AnswerAfter(Duration, Verdict),
        FailAfter(Duration),
        Silent,
        HoldThenAnswerAfter(Duration, Duration),
    }

    impl Provider for Scripted {
        fn name(&self) -> ProviderName {
            self.name
        }

        fn open(&self, _request: Arc<Request>) -> Ticket {
            let (ticket, TicketHandle { events, mut close }) = Ticket::pair();
            let script = self.script.clone();
            let closed = self.closed.clone();
            let name = self.name;
            tokio::spawn(async move {
                let reply = |verdict| Reply {
                    choice: if verdict == Verdict::Approve {
                        "y"
                    } else {
                        "n"
                    }
                    .into(),
                    verdict,
                    by: Person {
                        name: "ann".into(),
                        id: "7".into(),
                    },
                    feedback: None,
                };
                let act = async {
                    let _ = events.send(TicketEvent::Posted).await;
                    match script {
                        Script::AnswerAfter(d, v) => {
                            tokio::time::sleep(d).await;
                            let _ = events.send(TicketEvent::Answered(reply(v))).await;
                        }
                        Script::FailAfter(d) => {
                            tokio::time::sleep(d).await;
                            let error = ProviderError::new(name, "down", false);
                            let _ = events.send(TicketEvent::Failed(error)).await;
                        }
                        Script::HoldThenAnswerAfter(hold, answer) => {
                            tokio::time::sleep(hold).await;
                            let _ = events.send(TicketEvent::Holding).await;
                            tokio::time::sleep(answer).await;
                            let _ = events
                                .send(TicketEvent::Answered(reply(Verdict::Reject)))
                                .await;
                        }
                        Script::Silent => {}
                    }
                    std::future::pending::<()>().await;
                };
                tokio::select! {
                    () = act => {}
                    Some((why, done)) = close.recv() => {
                        closed.lock().unwrap().push(why);
                        let _ = done.send(());
                    }
                }
            });
            ticket
        }
    }

    fn provider(
        name: ProviderName,
        script: Script,
    ) -> (Arc<dyn Provider>, Arc<Mutex<Vec<Closing>>>) {
        let closed = Arc::new(Mutex::new(Vec::new()));
        (
            Arc::new(Scripted {
                name,
                script,
                closed: closed.clone(),
            }),
            closed,
        )
    }

    fn request(timeout_secs: u64) -> Arc<Request> {
        Arc::new(Request::new(
            "t",
            Body::Text(String::new()),
            Origin::default(),
            Duration::from_secs(timeout_secs),
        ))
    }

    fn never() -> std::future::Pending<Closing> {
        std::future::pending()
    }

    #[tokio::test(start_paused = true)]
    async fn first_provider_answers() {
        let (tg, closed) = provider(
            ProviderName::Telegram,
            Script::AnswerAfter(secs(5), Verdict::Approve),
        );
        let gate = Gate::new(vec![tg], None);
        let answer = gate.ask(request(100), never()).await.unwrap();
        assert_eq!(answer.verdict(), Some(Verdict::Approve));
        assert_eq!(answer.provider, Some(ProviderName::Telegram));
        assert_eq!(answer.escalated_from, None);
        assert_eq!(*closed.lock().unwrap(), vec![Closing::Done]);
    }

    #[tokio::test(start_paused = true)]
    async fn silence_escalates_at_half_the_timeout() {
        let (tg, tg_closed) = provider(ProviderName::Telegram, Script::Silent);
        let (dc, _) = provider(
            ProviderName::Discord,
            Script::AnswerAfter(secs(1), Verdict::Reject),
        );
        let gate = Gate::new(vec![tg, dc], None);
        let started = Instant::now();
        let answer = gate.ask(request(100), never()).await.unwrap();
        assert_eq!(started.elapsed(), secs(51));
        assert_eq!(answer.verdict(), Some(Verdict::Reject));
        assert_eq!(answer.provider, Some(ProviderName::Discord));
        assert_eq!(answer.escalated_from, Some(ProviderName::Telegram));
        assert_eq!(
            *tg_closed.lock().unwrap(),
            vec![Closing::Escalated {
                to: ProviderName::Discord
            }]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failure_escalates_at_once() {
        let (tg, tg_closed) = provider(ProviderName::Telegram, Script::FailAfter(secs(2)));
        let (dc, _) = provider(
            ProviderName::Discord,
            Script::AnswerAfter(secs(1), Verdict::Approve),
        );
        let gate = Gate::new(vec![tg, dc], Some(secs(30)));
        let started = Instant::now();
        let answer = gate.ask(request(100), never()).await.unwrap();
        assert_eq!(started.elapsed(), secs(3));
        assert_eq!(answer.provider, Some(ProviderName::Discord));
        assert_eq!(
            *tg_closed.lock().unwrap(),
            vec![Closing::Escalated {
                to: ProviderName::Discord
            }]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn all_silent_times_out_at_the_deadline_and_cleans_up() {
        let (tg, tg_closed) = provider(ProviderName::Telegram, Script::Silent);
        let (dc, dc_closed) = provider(ProviderName::Discord, Script::Silent);
        let gate = Gate::new(vec![tg, dc], Some(secs(10)));
        let started = Instant::now();
        let answer = gate.ask(request(25), never()).await.unwrap();
        assert_eq!(started.elapsed(), secs(25));
        assert_eq!(answer.decision, Decision::TimedOut);
        assert_eq!(
            *tg_closed.lock().unwrap(),
            vec![Closing::Escalated {
                to: ProviderName::Discord
            }]
        );
        assert_eq!(*dc_closed.lock().unwrap(), vec![Closing::TimedOut]);
    }

    #[tokio::test(start_paused = true)]
    async fn all_failing_is_an_error() {
        let (tg, _) = provider(ProviderName::Telegram, Script::FailAfter(secs(1)));
        let (dc, _) = provider(ProviderName::Discord, Script::FailAfter(secs(1)));
        let gate = Gate::new(vec![tg, dc], None);
        let error = gate.ask(request(100), never()).await.unwrap_err();
        assert_eq!(error.provider, ProviderName::Discord);
    }

    #[tokio::test(start_paused = true)]
    async fn holding_stops_the_clock() {
        let (tg, _) = provider(
            ProviderName::Telegram,
            Script::HoldThenAnswerAfter(secs(9), secs(60)),
        );
        let gate = Gate::new(vec![tg], None);
        let answer = gate.ask(request(10), never()).await.unwrap();
        assert_eq!(answer.verdict(), Some(Verdict::Reject));
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_withdraws_the_live_ticket() {
        let (tg, closed) = provider(ProviderName::Telegram, Script::Silent);
        let gate = Gate::new(vec![tg], None);
        let cancel = async {
            tokio::time::sleep(secs(3)).await;
            Closing::Cancelled
        };
        let answer = gate.ask(request(100), cancel).await.unwrap();
        assert_eq!(answer.decision, Decision::Cancelled);
        assert_eq!(*closed.lock().unwrap(), vec![Closing::Cancelled]);
    }

    /// Accepts notices (or refuses them, like a provider without a place for them).
    struct Noticing {
        name: ProviderName,
        accepts: bool,
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl Provider for Noticing {
        fn name(&self) -> ProviderName {
            self.name
        }

        fn open(&self, _request: Arc<Request>) -> Ticket {
            Ticket::pair().0
        }

        fn notify<'a>(&'a self, notice: &'a Notice) -> crate::provider::Delivery<'a> {
            Box::pin(async move {
                if !self.accepts {
                    return Err(ProviderError::new(self.name, "down", false));
                }
                self.seen.lock().unwrap().push(notice.title.clone());
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn notices_go_to_the_first_provider_that_takes_them() {
        let notice = Notice {
            title: "idle".into(),
            body: Body::Text("waiting".into()),
            origin: Origin::default(),
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let down: Arc<dyn Provider> = Arc::new(Noticing {
            name: ProviderName::Telegram,
            accepts: false,
            seen: seen.clone(),
        });
        let up: Arc<dyn Provider> = Arc::new(Noticing {
            name: ProviderName::Discord,
            accepts: true,
            seen: seen.clone(),
        });
        let gate = Gate::new(vec![down.clone(), up], None);
        assert_eq!(gate.notify(&notice).await.unwrap(), ProviderName::Discord);
        assert_eq!(*seen.lock().unwrap(), ["idle"]);

        // A provider that has no notices at all (the trait's default) refuses them.
        let (silent, _) = provider(ProviderName::Web, Script::Silent);
        let gate = Gate::new(vec![down, silent], None);
        let error = gate.notify(&notice).await.unwrap_err();
        assert_eq!(error.provider, ProviderName::Web);
        assert!(error.message.contains("cannot deliver notices"));
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }
}
