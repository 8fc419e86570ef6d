//! Plans and their versions: a save is one `UPDATE … WHERE version = expected`.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::mutual_aid::plan::{Plan, PlanId, PlanRules};
use yiwang_domain::mutual_aid::store::MutualAidConflict;
use yiwang_domain::org::OrgPath;
use yiwang_domain::store::{Page, PageRequest, RepoError};

use crate::db::codec::org_id;
use crate::db::page::{page_of, start_after, DayKey};
use crate::db::schema::{mutual_aid_plan_versions as pv, mutual_aid_plans as p};
use crate::db::{from_naive, record_change, to_naive, unexpected, Database, DbConnection, TxError};

use super::*;
use yiwang_domain::mutual_aid::store::PlanRepository;

#[derive(Queryable, Selectable)]
#[diesel(table_name = p)]
pub(super) struct PlanRow {
    id: String,
    org_id: String,
    org_path: String,
    version: i32,
    rules: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl PlanRow {
    pub(super) fn into_domain(self) -> Result<Plan, RepoError> {
        Ok(Plan {
            id: parsed("plan id", &self.id, PlanId::parse)?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            rules: read_json("plan rules", &self.rules)?,
            version: self.version,
            created_at: from_naive(self.created_at),
            updated_at: from_naive(self.updated_at),
        })
    }
}

pub(super) fn load_plan(c: &mut DbConnection, id: &str) -> Result<Plan, TxError> {
    let row: PlanRow = p::table.find(id).select(PlanRow::as_select()).first(c)?;
    row.into_domain().map_err(TxError::Repo)
}

pub(super) fn insert_version(
    c: &mut DbConnection,
    plan: &str,
    version: i32,
    rules: &str,
    by: AccountId,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(pv::table)
        .values((
            pv::plan_id.eq(plan),
            pv::version.eq(version),
            pv::rules.eq(rules),
            pv::saved_by.eq(by.to_string()),
            pv::saved_at.eq(at),
        ))
        .execute(c)
}

#[async_trait]
impl PlanRepository for Database {
    async fn create_plan(
        &self,
        plan: &Plan,
        by: AccountId,
        change: &Change,
    ) -> Result<(), RepoError> {
        let (plan, change) = (plan.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let rules = json_of(&plan.rules)?;
                let id = plan.id.to_string();
                diesel::insert_into(p::table)
                    .values((
                        p::id.eq(&id),
                        p::org_id.eq(plan.org_id.to_string()),
                        p::org_path.eq(plan.org_path.as_str()),
                        p::version.eq(1),
                        p::rules.eq(&rules),
                        p::starts_on.eq(plan.rules.starts_on),
                        p::created_at.eq(to_naive(plan.created_at)),
                        p::updated_at.eq(to_naive(plan.updated_at)),
                    ))
                    .execute(c)?;
                insert_version(c, &id, 1, &rules, by, to_naive(plan.created_at))?;
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
    async fn save_plan(
        &self,
        id: PlanId,
        expected_version: i32,
        rules: &PlanRules,
        by: AccountId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Plan, RepoError> {
        let (rules, change) = (rules.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let key = id.to_string();
                let text = json_of(&rules)?;
                let now = to_naive(at);
                let next = expected_version.saturating_add(1);
                let n = diesel::update(p::table.find(&key).filter(p::version.eq(expected_version)))
                    .set((
                        p::version.eq(next),
                        p::rules.eq(&text),
                        p::starts_on.eq(rules.starts_on),
                        p::updated_at.eq(now),
                    ))
                    .execute(c)?;
                if n == 0 {
                    load_plan(c, &key)?;
                    return Err(TxError::refused(MutualAidConflict::PlanVersion));
                }
                insert_version(c, &key, next, &text, by, now)?;
                record_change(c, &change)?;
                load_plan(c, &key)
            })
            .map_err(|e| e.unique_as(MutualAidConflict::PlanVersion))
        })
        .await
    }
    async fn plan(&self, id: PlanId) -> Result<Plan, RepoError> {
        self.run(move |c| load_plan(c, &id.to_string()).map_err(|e| e.into_repo()))
            .await
    }
    async fn plan_version(&self, id: PlanId, version: i32) -> Result<PlanRules, RepoError> {
        self.run(move |c| {
            let text: String = pv::table
                .find((id.to_string(), version))
                .select(pv::rules)
                .first(c)
                .map_err(unexpected)?;
            read_json("plan rules", &text)
        })
        .await
    }
    async fn plans(&self, scope: &OrgPath, page: &PageRequest) -> Result<Page<Plan>, RepoError> {
        let (lower, upper) = scope.subtree_range();
        let request = page.clone();
        self.run(move |c| {
            let mut q = p::table
                .filter(p::org_path.ge(lower))
                .filter(p::org_path.lt(upper))
                .order((p::starts_on.desc(), p::id.desc()))
                .limit(i64::from(request.limit))
                .select(PlanRow::as_select())
                .into_boxed();
            if let Some(DayKey { day, id }) = start_after::<DayKey>(&request)? {
                q = q.filter(
                    p::starts_on
                        .lt(day)
                        .or(p::starts_on.eq(day).and(p::id.lt(id))),
                );
            }
            let rows: Vec<PlanRow> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(PlanRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                DayKey::new(r.rules.starts_on, r.id)
            }))
        })
        .await
    }
    async fn plans_for(&self, member_path: &OrgPath) -> Result<Vec<Plan>, RepoError> {
        let paths: Vec<String> = member_path
            .ancestors()
            .into_iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        self.run(move |c| {
            let rows: Vec<PlanRow> = p::table
                .filter(p::org_path.eq_any(&paths))
                .order((p::starts_on.desc(), p::id.desc()))
                .select(PlanRow::as_select())
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter().map(PlanRow::into_domain).collect()
        })
        .await
    }
}
