//! The globs rules are written with, compiled to anchored regexes.
//!
//! - **Words** (`command = ["npm run lint *"]`): each word of the pattern matches one word of
//!   the command; `*` and `?` match any characters in a word, `[abc]` one of them. A `*` that
//!   is a whole word matches exactly one word, except as the last word, where it matches all
//!   the remaining words (none included). Quote a `*` to mean the character itself.
//! - **Paths** (`path = ["src/**"]`): `*` and `?` stop at `/`, `**` spans directories,
//!   `{a,b}` is either. Relative globs are relative to the project root; `/…` and `~/…` are
//!   absolute.
//! - **Hosts** (`host = ["*.github.com"]`): case-insensitive; `*` matches any characters, so
//!   `*.github.com` is every subdomain and not `github.com` itself.

use regex::Regex;

use super::shell::{self, Word};

/// How `*` behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Any character (command words, hosts).
    Any,
    /// Not `/`, and `**` spans directories.
    Path,
}

/// Translate a glob into a regex body (not anchored).
fn translate(glob: &str, mode: Mode) -> Result<String, String> {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut braces = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let next = chars.get(i + 1).ok_or("a glob cannot end with `\\`")?;
                out.push_str(&regex::escape(&next.to_string()));
                i += 2;
                continue;
            }
            '*' if mode == Mode::Path && chars.get(i + 1) == Some(&'*') => {
                let starts_segment = i == 0 || chars[i - 1] == '/';
                let ends_segment = chars.get(i + 2).is_none_or(|&c| c == '/');
                if !(starts_segment && ends_segment) {
                    return Err("`**` must be a whole path component (`a/**/b`)".into());
                }
                if chars.get(i + 2) == Some(&'/') {
                    // `**/`: any number of directories, none included.
                    out.push_str("(?:[^/]*/)*");
                    i += 3;
                } else if i > 0 {
                    // `/**` at the end: the directory itself or anything below it.
                    out.pop();
                    out.push_str("(?:/.*)?");
                    i += 2;
                } else {
                    out.push_str(".*");
                    i += 2;
                }
                continue;
            }
            '*' => out.push_str(if mode == Mode::Path { "[^/]*" } else { ".*" }),
            '?' => out.push_str(if mode == Mode::Path { "[^/]" } else { "." }),
            '[' => {
                let end = chars[i + 1..]
                    .iter()
                    .enumerate()
                    .position(|(k, &c)| c == ']' && k > 0)
                    .map(|p| i + 1 + p)
                    .ok_or("`[` without its `]`")?;
                let mut class: String = chars[i + 1..end].iter().collect();
                if let Some(rest) = class.strip_prefix('!') {
                    class = format!("^{rest}");
                }
                out.push('[');
                out.push_str(&class.replace('\\', "\\\\").replace('[', "\\["));
                out.push(']');
                i = end + 1;
                continue;
            }
            '{' if mode == Mode::Path => {
                braces += 1;
                out.push_str("(?:");
            }
            ',' if mode == Mode::Path && braces > 0 => out.push('|'),
            '}' if mode == Mode::Path && braces > 0 => {
                braces -= 1;
                out.push(')');
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if braces > 0 {
        return Err("`{` without its `}`".into());
    }
    Ok(out)
}

fn anchored(body: &str, case_insensitive: bool) -> Result<Regex, String> {
    let flags = if case_insensitive { "(?i)" } else { "" };
    Regex::new(&format!("{flags}^(?:{body})$")).map_err(|e| e.to_string())
}

/// One word of a command pattern.
#[derive(Debug, Clone)]
enum WordPattern {
    /// `*` as a whole word.
    AnyWord,
    Glob(Regex),
}

/// A command pattern: words, the last of which may be `*` (any remaining words).
#[derive(Debug, Clone)]
pub struct CommandPattern {
    pub source: String,
    words: Vec<WordPattern>,
    rest: bool,
}

impl CommandPattern {
    /// Parse `source` as one simple command whose words are globs.
    pub fn new(source: &str) -> Result<CommandPattern, String> {
        let parsed = shell::parse(source).map_err(|e| e.to_string())?;
        let [command] = parsed.commands.as_slice() else {
            return Err(
                "must be one simple command (no `;`, `&&`, `|`, substitutions): write one \
                 pattern per command"
                    .into(),
            );
        };
        if !command.redirects.is_empty() {
            return Err("redirections cannot be part of a pattern".into());
        }
        if let Some(word) = command.words.iter().find(|w| w.dynamic) {
            return Err(format!(
                "`{}` is expanded at run time ($…, `…`, {{a,b}}): quote it to mean it literally",
                word.source
            ));
        }
        if command.words.is_empty() {
            return Err("is empty".into());
        }
        let mut words: Vec<WordPattern> = command
            .words
            .iter()
            .map(|w| {
                if w.glob == "*" {
                    Ok(WordPattern::AnyWord)
                } else {
                    anchored(&translate(&w.glob, Mode::Any)?, false).map(WordPattern::Glob)
                }
            })
            .collect::<Result<_, String>>()?;
        let rest = matches!(words.last(), Some(WordPattern::AnyWord)) && words.len() > 1;
        if rest {
            words.pop();
        }
        Ok(CommandPattern {
            source: source.trim().to_owned(),
            words,
            rest,
        })
    }

    /// Whether the command words `words` match.
    pub fn matches(&self, words: &[Word]) -> bool {
        if words.len() < self.words.len() || (!self.rest && words.len() != self.words.len()) {
            return false;
        }
        self.words.iter().zip(words).all(|(p, w)| match p {
            WordPattern::AnyWord => true,
            WordPattern::Glob(re) => re.is_match(&w.text),
        })
    }
}

/// Where a path glob is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathBase {
    /// Relative to the project root.
    Project,
    /// An absolute path (after `~` expansion).
    Absolute,
}

/// A path glob.
#[derive(Debug, Clone)]
pub struct PathGlob {
    pub source: String,
    pub base: PathBase,
    regex: Regex,
}

impl PathGlob {
    /// `home` expands a leading `~/`.
    pub fn new(source: &str, home: Option<&std::path::Path>) -> Result<PathGlob, String> {
        let trimmed = source.trim();
        if trimmed.is_empty() {
            return Err("is empty".into());
        }
        let (base, text) = if let Some(rest) = trimmed.strip_prefix("~/") {
            let home = home.ok_or("`~` cannot be expanded: no home directory")?;
            let home = home.to_string_lossy();
            (
                PathBase::Absolute,
                format!("{}/{rest}", shell::escape_glob(home.trim_end_matches('/'))),
            )
        } else if trimmed == "~" {
            let home = home.ok_or("`~` cannot be expanded: no home directory")?;
            (
                PathBase::Absolute,
                shell::escape_glob(&home.to_string_lossy()),
            )
        } else if trimmed.starts_with('/') {
            (PathBase::Absolute, trimmed.to_owned())
        } else {
            (
                PathBase::Project,
                trimmed.trim_start_matches("./").to_owned(),
            )
        };
        if text.split('/').any(|c| c == "..") {
            return Err("`..` is not allowed in a path glob".into());
        }
        let text = if text.len() > 1 {
            text.trim_end_matches('/').to_owned()
        } else {
            text
        };
        let regex = anchored(&translate(&text, Mode::Path)?, false)?;
        Ok(PathGlob {
            source: trimmed.to_owned(),
            base,
            regex,
        })
    }

    /// Whether `path` matches: project-relative (`src/a.rs`) or absolute (`/etc/hosts`) as
    /// the glob's base says.
    pub fn matches(&self, path: &str) -> bool {
        self.regex.is_match(path)
    }
}

/// A host glob (case-insensitive).
#[derive(Debug, Clone)]
pub struct HostGlob {
    pub source: String,
    regex: Regex,
}

impl HostGlob {
    pub fn new(source: &str) -> Result<HostGlob, String> {
        let text = source.trim();
        if text.is_empty() {
            return Err("is empty".into());
        }
        if text.contains(['/', ':', '@', ' ']) {
            return Err(
                "must be a host name such as \"*.github.com\" (no scheme, port or path)".into(),
            );
        }
        Ok(HostGlob {
            source: text.to_owned(),
            regex: anchored(&translate(text, Mode::Any)?, true)?,
        })
    }

    pub fn matches(&self, host: &str) -> bool {
        self.regex.is_match(host)
    }
}

/// A glob over names (agents, pattern ids): `*` matches anything.
#[derive(Debug, Clone)]
pub struct NameGlob {
    pub source: String,
    regex: Regex,
}

impl NameGlob {
    pub fn new(source: &str) -> Result<NameGlob, String> {
        let text = source.trim();
        if text.is_empty() {
            return Err("is empty".into());
        }
        Ok(NameGlob {
            source: text.to_owned(),
            regex: anchored(&translate(text, Mode::Any)?, false)?,
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }
}

/// The host of a URL or `host[:port]`, lowercase; `None` if it does not look like one.
pub fn host_of(text: &str) -> Option<String> {
    let text = text
        .trim()
        .trim_matches(|c| matches!(c, '"' | '\'' | '<' | '>' | '`'));
    let rest = match text.find("://") {
        Some(i) => &text[i + 3..],
        None => text,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    valid.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Word> {
        shell::parse(text).unwrap().commands[0].words.clone()
    }

    #[test]
    fn command_patterns_match_word_by_word() {
        let p = CommandPattern::new("npm run lint *").unwrap();
        assert!(p.matches(&words("npm run lint")));
        assert!(p.matches(&words("npm run lint --fix src")));
        assert!(!p.matches(&words("npm run lint-all")));
        assert!(!p.matches(&words("npm run")));
        let exact = CommandPattern::new("npm test").unwrap();
        assert!(exact.matches(&words("npm test")));
        assert!(exact.matches(&words("'npm' \"test\"")));
        assert!(!exact.matches(&words("npm test --watch")));
        let middle = CommandPattern::new("git * status").unwrap();
        assert!(middle.matches(&words("git -P status")));
        assert!(!middle.matches(&words("git status")));
        let inword = CommandPattern::new("npm run test:*").unwrap();
        assert!(inword.matches(&words("npm run test:unit")));
        assert!(!inword.matches(&words("npm run test:unit x")));
        let literal = CommandPattern::new("echo '*'").unwrap();
        assert!(literal.matches(&words("echo '*'")));
        assert!(!literal.matches(&words("echo hi")));
        let star = CommandPattern::new("*").unwrap();
        assert!(star.matches(&words("anything")));
        assert!(!star.matches(&words("two words")));
    }

    #[test]
    fn command_patterns_are_one_static_command() {
        assert!(CommandPattern::new("npm test; ls").is_err());
        assert!(CommandPattern::new("npm test | cat").is_err());
        assert!(CommandPattern::new("echo $HOME").is_err());
        assert!(CommandPattern::new("echo > x").is_err());
        assert!(CommandPattern::new("'unterminated").is_err());
        assert!(CommandPattern::new("").is_err());
    }

    #[test]
    fn path_globs() {
        let src = PathGlob::new("src/**", None).unwrap();
        assert_eq!(src.base, PathBase::Project);
        assert!(src.matches("src"));
        assert!(src.matches("src/a/b.rs"));
        assert!(!src.matches("srcx/a"));
        let rs = PathGlob::new("**/*.rs", None).unwrap();
        assert!(rs.matches("a.rs") && rs.matches("x/y/a.rs"));
        assert!(!rs.matches("a.rsx"));
        let star = PathGlob::new("*.md", None).unwrap();
        assert!(star.matches("README.md") && !star.matches("docs/a.md"));
        let braces = PathGlob::new("{src,tests}/*.rs", None).unwrap();
        assert!(braces.matches("tests/a.rs") && !braces.matches("benches/a.rs"));
        let home = PathGlob::new("~/.ssh/**", Some(std::path::Path::new("/home/u"))).unwrap();
        assert_eq!(home.base, PathBase::Absolute);
        assert!(home.matches("/home/u/.ssh/id_rsa"));
        assert!(PathGlob::new("../x", None).is_err());
        assert!(PathGlob::new("a**b", None).is_err());
    }

    #[test]
    fn host_globs_and_hosts() {
        let gh = HostGlob::new("*.github.com").unwrap();
        assert!(gh.matches("api.github.com") && gh.matches("API.GitHub.com"));
        assert!(!gh.matches("github.com") && !gh.matches("evilgithub.com"));
        assert!(HostGlob::new("https://x").is_err());
        assert_eq!(
            host_of("https://user@Api.GitHub.com:443/x?y").as_deref(),
            Some("api.github.com")
        );
        assert_eq!(host_of("example.org:8080").as_deref(), Some("example.org"));
        assert_eq!(
            host_of("\"registry.npmjs.org\"").as_deref(),
            Some("registry.npmjs.org")
        );
        assert_eq!(host_of("http://[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(host_of("not a host"), None);
    }
}
