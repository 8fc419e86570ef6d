//! [`WorkerRepository`] on the shared schema.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::account::{AccountId, Worker};
use yiwang_domain::audit::Change;
use yiwang_domain::membership::application::{ApplicationAction, ApplicationStatus};
use yiwang_domain::membership::member::MemberStatus;
use yiwang_domain::membership::store::MembershipConflict;
use yiwang_domain::store::{RepoError, WorkerRepository};

use super::membership::{erase_applications, erase_members, record_event};
use super::schema::{members as m, membership_applications as a, workers as w};
use super::{
    claim_writer, corrupt, from_naive, record_change, to_naive, unexpected, Database, TxError,
};

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
            let (row, created) = result.map_err(unexpected)?;
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
                .map_err(unexpected)?;
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
                    return Err(RepoError::NotFound.into());
                }
                record_change(c, &change)?;
                Ok(target().select(COLUMNS).first::<Row>(c)?)
            })
            .map_err(TxError::into_repo)
            .and_then(to_domain)
        })
        .await
    }

    async fn delete_account(
        &self,
        id: AccountId,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<(), RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let (key, at) = (id.to_string(), to_naive(now));
                let deleted: Option<NaiveDateTime> =
                    w::table.find(&key).select(w::deleted_at).first(c)?;
                if deleted.is_some() {
                    return Ok(());
                }
                // Withdraw first: the update locks the open applications, so an approval
                // racing this deletion either commits before (and the member check below
                // sees the new member) or finds them withdrawn.
                let open: Vec<String> = a::table
                    .filter(a::account_id.eq(&key))
                    .filter(a::status.eq_any([
                        ApplicationStatus::Submitted.as_str(),
                        ApplicationStatus::Returned.as_str(),
                    ]))
                    .select(a::id)
                    .load(c)?;
                for app in &open {
                    diesel::update(a::table.find(app))
                        .set((
                            a::status.eq(ApplicationStatus::Withdrawn.as_str()),
                            a::updated_at.eq(at),
                        ))
                        .execute(c)?;
                    record_event(c, app, ApplicationAction::Withdrawn, None, now, &change)?;
                }
                let members: i64 = m::table
                    .filter(m::account_id.eq(&key))
                    .filter(m::status.eq(MemberStatus::Active.as_str()))
                    .count()
                    .get_result(c)?;
                if members > 0 {
                    return Err(TxError::refused(MembershipConflict::MemberActive));
                }
                let apps: Vec<String> = a::table
                    .filter(a::account_id.eq(&key))
                    .filter(a::erased_at.is_null())
                    .select(a::id)
                    .load(c)?;
                erase_applications(c, &apps, at)?;
                let ended: Vec<String> = m::table
                    .filter(m::account_id.eq(&key))
                    .filter(m::erased_at.is_null())
                    .select(m::id)
                    .load(c)?;
                erase_members(c, &ended, at)?;
                super::notifications::erase_account(c, &key)?;
                diesel::update(w::table.find(&key))
                    .set((
                        w::openid.eq(format!("deleted:{key}")),
                        w::unionid.eq(None::<String>),
                        w::phone.eq(None::<String>),
                        w::phone_country_code.eq(None::<String>),
                        w::updated_at.eq(at),
                        w::deleted_at.eq(Some(at)),
                    ))
                    .execute(c)?;
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
}
