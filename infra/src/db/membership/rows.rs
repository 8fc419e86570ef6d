//! Stored applications and members, and reading them back.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use yiwang_domain::audit::{Actor, Change};
use yiwang_domain::membership::application::{
    Application, ApplicationId, ApplicationStatus, RejectReason,
};
use yiwang_domain::membership::member::{Member, MemberId, MemberStatus};
use yiwang_domain::membership::{EmploymentForm, Sex};
use yiwang_domain::org::OrgPath;
use yiwang_domain::store::RepoError;

use crate::db::codec::{account_id, org_id};
use crate::db::schema::{members as m, membership_applications as a, organisations as o};
use crate::db::{corrupt, from_naive, DbConnection, TxError};

/// An application row; loaded beside its organisation's name.
#[derive(Queryable, Selectable)]
#[diesel(table_name = a)]
pub(super) struct AppRow {
    id: String,
    account_id: String,
    org_id: String,
    org_path: String,
    status: String,
    real_name: Option<String>,
    id_number_masked: Option<String>,
    birth_date: Option<NaiveDate>,
    sex: Option<String>,
    phone: Option<String>,
    employer_name: Option<String>,
    credit_code: Option<String>,
    industry: Option<String>,
    employment_form: String,
    city: Option<String>,
    consent_version: String,
    consented_at: NaiveDateTime,
    submitted_at: NaiveDateTime,
    decided_at: Option<NaiveDateTime>,
    decided_by: Option<String>,
    reason_code: Option<String>,
    reason: Option<String>,
    missing: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    erased_at: Option<NaiveDateTime>,
}

pub(super) fn employment_form(s: &str) -> Result<EmploymentForm, RepoError> {
    s.parse().map_err(|_| corrupt("employment form", s))
}

pub(super) fn sex(s: &str) -> Result<Sex, RepoError> {
    Sex::parse(s).ok_or_else(|| corrupt("sex", s))
}

pub(super) fn reject_reason(s: &str) -> Result<RejectReason, RepoError> {
    RejectReason::parse(s).ok_or_else(|| corrupt("reason code", s))
}

impl AppRow {
    pub(super) fn into_domain(self, org_name: String) -> Result<Application, RepoError> {
        Ok(Application {
            id: ApplicationId::parse(&self.id)
                .ok_or_else(|| corrupt("application id", &self.id))?,
            account_id: account_id(&self.account_id)?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            org_name,
            status: ApplicationStatus::parse(&self.status)
                .ok_or_else(|| corrupt("application status", &self.status))?,
            real_name: self.real_name,
            id_number_masked: self.id_number_masked,
            birth_date: self.birth_date,
            sex: self.sex.as_deref().map(sex).transpose()?,
            phone: self.phone,
            employer_name: self.employer_name,
            credit_code: self.credit_code,
            industry: self.industry,
            employment_form: employment_form(&self.employment_form)?,
            city: self.city,
            consent_version: self.consent_version,
            consented_at: from_naive(self.consented_at),
            submitted_at: from_naive(self.submitted_at),
            decided_at: self.decided_at.map(from_naive),
            decided_by: self.decided_by.as_deref().map(account_id).transpose()?,
            reason_code: self.reason_code.as_deref().map(reject_reason).transpose()?,
            reason: self.reason,
            missing: self.missing,
            created_at: from_naive(self.created_at),
            updated_at: from_naive(self.updated_at),
            erased_at: self.erased_at.map(from_naive),
        })
    }
}

/// A member row; loaded beside its organisation's name.
#[derive(Queryable, Selectable)]
#[diesel(table_name = m)]
pub(super) struct MemberRow {
    id: String,
    account_id: String,
    application_id: String,
    member_number: String,
    org_id: String,
    org_path: String,
    status: String,
    real_name: Option<String>,
    id_number_masked: Option<String>,
    phone: Option<String>,
    employment_form: String,
    joined_on: NaiveDate,
    ended_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

impl MemberRow {
    pub(super) fn into_domain(self, org_name: String) -> Result<Member, RepoError> {
        Ok(Member {
            id: MemberId::parse(&self.id).ok_or_else(|| corrupt("member id", &self.id))?,
            account_id: account_id(&self.account_id)?,
            application_id: ApplicationId::parse(&self.application_id)
                .ok_or_else(|| corrupt("application id", &self.application_id))?,
            member_number: self.member_number,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            org_name,
            status: MemberStatus::parse(&self.status)
                .ok_or_else(|| corrupt("member status", &self.status))?,
            real_name: self.real_name,
            id_number_masked: self.id_number_masked,
            phone: self.phone,
            employment_form: employment_form(&self.employment_form)?,
            joined_on: self.joined_on,
            ended_at: self.ended_at.map(from_naive),
            created_at: from_naive(self.created_at),
        })
    }
}

/// Members with `org_path` in `[$lower, $upper)` matching the [`MemberFilter`] `$filter`,
/// with their organisation's name, by member number: a boxed query to limit or page.
macro_rules! members_matching {
    ($lower:expr, $upper:expr, $filter:expr) => {{
        let mut q = m::table
            .inner_join(o::table)
            .select((MemberRow::as_select(), o::name))
            .filter(m::org_path.ge($lower))
            .filter(m::org_path.lt($upper))
            .order(m::member_number.asc())
            .into_boxed();
        match $filter.active {
            Some(true) => q = q.filter(m::status.eq(MemberStatus::Active.as_str())),
            Some(false) => q = q.filter(m::status.eq(MemberStatus::Ended.as_str())),
            None => {}
        }
        if let Some(text) = $filter.q.as_deref() {
            let pattern = like_contains(text);
            q = q.filter(
                m::real_name
                    .like(pattern.clone())
                    .escape('\\')
                    .or(m::phone.like(pattern.clone()).escape('\\'))
                    .or(m::member_number.like(pattern).escape('\\')),
            );
        }
        q
    }};
}

pub(super) fn load_application(c: &mut DbConnection, id: &str) -> Result<Application, TxError> {
    let (row, org_name): (AppRow, String) = a::table
        .inner_join(o::table)
        .select((AppRow::as_select(), o::name))
        .filter(a::id.eq(id))
        .first(c)?;
    row.into_domain(org_name).map_err(TxError::Repo)
}

pub(super) fn load_member(c: &mut DbConnection, id: &str) -> Result<Member, TxError> {
    let (row, org_name): (MemberRow, String) = m::table
        .inner_join(o::table)
        .select((MemberRow::as_select(), o::name))
        .filter(m::id.eq(id))
        .first(c)?;
    row.into_domain(org_name).map_err(TxError::Repo)
}

/// The account id of the actor in `change`, for the history row.
pub(super) fn actor_of(change: &Change) -> (String, Option<String>) {
    match &change.audit.actor {
        Actor::Account { kind, id } => (kind.as_str().to_owned(), Some(id.to_string())),
        Actor::System => ("system".to_owned(), None),
    }
}

pub(super) use members_matching;
