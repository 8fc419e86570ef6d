//! Enrolments and their fees.

use async_trait::async_trait;
use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::json;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::membership::member::{MemberId, MemberStatus};
use yiwang_domain::mutual_aid::enrolment::{Enrolment, EnrolmentId, FeePayment, PaymentMethod};
use yiwang_domain::mutual_aid::plan::{Plan, PlanId};
use yiwang_domain::mutual_aid::store::{EnrolmentFilter, MutualAidConflict};
use yiwang_domain::org::OrgPath;
use yiwang_domain::store::{Page, PageRequest, RepoError};

use crate::db::codec::{account_id, like_contains, org_id};
use crate::db::page::{page_of, start_after, DayKey};
use crate::db::schema::{members as m, mutual_aid_enrollments as e, mutual_aid_plans as p};
use crate::db::{
    claim_writer, record_change, to_naive, unexpected, Database, DbConnection, TxError,
};

use super::*;
use yiwang_domain::mutual_aid::store::EnrolmentRepository;

#[derive(Queryable, Selectable)]
#[diesel(table_name = e)]
pub(super) struct EnrolmentRow {
    id: String,
    plan_id: String,
    member_id: String,
    account_id: String,
    org_id: String,
    org_path: String,
    requested_on: NaiveDate,
    payment_method: Option<String>,
    amount_fen: Option<i64>,
    payment_reference: Option<String>,
    recorded_by: Option<String>,
    activated_on: Option<NaiveDate>,
}

impl EnrolmentRow {
    pub(super) fn into_domain(self) -> Result<Enrolment, RepoError> {
        let payment = match (
            self.payment_method,
            self.amount_fen,
            self.recorded_by,
            self.activated_on,
        ) {
            (Some(method), Some(amount), Some(by), Some(on)) => Some(FeePayment {
                method: parsed("payment method", &method, PaymentMethod::parse)?,
                amount_fen: fen("fee", amount)?,
                reference: self.payment_reference,
                recorded_by: account_id(&by)?,
                activated_on: on,
            }),
            _ => None,
        };
        Ok(Enrolment {
            id: parsed("enrolment id", &self.id, EnrolmentId::parse)?,
            plan_id: parsed("plan id", &self.plan_id, PlanId::parse)?,
            member_id: parsed("member id", &self.member_id, MemberId::parse)?,
            account_id: account_id(&self.account_id)?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            requested_on: self.requested_on,
            payment,
        })
    }
}

pub(super) fn load_enrolment(c: &mut DbConnection, id: &str) -> Result<Enrolment, TxError> {
    let row: EnrolmentRow = e::table
        .find(id)
        .select(EnrolmentRow::as_select())
        .first(c)?;
    row.into_domain().map_err(TxError::Repo)
}

/// The enrolment `id` with its plan at the plan's current version, and whether its member
/// is in force in the plan's subtree ([`Plan::takes_members_of`]): what a submission is
/// judged by, read in one statement.
pub(super) fn enrolment_with_plan(
    c: &mut DbConnection,
    id: &str,
) -> Result<(Enrolment, Plan, bool), TxError> {
    let active = m::account_id
        .eq(e::account_id)
        .and(m::status.eq(MemberStatus::Active.as_str()));
    let (row, plan, member_org): (EnrolmentRow, PlanRow, Option<String>) = e::table
        .inner_join(p::table)
        .left_join(m::table.on(active))
        .filter(e::id.eq(id))
        .select((
            EnrolmentRow::as_select(),
            PlanRow::as_select(),
            m::org_path.nullable(),
        ))
        .first(c)?;
    let plan = plan.into_domain().map_err(TxError::Repo)?;
    let in_scope = member_org.is_some_and(|org| plan.takes_members_of(&OrgPath::from_stored(org)));
    Ok((row.into_domain().map_err(TxError::Repo)?, plan, in_scope))
}

#[async_trait]
impl EnrolmentRepository for Database {
    async fn enrol(&self, enrollment: &Enrolment, change: &Change) -> Result<(), RepoError> {
        let (en, change) = (enrollment.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let now = to_naive(change.audit.at);
                diesel::insert_into(e::table)
                    .values((
                        e::id.eq(en.id.to_string()),
                        e::plan_id.eq(en.plan_id.to_string()),
                        e::member_id.eq(en.member_id.to_string()),
                        e::account_id.eq(en.account_id.to_string()),
                        e::org_id.eq(en.org_id.to_string()),
                        e::org_path.eq(en.org_path.as_str()),
                        e::requested_on.eq(en.requested_on),
                        e::created_at.eq(now),
                        e::updated_at.eq(now),
                    ))
                    .execute(c)?;
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.unique_as(MutualAidConflict::AlreadyEnrolled))
        })
        .await
    }
    async fn enrollment(&self, id: EnrolmentId) -> Result<Enrolment, RepoError> {
        self.run(move |c| load_enrolment(c, &id.to_string()).map_err(|e| e.into_repo()))
            .await
    }
    async fn enrolments_of(&self, account: AccountId) -> Result<Vec<Enrolment>, RepoError> {
        self.run(move |c| {
            let rows: Vec<EnrolmentRow> = e::table
                .filter(e::account_id.eq(account.to_string()))
                .order((e::requested_on.desc(), e::id.desc()))
                .select(EnrolmentRow::as_select())
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter().map(EnrolmentRow::into_domain).collect()
        })
        .await
    }
    async fn enrollments(
        &self,
        scope: &OrgPath,
        filter: &EnrolmentFilter,
        page: &PageRequest,
    ) -> Result<Page<Enrolment>, RepoError> {
        let (lower, upper) = scope.subtree_range();
        let (filter, request) = (filter.clone(), page.clone());
        self.run(move |c| {
            let mut q = e::table
                .filter(e::org_path.ge(lower))
                .filter(e::org_path.lt(upper))
                .order((e::requested_on.asc(), e::id.asc()))
                .limit(i64::from(request.limit))
                .select(EnrolmentRow::as_select())
                .into_boxed();
            if let Some(plan) = filter.plan {
                q = q.filter(e::plan_id.eq(plan.to_string()));
            }
            match filter.paid {
                Some(true) => q = q.filter(e::activated_on.is_not_null()),
                Some(false) => q = q.filter(e::activated_on.is_null()),
                None => {}
            }
            if let Some(text) = filter.member.as_deref() {
                let pattern = like_contains(text);
                q = q.filter(
                    e::member_id.eq_any(
                        m::table
                            .filter(
                                m::real_name
                                    .like(pattern.clone())
                                    .escape('\\')
                                    .or(m::phone.like(pattern.clone()).escape('\\'))
                                    .or(m::member_number.like(pattern).escape('\\')),
                            )
                            .select(m::id),
                    ),
                );
            }
            if let Some(DayKey { day, id }) = start_after::<DayKey>(&request)? {
                q = q.filter(
                    e::requested_on
                        .gt(day)
                        .or(e::requested_on.eq(day).and(e::id.gt(id))),
                );
            }
            let rows: Vec<EnrolmentRow> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(EnrolmentRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                DayKey::new(r.requested_on, r.id)
            }))
        })
        .await
    }
    async fn record_payments(
        &self,
        ids: &[EnrolmentId],
        payment: &FeePayment,
        change: &Change,
    ) -> Result<Vec<(Enrolment, bool)>, RepoError> {
        let (ids, payment, change) = (ids.to_vec(), payment.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let now = to_naive(change.audit.at);
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    let key = id.to_string();
                    let n = diesel::update(e::table.find(&key).filter(e::activated_on.is_null()))
                        .set((
                            e::payment_method.eq(payment.method.as_str()),
                            e::amount_fen.eq(payment.amount_fen.get()),
                            e::payment_reference.eq(payment.reference.as_deref()),
                            e::recorded_by.eq(payment.recorded_by.to_string()),
                            e::activated_on.eq(payment.activated_on),
                            e::updated_at.eq(now),
                        ))
                        .execute(c)?;
                    let enrollment = load_enrolment(c, &key)?;
                    if n > 0 {
                        let mut each = change.clone();
                        each.audit.record_id.clone_from(&key);
                        if let Some(event) = &mut each.event {
                            event.payload = json!({
                                "enrollment_id": key,
                                "plan_id": enrollment.plan_id.to_string(),
                                "member_id": enrollment.member_id.to_string(),
                                "account_id": enrollment.account_id.to_string(),
                                "org_id": enrollment.org_id.to_string(),
                                "method": payment.method.as_str(),
                                "amount_fen": payment.amount_fen.get(),
                            });
                        }
                        record_change(c, &each)?;
                    }
                    out.push((enrollment, n > 0));
                }
                Ok(out)
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
}
