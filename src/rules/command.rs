//! `openfeedback rules test|list|trust|untrust`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::project::{self, Candidate, TrustStore};
use super::{Action, ConfigRules, Context, Policy};
use crate::cli::{RulesArgs, RulesCommand};
use crate::config::{ConfigError, Source};
use crate::error::Error;
use crate::request::Verdict;
use crate::wrap::prompt::{Prompt, PromptChoice};

/// The policy for a session started in `cwd`: the config's rules, the project file's if it
/// is trusted (or `ask` trusts it now), and the guards.
pub fn policy(
    config: ConfigRules,
    cwd: &Path,
    store: &TrustStore,
    ask: &mut dyn FnMut(&Candidate<'_>) -> bool,
) -> Result<Policy, ConfigError> {
    let found = project::find(cwd);
    let project = project::load(&found, store, ask)?;
    Ok(Policy::new(config, project, Context::new(cwd, &found.root)))
}

fn cwd() -> Result<PathBuf, Error> {
    std::env::current_dir()
        .map_err(|e| Error::Internal(format!("cannot read the working directory: {e}")))
}

pub fn run(args: &RulesArgs, source: &Source) -> Result<u8, Error> {
    let store = TrustStore::default_location();
    let mut out = String::new();
    let code = match &args.command {
        RulesCommand::Test {
            subject,
            agent,
            kind,
            pattern,
            question,
        } => {
            let settings = crate::config::load(source)?;
            let policy = policy(settings.rules, &cwd()?, &store, &mut |_| false)?;
            let prompt = test_prompt(
                subject,
                agent.as_deref(),
                kind.as_deref(),
                pattern.as_deref(),
                question.as_deref(),
            )?;
            let decision = policy.decide(&prompt);
            out.push_str(&super::explain::report(&policy, &prompt, &decision));
            match decision.action {
                Action::Approve => crate::error::code::APPROVED,
                Action::Reject => crate::error::code::REJECTED,
                Action::Ask => crate::error::code::TIMEOUT,
            }
        }
        RulesCommand::List => {
            let settings = crate::config::load(source)?;
            let policy = policy(settings.rules, &cwd()?, &store, &mut |_| false)?;
            out.push_str(&super::explain::list(&policy));
            0
        }
        RulesCommand::Trust { path } => {
            let file = project_file(path.as_deref())?;
            let bytes = std::fs::read(&file).map_err(|e| {
                Error::Config(ConfigError::new(format!("cannot read it: {e}")).in_file(Some(&file)))
            })?;
            let text = String::from_utf8_lossy(&bytes);
            let rules = super::compile::compile_project_rules(&text, &file)?;
            store.trust(&file, &bytes).map_err(|source| Error::Write {
                path: store.path().map(Path::to_owned).unwrap_or_default(),
                source,
            })?;
            let _ = writeln!(
                out,
                "trusted {} (sha256 {}); its rules:",
                file.display(),
                &project::sha256(&bytes)[..16]
            );
            out.push_str(&super::explain::candidate(&Candidate {
                path: &file,
                text: &text,
                rules: &Ok(rules),
                changed: false,
            }));
            out.push_str("any change to the file needs `openfeedback rules trust` again\n");
            0
        }
        RulesCommand::Untrust { path } => {
            let file = project_file(path.as_deref())?;
            let removed = store.revoke(&file).map_err(|source| Error::Write {
                path: store.path().map(Path::to_owned).unwrap_or_default(),
                source,
            })?;
            let _ = writeln!(
                out,
                "{} {}",
                file.display(),
                if removed {
                    "is no longer trusted"
                } else {
                    "was not trusted"
                }
            );
            0
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
    Ok(code)
}

/// The project file named by PATH (a file or a directory), or the one that applies here.
fn project_file(path: Option<&Path>) -> Result<PathBuf, Error> {
    let file = match path {
        Some(p) if p.is_dir() => p.join(project::FILE_NAME),
        Some(p) => p.to_owned(),
        None => project::find(&cwd()?).file.ok_or_else(|| {
            Error::Usage(format!(
                "no {} in this directory or above it (up to the repository root)",
                project::FILE_NAME
            ))
        })?,
    };
    if !file.is_file() {
        return Err(Error::Usage(format!("{} is not a file", file.display())));
    }
    Ok(file.canonicalize().unwrap_or(file))
}

/// The prompt `rules test` judges: the pattern's agent, kind and answers when `--pattern`
/// names one, else a generic yes/no prompt.
fn test_prompt(
    subject: &str,
    agent: Option<&str>,
    kind: Option<&str>,
    pattern: Option<&str>,
    question: Option<&str>,
) -> Result<Prompt, Error> {
    let mut prompt = Prompt {
        pattern: String::new(),
        agent: agent.unwrap_or("generic").to_owned(),
        kind: Some(kind.unwrap_or("shell").to_owned()),
        question: question.unwrap_or("").to_owned(),
        subject: Some(subject.to_owned()),
        context: String::new(),
        choices: vec![
            choice("y", "Yes", Verdict::Approve, false),
            choice("n", "No", Verdict::Reject, false),
            choice("nf", "No, and say why", Verdict::Reject, true),
        ],
        fingerprint: 0,
    };
    if let Some(name) = pattern {
        let set = crate::patterns::load(&crate::patterns::LoadOptions::default())?;
        let found = set.find(name);
        let Some(p) = found.first() else {
            return Err(Error::Usage(format!(
                "no pattern named {name:?} (see `openfeedback patterns list`)"
            )));
        };
        prompt.pattern.clone_from(&p.full_id);
        if agent.is_none() {
            prompt.agent.clone_from(&p.agent);
        }
        if kind.is_none() {
            prompt.kind.clone_from(&p.kind);
        }
        prompt.choices = p
            .choices
            .iter()
            .map(|c| {
                choice(
                    &c.id,
                    c.label.as_deref().unwrap_or(&c.id),
                    c.verdict,
                    c.feedback,
                )
            })
            .collect();
    }
    Ok(prompt)
}

fn choice(id: &str, label: &str, verdict: Verdict, asks_reason: bool) -> PromptChoice {
    PromptChoice {
        id: id.to_owned(),
        label: label.to_owned(),
        verdict,
        asks_reason,
    }
}
