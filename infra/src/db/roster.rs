//! [`RosterRepository`] on the shared schema: consultation categories (their rules as
//! columns) and lawyers' profiles with their specialties (one row per category, so a worker's
//! "lawyers for wage arrears" is an index lookup).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::account::{AccountId, Role};
use yiwang_domain::audit::Change;
use yiwang_domain::consultation::category::{Category, CategoryCode, CategoryRules, SlaClock};
use yiwang_domain::consultation::lawyer::{Lawyer, LawyerDetails, LicenceNumber};
use yiwang_domain::consultation::store::{LawyerFilter, RosterConflict, RosterRepository};
use yiwang_domain::org::OrgPath;
use yiwang_domain::store::{Page, PageRequest, RepoError};

use super::codec::{account_id, org_id};
use super::page::{page_of, start_after, DutyKey};
use super::schema::{
    consultation_categories as cc, lawyer_specialties as ls, lawyers as lw, officials as of,
};
use super::{
    claim_writer, corrupt, from_naive, record_change, to_naive, unexpected, Database, DbConnection,
    TxError,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = cc)]
struct CategoryRow {
    code: String,
    name: String,
    position: i32,
    active: bool,
    accept_minutes: i32,
    first_response_minutes: i32,
    resolution_minutes: i32,
    sla_clock: String,
    watched: bool,
    updated_at: NaiveDateTime,
}

impl CategoryRow {
    fn into_domain(self) -> Result<Category, RepoError> {
        Ok(Category {
            code: CategoryCode::parse(&self.code)
                .ok_or_else(|| corrupt("category code", &self.code))?,
            rules: CategoryRules {
                name: self.name,
                position: self.position,
                active: self.active,
                accept_minutes: self.accept_minutes,
                first_response_minutes: self.first_response_minutes,
                resolution_minutes: self.resolution_minutes,
                clock: SlaClock::parse(&self.sla_clock)
                    .ok_or_else(|| corrupt("SLA clock", &self.sla_clock))?,
                watched: self.watched,
            },
            updated_at: from_naive(self.updated_at),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = lw)]
struct LawyerRow {
    account_id: String,
    org_id: String,
    org_path: String,
    name: String,
    law_firm: String,
    licence_number: String,
    years_in_practice: i32,
    bio: String,
    on_duty: bool,
    rating_sum: i64,
    rating_count: i64,
    updated_at: NaiveDateTime,
}

impl LawyerRow {
    fn into_domain(self, specialties: Vec<String>) -> Result<Lawyer, RepoError> {
        let specialties = specialties
            .iter()
            .map(|c| CategoryCode::parse(c).ok_or_else(|| corrupt("specialty", c)))
            .collect::<Result<_, _>>()?;
        Ok(Lawyer {
            account_id: account_id(&self.account_id)?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            details: LawyerDetails {
                name: self.name,
                law_firm: self.law_firm,
                licence_number: LicenceNumber::parse(&self.licence_number)
                    .ok_or_else(|| corrupt("licence number", &self.licence_number))?,
                specialties,
                years_in_practice: self.years_in_practice,
                bio: self.bio,
            },
            on_duty: self.on_duty,
            rating_sum: self.rating_sum,
            rating_count: self.rating_count,
            updated_at: from_naive(self.updated_at),
        })
    }
}

/// Category `code`, in a caller's transaction.
pub(super) fn load_category(c: &mut DbConnection, code: &str) -> Result<Category, TxError> {
    let row: CategoryRow = cc::table
        .find(code)
        .select(CategoryRow::as_select())
        .first(c)?;
    row.into_domain().map_err(TxError::Repo)
}

/// `rows` with their specialties, read in one query, in the rows' order.
fn with_specialties(c: &mut DbConnection, rows: Vec<LawyerRow>) -> Result<Vec<Lawyer>, TxError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.account_id.as_str()).collect();
    let pairs: Vec<(String, String)> = ls::table
        .filter(ls::account_id.eq_any(&ids))
        .order((ls::account_id, ls::category_code))
        .select((ls::account_id, ls::category_code))
        .load(c)?;
    let mut by_lawyer: HashMap<String, Vec<String>> = HashMap::new();
    for (account, code) in pairs {
        by_lawyer.entry(account).or_default().push(code);
    }
    rows.into_iter()
        .map(|r| {
            let specialties = by_lawyer.remove(&r.account_id).unwrap_or_default();
            r.into_domain(specialties).map_err(TxError::Repo)
        })
        .collect()
}

/// The profile of `account` whose official is not disabled.
fn load_lawyer(c: &mut DbConnection, account: &str) -> Result<Lawyer, TxError> {
    let row: LawyerRow = lw::table
        .inner_join(of::table)
        .filter(lw::account_id.eq(account))
        .filter(of::disabled_at.is_null())
        .select(LawyerRow::as_select())
        .first(c)?;
    with_specialties(c, vec![row])?
        .pop()
        .ok_or(TxError::Repo(RepoError::NotFound))
}

#[async_trait]
impl RosterRepository for Database {
    async fn categories(&self) -> Result<Vec<Category>, RepoError> {
        self.run(|c| {
            let rows: Vec<CategoryRow> = cc::table
                .order((cc::position, cc::code))
                .select(CategoryRow::as_select())
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter().map(CategoryRow::into_domain).collect()
        })
        .await
    }

    async fn save_category(
        &self,
        code: &CategoryCode,
        rules: &CategoryRules,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<(Category, bool), RepoError> {
        let (code, rules, change) = (code.clone(), rules.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let now = to_naive(at);
                let columns = (
                    cc::name.eq(&rules.name),
                    cc::position.eq(rules.position),
                    cc::active.eq(rules.active),
                    cc::accept_minutes.eq(rules.accept_minutes),
                    cc::first_response_minutes.eq(rules.first_response_minutes),
                    cc::resolution_minutes.eq(rules.resolution_minutes),
                    cc::sla_clock.eq(rules.clock.as_str()),
                    cc::watched.eq(rules.watched),
                    cc::updated_at.eq(now),
                );
                let updated = diesel::update(cc::table.find(code.as_str()))
                    .set(columns)
                    .execute(c)?;
                let created = updated == 0;
                if created {
                    diesel::insert_into(cc::table)
                        .values((cc::code.eq(code.as_str()), cc::created_at.eq(now), columns))
                        .execute(c)?;
                }
                record_change(c, &change)?;
                let category = Category {
                    code,
                    rules,
                    updated_at: from_naive(now),
                };
                Ok((category, created))
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn save_lawyer(
        &self,
        account: AccountId,
        details: &LawyerDetails,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Lawyer, RepoError> {
        let (details, change) = (details.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let key = account.to_string();
                let (org, path): (String, String) = of::table
                    .find(&key)
                    .filter(of::role.eq(Role::Lawyer.as_str()))
                    .filter(of::disabled_at.is_null())
                    .select((of::org_id, of::org_path))
                    .first(c)?;
                let now = to_naive(at);
                let columns = (
                    lw::name.eq(&details.name),
                    lw::law_firm.eq(&details.law_firm),
                    lw::licence_number.eq(details.licence_number.as_str()),
                    lw::years_in_practice.eq(details.years_in_practice),
                    lw::bio.eq(&details.bio),
                    lw::org_id.eq(&org),
                    lw::org_path.eq(&path),
                    lw::updated_at.eq(now),
                );
                let updated = diesel::update(lw::table.find(&key))
                    .set(columns)
                    .execute(c)?;
                if updated == 0 {
                    diesel::insert_into(lw::table)
                        .values((
                            lw::account_id.eq(&key),
                            lw::on_duty.eq(false),
                            lw::rating_sum.eq(0),
                            lw::rating_count.eq(0),
                            lw::created_at.eq(now),
                            columns,
                        ))
                        .execute(c)?;
                }
                diesel::delete(ls::table.filter(ls::account_id.eq(&key))).execute(c)?;
                for code in &details.specialties {
                    diesel::insert_into(ls::table)
                        .values((ls::account_id.eq(&key), ls::category_code.eq(code.as_str())))
                        .execute(c)?;
                }
                record_change(c, &change)?;
                load_lawyer(c, &key)
            })
            .map_err(|e: TxError| e.unique_as(RosterConflict::LicenceTaken))
        })
        .await
    }

    async fn set_on_duty(
        &self,
        account: AccountId,
        on_duty: bool,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Lawyer, RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                let key = account.to_string();
                let updated = diesel::update(lw::table.find(&key))
                    .set((lw::on_duty.eq(on_duty), lw::updated_at.eq(to_naive(at))))
                    .execute(c)?;
                if updated == 0 {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                record_change(c, &change)?;
                load_lawyer(c, &key)
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn lawyer(&self, account: AccountId) -> Result<Lawyer, RepoError> {
        self.run(move |c| load_lawyer(c, &account.to_string()).map_err(|e| e.into_repo()))
            .await
    }

    async fn lawyers(
        &self,
        filter: &LawyerFilter,
        page: &PageRequest,
    ) -> Result<Page<Lawyer>, RepoError> {
        let (filter, request) = (filter.clone(), page.clone());
        self.run(move |c| {
            let mut q = lw::table
                .inner_join(of::table)
                .filter(of::disabled_at.is_null())
                .order((lw::on_duty.desc(), lw::account_id))
                .limit(i64::from(request.limit))
                .select(LawyerRow::as_select())
                .into_boxed();
            if let Some(code) = &filter.category {
                q = q.filter(
                    lw::account_id.eq_any(
                        ls::table
                            .filter(ls::category_code.eq(code.as_str().to_owned()))
                            .select(ls::account_id),
                    ),
                );
            }
            if let Some(scope) = &filter.scope {
                let (lower, upper) = scope.subtree_range();
                q = q
                    .filter(lw::org_path.ge(lower))
                    .filter(lw::org_path.lt(upper));
            }
            if let Some(DutyKey { off_duty, id }) = start_after::<DutyKey>(&request)? {
                q = if off_duty {
                    q.filter(lw::on_duty.eq(false).and(lw::account_id.gt(id)))
                } else {
                    q.filter(
                        lw::on_duty
                            .eq(false)
                            .or(lw::on_duty.eq(true).and(lw::account_id.gt(id))),
                    )
                };
            }
            let rows: Vec<LawyerRow> = q.load(c).map_err(unexpected)?;
            let rows = with_specialties(c, rows).map_err(|e| e.into_repo())?;
            Ok(page_of(rows, &request, |r| DutyKey {
                off_duty: !r.on_duty,
                id: r.account_id.to_string(),
            }))
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;
    use yiwang_domain::account::{Official, Username};
    use yiwang_domain::audit::{Actor, AuditEntry};
    use yiwang_domain::consultation::category::CategoryInput;
    use yiwang_domain::consultation::lawyer::LawyerInput;
    use yiwang_domain::org::{OrgKind, OrgName, Organisation};
    use yiwang_domain::store::{OfficialRepository, OrgRepository};

    use super::*;
    use crate::db::test_env::backends;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 1, 9, minute, 0).unwrap()
    }

    fn change() -> Change {
        Change {
            audit: AuditEntry {
                actor: Actor::System,
                action: "roster.test".into(),
                record_type: "lawyer".into(),
                record_id: "-".into(),
                ip: None,
                request_id: None,
                detail: json!({}),
                at: at(0),
            },
            event: None,
            answer: None,
        }
    }

    fn code(c: &str) -> CategoryCode {
        CategoryCode::parse(c).unwrap()
    }

    fn details(licence: &str, specialties: &[&str]) -> LawyerDetails {
        LawyerInput {
            name: Some("张明".into()),
            law_firm: Some("山东垦利律师事务所".into()),
            licence_number: Some(licence.into()),
            specialties: specialties.iter().map(|s| (*s).to_owned()).collect(),
            years_in_practice: Some(json!(12)),
            bio: Some("擅长劳动争议".into()),
        }
        .validate(|_| true)
        .unwrap()
    }

    async fn official(db: &Database, org: &Organisation, name: &str, role: Role) -> AccountId {
        let official = Official {
            id: AccountId::new(),
            username: Username::parse(name).unwrap(),
            display_name: name.into(),
            org_id: org.id,
            org_path: org.path.clone(),
            role,
            disabled_at: None,
            password_change_required: false,
            created_at: at(0),
        };
        OfficialRepository::create(db, &official, "hash", &change())
            .await
            .unwrap();
        official.id
    }

    #[tokio::test]
    async fn the_twelve_modules_are_there_and_officials_edit_them() {
        for env in backends() {
            let db = &env.db;
            let all = db.categories().await.unwrap();
            let codes: Vec<&str> = all.iter().map(|c| c.code.as_str()).collect();
            assert_eq!(codes.len(), 12);
            assert_eq!(codes[..2], ["labour_dispute", "wage_arrears"]);
            assert_eq!(codes[11], "other");
            assert!(all[1].rules.watched && !all[2].rules.watched);

            let mut rules = all[1].rules.clone();
            rules.first_response_minutes = 60;
            rules.clock = SlaClock::BusinessHours;
            let (saved, created) = db
                .save_category(&code("wage_arrears"), &rules, at(1), &change())
                .await
                .unwrap();
            assert!(!created);
            assert_eq!(saved.rules, rules);
            let new = CategoryInput {
                name: Some("新业态权益".into()),
                position: Some(json!(20)),
                accept_minutes: Some(json!(10)),
                first_response_minutes: Some(json!(30)),
                resolution_minutes: Some(json!(600)),
                ..CategoryInput::default()
            }
            .validate()
            .unwrap();
            let (_, created) = db
                .save_category(&code("platform_work"), &new, at(2), &change())
                .await
                .unwrap();
            assert!(created);
            let all = db.categories().await.unwrap();
            assert_eq!(all.len(), 13);
            assert_eq!(all[1].rules, rules);
            assert_eq!(all[12].code, code("platform_work"));
        }
    }

    #[tokio::test]
    async fn lawyers_are_listed_by_specialty_and_scope_on_duty_first() {
        for env in backends() {
            let db = &env.db;
            let name = |n: &str| OrgName::parse(n).unwrap();
            let root = Organisation::new_root(name("东营市总工会"), OrgKind::CityFederation, at(0));
            let kenli = root.new_child(
                name("垦利区总工会"),
                OrgKind::CountyFederation,
                false,
                at(0),
            );
            for org in [&root, &kenli] {
                OrgRepository::create(db, org, &change()).await.unwrap();
            }
            let zhang = official(db, &kenli, "kenli.zhang", Role::Lawyer).await;
            let wang = official(db, &root, "dy.wang", Role::Lawyer).await;
            let clerk = official(db, &kenli, "kenli.clerk", Role::Reviewer).await;

            // Only a lawyer official gets a profile; a licence is one lawyer's.
            let refused = db
                .save_lawyer(
                    clerk,
                    &details("13705201010123456", &["wage_arrears"]),
                    at(1),
                    &change(),
                )
                .await;
            assert!(matches!(refused, Err(RepoError::NotFound)), "{refused:?}");
            let z = db
                .save_lawyer(
                    zhang,
                    &details("13705201010123456", &["wage_arrears", "labour_dispute"]),
                    at(1),
                    &change(),
                )
                .await
                .unwrap();
            assert!(!z.on_duty);
            assert_eq!(z.org_path, kenli.path);
            let taken = db
                .save_lawyer(
                    wang,
                    &details("13705201010123456", &["debt"]),
                    at(2),
                    &change(),
                )
                .await;
            assert!(
                matches!(&taken, Err(RepoError::Refused(r)) if r.is(&RosterConflict::LicenceTaken)),
                "{taken:?}"
            );
            db.save_lawyer(
                wang,
                &details("13705201110654321", &["debt", "wage_arrears"]),
                at(2),
                &change(),
            )
            .await
            .unwrap();
            // Editing keeps duty and ratings, replaces specialties.
            db.set_on_duty(wang, true, at(3), &change()).await.unwrap();
            let w = db
                .save_lawyer(
                    wang,
                    &details("13705201110654321", &["debt"]),
                    at(4),
                    &change(),
                )
                .await
                .unwrap();
            assert!(w.on_duty);
            assert_eq!(w.details.specialties, vec![code("debt")]);

            let page = |after: Option<String>| PageRequest { after, limit: 1 };
            let all = LawyerFilter::default();
            let first = db.lawyers(&all, &page(None)).await.unwrap();
            assert_eq!(first.items[0].account_id, wang, "on duty first");
            let second = db.lawyers(&all, &page(first.next)).await.unwrap();
            assert_eq!(second.items[0].account_id, zhang);
            let third = db.lawyers(&all, &page(second.next)).await.unwrap();
            assert!(third.items.is_empty());

            let wage = LawyerFilter {
                category: Some(code("wage_arrears")),
                scope: None,
            };
            let found = db
                .lawyers(
                    &wage,
                    &PageRequest {
                        after: None,
                        limit: 10,
                    },
                )
                .await
                .unwrap()
                .items;
            assert_eq!(
                found.iter().map(|l| l.account_id).collect::<Vec<_>>(),
                vec![zhang]
            );
            let in_kenli = LawyerFilter {
                category: None,
                scope: Some(kenli.path.clone()),
            };
            let found = db
                .lawyers(
                    &in_kenli,
                    &PageRequest {
                        after: None,
                        limit: 10,
                    },
                )
                .await
                .unwrap()
                .items;
            assert_eq!(found.len(), 1);

            // A disabled official leaves the roster.
            OfficialRepository::disable(db, zhang, at(5), &change())
                .await
                .unwrap();
            assert!(matches!(db.lawyer(zhang).await, Err(RepoError::NotFound)));
            let found = db
                .lawyers(
                    &wage,
                    &PageRequest {
                        after: None,
                        limit: 10,
                    },
                )
                .await
                .unwrap()
                .items;
            assert!(found.is_empty());
        }
    }
}
