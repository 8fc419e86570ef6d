//! [`IdempotencyStore`] on the `idempotency_keys` table, keyed by `(account_id, route, key)`.
//! Answers are inserted only by [`insert_answer`], inside the transaction of the change they
//! answer ([`super::record_change`]); the primary key turns a second answer for one key into a
//! unique violation, which rolls that change back.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::idempotency::{
    IdempotencyConflict, IdempotencyKey, IdempotencyStore, IdempotentAnswer, StoredAnswer,
};
use yiwang_domain::store::RepoError;

use super::schema::idempotency_keys as k;
use super::{corrupt, execute_on, to_naive, unexpected, Database, DbConnection, TxError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = k)]
struct KeyRow {
    request_hash: String,
    status: i32,
    body: Option<String>,
}

/// Stores `answer` with `conn`, inside the transaction of the change it answers.
pub(crate) fn insert_answer(
    conn: &mut DbConnection,
    answer: &IdempotentAnswer,
) -> Result<(), TxError> {
    let insert = diesel::insert_into(k::table).values((
        k::account_id.eq(answer.key.account.to_string()),
        k::route.eq(&answer.key.route),
        k::key.eq(&answer.key.key),
        k::request_hash.eq(&answer.request_hash),
        k::status.eq(i32::from(answer.status)),
        k::body.eq(Some(&answer.body)),
        k::created_at.eq::<NaiveDateTime>(to_naive(answer.at)),
    ));
    let written = execute_on!(conn, insert.on_conflict_do_nothing())?;
    if written == 0 {
        return Err(TxError::refused(IdempotencyConflict::Answered));
    }
    Ok(())
}

#[async_trait]
impl IdempotencyStore for Database {
    async fn find(&self, key: &IdempotencyKey) -> Result<Option<StoredAnswer>, RepoError> {
        let (account, route, key) = (key.account.to_string(), key.route.clone(), key.key.clone());
        self.run(move |c| {
            let row: Option<KeyRow> = k::table
                .find((&account, &route, &key))
                .select(KeyRow::as_select())
                .first(c)
                .optional()
                .map_err(unexpected)?;
            row.map(|row| {
                let status = u16::try_from(row.status)
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| corrupt("idempotency status", &row.status.to_string()))?;
                Ok(StoredAnswer {
                    request_hash: row.request_hash,
                    status,
                    body: row.body.unwrap_or_default(),
                })
            })
            .transpose()
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

    use chrono::TimeZone;
    use diesel::Connection as _;
    use serde_json::json;
    use yiwang_domain::account::AccountId;
    use yiwang_domain::audit::{Actor, AuditEntry, Change};

    use super::*;
    use crate::db::schema::audit_log;
    use crate::db::test_env::backends;
    use crate::db::{record_change, TxError};

    fn at(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 1, 8, min, 0).unwrap()
    }

    fn key(account: AccountId, route: &str, key: &str) -> IdempotencyKey {
        IdempotencyKey {
            account,
            route: route.to_owned(),
            key: key.to_owned(),
        }
    }

    fn answer(key: &IdempotencyKey, hash: &str, body: &str, min: u32) -> IdempotentAnswer {
        IdempotentAnswer {
            key: key.clone(),
            request_hash: hash.to_owned(),
            status: 201,
            body: body.to_owned(),
            at: at(min),
        }
    }

    /// A change carrying `answer`, recorded in its own transaction; `then_fail` rolls the
    /// transaction back after the answer was written.
    async fn act(
        db: &Database,
        answer: IdempotentAnswer,
        then_fail: bool,
    ) -> Result<(), RepoError> {
        let change = Change {
            audit: AuditEntry {
                actor: Actor::System,
                action: "idempotency.test".into(),
                record_type: "claim".into(),
                record_id: "-".into(),
                ip: None,
                request_id: None,
                detail: json!({}),
                at: answer.at,
            },
            event: None,
            answer: Some(answer),
        };
        db.run(move |c| {
            c.transaction(|c| {
                record_change(c, &change)?;
                if then_fail {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn audit_rows(db: &Database) -> i64 {
        db.run(|c| audit_log::table.count().get_result(c).map_err(unexpected))
            .await
            .unwrap()
    }

    const CREATE: &str = "POST /api/v1/mutual-aid/claims";

    #[tokio::test]
    async fn an_answer_is_stored_with_its_change_or_not_at_all() {
        for env in backends() {
            let db = &env.db;
            let k1 = key(AccountId::new(), CREATE, "k-1");
            assert_eq!(db.find(&k1).await.unwrap(), None);
            // Rolled back: neither the change nor the answer.
            act(db, answer(&k1, "h1", "lost", 0), true)
                .await
                .unwrap_err();
            assert_eq!(
                (db.find(&k1).await.unwrap(), audit_rows(db).await),
                (None, 0)
            );

            act(db, answer(&k1, "h1", r#"{"id":"c1"}"#, 0), false)
                .await
                .unwrap();
            let stored = StoredAnswer {
                request_hash: "h1".into(),
                status: 201,
                body: r#"{"id":"c1"}"#.into(),
            };
            assert_eq!(db.find(&k1).await.unwrap(), Some(stored.clone()));
            // A second answer for the key fails its whole change; the first stays.
            let again = act(db, answer(&k1, "h2", "second", 1), false).await;
            assert!(
                matches!(&again, Err(RepoError::Refused(r)) if r.is(&IdempotencyConflict::Answered)),
                "{again:?}"
            );
            assert_eq!(audit_rows(db).await, 1);
            assert_eq!(db.find(&k1).await.unwrap(), Some(stored));
        }
    }

    #[tokio::test]
    async fn of_two_answers_at_once_exactly_one_is_stored() {
        for env in backends() {
            let db = &env.db;
            let k1 = key(AccountId::new(), CREATE, "race");
            let (x, y) = tokio::join!(
                act(db, answer(&k1, "h", "x", 0), false),
                act(db, answer(&k1, "h", "y", 0), false)
            );
            assert_eq!(x.is_ok() as u8 + y.is_ok() as u8, 1, "{x:?} {y:?}");
            let body = db.find(&k1).await.unwrap().unwrap().body;
            assert_eq!(body, if x.is_ok() { "x" } else { "y" });
            assert_eq!(audit_rows(db).await, 1);
        }
    }

    #[tokio::test]
    async fn accounts_and_routes_do_not_collide() {
        for env in backends() {
            let db = &env.db;
            let (a, b) = (AccountId::new(), AccountId::new());
            let submit = "POST /api/v1/mutual-aid/claims/0190-x/submit";
            let keys = [
                key(a, CREATE, "same"),
                key(b, CREATE, "same"),
                key(a, submit, "same"),
            ];
            for (i, k) in keys.iter().enumerate() {
                act(db, answer(k, "h", &i.to_string(), 0), false)
                    .await
                    .unwrap();
            }
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(db.find(k).await.unwrap().unwrap().body, i.to_string());
            }
        }
    }

    #[tokio::test]
    async fn purge_removes_old_rows_only() {
        for env in backends() {
            let db = &env.db;
            let a = AccountId::new();
            let (old, new) = (key(a, CREATE, "old"), key(a, CREATE, "new"));
            act(db, answer(&old, "h", "x", 0), false).await.unwrap();
            act(db, answer(&new, "h", "y", 10), false).await.unwrap();
            assert_eq!(db.purge(at(0)).await.unwrap(), 0);
            assert_eq!(db.purge(at(5)).await.unwrap(), 1);
            assert_eq!(db.purge(at(5)).await.unwrap(), 0);
            assert_eq!(db.find(&old).await.unwrap(), None);
            assert_eq!(db.find(&new).await.unwrap().unwrap().body, "y");
        }
    }
}
