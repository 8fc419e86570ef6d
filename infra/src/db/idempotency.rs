//! [`IdempotencyStore`] on the `idempotency_keys` table.
//!
//! Every step is one statement, settled by the primary key `(account_id, route, key)`: the
//! first request's row goes in with `INSERT … ON CONFLICT DO NOTHING` (status 0 while it runs),
//! so of two requests at once exactly one inserts; an abandoned row is taken over with
//! `UPDATE … WHERE status = 0 AND created_at = <what was read>`, so of two retries at once
//! exactly one changes it. No transaction is held between the steps.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::idempotency::{is_abandoned, Begin, IdempotencyKey, IdempotencyStore};
use yiwang_domain::repo::RepoError;

use super::schema::idempotency_keys as k;
use super::{corrupt, from_naive, to_naive, unexpected, Database, DbConnection};

/// Status of a row whose first request is still running.
const RUNNING: i32 = 0;

/// How often `begin` looks again when the row it found changed under it (released, or taken
/// over by another retry) before it answers [`Begin::InProgress`].
const ATTEMPTS: usize = 3;

#[derive(Insertable)]
#[diesel(table_name = k)]
struct NewKey<'a> {
    account_id: &'a str,
    route: &'a str,
    key: &'a str,
    request_hash: &'a str,
    status: i32,
    body: Option<&'a str>,
    created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = k)]
struct KeyRow {
    request_hash: String,
    status: i32,
    body: Option<String>,
    created_at: NaiveDateTime,
}

/// The primary key as stored.
struct Pk {
    account: String,
    route: String,
    key: String,
}

impl Pk {
    fn of(key: &IdempotencyKey) -> Pk {
        Pk {
            account: key.account.to_string(),
            route: key.route.clone(),
            key: key.key.clone(),
        }
    }
}

/// Inserts the row unless one exists; returns the rows written (0 or 1). `ON CONFLICT DO
/// NOTHING` is not part of the multi-backend DSL, so it runs on the concrete connection.
fn insert_running(c: &mut DbConnection, row: &NewKey<'_>) -> QueryResult<usize> {
    let query = diesel::insert_into(k::table)
        .values(row)
        .on_conflict_do_nothing();
    match c {
        DbConnection::Pg(pg) => query.execute(pg),
        DbConnection::Sqlite(lite) => query.execute(lite),
    }
}

fn begin_on(
    c: &mut DbConnection,
    pk: &Pk,
    request_hash: &str,
    now: NaiveDateTime,
) -> Result<Begin, RepoError> {
    let new = NewKey {
        account_id: &pk.account,
        route: &pk.route,
        key: &pk.key,
        request_hash,
        status: RUNNING,
        body: None,
        created_at: now,
    };
    for _ in 0..ATTEMPTS {
        if insert_running(c, &new).map_err(unexpected)? == 1 {
            return Ok(Begin::Started);
        }
        let found: Option<KeyRow> = k::table
            .find((&pk.account, &pk.route, &pk.key))
            .select(KeyRow::as_select())
            .first(c)
            .optional()
            .map_err(unexpected)?;
        // Released between the insert and the read: try the insert again.
        let Some(found) = found else { continue };
        if found.request_hash != request_hash {
            return Ok(Begin::Mismatch);
        }
        if found.status != RUNNING {
            let status = u16::try_from(found.status)
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| corrupt("idempotency status", &found.status.to_string()))?;
            return Ok(Begin::Replay {
                status,
                body: found.body.unwrap_or_default(),
            });
        }
        if !is_abandoned(from_naive(found.created_at), from_naive(now)) {
            return Ok(Begin::InProgress);
        }
        let taken = diesel::update(
            k::table
                .find((&pk.account, &pk.route, &pk.key))
                .filter(k::status.eq(RUNNING))
                .filter(k::created_at.eq(found.created_at)),
        )
        .set(k::created_at.eq(now))
        .execute(c)
        .map_err(unexpected)?;
        if taken == 1 {
            return Ok(Begin::Started);
        }
        // Another retry took it over, completed or released it first: look again.
    }
    Ok(Begin::InProgress)
}

#[async_trait]
impl IdempotencyStore for Database {
    async fn begin(
        &self,
        key: &IdempotencyKey,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Begin, RepoError> {
        let pk = Pk::of(key);
        let hash = request_hash.to_owned();
        let now = to_naive(now);
        self.run(move |c| begin_on(c, &pk, &hash, now)).await
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        status: u16,
        body: &str,
    ) -> Result<(), RepoError> {
        if status == 0 {
            return Err(RepoError::Unexpected(
                "idempotency: status 0 marks a running request, not an answer".into(),
            ));
        }
        let pk = Pk::of(key);
        let body = body.to_owned();
        self.run(move |c| {
            let n = diesel::update(k::table.find((&pk.account, &pk.route, &pk.key)))
                .set((k::status.eq(i32::from(status)), k::body.eq(Some(body))))
                .execute(c)
                .map_err(unexpected)?;
            if n == 0 {
                return Err(RepoError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn release(&self, key: &IdempotencyKey) -> Result<(), RepoError> {
        let pk = Pk::of(key);
        self.run(move |c| {
            diesel::delete(
                k::table
                    .find((&pk.account, &pk.route, &pk.key))
                    .filter(k::status.eq(RUNNING)),
            )
            .execute(c)
            .map(|_| ())
            .map_err(unexpected)
        })
        .await
    }

    async fn purge(&self, older_than: DateTime<Utc>) -> Result<u64, RepoError> {
        let cutoff = to_naive(older_than);
        self.run(move |c| {
            diesel::delete(k::table.filter(k::created_at.lt(cutoff)))
                .execute(c)
                .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
                .map_err(unexpected)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::{TimeDelta, TimeZone};
    use yiwang_domain::account::AccountId;

    use super::*;
    use crate::db::test_env::backends;

    fn at(min: u32, sec: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 1, 8, min, sec).unwrap()
    }

    fn key(account: AccountId, route: &str, key: &str) -> IdempotencyKey {
        IdempotencyKey {
            account,
            route: route.to_owned(),
            key: key.to_owned(),
        }
    }

    const CREATE: &str = "POST /api/v1/mutual-aid/claims";

    #[tokio::test]
    async fn a_retry_waits_then_replays_the_first_answer() {
        for env in backends() {
            let db = &env.db;
            let k1 = key(AccountId::new(), CREATE, "k-1");
            assert_eq!(db.begin(&k1, "h1", at(0, 0)).await.unwrap(), Begin::Started);
            assert_eq!(
                db.begin(&k1, "h1", at(0, 10)).await.unwrap(),
                Begin::InProgress
            );
            assert_eq!(
                db.begin(&k1, "h2", at(0, 10)).await.unwrap(),
                Begin::Mismatch
            );
            db.complete(&k1, 201, r#"{"id":"c1"}"#).await.unwrap();
            let replay = Begin::Replay {
                status: 201,
                body: r#"{"id":"c1"}"#.to_owned(),
            };
            assert_eq!(db.begin(&k1, "h1", at(0, 20)).await.unwrap(), replay);
            // Long after, still the same answer (until purged).
            assert_eq!(db.begin(&k1, "h1", at(30, 0)).await.unwrap(), replay);
            assert_eq!(
                db.begin(&k1, "h2", at(0, 20)).await.unwrap(),
                Begin::Mismatch
            );
            // A completed answer is not released.
            db.release(&k1).await.unwrap();
            assert_eq!(db.begin(&k1, "h1", at(0, 30)).await.unwrap(), replay);
            // Completing a key that was never begun.
            let none = key(AccountId::new(), CREATE, "nope");
            assert!(matches!(
                db.complete(&none, 200, "").await,
                Err(RepoError::NotFound)
            ));
            assert!(db.complete(&k1, 0, "").await.is_err());
        }
    }

    #[tokio::test]
    async fn a_released_key_starts_again() {
        for env in backends() {
            let db = &env.db;
            let k1 = key(AccountId::new(), CREATE, "k-1");
            assert_eq!(db.begin(&k1, "h1", at(0, 0)).await.unwrap(), Begin::Started);
            db.release(&k1).await.unwrap();
            // Released: even another body may use the key now.
            assert_eq!(db.begin(&k1, "h2", at(0, 1)).await.unwrap(), Begin::Started);
            assert_eq!(
                db.begin(&k1, "h2", at(0, 2)).await.unwrap(),
                Begin::InProgress
            );
            // Releasing a key without a row is fine.
            db.release(&key(AccountId::new(), CREATE, "x"))
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn an_abandoned_request_is_taken_over_once() {
        for env in backends() {
            let db = &env.db;
            let k1 = key(AccountId::new(), CREATE, "k-1");
            let start = Utc::now() - TimeDelta::minutes(2);
            assert_eq!(db.begin(&k1, "h1", start).await.unwrap(), Begin::Started);
            let now = Utc::now();
            // A different body is still refused.
            assert_eq!(db.begin(&k1, "h2", now).await.unwrap(), Begin::Mismatch);
            assert_eq!(db.begin(&k1, "h1", now).await.unwrap(), Begin::Started);
            // The take-over restarted the clock: the next retry waits.
            assert_eq!(
                db.begin(&k1, "h1", now + TimeDelta::seconds(1))
                    .await
                    .unwrap(),
                Begin::InProgress
            );
            // 59 s is not yet abandoned, 60 s is.
            assert_eq!(
                db.begin(&k1, "h1", now + TimeDelta::seconds(59))
                    .await
                    .unwrap(),
                Begin::InProgress
            );
            assert_eq!(
                db.begin(&k1, "h1", now + TimeDelta::seconds(60))
                    .await
                    .unwrap(),
                Begin::Started
            );
            db.complete(&k1, 200, "ok").await.unwrap();
            assert_eq!(
                db.begin(&k1, "h1", now + TimeDelta::minutes(10))
                    .await
                    .unwrap(),
                Begin::Replay {
                    status: 200,
                    body: "ok".into()
                }
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn of_two_requests_at_once_exactly_one_starts() {
        for env in backends() {
            let account = AccountId::new();
            for round in 0..10 {
                let k1 = key(account, CREATE, &format!("race-{round}"));
                let now = Utc::now();
                let tasks: Vec<_> = (0..2)
                    .map(|_| {
                        let (db, k1) = (env.db.clone(), k1.clone());
                        tokio::spawn(async move { db.begin(&k1, "h", now).await.unwrap() })
                    })
                    .collect();
                let mut got = Vec::new();
                for t in tasks {
                    got.push(t.await.unwrap());
                }
                got.sort_by_key(|b| matches!(b, Begin::InProgress));
                assert_eq!(got, vec![Begin::Started, Begin::InProgress], "{round}");
            }
            // Two retries of an abandoned request at once: exactly one takes it over.
            for round in 0..10 {
                let k1 = key(account, CREATE, &format!("stale-{round}"));
                let old = Utc::now() - TimeDelta::minutes(2);
                assert_eq!(env.db.begin(&k1, "h", old).await.unwrap(), Begin::Started);
                let now = Utc::now();
                let tasks: Vec<_> = (0..2)
                    .map(|_| {
                        let (db, k1) = (env.db.clone(), k1.clone());
                        tokio::spawn(async move { db.begin(&k1, "h", now).await.unwrap() })
                    })
                    .collect();
                let mut got = Vec::new();
                for t in tasks {
                    got.push(t.await.unwrap());
                }
                got.sort_by_key(|b| matches!(b, Begin::InProgress));
                assert_eq!(got, vec![Begin::Started, Begin::InProgress], "{round}");
            }
        }
    }

    #[tokio::test]
    async fn accounts_and_routes_do_not_collide() {
        for env in backends() {
            let db = &env.db;
            let (a, b) = (AccountId::new(), AccountId::new());
            let submit = "POST /api/v1/mutual-aid/claims/0190-x/submit";
            let first = key(a, CREATE, "same");
            assert_eq!(
                db.begin(&first, "h1", at(0, 0)).await.unwrap(),
                Begin::Started
            );
            db.complete(&first, 201, "a").await.unwrap();
            for other in [key(b, CREATE, "same"), key(a, submit, "same")] {
                assert_eq!(
                    db.begin(&other, "h2", at(0, 1)).await.unwrap(),
                    Begin::Started
                );
                db.complete(&other, 200, "other").await.unwrap();
            }
            assert_eq!(
                db.begin(&first, "h1", at(0, 2)).await.unwrap(),
                Begin::Replay {
                    status: 201,
                    body: "a".into()
                }
            );
            db.release(&key(b, CREATE, "same")).await.unwrap();
            assert_eq!(
                db.begin(&key(a, submit, "same"), "h2", at(0, 3))
                    .await
                    .unwrap(),
                Begin::Replay {
                    status: 200,
                    body: "other".into()
                }
            );
        }
    }

    #[tokio::test]
    async fn purge_removes_old_rows_only() {
        for env in backends() {
            let db = &env.db;
            let a = AccountId::new();
            let (old_done, old_running, new) = (
                key(a, CREATE, "old-done"),
                key(a, CREATE, "old-running"),
                key(a, CREATE, "new"),
            );
            db.begin(&old_done, "h", at(0, 0)).await.unwrap();
            db.complete(&old_done, 201, "x").await.unwrap();
            db.begin(&old_running, "h", at(1, 0)).await.unwrap();
            db.begin(&new, "h", at(10, 0)).await.unwrap();
            db.complete(&new, 201, "y").await.unwrap();

            assert_eq!(db.purge(at(0, 0)).await.unwrap(), 0);
            assert_eq!(db.purge(at(5, 0)).await.unwrap(), 2);
            assert_eq!(db.purge(at(5, 0)).await.unwrap(), 0);
            assert_eq!(
                db.begin(&old_done, "other", at(11, 0)).await.unwrap(),
                Begin::Started
            );
            assert_eq!(
                db.begin(&new, "h", at(11, 0)).await.unwrap(),
                Begin::Replay {
                    status: 201,
                    body: "y".into()
                }
            );
        }
    }
}
