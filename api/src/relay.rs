//! The outbox relay (issue 20, item 1): a task in every `serve` process that claims unhandled
//! outbox events in order, in batches ([`OutboxStore::claim`]: replicas share the work without
//! doubles), hands each to every [`Consumer`] that has not yet handled it, and settles what
//! became of them — retried after an exponential backoff with jitter, parked after the
//! configured attempts (listed at `GET /api/v1/admin/outbox/failures`).
//!
//! Events of one batch are handled [`CONCURRENCY`] at a time, those of one person one after
//! the other in the order they happened; the batch is settled in one transaction. A stop (SIGTERM) lets the batch in hand finish and be settled; a crash leaves
//! its events leased, and the next claim after the lease takes them: nothing is lost, and
//! consumers, idempotent by event id, do nothing twice.
//!
//! Metrics: `yiwang_outbox_lag_seconds` (age of the oldest unhandled event, 0 when none),
//! `yiwang_outbox_handled_total{consumer}`, `yiwang_outbox_failed_total{consumer}` and
//! `yiwang_outbox_parked_total{consumer}`. `/readyz` shows the lag without failing on it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use prometheus::{Gauge, IntCounterVec, Opts, Registry};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use yiwang_domain::clock;
use yiwang_domain::outbox::{
    backoff, ClaimedEvent, Consumer, DeliveryState, OutboxStore, Settlement,
};
use yiwang_domain::store::RepoError;

use crate::config::Settings;

/// Events of one batch handled at once.
pub const CONCURRENCY: usize = 16;

/// The longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How the relay paces itself (from [`Settings`]).
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Events claimed at once.
    pub batch: u32,
    /// The wait after a pass that found less than a full batch.
    pub poll: Duration,
    /// Attempts per consumer before a delivery is parked.
    pub max_attempts: u32,
    /// The delay before the first retry.
    pub retry_base: Duration,
    /// How long a claim holds its events.
    pub lease: Duration,
}

impl RelayConfig {
    /// The relay settings of `settings`.
    pub fn of(settings: &Settings) -> Self {
        Self {
            batch: settings.outbox_batch.clamp(1, 1000),
            poll: Duration::from_millis(settings.outbox_poll_ms.max(10)),
            max_attempts: settings.outbox_max_attempts.max(1),
            retry_base: Duration::from_millis(settings.outbox_retry_base_ms.max(1)),
            lease: Duration::from_secs(settings.outbox_lease_secs.max(1)),
        }
    }
}

/// What the relay last saw, for `/readyz`.
#[derive(Debug)]
pub struct RelayStatus {
    /// Milliseconds since the oldest unhandled event was written; −1 before the first pass.
    lag_ms: AtomicI64,
}

impl Default for RelayStatus {
    fn default() -> Self {
        Self {
            lag_ms: AtomicI64::new(-1),
        }
    }
}

impl RelayStatus {
    /// The lag in seconds, when a pass has measured it.
    pub fn lag_seconds(&self) -> Option<f64> {
        let ms = self.lag_ms.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)]
        (ms >= 0).then(|| ms as f64 / 1000.0)
    }
}

/// The relay's Prometheus metrics.
#[derive(Clone)]
struct RelayMetrics {
    lag: Gauge,
    handled: IntCounterVec,
    failed: IntCounterVec,
    parked: IntCounterVec,
}

impl RelayMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let lag = Gauge::with_opts(Opts::new(
            "yiwang_outbox_lag_seconds",
            "Age of the oldest outbox event not yet handled by every consumer (0 when none)",
        ))?;
        let counter =
            |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &["consumer"]);
        let handled = counter(
            "yiwang_outbox_handled_total",
            "Outbox events a consumer handled",
        )?;
        let failed = counter(
            "yiwang_outbox_failed_total",
            "Failed attempts of a consumer to handle an outbox event",
        )?;
        let parked = counter(
            "yiwang_outbox_parked_total",
            "Outbox deliveries parked after their last attempt",
        )?;
        registry.register(Box::new(lag.clone()))?;
        registry.register(Box::new(handled.clone()))?;
        registry.register(Box::new(failed.clone()))?;
        registry.register(Box::new(parked.clone()))?;
        Ok(Self {
            lag,
            handled,
            failed,
            parked,
        })
    }
}

/// A batch split so that the events of one person (the payload's `account_id`) are handled
/// one after the other, in the order they happened — a worker is told "approved" before
/// "paid" — while different people's events run side by side. Events naming no one are each
/// their own group.
fn in_order_per_person(claimed: Vec<ClaimedEvent>) -> Vec<Vec<ClaimedEvent>> {
    let mut groups: Vec<Vec<ClaimedEvent>> = Vec::new();
    let mut by_person: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for event in claimed {
        let person = event
            .event
            .payload
            .get("account_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        match person.map(|p| by_person.get(&p).copied().ok_or(p)) {
            Some(Ok(i)) => groups[i].push(event),
            Some(Err(p)) => {
                by_person.insert(p, groups.len());
                groups.push(vec![event]);
            }
            None => groups.push(vec![event]),
        }
    }
    groups
}

/// The relay of one process.
pub struct Relay {
    store: Arc<dyn OutboxStore>,
    consumers: Vec<Arc<dyn Consumer>>,
    config: RelayConfig,
    metrics: RelayMetrics,
    status: Arc<RelayStatus>,
}

impl Relay {
    /// A relay over `store` feeding `consumers`, counting into `registry`.
    pub fn new(
        store: Arc<dyn OutboxStore>,
        consumers: Vec<Arc<dyn Consumer>>,
        config: RelayConfig,
        registry: &Registry,
        status: Arc<RelayStatus>,
    ) -> Result<Self, prometheus::Error> {
        Ok(Self {
            store,
            consumers,
            config,
            metrics: RelayMetrics::register(registry)?,
            status,
        })
    }

    /// One pass: claims a batch, hands each event to its consumers, settles the batch and
    /// measures the lag. Returns how many events it claimed.
    pub async fn pass(&self) -> Result<usize, RepoError> {
        let claimed = self
            .store
            .claim(self.config.batch, self.config.lease, clock::now())
            .await?;
        let count = claimed.len();
        if count > 0 {
            let settlements: Vec<Settlement> =
                futures_util::stream::iter(in_order_per_person(claimed))
                    .map(|events| async move {
                        let mut settled = Vec::with_capacity(events.len());
                        for event in events {
                            settled.push(self.handle(event).await);
                        }
                        settled
                    })
                    .buffer_unordered(CONCURRENCY)
                    .flat_map(futures_util::stream::iter)
                    .collect()
                    .await;
            self.store.settle(&settlements, clock::now()).await?;
        }
        let oldest = self.store.oldest_unhandled().await?;
        let lag = oldest.map_or(0, |at| (clock::now() - at).num_milliseconds().max(0));
        self.status.lag_ms.store(lag, Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)]
        self.metrics.lag.set(lag as f64 / 1000.0);
        Ok(count)
    }

    async fn handle(&self, claimed: ClaimedEvent) -> Settlement {
        let mut outcomes = Vec::with_capacity(self.consumers.len());
        for consumer in &self.consumers {
            let name = consumer.name();
            if claimed
                .delivery(name)
                .is_some_and(|d| d.state != DeliveryState::Retrying)
            {
                continue;
            }
            let result = consumer.handle(&claimed.event).await;
            match &result {
                Ok(()) => self.metrics.handled.with_label_values(&[name]).inc(),
                Err(failure) => {
                    self.metrics.failed.with_label_values(&[name]).inc();
                    tracing::warn!(
                        consumer = name,
                        event_id = %claimed.event.id,
                        topic = %claimed.event.topic,
                        cause = failure.cause(),
                        "an outbox delivery failed"
                    );
                }
            }
            outcomes.push((name, result));
        }
        let (base, max_attempts) = (self.config.retry_base, self.config.max_attempts);
        let settlement = Settlement::decide(&claimed, outcomes, max_attempts, clock::now(), |n| {
            backoff(n, base, MAX_BACKOFF, rand::random_range(0.5..=1.0))
        });
        for parked in settlement
            .deliveries
            .iter()
            .filter(|d| d.state == DeliveryState::Parked)
        {
            self.metrics
                .parked
                .with_label_values(&[parked.consumer.as_str()])
                .inc();
        }
        settlement
    }

    /// Runs passes until `stop` turns `true`: at once again after a full batch, after the
    /// poll interval otherwise, after ten of them when the store failed. The batch in hand
    /// when the stop comes is finished and settled first.
    pub fn spawn(self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if *stop.borrow() {
                    break;
                }
                let wait = match self.pass().await {
                    Ok(n) if n >= self.config.batch as usize => continue,
                    Ok(_) => self.config.poll,
                    Err(error) => {
                        tracing::error!(%error, "the outbox relay could not reach its store");
                        self.config.poll * 10
                    }
                };
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    changed = stop.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;
    use yiwang_domain::outbox::{ClaimedEvent, RelayedEvent};

    use super::in_order_per_person;

    fn event(id: &str, account: Option<&str>) -> ClaimedEvent {
        ClaimedEvent {
            event: RelayedEvent {
                id: id.into(),
                topic: "t".into(),
                payload: account.map_or(json!({}), |a| json!({ "account_id": a })),
                created_at: Utc::now(),
            },
            deliveries: Vec::new(),
        }
    }

    #[test]
    fn one_persons_events_stay_together_in_order() {
        let groups = in_order_per_person(vec![
            event("1", Some("a")),
            event("2", Some("b")),
            event("3", None),
            event("4", Some("a")),
            event("5", None),
        ]);
        let ids: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|c| c.event.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["1", "4"], vec!["2"], vec!["3"], vec!["5"]]);
    }
}
