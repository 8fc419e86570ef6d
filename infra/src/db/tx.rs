//! The one shape of a step on a stored record — hold the row, decide, write, record the
//! change — and the one place the two dialects differ in it (ARCHITECTURE.md item 17): on
//! PostgreSQL the row is held with `SELECT … FOR UPDATE`; on SQLite the transaction takes the
//! database's write lock before its first read. Storage errors are classified here too
//! (item 4): only a missing row becomes `NotFound`, and a unique violation is a refusal only
//! where the caller names the rule it keeps.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use yiwang_domain::audit::Change;
use yiwang_domain::refusal::Refusal;
use yiwang_domain::store::RepoError;

use super::audit::record_changes;
use super::DbConnection;

/// Classifies a diesel error where no rule was expected to be broken (ARCHITECTURE.md item
/// 4): a missing row is `NotFound`, anything else — a unique violation included —
/// `Unexpected` with its cause.
pub(crate) fn unexpected(e: DieselError) -> RepoError {
    match e {
        DieselError::NotFound => RepoError::NotFound,
        other => RepoError::Unexpected(Box::new(other)),
    }
}

/// As [`unexpected`], but a unique violation is the rule `reason` names, refused.
fn unique_as<R>(reason: R) -> impl Fn(DieselError) -> RepoError
where
    R: Into<Refusal> + Copy,
{
    move |e| match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            RepoError::Refused(reason.into())
        }
        other => unexpected(other),
    }
}

/// Makes the current transaction a writer from its first statement. A SQLite transaction
/// starts as a reader; one that reads and then writes, while another connection committed in
/// between, fails at once with "database is locked" (`SQLITE_BUSY_SNAPSHOT`) instead of
/// waiting out `busy_timeout`. A write that changes nothing takes the write lock up front —
/// waiting for it like any write — so every later read sees the latest commit. PostgreSQL needs
/// nothing: row locks and `UPDATE … WHERE` re-checks serialise its writers.
pub(crate) fn claim_writer(c: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Sqlite(_) = c {
        diesel::sql_query("UPDATE organisations SET member_seq = member_seq WHERE 0 = 1")
            .execute(c)?;
    }
    Ok(())
}

/// An error inside a transaction: diesel's, or the store's own answer decided mid-way (a
/// refusal, a missing row, a stored value that does not read back).
pub(crate) enum TxError {
    Db(DieselError),
    Repo(RepoError),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        TxError::Db(e)
    }
}

impl From<RepoError> for TxError {
    fn from(e: RepoError) -> Self {
        TxError::Repo(e)
    }
}

impl TxError {
    /// The rules said no: the transaction rolls back and the port answers `reason`.
    pub(crate) fn refused(reason: impl Into<Refusal>) -> Self {
        TxError::Repo(RepoError::Refused(reason.into()))
    }

    /// The error as the port reports it, classified as [`unexpected`] does.
    pub(crate) fn into_repo(self) -> RepoError {
        match self {
            TxError::Repo(e) => e,
            TxError::Db(e) => unexpected(e),
        }
    }

    /// As [`TxError::into_repo`], but a unique violation is the rule `reason` names.
    pub(crate) fn unique_as<R>(self, reason: R) -> RepoError
    where
        R: Into<Refusal> + Copy,
    {
        match self {
            TxError::Repo(e) => e,
            TxError::Db(e) => unique_as(reason)(e),
        }
    }
}

/// The first row of a query, held until the transaction ends: `FOR UPDATE` on PostgreSQL; on
/// SQLite the transaction holds the write lock already ([`claim_writer`]), so a plain read
/// serves. `$query` is written once and evaluated on one backend.
macro_rules! held_first {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg(pg) => $query.for_update().first(pg),
            $crate::db::DbConnection::Sqlite(lite) => $query.first(lite),
        }
    };
}
pub(crate) use held_first;

/// Executes a statement the multi-backend DSL cannot build once — a batch insert, an
/// `ON CONFLICT` clause — on whichever backend `$conn` is; `$query` is written once and
/// compiled for both.
macro_rules! execute_on {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg(pg) => $query.execute(pg),
            $crate::db::DbConnection::Sqlite(lite) => $query.execute(lite),
        }
    };
}
pub(crate) use execute_on;

/// Holds `name` until the transaction ends, for a record that has no row yet (the counter of
/// one employer's consultations): PostgreSQL's transaction-scoped advisory lock; on SQLite the
/// transaction's write lock ([`claim_writer`]) holds everything already.
pub(crate) fn hold_name(c: &mut DbConnection, name: &str) -> QueryResult<()> {
    if let DbConnection::Pg(pg) = c {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(name)
            .execute(pg)?;
    }
    Ok(())
}

/// Runs one step on a stored record in one transaction: `hold` reads the record (holding its
/// row, see [`held_first`]) and whatever the decision needs, `decide` judges it — a refusal
/// rolls back and is the answer — and `write` stores the decision, returning the answer and
/// the changes (audit rows, outbox events, an idempotent answer) that are recorded with it.
/// Two callers on one record run one after the other; the second is judged on what the first
/// wrote.
pub(crate) fn decide_held<H, D, T>(
    c: &mut DbConnection,
    hold: impl FnOnce(&mut DbConnection) -> Result<H, TxError>,
    decide: impl FnOnce(&H) -> Result<D, Refusal>,
    write: impl FnOnce(&mut DbConnection, H, D) -> Result<(T, Vec<Change>), TxError>,
) -> Result<T, TxError> {
    c.transaction(|c| {
        claim_writer(c)?;
        let held = hold(c)?;
        let decided = decide(&held).map_err(TxError::refused)?;
        let (answer, changes) = write(c, held, decided)?;
        record_changes(c, &changes)?;
        Ok(answer)
    })
}
