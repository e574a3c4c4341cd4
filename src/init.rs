//! `openfeedback init`: write the commented config template.

use std::path::PathBuf;

use crate::config::{Source, template::TEMPLATE};
use crate::error::Error;

/// Write the template to the config path in force; refuse to replace a file unless `force`.
pub fn init(source: &Source, force: bool) -> Result<PathBuf, Error> {
    let path = match source {
        Source::Explicit(path) | Source::Default(Some(path)) => path.clone(),
        Source::Default(None) => {
            return Err(Error::Usage(
                "no config directory on this platform: pass --config FILE".into(),
            ));
        }
    };
    if path.exists() && !force {
        return Err(Error::Exists(format!(
            "{} already exists; use --force to replace it",
            path.display()
        )));
    }
    crate::paths::write_private(&path, TEMPLATE.as_bytes()).map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}
