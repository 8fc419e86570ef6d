//! [`TransferRepository`] on the shared schema: membership transfers (会籍转移) and the
//! membership history.
//!
//! As with applications, races are settled by the database: a decision or a withdrawal is one
//! conditional `UPDATE … WHERE status = 'requested'`, and the partial unique index
//! `membership_transfers_pending` keeps one waiting request per member.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::idempotency::AnswerOf;
use yiwang_domain::membership::member::{MemberId, MemberStatus};
use yiwang_domain::membership::store::{MembershipConflict, TransferRepository};
use yiwang_domain::membership::transfer::{
    HistoryEntry, HistoryEvent, OrgBrief, Transfer, TransferDecision, TransferId, TransferStatus,
    TransferStep,
};
use yiwang_domain::org::{OrgId, OrgPath};
use yiwang_domain::store::{Page, PageRequest, RepoError};

use super::codec::{account_id, org_id};
use super::page::{page_of, start_after, TimeKey};
use super::schema::{
    members as m, membership_history as h, membership_transfers as t, organisations as o,
};
use super::{
    claim_writer, corrupt, decide_held, from_naive, held_first, record_change, to_naive,
    unexpected, Database, DbConnection, TxError,
};

/// A transfer row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct TransferRow {
    id: String,
    member_id: String,
    from_org_id: String,
    to_org_id: String,
    to_org_path: String,
    status: String,
    reason: Option<String>,
    requested_at: NaiveDateTime,
    decided_at: Option<NaiveDateTime>,
    decided_by: Option<String>,
    decision_reason: Option<String>,
}

/// What a transfer shows of its member.
#[derive(Queryable, Selectable)]
#[diesel(table_name = m)]
struct MemberPart {
    account_id: String,
    member_number: String,
    real_name: Option<String>,
    phone: Option<String>,
}

type Loaded = (TransferRow, MemberPart, String, String);

/// Transfers joined with their member and both organisations' names, as [`Loaded`].
macro_rules! transfers_with_names {
    () => {{
        let (from_org, to_org) = diesel::alias!(o as from_org, o as to_org);
        t::table
            .inner_join(m::table.on(m::id.eq(t::member_id)))
            .inner_join(from_org.on(from_org.field(o::id).eq(t::from_org_id)))
            .inner_join(to_org.on(to_org.field(o::id).eq(t::to_org_id)))
            .select((
                TransferRow::as_select(),
                MemberPart::as_select(),
                from_org.field(o::name),
                to_org.field(o::name),
            ))
    }};
}

fn to_domain((row, member, from_name, to_name): Loaded) -> Result<Transfer, RepoError> {
    Ok(Transfer {
        id: TransferId::parse(&row.id).ok_or_else(|| corrupt("transfer id", &row.id))?,
        member_id: MemberId::parse(&row.member_id)
            .ok_or_else(|| corrupt("member id", &row.member_id))?,
        account_id: account_id(&member.account_id)?,
        member_number: member.member_number,
        member_name: member.real_name,
        member_phone: member.phone,
        from_org: OrgBrief {
            id: org_id(&row.from_org_id)?,
            name: from_name,
        },
        to_org: OrgBrief {
            id: org_id(&row.to_org_id)?,
            name: to_name,
        },
        to_org_path: OrgPath::from_stored(row.to_org_path),
        status: TransferStatus::parse(&row.status)
            .ok_or_else(|| corrupt("transfer status", &row.status))?,
        reason: row.reason,
        requested_at: from_naive(row.requested_at),
        decided_at: row.decided_at.map(from_naive),
        decided_by: row.decided_by.as_deref().map(account_id).transpose()?,
        decision_reason: row.decision_reason,
    })
}

fn load_transfer(c: &mut DbConnection, id: &str) -> Result<Transfer, TxError> {
    let row: Loaded = transfers_with_names!().filter(t::id.eq(id)).first(c)?;
    to_domain(row).map_err(TxError::Repo)
}

/// Locks the row of `member` while it is in force (a write that changes nothing) and returns
/// whether it is. Every transaction that changes both a member and its transfers locks the
/// member first, as leaving does, so the two never wait on each other in opposite order.
fn lock_active_member(c: &mut DbConnection, member: &str) -> QueryResult<bool> {
    let n = diesel::update(
        m::table
            .filter(m::id.eq(member))
            .filter(m::status.eq(MemberStatus::Active.as_str())),
    )
    .set(m::updated_at.eq(m::updated_at))
    .execute(c)?;
    Ok(n > 0)
}

/// Runs `step` on transfer `key` with its rows held: for an approval the member's row first
/// (whether it is still in force), then the request's, as every transaction that changes both
/// does; writes the request, moves the member when approved, and records `change` with the
/// idempotent `answer` made from the request as written.
fn take_step(
    c: &mut DbConnection,
    key: &str,
    step: TransferStep,
    at: DateTime<Utc>,
    mut change: Change,
    answer: AnswerOf<Transfer>,
) -> Result<Transfer, RepoError> {
    let approving = matches!(
        step,
        TransferStep::Decide {
            decision: TransferDecision::Approve,
            ..
        }
    );
    decide_held(
        c,
        |c| {
            let in_force = if approving {
                let member: String = t::table.find(key).select(t::member_id).first(c)?;
                lock_active_member(c, &member)?
            } else {
                true
            };
            let _: String = held_first!(c, t::table.find(key).select(t::id))?;
            Ok((load_transfer(c, key)?, in_force))
        },
        |(before, in_force)| before.step(&step, *in_force, at),
        |c, _, after| {
            diesel::update(t::table.find(key))
                .set((
                    t::status.eq(after.status.as_str()),
                    t::decided_at.eq(after.decided_at.map(to_naive)),
                    t::decided_by.eq(after.decided_by.map(|b| b.to_string())),
                    t::decision_reason.eq(after.decision_reason.as_deref()),
                ))
                .execute(c)?;
            if after.status == TransferStatus::Approved {
                move_member(c, key, to_naive(at))?;
            }
            let written = load_transfer(c, key)?;
            change.answer = answer(&written);
            Ok((written, vec![change]))
        },
    )
    .map_err(TxError::into_repo)
}

/// Moves the member of approved transfer `key` to its receiving organisation and writes the
/// "transferred" history row.
fn move_member(c: &mut DbConnection, key: &str, now: NaiveDateTime) -> Result<(), TxError> {
    let (member, from, to, to_path): (String, String, String, String) = t::table
        .find(key)
        .select((t::member_id, t::from_org_id, t::to_org_id, t::to_org_path))
        .first(c)?;
    diesel::update(m::table.find(&member))
        .set((
            m::org_id.eq(&to),
            m::org_path.eq(&to_path),
            m::updated_at.eq(now),
        ))
        .execute(c)?;
    diesel::insert_into(h::table)
        .values((
            h::id.eq(Uuid::now_v7().to_string()),
            h::member_id.eq(&member),
            h::event.eq(HistoryEvent::Transferred.as_str()),
            h::org_id.eq(&to),
            h::from_org_id.eq(Some(&from)),
            h::at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

#[async_trait]
impl TransferRepository for Database {
    async fn request_transfer(
        &self,
        id: TransferId,
        account_id: AccountId,
        to: OrgId,
        reason: Option<&str>,
        at: DateTime<Utc>,
        change: &Change,
        answer: AnswerOf<Transfer>,
    ) -> Result<Transfer, RepoError> {
        let (reason, mut change) = (reason.map(str::to_owned), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let (member, from): (String, String) = m::table
                    .filter(m::account_id.eq(account_id.to_string()))
                    .filter(m::status.eq(MemberStatus::Active.as_str()))
                    .select((m::id, m::org_id))
                    .first(c)?;
                // Leaving at the same moment either commits first (and the lock finds the
                // membership ended) or waits, then withdraws this request with the others.
                if !lock_active_member(c, &member)? {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                let to = to.to_string();
                if from == to {
                    return Err(TxError::refused(MembershipConflict::SameOrganisation));
                }
                let to_path: String = o::table.find(&to).select(o::path).first(c)?;
                let key = id.to_string();
                diesel::insert_into(t::table)
                    .values((
                        t::id.eq(&key),
                        t::member_id.eq(&member),
                        t::from_org_id.eq(&from),
                        t::to_org_id.eq(&to),
                        t::to_org_path.eq(&to_path),
                        t::status.eq(TransferStatus::Requested.as_str()),
                        t::reason.eq(reason.as_deref()),
                        t::requested_at.eq(to_naive(at)),
                    ))
                    .execute(c)?;
                let transfer = load_transfer(c, &key)?;
                change.answer = answer(&transfer);
                record_change(c, &change)?;
                Ok(transfer)
            })
            .map_err(|e: TxError| e.unique_as(MembershipConflict::TransferOpen))
        })
        .await
    }

    async fn transfer(&self, id: TransferId) -> Result<Transfer, RepoError> {
        self.run(move |c| load_transfer(c, &id.to_string()).map_err(|e| e.into_repo()))
            .await
    }

    async fn transfers_of(&self, account_id: AccountId) -> Result<Vec<Transfer>, RepoError> {
        self.run(move |c| {
            let rows: Vec<Loaded> = transfers_with_names!()
                .filter(m::account_id.eq(account_id.to_string()))
                .order((t::requested_at.desc(), t::id.desc()))
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter().map(to_domain).collect()
        })
        .await
    }

    async fn transfer_queue(
        &self,
        scope: &OrgPath,
        status: Option<TransferStatus>,
        page: &PageRequest,
    ) -> Result<Page<Transfer>, RepoError> {
        let (lower, upper) = scope.subtree_range();
        let request = page.clone();
        self.run(move |c| {
            let mut q = transfers_with_names!()
                .filter(t::to_org_path.ge(lower))
                .filter(t::to_org_path.lt(upper))
                .order((t::requested_at.asc(), t::id.asc()))
                .limit(i64::from(request.limit))
                .into_boxed();
            if let Some(status) = status {
                q = q.filter(t::status.eq(status.as_str()));
            }
            if let Some(TimeKey { at, id }) = start_after::<TimeKey>(&request)? {
                // The redundant `>=` lets the index seek to the page instead of scanning.
                q = q.filter(t::requested_at.ge(at)).filter(
                    t::requested_at
                        .gt(at)
                        .or(t::requested_at.eq(at).and(t::id.gt(id))),
                );
            }
            let rows: Vec<Loaded> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(to_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                TimeKey::new(r.requested_at, r.id)
            }))
        })
        .await
    }

    async fn withdraw_transfer(
        &self,
        id: TransferId,
        account_id: AccountId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Transfer, RepoError> {
        let step = TransferStep::Withdraw { by: account_id };
        let change = change.clone();
        self.run(move |c| take_step(c, &id.to_string(), step, at, change, Box::new(|_| None)))
            .await
    }

    async fn decide_transfer(
        &self,
        id: TransferId,
        decision: &TransferDecision,
        by: AccountId,
        at: DateTime<Utc>,
        change: &Change,
        answer: AnswerOf<Transfer>,
    ) -> Result<Transfer, RepoError> {
        let step = TransferStep::Decide {
            decision: decision.clone(),
            by,
        };
        let change = change.clone();
        self.run(move |c| take_step(c, &id.to_string(), step, at, change, answer))
            .await
    }

    async fn membership_history(
        &self,
        member_id: MemberId,
    ) -> Result<Vec<HistoryEntry>, RepoError> {
        self.run(move |c| {
            let (org, from_org) = diesel::alias!(o as org, o as from_org);
            let rows: Vec<(
                String,
                String,
                String,
                Option<String>,
                Option<String>,
                NaiveDateTime,
            )> = h::table
                .inner_join(org.on(org.field(o::id).eq(h::org_id)))
                .left_join(from_org.on(from_org.field(o::id).nullable().eq(h::from_org_id)))
                .filter(h::member_id.eq(member_id.to_string()))
                .order((h::at.asc(), h::id.asc()))
                .select((
                    h::event,
                    h::org_id,
                    org.field(o::name),
                    h::from_org_id,
                    from_org.field(o::name).nullable(),
                    h::at,
                ))
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter()
                .map(|(event, org, name, from, from_name, at)| {
                    Ok(HistoryEntry {
                        event: HistoryEvent::parse(&event)
                            .ok_or_else(|| corrupt("history event", &event))?,
                        org: OrgBrief {
                            id: org_id(&org)?,
                            name,
                        },
                        from_org: match (from, from_name) {
                            (Some(id), Some(name)) => Some(OrgBrief {
                                id: org_id(&id)?,
                                name,
                            }),
                            _ => None,
                        },
                        at: from_naive(at),
                    })
                })
                .collect()
        })
        .await
    }
}
