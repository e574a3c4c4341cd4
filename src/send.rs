//! `openfeedback send`: one request, one answer, one JSON object on stdout.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::answer::{Decision, Outcome};
use crate::cli::SendArgs;
use crate::config::{Plan, Source};
use crate::error::Error;
use crate::gate::Gate;
use crate::provider::{Closing, ProviderName};
use crate::request::{Body, Choice, Origin, Request, Verdict};

pub async fn send(args: SendArgs, source: &Source) -> Result<u8, Error> {
    let body = read_body(&args)?;
    let provider = args
        .provider
        .as_deref()
        .map(|name| {
            ProviderName::parse(name).ok_or_else(|| {
                Error::Usage(format!(
                    "unknown provider {name:?}: expected telegram, discord or web"
                ))
            })
        })
        .transpose()?;
    let settings = crate::config::load(source)?;
    let mut plan = settings.plan(provider, args.timeout.map(Duration::from_secs))?;
    if let Some(listen) = args.listen {
        if !plan.chain.contains(&ProviderName::Web) {
            crate::log::warn("--listen has no effect: the web provider is not used for this call");
        }
        plan.web.listen = listen;
    }
    let stop = crate::signal::stop_signals()
        .map_err(|e| Error::Internal(format!("cannot watch signals: {e}")))?;
    let gate = Gate::new(crate::providers::build(&plan)?, plan.escalate_after);

    let mut request = Request::new(args.title, body, Origin::here(args.label), plan.timeout);
    request.reject_feedback_timeout = plan.reject_feedback_timeout;
    request.choices = approve_reject(&plan);
    let request = Arc::new(request);

    let started = Instant::now();
    let stopped = std::sync::Mutex::new(None);
    let cancel = async {
        let signal = stop.await;
        *stopped.lock().expect("stop cell") = Some(signal);
        Closing::Cancelled
    };
    let answer = gate.ask(request.clone(), cancel).await?;
    // Other processes' events this one is relaying are finished before it exits.
    crate::relay::finish(crate::relay::FINISH).await;
    let outcome = Outcome::of(&request, &answer);
    audit(
        &plan,
        &request,
        &answer,
        outcome.as_ref(),
        started.elapsed(),
    );

    if answer.decision == Decision::Cancelled {
        let signal = stopped
            .lock()
            .expect("stop cell")
            .unwrap_or(crate::signal::Stop::Terminate);
        crate::log::info("request withdrawn: interrupted");
        return Ok(signal.exit_code());
    }
    let outcome = outcome.expect("every decision but a cancel has an outcome");
    let mut stdout = std::io::stdout().lock();
    let line = serde_json::to_string(&outcome).map_err(|e| Error::Internal(e.to_string()))?;
    // A closed stdout (the caller went away) does not change the decision's exit code.
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    Ok(outcome.exit_code())
}

/// The two buttons of a `send` request.
pub fn approve_reject(plan: &Plan) -> Vec<Choice> {
    let text = plan.locale.messages();
    vec![
        Choice {
            id: Choice::APPROVE.into(),
            label: text.approve.into(),
            verdict: Verdict::Approve,
            asks_reason: false,
        },
        Choice {
            id: Choice::REJECT.into(),
            label: text.reject.into(),
            verdict: Verdict::Reject,
            asks_reason: true,
        },
    ]
}

fn read_body(args: &SendArgs) -> Result<Body, Error> {
    let Some(path) = &args.body_file else {
        return Ok(Body::Text(args.body.clone().unwrap_or_default()));
    };
    let read = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read(path).and_then(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
        })
    };
    read.map(Body::Text).map_err(|source| Error::BodyFile {
        path: path.clone(),
        source,
    })
}

fn audit(
    plan: &Plan,
    request: &Request,
    answer: &crate::answer::Answer,
    outcome: Option<&Outcome>,
    waited: Duration,
) {
    let Some(path) = &plan.audit_file else { return };
    let decision = outcome.map_or("cancelled", |o| match o.decision {
        crate::answer::DecisionField::Approved => "approved",
        crate::answer::DecisionField::Rejected => "rejected",
        crate::answer::DecisionField::Timeout => "timeout",
    });
    let by = answer.by.clone().unwrap_or_default();
    let record = crate::audit::SendRecord {
        kind: "send",
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
