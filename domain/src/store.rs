//! The store contract every port keeps (errors, pages) and the ports of the shared records
//! (organisations, officials, workers, store health); each feature's own ports are in its
//! `store` module. `yiwang-infra` implements them on PostgreSQL and SQLite.
//!
//! Error contract for every method: [`RepoError::NotFound`] when the record asked for does not
//! exist, [`RepoError::Refused`] when a rule the store keeps says no (a uniqueness, a row no
//! longer in the state the step needs, the decision a transaction ran) with the feature's typed
//! [`Refusal`], [`RepoError::Unexpected`] for anything else, with its cause. A database error is
//! never turned into `None`, `NotFound` or a refusal.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::{AccountId, Official, Role, Username, Worker};
use crate::audit::Change;
use crate::org::{OrgId, OrgKind, OrgName, OrgPath, Organisation};
use crate::problem::FieldProblem;
use crate::refusal::Refusal;

/// A storage failure, classified.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// The rules said no (a uniqueness, a state, a decision); nothing was written.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// Anything else; the cause is kept for the log and never shown to a client.
    #[error("storage failure: {0}")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database cannot be reached now (down, unreachable, or not answering within the
    /// deadline): nothing is known to be written; the client may try again shortly.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store has no room to write: the disk under the database or the document folder is
    /// full (SQLite's `SQLITE_FULL`, PostgreSQL's `53100 disk_full`, `ENOSPC`). Nothing was
    /// written; reads still work; the same write succeeds once space is freed (issue 18,
    /// item 20).
    #[error("storage full: {0}")]
    StorageFull(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Reads "no such record" as an answer: `NotFound` becomes `None`, every other error stays
/// an error (ARCHITECTURE.md item 4: a database failure is never "not found").
pub trait Found<T> {
    /// `Ok(Some(value))`, `Ok(None)` for `NotFound`, else the error.
    fn found(self) -> Result<Option<T>, RepoError>;
}

impl<T> Found<T> for Result<T, RepoError> {
    fn found(self) -> Result<Option<T>, RepoError> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(RepoError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl From<Refusal> for RepoError {
    fn from(refusal: Refusal) -> Self {
        RepoError::Refused(refusal)
    }
}

crate::reasons! {
    /// The rules the organisation and official stores keep ([`RepoError::Refused`]).
    pub enum AccountConflict {
        /// A sibling organisation has the name.
        OrgNameTaken = (Conflict, "org_name_taken", "同一上级组织下已有同名组织",
            "A sibling organisation already has this name")
            at ("name", "taken", "同级重名", "taken by a sibling"),
        /// Another official has the username.
        UsernameTaken = (Conflict, "username_taken", "该用户名已被使用",
            "This username is taken")
            at ("username", "taken", "已被使用", "taken"),
    }
}

/// Keyset page request: rows after `after`, at most `limit` of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// A cursor an earlier [`Page::next`] of the same listing handed out (opaque: only the
    /// store that lists reads it; one it did not hand out is refused with
    /// [`PageRequest::invalid_cursor`]).
    pub after: Option<String>,
    /// Maximum rows to return (1–100; callers check).
    pub limit: u32,
}

impl PageRequest {
    /// The refusal of a cursor the listing did not hand out (422, field `cursor`), so a
    /// damaged cursor never passes for the end of the list.
    pub fn invalid_cursor() -> Refusal {
        Refusal::invalid_field(FieldProblem::new(
            "cursor",
            "invalid",
            "翻页位置无效，请从第一页重新查询",
            "cursor is not one this API returned",
        ))
    }
}

/// One page of a listing, in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// The cursor of the next page, built by the store from the last row with the same key
    /// its `ORDER BY` sorts by; `None` on the last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each row turned into `f(row)`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// Fields of an organisation an official may change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgUpdate {
    /// New name.
    pub name: Option<OrgName>,
    /// New kind.
    pub kind: Option<OrgKind>,
    /// New flag.
    pub accepts_individuals: Option<bool>,
    /// New city (see [`crate::org::parse_city`]).
    pub city: Option<String>,
}

/// Filters of the workers' organisation search ("where can I join?").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgSearch {
    /// Name containing this text.
    pub q: Option<String>,
    /// Exactly this city.
    pub city: Option<String>,
    /// Only organisations that do (or do not) accept individual workers.
    pub accepts_individuals: Option<bool>,
}

/// The organisation tree.
#[async_trait]
pub trait OrgRepository: Send + Sync {
    /// Stores a new organisation. [`AccountConflict::OrgNameTaken`] when a sibling has the
    /// same name.
    async fn create(&self, org: &Organisation, change: &Change) -> Result<(), RepoError>;
    /// One organisation by id.
    async fn get(&self, id: OrgId) -> Result<Organisation, RepoError>;
    /// An organisation by exact name (the first in tree order when several share it).
    async fn find_by_name(&self, name: &str) -> Result<Option<Organisation>, RepoError>;
    /// Whether any organisation exists.
    async fn any(&self) -> Result<bool, RepoError>;
    /// `root` and all below it, in tree (path) order, keyset-paged by path.
    async fn list_subtree(
        &self,
        root: &OrgPath,
        page: &PageRequest,
    ) -> Result<Page<Organisation>, RepoError>;
    /// Organisations matching `filter` anywhere in the tree, in tree (path) order,
    /// keyset-paged by path.
    async fn search(
        &self,
        filter: &OrgSearch,
        page: &PageRequest,
    ) -> Result<Page<Organisation>, RepoError>;
    /// Applies `update` and returns the organisation as stored. [`AccountConflict::OrgNameTaken`]
    /// as above.
    async fn update(
        &self,
        id: OrgId,
        update: &OrgUpdate,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<Organisation, RepoError>;
}

/// Officials' accounts.
#[async_trait]
pub trait OfficialRepository: Send + Sync {
    /// Stores a new official with an argon2id password hash. [`AccountConflict::UsernameTaken`]
    /// when
    /// the username is taken.
    async fn create(
        &self,
        official: &Official,
        password_hash: &str,
        change: &Change,
    ) -> Result<(), RepoError>;
    /// One official by id.
    async fn get(&self, id: AccountId) -> Result<Official, RepoError>;
    /// An official and their password hash, by username (disabled ones included).
    async fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<(Official, String)>, RepoError>;
    /// Officials whose organisation lies in `root`'s subtree, keyset-paged by id, optionally
    /// of one role.
    async fn list_in_subtree(
        &self,
        root: &OrgPath,
        role: Option<Role>,
        page: &PageRequest,
    ) -> Result<Page<Official>, RepoError>;
    /// The enabled officials of one of `roles` at the organisation nearest to `path` — itself
    /// or the closest ancestor — that has any: who is told of what happens there.
    async fn nearest_with_roles(
        &self,
        path: &OrgPath,
        roles: &[Role],
    ) -> Result<Vec<Official>, RepoError>;
    /// Replaces an official's password hash, with whether they must change it at the next
    /// login, and returns them as stored.
    async fn set_password(
        &self,
        id: AccountId,
        password_hash: &str,
        change_required: bool,
        change: &Change,
    ) -> Result<Official, RepoError>;
    /// Marks an official disabled (idempotent: an already disabled one keeps its time) and
    /// returns them as stored.
    async fn disable(
        &self,
        id: AccountId,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<Official, RepoError>;
}

/// Workers' accounts.
#[async_trait]
pub trait WorkerRepository: Send + Sync {
    /// Finds the worker with this `openid` or creates one; records the login time and a
    /// `unionid` WeChat sent. Returns the worker and whether it was created.
    async fn login_by_openid(
        &self,
        openid: &str,
        unionid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Worker, bool), RepoError>;
    /// One worker by id.
    async fn get(&self, id: AccountId) -> Result<Worker, RepoError>;
    /// Binds a mobile number to the worker and returns the worker as stored.
    async fn bind_phone(
        &self,
        id: AccountId,
        phone: &str,
        country_code: &str,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<Worker, RepoError>;
    /// Deletes the worker's account at the worker's request (PIPL art. 47): withdraws open
    /// membership applications, erases the personal data of every application and ended
    /// membership of the account, and strips the account of its WeChat identity and phone,
    /// so the same WeChat user logging in again gets a new, empty account. The rows stay,
    /// marked, so what the union decided remains on record. Deleting an already deleted
    /// account changes nothing. [`MemberActive`](crate::membership::store::MembershipConflict::MemberActive)
    /// ([`crate::membership::store::MembershipConflict`]) while the account holds a membership in
    /// force: the member leaves first. `NotFound` when no such account exists.
    async fn delete_account(
        &self,
        id: AccountId,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<(), RepoError>;
}

/// Liveness of the store, for `/readyz`.
#[async_trait]
pub trait StoreHealth: Send + Sync {
    /// Runs a trivial query — and, after a write found the disk full, a small write, so the
    /// answer is `StorageFull` until a write succeeds again. `Err` carries the reason.
    async fn ping(&self) -> Result<(), RepoError>;
    /// `"postgres"` or `"sqlite"`.
    fn backend(&self) -> &'static str;
}
