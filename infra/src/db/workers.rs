//! [`WorkerRepository`] on the shared schema.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::account::{AccountId, Worker};
use yiwang_domain::audit::Change;
use yiwang_domain::repo::{RepoError, WorkerRepository};

use super::schema::workers as w;
use super::{claim_writer, classify, corrupt, from_naive, record_change, to_naive, Database};

type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
);

const COLUMNS: (
    w::id,
    w::openid,
    w::unionid,
    w::phone,
    w::phone_country_code,
    w::created_at,
    w::last_login_at,
) = (
    w::id,
    w::openid,
    w::unionid,
    w::phone,
    w::phone_country_code,
    w::created_at,
    w::last_login_at,
);

fn to_domain(r: Row) -> Result<Worker, RepoError> {
    let (id, openid, unionid, phone, phone_country_code, created_at, last_login_at) = r;
    Ok(Worker {
        id: AccountId::parse(&id).ok_or_else(|| corrupt("worker id", &id))?,
        openid,
        unionid,
        phone,
        phone_country_code,
        created_at: from_naive(created_at),
        last_login_at: from_naive(last_login_at),
    })
}

fn find(c: &mut super::DbConnection, openid: &str) -> QueryResult<Option<Row>> {
    w::table
        .select(COLUMNS)
        .filter(w::openid.eq(openid))
        .first(c)
        .optional()
}

#[async_trait]
impl WorkerRepository for Database {
    async fn login_by_openid(
        &self,
        openid: &str,
        unionid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Worker, bool), RepoError> {
        let openid = openid.to_owned();
        let unionid = unionid.map(str::to_owned);
        self.run(move |c| {
            let naive = to_naive(now);
            let attempt = |c: &mut super::DbConnection| {
                c.transaction(|c| {
                    claim_writer(c)?;
                    match find(c, &openid)? {
                        Some(row) => {
                            let target = || w::table.find(row.0.clone());
                            diesel::update(target())
                                .set((w::last_login_at.eq(naive), w::updated_at.eq(naive)))
                                .execute(c)?;
                            if unionid.is_some() && row.2 != unionid {
                                diesel::update(target())
                                    .set(w::unionid.eq(&unionid))
                                    .execute(c)?;
                            }
                            target().select(COLUMNS).first::<Row>(c).map(|r| (r, false))
                        }
                        None => {
                            let id = AccountId::new().to_string();
                            diesel::insert_into(w::table)
                                .values((
                                    w::id.eq(&id),
                                    w::openid.eq(&openid),
                                    w::unionid.eq(&unionid),
                                    w::created_at.eq(naive),
                                    w::updated_at.eq(naive),
                                    w::last_login_at.eq(naive),
                                ))
                                .execute(c)?;
                            w::table
                                .find(&id)
                                .select(COLUMNS)
                                .first::<Row>(c)
                                .map(|r| (r, true))
                        }
                    }
                })
            };
            // Two first logins of one openid at once: the loser of the insert race finds the
            // winner's row on its second try.
            let result = match attempt(c) {
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => attempt(c),
                other => other,
            };
            let (row, created) = result.map_err(classify("openid"))?;
            Ok((to_domain(row)?, created))
        })
        .await
    }

    async fn get(&self, id: AccountId) -> Result<Worker, RepoError> {
        self.run(move |c| {
            let row: Row = w::table
                .select(COLUMNS)
                .find(id.to_string())
                .first(c)
                .map_err(classify("id"))?;
            to_domain(row)
        })
        .await
    }

    async fn bind_phone(
        &self,
        id: AccountId,
        phone: &str,
        country_code: &str,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<Worker, RepoError> {
        let phone = phone.to_owned();
        let cc = country_code.to_owned();
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                let key = id.to_string();
                let target = || w::table.find(key.clone());
                let n = diesel::update(target())
                    .set((
                        w::phone.eq(&phone),
                        w::phone_country_code.eq(&cc),
                        w::updated_at.eq(to_naive(now)),
                    ))
                    .execute(c)?;
                if n == 0 {
                    return Err(diesel::result::Error::NotFound);
                }
                record_change(c, &change)?;
                target().select(COLUMNS).first::<Row>(c)
            })
            .map_err(classify("id"))
            .and_then(to_domain)
        })
        .await
    }
}
