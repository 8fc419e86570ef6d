//! Live delivery: frames for an account's open WebSocket connections, whichever API process
//! holds them.
//!
//! Every process keeps a [`Live`] with the connections it holds. [`Live::publish`] hands
//! frames to the accounts they are for:
//! - in process (the embedded default, one process): straight to the local connections;
//! - through Redis (the production shape, any number of processes): `PUBLISH` on the channel
//!   `{prefix}live`, one message per frame, `{account id}\n{frame}`; every process is
//!   subscribed and hands each message to the connections it holds for that account. The
//!   publishing process hears its own messages the same way, so there is one path.
//!
//! A Redis restart drops every connection (issue 18, item 21). A publish on the lost connection
//! is sent once more on a new one; a publish that no process heard — not even this one, so the
//! subscriptions are still being re-established — is sent again every 100 ms for up to
//! [`RESUBSCRIBE_WAIT`] until someone hears it. A frame can so arrive twice (when the first
//! send's answer was what got lost), and the frames carry ids.
//!
//! Otherwise delivery is at most once: a connection that does not keep up (more than
//! [`CONNECTION_BUFFER`] frames waiting) is dropped, and a process whose subscription is down
//! longer than the wait misses frames. Clients catch up by polling what they missed
//! (`GET …/messages?after=`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};
use yiwang_domain::account::AccountId;

/// Frames one connection may have waiting before it is dropped as too slow.
pub const CONNECTION_BUFFER: usize = 256;

/// How long a publish that no process heard is tried again, waiting for the subscriptions to
/// come back after a Redis restart.
pub const RESUBSCRIBE_WAIT: Duration = Duration::from_secs(3);

/// The first pause before subscribing again; it doubles up to 1 s while Redis stays away.
const RESUBSCRIBE_FIRST_PAUSE: Duration = Duration::from_millis(100);

/// One frame for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Whose connections.
    pub account: AccountId,
    /// The text frame (JSON).
    pub frame: String,
}

type Senders = HashMap<AccountId, Vec<(u64, mpsc::Sender<Arc<str>>)>>;

/// The connections this process holds.
#[derive(Default)]
struct Hub {
    next: AtomicU64,
    senders: Mutex<Senders>,
}

impl Hub {
    fn deliver(&self, account: AccountId, frame: Arc<str>) {
        let mut senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(conns) = senders.get_mut(&account) {
            // A full buffer or a closed receiver: forget the connection (its sender drops,
            // so its receiver ends and the socket closes).
            conns.retain(|(_, tx)| tx.try_send(Arc::clone(&frame)).is_ok());
            if conns.is_empty() {
                senders.remove(&account);
            }
        }
    }

    fn forget(&self, account: AccountId, id: u64) {
        let mut senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(conns) = senders.get_mut(&account) {
            conns.retain(|(i, _)| *i != id);
            if conns.is_empty() {
                senders.remove(&account);
            }
        }
    }
}

enum Bus {
    InProcess,
    Redis {
        conn: ConnectionManager,
        channel: String,
    },
}

/// This process's live connections and the way frames reach the other processes'.
pub struct Live {
    hub: Arc<Hub>,
    bus: Bus,
}

/// One connection's frames, in order. Dropping it forgets the connection.
pub struct Subscription {
    /// The frames; ends when the connection fell behind.
    pub frames: mpsc::Receiver<Arc<str>>,
    hub: Arc<Hub>,
    account: AccountId,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.forget(self.account, self.id);
    }
}

/// Why live delivery through Redis failed: at start (connect, subscribe) or on a publish.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    /// Redis did not `.0` within 3 s.
    #[error("redis did not {0} within 3 s")]
    Silent(&'static str),
    #[error("the redis subscription ended at once")]
    Ended,
}

impl Live {
    /// One process: frames go straight to this process's connections.
    pub fn in_process() -> Self {
        Self {
            hub: Arc::default(),
            bus: Bus::InProcess,
        }
    }

    /// Many processes sharing the Redis at `url`, on the channel `{prefix}live`. Returns once
    /// subscribed (within 3 s, or an error); a subscription lost later is re-established
    /// after 100 ms, the pause doubling up to 1 s while it fails.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, LiveError> {
        let client = redis::Client::open(url)?;
        let conn = crate::redis_link::connect(&client).await?;
        let channel = format!("{prefix}live");
        let hub = Arc::<Hub>::default();
        let (ready, subscribed) = oneshot::channel();
        tokio::spawn(listen(client, channel.clone(), Arc::clone(&hub), ready));
        tokio::time::timeout(Duration::from_secs(3), subscribed)
            .await
            .map_err(|_| LiveError::Silent("confirm the subscription"))?
            .map_err(|_| LiveError::Ended)??;
        Ok(Self {
            hub,
            bus: Bus::Redis { conn, channel },
        })
    }

    /// `in_process` or `redis`, for the start-up line.
    pub fn backend(&self) -> &'static str {
        match self.bus {
            Bus::InProcess => "in_process",
            Bus::Redis { .. } => "redis",
        }
    }

    /// Registers a connection of `account`.
    pub fn subscribe(&self, account: AccountId) -> Subscription {
        let id = self.hub.next.fetch_add(1, Ordering::Relaxed);
        let (tx, frames) = mpsc::channel(CONNECTION_BUFFER);
        self.hub
            .senders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(account)
            .or_default()
            .push((id, tx));
        Subscription {
            frames,
            hub: Arc::clone(&self.hub),
            account,
            id,
        }
    }

    /// Hands each frame to its account's connections, in every process. Errs only when Redis
    /// cannot take them, after the one retry on a lost connection (the frames are a courtesy,
    /// the store is the record). Waits up to [`RESUBSCRIBE_WAIT`] only while no process is
    /// subscribed, which in steady state never happens: this one always is.
    pub async fn publish(&self, deliveries: &[Delivery]) -> Result<(), LiveError> {
        match &self.bus {
            Bus::InProcess => {
                for d in deliveries {
                    self.hub.deliver(d.account, Arc::from(d.frame.as_str()));
                }
                Ok(())
            }
            Bus::Redis { conn, channel } => {
                if deliveries.is_empty() {
                    return Ok(());
                }
                let mut pipe = redis::pipe();
                for d in deliveries {
                    pipe.publish(channel, format!("{}\n{}", d.account, d.frame));
                }
                let until = tokio::time::Instant::now() + RESUBSCRIBE_WAIT;
                loop {
                    let heard: Vec<u64> = crate::redis_link::once_more_if_lost(conn, |mut c| {
                        let pipe = pipe.clone();
                        async move { pipe.query_async(&mut c).await }
                    })
                    .await?;
                    if heard.iter().any(|&n| n > 0) || tokio::time::Instant::now() >= until {
                        return Ok(());
                    }
                    tokio::time::sleep(RESUBSCRIBE_FIRST_PAUSE).await;
                }
            }
        }
    }
}

/// Follows `channel`, handing each message to `hub`; reports the first subscription on `ready`.
async fn listen(
    client: redis::Client,
    channel: String,
    hub: Arc<Hub>,
    ready: oneshot::Sender<Result<(), redis::RedisError>>,
) {
    let mut ready = Some(ready);
    let mut pause = RESUBSCRIBE_FIRST_PAUSE;
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        }
        .await;
        match subscribed {
            Ok(pubsub) => {
                if let Some(ready) = ready.take() {
                    if ready.send(Ok(())).is_err() {
                        return;
                    }
                } else {
                    tracing::info!(%channel, "live: subscribed to redis again");
                }
                pause = RESUBSCRIBE_FIRST_PAUSE;
                let mut messages = pubsub.into_on_message();
                while let Some(msg) = messages.next().await {
                    let payload = msg.get_payload_bytes();
                    let Ok(text) = std::str::from_utf8(payload) else {
                        continue;
                    };
                    let Some((account, frame)) = text.split_once('\n') else {
                        continue;
                    };
                    if let Some(account) = AccountId::parse(account) {
                        hub.deliver(account, Arc::from(frame));
                    }
                }
                tracing::warn!(%channel, "live: the redis subscription ended; retrying");
            }
            Err(e) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(e));
                    return;
                }
                tracing::warn!(%channel, error = %e, "live: cannot subscribe to redis; retrying");
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn delivery(account: AccountId, frame: &str) -> Delivery {
        Delivery {
            account,
            frame: frame.to_owned(),
        }
    }

    async fn next(sub: &mut Subscription) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(3), sub.frames.recv())
            .await
            .ok()
            .flatten()
            .map(|f| f.to_string())
    }

    #[tokio::test]
    async fn in_process_frames_reach_only_their_accounts_connections() {
        let live = Live::in_process();
        let (a, b) = (AccountId::new(), AccountId::new());
        let mut a1 = live.subscribe(a);
        let mut a2 = live.subscribe(a);
        let mut b1 = live.subscribe(b);
        live.publish(&[delivery(a, "for a")]).await.unwrap();
        assert_eq!(next(&mut a1).await.as_deref(), Some("for a"));
        assert_eq!(next(&mut a2).await.as_deref(), Some("for a"));
        assert!(b1.frames.try_recv().is_err());
        drop(a1);
        live.publish(&[delivery(a, "again")]).await.unwrap();
        assert_eq!(next(&mut a2).await.as_deref(), Some("again"));
    }

    #[tokio::test]
    async fn a_connection_that_falls_behind_is_dropped() {
        let live = Live::in_process();
        let a = AccountId::new();
        let mut slow = live.subscribe(a);
        let frames: Vec<Delivery> = (0..=CONNECTION_BUFFER)
            .map(|i| delivery(a, &i.to_string()))
            .collect();
        live.publish(&frames).await.unwrap();
        let mut got = 0;
        while slow.frames.recv().await.is_some() {
            got += 1;
        }
        assert_eq!(got, CONNECTION_BUFFER, "the buffered frames, then the end");
    }

    #[tokio::test]
    async fn redis_carries_frames_between_two_processes_lives() {
        let url = std::env::var("YIWANG_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("yiwang-test:{}:", uuid::Uuid::new_v4().simple());
        let one = Live::redis(&url, &prefix).await.unwrap();
        let two = Live::redis(&url, &prefix).await.unwrap();
        let (a, b) = (AccountId::new(), AccountId::new());
        let mut a_on_two = two.subscribe(a);
        let mut b_on_one = one.subscribe(b);
        one.publish(&[delivery(a, "{\"n\":1}\nsecond line"), delivery(b, "to b")])
            .await
            .unwrap();
        assert_eq!(
            next(&mut a_on_two).await.as_deref(),
            Some("{\"n\":1}\nsecond line")
        );
        assert_eq!(next(&mut b_on_one).await.as_deref(), Some("to b"));
        assert!(a_on_two.frames.try_recv().is_err());
    }
}
