//! Login sessions and the small shared state that lives beside them (ARCHITECTURE.md item 10).
//!
//! A session is created at login. The access token (a signed JWT, 15 minutes) names it by `sid`
//! and every request checks that the session still exists, so logout and disabling take effect
//! at once. The refresh token is opaque: `<sid>.<secret>`; only the SHA-256 of the secret is
//! stored. Each refresh rotates the secret; presenting a secret that was already rotated away
//! is taken as theft and ends the whole session.
//!
//! Implementations: Redis (shared by every API process) and an in-process map (the embedded
//! single-instance default).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::account::{AccountId, AccountKind, Role};
use crate::org::{OrgId, OrgPath};

/// What the server keeps about a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Session id (random, URL-safe).
    pub sid: String,
    /// Whose session.
    pub account_id: AccountId,
    /// Worker or official.
    pub kind: AccountKind,
    /// The official's role; empty for workers.
    pub roles: Vec<Role>,
    /// The official's organisation; `None` for workers.
    pub org_id: Option<OrgId>,
    /// Path of that organisation, for data-scope checks without a query.
    pub org_path: Option<OrgPath>,
    /// Hex SHA-256 of the current refresh secret.
    pub refresh_hash: String,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// The session ends at this time whatever happens (UTC).
    pub expires_at: DateTime<Utc>,
    /// The official must change their password before anything else (an administrator set
    /// it): only the password change is open to this session.
    #[serde(default)]
    pub password_change_required: bool,
}

/// Result of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The secret was current: it is replaced by the new one; here is the session.
    Rotated(SessionRecord),
    /// The secret was one already rotated away: the session has been revoked.
    ReuseDetected,
    /// No such session, or a secret never issued for it.
    Invalid,
}

/// A session-store failure (the store is unreachable or answered nonsense).
#[derive(Debug, thiserror::Error)]
#[error("session store failure: {0}")]
pub struct SessionStoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Sessions plus the few shared counters and caches that must agree across API processes.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session until its `expires_at`.
    async fn create(&self, session: &SessionRecord) -> Result<(), SessionStoreError>;
    /// The live session with this id, if any.
    async fn get(&self, sid: &str) -> Result<Option<SessionRecord>, SessionStoreError>;
    /// Atomically checks `presented_hash` against the session's current refresh hash and, if
    /// it matches, replaces it with `new_hash` (see [`RotateOutcome`]).
    async fn rotate(
        &self,
        sid: &str,
        presented_hash: &str,
        new_hash: &str,
    ) -> Result<RotateOutcome, SessionStoreError>;
    /// Ends one session at once. Ending an unknown session is not an error.
    async fn revoke(&self, sid: &str) -> Result<(), SessionStoreError>;
    /// The account's live sessions, oldest first.
    async fn sessions_of(
        &self,
        account_id: AccountId,
    ) -> Result<Vec<SessionRecord>, SessionStoreError>;
    /// Ends every session of an account at once; returns how many were ended.
    async fn revoke_account(&self, account_id: AccountId) -> Result<u64, SessionStoreError>;

    /// Counts one event (a failed login, a login, a request) for `key` inside a window of
    /// `window_secs` seconds that starts at the first event; returns the count so far. Shared
    /// by every process that shares the store.
    async fn count(&self, key: &str, window_secs: u64) -> Result<u32, SessionStoreError>;
    /// Forgets what was counted for `key`.
    async fn clear_count(&self, key: &str) -> Result<(), SessionStoreError>;
    /// Locks `key` for `secs` seconds.
    async fn lock(&self, key: &str, secs: u64) -> Result<(), SessionStoreError>;
    /// Seconds left on the lock of `key`, if locked.
    async fn locked_for(&self, key: &str) -> Result<Option<u64>, SessionStoreError>;

    /// A cached value, if present and not expired.
    async fn cache_get(&self, key: &str) -> Result<Option<String>, SessionStoreError>;
    /// Caches a value for `ttl_secs` seconds.
    async fn cache_set(
        &self,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), SessionStoreError>;
    /// Caches a value for `ttl_secs` seconds only if `key` holds none yet; `true` when this
    /// call stored it. A read-through fill uses this, so it never overwrites a newer value
    /// written by the change that made it.
    async fn cache_add(
        &self,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<bool, SessionStoreError>;
    /// Forgets a cached value. Forgetting an absent key is not an error.
    async fn cache_delete(&self, key: &str) -> Result<(), SessionStoreError>;

    /// Takes a short lock for single-flight refreshes: `true` when this caller got it. It
    /// expires by itself after `ttl_secs`.
    async fn try_lock(&self, key: &str, ttl_secs: u64) -> Result<bool, SessionStoreError> {
        self.cache_add(&format!("flight:{key}"), "1", ttl_secs)
            .await
    }
    /// Releases a lock taken with [`SessionStore::try_lock`].
    async fn unlock(&self, key: &str) -> Result<(), SessionStoreError> {
        self.cache_delete(&format!("flight:{key}")).await
    }

    /// Liveness, for `/readyz`.
    async fn ping(&self) -> Result<(), SessionStoreError>;
    /// `"redis"` or `"in_process"`.
    fn backend(&self) -> &'static str;
}
