//! `openfeedback hook <agent>`: answer an agent's own permission hook through the gate.
//!
//! Theory of operation: the agent runs `openfeedback hook claude-code` (or `codex`, `gemini`)
//! as a command hook and writes one event as JSON on stdin. A tool call that wants a decision
//! becomes a [`Request`] (title from the tool and its command or file, a terminal-style body,
//! the session as label) and is asked through the same gate, providers, timeouts and audit log
//! as `send`. The answer is printed in the agent's own output schema ([`reply`]). A
//! notification becomes a [`Notice`]: delivered, never answered.
//!
//! Invariants:
//! - Nothing but a human's approval allows. A timeout, an unreachable provider, a bad config or
//!   an unusable payload is "no decision" (the agent shows its own dialog) or, where configured
//!   (`[hook] on_timeout`, `on_error`), a deny.
//! - Exit codes: 0 for every answer, decision or not, once the event is understood (these
//!   agents read JSON only from a successful hook); an unusable payload is the agent's
//!   "non-blocking hook error", exit 65 (Claude Code and Codex show stderr and carry on without
//!   a decision; checked with Claude Code 2.1.197). Exit 2 is never used: it blocks the call
//!   in all three agents. Gemini CLI is the exception for unusable payloads: it reads exit 1 as
//!   "allow with a warning" and any other non-zero exit as "deny" (0.61.0 bundle; older
//!   versions read them as "allow"), so openfeedback answers `{"decision":"ask"}` with exit 0
//!   instead. A signal (the agent's own hook timeout sends SIGTERM) withdraws the request and
//!   exits 128+N with nothing on stdout. Notifications that cannot be delivered exit 69.
//! - Claude Code shows its own dialog while the hook runs; an answer there withdraws the chat
//!   request ([`transcript`]).

mod event;
pub mod install;
mod render;
mod reply;
mod transcript;

use std::io::{IsTerminal, Read};
use std::time::Duration;

use crate::answer::Decision;
use crate::ask::Asked;
use crate::cli::{HookArgs, HookCommand, HookRunArgs};
use crate::config::{HookFallback, HookSettings, Plan, Source};
use crate::error::Error;
use crate::provider::{Closing, ProviderName};
use crate::request::{Body, Choice, Notice, Origin, Request, Verdict};

use self::event::{Context, Event, Kind, Notification, ToolCall};
use self::reply::Reply;

/// Payloads larger than this are refused (a Write of a huge file still fits many times over).
const MAX_INPUT: u64 = 64 * 1024 * 1024;
/// The id of the "Always allow" button.
const ALWAYS: &str = "always";

/// The agents whose hooks openfeedback speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Agent {
    /// Claude Code (`@anthropic-ai/claude-code`): PermissionRequest, PreToolUse, Notification.
    ClaudeCode,
    /// Codex CLI (`@openai/codex`): PermissionRequest.
    Codex,
    /// Gemini CLI (`@google/gemini-cli`): BeforeTool, Notification.
    Gemini,
}

impl Agent {
    /// The subcommand name: `claude-code`, `codex`, `gemini`.
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "Claude Code",
            Agent::Codex => "Codex",
            Agent::Gemini => "Gemini CLI",
        }
    }

    /// The hook events openfeedback handles for this agent.
    pub fn events(self) -> &'static [&'static str] {
        match self {
            Agent::ClaudeCode => &["PermissionRequest", "PreToolUse", "Notification"],
            Agent::Codex => &["PermissionRequest"],
            Agent::Gemini => &["BeforeTool", "Notification"],
        }
    }
}

/// Run `openfeedback hook ...`.
pub fn run(args: HookArgs, source: &Source) -> Result<u8, Error> {
    match args.command {
        HookCommand::ClaudeCode(run) => answer(Agent::ClaudeCode, &run, source),
        HookCommand::Codex(run) => answer(Agent::Codex, &run, source),
        HookCommand::Gemini(run) => answer(Agent::Gemini, &run, source),
        HookCommand::Install(args) => install::install(&args, source),
        HookCommand::Uninstall(args) => install::uninstall(&args),
    }
}

/// Read one event from stdin and answer it.
fn answer(agent: Agent, args: &HookRunArgs, source: &Source) -> Result<u8, Error> {
    let started = std::time::SystemTime::now();
    let understood = ProviderName::from_flag(args.provider.as_deref()).and_then(|provider| {
        let text = read_input()?;
        let event =
            Event::parse(agent, &text).map_err(|e| Error::Data(format!("hook event: {e}")))?;
        Ok((provider, event))
    });
    let (provider, event) = match understood {
        Ok(understood) => understood,
        Err(error) if agent == Agent::Gemini => {
            // See the module comment: a non-zero exit is not "no decision" for every Gemini.
            let why = error.to_string();
            eprintln!("openfeedback: {why}; Gemini CLI decides at the terminal");
            print_line(&reply::line(
                agent,
                Kind::BeforeTool,
                &Reply::NoDecision { why },
            ));
            return Ok(crate::error::code::SUCCESS);
        }
        Err(error) => return Err(error),
    };
    let timeout = args.timeout.map(Duration::from_secs);
    let runtime = crate::run::runtime()?;
    match event {
        Event::Decide(call) => {
            runtime.block_on(decide(agent, call, provider, timeout, source, started))
        }
        Event::Notify(note) => runtime.block_on(notify(agent, note, provider, source)),
    }
}

fn read_input() -> Result<String, Error> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::Usage(
            "the hook event is read from standard input: this command is run by the agent \
             (see `openfeedback hook install --help`)"
                .into(),
        ));
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Data(format!("hook event: cannot read standard input: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(Error::Data(format!(
            "hook event: larger than {} MiB",
            MAX_INPUT / 1024 / 1024
        )));
    }
    String::from_utf8(bytes).map_err(|_| Error::Data("hook event: not UTF-8 text".into()))
}

/// Ask the human about `call` and print the agent's answer.
async fn decide(
    agent: Agent,
    call: ToolCall,
    provider: Option<ProviderName>,
    timeout: Option<Duration>,
    source: &Source,
    started: std::time::SystemTime,
) -> Result<u8, Error> {
    let settings = match crate::config::load(source) {
        Ok(settings) => settings,
        Err(e) => return Ok(emit(agent, call.kind, &no_decision(&e.to_string()))),
    };
    let plan = match settings.plan(provider, timeout) {
        Ok(plan) => plan,
        Err(e) => return Ok(emit(agent, call.kind, &no_decision(&e.to_string()))),
    };
    let (title, body) = render::describe(&call);
    let mut request = Request::new(
        title,
        Body::Terminal(body),
        origin(agent, &call.context),
        plan.timeout,
    );
    request.reject_feedback_timeout = plan.reject_feedback_timeout;
    request.choices = choices(agent, &plan, &call);

    // Claude Code shows its own dialog while this hook runs (see `transcript`): read the
    // transcript once before the request is posted, then watch it.
    let at_the_terminal = plan.locale.messages().at_the_terminal;
    let watch = match (agent, call.kind, &call.context.transcript) {
        (Agent::ClaudeCode, Kind::PermissionRequest, Some(path)) => Some(transcript::Watch::start(
            path.into(),
            call.tool.clone(),
            call.input.clone(),
            started,
        )),
        _ => None,
    };
    let elsewhere = async {
        match watch {
            Some(watch) => {
                watch.answered().await;
                Closing::AnsweredElsewhere {
                    place: at_the_terminal.to_owned(),
                }
            }
            None => std::future::pending().await,
        }
    };
    let reply = match crate::ask::ask_until(&plan, request, "hook", elsewhere).await {
        Ok(asked) => {
            if asked.answer.decision == Decision::Cancelled {
                if let Some(signal) = asked.stopped {
                    crate::log::info("request withdrawn: interrupted; no decision");
                    return Ok(signal.exit_code());
                }
                crate::log::info("answered at the terminal: request withdrawn, nothing to say");
                return Ok(crate::error::code::SUCCESS);
            }
            reply_to(&asked, &call, settings.hook, plan.timeout)
        }
        Err(Error::Provider(e)) => match settings.hook.on_error {
            HookFallback::Ask => no_decision(&format!("could not reach a human: {e}")),
            HookFallback::Deny => Reply::Deny {
                message: format!(
                    "Denied: openfeedback could not reach a human to approve this ({e}), and \
                     its [hook] on_error setting is \"deny\"."
                ),
            },
        },
        Err(e) => no_decision(&e.to_string()),
    };
    Ok(emit(agent, call.kind, &reply))
}

/// The buttons: approve, reject, and Claude Code's "Always allow" when it offered rules.
fn choices(agent: Agent, plan: &Plan, call: &ToolCall) -> Vec<Choice> {
    let mut choices = crate::send::approve_reject(plan);
    let offers_rules = agent == Agent::ClaudeCode
        && call.kind == Kind::PermissionRequest
        && !call.suggestions.is_empty();
    if offers_rules {
        let what = render::suggestions(&call.suggestions);
        let label = crate::i18n::fill(plan.locale.messages().always_allow, &[("what", &what)]);
        choices.push(Choice {
            id: ALWAYS.into(),
            label: render::cut_line(&label, 60),
            verdict: Verdict::Approve,
            asks_reason: false,
        });
    }
    choices
}

/// The session label, host and directory shown with the request.
fn origin(agent: Agent, context: &Context) -> Origin {
    let mut origin = Origin::here(None);
    if let Some(cwd) = &context.cwd {
        origin.directory = crate::paths::tilde(std::path::Path::new(cwd));
    }
    let session: Option<String> = context
        .session_id
        .as_deref()
        .map(|id| id.chars().take(8).collect());
    origin.label = Some(match session {
        Some(id) => format!("{} {id}", agent.display_name()),
        None => agent.display_name().to_owned(),
    });
    origin
}

/// The agent's answer for a request that went through the gate (and was not withdrawn).
fn reply_to(asked: &Asked, call: &ToolCall, hook: HookSettings, timeout: Duration) -> Reply {
    let answer = &asked.answer;
    let by = match (&answer.by, answer.provider) {
        (Some(person), Some(provider)) => format!("{} on {}", person.name, provider.display_name()),
        (Some(person), None) => person.name.clone(),
        (None, _) => "the user".to_owned(),
    };
    let waited = humantime::format_duration(timeout);
    match &answer.decision {
        Decision::Decided {
            verdict: Verdict::Approve,
            choice,
        } => Reply::Allow {
            by,
            note: answer.feedback.clone(),
            permissions: (choice == ALWAYS).then(|| call.suggestions.clone()),
        },
        Decision::Decided {
            verdict: Verdict::Reject,
            ..
        } => Reply::Deny {
            message: answer
                .feedback
                .clone()
                .unwrap_or_else(|| format!("Denied by {by} through openfeedback.")),
        },
        Decision::TimedOut => match hook.on_timeout {
            HookFallback::Ask => no_decision(&format!("nobody answered within {waited}")),
            HookFallback::Deny => Reply::Deny {
                message: format!(
                    "Denied: nobody approved this within {waited} (openfeedback's [hook] \
                     on_timeout is \"deny\")."
                ),
            },
        },
        Decision::Cancelled => no_decision("the request was withdrawn"),
    }
}

fn no_decision(why: &str) -> Reply {
    Reply::NoDecision {
        why: why.to_owned(),
    }
}

/// Print `reply` for the agent; say on stderr when there is no decision. Returns the exit code.
fn emit(agent: Agent, kind: Kind, reply: &Reply) -> u8 {
    if let Reply::NoDecision { why } = reply {
        eprintln!(
            "openfeedback: no decision ({why}); {} asks at the terminal",
            agent.display_name()
        );
    }
    print_line(&reply::line(agent, kind, reply));
    crate::error::code::SUCCESS
}

fn print_line(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    // A closed stdout means the agent stopped waiting; there is nobody left to tell.
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// Deliver a notification: no buttons, nothing printed.
async fn notify(
    agent: Agent,
    note: Notification,
    provider: Option<ProviderName>,
    source: &Source,
) -> Result<u8, Error> {
    let settings = crate::config::load(source)?;
    let plan = settings.plan(provider, None)?;
    let gate = crate::ask::gate(&plan)?;
    let title = note
        .title
        .clone()
        .unwrap_or_else(|| agent.display_name().to_owned());
    let notice = Notice {
        title: render::cut_line(&title, 120),
        body: Body::Text(note.message.clone()),
        origin: origin(agent, &note.context),
    };
    gate.notify(&notice).await?;
    Ok(crate::error::code::SUCCESS)
}
