//! Secret files the embedded default makes for itself (the token signing key, the
//! personal-data keyring): read when present, else created once, owner-only (mode 0600 on
//! unix) and never overwritten.

use std::io;
use std::path::{Path, PathBuf};

/// A key file that could not be read or written; names the file, never its content.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct FileError {
    action: &'static str,
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl FileError {
    fn at<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> Self + 'p {
        move |source| Self {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// The text of the file at `path`.
pub fn read(path: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(FileError::at("read", path))
}

/// Creates the file at `path` (and its folder) holding `content`, readable by the owner only.
/// Refuses to replace a file that exists.
pub fn create_private(path: &Path, content: &str) -> Result<(), FileError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(FileError::at("create", dir))?;
    }
    write_new(path, content).map_err(FileError::at("write", path))
}

#[cfg(unix)]
fn write_new(path: &Path, content: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_new(path: &Path, content: &str) -> io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(content.as_bytes())
}
