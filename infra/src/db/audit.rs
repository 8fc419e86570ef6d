//! The one helper that writes an audit row, an outbox event and an `Idempotency-Key` answer
//! beside a change, inside the caller's transaction (issue #2, item 10; issue #5).

use async_trait::async_trait;
use diesel::prelude::*;
use uuid::Uuid;
use yiwang_domain::audit::{Actor, AuditLog, Change};
#[cfg(doc)]
use yiwang_domain::idempotency::IdempotencyConflict;
use yiwang_domain::store::RepoError;

use super::schema::{audit_log, outbox};
use super::{execute_on, to_naive, Database, DbConnection, TxError};

#[async_trait]
impl AuditLog for Database {
    async fn record_read(&self, change: &Change) -> Result<(), RepoError> {
        let change = change.clone();
        self.run(move |c| record_change(c, &change).map_err(TxError::into_repo))
            .await
    }
}

/// Writes `change.audit` and, when present, `change.event` and `change.answer` with `conn`,
/// which must be inside the transaction of the change they describe. An answer for a key
/// already stored is refused ([`IdempotencyConflict::Answered`]): the change is not made.
pub(crate) fn record_change(conn: &mut DbConnection, change: &Change) -> Result<(), TxError> {
    record_changes(conn, std::slice::from_ref(change))
}

/// [`record_change`] for each of `changes`, in order: their audit rows in one statement and
/// their outbox events in another (batch inserts, which the multi-backend DSL lacks, so they
/// run on the concrete connection).
pub(crate) fn record_changes(conn: &mut DbConnection, changes: &[Change]) -> Result<(), TxError> {
    let audits: Vec<_> = changes
        .iter()
        .map(|change| {
            let a = &change.audit;
            let (actor_kind, actor_id) = match &a.actor {
                Actor::Account { kind, id } => (kind.as_str(), Some(id.to_string())),
                Actor::System => ("system", None),
            };
            (
                audit_log::id.eq(Uuid::now_v7().to_string()),
                audit_log::at.eq(to_naive(a.at)),
                audit_log::actor_kind.eq(actor_kind),
                audit_log::actor_id.eq(actor_id),
                audit_log::action.eq(&a.action),
                audit_log::record_type.eq(&a.record_type),
                audit_log::record_id.eq(&a.record_id),
                audit_log::ip.eq(&a.ip),
                audit_log::request_id.eq(&a.request_id),
                audit_log::detail.eq(a.detail.to_string()),
            )
        })
        .collect();
    let events: Vec<_> = changes
        .iter()
        .filter_map(|change| {
            let event = change.event.as_ref()?;
            Some((
                outbox::id.eq(Uuid::now_v7().to_string()),
                outbox::topic.eq(&event.topic),
                outbox::payload.eq(event.payload.to_string()),
                outbox::created_at.eq(to_naive(change.audit.at)),
                outbox::attempts.eq(0),
            ))
        })
        .collect();
    if !audits.is_empty() {
        let query = diesel::insert_into(audit_log::table).values(audits);
        execute_on!(conn, query)?;
    }
    if !events.is_empty() {
        let query = diesel::insert_into(outbox::table).values(events);
        execute_on!(conn, query)?;
    }
    for answer in changes.iter().filter_map(|c| c.answer.as_ref()) {
        super::idempotency::insert_answer(conn, answer)?;
    }
    Ok(())
}
