//! [`OfficialRepository`] on the shared schema.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::account::{AccountId, Official, Role, Username};
use yiwang_domain::audit::Change;
use yiwang_domain::org::{OrgId, OrgPath};
use yiwang_domain::store::{AccountConflict, OfficialRepository, Page, PageRequest, RepoError};

use super::page::{page_of, start_after, IdKey};
use super::schema::officials as f;
use super::{
    claim_writer, corrupt, from_naive, record_change, to_naive, unexpected, Database, TxError,
};

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<NaiveDateTime>,
    bool,
    NaiveDateTime,
);

const COLUMNS: (
    f::id,
    f::username,
    f::display_name,
    f::org_id,
    f::org_path,
    f::role,
    f::disabled_at,
    f::password_change_required,
    f::created_at,
) = (
    f::id,
    f::username,
    f::display_name,
    f::org_id,
    f::org_path,
    f::role,
    f::disabled_at,
    f::password_change_required,
    f::created_at,
);

fn to_domain(r: Row) -> Result<Official, RepoError> {
    let (id, username, display_name, org_id, org_path, role, disabled_at, required, created_at) = r;
    Ok(Official {
        id: AccountId::parse(&id).ok_or_else(|| corrupt("official id", &id))?,
        username: Username::parse(&username).ok_or_else(|| corrupt("username", &username))?,
        display_name,
        org_id: OrgId::parse(&org_id).ok_or_else(|| corrupt("org id", &org_id))?,
        org_path: OrgPath::from_stored(org_path),
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        disabled_at: disabled_at.map(from_naive),
        password_change_required: required,
        created_at: from_naive(created_at),
    })
}

#[async_trait]
impl OfficialRepository for Database {
    async fn create(
        &self,
        official: &Official,
        password_hash: &str,
        change: &Change,
    ) -> Result<(), RepoError> {
        let off = official.clone();
        let hash = password_hash.to_owned();
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                let now = to_naive(off.created_at);
                diesel::insert_into(f::table)
                    .values((
                        f::id.eq(off.id.to_string()),
                        f::username.eq(off.username.as_str()),
                        f::display_name.eq(&off.display_name),
                        f::org_id.eq(off.org_id.to_string()),
                        f::org_path.eq(off.org_path.as_str()),
                        f::role.eq(off.role.as_str()),
                        f::password_hash.eq(&hash),
                        f::disabled_at.eq(off.disabled_at.map(to_naive)),
                        f::password_change_required.eq(off.password_change_required),
                        f::created_at.eq(now),
                        f::updated_at.eq(now),
                    ))
                    .execute(c)?;
                record_change(c, &change)
            })
            .map_err(|e: TxError| e.unique_as(AccountConflict::UsernameTaken))
        })
        .await
    }

    async fn get(&self, id: AccountId) -> Result<Official, RepoError> {
        self.run(move |c| {
            let row: Row = f::table
                .select(COLUMNS)
                .find(id.to_string())
                .first(c)
                .map_err(unexpected)?;
            to_domain(row)
        })
        .await
    }

    async fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<(Official, String)>, RepoError> {
        let username = username.as_str().to_owned();
        self.run(move |c| {
            let row: Option<(Row, String)> = f::table
                .select((COLUMNS, f::password_hash))
                .filter(f::username.eq(username))
                .first(c)
                .optional()
                .map_err(unexpected)?;
            row.map(|(r, hash)| to_domain(r).map(|o| (o, hash)))
                .transpose()
        })
        .await
    }

    async fn list_in_subtree(
        &self,
        root: &OrgPath,
        role: Option<Role>,
        page: &PageRequest,
    ) -> Result<Page<Official>, RepoError> {
        let (lower, upper) = root.subtree_range();
        let request = page.clone();
        self.run(move |c| {
            let mut q = f::table
                .select(COLUMNS)
                .filter(f::org_path.ge(lower))
                .filter(f::org_path.lt(upper))
                .order(f::id.asc())
                .limit(i64::from(request.limit))
                .into_boxed();
            if let Some(role) = role {
                q = q.filter(f::role.eq(role.as_str()));
            }
            if let Some(IdKey(after)) = start_after::<IdKey>(&request)? {
                q = q.filter(f::id.gt(after));
            }
            let rows: Vec<Row> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(to_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| IdKey(r.id.to_string())))
        })
        .await
    }

    async fn nearest_with_roles(
        &self,
        path: &OrgPath,
        roles: &[Role],
    ) -> Result<Vec<Official>, RepoError> {
        let ancestors: Vec<String> = path
            .ancestors()
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect();
        let roles: Vec<&'static str> = roles.iter().map(|r| r.as_str()).collect();
        self.run(move |c| {
            let rows: Vec<Row> = f::table
                .select(COLUMNS)
                .filter(f::org_path.eq_any(&ancestors))
                .filter(f::role.eq_any(&roles))
                .filter(f::disabled_at.is_null())
                .order(f::id.asc())
                .load(c)
                .map_err(unexpected)?;
            let deepest = rows.iter().map(|r| r.4.len()).max();
            rows.into_iter()
                .filter(|r| Some(r.4.len()) == deepest)
                .map(to_domain)
                .collect()
        })
        .await
    }

    async fn set_password(
        &self,
        id: AccountId,
        password_hash: &str,
        change_required: bool,
        change: &Change,
    ) -> Result<Official, RepoError> {
        let (hash, change) = (password_hash.to_owned(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let target = || f::table.find(id.to_string());
                let updated = diesel::update(target())
                    .set((
                        f::password_hash.eq(&hash),
                        f::password_change_required.eq(change_required),
                        f::updated_at.eq(to_naive(change.audit.at)),
                    ))
                    .execute(c)?;
                if updated == 0 {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                record_change(c, &change)?;
                Ok(target().select(COLUMNS).first::<Row>(c)?)
            })
            .map_err(TxError::into_repo)
            .and_then(to_domain)
        })
        .await
    }
    async fn disable(
        &self,
        id: AccountId,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<Official, RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let key = id.to_string();
                let target = || f::table.find(key.clone());
                let row: Row = target().select(COLUMNS).first(c)?;
                if row.6.is_none() {
                    diesel::update(target())
                        .set((
                            f::disabled_at.eq(Some(to_naive(now))),
                            f::updated_at.eq(to_naive(now)),
                        ))
                        .execute(c)?;
                    record_change(c, &change)?;
                }
                Ok(target().select(COLUMNS).first::<Row>(c)?)
            })
            .map_err(TxError::into_repo)
            .and_then(to_domain)
        })
        .await
    }
}
