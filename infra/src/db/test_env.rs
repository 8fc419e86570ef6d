//! Test databases: a fresh SQLite file and a fresh PostgreSQL database per test, so every
//! repository test runs on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::{Connection as _, RunQueryDsl as _};

use super::Database;

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A PostgreSQL database of one test, dropped (with its connections) at the end.
pub(crate) struct PgDatabase {
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = diesel::PgConnection::establish(PG_ADMIN) {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = diesel::sql_query(drop).execute(&mut admin);
        }
    }
}

/// One backend under test. Fields drop in order: the pool before its database.
pub(crate) struct Env {
    pub(crate) db: Database,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

pub(crate) fn sqlite() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    Env {
        db: Database::connect(&url, 4).unwrap(),
        _dir: Some(dir),
        _pg: None,
    }
}

pub(crate) fn postgres() -> Env {
    let name = format!("yiwang_u_{}", uuid::Uuid::new_v4().simple());
    let mut admin = diesel::PgConnection::establish(PG_ADMIN).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let guard = PgDatabase { name };
    let url = format!("postgres://postgres@127.0.0.1:5432/{}", guard.name);
    Env {
        db: Database::connect(&url, 4).unwrap(),
        _dir: None,
        _pg: Some(guard),
    }
}

/// SQLite, then PostgreSQL.
pub(crate) fn backends() -> Vec<Env> {
    vec![sqlite(), postgres()]
}
