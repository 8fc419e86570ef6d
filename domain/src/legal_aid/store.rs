//! The port through which legal-aid applications are kept (implemented in `yiwang-infra`).
//! Every method that changes state writes its [`Change`] in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Actor, Command, LegalAidApplication, LegalAidId, LegalAidStatus};
use crate::account::AccountId;
use crate::audit::Change;
use crate::idempotency::AnswerOf;
use crate::org::OrgPath;
use crate::store::{Page, PageRequest, RepoError};

/// Legal-aid applications.
#[async_trait]
pub trait LegalAidRepository: Send + Sync {
    /// Stores a new application and writes `change`.
    async fn file(
        &self,
        application: &LegalAidApplication,
        change: &Change,
    ) -> Result<(), RepoError>;

    /// One application.
    async fn legal_aid(&self, id: LegalAidId) -> Result<LegalAidApplication, RepoError>;

    /// The worker's applications, newest first.
    async fn legal_aid_of(&self, account: AccountId)
        -> Result<Vec<LegalAidApplication>, RepoError>;

    /// Applications of organisations in `scope` (or assigned to `lawyer`, when given, in any
    /// branch), in `statuses` (all when empty), oldest first, keyset-paged by
    /// `{created_at}|{id}`.
    async fn legal_aid_queue(
        &self,
        scope: Option<&OrgPath>,
        lawyer: Option<AccountId>,
        statuses: &[LegalAidStatus],
        page: &PageRequest,
    ) -> Result<Page<LegalAidApplication>, RepoError>;

    /// Runs `command` by `actor` in one transaction: holds the row, calls
    /// [`super::decide`], writes the application and `change`; its refusal is
    /// [`RepoError::Refused`] and writes nothing. Two officials deciding at once run one after
    /// the other; the second is judged on what the first wrote (409). `answer` makes the
    /// stored idempotent answer from the application as written, in the same transaction.
    async fn decide_legal_aid(
        &self,
        id: LegalAidId,
        actor: Actor,
        command: Command,
        at: DateTime<Utc>,
        change: Change,
        answer: AnswerOf<LegalAidApplication>,
    ) -> Result<LegalAidApplication, RepoError>;
}
