//! The outbox relay's port (issue 20, item 1): every state change writes its event into the
//! outbox in its own transaction ([`crate::audit`]); the relay claims unhandled events in
//! order, in batches, hands each to every [`Consumer`] that has not yet handled it, and settles
//! the outcome. Delivery is at least once: a consumer is idempotent by [`RelayedEvent::id`].
//!
//! Shape of the rules, all decided here and kept by the stores:
//! - a claim leases its events (they are invisible to other claims until the lease ends), so
//!   any number of relays share the work; an event whose relay died is claimed again when its
//!   lease ends, so nothing is lost;
//! - a failed delivery is tried again after [`backoff`]; after the configured number of
//!   attempts, or at once when the consumer says retrying cannot help, it is **parked** with
//!   its cause until a `super_admin` asks for it again;
//! - an event is handled (published) when every consumer has succeeded or parked.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::audit::Change;
use crate::store::{Page, PageRequest, RepoError};

/// An event as the relay hands it to consumers.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayedEvent {
    /// The outbox row's id (a UUIDv7): what consumers deduplicate by.
    pub id: String,
    /// Event type, e.g. `mutual_aid.claim.paid`.
    pub topic: String,
    /// The event body.
    pub payload: Value,
    /// When the change was committed (UTC).
    pub created_at: DateTime<Utc>,
}

/// Why a consumer could not handle an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// Something that may pass (a timeout, WeChat busy, the database down): try again later.
    Retry(String),
    /// Retrying cannot help (a template WeChat refuses): park it until someone fixes the
    /// cause and asks for it again.
    Park(String),
}

impl DeliveryFailure {
    /// The cause, as recorded with the delivery.
    pub fn cause(&self) -> &str {
        match self {
            DeliveryFailure::Retry(cause) | DeliveryFailure::Park(cause) => cause,
        }
    }
}

/// One reader of the outbox: notifications now; webhooks and statistics later.
#[async_trait]
pub trait Consumer: Send + Sync {
    /// A stable name, stored with its deliveries (`notifications`, …).
    fn name(&self) -> &'static str;
    /// Handles `event`; called again for the same event after a failure or a crash, so it
    /// must do nothing twice.
    async fn handle(&self, event: &RelayedEvent) -> Result<(), DeliveryFailure>;
}

/// How far one consumer got with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Handled.
    Done,
    /// Failed, to be tried again.
    Retrying,
    /// Failed for good, until asked again.
    Parked,
}

impl DeliveryState {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Done => "done",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Parked => "parked",
        }
    }

    /// Reads a stored word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "done" => DeliveryState::Done,
            "retrying" => DeliveryState::Retrying,
            "parked" => DeliveryState::Parked,
            _ => return None,
        })
    }
}

/// One consumer's record for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The consumer's [`Consumer::name`].
    pub consumer: String,
    /// How far it got.
    pub state: DeliveryState,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The cause of the last failure.
    pub last_error: Option<String>,
}

/// A claimed event and what its consumers did with it before.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEvent {
    /// The event.
    pub event: RelayedEvent,
    /// Earlier deliveries (none for an event claimed the first time).
    pub deliveries: Vec<Delivery>,
}

impl ClaimedEvent {
    /// What `consumer` did before, if anything.
    pub fn delivery(&self, consumer: &str) -> Option<&Delivery> {
        self.deliveries.iter().find(|d| d.consumer == consumer)
    }
}

/// What became of one claimed event.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    /// The event's id.
    pub event_id: String,
    /// The deliveries to record: empty when every consumer succeeded at the first try.
    pub deliveries: Vec<Delivery>,
    /// `None` when the event is handled (every consumer done or parked); else when it may be
    /// claimed again.
    pub retry_at: Option<DateTime<Utc>>,
}

impl Settlement {
    /// Decides an event's settlement from the consumers' outcomes this time
    /// (`(consumer, result)`), what they did before, the attempts allowed and the backoff.
    pub fn decide(
        claimed: &ClaimedEvent,
        outcomes: Vec<(&'static str, Result<(), DeliveryFailure>)>,
        max_attempts: u32,
        now: DateTime<Utc>,
        delay: impl Fn(u32) -> Duration,
    ) -> Settlement {
        let mut deliveries: Vec<Delivery> = Vec::new();
        let mut retry_after: Option<Duration> = None;
        let failed_before = !claimed.deliveries.is_empty();
        let any_failed = outcomes.iter().any(|(_, r)| r.is_err());
        for (consumer, result) in outcomes {
            let before = claimed.delivery(consumer).map_or(0, |d| d.attempts);
            let delivery = match result {
                Ok(()) => Delivery {
                    consumer: consumer.to_owned(),
                    state: DeliveryState::Done,
                    attempts: before,
                    last_error: None,
                },
                Err(failure) => {
                    let attempts = before + 1;
                    let park =
                        matches!(failure, DeliveryFailure::Park(_)) || attempts >= max_attempts;
                    if !park {
                        let wait = delay(attempts);
                        retry_after = Some(retry_after.map_or(wait, |w| w.min(wait)));
                    }
                    Delivery {
                        consumer: consumer.to_owned(),
                        state: if park {
                            DeliveryState::Parked
                        } else {
                            DeliveryState::Retrying
                        },
                        attempts,
                        last_error: Some(failure.cause().to_owned()),
                    }
                }
            };
            // Only what a later claim must know is written: nothing when all went well the
            // first time.
            if any_failed || failed_before {
                deliveries.push(delivery);
            }
        }
        Settlement {
            event_id: claimed.event.id.clone(),
            deliveries,
            retry_at: retry_after.map(|wait| {
                now + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX)
            }),
        }
    }
}

/// A delivery parked after its last attempt, as a `super_admin` sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParkedDelivery {
    /// The event.
    pub event: RelayedEvent,
    /// The consumer that gave up.
    pub consumer: String,
    /// Attempts made.
    pub attempts: u32,
    /// The cause of the last failure.
    pub last_error: String,
    /// When it was parked (UTC).
    pub parked_at: DateTime<Utc>,
}

/// The delay before attempt `attempt + 1` after `attempt` failures: `base · 2^(attempt−1)`,
/// at most `cap`, times `jitter` (a factor the caller draws from `[0.5, 1.0]`, so replicas that
/// failed together do not retry together — "full jitter" halved, AWS Architecture Blog,
/// "Exponential Backoff And Jitter").
pub fn backoff(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let doubled = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    doubled.min(cap).mul_f64(jitter.clamp(0.5, 1.0))
}

/// The relay's store.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` unhandled events whose time has come, oldest first, leasing them
    /// until `now + lease`; events another relay holds are skipped, not waited for.
    async fn claim(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedEvent>, RepoError>;
    /// Records what became of claimed events, in one transaction.
    async fn settle(&self, settlements: &[Settlement], now: DateTime<Utc>)
        -> Result<(), RepoError>;
    /// When the oldest unhandled event was written (parked ones are handled), if any.
    async fn oldest_unhandled(&self) -> Result<Option<DateTime<Utc>>, RepoError>;
    /// Parked deliveries, most recently parked first.
    async fn parked(&self, page: &PageRequest) -> Result<Page<ParkedDelivery>, RepoError>;
    /// Puts a parked delivery back for its consumer to try at once, with fresh attempts;
    /// `NotFound` when `consumer` has no parked delivery of `event_id`.
    async fn retry_parked(
        &self,
        event_id: &str,
        consumer: &str,
        change: &Change,
    ) -> Result<(), RepoError>;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claimed(deliveries: Vec<Delivery>) -> ClaimedEvent {
        ClaimedEvent {
            event: RelayedEvent {
                id: "e".into(),
                topic: "t".into(),
                payload: Value::Null,
                created_at: Utc::now(),
            },
            deliveries,
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitters_down_to_half() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(60);
        assert_eq!(backoff(1, base, cap, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(3, base, cap, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(30, base, cap, 1.0), cap);
        assert_eq!(backoff(3, base, cap, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(3, base, cap, 0.0), Duration::from_secs(4));
    }

    #[test]
    fn all_well_the_first_time_writes_no_delivery_and_publishes() {
        let s = Settlement::decide(
            &claimed(vec![]),
            vec![("a", Ok(())), ("b", Ok(()))],
            3,
            Utc::now(),
            |_| Duration::from_secs(1),
        );
        assert!(s.deliveries.is_empty());
        assert_eq!(s.retry_at, None);
    }

    #[test]
    fn a_failure_is_retried_until_its_last_attempt_then_parked() {
        let now = Utc::now();
        let first = Settlement::decide(
            &claimed(vec![]),
            vec![
                ("a", Ok(())),
                ("b", Err(DeliveryFailure::Retry("busy".into()))),
            ],
            2,
            now,
            |n| Duration::from_secs(u64::from(n) * 10),
        );
        assert_eq!(first.retry_at, Some(now + chrono::TimeDelta::seconds(10)));
        assert_eq!(
            first.deliveries.len(),
            2,
            "the consumer that succeeded is remembered"
        );
        assert_eq!(first.deliveries[1].state, DeliveryState::Retrying);
        let second = Settlement::decide(
            &claimed(first.deliveries.clone()),
            vec![("b", Err(DeliveryFailure::Retry("busy".into())))],
            2,
            now,
            |_| Duration::from_secs(10),
        );
        assert_eq!(second.retry_at, None, "parked: the event is handled");
        assert_eq!(second.deliveries[0].state, DeliveryState::Parked);
        assert_eq!(second.deliveries[0].attempts, 2);
        assert_eq!(second.deliveries[0].last_error.as_deref(), Some("busy"));
    }

    #[test]
    fn a_failure_retrying_cannot_help_is_parked_at_once() {
        let s = Settlement::decide(
            &claimed(vec![]),
            vec![("a", Err(DeliveryFailure::Park("47003".into())))],
            8,
            Utc::now(),
            |_| Duration::from_secs(1),
        );
        assert_eq!(s.retry_at, None);
        assert_eq!(s.deliveries[0].state, DeliveryState::Parked);
    }
}
