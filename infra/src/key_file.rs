//! Secret files the embedded default makes for itself (the token signing key, the
//! personal-data keyring): read when present, else created once, owner-only (mode 0600 on
//! unix) and never overwritten; and the owner-only folders and files that hold personal data
//! (the data folder, the SQLite database: 0700 and 0600).

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
        create_private_dir(dir).map_err(FileError::at("create", dir))?;
    }
    write_new(path, content).map_err(FileError::at("write", path))
}

/// Creates `dir` and any missing parent, each readable by the owner only (0700 on unix). A
/// folder that exists is left as it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates an empty file at `path`, readable by the owner only, unless one exists — so that
/// a program that then opens it (SQLite) does not create it world-readable.
pub fn create_private_empty(path: &Path) -> io::Result<()> {
    match write_new(path, "") {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
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

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_made_owner_only_and_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data/deeper");
        let file = dir.join("secret.keys");
        create_private(&file, "keys=…").unwrap();
        assert_eq!(mode(&root.path().join("data")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert!(create_private(&file, "other").is_err(), "never overwritten");
        let empty = dir.join("yiwang.db");
        create_private_empty(&empty).unwrap();
        create_private_empty(&empty).unwrap();
        assert_eq!(mode(&empty), 0o600);
        assert_eq!(read(&file).unwrap(), "keys=…");
    }
}
