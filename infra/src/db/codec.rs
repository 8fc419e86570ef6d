//! Row codecs every store shares: timestamps as naive UTC, ids as text, `LIKE` patterns,
//! and the one error for a stored value that does not read back.

use chrono::{DateTime, NaiveDateTime, Utc};
use yiwang_domain::account::AccountId;
use yiwang_domain::org::OrgId;
use yiwang_domain::store::RepoError;

pub(crate) fn to_naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

pub(crate) fn from_naive(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// `%`, `_` and `\` taken literally in a LIKE pattern (escape character `\`).
pub(crate) fn like_contains(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for ch in q.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

pub(crate) fn corrupt(what: &str, value: &str) -> RepoError {
    RepoError::Unexpected(format!("stored {what} is not valid: {value:?}").into())
}

/// A stored account id.
pub(crate) fn account_id(s: &str) -> Result<AccountId, RepoError> {
    AccountId::parse(s).ok_or_else(|| corrupt("account id", s))
}

/// A stored organisation id.
pub(crate) fn org_id(s: &str) -> Result<OrgId, RepoError> {
    OrgId::parse(s).ok_or_else(|| corrupt("organisation id", s))
}
