//! The bridge: from settled screens to remote requests, and from remote answers to keys.
//!
//! Theory of operation:
//! - The screen thread reports a [`Settled`] screen after each quiet window (or every second of
//!   continuous output). The bridge asks the detector what prompt it shows and tracks the edge
//!   ([`Edge`]): a prompt that appears (or replaces another) fires once; one that disappears is
//!   noticed only on a quiet screen, so a redraw in progress is not mistaken for an answer.
//! - Firing builds a request (redacted context, the prompt's choices) and starts a task that
//!   waits out the grace period, then asks through the gate. At most one request is live. When
//!   its prompt goes away first (answered at the keyboard, or replaced by another prompt), the
//!   request is withdrawn with "answered at the terminal" and retires in the background, where
//!   its audit record is written once the provider has cleaned up.
//! - A remote answer is typed only if the same prompt (fingerprint) is still on a fresh quiet
//!   screen. The detector's plan is driven step by step: writes go through the single PTY
//!   writer (serialised with the keyboard), pauses are slept, `Settle` waits for the next
//!   quiet screen.
//! - A timeout leaves the prompt for the keyboard unless `--on-timeout` says otherwise.
//! - The terminal title shows that an approval is pending while the request is posted.
//! - The session ends when the agent exits or a stop signal arrives; any live request is
//!   withdrawn and every retiring one is awaited (bounded), so no live button is left behind.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use super::ask::{self, Asked, Heard, Shape};
use super::edge::{Change, Edge};
use super::output::Output;
use super::prompt::{Detect, Prompt, ScreenView, Step};
use super::record::{self, Place, Result as Outcome, WrapRecord};
use super::screen::{self, Settled};
use super::typed::Keys;
use super::writer::Job;
use crate::answer::Decision;
use crate::cli::OnTimeout;
use crate::gate::Gate;
use crate::provider::{Closing, ProviderName};
use crate::request::{Request, Verdict};
use crate::signal::Stop;

/// The most steps one answer plan may take.
const MAX_STEPS: usize = 64;
/// How long a write or a snapshot may take before the plan gives up.
const STEP_PATIENCE: Duration = Duration::from_secs(5);
/// How long the end of the session waits for withdrawn requests to be cleaned up.
const RETIRE_PATIENCE: Duration = Duration::from_secs(20);

/// Settings of the bridge, from the command line and the config.
pub struct Config {
    pub shape: Shape,
    pub grace: Duration,
    pub on_timeout: OnTimeout,
    pub audit_file: Option<std::path::PathBuf>,
    /// "at the terminal", in the configured locale.
    pub at_the_terminal: String,
    /// The agent's program name, for the audit log.
    pub command: String,
    /// Our stdout is a terminal: the title may be set.
    pub title: bool,
    /// The test hook: panic on the first settled screen (see the module docs of `wrap`).
    pub test_panic: bool,
    /// Answer rules; `None` when none are loaded.
    pub rules: Option<crate::rules::Policy>,
    /// `--dry-run-rules`: page the human anyway, saying what the rules would have done.
    pub dry_run_rules: bool,
}

/// How long the terminal title shows an automatic answer.
const RULE_TITLE_FOR: Duration = Duration::from_secs(4);
/// The same prompt answered by the rules this many times within [`LOOP_WINDOW`] is paged
/// instead: an agent that keeps asking again after a rejection needs a human.
const LOOP_LIMIT: usize = 3;
const LOOP_WINDOW: Duration = Duration::from_secs(300);

/// Resizes the agent's terminal to (rows, cols).
pub type Resize = Box<dyn FnMut((u16, u16)) + Send>;

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The agent exited with this code.
    Exited(u8),
    /// We were told to stop.
    Stopped(Stop),
}

/// Why a live request is withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Withdrawal {
    /// Its prompt went away: answered at the keyboard.
    Local,
    /// The session is ending.
    SessionEnd,
}

/// The live request.
struct Pending {
    prompt: Prompt,
    request: Arc<Request>,
    detected_at: Instant,
    posted: Option<(Instant, ProviderName)>,
    cancel: Option<oneshot::Sender<Closing>>,
    task: JoinHandle<Asked>,
    draft: WrapRecord,
}

/// The channels the bridge listens to.
pub struct Inputs<'a, S> {
    pub settled: mpsc::UnboundedReceiver<Settled>,
    pub heard: mpsc::UnboundedReceiver<Heard>,
    /// The agent's exit code (kept by the caller: a stopped session still waits for it).
    pub exited: &'a mut oneshot::Receiver<u8>,
    pub stop: S,
    /// SIGWINCH, in interactive mode.
    pub resized: Option<tokio::signal::unix::Signal>,
}

pub struct Bridge {
    detector: Box<dyn Detect>,
    gate: Arc<Gate>,
    config: Config,
    /// Resizes the agent's terminal to (rows, cols); it owns the PTY master.
    resize: Resize,
    screen: screen::Handle,
    writer: Sender<Job>,
    output: Arc<Output>,
    edge: Edge,
    pending: Option<Pending>,
    retiring: JoinSet<()>,
    title_shown: bool,
    agent_title: Option<String>,
    /// The title shows an automatic answer until then.
    flash_until: Option<tokio::time::Instant>,
    /// Recent automatic answers: (what was asked, when).
    answered_by_rules: Vec<(u64, Instant)>,
}

enum Event {
    Screen(Settled),
    Asked(Asked),
    Heard(Heard),
    Exited(u8),
    Stop(Stop),
    Resized,
    FlashOver,
}

impl Bridge {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        detector: Box<dyn Detect>,
        gate: Arc<Gate>,
        config: Config,
        resize: Resize,
        screen: screen::Handle,
        writer: Sender<Job>,
        output: Arc<Output>,
    ) -> Bridge {
        Bridge {
            detector,
            gate,
            config,
            resize,
            screen,
            writer,
            output,
            edge: Edge::default(),
            pending: None,
            retiring: JoinSet::new(),
            title_shown: false,
            agent_title: None,
            flash_until: None,
            answered_by_rules: Vec::new(),
        }
    }

    /// Run until the agent exits or a stop signal arrives.
    pub async fn run<S: Future<Output = Stop>>(&mut self, inputs: Inputs<'_, S>) -> End {
        let Inputs {
            mut settled,
            mut heard,
            exited,
            stop,
            mut resized,
        } = inputs;
        let mut stop = std::pin::pin!(stop);
        loop {
            // Every branch is cancel-safe: channel receives, a oneshot, a signal stream, and
            // a JoinHandle (polled through a `&mut`, so a lost race does not lose the result).
            let event = tokio::select! {
                code = &mut *exited => Event::Exited(code.unwrap_or(crate::error::code::INTERNAL)),
                signal = &mut stop => Event::Stop(signal),
                Some(first) = settled.recv() => {
                    let mut latest = first;
                    while let Ok(next) = settled.try_recv() {
                        latest = next;
                    }
                    Event::Screen(latest)
                }
                Some(h) = heard.recv() => Event::Heard(h),
                asked = wait_pending(&mut self.pending) => Event::Asked(asked),
                Some(()) = next_resize(&mut resized) => Event::Resized,
                () = flash_over(self.flash_until) => Event::FlashOver,
            };
            match event {
                Event::Exited(code) => return End::Exited(code),
                Event::Stop(signal) => return End::Stopped(signal),
                Event::Screen(settled) => self.on_screen(settled).await,
                Event::Heard(heard) => self.on_heard(heard),
                Event::Asked(asked) => self.on_asked(asked).await,
                Event::Resized => self.on_resize(),
                Event::FlashOver => {
                    self.flash_until = None;
                    self.clear_title();
                }
            }
        }
    }

    /// Withdraw the live request and wait (bounded) until every withdrawn one is cleaned up.
    pub async fn finish(&mut self) {
        self.withdraw(Withdrawal::SessionEnd);
        let retiring = &mut self.retiring;
        let all = async { while retiring.join_next().await.is_some() {} };
        if tokio::time::timeout(RETIRE_PATIENCE, all).await.is_err() {
            crate::log::warn("gave up waiting for withdrawn requests to be cleaned up");
        }
    }

    /// Whether our title is still shown (it must be restored at the end).
    pub fn title_shown(&self) -> bool {
        self.title_shown
    }

    fn on_resize(&mut self) {
        if let Some(size) = super::terminal::size() {
            (self.resize)(size);
            self.screen.resize(size.0, size.1);
        }
    }

    async fn on_screen(&mut self, settled: Settled) {
        assert!(
            !self.config.test_panic,
            "{}=after-start: the test hook panics here",
            super::TEST_PANIC_ENV
        );
        if settled.title.is_some() {
            self.agent_title = settled.title;
        }
        let detected = self.detector.detect(&settled.view);
        match self.edge.observe(detected, settled.quiet) {
            Change::Nothing => {}
            Change::Appeared(prompt) => self.fire(prompt, &settled.view).await,
            Change::Replaced(prompt) => {
                self.withdraw(Withdrawal::Local);
                self.fire(prompt, &settled.view).await;
            }
            Change::Gone => self.withdraw(Withdrawal::Local),
        }
    }

    fn on_heard(&mut self, heard: Heard) {
        let Heard::Posted {
            request,
            provider,
            at,
        } = heard;
        let Some(pending) = self.pending.as_mut() else {
            return;
        };
        if pending.request.id != request {
            return;
        }
        crate::log::info(&format!(
            "request {} posted to {provider}",
            pending.request.id
        ));
        pending.posted.get_or_insert((at, provider));
        let question = pending.prompt.question.clone();
        if self.flash_until.take().is_some() {
            self.clear_title();
        }
        if self.config.title && !self.title_shown {
            let bytes = super::title::pending(&question);
            self.output.inject(&bytes);
            self.title_shown = true;
            super::terminal::note_title_pushed(true);
        }
    }

    fn clear_title(&mut self) {
        if self.title_shown {
            self.output
                .inject(&super::title::restore(self.agent_title.as_deref()));
            self.title_shown = false;
            super::terminal::note_title_pushed(false);
        }
    }

    /// A prompt appeared: answer it by the rules, or page a human.
    async fn fire(&mut self, prompt: Prompt, screen: &ScreenView) {
        let judged = self.config.rules.as_ref().map(|policy| {
            let decision = policy.decide(&prompt);
            let title = decision.title(policy, &prompt);
            let note = decision.dry_run_note(policy);
            let record = decision.record(policy, self.config.dry_run_rules);
            (decision, record, title, note)
        });
        let Some((decision, record, title, note)) = judged else {
            self.page(prompt, screen, None, None);
            return;
        };
        crate::log::info(&format!(
            "prompt {} judged by the rules: {}{}",
            prompt.pattern,
            decision.action,
            if decision.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", decision.reason)
            }
        ));
        let mut note = self.config.dry_run_rules.then_some(note);
        if decision.is_automatic() && !self.config.dry_run_rules {
            if self.looping(&prompt) {
                let why = format!(
                    "the rules answered this same prompt {LOOP_LIMIT} times within {} minutes: \
                     asking a human instead",
                    LOOP_WINDOW.as_secs() / 60
                );
                crate::log::warn(&why);
                note = Some(format!("[rules] {why}"));
            } else {
                let settled = self
                    .answer_by_rule(&prompt, screen, &decision, record.clone(), title)
                    .await;
                if settled {
                    return;
                }
                crate::log::warn("the rule's answer could not be typed: asking a human instead");
            }
        }
        self.page(prompt, screen, Some(record), note);
    }

    /// Whether the rules already answered this same prompt (pattern, question, subject)
    /// [`LOOP_LIMIT`] times lately; records this time otherwise.
    fn looping(&mut self, prompt: &Prompt) -> bool {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&prompt.pattern, &prompt.question, &prompt.subject).hash(&mut hasher);
        let key = hasher.finish();
        let now = Instant::now();
        self.answered_by_rules
            .retain(|(_, at)| now.duration_since(*at) < LOOP_WINDOW);
        let seen = self
            .answered_by_rules
            .iter()
            .filter(|(k, _)| *k == key)
            .count();
        if seen >= LOOP_LIMIT {
            return true;
        }
        self.answered_by_rules.push((key, now));
        false
    }

    /// Type the rules' answer; whether the prompt is settled (typed, or gone meanwhile).
    async fn answer_by_rule(
        &mut self,
        prompt: &Prompt,
        screen: &ScreenView,
        decision: &crate::rules::Decision,
        fired: crate::rules::Fired,
        title: Option<String>,
    ) -> bool {
        let detected = Instant::now();
        // The request a human would get: its context is hashed in the record.
        let request = ask::request(prompt, screen, &self.config.shape);
        let mut record = self.draft(prompt, &request);
        record.request_id = None;
        record.answered_at = Place::Rule;
        record.rule = Some(fired);
        let choice = decision.choice.clone().unwrap_or_default();
        let verdict = if decision.action == crate::rules::Action::Approve {
            Verdict::Approve
        } else {
            Verdict::Reject
        };
        self.type_answer(
            prompt,
            &mut record,
            &choice,
            verdict,
            decision.feedback.as_deref(),
        )
        .await;
        record.wait_ms = detected.elapsed().as_millis();
        let settled = matches!(record.result, Outcome::Typed | Outcome::Stale);
        record::append(self.config.audit_file.as_deref(), &record);
        if record.result == Outcome::Typed
            && self.config.title
            && let Some(text) = title
        {
            self.clear_title();
            self.output.inject(&super::title::note(&text));
            self.title_shown = true;
            super::terminal::note_title_pushed(true);
            self.flash_until = Some(tokio::time::Instant::now() + RULE_TITLE_FOR);
        }
        settled
    }

    /// Page a human about `prompt`; `rule` is what the rules said, `note` is added to the
    /// message (`--dry-run-rules`).
    fn page(
        &mut self,
        prompt: Prompt,
        screen: &ScreenView,
        rule: Option<crate::rules::Fired>,
        note: Option<String>,
    ) {
        let mut request = ask::request(&prompt, screen, &self.config.shape);
        if let Some(note) = note {
            let text = format!(
                "{}\n\n{}",
                request.body.text(),
                super::redact::redact(&note)
            );
            request.body = crate::request::Body::Terminal(text);
        }
        let request = Arc::new(request);
        crate::log::info(&format!(
            "prompt {} detected: {:?}; request {}{}",
            prompt.pattern,
            request.title,
            request.id,
            if self.config.grace.is_zero() {
                String::new()
            } else {
                format!(" (paging in {} s)", self.config.grace.as_secs())
            }
        ));
        let (cancel, cancelled) = oneshot::channel();
        let task = tokio::spawn(ask::ask(
            self.gate.clone(),
            request.clone(),
            self.config.grace,
            cancelled,
        ));
        let mut draft = self.draft(&prompt, &request);
        draft.rule = rule;
        self.pending = Some(Pending {
            prompt,
            request,
            detected_at: Instant::now(),
            posted: None,
            cancel: Some(cancel),
            task,
            draft,
        });
    }

    fn draft(&self, prompt: &Prompt, request: &Request) -> WrapRecord {
        let origin = &self.config.shape.origin;
        WrapRecord {
            kind: "wrap",
            request_id: Some(request.id.to_string()),
            pattern: prompt.pattern.clone(),
            agent: prompt.agent.clone(),
            prompt_kind: prompt.kind.clone(),
            question: super::redact::redact(&prompt.question),
            context_sha256: record::sha256(request.body.text()),
            context_chars: request.body.text().chars().count(),
            answered_at: Place::Nowhere,
            result: Outcome::Withdrawn,
            provider: None,
            escalated_from: None,
            user: None,
            user_id: None,
            choice: None,
            verdict: None,
            keys: None,
            feedback_chars: None,
            abort_reason: None,
            paged: false,
            detected: record::stamp(SystemTime::now()),
            detected_to_posted_ms: None,
            answered_to_typed_ms: None,
            wait_ms: 0,
            command: self.config.command.clone(),
            label: origin.label.clone(),
            host: origin.host.clone(),
            directory: origin.directory.clone(),
            rule: None,
        }
    }

    /// Withdraw the live request (if any); it retires in the background.
    fn withdraw(&mut self, why: Withdrawal) {
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        self.clear_title();
        let closing = match why {
            Withdrawal::Local => Closing::AnsweredElsewhere {
                place: self.config.at_the_terminal.clone(),
            },
            Withdrawal::SessionEnd => Closing::Cancelled,
        };
        crate::log::info(&format!(
            "request {} withdrawn: {}",
            pending.request.id,
            match why {
                Withdrawal::Local => "the prompt went away (answered at the terminal)",
                Withdrawal::SessionEnd => "the session is ending",
            }
        ));
        if let Some(cancel) = pending.cancel.take() {
            let _ = cancel.send(closing);
        }
        let audit = self.config.audit_file.clone();
        self.retiring.spawn(async move {
            let asked = match (&mut pending.task).await {
                Ok(asked) => asked,
                Err(e) => Asked::Lost(e.to_string()),
            };
            let mut record = finish_draft(&mut pending, &asked);
            record.result = match (&asked, why) {
                (Asked::Answered(Ok(a)), _) if matches!(a.decision, Decision::Decided { .. }) => {
                    crate::log::info("a remote answer came after the prompt went away: not typed");
                    Outcome::Stale
                }
                (Asked::Answered(Ok(a)), _) if a.decision == Decision::TimedOut => Outcome::Left,
                (Asked::Answered(Err(_)) | Asked::Lost(_), _) => Outcome::Failed,
                (_, Withdrawal::Local) => Outcome::Local,
                (_, Withdrawal::SessionEnd) => Outcome::Withdrawn,
            };
            record.answered_at = match (record.result, why) {
                (Outcome::Stale, _) => Place::Remote,
                (Outcome::Left, _) => Place::Timeout,
                (Outcome::Local, _) => Place::Terminal,
                _ => Place::Nowhere,
            };
            record::append(audit.as_deref(), &record);
        });
    }

    async fn on_asked(&mut self, asked: Asked) {
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        self.clear_title();
        let mut record = finish_draft(&mut pending, &asked);
        match asked {
            Asked::Unasked => {
                record.answered_at = Place::Terminal;
                record.result = Outcome::Local;
            }
            Asked::Lost(why) => {
                crate::log::warn(&format!("the request task failed: {why}"));
                record.result = Outcome::Failed;
            }
            Asked::Answered(Err(error)) => {
                crate::log::warn(&format!(
                    "no provider could deliver the request ({error}); the prompt is left for \
                     the keyboard"
                ));
                record.result = Outcome::Failed;
            }
            Asked::Answered(Ok(answer)) => match &answer.decision {
                Decision::Decided { choice, .. } => {
                    let choice = choice.clone();
                    let verdict = answer.verdict().unwrap_or(Verdict::Reject);
                    record.answered_at = Place::Remote;
                    crate::log::info(&format!(
                        "request {} answered on {}: {choice}",
                        pending.request.id,
                        answer.provider.map_or("?", ProviderName::as_str)
                    ));
                    self.type_answer(
                        &pending.prompt,
                        &mut record,
                        &choice,
                        verdict,
                        answer.feedback.as_deref(),
                    )
                    .await;
                }
                Decision::TimedOut => {
                    record.answered_at = Place::Timeout;
                    let verdict = match self.config.on_timeout {
                        OnTimeout::Keep => None,
                        OnTimeout::Reject => Some(Verdict::Reject),
                        OnTimeout::Approve => Some(Verdict::Approve),
                    };
                    if let Some(verdict) = verdict {
                        crate::log::info(&format!(
                            "request {} timed out: typing the {} answer (--on-timeout)",
                            pending.request.id,
                            if verdict == Verdict::Approve {
                                "APPROVE"
                            } else {
                                "reject"
                            }
                        ));
                        let choice = pending
                            .prompt
                            .choices
                            .iter()
                            .find(|c| c.verdict == verdict && !c.asks_reason)
                            .or_else(|| {
                                pending.prompt.choices.iter().find(|c| c.verdict == verdict)
                            })
                            .map(|c| c.id.clone())
                            .unwrap_or_default();
                        self.type_answer(
                            &pending.prompt,
                            &mut record,
                            &choice,
                            verdict,
                            answer.feedback.as_deref(),
                        )
                        .await;
                    } else {
                        crate::log::info(&format!(
                            "request {} timed out; the prompt is left for the keyboard",
                            pending.request.id
                        ));
                        record.result = Outcome::Left;
                    }
                }
                Decision::Cancelled => record.result = Outcome::Withdrawn,
            },
        }
        record::append(self.config.audit_file.as_deref(), &record);
    }

    /// Type `choice` (with `feedback` where it takes some) if the prompt is still on screen.
    async fn type_answer(
        &mut self,
        prompt: &Prompt,
        record: &mut WrapRecord,
        choice: &str,
        verdict: Verdict,
        feedback: Option<&str>,
    ) {
        let answered = Instant::now();
        // The answer's choice may be a plain "y" (a reply with a note) the prompt does not
        // offer under that id: take the prompt's first choice with the same verdict.
        let Some(choice) = prompt
            .choices
            .iter()
            .find(|c| c.id == choice)
            .or_else(|| prompt.choices.iter().find(|c| c.verdict == verdict))
            .map(|c| c.id.clone())
        else {
            crate::log::warn(&format!("the prompt offers no choice {choice:?}"));
            record.result = Outcome::Aborted;
            record.abort_reason = Some(format!("no choice {choice:?}"));
            return;
        };
        record.choice = Some(choice.clone());
        record.verdict = Some(match verdict {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        });

        // The screen as it is, if it has been quiet for the settle window already (it usually
        // has: the prompt waited for the human); else the next quiet one.
        let Some(view) = self.snapshot(true).await else {
            record.result = Outcome::Stale;
            return;
        };
        let still = self
            .detector
            .detect(&view)
            .is_some_and(|p| p.fingerprint == prompt.fingerprint);
        if !still {
            crate::log::info("the prompt is no longer on screen: the answer is not typed");
            record.result = Outcome::Stale;
            return;
        }

        record.feedback_chars = feedback.map(|f| f.chars().count());
        let mut plan = self.detector.plan(prompt, &choice, feedback);
        let mut keys = Keys::default();
        let mut view = view;
        let mut outcome = Err("the plan took too many steps".to_owned());
        for _ in 0..MAX_STEPS {
            match plan.next(&view) {
                Step::Write(bytes) => {
                    keys.push(&bytes, feedback.is_some());
                    if !self.write(bytes).await {
                        outcome = Err("the agent's terminal does not take input".into());
                        break;
                    }
                }
                Step::Pause(wait) => tokio::time::sleep(wait.min(STEP_PATIENCE)).await,
                Step::Settle => {
                    let Some(next) = self.snapshot(false).await else {
                        outcome = Err("the screen model stopped".into());
                        break;
                    };
                    view = next;
                }
                Step::Done => {
                    outcome = Ok(());
                    break;
                }
                Step::Abort(why) => {
                    outcome = Err(why);
                    break;
                }
            }
        }
        record.keys = (!keys.is_empty()).then(|| keys.to_string());
        record.answered_to_typed_ms = Some(answered.elapsed().as_millis());
        match outcome {
            Ok(()) => {
                crate::log::info(&format!("typed {keys} into the agent"));
                record.result = Outcome::Typed;
            }
            Err(why) => {
                crate::log::warn(&format!("the answer was not completed: {why}"));
                record.result = Outcome::Aborted;
                record.abort_reason = Some(why);
            }
        }
    }

    /// Write through the PTY writer and wait until written.
    async fn write(&self, bytes: Vec<u8>) -> bool {
        let (done, written) = oneshot::channel();
        if self
            .writer
            .send(Job {
                bytes,
                done: Some(done),
            })
            .is_err()
        {
            return false;
        }
        matches!(
            tokio::time::timeout(STEP_PATIENCE, written).await,
            Ok(Ok(()))
        )
    }

    /// The screen after the next quiet window (counted from now), or with `current` the screen
    /// now if the output has been quiet for the settle window already.
    async fn snapshot(&self, current: bool) -> Option<ScreenView> {
        let (tx, rx) = oneshot::channel();
        let input = if current {
            screen::Input::Current(tx)
        } else {
            screen::Input::Snapshot(tx)
        };
        self.screen.send(input).ok()?;
        tokio::time::timeout(STEP_PATIENCE, rx).await.ok()?.ok()
    }
}

/// The record of `pending` with what `asked` says about who answered and when.
fn finish_draft(pending: &mut Pending, asked: &Asked) -> WrapRecord {
    let mut record = std::mem::take(&mut pending.draft);
    record.wait_ms = pending.detected_at.elapsed().as_millis();
    record.paged = !matches!(asked, Asked::Unasked);
    if let Some((at, provider)) = pending.posted {
        record.detected_to_posted_ms = Some(at.duration_since(pending.detected_at).as_millis());
        record.provider = Some(provider.to_string());
    }
    if let Asked::Answered(Ok(answer)) = asked {
        if let Some(provider) = answer.provider {
            record.provider = Some(provider.to_string());
        }
        record.escalated_from = answer.escalated_from.map(|p| p.to_string());
        if let Some(by) = &answer.by {
            record.user = Some(by.name.clone());
            record.user_id = Some(by.id.clone());
        }
        if let Decision::Decided { choice, .. } = &answer.decision {
            record.choice = Some(choice.clone());
        }
    }
    if let Asked::Unasked = asked {
        record.request_id = None;
    }
    record
}

/// The live request's result; pending forever when there is none. Cancel-safe.
async fn wait_pending(pending: &mut Option<Pending>) -> Asked {
    match pending {
        Some(p) => match (&mut p.task).await {
            Ok(asked) => asked,
            Err(e) => Asked::Lost(e.to_string()),
        },
        None => std::future::pending().await,
    }
}

/// Fires when the title's automatic-answer note has been shown long enough. Cancel-safe.
async fn flash_over(until: Option<tokio::time::Instant>) {
    match until {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn next_resize(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    //! The bridge driven without a terminal: the test plays the screen thread (settled screens,
    //! snapshots), the PTY writer (acknowledging jobs) and the human (a scripted provider).

    use std::sync::Mutex;

    use super::*;
    use crate::answer::Person;
    use crate::provider::{Provider, Reply, Ticket, TicketEvent, TicketHandle};
    use crate::request::Origin;
    use crate::wrap::prompt::{AnswerPlan, PromptChoice};

    const QUESTION: &str = "Proceed? [y/n]";

    struct Detector;

    /// Steps popped from the end.
    struct Keys(Vec<Step>);

    impl AnswerPlan for Keys {
        fn next(&mut self, _: &ScreenView) -> Step {
            self.0.pop().unwrap_or(Step::Done)
        }
    }

    impl Detect for Detector {
        fn detect(&mut self, screen: &ScreenView) -> Option<Prompt> {
            screen.rows.iter().any(|r| r == QUESTION).then(|| Prompt {
                pattern: "test/yn".into(),
                agent: "test".into(),
                kind: None,
                question: QUESTION.into(),
                subject: None,
                context: format!("token=hunter2\n{QUESTION}"),
                choices: ["y", "n"]
                    .iter()
                    .map(|id| PromptChoice {
                        id: (*id).into(),
                        label: (*id).into(),
                        verdict: if *id == "y" {
                            Verdict::Approve
                        } else {
                            Verdict::Reject
                        },
                        asks_reason: false,
                    })
                    .collect(),
                fingerprint: 7,
            })
        }

        fn plan(&self, _: &Prompt, choice: &str, _: Option<&str>) -> Box<dyn AnswerPlan> {
            Box::new(Keys(vec![
                Step::Write(b"\r".to_vec()),
                Step::Settle,
                Step::Write(choice.as_bytes().to_vec()),
            ]))
        }
    }

    /// Posts, then answers `y` after `answer_after` (or never); records how it was closed.
    struct Human {
        answer_after: Option<Duration>,
        closed: Arc<Mutex<Vec<Closing>>>,
    }

    impl Provider for Human {
        fn name(&self) -> ProviderName {
            ProviderName::Telegram
        }

        fn open(&self, _request: Arc<Request>) -> Ticket {
            let (ticket, TicketHandle { events, mut close }) = Ticket::pair();
            let answer_after = self.answer_after;
            let closed = self.closed.clone();
            tokio::spawn(async move {
                let _ = events.send(TicketEvent::Posted).await;
                let answer = async {
                    match answer_after {
                        Some(after) => tokio::time::sleep(after).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = answer => {
                        let reply = Reply {
                            choice: "y".into(),
                            verdict: Verdict::Approve,
                            by: Person { name: "ann".into(), id: "7".into() },
                            feedback: None,
                        };
                        let _ = events.send(TicketEvent::Answered(reply)).await;
                    }
                    Some((why, done)) = close.recv() => {
                        closed.lock().unwrap().push(why);
                        let _ = done.send(());
                    }
                }
                // Stay alive until the gate drops the ticket.
                while let Some((_, done)) = close.recv().await {
                    let _ = done.send(());
                }
            });
            ticket
        }
    }

    fn screen(rows: &[&str]) -> Settled {
        Settled {
            view: ScreenView {
                rows: rows.iter().map(|r| (*r).to_owned()).collect(),
                size: (24, 80),
                ..ScreenView::default()
            },
            quiet: true,
            title: None,
        }
    }

    struct Rig {
        bridge: Bridge,
        settled: mpsc::UnboundedSender<Settled>,
        settled_rx: Option<mpsc::UnboundedReceiver<Settled>>,
        heard_rx: Option<mpsc::UnboundedReceiver<Heard>>,
        screen_rx: std::sync::mpsc::Receiver<screen::Input>,
        jobs: std::sync::mpsc::Receiver<Job>,
        closed: Arc<Mutex<Vec<Closing>>>,
        dir: tempfile::TempDir,
    }

    fn rig(answer_after: Option<Duration>) -> Rig {
        rig_with(answer_after, None)
    }

    fn rig_with(answer_after: Option<Duration>, rules: Option<crate::rules::Policy>) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let closed = Arc::new(Mutex::new(Vec::new()));
        let (heard_tx, heard_rx) = mpsc::unbounded_channel();
        let human: Arc<dyn Provider> = Arc::new(Human {
            answer_after,
            closed: closed.clone(),
        });
        let gate = Arc::new(Gate::new(ask::observed(vec![human], &heard_tx), None));
        let (screen_tx, screen_rx) = std::sync::mpsc::channel();
        let (jobs_tx, jobs) = std::sync::mpsc::channel();
        let (settled, settled_rx) = mpsc::unbounded_channel();
        let output = Arc::new(Output::new(
            std::fs::File::create(dir.path().join("stdout")).unwrap(),
        ));
        let config = Config {
            shape: Shape {
                origin: Origin::default(),
                timeout: Duration::from_secs(60),
                reject_feedback_timeout: Duration::ZERO,
                context_rows: None,
            },
            grace: Duration::ZERO,
            on_timeout: OnTimeout::Keep,
            audit_file: Some(dir.path().join("audit.jsonl")),
            at_the_terminal: "at the terminal".into(),
            command: "agent".into(),
            title: true,
            test_panic: false,
            rules,
            dry_run_rules: false,
        };
        let bridge = Bridge::new(
            Box::new(Detector),
            gate,
            config,
            Box::new(|_| {}),
            screen::Handle::new(screen_tx, Arc::new(crate::wrap::feed::Feed::new())),
            jobs_tx,
            output,
        );
        Rig {
            bridge,
            settled,
            settled_rx: Some(settled_rx),
            heard_rx: Some(heard_rx),
            screen_rx,
            jobs,
            closed,
            dir,
        }
    }

    impl Rig {
        /// The agent's exit, once the audit record of the answer is written (or after 4 s).
        fn exit_once_audited(&self) -> oneshot::Receiver<u8> {
            let (exit_tx, exit) = oneshot::channel();
            let audit = self.dir.path().join("audit.jsonl");
            tokio::spawn(async move {
                for _ in 0..200 {
                    if audit.exists() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let _ = exit_tx.send(0);
            });
            exit
        }

        fn audit(&self) -> Vec<serde_json::Value> {
            std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        }

        /// Run the bridge until `exit` fires, playing the screen thread and the PTY writer:
        /// every snapshot shows `shown`, every write is acknowledged and recorded.
        async fn run(&mut self, shown: Settled, exit: oneshot::Receiver<u8>) -> Vec<u8> {
            let screen_rx = std::mem::replace(&mut self.screen_rx, std::sync::mpsc::channel().1);
            let jobs = std::mem::replace(&mut self.jobs, std::sync::mpsc::channel().1);
            let typed = Arc::new(Mutex::new(Vec::new()));
            let sink = typed.clone();
            std::thread::spawn(move || {
                while let Ok(input) = screen_rx.recv() {
                    if let screen::Input::Snapshot(tx) | screen::Input::Current(tx) = input {
                        let _ = tx.send(shown.view.clone());
                    }
                }
            });
            std::thread::spawn(move || {
                for job in jobs {
                    sink.lock().unwrap().extend_from_slice(&job.bytes);
                    if let Some(done) = job.done {
                        let _ = done.send(());
                    }
                }
            });
            let mut exit = exit;
            let end = self
                .bridge
                .run(Inputs {
                    settled: self.settled_rx.take().unwrap(),
                    heard: self.heard_rx.take().unwrap(),
                    exited: &mut exit,
                    stop: std::future::pending(),
                    resized: None,
                })
                .await;
            assert_eq!(end, End::Exited(0));
            self.bridge.finish().await;
            typed.lock().unwrap().clone()
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_remote_answer_is_typed_once_the_prompt_is_verified() {
        let mut rig = rig(Some(Duration::from_millis(50)));
        let prompt = screen(&["working", QUESTION]);
        rig.settled.send(prompt.clone()).unwrap();
        // A redraw of the same prompt changes nothing.
        rig.settled.send(prompt.clone()).unwrap();
        let exit = rig.exit_once_audited();
        let typed = rig.run(prompt, exit).await;
        assert_eq!(typed, b"y\r", "the plan's writes, in order");
        let audit = rig.audit();
        assert_eq!(audit.len(), 1, "{audit:?}");
        let r = &audit[0];
        assert_eq!(r["answered_at"], "remote");
        assert_eq!(r["result"], "typed");
        assert_eq!(r["keys"], "y ⏎");
        assert_eq!(r["user"], "ann");
        assert_eq!(r["pattern"], "test/yn");
        assert!(rig.closed.lock().unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_prompt_that_goes_away_is_withdrawn_as_answered_at_the_terminal() {
        let mut rig = rig(None);
        rig.settled.send(screen(&["working", QUESTION])).unwrap();
        let (exit_tx, exit) = oneshot::channel();
        let settled = rig.settled.clone();
        let closed = rig.closed.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            settled
                .send(screen(&["working", "Proceed? [y/n] y", "ok"]))
                .unwrap();
            for _ in 0..200 {
                if !closed.lock().unwrap().is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = exit_tx.send(0);
        });
        let typed = rig.run(screen(&[]), exit).await;
        assert!(typed.is_empty(), "nothing typed: {typed:?}");
        assert_eq!(
            *rig.closed.lock().unwrap(),
            vec![Closing::AnsweredElsewhere {
                place: "at the terminal".into()
            }]
        );
        let audit = rig.audit();
        assert_eq!(audit[0]["answered_at"], "terminal");
        assert_eq!(audit[0]["result"], "local");
        // The pending title was shown, then restored.
        let out = std::fs::read(rig.dir.path().join("stdout")).unwrap();
        let out = String::from_utf8_lossy(&out);
        assert!(out.contains("approval pending — Proceed? [y/n]"), "{out:?}");
        assert!(out.ends_with("\x1b[23;2t"), "{out:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_rule_answers_without_paging_and_the_title_says_so() {
        let settings = crate::config::Settings::parse(
            Some(std::path::Path::new("/cfg/config.toml")),
            "[[rule]]\nname = \"yes\"\naction = \"approve\"\nagent = \"test\"\n",
            &|_| None,
        )
        .unwrap();
        let here = std::env::current_dir().unwrap();
        let policy = crate::rules::Policy::new(
            settings.rules,
            crate::rules::ProjectRules::none(),
            crate::rules::Context::new(&here, &here),
        );
        // The human would answer at once: being paged at all would show in `closed`.
        let mut rig = rig_with(Some(Duration::ZERO), Some(policy));
        let prompt = screen(&["working", QUESTION]);
        rig.settled.send(prompt.clone()).unwrap();
        let exit = rig.exit_once_audited();
        let typed = rig.run(prompt, exit).await;
        assert_eq!(typed, b"y\r");
        assert!(rig.closed.lock().unwrap().is_empty(), "nobody was paged");
        let audit = rig.audit();
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert_eq!(audit[0]["answered_at"], "rule");
        assert_eq!(audit[0]["paged"], false);
        assert_eq!(audit[0]["rule"]["id"], "yes");
        assert_eq!(audit[0]["rule"]["rule"], "rule \"yes\" (config.toml:1)");
        let out = std::fs::read_to_string(rig.dir.path().join("stdout")).unwrap();
        assert!(
            out.contains("\x1b]2;✓ auto-approved by rule \"yes\": Proceed? [y/n]\x07"),
            "{out:?}"
        );
    }
}
