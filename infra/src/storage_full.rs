//! Telling "the disk is full" from other storage failures (issue 18, item 20), so a write that
//! found no room is answered as such ([`RepoError::StorageFull`]) and readiness can say so.

use std::error::Error;
use std::io::ErrorKind;

use diesel::result::Error as DieselError;
use yiwang_domain::store::RepoError;

/// SQLite's text for `SQLITE_FULL` (its messages are not translated).
const SQLITE_FULL: &str = "database or disk is full";
/// The operating system's text for `ENOSPC`, which PostgreSQL puts in every "could not
/// extend/write file" error (C locale, as the official images run).
const ENOSPC_TEXT: &str = "No space left on device";
/// PostgreSQL's hint on `53100 disk_full` when a table cannot grow.
const PG_DISK_FULL_HINT: &str = "Check free disk space";

/// Whether `e`, or anything it was caused by, says the storage is full: an I/O error of kind
/// `StorageFull` or `QuotaExceeded` (`ENOSPC`, `EDQUOT`), or a database error with SQLite's or
/// PostgreSQL's words for it.
pub fn is_storage_full(e: &(dyn Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded) {
                return true;
            }
        }
        if let Some(DieselError::DatabaseError(_, info)) = err.downcast_ref::<DieselError>() {
            let hint = info.hint().unwrap_or_default();
            if info.message().contains(SQLITE_FULL)
                || info.message().contains(ENOSPC_TEXT)
                || hint.starts_with(PG_DISK_FULL_HINT)
            {
                return true;
            }
        }
        cause = err.source();
    }
    false
}

/// `Unexpected(cause)` as `StorageFull(cause)` when the cause says the storage is full; any
/// other error as it is.
pub fn classify(e: RepoError) -> RepoError {
    match e {
        RepoError::Unexpected(cause) if is_storage_full(cause.as_ref()) => {
            RepoError::StorageFull(cause)
        }
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use diesel::connection::SimpleConnection as _;
    use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};

    use super::*;

    /// A real `SQLITE_FULL`: the file may not grow past the pages it has.
    #[test]
    fn sqlite_full_is_storage_full() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("full.db");
        let mut c = SqliteConnection::establish(url.to_str().unwrap()).unwrap();
        c.batch_execute("CREATE TABLE t (b BLOB); INSERT INTO t VALUES (zeroblob(10));")
            .unwrap();
        let pages: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT page_count FROM pragma_page_count())",
        ))
        .get_result(&mut c)
        .unwrap();
        c.batch_execute(&format!("PRAGMA max_page_count = {pages}"))
            .unwrap();
        let e = diesel::sql_query("INSERT INTO t VALUES (zeroblob(100000))")
            .execute(&mut c)
            .unwrap_err();
        assert!(is_storage_full(&e), "{e}");
        let other = diesel::sql_query("INSERT INTO missing VALUES (1)")
            .execute(&mut c)
            .unwrap_err();
        assert!(!is_storage_full(&other), "{other}");
    }

    /// `ENOSPC` from a file write, however deep in the chain (the document folder's errors
    /// come wrapped by `object_store`).
    #[test]
    fn enospc_is_storage_full_through_its_wrappers() {
        let enospc = std::io::Error::from_raw_os_error(28);
        let wrapped = object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(enospc),
        };
        assert!(is_storage_full(&wrapped));
        assert!(matches!(
            classify(RepoError::Unexpected(Box::new(wrapped))),
            RepoError::StorageFull(_)
        ));
        let denied = std::io::Error::from(ErrorKind::PermissionDenied);
        assert!(!is_storage_full(&denied));
    }
}
