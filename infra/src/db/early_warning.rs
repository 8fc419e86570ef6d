//! [`EarlyWarningRepository`] on the shared schema, and [`watch`], the count a new
//! consultation's transaction runs.
//!
//! One employer is counted at a time: on PostgreSQL a transaction-scoped advisory lock on the
//! employer's key (`pg_advisory_xact_lock(hashtextextended(key, 0))`); on SQLite the
//! transaction's write lock, taken by the consultation's insert. So of five workers asking at
//! once the fifth always sees the other four, and two alerts for one burst cannot both be
//! raised (the partial unique index `employer_alerts_one_open` stands behind that).

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::consultation::early_warning::{
    common_branch, judge, AlertId, AlertRule, AlertStatus, EmployerAlert, EmployerKey, Verdict,
};
use yiwang_domain::consultation::store::{EarlyWarningRepository, RosterConflict};
use yiwang_domain::consultation::thread::Consultation;
use yiwang_domain::org::OrgPath;
use yiwang_domain::store::{Page, PageRequest, RepoError};

use super::codec::{account_id, org_id};
use super::page::{page_of, start_after, TimeKey};
use super::schema::{
    consultation_categories as cat, consultations as co, early_warning_rule as rule,
    employer_alerts as al,
};
use super::{
    claim_writer, corrupt, from_naive, hold_name, record_change, to_naive, unexpected, Database,
    DbConnection, TxError,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = al)]
struct AlertRow {
    id: String,
    employer_key: String,
    employer: String,
    org_id: String,
    org_path: String,
    consultations: i32,
    threshold: i32,
    window_days: i32,
    first_at: NaiveDateTime,
    last_at: NaiveDateTime,
    status: String,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<NaiveDateTime>,
    note: Option<String>,
    created_at: NaiveDateTime,
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl AlertRow {
    fn into_domain(self) -> Result<EmployerAlert, RepoError> {
        Ok(EmployerAlert {
            id: AlertId::parse(&self.id).ok_or_else(|| corrupt("alert id", &self.id))?,
            employer_key: EmployerKey::from_stored(self.employer_key),
            employer: self.employer,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            consultations: count(self.consultations),
            rule: AlertRule {
                threshold: count(self.threshold),
                window_days: count(self.window_days),
            },
            first_at: from_naive(self.first_at),
            last_at: from_naive(self.last_at),
            status: AlertStatus::parse(&self.status)
                .ok_or_else(|| corrupt("alert status", &self.status))?,
            acknowledged_by: self
                .acknowledged_by
                .as_deref()
                .map(account_id)
                .transpose()?,
            acknowledged_at: self.acknowledged_at.map(from_naive),
            note: self.note,
            created_at: from_naive(self.created_at),
        })
    }
}

fn load_rule(c: &mut DbConnection) -> QueryResult<AlertRule> {
    let (threshold, window_days): (i32, i32) = rule::table
        .find(1)
        .select((rule::threshold, rule::window_days))
        .first(c)?;
    Ok(AlertRule {
        threshold: count(threshold),
        window_days: count(window_days),
    })
}

fn as_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Counts the employer of the just-inserted consultation `k` for the early warning, raising
/// or recounting its alert; nothing outside a watched category or without an employer. Runs
/// inside `k`'s transaction.
pub(super) fn watch(c: &mut DbConnection, k: &Consultation) -> Result<(), TxError> {
    let Some(key) = &k.employer_key else {
        return Ok(());
    };
    let watched: Vec<String> = cat::table
        .filter(cat::watched.eq(true))
        .select(cat::code)
        .load(c)?;
    if !watched.iter().any(|code| code == k.category.as_str()) {
        return Ok(());
    }
    hold_name(c, key.as_str())?;
    let rules = load_rule(c)?;
    let since = to_naive(rules.since(k.created_at));
    let counted = in_burst(c, key, &watched, since)?;
    let open: Option<AlertRow> = al::table
        .filter(al::employer_key.eq(key.as_str()))
        .filter(al::status.eq(AlertStatus::Open.as_str()))
        .select(AlertRow::as_select())
        .first(c)
        .optional()?;
    let employer = k
        .employer
        .clone()
        .or_else(|| {
            k.employer_credit_code
                .as_ref()
                .map(|c| c.as_str().to_owned())
        })
        .unwrap_or_default();
    let paths: Vec<OrgPath> = counted
        .iter()
        .map(|(p, _, _)| OrgPath::from_stored(p.clone()))
        .chain(
            open.iter()
                .map(|a| OrgPath::from_stored(a.org_path.clone())),
        )
        .collect();
    let Some((branch_id, branch)) = common_branch(&paths) else {
        return Ok(());
    };
    let first_at = counted
        .iter()
        .map(|(_, at, _)| *at)
        .min()
        .unwrap_or_else(|| to_naive(k.created_at));
    let workers: BTreeSet<&str> = counted.iter().map(|(_, _, a)| a.as_str()).collect();
    match judge(&rules, workers.len(), open.is_some()) {
        Verdict::Quiet => {}
        Verdict::Recount => {
            let open_id = open.map(|a| a.id).unwrap_or_default();
            diesel::update(al::table.find(open_id))
                .set((
                    al::consultations.eq(as_i32(u32::try_from(counted.len()).unwrap_or(u32::MAX))),
                    al::employer.eq(&employer),
                    al::org_id.eq(branch_id.to_string()),
                    al::org_path.eq(branch.as_str()),
                    al::last_at.eq(to_naive(k.created_at)),
                ))
                .execute(c)?;
        }
        Verdict::Raise => {
            let alert = EmployerAlert {
                id: AlertId::new(),
                employer_key: key.clone(),
                employer,
                org_id: branch_id,
                org_path: branch,
                consultations: u32::try_from(counted.len()).unwrap_or(u32::MAX),
                rule: rules,
                first_at: from_naive(first_at),
                last_at: k.created_at,
                status: AlertStatus::Open,
                acknowledged_by: None,
                acknowledged_at: None,
                note: None,
                created_at: k.created_at,
            };
            insert_alert(c, &alert)?;
        }
    }
    Ok(())
}

/// Where, when and by whom the employer's consultations in the watched categories were asked
/// since `since` (the rule's window), counting only those after its last acknowledged alert:
/// a burst starts after an official looked at the last one.
fn in_burst(
    c: &mut DbConnection,
    key: &EmployerKey,
    watched: &[String],
    since: NaiveDateTime,
) -> Result<Vec<(String, NaiveDateTime, String)>, TxError> {
    let acknowledged: Option<Option<NaiveDateTime>> = al::table
        .filter(al::employer_key.eq(key.as_str()))
        .filter(al::status.eq(AlertStatus::Acknowledged.as_str()))
        .select(al::acknowledged_at)
        .order(al::acknowledged_at.desc())
        .first(c)
        .optional()?;
    let mut counted = co::table
        .filter(co::employer_key.eq(key.as_str()))
        .filter(co::category_code.eq_any(watched))
        .filter(co::created_at.ge(since))
        .select((co::org_path, co::created_at, co::account_id))
        .into_boxed();
    if let Some(acknowledged) = acknowledged.flatten() {
        counted = counted.filter(co::created_at.gt(acknowledged));
    }
    Ok(counted.load(c)?)
}

/// Stores a raised alert with its change (audit row and outbox event).
fn insert_alert(c: &mut DbConnection, alert: &EmployerAlert) -> Result<(), TxError> {
    diesel::insert_into(al::table)
        .values((
            al::id.eq(alert.id.to_string()),
            al::employer_key.eq(alert.employer_key.as_str()),
            al::employer.eq(&alert.employer),
            al::org_id.eq(alert.org_id.to_string()),
            al::org_path.eq(alert.org_path.as_str()),
            al::consultations.eq(as_i32(alert.consultations)),
            al::threshold.eq(as_i32(alert.rule.threshold)),
            al::window_days.eq(as_i32(alert.rule.window_days)),
            al::first_at.eq(to_naive(alert.first_at)),
            al::last_at.eq(to_naive(alert.last_at)),
            al::status.eq(alert.status.as_str()),
            al::created_at.eq(to_naive(alert.created_at)),
        ))
        .execute(c)?;
    record_change(c, &alert.raised())
}

#[async_trait]
impl EarlyWarningRepository for Database {
    async fn alert_rule(&self) -> Result<AlertRule, RepoError> {
        self.run(|c| load_rule(c).map_err(unexpected)).await
    }

    async fn save_alert_rule(
        &self,
        new: &AlertRule,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<(), RepoError> {
        let (new, change) = (*new, change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                diesel::update(rule::table.find(1))
                    .set((
                        rule::threshold.eq(as_i32(new.threshold)),
                        rule::window_days.eq(as_i32(new.window_days)),
                        rule::updated_at.eq(to_naive(at)),
                    ))
                    .execute(c)?;
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn alerts(
        &self,
        scope: &OrgPath,
        statuses: &[AlertStatus],
        page: &PageRequest,
    ) -> Result<Page<EmployerAlert>, RepoError> {
        let (lower, upper) = scope.subtree_range();
        let statuses: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
        let request = page.clone();
        self.run(move |c| {
            let mut q = al::table
                .filter(al::org_path.ge(lower))
                .filter(al::org_path.lt(upper))
                .order((al::created_at.desc(), al::id.desc()))
                .limit(i64::from(request.limit))
                .select(AlertRow::as_select())
                .into_boxed();
            if !statuses.is_empty() {
                q = q.filter(al::status.eq_any(statuses));
            }
            if let Some(TimeKey { at, id }) = start_after::<TimeKey>(&request)? {
                q = q.filter(
                    al::created_at
                        .lt(at)
                        .or(al::created_at.eq(at).and(al::id.lt(id))),
                );
            }
            let rows: Vec<AlertRow> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(AlertRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                TimeKey::new(r.created_at, r.id)
            }))
        })
        .await
    }

    async fn alert(&self, id: AlertId) -> Result<EmployerAlert, RepoError> {
        self.run(move |c| {
            let row: AlertRow = al::table
                .find(id.to_string())
                .select(AlertRow::as_select())
                .first(c)
                .map_err(|e| TxError::from(e).into_repo())?;
            row.into_domain()
        })
        .await
    }

    async fn acknowledge(
        &self,
        id: AlertId,
        by: AccountId,
        note: Option<String>,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<EmployerAlert, RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let key = id.to_string();
                let changed = diesel::update(
                    al::table
                        .find(&key)
                        .filter(al::status.eq(AlertStatus::Open.as_str())),
                )
                .set((
                    al::status.eq(AlertStatus::Acknowledged.as_str()),
                    al::acknowledged_by.eq(by.to_string()),
                    al::acknowledged_at.eq(to_naive(at)),
                    al::note.eq(note.as_deref()),
                ))
                .execute(c)?;
                let row: AlertRow = al::table
                    .find(&key)
                    .select(AlertRow::as_select())
                    .first(c)?;
                if changed == 0 {
                    return Err(TxError::refused(RosterConflict::AlreadyAcknowledged));
                }
                record_change(c, &change)?;
                row.into_domain().map_err(TxError::Repo)
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::{TimeDelta, TimeZone};
    use serde_json::json;
    use yiwang_domain::account::{Official, Role, Username};
    use yiwang_domain::audit::{Actor, AuditEntry};
    use yiwang_domain::calendar::WorkingCalendar;
    use yiwang_domain::consultation::category::Category;
    use yiwang_domain::consultation::message::{Author, Message};
    use yiwang_domain::consultation::store::{ConsultationRepository, RosterRepository};
    use yiwang_domain::consultation::thread::Question;
    use yiwang_domain::membership::identity::CreditCode;
    use yiwang_domain::org::{OrgKind, OrgName, Organisation};
    use yiwang_domain::store::{OfficialRepository, OrgRepository, WorkerRepository};

    use super::*;
    use crate::db::test_env::backends;

    fn day(d: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 2, 0, 0).unwrap() + TimeDelta::hours(d * 24)
    }

    fn change() -> Change {
        Change {
            audit: AuditEntry {
                actor: Actor::System,
                action: "test".into(),
                record_type: "test".into(),
                record_id: "-".into(),
                ip: None,
                request_id: None,
                detail: json!({}),
                at: day(0),
            },
            event: None,
            answer: None,
        }
    }

    struct Asker<'a> {
        db: &'a Database,
        categories: Vec<Category>,
        n: std::sync::atomic::AtomicUsize,
    }

    impl Asker<'_> {
        /// A new worker of `org` asks in `category` about `employer` (and `code`) at `at`.
        async fn ask(
            &self,
            org: &Organisation,
            category: &str,
            employer: &str,
            code: Option<&str>,
            at: DateTime<Utc>,
        ) {
            let n = self.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let worker = self
                .db
                .login_by_openid(&format!("o-{n}"), None, at)
                .await
                .unwrap()
                .0
                .id;
            let category = self
                .categories
                .iter()
                .find(|c| c.code.as_str() == category)
                .unwrap();
            let question = Question {
                account: worker,
                org_id: org.id,
                org_path: org.path.clone(),
                title: "欠薪".into(),
                employer: Some(employer.into()),
                employer_credit_code: code.map(|c| CreditCode::parse(c).unwrap()),
                chosen_lawyer: None,
                held: false,
            };
            let k = Consultation::new(question, category, &WorkingCalendar::default(), at);
            let first = Message::new(k.id, Author::Worker, Some(worker), "老板欠薪".into(), at);
            self.db.open(&k, &first, &change()).await.unwrap();
        }
    }

    async fn all(db: &Database, scope: &OrgPath) -> Vec<EmployerAlert> {
        let page = PageRequest {
            after: None,
            limit: 100,
        };
        db.alerts(scope, &[], &page).await.unwrap().items
    }

    #[tokio::test]
    async fn five_workers_naming_one_employer_in_a_week_raise_one_alert_for_their_branch() {
        for env in backends() {
            let db = &env.db;
            let name = |n: &str| OrgName::parse(n).unwrap();
            let root =
                Organisation::new_root(name("郑州市总工会"), OrgKind::CityFederation, day(0));
            OrgRepository::create(db, &root, &change()).await.unwrap();
            let jj = Organisation::new_child(
                &root,
                name("金水区总工会"),
                OrgKind::CountyFederation,
                true,
                day(0),
            );
            let ly = Organisation::new_child(
                &root,
                name("管城区总工会"),
                OrgKind::CountyFederation,
                true,
                day(0),
            );
            for o in [&jj, &ly] {
                OrgRepository::create(db, o, &change()).await.unwrap();
            }
            let asker = Asker {
                db,
                categories: db.categories().await.unwrap(),
                n: 0.into(),
            };
            assert_eq!(db.alert_rule().await.unwrap(), AlertRule::default());

            // Four in a week, written four ways; an unwatched category does not count.
            for (i, written) in [
                "郑州某某快递有限公司",
                "郑州某某快递",
                "郑州 某某快递（有限公司）",
                "郑州某某快递有限责任公司",
            ]
            .iter()
            .enumerate()
            {
                asker
                    .ask(&jj, "wage_arrears", written, None, day(i as i64))
                    .await;
            }
            asker
                .ask(&jj, "marriage_family", "郑州某某快递", None, day(4))
                .await;
            assert!(
                all(db, &root.path).await.is_empty(),
                "{:?}",
                db.backend_kind()
            );

            // The fifth, from another branch: one alert, held by their common branch.
            asker
                .ask(&ly, "labour_dispute", "郑州某某快递有限公司", None, day(5))
                .await;
            let alerts = all(db, &root.path).await;
            assert_eq!(alerts.len(), 1, "{:?}", db.backend_kind());
            let a = &alerts[0];
            assert_eq!(
                (a.consultations, a.status, a.org_id),
                (5, AlertStatus::Open, root.id)
            );
            assert_eq!((a.first_at, a.last_at), (day(0), day(5)));
            assert!(
                all(db, &jj.path).await.is_empty(),
                "a branch below does not hold it"
            );

            // A sixth counts into the open alert.
            asker
                .ask(&jj, "wage_arrears", "郑州某某快递", None, day(6))
                .await;
            let alerts = all(db, &root.path).await;
            assert_eq!((alerts.len(), alerts[0].consultations), (1, 6));

            // Acknowledged once; a second acknowledgement is refused.
            let official = Official {
                id: AccountId::new(),
                username: Username::parse("zz.admin").unwrap(),
                display_name: "王主席".into(),
                org_id: root.id,
                org_path: root.path.clone(),
                role: Role::OrgAdmin,
                disabled_at: None,
                password_change_required: false,
                created_at: day(0),
            };
            OfficialRepository::create(db, &official, "hash", &change())
                .await
                .unwrap();
            let id = alerts[0].id;
            let note = Some("已约谈企业".to_owned());
            let acked = db
                .acknowledge(id, official.id, note, day(6), &change())
                .await
                .unwrap();
            assert_eq!(
                (acked.status, acked.acknowledged_by),
                (AlertStatus::Acknowledged, Some(official.id))
            );
            let again = db
                .acknowledge(id, official.id, None, day(6), &change())
                .await;
            assert!(
                matches!(&again, Err(RepoError::Refused(r)) if r.is(&RosterConflict::AlreadyAcknowledged)),
                "{again:?}"
            );

            // After it, a new burst counts from zero: four more raise nothing, a fifth does.
            for d in 7..11 {
                asker
                    .ask(&jj, "wage_arrears", "郑州某某快递", None, day(d))
                    .await;
            }
            assert_eq!(
                all(db, &root.path).await.len(),
                1,
                "{:?}",
                db.backend_kind()
            );
            asker
                .ask(&jj, "wage_arrears", "郑州某某快递", None, day(11))
                .await;
            let alerts = all(db, &root.path).await;
            assert_eq!(alerts.len(), 2, "{:?}", db.backend_kind());
            assert_eq!(
                (alerts[0].consultations, alerts[0].org_id),
                (5, jj.id),
                "newest first"
            );

            // By credit code, whatever the name; the window is the rule's: with 2 in 3 days,
            // two asks 4 days apart raise nothing, a third the next day does.
            let rule = AlertRule::new(2, 3).unwrap();
            db.save_alert_rule(&rule, day(0), &change()).await.unwrap();
            let code = Some("91350100M000100Y43");
            asker
                .ask(&ly, "wage_arrears", "甲公司", code, day(20))
                .await;
            asker
                .ask(&ly, "wage_arrears", "乙物流", code, day(24))
                .await;
            assert_eq!(all(db, &ly.path).await.len(), 0, "{:?}", db.backend_kind());
            asker.ask(&ly, "wage_arrears", "", code, day(25)).await;
            let alerts = all(db, &ly.path).await;
            assert_eq!(alerts.len(), 1, "{:?}", db.backend_kind());
            assert_eq!(alerts[0].employer_key.as_str(), "credit:91350100M000100Y43");
            assert_eq!((alerts[0].consultations, alerts[0].rule), (2, rule));
            let open = db.alerts(
                &root.path,
                &[AlertStatus::Open],
                &PageRequest {
                    after: None,
                    limit: 10,
                },
            );
            assert_eq!(open.await.unwrap().items.len(), 2);
        }
    }

    #[tokio::test]
    async fn five_asking_at_once_raise_exactly_one_alert() {
        for env in backends() {
            let db = &env.db;
            let root = Organisation::new_root(
                OrgName::parse("垦利区总工会").unwrap(),
                OrgKind::CountyFederation,
                day(0),
            );
            OrgRepository::create(db, &root, &change()).await.unwrap();
            let asker = Asker {
                db,
                categories: db.categories().await.unwrap(),
                n: 0.into(),
            };
            let asks = (0..5).map(|i| {
                asker.ask(
                    &root,
                    "wage_arrears",
                    "某建筑劳务公司",
                    None,
                    day(0) + TimeDelta::seconds(i),
                )
            });
            futures_util::future::join_all(asks).await;
            let alerts = all(db, &root.path).await;
            assert_eq!(alerts.len(), 1, "{:?}", db.backend_kind());
            assert_eq!(alerts[0].consultations, 5);
        }
    }
}
