//! The relational store: one diesel schema on PostgreSQL or SQLite (ARCHITECTURE.md item 8).
//!
//! [`Database::connect`] picks the backend from the URL scheme — `postgres://` or
//! `postgresql://`, `sqlite://<path>` — and refuses anything else; it runs the embedded
//! migrations of that backend before the pool is built. Diesel is synchronous: every query runs
//! on tokio's blocking pool through [`Database::run`], never on an async worker thread.

mod audit;
mod codec;
mod consultations;
mod early_warning;
mod idempotency;
mod legal_aid;
mod mailbox;
mod membership;
mod mutual_aid;
mod notifications;
mod officials;
mod orgs;
mod outbox;
mod page;
mod roster;
pub mod schema;
mod service_points;
#[cfg(test)]
pub(crate) mod test_env;
mod transfers;
mod tx;
mod workers;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use yiwang_domain::store::{RepoError, StoreHealth};

pub(crate) use audit::{record_change, record_changes};
pub(crate) use codec::{corrupt, from_naive, like_contains, to_naive};
pub(crate) use tx::{
    claim_writer, decide_held, execute_on, held_first, hold_name, unexpected, TxError,
};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// A connection to either backend; queries written once against [`schema`] run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL (production shape).
    Pg(diesel::PgConnection),
    /// SQLite (embedded default).
    Sqlite(diesel::SqliteConnection),
}

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://…` or `postgresql://…`
    Postgres,
    /// `sqlite://<path>`
    Sqlite,
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL's scheme is neither PostgreSQL nor SQLite.
    #[error("不支持的数据库地址 `{0}`：只接受 postgres://、postgresql:// 或 sqlite://<文件路径> (unsupported database URL scheme)")]
    UnknownScheme(String),
    /// Opening, migrating or pooling failed.
    #[error("{0}")]
    Failed(String),
}

impl Backend {
    /// Reads the backend from a URL; the error names the scheme that was refused.
    pub fn from_url(url: &str) -> Result<(Backend, String), ConnectError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok((Backend::Postgres, url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(ConnectError::Failed(
                    "sqlite:// 后需要文件路径 (sqlite URL needs a file path)".into(),
                ));
            }
            return Ok((Backend::Sqlite, path.to_owned()));
        }
        let scheme = url.split("://").next().unwrap_or(url);
        Err(ConnectError::UnknownScheme(scheme.to_owned()))
    }
}

/// Opens connections of one backend for the r2d2 pool; SQLite connections get
/// `foreign_keys=ON`, a `busy_timeout` and WAL.
#[derive(Debug)]
struct Manager {
    backend: Backend,
    target: String,
}

impl Manager {
    fn open(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self.backend {
            Backend::Postgres => {
                diesel::PgConnection::establish(&self.target).map(DbConnection::Pg)
            }
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.target)?;
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                )
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// A pooled connection and whether it was found dead.
struct Pooled {
    conn: DbConnection,
    /// Set by [`Database::run`] when a query failed and the connection then failed a ping.
    dead: bool,
}

/// Connections are not pinged when they are handed out (r2d2's `test_on_check_out` would
/// cost a `SELECT 1` round trip before every repository call); a dead one is found when it is
/// used instead: after an unexpected failure [`Database::run`] pings it, and a connection
/// that fails the ping, or is left inside a transaction, is dropped from the pool.
impl r2d2::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        self.open().map(|conn| Pooled { conn, dead: false })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), Self::Error> {
        ping(&mut pooled.conn)
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        use diesel::r2d2::R2D2Connection;
        pooled.dead || pooled.conn.is_broken()
    }
}

fn ping(conn: &mut DbConnection) -> Result<(), diesel::ConnectionError> {
    conn.batch_execute("SELECT 1")
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
}

/// How long a call may take by default: 10 seconds.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// The pooled store. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    health: Arc<Health>,
}

/// How long a call may take before it is answered as [`RepoError::Unavailable`] (the thread
/// it ran on finishes when the database answers), and until when the database is taken as
/// down: calls in that time are refused at once instead of each waiting out the pool.
struct Health {
    deadline: Duration,
    down_until: Mutex<Option<Instant>>,
    /// Set when the database was found down: pooled connections may be dead, so each is
    /// pinged when handed out until one answers.
    suspect: AtomicBool,
    /// Set when a write found the disk full; readiness then writes to learn when it is not.
    full: AtomicBool,
}

/// How long the database is taken as down after a call found it so.
pub const DOWN_FOR: Duration = Duration::from_secs(5);

impl Health {
    fn mark_down(&self) {
        self.suspect.store(true, Ordering::Relaxed);
        if let Ok(mut until) = self.down_until.lock() {
            *until = Some(Instant::now() + DOWN_FOR);
        }
    }

    fn is_down(&self) -> bool {
        self.down_until
            .lock()
            .map(|until| until.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Database {
    /// Opens the store named by `url`, creating a SQLite file's folder, and runs pending
    /// migrations first. `pool_size` connections at most.
    pub fn connect(url: &str, pool_size: u32) -> Result<Database, ConnectError> {
        let (backend, target) = Backend::from_url(url)?;
        if backend == Backend::Sqlite && target != ":memory:" {
            // Personal data lives in the file: owner-only folder (0700) and file (0600), so
            // SQLite's -wal and -shm files, which copy the file's mode, are owner-only too.
            let file = Path::new(&target);
            if let Some(dir) = file.parent() {
                crate::key_file::create_private_dir(dir).map_err(|e| {
                    ConnectError::Failed(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            crate::key_file::create_private_empty(file).map_err(|e| {
                ConnectError::Failed(format!("cannot create {}: {e}", file.display()))
            })?;
        }
        let manager = Manager { backend, target };
        {
            let mut conn = manager
                .open()
                .map_err(|e| ConnectError::Failed(format!("cannot open the database: {e}")))?;
            run_migrations(&mut conn)
                .map_err(|e| ConnectError::Failed(format!("migrations failed: {e}")))?;
        }
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .connection_timeout(Duration::from_secs(5))
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| ConnectError::Failed(format!("cannot build the pool: {e}")))?;
        let health = Arc::new(Health {
            deadline: DEFAULT_DEADLINE,
            down_until: Mutex::new(None),
            suspect: AtomicBool::new(false),
            full: AtomicBool::new(false),
        });
        Ok(Database {
            pool,
            backend,
            health,
        })
    }

    /// The same store with calls bounded by `deadline` instead of [`DEFAULT_DEADLINE`].
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.health = Arc::new(Health {
            deadline: deadline.max(Duration::from_millis(100)),
            down_until: Mutex::new(None),
            suspect: AtomicBool::new(false),
            full: AtomicBool::new(false),
        });
        self
    }

    /// Which backend this is.
    pub fn backend_kind(&self) -> Backend {
        self.backend
    }

    /// Runs `f` with a pooled connection on the blocking thread pool. A failure that says the
    /// disk is full is answered as [`RepoError::StorageFull`] (and readiness told).
    ///
    /// While the database is known to be down ([`DOWN_FOR`] after a call got no connection or
    /// no answer within the deadline) the call is refused at once with
    /// [`RepoError::Unavailable`]; so is one that gets no connection, whose connection dies
    /// under it, or that takes longer than the deadline.
    pub async fn run<T, F>(&self, f: F) -> Result<T, RepoError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, RepoError> + Send + 'static,
    {
        if self.health.is_down() {
            return Err(RepoError::Unavailable(
                "the database was found down just now".into(),
            ));
        }
        let (pool, health) = (self.pool.clone(), Arc::clone(&self.health));
        let call = tokio::task::spawn_blocking(move || {
            let mut pooled = checkout(&pool, &health).inspect_err(|_| health.mark_down())?;
            let result = f(&mut pooled.conn).map_err(crate::storage_full::classify);
            if let Err(RepoError::StorageFull(_)) = &result {
                health.full.store(true, Ordering::Relaxed);
            }
            // A conflict or a missing row is the database answering; only an unexpected
            // failure may be a dead connection. A dead one fails this call (503); then one
            // probe tells a database that is down (no live connection to be had: taken as
            // down) from one that merely closed old connections (a restart, a terminated
            // backend), whose other stale connections the probe clears.
            match result {
                Err(RepoError::Unexpected(cause)) if ping(&mut pooled.conn).is_err() => {
                    pooled.dead = true;
                    drop(pooled);
                    health.suspect.store(true, Ordering::Relaxed);
                    if !probe(&pool) {
                        health.mark_down();
                    }
                    Err(RepoError::Unavailable(cause))
                }
                other => other,
            }
        });
        match tokio::time::timeout(self.health.deadline, call).await {
            Ok(joined) => joined.map_err(|e| RepoError::Unexpected(Box::new(e)))?,
            Err(_) => {
                self.health.mark_down();
                Err(RepoError::Unavailable(
                    format!("no answer within {} ms", self.health.deadline.as_millis()).into(),
                ))
            }
        }
    }
}

/// How long [`probe`] waits for each connection.
const PROBE_WAIT: Duration = Duration::from_millis(300);

/// A connection that answers a ping: takes connections (each waited for as long as `take`
/// waits), drops the dead ones, and hands out the first that answers — or the reason none
/// could be had.
fn live_connection(
    pool: &r2d2::Pool<Manager>,
    take: impl Fn() -> Result<r2d2::PooledConnection<Manager>, r2d2::Error>,
) -> Result<r2d2::PooledConnection<Manager>, RepoError> {
    for _ in 0..=pool.max_size() {
        let mut pooled = take().map_err(|e| RepoError::Unavailable(Box::new(e)))?;
        if ping(&mut pooled.conn).is_ok() {
            return Ok(pooled);
        }
        pooled.dead = true;
    }
    Err(RepoError::Unavailable(
        "every pooled connection is dead".into(),
    ))
}

/// Whether a live connection can be had now ([`live_connection`], waiting [`PROBE_WAIT`] for
/// each).
fn probe(pool: &r2d2::Pool<Manager>) -> bool {
    live_connection(pool, || pool.get_timeout(PROBE_WAIT)).is_ok()
}

/// A connection from the pool; while the database is suspect (it was found down, or a
/// connection died), one that answers a ping ([`live_connection`]), so a recovered database
/// is not met by the stale connections of before.
fn checkout(
    pool: &r2d2::Pool<Manager>,
    health: &Health,
) -> Result<r2d2::PooledConnection<Manager>, RepoError> {
    if !health.suspect.load(Ordering::Relaxed) {
        return pool.get().map_err(|e| RepoError::Unavailable(Box::new(e)));
    }
    let pooled = live_connection(pool, || pool.get())?;
    health.suspect.store(false, Ordering::Relaxed);
    Ok(pooled)
}

/// Runs the pending embedded migrations of the connection's backend.
pub fn run_migrations(
    conn: &mut DbConnection,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match conn {
        DbConnection::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|_| ()),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
    }
}

/// Reverts every applied migration of the connection's backend (used by the migration test).
pub fn revert_all_migrations(
    conn: &mut DbConnection,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match conn {
        DbConnection::Pg(c) => c.revert_all_migrations(PG_MIGRATIONS).map(|_| ()),
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(|_| ()),
    }
}

/// Opens one unpooled connection to `url` (for migration commands and tests).
pub fn connect_once(url: &str) -> Result<DbConnection, ConnectError> {
    let (backend, target) = Backend::from_url(url)?;
    Manager { backend, target }
        .open()
        .map_err(|e| ConnectError::Failed(e.to_string()))
}

/// The SQLite URL of the embedded default under `data_dir`.
pub fn default_sqlite_url(data_dir: &Path) -> String {
    let path: PathBuf = data_dir.join("yiwang.db");
    format!("sqlite://{}", path.display())
}

#[async_trait]
impl StoreHealth for Database {
    async fn ping(&self) -> Result<(), RepoError> {
        self.run(|c| c.batch_execute("SELECT 1").map_err(unexpected))
            .await?;
        if self.health.full.load(Ordering::Relaxed) {
            self.run(|c| {
                use schema::storage_probe::dsl::{id, storage_probe, writes};
                diesel::update(storage_probe.filter(id.eq(1)))
                    .set(writes.eq(writes + 1))
                    .execute(c)
                    .map_err(unexpected)
            })
            .await?;
            self.health.full.store(false, Ordering::Relaxed);
        }
        Ok(())
    }

    fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use diesel::{Connection as _, RunQueryDsl as _};
    use yiwang_domain::store::StoreHealth as _;

    use super::test_env;

    /// Issue 18, item 14: the embedded store's folder and file (and so its -wal and -shm
    /// files) are the owner's alone.
    #[cfg(unix)]
    #[test]
    #[allow(clippy::unwrap_used)]
    fn the_sqlite_file_and_its_folder_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        let file = dir.join("yiwang.db");
        let db = super::Database::connect(&format!("sqlite://{}", file.display()), 1).unwrap();
        drop(db);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
        for extra in ["yiwang.db-wal", "yiwang.db-shm"] {
            let path = dir.join(extra);
            if path.exists() {
                assert_eq!(mode(&path), 0o600, "{extra}");
            }
        }
    }

    /// The server closes every pooled connection (a PostgreSQL restart, an idle timeout on a
    /// proxy): each dead one fails one call and leaves the pool, and then the store answers
    /// again — it does not hand out the dead connections forever. (An SQLite connection is a
    /// file handle in this process; nothing outside can close it.)
    #[tokio::test]
    async fn connections_the_server_closed_leave_the_pool() {
        let env = test_env::postgres();
        env.db.ping().await.unwrap();
        let name: String = env
            .db
            .run(|c| {
                #[derive(diesel::QueryableByName)]
                struct Name {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    name: String,
                }
                diesel::sql_query("SELECT current_database() AS name")
                    .get_result::<Name>(c)
                    .map(|n| n.name)
                    .map_err(super::unexpected)
            })
            .await
            .unwrap();
        let mut admin =
            diesel::PgConnection::establish("postgres://postgres@127.0.0.1:5432/test").unwrap();
        let killed: Vec<bool> = {
            #[derive(diesel::QueryableByName)]
            struct Killed {
                #[diesel(sql_type = diesel::sql_types::Bool)]
                killed: bool,
            }
            diesel::sql_query(
                "SELECT pg_terminate_backend(pid, 5000) AS killed FROM pg_stat_activity \
                 WHERE datname = $1",
            )
            .bind::<diesel::sql_types::Text, _>(&name)
            .load::<Killed>(&mut admin)
            .unwrap()
            .into_iter()
            .map(|k| k.killed)
            .collect()
        };
        assert!(!killed.is_empty() && killed.iter().all(|k| *k));

        let mut outcomes = Vec::new();
        for _ in 0..20 {
            outcomes.push(env.db.ping().await.is_ok());
        }
        let failures = outcomes.iter().filter(|ok| !**ok).count();
        assert!(failures >= 1, "the closed connections were not noticed");
        assert!(
            failures <= killed.len(),
            "{failures} failures for {} closed connections",
            killed.len()
        );
        assert!(outcomes[15..].iter().all(|ok| *ok), "{outcomes:?}");
    }
}
