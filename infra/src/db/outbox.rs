//! [`OutboxStore`] on the shared schema (issue 20, item 1). A claim reads the oldest due
//! events — on PostgreSQL `FOR UPDATE SKIP LOCKED`, so replicas claiming at once take
//! different rows instead of waiting for each other; on SQLite under the transaction's write
//! lock (one process) — and leases them by moving `not_before` past the lease, in the same
//! transaction. Settling publishes the events every consumer is through with and puts the
//! others off until their backoff ends.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde_json::Value;
use yiwang_domain::audit::Change;
use yiwang_domain::outbox::{
    ClaimedEvent, Delivery, DeliveryState, OutboxStore, ParkedDelivery, RelayedEvent, Settlement,
};
use yiwang_domain::store::{Page, PageRequest, RepoError};

use super::page::{page_of, start_after, TimeKey};
use super::schema::{outbox, outbox_deliveries as od};
use super::{
    claim_writer, corrupt, execute_on, from_naive, record_change, to_naive, unexpected, Database,
    DbConnection, TxError,
};

type EventRow = (String, String, String, NaiveDateTime);

fn event_of((id, topic, payload, created_at): EventRow) -> Result<RelayedEvent, RepoError> {
    let payload: Value =
        serde_json::from_str(&payload).map_err(|_| corrupt("outbox payload", &id))?;
    Ok(RelayedEvent {
        id,
        topic,
        payload,
        created_at: from_naive(created_at),
    })
}

#[derive(Queryable)]
struct DeliveryRow {
    event_id: String,
    consumer: String,
    state: String,
    attempts: i32,
    last_error: Option<String>,
    updated_at: NaiveDateTime,
}

impl DeliveryRow {
    fn delivery(&self) -> Result<Delivery, RepoError> {
        Ok(Delivery {
            consumer: self.consumer.clone(),
            state: DeliveryState::parse(&self.state)
                .ok_or_else(|| corrupt("delivery state", &self.state))?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            last_error: self.last_error.clone(),
        })
    }
}

fn lease_of(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// The oldest events due at `now`: on PostgreSQL locked, skipping those another claim holds.
fn due(c: &mut DbConnection, limit: u32, now: NaiveDateTime) -> QueryResult<Vec<EventRow>> {
    let due = outbox::table
        .filter(outbox::published_at.is_null())
        .filter(outbox::not_before.is_null().or(outbox::not_before.le(now)))
        .order((outbox::created_at, outbox::id))
        .limit(i64::from(limit))
        .select((
            outbox::id,
            outbox::topic,
            outbox::payload,
            outbox::created_at,
        ));
    match c {
        DbConnection::Pg(pg) => due.for_update().skip_locked().load(pg),
        DbConnection::Sqlite(lite) => due.load(lite),
    }
}

fn claim_in(
    c: &mut DbConnection,
    limit: u32,
    until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Vec<ClaimedEvent>, TxError> {
    claim_writer(c)?;
    let rows = due(c, limit, now)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
        .set(outbox::not_before.eq(until))
        .execute(c)?;
    let deliveries: Vec<DeliveryRow> = od::table.filter(od::event_id.eq_any(&ids)).load(c)?;
    rows.into_iter()
        .map(|row| {
            let event = event_of(row)?;
            let deliveries = deliveries
                .iter()
                .filter(|d| d.event_id == event.id)
                .map(DeliveryRow::delivery)
                .collect::<Result<_, _>>()?;
            Ok(ClaimedEvent { event, deliveries })
        })
        .collect::<Result<_, RepoError>>()
        .map_err(TxError::from)
}

fn settle_in(
    c: &mut DbConnection,
    settlements: &[Settlement],
    now: NaiveDateTime,
) -> Result<(), TxError> {
    let published: Vec<&str> = settlements
        .iter()
        .filter(|s| s.retry_at.is_none())
        .map(|s| s.event_id.as_str())
        .collect();
    if !published.is_empty() {
        diesel::update(outbox::table.filter(outbox::id.eq_any(&published)))
            .set((
                outbox::published_at.eq(now),
                outbox::not_before.eq(None::<NaiveDateTime>),
            ))
            .execute(c)?;
    }
    for s in settlements {
        if let Some(at) = s.retry_at {
            diesel::update(outbox::table.find(&s.event_id))
                .set((
                    outbox::not_before.eq(to_naive(at)),
                    outbox::attempts.eq(outbox::attempts + 1),
                ))
                .execute(c)?;
        }
        for d in &s.deliveries {
            let attempts = i32::try_from(d.attempts).unwrap_or(i32::MAX);
            let insert = diesel::insert_into(od::table)
                .values((
                    od::event_id.eq(&s.event_id),
                    od::consumer.eq(&d.consumer),
                    od::state.eq(d.state.as_str()),
                    od::attempts.eq(attempts),
                    od::last_error.eq(&d.last_error),
                    od::updated_at.eq(now),
                ))
                .on_conflict((od::event_id, od::consumer))
                .do_update()
                .set((
                    od::state.eq(d.state.as_str()),
                    od::attempts.eq(attempts),
                    od::last_error.eq(&d.last_error),
                    od::updated_at.eq(now),
                ));
            execute_on!(c, insert)?;
        }
    }
    Ok(())
}

#[async_trait]
impl OutboxStore for Database {
    async fn claim(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedEvent>, RepoError> {
        let until = to_naive(now + lease_of(lease));
        let now = to_naive(now);
        self.run(move |c| {
            // On SQLite an idle relay only reads, outside any transaction; one with work
            // takes the write lock before its first read (`claim_writer`), as a reader that
            // then writes would fail at once when another connection committed in between.
            if matches!(c, DbConnection::Sqlite(_))
                && due(c, 1, now).map_err(unexpected)?.is_empty()
            {
                return Ok(Vec::new());
            }
            c.transaction(|c| claim_in(c, limit, until, now))
                .map_err(TxError::into_repo)
        })
        .await
    }

    async fn settle(
        &self,
        settlements: &[Settlement],
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        if settlements.is_empty() {
            return Ok(());
        }
        let settlements = settlements.to_vec();
        let now = to_naive(now);
        self.run(move |c| {
            c.transaction(|c| settle_in(c, &settlements, now))
                .map_err(TxError::into_repo)
        })
        .await
    }

    async fn oldest_unhandled(&self) -> Result<Option<DateTime<Utc>>, RepoError> {
        self.run(|c| {
            outbox::table
                .filter(outbox::published_at.is_null())
                .select(diesel::dsl::min(outbox::created_at))
                .first::<Option<NaiveDateTime>>(c)
                .map(|t| t.map(from_naive))
                .map_err(unexpected)
        })
        .await
    }

    async fn parked(&self, page: &PageRequest) -> Result<Page<ParkedDelivery>, RepoError> {
        let request = page.clone();
        self.run(move |c| {
            let mut q = od::table
                .inner_join(outbox::table)
                .filter(od::state.eq(DeliveryState::Parked.as_str()))
                .order((
                    od::updated_at.desc(),
                    od::event_id.desc(),
                    od::consumer.desc(),
                ))
                .limit(i64::from(request.limit))
                .select((
                    (
                        od::event_id,
                        od::consumer,
                        od::state,
                        od::attempts,
                        od::last_error,
                        od::updated_at,
                    ),
                    (
                        outbox::id,
                        outbox::topic,
                        outbox::payload,
                        outbox::created_at,
                    ),
                ))
                .into_boxed();
            if let Some(TimeKey { at, id }) = start_after::<TimeKey>(&request)? {
                q = q.filter(
                    od::updated_at
                        .lt(at)
                        .or(od::updated_at.eq(at).and(od::event_id.lt(id))),
                );
            }
            let rows: Vec<(DeliveryRow, EventRow)> = q.load(c).map_err(unexpected)?;
            let items = rows
                .into_iter()
                .map(|(d, e)| {
                    Ok(ParkedDelivery {
                        event: event_of(e)?,
                        attempts: u32::try_from(d.attempts).unwrap_or(0),
                        last_error: d.last_error.clone().unwrap_or_default(),
                        parked_at: from_naive(d.updated_at),
                        consumer: d.consumer,
                    })
                })
                .collect::<Result<Vec<_>, RepoError>>()?;
            Ok(page_of(items, &request, |p| {
                TimeKey::new(p.parked_at, &p.event.id)
            }))
        })
        .await
    }

    async fn retry_parked(
        &self,
        event_id: &str,
        consumer: &str,
        change: &Change,
    ) -> Result<(), RepoError> {
        let (event_id, consumer, change) =
            (event_id.to_owned(), consumer.to_owned(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let now = to_naive(change.audit.at);
                let n = diesel::update(
                    od::table
                        .find((&event_id, &consumer))
                        .filter(od::state.eq(DeliveryState::Parked.as_str())),
                )
                .set((
                    od::state.eq(DeliveryState::Retrying.as_str()),
                    od::attempts.eq(0),
                    od::updated_at.eq(now),
                ))
                .execute(c)?;
                if n == 0 {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                diesel::update(outbox::table.find(&event_id))
                    .set((
                        outbox::published_at.eq(None::<NaiveDateTime>),
                        outbox::not_before.eq(None::<NaiveDateTime>),
                    ))
                    .execute(c)?;
                record_change(c, &change)
            })
            .map_err(TxError::into_repo)
        })
        .await
    }
}
