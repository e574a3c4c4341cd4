//! Asking one request through the gate, as `send` and `hook` both do: the stop signals withdraw
//! it, and every outcome (cancellations included) gets one audit record.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::answer::{Answer, Decision, DecisionField, Outcome};
use crate::config::Plan;
use crate::error::Error;
use crate::gate::Gate;
use crate::provider::{Closing, ProviderName};
use crate::request::Request;
use crate::signal::Stop;

/// A request that went through the gate, and how it ended.
pub struct Asked {
    pub request: Arc<Request>,
    pub answer: Answer,
    /// The signal that withdrew the request, when the answer is [`Decision::Cancelled`]
    /// because of one (not because it was answered elsewhere).
    pub stopped: Option<Stop>,
}

impl Asked {
    /// The `send` JSON object for this answer; `None` when it was cancelled.
    pub fn outcome(&self) -> Option<Outcome> {
        Outcome::of(&self.request, &self.answer)
    }
}

/// The gate over the plan's provider chain.
pub fn gate(plan: &Plan) -> Result<Gate, Error> {
    Ok(Gate::new(
        crate::providers::build(plan)?,
        plan.escalate_after,
    ))
}

/// Ask `request` over the plan's chain and wait for the answer, the deadline, or a stop signal
/// (SIGINT, SIGTERM, SIGHUP), which withdraws it. `kind` names the command in the audit log.
///
/// Errors when the providers cannot be built, or when every provider failed.
pub async fn ask(plan: &Plan, request: Request, kind: &'static str) -> Result<Asked, Error> {
    ask_until(plan, request, kind, std::future::pending()).await
}

/// [`ask`], also withdrawn when `elsewhere` resolves (the question was answered somewhere
/// else, e.g. at the terminal), with the reason it gives. The answer is then
/// [`Decision::Cancelled`] with no `stopped` signal.
pub async fn ask_until(
    plan: &Plan,
    request: Request,
    kind: &'static str,
    elsewhere: impl Future<Output = Closing>,
) -> Result<Asked, Error> {
    let stop = crate::signal::stop_signals()
        .map_err(|e| Error::Internal(format!("cannot watch signals: {e}")))?;
    let gate = gate(plan)?;
    let request = Arc::new(request);

    let started = Instant::now();
    let stopped = std::sync::Mutex::new(None);
    let cancel = async {
        tokio::select! {
            signal = stop => {
                *stopped.lock().expect("stop cell") = Some(signal);
                Closing::Cancelled
            }
            why = elsewhere => why,
        }
    };
    let answer = gate.ask(request.clone(), cancel).await?;
    // Other processes' events this one is relaying are finished before it exits.
    crate::relay::finish(crate::relay::FINISH).await;
    let stopped = match answer.decision {
        Decision::Cancelled => *stopped.lock().expect("stop cell"),
        _ => None,
    };
    let asked = Asked {
        request,
        answer,
        stopped,
    };
    audit(plan, &asked, kind, started.elapsed());
    Ok(asked)
}

fn audit(plan: &Plan, asked: &Asked, kind: &'static str, waited: Duration) {
    let Some(path) = &plan.audit_file else { return };
    let (request, answer) = (&asked.request, &asked.answer);
    let decision = asked.outcome().map_or("cancelled", |o| match o.decision {
        DecisionField::Approved => "approved",
        DecisionField::Rejected => "rejected",
        DecisionField::Timeout => "timeout",
    });
    let by = answer.by.clone().unwrap_or_default();
    let record = crate::audit::SendRecord {
        kind,
        request_id: request.id.as_str(),
        title: &request.title,
        decision,
        user: &by.name,
        user_id: &by.id,
        feedback: answer.feedback.as_deref(),
        provider: answer.provider.map(ProviderName::as_str),
        escalated_from: answer.escalated_from.map(ProviderName::as_str),
        chain: plan.chain.iter().map(|p| p.as_str()).collect(),
        body_chars: request.body.text().chars().count(),
        created: humantime::format_rfc3339_seconds(request.created).to_string(),
        decided: humantime::format_rfc3339_seconds(answer.at).to_string(),
        wait_ms: waited.as_millis(),
        host: &request.origin.host,
        directory: &request.origin.directory,
    };
    if let Err(e) = crate::audit::append(path, &record) {
        crate::log::warn(&format!(
            "cannot write the audit log {}: {e}",
            path.display()
        ));
    }
}
