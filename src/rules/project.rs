//! The per-project rules file, `.openfeedback.toml`, and the record of which ones the user
//! trusts.
//!
//! The file is looked for in the working directory and each directory above it, up to the
//! repository root (the nearest directory holding `.git`); outside a repository, only in the
//! working directory. The nearest one counts.
//!
//! A repository is written by other people, so its rules count only once the user trusted
//! that exact file: `openfeedback rules trust`, or a y/N question when `wrap` starts in a
//! terminal. Trust is recorded per path with the SHA-256 of the contents
//! (`<data dir>/trusted-rules.json`, mode 0600); a changed file is untrusted until trusted
//! again. An untrusted file is ignored, with a warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::compile::compile_project_rules;
use super::{ProjectStatus, Rule};
use crate::config::ConfigError;

/// The project rules file name.
pub const FILE_NAME: &str = ".openfeedback.toml";

/// Where a session's project is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    /// The project root: the repository root, else the working directory.
    pub root: PathBuf,
    /// The nearest `.openfeedback.toml` between the working directory and the root.
    pub file: Option<PathBuf>,
}

/// Find the project root and its rules file, from `cwd`.
pub fn find(cwd: &Path) -> ProjectFile {
    let root = cwd
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(cwd)
        .to_owned();
    let file = cwd
        .ancestors()
        .take_while(|dir| dir.starts_with(&root))
        .map(|dir| dir.join(FILE_NAME))
        .find(|f| f.is_file());
    ProjectFile { root, file }
}

/// Hex SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use std::fmt::Write;
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Whether a project file is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Trusted,
    /// Never trusted.
    New,
    /// Trusted once, changed since.
    Changed,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    #[serde(default)]
    files: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    sha256: String,
    trusted_at: String,
}

/// The record of trusted project files.
#[derive(Debug, Clone)]
pub struct TrustStore {
    path: Option<PathBuf>,
}

impl TrustStore {
    /// `<data dir>/trusted-rules.json`.
    pub fn default_location() -> TrustStore {
        TrustStore {
            path: crate::paths::data_dir().map(|d| d.join("trusted-rules.json")),
        }
    }

    pub fn at(path: PathBuf) -> TrustStore {
        TrustStore { path: Some(path) }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn read(&self) -> StoreFile {
        self.path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn write(&self, store: &StoreFile) -> std::io::Result<()> {
        let path = self
            .path
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no data directory to record trust in"))?;
        let mut text = serde_json::to_vec_pretty(store).map_err(std::io::Error::other)?;
        text.push(b'\n');
        // Write a sibling and rename, so a crash never leaves half a file.
        let tmp = path.with_extension("json.tmp");
        crate::paths::write_private(&tmp, &text)?;
        std::fs::rename(&tmp, path)
    }

    fn key(file: &Path) -> String {
        file.canonicalize()
            .unwrap_or_else(|_| file.to_owned())
            .to_string_lossy()
            .into_owned()
    }

    /// Whether `file`, whose contents are `bytes`, is trusted.
    pub fn status(&self, file: &Path, bytes: &[u8]) -> Trust {
        match self.read().files.get(&Self::key(file)) {
            Some(entry) if entry.sha256 == sha256(bytes) => Trust::Trusted,
            Some(_) => Trust::Changed,
            None => Trust::New,
        }
    }

    /// Record `file` with contents `bytes` as trusted.
    pub fn trust(&self, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut store = self.read();
        store.files.insert(
            Self::key(file),
            Entry {
                sha256: sha256(bytes),
                trusted_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                    .to_string(),
            },
        );
        self.write(&store)
    }

    /// Forget `file`; whether it was recorded.
    pub fn revoke(&self, file: &Path) -> std::io::Result<bool> {
        let mut store = self.read();
        let removed = store.files.remove(&Self::key(file)).is_some();
        if removed {
            self.write(&store)?;
        }
        Ok(removed)
    }
}

/// The project file's contribution to a policy.
#[derive(Debug, Clone)]
pub struct ProjectRules {
    pub status: ProjectStatus,
    pub rules: Vec<Rule>,
}

impl ProjectRules {
    pub fn none() -> ProjectRules {
        ProjectRules {
            status: ProjectStatus::None,
            rules: Vec::new(),
        }
    }
}

/// A project file that is not trusted yet, as shown to the user who may trust it.
pub struct Candidate<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    /// Its rules, or why it is broken.
    pub rules: &'a Result<Vec<Rule>, ConfigError>,
    /// It was trusted before, with other contents.
    pub changed: bool,
}

/// Load the rules of `project.file`. A trusted file must be valid (an error is a config
/// error); an untrusted one is shown to `ask`, which says whether the user trusts it now.
pub fn load(
    project: &ProjectFile,
    store: &TrustStore,
    ask: &mut dyn FnMut(&Candidate<'_>) -> bool,
) -> Result<ProjectRules, ConfigError> {
    let Some(path) = &project.file else {
        return Ok(ProjectRules::none());
    };
    let bytes = std::fs::read(path).map_err(|e| {
        ConfigError::new(format!("cannot read the project rules file: {e}")).in_file(Some(path))
    })?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let trust = store.status(path, &bytes);
    if trust == Trust::Trusted {
        return Ok(ProjectRules {
            status: ProjectStatus::Trusted(path.clone()),
            rules: compile_project_rules(&text, path)?,
        });
    }
    let rules = compile_project_rules(&text, path);
    let candidate = Candidate {
        path,
        text: &text,
        rules: &rules,
        changed: trust == Trust::Changed,
    };
    if rules.is_ok() && ask(&candidate) {
        store.trust(path, &bytes).map_err(|e| {
            ConfigError::new(format!("cannot record the trust: {e}")).in_file(store.path())
        })?;
        return Ok(ProjectRules {
            status: ProjectStatus::Trusted(path.clone()),
            rules: rules?,
        });
    }
    Ok(ProjectRules {
        status: ProjectStatus::Untrusted {
            path: path.clone(),
            changed: trust == Trust::Changed,
        },
        rules: Vec::new(),
    })
}
