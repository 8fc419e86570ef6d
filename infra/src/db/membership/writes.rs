//! The writes several steps share: the timeline, the may-apply check, the applicant's details,
//! admitting a member, and erasing personal data past its retention.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;
use yiwang_domain::audit::Change;
use yiwang_domain::calendar::china_date;
use yiwang_domain::membership::application::{
    ApplicantDetails, ApplicationAction, ApplicationStatus, Decision,
};
use yiwang_domain::membership::member::{member_number, Member, MemberId, MemberStatus};
use yiwang_domain::membership::store::MembershipConflict;
use yiwang_domain::membership::transfer::HistoryEvent;

use crate::db::schema::{
    members as m, membership_application_events as ev, membership_applications as a,
    membership_history as h, organisations as o,
};
use crate::db::{corrupt, to_naive, DbConnection, TxError};

/// An application row; loaded beside its organisation's name.
use super::*;

pub(in crate::db) fn record_event(
    c: &mut DbConnection,
    application_id: &str,
    action: ApplicationAction,
    decision: Option<&Decision>,
    at: DateTime<Utc>,
    change: &Change,
) -> QueryResult<()> {
    let (actor_kind, actor_id) = actor_of(change);
    let (reason_code, reason, missing) = match decision {
        Some(Decision::Reject {
            reason_code,
            reason,
        }) => (Some(reason_code.as_str()), Some(reason.as_str()), None),
        Some(Decision::Return { missing }) => (None, None, Some(missing.as_str())),
        _ => (None, None, None),
    };
    diesel::insert_into(ev::table)
        .values((
            ev::id.eq(Uuid::now_v7().to_string()),
            ev::application_id.eq(application_id),
            ev::action.eq(action.as_str()),
            ev::actor_kind.eq(actor_kind),
            ev::actor_id.eq(actor_id),
            ev::reason_code.eq(reason_code),
            ev::reason.eq(reason),
            ev::missing.eq(missing),
            ev::at.eq(to_naive(at)),
        ))
        .execute(c)?;
    Ok(())
}

/// Refuses a (re)submission when the person or the account already holds a membership in
/// force, or the account has another open application.
pub(super) fn check_may_apply(
    c: &mut DbConnection,
    account: &str,
    index: &str,
    except: Option<&str>,
) -> Result<(), TxError> {
    let members: i64 = m::table
        .filter(m::status.eq(MemberStatus::Active.as_str()))
        .filter(m::id_number_index.eq(index).or(m::account_id.eq(account)))
        .count()
        .get_result(c)?;
    if members > 0 {
        return Err(TxError::refused(MembershipConflict::AlreadyMember));
    }
    let open = [
        ApplicationStatus::Submitted.as_str(),
        ApplicationStatus::Returned.as_str(),
    ];
    let mut q = a::table
        .filter(a::status.eq_any(open))
        .filter(a::id_number_index.eq(index).or(a::account_id.eq(account)))
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(a::id.ne(id));
    }
    let open_apps: i64 = q.count().get_result(c)?;
    if open_apps > 0 {
        return Err(TxError::refused(MembershipConflict::OpenApplication));
    }
    Ok(())
}

/// Sets every personal column of applications `ids` to NULL and marks them erased.
pub(in crate::db) fn erase_applications(
    c: &mut DbConnection,
    ids: &[String],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(a::table.filter(a::id.eq_any(ids)))
        .set((
            a::real_name.eq(None::<String>),
            a::id_number_kid.eq(None::<String>),
            a::id_number_sealed.eq(None::<String>),
            a::id_number_index.eq(None::<String>),
            a::id_number_masked.eq(None::<String>),
            a::birth_date.eq(None::<NaiveDate>),
            a::sex.eq(None::<String>),
            a::phone.eq(None::<String>),
            a::employer_name.eq(None::<String>),
            a::credit_code.eq(None::<String>),
            a::industry.eq(None::<String>),
            a::city.eq(None::<String>),
            a::erased_at.eq(Some(now)),
        ))
        .execute(c)
}

/// Sets every personal column of members `ids` to NULL and marks them erased.
pub(in crate::db) fn erase_members(
    c: &mut DbConnection,
    ids: &[String],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(m::table.filter(m::id.eq_any(ids)))
        .set((
            m::real_name.eq(None::<String>),
            m::id_number_kid.eq(None::<String>),
            m::id_number_sealed.eq(None::<String>),
            m::id_number_index.eq(None::<String>),
            m::id_number_masked.eq(None::<String>),
            m::phone.eq(None::<String>),
            m::erased_at.eq(Some(now)),
        ))
        .execute(c)
}

/// Writes the applicant's details (personal columns) of application `key`.
pub(super) fn write_details(
    c: &mut DbConnection,
    key: &str,
    d: &ApplicantDetails,
) -> QueryResult<()> {
    diesel::update(a::table.find(key))
        .set((
            a::real_name.eq(Some(&d.real_name)),
            a::id_number_kid.eq(Some(&d.id_number.kid)),
            a::id_number_sealed.eq(Some(&d.id_number.sealed)),
            a::id_number_index.eq(Some(&d.id_number.index)),
            a::id_number_masked.eq(Some(&d.id_number.masked)),
            a::birth_date.eq(Some(d.birth_date)),
            a::sex.eq(Some(d.sex.as_str())),
            a::phone.eq(Some(&d.phone)),
            a::employer_name.eq(Some(&d.employer_name)),
            a::credit_code.eq(d.credit_code.as_deref()),
            a::industry.eq(Some(&d.industry)),
            a::city.eq(Some(&d.city)),
        ))
        .execute(c)?;
    Ok(())
}

/// Creates the member record of approved application `key`, with the organisation's next
/// member number, and the "joined" history row.
pub(super) fn admit(
    c: &mut DbConnection,
    key: &str,
    member_id: MemberId,
    at: DateTime<Utc>,
) -> Result<Member, TxError> {
    type Personal = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    );
    let (account, org, path, name, kid, sealed, index, masked, phone, form): Personal = a::table
        .find(key)
        .select((
            a::account_id,
            a::org_id,
            a::org_path,
            a::real_name,
            a::id_number_kid,
            a::id_number_sealed,
            a::id_number_index,
            a::id_number_masked,
            a::phone,
            a::employment_form,
        ))
        .first(c)?;
    diesel::update(o::table.find(&org))
        .set(o::member_seq.eq(o::member_seq + 1))
        .execute(c)?;
    let (seq, code): (i64, Option<String>) = o::table
        .find(&org)
        .select((o::member_seq, o::code))
        .first(c)?;
    let code = code.ok_or_else(|| TxError::Repo(corrupt("organisation code", &org)))?;
    let number = member_number(&code, seq);
    let now = to_naive(at);
    let member_key = member_id.to_string();
    diesel::insert_into(m::table)
        .values((
            m::id.eq(&member_key),
            m::account_id.eq(&account),
            m::application_id.eq(key),
            m::member_number.eq(&number),
            m::org_id.eq(&org),
            m::org_path.eq(&path),
            m::status.eq(MemberStatus::Active.as_str()),
            m::real_name.eq(name),
            m::id_number_kid.eq(kid),
            m::id_number_sealed.eq(sealed),
            m::id_number_index.eq(index),
            m::id_number_masked.eq(masked),
            m::phone.eq(phone),
            m::employment_form.eq(form),
            m::joined_on.eq(china_date(at)),
            m::created_at.eq(now),
            m::updated_at.eq(now),
        ))
        .execute(c)?;
    diesel::insert_into(h::table)
        .values((
            h::id.eq(Uuid::now_v7().to_string()),
            h::member_id.eq(&member_key),
            h::event.eq(HistoryEvent::Joined.as_str()),
            h::org_id.eq(&org),
            h::at.eq(now),
        ))
        .execute(c)?;
    load_member(c, &member_key)
}
