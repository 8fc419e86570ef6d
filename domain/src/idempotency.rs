//! The `Idempotency-Key` request header: a retried create or submit carrying the same key
//! returns the first answer and makes nothing twice.
//!
//! A key is remembered per account and route ([`IdempotencyKey`]), with a hash of the request
//! it first came with and the first answer. The answer is written by the action's own
//! transaction (as [`crate::audit::Change::answer`], beside the audit row), so an action and
//! its stored answer exist together or not at all — there is no moment at which a crash leaves
//! one without the other.
//!
//! The flow of a handler:
//!
//! 1. act, handing the repository an [`IdempotentAnswer`] to store with the change;
//! 2. when the action fails, [`IdempotencyStore::find`] the key: a stored answer of the same
//!    request means a twin got there first (the retry raced it, or the retry itself found the
//!    claim already submitted, or its key row collided) — answer it again; an answer of another
//!    request means the key was reused — 422; no answer means the failure is the request's own.
//!
//! Two requests with one key at once serialise in the database: the second waits on the first's
//! key row (or the claim row it locks) and then finds its answer.
//!
//! Rows are kept for a while and then removed by [`IdempotencyStore::purge`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::AccountId;
use crate::store::RepoError;

/// Longest key accepted, in bytes (= characters: keys are ASCII).
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 100;

/// Whether `key` is acceptable: 1–[`IDEMPOTENCY_KEY_MAX_LEN`] visible ASCII characters
/// (`!` to `~`, no spaces or control characters). Clients usually send a UUID.
pub fn valid_key(key: &str) -> bool {
    (1..=IDEMPOTENCY_KEY_MAX_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The key carried by an `Idempotency-Key` header value: surrounding whitespace trimmed and,
/// as the IETF draft writes it (a structured-field string), one pair of surrounding double
/// quotes removed (`""` alone is two characters of key, not an empty one, so every value of
/// 1–100 visible characters is a key, as the contract says). `None` when what is left is not a
/// [`valid_key`].
pub fn key_from_header(value: &str) -> Option<&str> {
    let value = value.trim();
    let key = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|inner| !inner.is_empty())
        .unwrap_or(value);
    valid_key(key).then_some(key)
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

/// What a store calls inside the transaction that acts, with the record it wrote, to make
/// the answer stored for the request's key: `None` when the request carries no key. For a
/// write whose answer shows what only the store makes (a membership application as stored).
pub type AnswerOf<T> = Box<dyn FnOnce(&T) -> Option<IdempotentAnswer> + Send>;

/// The first answer to a request with a key, to be stored by the transaction that acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentAnswer {
    /// The key.
    pub key: IdempotencyKey,
    /// SHA-256 of the request (lower-case hex), telling a retry from a reused key.
    pub request_hash: String,
    /// HTTP status of the answer (> 0).
    pub status: u16,
    /// Body of the answer.
    pub body: String,
    /// When (UTC); [`IdempotencyStore::purge`] goes by it.
    pub at: DateTime<Utc>,
}

/// What is remembered of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// SHA-256 of the first request.
    pub request_hash: String,
    /// HTTP status of the first answer.
    pub status: u16,
    /// Body of the first answer.
    pub body: String,
}

crate::reasons! {
    /// The rule the key store keeps.
    pub enum IdempotencyConflict {
        /// A twin request stored its answer under the key first; the change is not made again.
        Answered = (Conflict, "idempotency_key_answered", "该请求已处理过",
            "This request was answered already"),
    }
}

/// Where keys are remembered. An answer is written only beside the change it answers (by the
/// repository that records the change); a second answer for a key already stored fails that
/// transaction with [`IdempotencyConflict::Answered`]. Errors follow [`crate::repo`]'s contract.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The answer stored for `key`, if any.
    async fn find(&self, key: &IdempotencyKey) -> Result<Option<StoredAnswer>, RepoError>;

    /// Deletes the keys created before `older_than`; returns how many.
    async fn purge(&self, older_than: DateTime<Utc>) -> Result<u64, RepoError>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

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
        assert_eq!(key_from_header("\"\""), Some("\"\""));
        assert_eq!(key_from_header(""), None);
        assert_eq!(key_from_header("a b"), None);
    }
}
