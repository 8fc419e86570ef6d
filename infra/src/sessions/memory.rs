//! Sessions in this process's memory: the embedded single-instance default. Lost on restart
//! (every user logs in again), which is acceptable there and nowhere else. Expired entries are
//! swept at most once every [`SWEEP_EVERY`], on the next call after it has passed, so entries
//! nobody asks for again do not pile up.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use yiwang_domain::account::AccountId;
use yiwang_domain::session::{RotateOutcome, SessionRecord, SessionStore, SessionStoreError};

/// How often expired sessions, counters and values are dropped.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    last_sweep: Option<Instant>,
    sessions: HashMap<String, Entry>,
    by_account: HashMap<AccountId, HashSet<String>>,
    counters: HashMap<String, (u32, Instant)>,
    values: HashMap<String, (String, Instant)>,
}

struct Entry {
    record: SessionRecord,
    used_hashes: HashSet<String>,
}

/// The in-process store.
#[derive(Default)]
pub struct InProcessSessions {
    state: Mutex<State>,
}

impl InProcessSessions {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, SessionStoreError> {
        let mut guard = self
            .state
            .lock()
            .map_err(|_| SessionStoreError("in-process session store poisoned".into()))?;
        guard.sweep_if_due();
        Ok(f(&mut guard))
    }
}

impl State {
    fn sweep_if_due(&mut self) {
        let now = Instant::now();
        if self
            .last_sweep
            .is_some_and(|at| now.duration_since(at) < SWEEP_EVERY)
        {
            return;
        }
        self.last_sweep = Some(now);
        let wall = Utc::now();
        self.sessions.retain(|_, e| e.record.expires_at > wall);
        let sessions = &self.sessions;
        self.by_account.retain(|_, sids| {
            sids.retain(|sid| sessions.contains_key(sid));
            !sids.is_empty()
        });
        self.counters.retain(|_, (_, until)| *until > now);
        self.values.retain(|_, (_, until)| *until > now);
    }

    fn live(&mut self, sid: &str) -> Option<&mut Entry> {
        let expired = self
            .sessions
            .get(sid)
            .is_some_and(|e| e.record.expires_at <= Utc::now());
        if expired {
            self.remove(sid);
        }
        self.sessions.get_mut(sid)
    }

    fn remove(&mut self, sid: &str) {
        if let Some(e) = self.sessions.remove(sid) {
            if let Some(set) = self.by_account.get_mut(&e.record.account_id) {
                set.remove(sid);
            }
        }
    }

    fn value(&mut self, key: &str) -> Option<&String> {
        let now = Instant::now();
        if self.values.get(key).is_some_and(|(_, until)| *until <= now) {
            self.values.remove(key);
        }
        self.values.get(key).map(|(v, _)| v)
    }
}

#[async_trait]
impl SessionStore for InProcessSessions {
    async fn create(&self, session: &SessionRecord) -> Result<(), SessionStoreError> {
        self.with(|s| {
            s.by_account
                .entry(session.account_id)
                .or_default()
                .insert(session.sid.clone());
            s.sessions.insert(
                session.sid.clone(),
                Entry {
                    record: session.clone(),
                    used_hashes: HashSet::new(),
                },
            );
        })
    }

    async fn get(&self, sid: &str) -> Result<Option<SessionRecord>, SessionStoreError> {
        self.with(|s| s.live(sid).map(|e| e.record.clone()))
    }

    async fn rotate(
        &self,
        sid: &str,
        presented_hash: &str,
        new_hash: &str,
    ) -> Result<RotateOutcome, SessionStoreError> {
        self.with(|s| {
            let Some(entry) = s.live(sid) else {
                return RotateOutcome::Invalid;
            };
            if entry.record.refresh_hash == presented_hash {
                let old = std::mem::replace(&mut entry.record.refresh_hash, new_hash.to_owned());
                entry.used_hashes.insert(old);
                RotateOutcome::Rotated(entry.record.clone())
            } else if entry.used_hashes.contains(presented_hash) {
                s.remove(sid);
                RotateOutcome::ReuseDetected
            } else {
                RotateOutcome::Invalid
            }
        })
    }

    async fn revoke(&self, sid: &str) -> Result<(), SessionStoreError> {
        self.with(|s| s.remove(sid))
    }

    async fn sessions_of(
        &self,
        account_id: AccountId,
    ) -> Result<Vec<SessionRecord>, SessionStoreError> {
        self.with(|s| {
            let sids: Vec<String> = s
                .by_account
                .get(&account_id)
                .map(|set| set.iter().cloned().collect())
                .unwrap_or_default();
            let mut live: Vec<SessionRecord> = sids
                .iter()
                .filter_map(|sid| s.live(sid).map(|e| e.record.clone()))
                .collect();
            if let Some(set) = s.by_account.get_mut(&account_id) {
                set.retain(|sid| live.iter().any(|r| &r.sid == sid));
            }
            live.sort_by(|a, b| (a.created_at, &a.sid).cmp(&(b.created_at, &b.sid)));
            live
        })
    }

    async fn revoke_account(&self, account_id: AccountId) -> Result<u64, SessionStoreError> {
        self.with(|s| {
            let sids = s.by_account.remove(&account_id).unwrap_or_default();
            let mut n = 0;
            for sid in sids {
                if s.sessions.remove(&sid).is_some() {
                    n += 1;
                }
            }
            n
        })
    }

    async fn count(&self, key: &str, window_secs: u64) -> Result<u32, SessionStoreError> {
        self.with(|s| {
            let now = Instant::now();
            let entry = s
                .counters
                .entry(key.to_owned())
                .or_insert((0, now + Duration::from_secs(window_secs)));
            if entry.1 <= now {
                *entry = (0, now + Duration::from_secs(window_secs));
            }
            entry.0 += 1;
            entry.0
        })
    }

    async fn clear_count(&self, key: &str) -> Result<(), SessionStoreError> {
        self.with(|s| {
            s.counters.remove(key);
        })
    }

    async fn lock(&self, key: &str, secs: u64) -> Result<(), SessionStoreError> {
        self.cache_set(&format!("lock:{key}"), "1", secs).await
    }

    async fn locked_for(&self, key: &str) -> Result<Option<u64>, SessionStoreError> {
        self.with(|s| {
            let k = format!("lock:{key}");
            s.value(&k);
            s.values.get(&k).map(|(_, until)| {
                until
                    .saturating_duration_since(Instant::now())
                    .as_secs()
                    .max(1)
            })
        })
    }

    async fn cache_get(&self, key: &str) -> Result<Option<String>, SessionStoreError> {
        self.with(|s| s.value(key).cloned())
    }

    async fn cache_set(
        &self,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), SessionStoreError> {
        self.with(|s| {
            s.values.insert(
                key.to_owned(),
                (
                    value.to_owned(),
                    Instant::now() + Duration::from_secs(ttl_secs),
                ),
            );
        })
    }

    async fn cache_add(
        &self,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<bool, SessionStoreError> {
        self.with(|s| {
            if s.value(key).is_some() {
                return false;
            }
            s.values.insert(
                key.to_owned(),
                (
                    value.to_owned(),
                    Instant::now() + Duration::from_secs(ttl_secs),
                ),
            );
            true
        })
    }

    async fn cache_delete(&self, key: &str) -> Result<(), SessionStoreError> {
        self.with(|s| {
            s.values.remove(key);
        })
    }

    async fn ping(&self) -> Result<(), SessionStoreError> {
        self.with(|_| ())
    }

    fn backend(&self) -> &'static str {
        "in_process"
    }
}
