//! [`MembershipRepository`] on the shared schema: applications with their history, members
//! and member numbers.
//!
//! Races are settled by the database, not by reading first: a decision is one conditional
//! `UPDATE … WHERE status = 'submitted'` (the loser updates no row), and the partial unique
//! indexes of the migration keep one open application and one membership per person.

mod rows;
mod writes;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::idempotency::AnswerOf;
use yiwang_domain::membership::application::{
    ApplicantDetails, Application, ApplicationAction, ApplicationEvent, ApplicationId,
    ApplicationStatus, Decision,
};
use yiwang_domain::membership::member::{Member, MemberId, MemberStatus};
use yiwang_domain::membership::store::{
    MemberFilter, MembershipConflict, MembershipRepository, QueueFilter, SealedRef,
};
use yiwang_domain::membership::transfer::{HistoryEvent, TransferStatus};
use yiwang_domain::org::OrgPath;
use yiwang_domain::store::{Page, PageRequest, RepoError};

use super::codec::account_id;
use super::page::{page_of, start_after, TextKey, TimeKey};
use super::schema::{
    members as m, membership_application_events as ev, membership_applications as a,
    membership_history as h, membership_transfers as t, organisations as o,
};
use super::{
    claim_writer, corrupt, from_naive, like_contains, record_change, to_naive, unexpected,
    Database, TxError,
};

#[allow(unused_imports)]
use rows::*;
#[allow(unused_imports)]
use writes::*;
pub(super) use writes::{erase_applications, erase_members, record_event};

#[async_trait]
impl MembershipRepository for Database {
    async fn submit(
        &self,
        id: ApplicationId,
        account_id: AccountId,
        details: &ApplicantDetails,
        org_path: &OrgPath,
        at: DateTime<Utc>,
        change: &Change,
        answer: AnswerOf<Application>,
    ) -> Result<Application, RepoError> {
        let (d, path, mut change) = (details.clone(), org_path.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let (key, account) = (id.to_string(), account_id.to_string());
                check_may_apply(c, &account, &d.id_number.index, None)?;
                let now = to_naive(at);
                diesel::insert_into(a::table)
                    .values((
                        a::id.eq(&key),
                        a::account_id.eq(&account),
                        a::org_id.eq(d.org_id.to_string()),
                        a::org_path.eq(path.as_str()),
                        a::status.eq(ApplicationStatus::Submitted.as_str()),
                        a::consent_version.eq(&d.consent_version),
                        a::consented_at.eq(now),
                        a::submitted_at.eq(now),
                        a::created_at.eq(now),
                        a::updated_at.eq(now),
                        a::employment_form.eq(d.employment_form.as_str()),
                    ))
                    .execute(c)?;
                write_details(c, &key, &d)?;
                record_event(c, &key, ApplicationAction::Submitted, None, at, &change)?;
                let application = load_application(c, &key)?;
                change.answer = answer(&application);
                record_change(c, &change)?;
                Ok(application)
            })
            .map_err(|e: TxError| e.unique_as(MembershipConflict::OpenApplication))
        })
        .await
    }

    async fn resubmit(
        &self,
        id: ApplicationId,
        account_id: AccountId,
        details: &ApplicantDetails,
        org_path: &OrgPath,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Application, RepoError> {
        let (d, path, change) = (details.clone(), org_path.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let (key, account) = (id.to_string(), account_id.to_string());
                let current = load_application(c, &key)?;
                if current.account_id != account_id {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                if !current.status.may_resubmit() {
                    return Err(TxError::refused(MembershipConflict::ApplicationStatus));
                }
                check_may_apply(c, &account, &d.id_number.index, Some(&key))?;
                let now = to_naive(at);
                let n = diesel::update(
                    a::table
                        .filter(a::id.eq(&key))
                        .filter(a::status.eq(current.status.as_str())),
                )
                .set((
                    a::status.eq(ApplicationStatus::Submitted.as_str()),
                    a::org_id.eq(d.org_id.to_string()),
                    a::org_path.eq(path.as_str()),
                    a::consent_version.eq(&d.consent_version),
                    a::consented_at.eq(now),
                    a::submitted_at.eq(now),
                    a::updated_at.eq(now),
                    a::employment_form.eq(d.employment_form.as_str()),
                ))
                .execute(c)?;
                if n == 0 {
                    return Err(TxError::refused(MembershipConflict::ApplicationStatus));
                }
                write_details(c, &key, &d)?;
                record_event(c, &key, ApplicationAction::Resubmitted, None, at, &change)?;
                record_change(c, &change)?;
                load_application(c, &key)
            })
            .map_err(|e| e.unique_as(MembershipConflict::OpenApplication))
        })
        .await
    }

    async fn withdraw(
        &self,
        id: ApplicationId,
        account_id: AccountId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Application, RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let key = id.to_string();
                let current = load_application(c, &key)?;
                if current.account_id != account_id {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                let open = [
                    ApplicationStatus::Submitted.as_str(),
                    ApplicationStatus::Returned.as_str(),
                ];
                let n = diesel::update(
                    a::table
                        .filter(a::id.eq(&key))
                        .filter(a::status.eq_any(open)),
                )
                .set((
                    a::status.eq(ApplicationStatus::Withdrawn.as_str()),
                    a::updated_at.eq(to_naive(at)),
                ))
                .execute(c)?;
                if n == 0 {
                    return Err(TxError::refused(MembershipConflict::ApplicationStatus));
                }
                record_event(c, &key, ApplicationAction::Withdrawn, None, at, &change)?;
                record_change(c, &change)?;
                load_application(c, &key)
            })
            .map_err(TxError::into_repo)
        })
        .await
    }

    async fn application(&self, id: ApplicationId) -> Result<Application, RepoError> {
        self.run(move |c| load_application(c, &id.to_string()).map_err(|e| e.into_repo()))
            .await
    }

    async fn applications_of(&self, account_id: AccountId) -> Result<Vec<Application>, RepoError> {
        self.run(move |c| {
            let rows: Vec<(AppRow, String)> = a::table
                .inner_join(o::table)
                .select((AppRow::as_select(), o::name))
                .filter(a::account_id.eq(account_id.to_string()))
                .order((a::created_at.desc(), a::id.desc()))
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter()
                .map(|(row, org_name)| row.into_domain(org_name))
                .collect()
        })
        .await
    }

    async fn history(&self, id: ApplicationId) -> Result<Vec<ApplicationEvent>, RepoError> {
        self.run(move |c| {
            let rows: Vec<(
                String,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                NaiveDateTime,
            )> = ev::table
                .select((
                    ev::action,
                    ev::actor_id,
                    ev::reason_code,
                    ev::reason,
                    ev::missing,
                    ev::at,
                ))
                .filter(ev::application_id.eq(id.to_string()))
                .order((ev::at.asc(), ev::id.asc()))
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter()
                .map(|(action, actor, code, reason, missing, at)| {
                    Ok(ApplicationEvent {
                        action: ApplicationAction::parse(&action)
                            .ok_or_else(|| corrupt("application action", &action))?,
                        actor_id: actor.as_deref().map(account_id).transpose()?,
                        reason_code: code.as_deref().map(reject_reason).transpose()?,
                        reason,
                        missing,
                        at: from_naive(at),
                    })
                })
                .collect()
        })
        .await
    }

    async fn queue(
        &self,
        scope: &OrgPath,
        filter: &QueueFilter,
        page: &PageRequest,
    ) -> Result<Page<Application>, RepoError> {
        let (lower, upper) = filter.org.as_ref().unwrap_or(scope).subtree_range();
        let (filter, request) = (filter.clone(), page.clone());
        self.run(move |c| {
            let mut q = a::table
                .inner_join(o::table)
                .select((AppRow::as_select(), o::name))
                .filter(a::org_path.ge(lower))
                .filter(a::org_path.lt(upper))
                .order((a::submitted_at.asc(), a::id.asc()))
                .limit(i64::from(request.limit))
                .into_boxed();
            if let Some(status) = filter.status {
                q = q.filter(a::status.eq(status.as_str()));
            }
            if let Some(text) = filter.q.as_deref() {
                let pattern = like_contains(text);
                q = q.filter(
                    a::real_name
                        .like(pattern.clone())
                        .escape('\\')
                        .or(a::phone.like(pattern.clone()).escape('\\'))
                        .or(a::employer_name.like(pattern).escape('\\')),
                );
            }
            if let Some(TimeKey { at, id }) = start_after::<TimeKey>(&request)? {
                // The `>=` alone is what lets both planners seek into the index; the OR then
                // drops the rows of the same instant already shown.
                q = q.filter(a::submitted_at.ge(at)).filter(
                    a::submitted_at
                        .gt(at)
                        .or(a::submitted_at.eq(at).and(a::id.gt(id))),
                );
            }
            let rows: Vec<(AppRow, String)> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(|(row, org_name)| row.into_domain(org_name))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                TimeKey::new(r.submitted_at, r.id)
            }))
        })
        .await
    }

    async fn decide(
        &self,
        id: ApplicationId,
        decision: &Decision,
        by: AccountId,
        member_id: MemberId,
        at: DateTime<Utc>,
        change: &Change,
        answer: AnswerOf<(Application, Option<Member>)>,
    ) -> Result<(Application, Option<Member>), RepoError> {
        let (decision, mut change) = (decision.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let key = id.to_string();
                let now = to_naive(at);
                let (reason_code, reason, missing) = match &decision {
                    Decision::Approve => (None, None, None),
                    Decision::Reject {
                        reason_code,
                        reason,
                    } => (Some(reason_code.as_str()), Some(reason.clone()), None),
                    Decision::Return { missing } => (None, None, Some(missing.clone())),
                };
                let n = diesel::update(
                    a::table
                        .filter(a::id.eq(&key))
                        .filter(a::status.eq(ApplicationStatus::Submitted.as_str())),
                )
                .set((
                    a::status.eq(decision.status().as_str()),
                    a::decided_at.eq(Some(now)),
                    a::decided_by.eq(Some(by.to_string())),
                    a::reason_code.eq(reason_code),
                    a::reason.eq(reason),
                    a::missing.eq(missing),
                    a::updated_at.eq(now),
                ))
                .execute(c)?;
                if n == 0 {
                    // Either no such application or it is not (any longer) submitted.
                    load_application(c, &key)?;
                    return Err(TxError::refused(MembershipConflict::AlreadyDecided));
                }
                let action = match decision {
                    Decision::Approve => ApplicationAction::Approved,
                    Decision::Reject { .. } => ApplicationAction::Rejected,
                    Decision::Return { .. } => ApplicationAction::Returned,
                };
                record_event(c, &key, action, Some(&decision), at, &change)?;
                let member = if decision == Decision::Approve {
                    Some(admit(c, &key, member_id, at)?)
                } else {
                    None
                };
                let decided = (load_application(c, &key)?, member);
                change.answer = answer(&decided);
                record_change(c, &change)?;
                Ok(decided)
            })
            .map_err(|e| e.unique_as(MembershipConflict::ApplicantAlreadyMember))
        })
        .await
    }

    async fn member_of(&self, account_id: AccountId) -> Result<Option<Member>, RepoError> {
        self.run(move |c| {
            let row: Option<(MemberRow, String)> = m::table
                .inner_join(o::table)
                .select((MemberRow::as_select(), o::name))
                .filter(m::account_id.eq(account_id.to_string()))
                .filter(m::status.eq(MemberStatus::Active.as_str()))
                .first(c)
                .optional()
                .map_err(unexpected)?;
            row.map(|(row, org_name)| row.into_domain(org_name))
                .transpose()
        })
        .await
    }

    async fn member(&self, id: MemberId) -> Result<Member, RepoError> {
        self.run(move |c| load_member(c, &id.to_string()).map_err(|e| e.into_repo()))
            .await
    }

    async fn members_by_id(&self, ids: &[MemberId]) -> Result<Vec<Member>, RepoError> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.run(move |c| {
            let rows: Vec<(MemberRow, String)> = m::table
                .inner_join(o::table)
                .select((MemberRow::as_select(), o::name))
                .filter(m::id.eq_any(&ids))
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter()
                .map(|(row, org_name)| row.into_domain(org_name))
                .collect()
        })
        .await
    }

    async fn members(
        &self,
        scope: &OrgPath,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> Result<Page<Member>, RepoError> {
        let (lower, upper) = filter.org.as_ref().unwrap_or(scope).subtree_range();
        let (filter, request) = (filter.clone(), page.clone());
        self.run(move |c| {
            let mut q = members_matching!(lower, upper, filter).limit(i64::from(request.limit));
            if let Some(TextKey(after)) = start_after::<TextKey>(&request)? {
                q = q.filter(m::member_number.gt(after));
            }
            let rows: Vec<(MemberRow, String)> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(|(row, org_name)| row.into_domain(org_name))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                TextKey(r.member_number.clone())
            }))
        })
        .await
    }

    async fn export_members(
        &self,
        scope: &OrgPath,
        filter: &MemberFilter,
        limit: u32,
        change: &Change,
    ) -> Result<Option<Vec<Member>>, RepoError> {
        let (lower, upper) = filter.org.as_ref().unwrap_or(scope).subtree_range();
        let (filter, change) = (filter.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                // Read, then write the audit row: on SQLite take the write lock first.
                claim_writer(c)?;
                let rows: Vec<(MemberRow, String)> = members_matching!(lower, upper, filter)
                    .limit(i64::from(limit) + 1)
                    .load(c)?;
                if rows.len() > limit as usize {
                    return Ok(None);
                }
                let mut change = change.clone();
                if let Some(detail) = change.audit.detail.as_object_mut() {
                    detail.insert("rows".into(), rows.len().into());
                }
                record_change(c, &change)?;
                rows.into_iter()
                    .map(|(row, org_name)| row.into_domain(org_name).map_err(TxError::Repo))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn end_membership(
        &self,
        account_id: AccountId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Member, RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let now = to_naive(at);
                let (id, org): (String, String) = m::table
                    .filter(m::account_id.eq(account_id.to_string()))
                    .filter(m::status.eq(MemberStatus::Active.as_str()))
                    .select((m::id, m::org_id))
                    .first(c)?;
                diesel::update(
                    m::table
                        .filter(m::id.eq(&id))
                        .filter(m::status.eq(MemberStatus::Active.as_str())),
                )
                .set((
                    m::status.eq(MemberStatus::Ended.as_str()),
                    m::ended_at.eq(Some(now)),
                    m::updated_at.eq(now),
                ))
                .execute(c)?;
                diesel::update(
                    t::table
                        .filter(t::member_id.eq(&id))
                        .filter(t::status.eq(TransferStatus::Requested.as_str())),
                )
                .set((
                    t::status.eq(TransferStatus::Withdrawn.as_str()),
                    t::decided_at.eq(Some(now)),
                ))
                .execute(c)?;
                diesel::insert_into(h::table)
                    .values((
                        h::id.eq(Uuid::now_v7().to_string()),
                        h::member_id.eq(&id),
                        h::event.eq(HistoryEvent::Ended.as_str()),
                        h::org_id.eq(&org),
                        h::at.eq(now),
                    ))
                    .execute(c)?;
                record_change(c, &change)?;
                load_member(c, &id)
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn erase_expired(
        &self,
        cutoff: DateTime<Utc>,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<u64, RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let (cutoff, now) = (to_naive(cutoff), to_naive(at));
                let undecided_gone = [
                    ApplicationStatus::Rejected.as_str(),
                    ApplicationStatus::Withdrawn.as_str(),
                ];
                let mut ids: Vec<String> = a::table
                    .filter(a::erased_at.is_null())
                    .filter(a::status.eq_any(undecided_gone))
                    .filter(a::updated_at.lt(cutoff))
                    .select(a::id)
                    .load(c)?;
                let ended: Vec<String> = a::table
                    .filter(a::erased_at.is_null())
                    .filter(
                        a::id.eq_any(
                            m::table
                                .filter(m::status.eq(MemberStatus::Ended.as_str()))
                                .filter(m::ended_at.lt(cutoff))
                                .select(m::application_id),
                        ),
                    )
                    .select(a::id)
                    .load(c)?;
                ids.extend(ended);
                let mut n = 0;
                for chunk in ids.chunks(500) {
                    n += erase_applications(c, chunk, now)?;
                }
                let members: Vec<String> = m::table
                    .filter(m::erased_at.is_null())
                    .filter(m::status.eq(MemberStatus::Ended.as_str()))
                    .filter(m::ended_at.lt(cutoff))
                    .select(m::id)
                    .load(c)?;
                for chunk in members.chunks(500) {
                    n += erase_members(c, chunk, now)?;
                }
                if n > 0 {
                    let mut change = change.clone();
                    change.audit.detail =
                        serde_json::json!({ "records": n, "cutoff": cutoff.and_utc() });
                    record_change(c, &change)?;
                }
                Ok(u64::try_from(n).unwrap_or(u64::MAX))
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn sealed_id_number(
        &self,
        id: MemberId,
        change: &Change,
    ) -> Result<Option<SealedRef>, RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let (kid, sealed): (Option<String>, Option<String>) = m::table
                    .find(id.to_string())
                    .select((m::id_number_kid, m::id_number_sealed))
                    .first(c)?;
                record_change(c, &change)?;
                Ok(kid
                    .zip(sealed)
                    .map(|(kid, sealed)| SealedRef { kid, sealed }))
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
}
