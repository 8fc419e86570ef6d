//! Erasing personal data past its retention period (PIPL art. 19: kept no longer than the
//! purpose needs): applications rejected or withdrawn, and memberships ended, more than
//! `personal_data_retention_days` ago lose their names, ID numbers and phones; the records of
//! what happened stay. `yiwang serve` runs it at start and then every hour;
//! `yiwang erase-expired` runs it once. The same sweep forgets `Idempotency-Key` answers
//! older than [`IDEMPOTENCY_KEY_TTL`].

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;
use yiwang_domain::audit::{Actor, OutboxEvent};
use yiwang_domain::clock;
use yiwang_domain::idempotency::IdempotencyStore;
use yiwang_domain::membership::store::MembershipRepository;
use yiwang_domain::store::RepoError;

use crate::auth::audit_change;

/// How often the server erases what has expired.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// How long a retried request can still get the first answer: a day covers any client retry.
pub const IDEMPOTENCY_KEY_TTL: TimeDelta = TimeDelta::hours(24);

/// Erases personal data last changed more than `retention_days` ago; returns how many
/// records were erased.
pub async fn erase_expired(
    membership: &dyn MembershipRepository,
    retention_days: u32,
) -> Result<u64, RepoError> {
    let now = clock::now();
    let cutoff = now - TimeDelta::days(i64::from(retention_days));
    let change = audit_change(
        Actor::System,
        "personal_data.erase_expired",
        "membership",
        "retention",
        json!({}),
        Some(OutboxEvent {
            topic: "personal_data.erased".into(),
            payload: json!({ "cutoff": cutoff, "retention_days": retention_days }),
        }),
    );
    membership.erase_expired(cutoff, now, &change).await
}

/// Runs [`erase_expired`] (and forgets old idempotency keys) now and every [`SWEEP_EVERY`]
/// as a task of the current Tokio runtime.
pub fn spawn(
    membership: Arc<dyn MembershipRepository>,
    idempotency: Arc<dyn IdempotencyStore>,
    retention_days: u32,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            if let Err(error) = idempotency.purge(clock::now() - IDEMPOTENCY_KEY_TTL).await {
                tracing::error!(%error, "forgetting old idempotency keys failed");
            }
            match erase_expired(membership.as_ref(), retention_days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(records = n, "erased expired personal data"),
                Err(error) => tracing::error!(%error, "erasing expired personal data failed"),
            }
        }
    });
}
