//! [`OrgRepository`] on the shared schema.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::audit::Change;
use yiwang_domain::org::{OrgId, OrgKind, OrgName, OrgPath, Organisation};
use yiwang_domain::store::{
    AccountConflict, OrgRepository, OrgSearch, OrgUpdate, Page, PageRequest, RepoError,
};

use super::page::{page_of, start_after, PathKey};
use super::schema::organisations as o;
use super::{
    corrupt, from_naive, like_contains, record_change, to_naive, unexpected, Database, TxError,
};

type Row = (
    String,
    Option<String>,
    String,
    String,
    bool,
    String,
    NaiveDateTime,
    NaiveDateTime,
    Option<String>,
    Option<String>,
);

const COLUMNS: (
    o::id,
    o::parent_id,
    o::name,
    o::kind,
    o::accepts_individuals,
    o::path,
    o::created_at,
    o::updated_at,
    o::city,
    o::code,
) = (
    o::id,
    o::parent_id,
    o::name,
    o::kind,
    o::accepts_individuals,
    o::path,
    o::created_at,
    o::updated_at,
    o::city,
    o::code,
);

fn to_domain(r: Row) -> Result<Organisation, RepoError> {
    let (id, parent_id, name, kind, accepts_individuals, path, created_at, updated_at, city, code) =
        r;
    Ok(Organisation {
        id: OrgId::parse(&id).ok_or_else(|| corrupt("organisation id", &id))?,
        parent_id: match parent_id {
            Some(p) => Some(OrgId::parse(&p).ok_or_else(|| corrupt("parent id", &p))?),
            None => None,
        },
        name: OrgName::parse(&name).map_err(|_| corrupt("organisation name", &name))?,
        kind: OrgKind::parse(&kind).ok_or_else(|| corrupt("organisation kind", &kind))?,
        accepts_individuals,
        path: OrgPath::from_stored(path),
        city,
        code: code.ok_or_else(|| corrupt("organisation code", &id))?,
        created_at: from_naive(created_at),
        updated_at: from_naive(updated_at),
    })
}

#[async_trait]
impl OrgRepository for Database {
    async fn create(&self, org: &Organisation, change: &Change) -> Result<(), RepoError> {
        let org = org.clone();
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                diesel::insert_into(o::table)
                    .values((
                        o::id.eq(org.id.to_string()),
                        o::parent_id.eq(org.parent_id.map(|p| p.to_string())),
                        o::name.eq(org.name.as_str()),
                        o::kind.eq(org.kind.as_str()),
                        o::accepts_individuals.eq(org.accepts_individuals),
                        o::path.eq(org.path.as_str()),
                        o::city.eq(org.city.as_deref()),
                        o::code.eq(&org.code),
                        o::created_at.eq(to_naive(org.created_at)),
                        o::updated_at.eq(to_naive(org.updated_at)),
                    ))
                    .execute(c)?;
                record_change(c, &change)
            })
            .map_err(|e: TxError| e.unique_as(AccountConflict::OrgNameTaken))
        })
        .await
    }

    async fn get(&self, id: OrgId) -> Result<Organisation, RepoError> {
        self.run(move |c| {
            let row: Row = o::table
                .select(COLUMNS)
                .find(id.to_string())
                .first(c)
                .map_err(unexpected)?;
            to_domain(row)
        })
        .await
    }

    async fn find_by_name(&self, name: &str) -> Result<Option<Organisation>, RepoError> {
        let name = name.trim().to_owned();
        self.run(move |c| {
            let row: Option<Row> = o::table
                .select(COLUMNS)
                .filter(o::name.eq(name))
                .order(o::path.asc())
                .first(c)
                .optional()
                .map_err(unexpected)?;
            row.map(to_domain).transpose()
        })
        .await
    }

    async fn any(&self) -> Result<bool, RepoError> {
        self.run(|c| {
            let n: i64 = o::table.count().get_result(c).map_err(unexpected)?;
            Ok(n > 0)
        })
        .await
    }

    async fn list_subtree(
        &self,
        root: &OrgPath,
        page: &PageRequest,
    ) -> Result<Page<Organisation>, RepoError> {
        let (lower, upper) = root.subtree_range();
        let request = page.clone();
        self.run(move |c| {
            let mut q = o::table
                .select(COLUMNS)
                .filter(o::path.ge(lower))
                .filter(o::path.lt(upper))
                .order(o::path.asc())
                .limit(i64::from(request.limit))
                .into_boxed();
            if let Some(PathKey(after)) = start_after::<PathKey>(&request)? {
                q = q.filter(o::path.gt(after));
            }
            let rows: Vec<Row> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(to_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                PathKey(r.path.as_str().to_owned())
            }))
        })
        .await
    }

    async fn search(
        &self,
        filter: &OrgSearch,
        page: &PageRequest,
    ) -> Result<Page<Organisation>, RepoError> {
        let (filter, request) = (filter.clone(), page.clone());
        self.run(move |c| {
            let mut q = o::table
                .select(COLUMNS)
                .order(o::path.asc())
                .limit(i64::from(request.limit))
                .into_boxed();
            if let Some(text) = filter.q.as_deref() {
                q = q.filter(o::name.like(like_contains(text)).escape('\\'));
            }
            if let Some(city) = filter.city {
                q = q.filter(o::city.eq(city));
            }
            if let Some(flag) = filter.accepts_individuals {
                q = q.filter(o::accepts_individuals.eq(flag));
            }
            if let Some(PathKey(after)) = start_after::<PathKey>(&request)? {
                q = q.filter(o::path.gt(after));
            }
            let rows: Vec<Row> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(to_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                PathKey(r.path.as_str().to_owned())
            }))
        })
        .await
    }

    async fn update(
        &self,
        id: OrgId,
        update: &OrgUpdate,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<Organisation, RepoError> {
        let update = update.clone();
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                let key = id.to_string();
                let target = || o::table.find(key.clone());
                if let Some(name) = &update.name {
                    diesel::update(target())
                        .set(o::name.eq(name.as_str()))
                        .execute(c)?;
                }
                if let Some(kind) = update.kind {
                    diesel::update(target())
                        .set(o::kind.eq(kind.as_str()))
                        .execute(c)?;
                }
                if let Some(flag) = update.accepts_individuals {
                    diesel::update(target())
                        .set(o::accepts_individuals.eq(flag))
                        .execute(c)?;
                }
                if let Some(city) = &update.city {
                    diesel::update(target())
                        .set(o::city.eq(city.as_str()))
                        .execute(c)?;
                }
                let n = diesel::update(target())
                    .set(o::updated_at.eq(to_naive(now)))
                    .execute(c)?;
                if n == 0 {
                    return Err(RepoError::NotFound.into());
                }
                record_change(c, &change)?;
                Ok(target().select(COLUMNS).first::<Row>(c)?)
            })
            .map_err(|e: TxError| e.unique_as(AccountConflict::OrgNameTaken))
            .and_then(to_domain)
        })
        .await
    }
}
