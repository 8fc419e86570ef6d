//! The audit log and the transactional outbox (issue #2, item 10).
//!
//! Every admin action and every state change writes one [`AuditEntry`] and, where others may
//! want to know, one [`OutboxEvent`] — in the same database transaction as the change itself,
//! which is why repository methods that change state take a [`Change`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::account::{AccountId, AccountKind};
use crate::idempotency::IdempotentAnswer;
use crate::store::RepoError;

/// The audit log for what changes nothing: full reads of sensitive data (a claim document or
/// a consultation attachment downloaded, the payment list with account numbers exported).
/// Changes write their rows themselves, in their own transaction.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Writes `change`'s audit row (and its event, if any).
    async fn record_read(&self, change: &Change) -> Result<(), RepoError>;
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A logged-in worker or official.
    Account {
        /// Worker or official.
        kind: AccountKind,
        /// Their id.
        id: AccountId,
    },
    /// The system itself, or the `yiwang` command line run by an operator.
    System,
}

/// One row of the audit log: who did what to which record, when, from where.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Who.
    pub actor: Actor,
    /// What, as `<record type>.<verb>`, e.g. `organisation.create`, `official.disable`.
    pub action: String,
    /// The kind of record, e.g. `organisation`.
    pub record_type: String,
    /// The record's id.
    pub record_id: String,
    /// Client address (from the connection, or the proxy header when configured), if any.
    pub ip: Option<String>,
    /// The request id of the HTTP request that caused it, if any.
    pub request_id: Option<String>,
    /// Extra facts (e.g. the fields changed), as JSON.
    pub detail: Value,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

/// An event for other systems, delivered later from the outbox table.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Event type, e.g. `organisation.created`.
    pub topic: String,
    /// The event body (JSON).
    pub payload: Value,
}

/// What a state change writes beside itself, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The audit row.
    pub audit: AuditEntry,
    /// The outbox event, if the change is one others subscribe to.
    pub event: Option<OutboxEvent>,
    /// The answer to remember for the request's `Idempotency-Key`, if it carried one
    /// ([`crate::idempotency`]).
    pub answer: Option<IdempotentAnswer>,
}
