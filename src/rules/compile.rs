//! `[[rule]]` entries as written, and their validation into [`Rule`]s. Every problem is a
//! [`ConfigError`] naming the file, the line and the key (`rule[2].command`).

use std::fmt;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::builtin;
use super::glob::{CommandPattern, HostGlob, NameGlob, PathBase, PathGlob};
use super::{Action, ConfigRules, Disabled, Layer, Origin, Rule, SubjectClass, SubjectMatch};
use crate::config::ConfigError;
use crate::patterns::compile::line_of;

/// One `[[rule]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Shown in `rules test`, the audit log and the terminal title.
    pub name: Option<Spanned<String>>,
    /// `approve`, `reject` or `ask`.
    pub action: Option<Spanned<String>>,
    /// Agent names (`aider`, `claude-code`, ...), globs allowed.
    pub agent: Option<Spanned<Strings>>,
    /// Full pattern ids (`aider/shell`, `codex/*`).
    pub pattern: Option<Spanned<Strings>>,
    /// Prompt kinds (`shell`, `edit`, `network`, ...).
    pub kind: Option<Spanned<Strings>>,
    /// A regex the question line must match.
    pub question: Option<Spanned<String>>,
    /// Command patterns (word globs) for shell prompts.
    pub command: Option<Spanned<Strings>>,
    /// Path globs for file prompts.
    pub path: Option<Spanned<Strings>>,
    /// Host globs for network prompts.
    pub host: Option<Spanned<Strings>>,
    /// For `reject`: typed as feedback where the agent takes some.
    pub message: Option<Spanned<String>>,
    /// Answer with this choice id of the prompt.
    pub choice: Option<Spanned<String>>,
}

/// `[rules]` in the user's config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRulesSection {
    /// Built-in guards to turn off, by id.
    pub disable_builtin: Option<Spanned<Strings>>,
}

/// A string or an array of strings.
#[derive(Debug, Clone, Default)]
pub struct Strings(pub Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringsVisitor;
        impl<'de> Visitor<'de> for StringsVisitor {
            type Value = Strings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Strings, E> {
                Ok(Strings(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    out.push(item);
                }
                Ok(Strings(out))
            }
        }
        deserializer.deserialize_any(StringsVisitor)
    }
}

/// A list value and where it is written.
type Listed = (Vec<String>, std::ops::Range<usize>);

/// Compiles the rules of one file.
struct Compiler<'a> {
    text: &'a str,
    path: Option<&'a Path>,
    layer: Layer,
    home: Option<&'a Path>,
}

impl Compiler<'_> {
    fn fail(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::new(message)
            .at(Some(line_of(self.text, span.start)), key)
            .in_file(self.path)
    }

    fn rule(&self, index: usize, raw: &Spanned<RawRule>) -> Result<Rule, ConfigError> {
        let key = |k: &str| format!("rule[{index}].{k}");
        let r = raw.get_ref();
        let line = Some(line_of(self.text, raw.span().start));

        let action = match &r.action {
            None => {
                return Err(self.fail(
                    raw.span(),
                    &key("action"),
                    "is missing: say \"approve\", \"reject\" or \"ask\"",
                ));
            }
            Some(a) => match a.get_ref().trim() {
                "approve" => Action::Approve,
                "reject" => Action::Reject,
                "ask" => Action::Ask,
                other => {
                    return Err(self.fail(
                        a.span(),
                        &key("action"),
                        format!("{other:?} is not an action (expected \"approve\", \"reject\" or \"ask\"; pick an answer with `choice`)"),
                    ));
                }
            },
        };
        let name = match &r.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                return Err(self.fail(n.span(), &key("name"), "is empty"));
            }
            Some(n) => Some(n.get_ref().trim().to_owned()),
            None => None,
        };
        let list =
            |value: &Option<Spanned<Strings>>, k: &str| -> Result<Option<Listed>, ConfigError> {
                match value {
                    None => Ok(None),
                    Some(v) if v.get_ref().0.is_empty() => Err(self.fail(
                        v.span(),
                        &key(k),
                        "is empty (leave the key out to match everything)",
                    )),
                    Some(v) => Ok(Some((v.get_ref().0.clone(), v.span()))),
                }
            };
        let names =
            |value: &Option<Spanned<Strings>>, k: &str| -> Result<Vec<NameGlob>, ConfigError> {
                let Some((items, span)) = list(value, k)? else {
                    return Ok(Vec::new());
                };
                items
                    .iter()
                    .map(|s| {
                        NameGlob::new(s)
                            .map_err(|e| self.fail(span.clone(), &key(k), format!("{s:?}: {e}")))
                    })
                    .collect()
            };
        let agents = names(&r.agent, "agent")?;
        let patterns = names(&r.pattern, "pattern")?;
        let kinds: Vec<String> = list(&r.kind, "kind")?
            .map(|(items, _)| items.iter().map(|k| k.trim().to_owned()).collect())
            .unwrap_or_default();
        let question = match &r.question {
            Some(q) => Some(Regex::new(q.get_ref()).map_err(|e| {
                self.fail(
                    q.span(),
                    &key("question"),
                    format!("is not a valid regex: {e}"),
                )
            })?),
            None => None,
        };

        let subjects = [
            ("command", &r.command),
            ("path", &r.path),
            ("host", &r.host),
        ];
        let given: Vec<&str> = subjects
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| *k)
            .collect();
        if given.len() > 1 {
            let (_, second) = subjects
                .iter()
                .filter(|(_, v)| v.is_some())
                .nth(1)
                .expect("two given");
            return Err(self.fail(
                second.as_ref().expect("given").span(),
                &key(given[1]),
                format!(
                    "a rule matches one kind of subject: `{}` and `{}` belong in two rules",
                    given[0], given[1]
                ),
            ));
        }
        let subject = if let Some((items, span)) = list(&r.command, "command")? {
            SubjectMatch::Commands(
                items
                    .iter()
                    .map(|s| {
                        CommandPattern::new(s).map_err(|e| {
                            self.fail(span.clone(), &key("command"), format!("{s:?} {e}"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            )
        } else if let Some((items, span)) = list(&r.path, "path")? {
            let globs: Vec<PathGlob> = items
                .iter()
                .map(|s| {
                    PathGlob::new(s, self.home)
                        .map_err(|e| self.fail(span.clone(), &key("path"), format!("{s:?}: {e}")))
                })
                .collect::<Result<_, _>>()?;
            if action == Action::Approve
                && let Some(g) = globs.iter().find(|g| g.base == PathBase::Absolute)
            {
                return Err(self.fail(
                    span,
                    &key("path"),
                    format!(
                        "{:?}: an approve rule only matches paths inside the project; write a glob relative to the project root (absolute globs are for reject and ask rules)",
                        g.source
                    ),
                ));
            }
            SubjectMatch::Paths(globs)
        } else if let Some((items, span)) = list(&r.host, "host")? {
            SubjectMatch::Hosts(
                items
                    .iter()
                    .map(|s| {
                        HostGlob::new(s).map_err(|e| {
                            self.fail(span.clone(), &key("host"), format!("{s:?}: {e}"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            )
        } else {
            SubjectMatch::Any
        };
        // A kind that cannot carry the subject key would make the rule dead.
        let class = match subject {
            SubjectMatch::Commands(_) => Some(SubjectClass::Command),
            SubjectMatch::Paths(_) => Some(SubjectClass::Path),
            SubjectMatch::Hosts(_) => Some(SubjectClass::Host),
            SubjectMatch::Any => None,
        };
        if let (Some(class), Some(kind)) = (class, &r.kind)
            && let Some(bad) = kinds
                .iter()
                .find(|k| *k != "*" && SubjectClass::of(Some(k)) != class)
        {
            return Err(self.fail(
                kind.span(),
                &key("kind"),
                format!(
                    "{bad:?} prompts have no {} subject, so this rule could never match",
                    given[0]
                ),
            ));
        }

        let message = match &r.message {
            Some(m) if action != Action::Reject => {
                return Err(self.fail(
                    m.span(),
                    &key("message"),
                    "only a reject rule types a message",
                ));
            }
            Some(m) if m.get_ref().trim().is_empty() => {
                return Err(self.fail(m.span(), &key("message"), "is empty"));
            }
            Some(m) if m.get_ref().chars().any(char::is_control) => {
                return Err(self.fail(
                    m.span(),
                    &key("message"),
                    "must be one line of text (it is typed into the agent)",
                ));
            }
            Some(m) => Some(m.get_ref().trim().to_owned()),
            None => None,
        };
        let choice = match &r.choice {
            Some(c) if action == Action::Ask => {
                return Err(self.fail(
                    c.span(),
                    &key("choice"),
                    "an ask rule types nothing; `choice` needs \"approve\" or \"reject\"",
                ));
            }
            Some(c) => {
                let id = c.get_ref().trim();
                let valid = !id.is_empty()
                    && id.len() <= 8
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !valid {
                    return Err(self.fail(c.span(), &key("choice"), format!("{id:?} is not a choice id ([a-z0-9_], at most 8 characters; see `openfeedback patterns show`)")));
                }
                Some(id.to_owned())
            }
            None => None,
        };
        let says_what = !agents.is_empty()
            || !patterns.is_empty()
            || !kinds.is_empty()
            || question.is_some()
            || !matches!(subject, SubjectMatch::Any);
        if action == Action::Approve && !says_what {
            return Err(self.fail(
                raw.span(),
                &key("action"),
                "an approve rule must say what it approves (agent, pattern, kind, question, command, path or host)",
            ));
        }
        Ok(Rule {
            origin: Origin {
                layer: self.layer,
                path: self.path.map(Path::to_owned),
                index,
                line,
            },
            name,
            action,
            choice,
            message,
            agents,
            patterns,
            kinds,
            question,
            subject,
        })
    }

    fn rules(&self, raw: &[Spanned<RawRule>]) -> Result<Vec<Rule>, ConfigError> {
        raw.iter()
            .enumerate()
            .map(|(i, r)| self.rule(i + 1, r))
            .collect()
    }
}

/// The `[[rule]]` entries and `[rules]` section of the user's config file.
pub fn compile_config_rules(
    raw: &[Spanned<RawRule>],
    section: Option<&Spanned<RawRulesSection>>,
    text: &str,
    path: Option<&Path>,
) -> Result<ConfigRules, ConfigError> {
    let home = dirs::home_dir();
    let compiler = Compiler {
        text,
        path,
        layer: Layer::Config,
        home: home.as_deref(),
    };
    let rules = compiler.rules(raw)?;
    let mut disabled = Vec::new();
    if let Some(list) = section.and_then(|s| s.get_ref().disable_builtin.as_ref()) {
        for id in &list.get_ref().0 {
            let id = id.trim();
            if let Some(b) = builtin::find(id) {
                disabled.push(Disabled {
                    id: b.id,
                    path: path.map(Path::to_owned),
                    line: Some(line_of(text, list.span().start)),
                });
            } else {
                let known: Vec<&str> = builtin::BUILTINS.iter().map(|b| b.id).collect();
                let message = if matches!(id, "*" | "all") {
                    format!(
                        "built-in guards are turned off one by one, by id: {}",
                        known.join(", ")
                    )
                } else {
                    format!(
                        "{id:?} is not a built-in guard (they are: {})",
                        known.join(", ")
                    )
                };
                return Err(compiler.fail(list.span(), "rules.disable_builtin", message));
            }
        }
    }
    Ok(ConfigRules { rules, disabled })
}

/// A project's `.openfeedback.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProjectFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
    /// Refused with a clear message: only the user's own config may turn guards off.
    rules: Option<Spanned<toml::Value>>,
}

/// Parse and validate a project file's text.
pub fn compile_project_rules(text: &str, path: &Path) -> Result<Vec<Rule>, ConfigError> {
    let raw: RawProjectFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        ConfigError {
            path: None,
            line,
            key: None,
            message: e.message().trim().to_owned(),
        }
        .in_file(Some(path))
    })?;
    let home = dirs::home_dir();
    let compiler = Compiler {
        text,
        path: Some(path),
        layer: Layer::Project,
        home: home.as_deref(),
    };
    if let Some(section) = &raw.rules {
        return Err(compiler.fail(
            section.span(),
            "rules",
            "a project file cannot turn built-in guards off; only your own config can ([rules] disable_builtin)",
        ));
    }
    compiler.rules(&raw.rule)
}
