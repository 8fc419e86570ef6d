//! The port through which membership records are kept (implemented in `yiwang-infra`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::application::{
    ApplicantDetails, Application, ApplicationEvent, ApplicationId, ApplicationStatus, Decision,
};
use super::member::{Member, MemberId};
use super::transfer::{HistoryEntry, Transfer, TransferDecision, TransferId, TransferStatus};
use crate::account::AccountId;
use crate::audit::Change;
use crate::org::{OrgId, OrgPath};
use crate::repo::{Page, RepoError};

/// Conflict names [`MembershipRepository`] reports in [`RepoError::Conflict`].
pub mod conflict {
    /// The person (by ID number) or the account already holds a membership in force.
    pub const ALREADY_MEMBER: &str = "already_member";
    /// The person (by ID number) already has an open (submitted or returned) application.
    pub const OPEN_APPLICATION: &str = "open_application";
    /// The application or transfer is not in a state that allows the step (decided twice,
    /// withdrawn, the membership ended…).
    pub const STATUS: &str = "status";
    /// The member already has a transfer request waiting for a decision.
    pub const TRANSFER_OPEN: &str = "transfer_open";
    /// A transfer to the organisation the member already belongs to.
    pub const SAME_ORGANISATION: &str = "same_organisation";
}

/// Filters of the reviewers' queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    /// Only this status.
    pub status: Option<ApplicationStatus>,
    /// Only this organisation's subtree (inside the caller's scope).
    pub org: Option<OrgPath>,
    /// Real name, phone or employer containing this text.
    pub q: Option<String>,
}

/// Filters of the member search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFilter {
    /// Only this organisation's subtree (inside the caller's scope).
    pub org: Option<OrgPath>,
    /// Real name, phone or member number containing this text.
    pub q: Option<String>,
    /// Only members in force (`Some(true)`) or ended (`Some(false)`).
    pub active: Option<bool>,
}

/// A sealed ID number as read back for an audited reveal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRef {
    /// Key id.
    pub kid: String,
    /// Base64 of nonce ‖ ciphertext ‖ tag.
    pub sealed: String,
}

/// Applications, decisions and members.
///
/// Every method that changes state writes `change` (audit row and outbox event) and the
/// application's history in the same transaction.
#[async_trait]
pub trait MembershipRepository: Send + Sync {
    /// Stores a new submitted application. `Conflict(ALREADY_MEMBER)` when the person or the
    /// account holds a membership in force; `Conflict(OPEN_APPLICATION)` when the person has
    /// an open application (from any account).
    async fn submit(
        &self,
        id: ApplicationId,
        account_id: AccountId,
        details: &ApplicantDetails,
        org_path: &OrgPath,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Application, RepoError>;

    /// Replaces the details of the worker's returned or rejected application and submits it
    /// again; conflicts as for [`MembershipRepository::submit`], and `Conflict(STATUS)` when it
    /// is not returned or rejected, `NotFound` when it is not the account's.
    async fn resubmit(
        &self,
        id: ApplicationId,
        account_id: AccountId,
        details: &ApplicantDetails,
        org_path: &OrgPath,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Application, RepoError>;

    /// Withdraws the worker's open application. `Conflict(STATUS)` when it is decided,
    /// `NotFound` when it is not the account's.
    async fn withdraw(
        &self,
        id: ApplicationId,
        account_id: AccountId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Application, RepoError>;

    /// One application.
    async fn application(&self, id: ApplicationId) -> Result<Application, RepoError>;

    /// The account's applications, newest first.
    async fn applications_of(&self, account_id: AccountId) -> Result<Vec<Application>, RepoError>;

    /// An application's history, oldest first.
    async fn history(&self, id: ApplicationId) -> Result<Vec<ApplicationEvent>, RepoError>;

    /// Applications in `scope`, oldest submission first, keyset-paged by
    /// `{submitted_at}|{id}`.
    async fn queue(
        &self,
        scope: &OrgPath,
        filter: &QueueFilter,
        page: &Page,
    ) -> Result<Vec<Application>, RepoError>;

    /// Decides a submitted application. Approval creates member `member_id` with the next
    /// member number of the organisation. Exactly one of two racing decisions succeeds; the
    /// other gets `Conflict(STATUS)`, as does deciding anything but a submitted application.
    /// `Conflict(ALREADY_MEMBER)` when approval would give the person a second membership.
    async fn decide(
        &self,
        id: ApplicationId,
        decision: &Decision,
        by: AccountId,
        member_id: MemberId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<(Application, Option<Member>), RepoError>;

    /// The account's membership in force, if any.
    async fn member_of(&self, account_id: AccountId) -> Result<Option<Member>, RepoError>;

    /// One member record.
    async fn member(&self, id: MemberId) -> Result<Member, RepoError>;

    /// Members in `scope`, keyset-paged by member number.
    async fn members(
        &self,
        scope: &OrgPath,
        filter: &MemberFilter,
        page: &Page,
    ) -> Result<Vec<Member>, RepoError>;

    /// Every member in `scope` matching `filter`, by member number, for a spreadsheet
    /// export; `None` (and nothing written) when more than `limit` match. Writes `change`
    /// (the audit row of the export, its detail given the number of rows) in the same
    /// transaction as the read.
    async fn export_members(
        &self,
        scope: &OrgPath,
        filter: &MemberFilter,
        limit: u32,
        change: &Change,
    ) -> Result<Option<Vec<Member>>, RepoError>;

    /// The sealed ID number of a member (for an audited reveal); `None` once erased. Writes
    /// `change` (the audit row of the reveal) in the same transaction as the read.
    async fn sealed_id_number(
        &self,
        id: MemberId,
        change: &Change,
    ) -> Result<Option<SealedRef>, RepoError>;

    /// Ends the account's membership in force (退会), withdraws a transfer request waiting
    /// for a decision, and writes the "ended" history row. `NotFound` when the account holds
    /// none.
    async fn end_membership(
        &self,
        account_id: AccountId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Member, RepoError>;

    /// Erases the personal data (name, ID number, phone, employer…) of applications rejected
    /// or withdrawn, and of memberships ended (with their applications), last changed before
    /// `cutoff`; the records themselves stay, marked `erased_at`. Returns how many records
    /// were erased; `change` is written once when any were.
    async fn erase_expired(
        &self,
        cutoff: DateTime<Utc>,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<u64, RepoError>;
}

/// Membership transfers (会籍转移) and the membership history they write.
///
/// Every method that changes state writes `change` (audit row and outbox event) in the same
/// transaction.
#[async_trait]
pub trait TransferRepository: Send + Sync {
    /// Files a request to move the account's membership in force to organisation `to`.
    /// `NotFound` when the account holds no membership in force or `to` does not exist;
    /// `Conflict(SAME_ORGANISATION)` when the member already belongs to `to`;
    /// `Conflict(TRANSFER_OPEN)` when a request is already waiting.
    async fn request_transfer(
        &self,
        id: TransferId,
        account_id: AccountId,
        to: OrgId,
        reason: Option<&str>,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Transfer, RepoError>;

    /// One request.
    async fn transfer(&self, id: TransferId) -> Result<Transfer, RepoError>;

    /// The account's requests, newest first.
    async fn transfers_of(&self, account_id: AccountId) -> Result<Vec<Transfer>, RepoError>;

    /// Requests into organisations in `scope`, oldest first, keyset-paged by
    /// `{requested_at}|{id}`.
    async fn transfer_queue(
        &self,
        scope: &OrgPath,
        status: Option<TransferStatus>,
        page: &Page,
    ) -> Result<Vec<Transfer>, RepoError>;

    /// Withdraws the account's waiting request. `NotFound` when it is not the account's,
    /// `Conflict(STATUS)` when it is no longer waiting.
    async fn withdraw_transfer(
        &self,
        id: TransferId,
        account_id: AccountId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Transfer, RepoError>;

    /// Decides a waiting request. Approval moves the member to the receiving organisation
    /// (member number unchanged) and writes the "transferred" history row. Exactly one of two
    /// racing decisions succeeds; the other, and any decision on a request no longer
    /// waiting, gets `Conflict(STATUS)`.
    async fn decide_transfer(
        &self,
        id: TransferId,
        decision: &TransferDecision,
        by: AccountId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Transfer, RepoError>;

    /// A membership's history, oldest first.
    async fn membership_history(&self, member_id: MemberId)
        -> Result<Vec<HistoryEntry>, RepoError>;
}
