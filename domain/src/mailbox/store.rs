//! The port through which chairman-mailbox letters are kept (implemented in `yiwang-infra`).
//! Every method that changes state writes its [`Change`] in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Command, Letter, LetterId, LetterStatus};
use crate::account::AccountId;
use crate::audit::Change;
use crate::idempotency::AnswerOf;
use crate::org::OrgPath;
use crate::store::{Page, PageRequest, RepoError};

/// Letters.
#[async_trait]
pub trait MailboxRepository: Send + Sync {
    /// Stores a new letter and writes `change`.
    async fn post_letter(&self, letter: &Letter, change: &Change) -> Result<(), RepoError>;

    /// One letter.
    async fn letter(&self, id: LetterId) -> Result<Letter, RepoError>;

    /// The worker's letters, newest first.
    async fn letters_of(&self, account: AccountId) -> Result<Vec<Letter>, RepoError>;

    /// Letters to organisations in `scope`, in `statuses` (all when empty), oldest first,
    /// keyset-paged by `{created_at}|{id}`; with `listed_only`, only those the public list
    /// shows ([`Letter::listed`]).
    async fn letters(
        &self,
        scope: &OrgPath,
        statuses: &[LetterStatus],
        listed_only: bool,
        page: &PageRequest,
    ) -> Result<Page<Letter>, RepoError>;

    /// Runs `by`'s `command` (an official's; the writer's to withdraw) in one transaction: holds the row, calls
    /// [`super::decide`], writes the letter and `change`; a refusal is [`RepoError::Refused`]
    /// and writes nothing. Two officials replying at once: the second gets `already_replied`.
    async fn answer_letter(
        &self,
        id: LetterId,
        by: AccountId,
        command: Command,
        at: DateTime<Utc>,
        change: Change,
        answer: AnswerOf<Letter>,
    ) -> Result<Letter, RepoError>;
}
