//! What came back: the answer to a request and the JSON object `send` prints.

use std::time::SystemTime;

use serde::Serialize;

use crate::provider::ProviderName;
use crate::request::{Request, Verdict};

/// Who answered, as the provider identifies them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    /// Display name (username, or first name).
    pub name: String,
    /// The provider's stable numeric id (Telegram user id, Discord snowflake), as digits.
    pub id: String,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A choice was made; `choice` is the id of the button (or `y`/`n`).
    Decided {
        verdict: Verdict,
        choice: String,
    },
    TimedOut,
    /// Withdrawn before anyone answered remotely (a signal, or answered at the terminal).
    Cancelled,
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub decision: Decision,
    pub by: Option<Person>,
    pub feedback: Option<String>,
    /// The provider that produced the answer (the last one tried on a timeout).
    pub provider: Option<ProviderName>,
    /// The first provider of the chain, when the answer came from a later one.
    pub escalated_from: Option<ProviderName>,
    pub at: SystemTime,
}

impl Answer {
    pub fn verdict(&self) -> Option<Verdict> {
        match &self.decision {
            Decision::Decided { verdict, .. } => Some(*verdict),
            _ => None,
        }
    }
}

/// The `decision` field of the stdout contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionField {
    Approved,
    Rejected,
    Timeout,
}

/// The one JSON object `send` prints on stdout (a superset of openfeedback v0.3's).
///
/// Field names and types are a public promise: add fields, never rename or remove them.
/// `user_id` stays a JSON integer as in v0.3 (0 when nobody answered); the exact digits are
/// printed, so Discord snowflakes do not lose precision in the text, only in readers that
/// parse numbers as doubles: those can read `user_id_str`.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub decision: DecisionField,
    pub user: String,
    pub user_id: serde_json::Number,
    pub feedback: Option<String>,
    pub timestamp: String,
    pub request_title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalated_from: Option<String>,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
    pub user_id_str: String,
}

impl Outcome {
    /// The outcome of `request`, or `None` when it was cancelled (cancellation prints nothing).
    pub fn of(request: &Request, answer: &Answer) -> Option<Self> {
        let (decision, choice) = match &answer.decision {
            Decision::Decided {
                verdict: Verdict::Approve,
                choice,
            } => (DecisionField::Approved, choice),
            Decision::Decided {
                verdict: Verdict::Reject,
                choice,
            } => (DecisionField::Rejected, choice),
            Decision::TimedOut => {
                return Some(Self::build(request, answer, DecisionField::Timeout, None));
            }
            Decision::Cancelled => return None,
        };
        let is_plain =
            choice == crate::request::Choice::APPROVE || choice == crate::request::Choice::REJECT;
        let choice = (!is_plain).then(|| choice.clone());
        Some(Self::build(request, answer, decision, choice))
    }

    fn build(
        request: &Request,
        answer: &Answer,
        decision: DecisionField,
        choice: Option<String>,
    ) -> Self {
        let person = answer.by.clone().unwrap_or_default();
        let user_id = person
            .id
            .parse::<i64>()
            .map(serde_json::Number::from)
            .or_else(|_| person.id.parse::<u64>().map(serde_json::Number::from))
            .unwrap_or_else(|_| serde_json::Number::from(0));
        Outcome {
            decision,
            user: person.name,
            user_id,
            feedback: answer.feedback.clone(),
            timestamp: humantime::format_rfc3339_seconds(answer.at).to_string(),
            request_title: request.title.clone(),
            provider: answer.provider.map(|p| p.to_string()),
            escalated_from: answer.escalated_from.map(|p| p.to_string()),
            request_id: request.id.to_string(),
            choice,
            user_id_str: person.id,
        }
    }

    /// The exit code of this outcome: 0 approved, 1 rejected, 2 timeout.
    pub fn exit_code(&self) -> u8 {
        match self.decision {
            DecisionField::Approved => crate::error::code::APPROVED,
            DecisionField::Rejected => crate::error::code::REJECTED,
            DecisionField::Timeout => crate::error::code::TIMEOUT,
        }
    }
}
