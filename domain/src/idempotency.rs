//! The `Idempotency-Key` request header: a retried create or submit carrying the same key
//! returns the first answer and makes nothing twice.
//!
//! A key is remembered per account and route ([`IdempotencyKey`]), with a hash of the request
//! it first came with. The row is written *before* the first request acts (status 0 while it
//! runs), so a second request arriving meanwhile is told to wait instead of acting again.
//!
//! The flow of a handler:
//!
//! 1. [`IdempotencyStore::begin`] with the key and the hash of the request body;
//! 2. on [`Begin::Started`] act, then [`IdempotencyStore::complete`] with the answer's status
//!    and body — or [`IdempotencyStore::release`] when the request failed, since a failure
//!    changed nothing and may be retried;
//! 3. on [`Begin::Replay`] answer the stored status and body again, on [`Begin::InProgress`]
//!    answer 409, on [`Begin::Mismatch`] answer 422.
//!
//! Rows are kept for a while and then removed by [`IdempotencyStore::purge`].

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::account::AccountId;
use crate::repo::RepoError;

/// Longest key accepted, in bytes (= characters: keys are ASCII).
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 100;

/// How long a first request may run (status 0) before its row is taken to be abandoned — the
/// process that ran it died — and a retry may take the key over.
pub const IN_PROGRESS_TIMEOUT_SECS: i64 = 60;

/// Whether `key` is acceptable: 1–[`IDEMPOTENCY_KEY_MAX_LEN`] visible ASCII characters
/// (`!` to `~`, no spaces or control characters). Clients usually send a UUID.
pub fn valid_key(key: &str) -> bool {
    (1..=IDEMPOTENCY_KEY_MAX_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The key carried by an `Idempotency-Key` header value: surrounding whitespace trimmed and,
/// as the IETF draft writes it (a structured-field string), one pair of surrounding double
/// quotes removed. `None` when what is left is not a [`valid_key`].
pub fn key_from_header(value: &str) -> Option<&str> {
    let value = value.trim();
    let key = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    valid_key(key).then_some(key)
}

/// Whether a first request that started at `created_at` and has not completed by `now` is
/// abandoned: it started [`IN_PROGRESS_TIMEOUT_SECS`] or more ago.
pub fn is_abandoned(created_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now.signed_duration_since(created_at) >= TimeDelta::seconds(IN_PROGRESS_TIMEOUT_SECS)
}

/// One remembered key: whose, on which route, and the client's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    /// The account that sent the request; keys of different accounts never collide.
    pub account: AccountId,
    /// Method and route, e.g. `"POST /api/v1/mutual-aid/claims"`, or with the claim id for a
    /// submit; keys of different routes never collide.
    pub route: String,
    /// The header's value (see [`key_from_header`]).
    pub key: String,
}

/// What [`IdempotencyStore::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// This request is the first with the key and must act, then call
    /// [`IdempotencyStore::complete`] or [`IdempotencyStore::release`].
    Started,
    /// The first request finished: answer its status and body again.
    Replay {
        /// HTTP status of the first answer.
        status: u16,
        /// Body of the first answer.
        body: String,
    },
    /// The first request with this key is still running: answer 409 and let the client retry.
    InProgress,
    /// The key was used with a different request body: answer 422.
    Mismatch,
}

/// Where keys are remembered. Errors follow [`crate::repo`]'s contract.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request whose body hashes to `request_hash`, atomically: the row is
    /// inserted with status 0 (running) unless one exists. When one exists:
    /// a different hash → [`Begin::Mismatch`]; completed (status > 0) → [`Begin::Replay`];
    /// running and started less than [`IN_PROGRESS_TIMEOUT_SECS`] before `now` →
    /// [`Begin::InProgress`]; running and older ([`is_abandoned`]) → taken over with `now` as
    /// its new start, [`Begin::Started`] — of several requests taking over at once exactly one
    /// succeeds. Of several first requests at once exactly one gets [`Begin::Started`].
    async fn begin(
        &self,
        key: &IdempotencyKey,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Begin, RepoError>;

    /// Stores the answer of the request that got [`Begin::Started`]: later requests with the
    /// key get it as [`Begin::Replay`]. `NotFound` when the key has no row.
    async fn complete(
        &self,
        key: &IdempotencyKey,
        status: u16,
        body: &str,
    ) -> Result<(), RepoError>;

    /// Forgets `key` (the request failed and changed nothing, so a retry may act). Releasing
    /// a key without a row changes nothing.
    async fn release(&self, key: &IdempotencyKey) -> Result<(), RepoError>;

    /// Deletes the keys created before `older_than`; returns how many.
    async fn purge(&self, older_than: DateTime<Utc>) -> Result<u64, RepoError>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn keys_are_one_to_a_hundred_visible_ascii_characters() {
        assert!(valid_key("8e03978e-40d5-43e8-bc93-6894a57f9324"));
        assert!(valid_key("a"));
        assert!(valid_key(&"x".repeat(IDEMPOTENCY_KEY_MAX_LEN)));
        assert!(!valid_key(""));
        assert!(!valid_key(&"x".repeat(IDEMPOTENCY_KEY_MAX_LEN + 1)));
        assert!(!valid_key("has space"));
        assert!(!valid_key("tab\there"));
        assert!(!valid_key("键"));
    }

    #[test]
    fn header_values_may_be_quoted() {
        assert_eq!(key_from_header(" \"abc-1\" "), Some("abc-1"));
        assert_eq!(key_from_header("abc-1"), Some("abc-1"));
        assert_eq!(key_from_header("\"\""), None);
        assert_eq!(key_from_header(""), None);
        assert_eq!(key_from_header("a b"), None);
    }

    #[test]
    fn a_running_request_is_abandoned_after_a_minute() {
        let start = Utc.with_ymd_and_hms(2027, 1, 1, 8, 0, 0).unwrap();
        assert!(!is_abandoned(start, start));
        assert!(!is_abandoned(start, start + TimeDelta::seconds(59)));
        assert!(is_abandoned(start, start + TimeDelta::seconds(60)));
        assert!(!is_abandoned(start, start - TimeDelta::seconds(5)));
    }
}
