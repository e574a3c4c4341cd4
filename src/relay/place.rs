//! Where the processes of one bot meet: a private runtime directory, and per bot a lock file
//! and a socket named after a hash of the bot's identity.
//!
//! The directory is `$XDG_RUNTIME_DIR/openfeedback`, else `/tmp/openfeedback-<uid>`. It must
//! be a real directory (not a symlink) owned by us with no access for group or others; one we
//! create gets mode 0700. Anything else (another user squatting the `/tmp` name, a symlink) is
//! refused, and the caller then runs without coordination rather than trusting it.
//!
//! File names carry a hash of the API base and the token (never the token itself) and the
//! relay protocol version, so two versions of openfeedback never speak to each other.

use std::ffi::CString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Bumped whenever the wire format changes.
pub const PROTOCOL: u32 = 1;

/// `sun_path` holds 108 bytes on Linux and 104 on macOS, NUL included.
const MAX_SOCKET_PATH: usize = 100;

/// The files of one bot in the runtime directory.
#[derive(Debug, Clone)]
pub struct Place {
    pub dir: PathBuf,
    /// `<kind>-<hash>-v<protocol>`, the stem of every file of this bot.
    pub stem: String,
}

impl Place {
    /// The place of the bot `kind` (`tg`, `dc`) reached at `api_base` with `token`, in the
    /// default runtime directory.
    pub fn for_bot(kind: &str, api_base: &str, token: &str) -> Result<Place, String> {
        Self::in_dir(runtime_dir()?, kind, api_base, token)
    }

    /// Like [`Place::for_bot`], in `dir` (created or checked as described above).
    pub fn in_dir(dir: PathBuf, kind: &str, api_base: &str, token: &str) -> Result<Place, String> {
        private_dir(&dir)?;
        let place = Place {
            dir,
            stem: format!("{kind}-{}-v{PROTOCOL}", bot_hash(kind, api_base, token)),
        };
        let socket = place.socket();
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(format!(
                "the runtime directory path is too long for a socket: {}",
                socket.display()
            ));
        }
        Ok(place)
    }

    /// The file whose exclusive lock makes a process the leader; it holds the leader's pid.
    pub fn lock(&self) -> PathBuf {
        self.file("lock")
    }

    /// The leader's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.file("sock")
    }

    /// Another file of this bot, e.g. `topics` (`<stem>.topics`).
    pub fn file(&self, extension: &str) -> PathBuf {
        self.dir.join(format!("{}.{extension}", self.stem))
    }
}

/// `$XDG_RUNTIME_DIR/openfeedback` if that variable names an absolute path, else
/// `/tmp/openfeedback-<uid>`. Not created here.
pub fn runtime_dir() -> Result<PathBuf, String> {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(base) if base.is_absolute() => Ok(base.join("openfeedback")),
        _ => Ok(PathBuf::from(format!("/tmp/openfeedback-{}", uid()))),
    }
}

/// 128 bits of SHA-256 over the identity, as hex.
fn bot_hash(kind: &str, api_base: &str, token: &str) -> String {
    let mut input = Vec::with_capacity(kind.len() + api_base.len() + token.len() + 2);
    for part in [kind, api_base, token] {
        input.extend_from_slice(part.as_bytes());
        input.push(0);
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, &input);
    digest.as_ref()[..16]
        .iter()
        .fold(String::with_capacity(32), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

pub fn uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Create `dir` with mode 0700, or check that the existing one is ours and private.
fn private_dir(dir: &Path) -> Result<(), String> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("cannot inspect {}: {e}", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if meta.uid() != uid() {
        return Err(format!(
            "{} belongs to another user (uid {}); refusing to use it",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", dir.display()))?;
    }
    Ok(())
}

/// Try to take the exclusive lock on `path` without waiting. `Ok(None)`: another process
/// holds it. The lock lives as long as the returned file is open (the kernel drops it when
/// the process dies, however it dies).
pub fn try_lock(path: &Path) -> std::io::Result<Option<File>> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    // SAFETY: flock on a file descriptor we own and keep open for the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        return if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(None)
        } else {
            Err(error)
        };
    }
    // The holder's pid, for humans and tests ("who polls?").
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())?;
    Ok(Some(file))
}

/// Take the exclusive lock on `path`, waiting in small steps until `patience` runs out.
pub async fn lock_within(path: &Path, patience: std::time::Duration) -> Option<File> {
    let until = tokio::time::Instant::now() + patience;
    loop {
        match try_lock(path) {
            Ok(Some(file)) => return Some(file),
            Ok(None) if tokio::time::Instant::now() < until => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            _ => return None,
        }
    }
}

/// Whether process `pid` is alive (and ours to signal).
pub fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Remove a stale socket file at `path` (only call while holding the lock).
pub fn remove_stale(path: &Path) {
    if let Ok(c) = CString::new(path.as_os_str().as_bytes()) {
        // SAFETY: unlink with a valid NUL-terminated path; failure (absent file) is fine.
        unsafe { libc::unlink(c.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hide_the_token_and_differ_per_bot() {
        let dir = tempfile::tempdir().unwrap();
        let token = "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ";
        let a = Place::in_dir(dir.path().join("rt"), "tg", "https://x", token).unwrap();
        let b = Place::in_dir(dir.path().join("rt"), "tg", "https://y", token).unwrap();
        let c = Place::in_dir(dir.path().join("rt"), "dc", "https://x", token).unwrap();
        assert_ne!(a.stem, b.stem);
        assert_ne!(a.stem, c.stem);
        assert!(!a.socket().to_string_lossy().contains("ABCdef"));
        assert!(
            a.stem.starts_with("tg-") && a.stem.ends_with("-v1"),
            "{}",
            a.stem
        );
        let mode = std::fs::metadata(dir.path().join("rt")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn a_loose_directory_of_ours_is_tightened_and_a_symlink_refused() {
        let dir = tempfile::tempdir().unwrap();
        let loose = dir.path().join("loose");
        std::fs::create_dir(&loose).unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o755)).unwrap();
        Place::in_dir(loose.clone(), "tg", "b", "t").unwrap();
        assert_eq!(std::fs::metadata(&loose).unwrap().mode() & 0o777, 0o700);

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&loose, &link).unwrap();
        assert!(Place::in_dir(link, "tg", "b", "t").is_err());
    }

    #[test]
    fn the_lock_is_exclusive_and_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = try_lock(&path).unwrap().expect("free");
        assert!(
            try_lock(&path).unwrap().is_none(),
            "second open file is refused"
        );
        let pid = std::fs::read_to_string(&path).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        drop(held);
        assert!(try_lock(&path).unwrap().is_some());
        assert!(alive(std::process::id()));
    }
}
