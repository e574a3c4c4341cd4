//! `openfeedback send`: one request, one answer, one JSON object on stdout.

use std::io::{Read, Write};
use std::time::Duration;

use crate::cli::SendArgs;
use crate::config::{Plan, Source};
use crate::error::Error;
use crate::provider::ProviderName;
use crate::request::{Body, Choice, Origin, Request, Verdict};

pub async fn send(args: SendArgs, source: &Source) -> Result<u8, Error> {
    let body = read_body(&args)?;
    let provider = ProviderName::from_flag(args.provider.as_deref())?;
    let settings = crate::config::load(source)?;
    let mut plan = settings.plan(provider, args.timeout.map(Duration::from_secs))?;
    if let Some(listen) = args.listen {
        if !plan.chain.contains(&ProviderName::Web) {
            crate::log::warn("--listen has no effect: the web provider is not used for this call");
        }
        plan.web.listen = listen;
    }

    let mut request = Request::new(args.title, body, Origin::here(args.label), plan.timeout);
    request.reject_feedback_timeout = plan.reject_feedback_timeout;
    request.choices = approve_reject(&plan);
    let asked = crate::ask::ask(&plan, request, "send").await?;

    if asked.answer.decision == crate::answer::Decision::Cancelled {
        crate::log::info("request withdrawn: interrupted");
        let signal = asked.stopped.unwrap_or(crate::signal::Stop::Terminate);
        return Ok(signal.exit_code());
    }
    let outcome = asked
        .outcome()
        .expect("every decision but a cancel has an outcome");
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
