//! The catalogue: creating, editing, deleting, searching and importing service points.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::audit::Change;
use yiwang_domain::org::{OrgId, OrgPath};
use yiwang_domain::service_point::store::{
    ImportOutcome, ServicePointConflict, ServicePointFilter,
};
use yiwang_domain::service_point::{
    ServicePoint, ServicePointDraft, ServicePointId, ServicePointStatus,
};
use yiwang_domain::store::{Page, PageRequest, RepoError};

use crate::db::page::{page_of, start_after, IdKey};
use crate::db::schema::service_points as sp;
use crate::db::{like_contains, record_change, to_naive, unexpected, Database, TxError};

use super::*;
use yiwang_domain::service_point::store::CatalogueRepository;

#[async_trait]
impl CatalogueRepository for Database {
    async fn create(
        &self,
        id: ServicePointId,
        org: (OrgId, &OrgPath),
        draft: &ServicePointDraft,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<ServicePoint, RepoError> {
        let columns = DraftColumns::from_draft(draft)?;
        let (org_key, path, change) =
            (org.0.to_string(), org.1.as_str().to_owned(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                // The first statement is a write (the counter), so no `claim_writer`.
                let revision = next_revision(c)?;
                let key = id.to_string();
                diesel::insert_into(sp::table)
                    .values(&NewPoint {
                        id: key.clone(),
                        org_id: org_key,
                        org_path: path,
                        draft: columns,
                        revision,
                        created_at: to_naive(now),
                        updated_at: to_naive(now),
                    })
                    .execute(c)?;
                record_change(c, &change)?;
                load_point(c, &key)
            })
            .map_err(|e: TxError| e.unique_as(ServicePointConflict::ExternalIdTaken))
        })
        .await
    }
    async fn get(&self, id: ServicePointId) -> Result<ServicePoint, RepoError> {
        self.run(move |c| {
            let row: Option<PointRow> = sp::table
                .select(PointRow::as_select())
                .filter(sp::id.eq(id.to_string()))
                .filter(sp::deleted_at.is_null())
                .first(c)
                .optional()
                .map_err(unexpected)?;
            row.ok_or(RepoError::NotFound)?.into_domain()
        })
        .await
    }
    async fn update(
        &self,
        id: ServicePointId,
        draft: &ServicePointDraft,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<ServicePoint, RepoError> {
        let columns = DraftColumns::from_draft(draft)?;
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                let revision = next_revision(c)?;
                let key = id.to_string();
                let n = diesel::update(
                    sp::table
                        .filter(sp::id.eq(&key))
                        .filter(sp::deleted_at.is_null()),
                )
                .set((
                    &columns,
                    sp::revision.eq(revision),
                    sp::updated_at.eq(to_naive(now)),
                ))
                .execute(c)?;
                if n == 0 {
                    // Rolls the counter back with everything else.
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                record_change(c, &change)?;
                load_point(c, &key)
            })
            .map_err(|e: TxError| e.unique_as(ServicePointConflict::ExternalIdTaken))
        })
        .await
    }
    async fn delete(
        &self,
        id: ServicePointId,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<(), RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                let revision = next_revision(c)?;
                let n = diesel::update(
                    sp::table
                        .filter(sp::id.eq(id.to_string()))
                        .filter(sp::deleted_at.is_null()),
                )
                // The external id is released with the point, so a new point (or a later
                // import) may use it; the audit row keeps it.
                .set((
                    sp::deleted_at.eq(Some(to_naive(now))),
                    sp::external_id.eq(None::<String>),
                    sp::revision.eq(revision),
                    sp::updated_at.eq(to_naive(now)),
                ))
                .execute(c)?;
                if n == 0 {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
    async fn search(
        &self,
        filter: &ServicePointFilter,
        page: &PageRequest,
    ) -> Result<Page<ServicePoint>, RepoError> {
        let (filter, request) = (filter.clone(), page.clone());
        self.run(move |c| {
            let mut q = sp::table
                .select(PointRow::as_select())
                .filter(sp::deleted_at.is_null())
                .order(sp::id.asc())
                .limit(i64::from(request.limit))
                .into_boxed();
            if let Some(scope) = &filter.scope {
                let (lower, upper) = scope.subtree_range();
                q = q
                    .filter(sp::org_path.ge(lower))
                    .filter(sp::org_path.lt(upper));
            }
            if let Some(bbox) = filter.bbox {
                q = q
                    .filter(sp::lat.between(bbox.south_west.lat, bbox.north_east.lat))
                    .filter(sp::lng.between(bbox.south_west.lng, bbox.north_east.lng));
            }
            if let Some(kind) = filter.kind {
                q = q.filter(sp::kind.eq(kind.as_str()));
            }
            if let Some(text) = filter.q.as_deref() {
                let pattern = like_contains(text);
                q = q.filter(
                    sp::name
                        .like(pattern.clone())
                        .escape('\\')
                        .or(sp::address.like(pattern).escape('\\')),
                );
            }
            match filter.status {
                Some(status) => q = q.filter(sp::status.eq(status.as_str())),
                None if !filter.include_closed => {
                    q = q.filter(sp::status.ne(ServicePointStatus::Closed.as_str()));
                }
                None => {}
            }
            match filter.flagged {
                Some(true) => q = q.filter(sp::quality_flag.is_not_null()),
                Some(false) => q = q.filter(sp::quality_flag.is_null()),
                None => {}
            }
            if let Some(IdKey(after)) = start_after::<IdKey>(&request)? {
                q = q.filter(sp::id.gt(after));
            }
            let rows: Vec<PointRow> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(PointRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| IdKey(r.id.to_string())))
        })
        .await
    }
    async fn import(
        &self,
        org: (OrgId, &OrgPath),
        drafts: &[ServicePointDraft],
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<ImportOutcome, RepoError> {
        refuse_repeated_external_ids(drafts)?;
        let drafts = drafts.to_vec();
        let (org_key, path, change) =
            (org.0.to_string(), org.1.as_str().to_owned(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                // Read, then write: hold the counter lock from the first statement, so the
                // points read below are the latest and no other import interleaves.
                lock_counter(c)?;
                let (outcome, writes) = diff_import(c, &org_key, &drafts)?;
                if !writes.is_empty() {
                    let revision = next_revision(c)?;
                    let at = to_naive(now);
                    for chunk in writes.chunks(IMPORT_CHUNK) {
                        let rows = chunk
                            .iter()
                            .map(|(id, draft)| {
                                Ok(NewPoint {
                                    id: id
                                        .clone()
                                        .unwrap_or_else(|| ServicePointId::new().to_string()),
                                    org_id: org_key.clone(),
                                    org_path: path.clone(),
                                    draft: DraftColumns::from_draft(draft)?,
                                    revision,
                                    created_at: at,
                                    updated_at: at,
                                })
                            })
                            .collect::<Result<Vec<_>, RepoError>>()
                            .map_err(TxError::Repo)?;
                        upsert_points(c, &rows)?;
                    }
                }
                record_change(c, &change)?;
                Ok(outcome)
            })
            .map_err(|e: TxError| e.unique_as(ServicePointConflict::ExternalIdTaken))
        })
        .await
    }

    async fn preview_import(
        &self,
        org: OrgId,
        drafts: &[ServicePointDraft],
    ) -> Result<ImportOutcome, RepoError> {
        refuse_repeated_external_ids(drafts)?;
        let (drafts, org_key) = (drafts.to_vec(), org.to_string());
        self.run(move |c| {
            diff_import(c, &org_key, &drafts)
                .map(|(outcome, _)| outcome)
                .map_err(TxError::into_repo)
        })
        .await
    }
}

/// A file that names one external id twice would update one point twice, or trip the unique
/// index halfway; the importer reports it per row, the store refuses it outright.
fn refuse_repeated_external_ids(drafts: &[ServicePointDraft]) -> Result<(), RepoError> {
    let mut seen = HashSet::new();
    if drafts
        .iter()
        .filter_map(|d| d.external_id.as_deref())
        .any(|e| !seen.insert(e))
    {
        return Err(ServicePointConflict::ExternalIdTaken.into());
    }
    Ok(())
}

/// A point to write: the id of the point it replaces (none: a new one) and its draft.
type ImportWrite<'d> = (Option<String>, &'d ServicePointDraft);

/// What importing `drafts` into organisation `org_key` does over the points stored now: the
/// counts, and the writes — a draft whose external id the organisation has updates that point
/// unless nothing differs, any other is new.
fn diff_import<'d>(
    c: &mut DbConnection,
    org_key: &str,
    drafts: &'d [ServicePointDraft],
) -> Result<(ImportOutcome, Vec<ImportWrite<'d>>), TxError> {
    let existing: Vec<PointRow> = sp::table
        .select(PointRow::as_select())
        .filter(sp::org_id.eq(org_key))
        .filter(sp::external_id.is_not_null())
        .filter(sp::deleted_at.is_null())
        .load(c)?;
    let mut by_external: HashMap<String, PointRow> = existing
        .into_iter()
        .filter_map(|row| Some((row.external_id.clone()?, row)))
        .collect();
    let mut outcome = ImportOutcome::default();
    let mut writes = Vec::new();
    for draft in drafts {
        let found = draft
            .external_id
            .as_ref()
            .and_then(|e| by_external.remove(e));
        match found {
            Some(row) => {
                if row.draft().map_err(TxError::Repo)? == *draft {
                    outcome.unchanged += 1;
                } else {
                    outcome.updated += 1;
                    writes.push((Some(row.id), draft));
                }
            }
            None => {
                outcome.created += 1;
                writes.push((None, draft));
            }
        }
    }
    Ok((outcome, writes))
}
