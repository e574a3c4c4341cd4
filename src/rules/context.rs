//! Where a prompt is judged: the agent's working directory, the project root, the home
//! directory, and how words and subjects become paths there.

use std::path::{Component, Path, PathBuf};

use super::shell::Word;

/// The directories rules are judged against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The agent's working directory (absolute).
    pub cwd: PathBuf,
    /// The project root: the repository root above `cwd`, else `cwd` (absolute, symlinks
    /// resolved).
    pub project: PathBuf,
    pub home: Option<PathBuf>,
}

/// What a word or a subject names on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An absolute path, `..` and symlinks resolved as far as the path exists.
    Path(PathBuf),
    /// Everything below this directory (a glob such as `build/*`).
    Below(PathBuf),
    /// In another user's home (`~alice/x`): the part after the home.
    OtherHome(String),
    /// Only known at run time.
    Unknown(String),
}

impl Context {
    /// The context for `cwd`, with `project` as its root.
    pub fn new(cwd: &Path, project: &Path) -> Context {
        let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| normalize(p));
        Context {
            cwd: canonical(cwd),
            project: canonical(project),
            home: dirs::home_dir().map(|h| canonical(&h)),
        }
    }

    /// The project root is `/`, the home directory or above it: "inside the project" then
    /// means nothing for deletes.
    pub fn broad_project(&self) -> bool {
        self.project == Path::new("/")
            || self
                .home
                .as_ref()
                .is_some_and(|home| home.starts_with(&self.project))
    }

    /// The directory a command runs in, from [`super::simple::Simple::dir`].
    pub fn command_dir(&self, dir: Option<&Path>) -> Option<PathBuf> {
        let dir = dir?;
        let text = dir.to_string_lossy();
        if text == "~" || text.starts_with("~/") {
            let home = self.home.as_ref()?;
            return Some(home.join(text.trim_start_matches('~').trim_start_matches('/')));
        }
        Some(self.cwd.join(dir))
    }

    /// What `word`, an argument of a command running in `dir`, names.
    pub fn word_target(&self, dir: Option<&Path>, word: &Word) -> Target {
        let mut text = word.text.clone();
        let mut glob = word.glob.clone();
        if word.dynamic {
            // `$HOME/x` and `${HOME}/x` are known; other expansions are not.
            let home_var = ["$HOME", "${HOME}"].into_iter().find(|v| {
                text.starts_with(v) && text[v.len()..].chars().next().is_none_or(|c| c == '/')
            });
            let Some(var) = home_var else {
                return Target::Unknown(format!("`{}` is only known at run time", word.source));
            };
            let rest = &text[var.len()..];
            if rest.contains(['$', '`', '{']) {
                return Target::Unknown(format!("`{}` is only known at run time", word.source));
            }
            text = format!("~{rest}");
            glob = format!("~{}", &glob[var.len()..]);
        } else if !word.source.starts_with('~') && text.starts_with('~') {
            // A quoted `~` is a file named `~`.
            text.insert_str(0, "./");
            glob.insert_str(0, "./");
        }
        self.target(dir, &text, &glob)
    }

    /// What a subject (a path shown by an agent) names, relative to the working directory.
    pub fn subject_target(&self, text: &str) -> Target {
        let text = text
            .trim()
            .trim_matches(|c| matches!(c, '"' | '\'' | '`'))
            .trim();
        self.target(Some(Path::new("")), text, &super::shell::escape_glob(text))
    }

    fn target(&self, dir: Option<&Path>, text: &str, glob: &str) -> Target {
        // Up to the first component with an unquoted glob character.
        let (prefix, below) = match first_glob_component(glob) {
            Some(cut) => (unescape(&glob[..cut]), true),
            None => (text.to_owned(), false),
        };
        let absolute = if prefix == "~" || prefix.starts_with("~/") {
            match &self.home {
                Some(home) => home.join(prefix.trim_start_matches('~').trim_start_matches('/')),
                None => return Target::Unknown("no home directory".into()),
            }
        } else if let Some(user) = prefix.strip_prefix('~') {
            let rest = user.split_once('/').map_or("", |(_, rest)| rest);
            return Target::OtherHome(rest.to_owned());
        } else if prefix.starts_with('/') {
            PathBuf::from(&prefix)
        } else {
            match self.command_dir(dir) {
                Some(base) => base.join(&prefix),
                None => {
                    return Target::Unknown(
                        "it runs after a `cd` to a directory only known at run time".into(),
                    );
                }
            }
        };
        let path = resolve(&absolute);
        if below {
            Target::Below(path)
        } else {
            Target::Path(path)
        }
    }

    /// `path` relative to the project root, if it is strictly inside it.
    pub fn in_project(&self, path: &Path) -> Option<String> {
        let rest = path.strip_prefix(&self.project).ok()?;
        let rel = rest
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        (!rel.is_empty()).then_some(rel)
    }

    /// `path` relative to the home directory, if it is inside it.
    pub fn in_home(&self, path: &Path) -> Option<String> {
        let rest = path.strip_prefix(self.home.as_ref()?).ok()?;
        Some(
            rest.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }

    /// Shown to people: `~/x` for paths in the home directory.
    pub fn show(&self, path: &Path) -> String {
        match self.in_home(path) {
            Some(rel) if rel.is_empty() => "~".into(),
            Some(rel) => format!("~/{rel}"),
            None => path.display().to_string(),
        }
    }
}

/// Byte offset of the start of the first `/`-component holding an unescaped `*`, `?` or `[`.
fn first_glob_component(glob: &str) -> Option<usize> {
    let mut component_start = 0;
    let mut escaped = false;
    for (i, c) in glob.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '/' => component_start = i + 1,
            '*' | '?' | '[' => return Some(component_start),
            _ => {}
        }
    }
    None
}

fn unescape(glob: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in glob.chars() {
        if c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// `.` and `..` removed lexically (no file system access).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// An absolute path as the file system would resolve it: symlinks followed where the path
/// exists, `..` applied to the resolved directory (as the kernel does), the rest kept as
/// written.
pub fn resolve(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    let mut exists = true;
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if exists {
                    match std::fs::symlink_metadata(&out) {
                        Ok(meta) if meta.file_type().is_symlink() => {
                            if let Ok(real) = out.canonicalize() {
                                out = real;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => exists = false,
                    }
                }
            }
        }
    }
    out
}
