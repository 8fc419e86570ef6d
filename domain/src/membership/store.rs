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
use crate::idempotency::AnswerOf;
use crate::org::{OrgId, OrgPath};
use crate::store::{Page, PageRequest, RepoError};

crate::reasons! {
    /// The rules [`MembershipRepository`] keeps ([`RepoError::Refused`]), each named for the
    /// step that meets it.
    pub enum MembershipConflict {
        /// Applying (or resubmitting) while the ID number or the account holds a membership
        /// in force.
        AlreadyMember = (Conflict, "already_member",
            "该身份证号码或账号已是工会会员，无需重复入会；如工作单位变动，请申请会籍转移",
            "This ID number or account already holds a membership; after a job change, ask for a transfer"),
        /// Applying while the ID number or the account has an open (submitted or returned)
        /// application.
        OpenApplication = (Conflict, "application_open",
            "该身份证号码或账号已有一份正在办理的入会申请，请查看申请进度，勿重复提交",
            "An application for this ID number or account is already open; follow it instead of filing again"),
        /// The worker resubmitting or withdrawing an application its state does not allow.
        ApplicationStatus = (Conflict, "application_status", "申请当前状态不允许此操作",
            "The application's current status does not allow this"),
        /// An official deciding an application no longer waiting (decided, withdrawn).
        AlreadyDecided = (Conflict, "already_decided", "该申请已被处理或已撤回，请刷新后查看",
            "The application was already decided or withdrawn; reload it"),
        /// Approving an applicant who holds a membership in force.
        ApplicantAlreadyMember = (Conflict, "already_member",
            "申请人已是工会会员，不能再次批准入会",
            "The applicant already holds a membership"),
        /// Deleting the account of a member in force (PIPL art. 47 deletion waits for leaving).
        MemberActive = (Conflict, "member_active", "您仍是工会会员，请先办理退会，再注销账号",
            "You are still a union member; leave the union before deleting the account"),
        /// Asking for a transfer while one waits for a decision.
        TransferOpen = (Conflict, "transfer_open",
            "您已有一份会籍转移申请正在审核，请等待结果或先撤回",
            "A transfer request is already waiting; wait for it or withdraw it first"),
        /// A transfer to the organisation the member already belongs to.
        SameOrganisation = (Invalid, "same_organisation", "您已是该工会组织的会员，无需转移",
            "You already belong to this organisation")
            at ("to_org_id", "same_organisation", "已是该组织会员", "already a member there"),
        /// Withdrawing or deciding a transfer that no longer waits.
        TransferStatus = (Conflict, "transfer_status", "该转移申请已处理或已撤回，请刷新后查看",
            "The transfer request was already decided or withdrawn; reload it"),
    }
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
    /// Stores a new submitted application, with `answer`'s stored answer beside `change`.
    /// [`MembershipConflict::AlreadyMember`] when the person or the account holds a membership
    /// in force; [`MembershipConflict::OpenApplication`] when the person has an open
    /// application (from any account).
    #[allow(clippy::too_many_arguments)]
    async fn submit(
        &self,
        id: ApplicationId,
        account_id: AccountId,
        details: &ApplicantDetails,
        org_path: &OrgPath,
        at: DateTime<Utc>,
        change: &Change,
        answer: AnswerOf<Application>,
    ) -> Result<Application, RepoError>;

    /// Replaces the details of the worker's returned or rejected application and submits it
    /// again; conflicts as for [`MembershipRepository::submit`], and
    /// [`MembershipConflict::ApplicationStatus`] when it
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

    /// Withdraws the worker's open application. [`MembershipConflict::ApplicationStatus`] when it is decided,
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
        page: &PageRequest,
    ) -> Result<Page<Application>, RepoError>;

    /// Decides a submitted application. Approval creates member `member_id` with the next
    /// member number of the organisation. Exactly one of two racing decisions succeeds; the
    /// other gets [`MembershipConflict::AlreadyDecided`], as does deciding anything but a
    /// submitted application.
    /// [`MembershipConflict::ApplicantAlreadyMember`] when approval would give the person a
    /// second membership. `answer` makes the stored idempotent answer from the decided
    /// application and the new member, in the same transaction.
    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        id: ApplicationId,
        decision: &Decision,
        by: AccountId,
        member_id: MemberId,
        at: DateTime<Utc>,
        change: &Change,
        answer: AnswerOf<(Application, Option<Member>)>,
    ) -> Result<(Application, Option<Member>), RepoError>;

    /// The account's membership in force, if any.
    async fn member_of(&self, account_id: AccountId) -> Result<Option<Member>, RepoError>;

    /// One member record.
    async fn member(&self, id: MemberId) -> Result<Member, RepoError>;

    /// The member records `ids` (in force or ended), in no order; unknown ids are left out.
    /// Names the members on officials' lists of enrolments and claims.
    async fn members_by_id(&self, ids: &[MemberId]) -> Result<Vec<Member>, RepoError>;

    /// Members in `scope`, keyset-paged by member number.
    async fn members(
        &self,
        scope: &OrgPath,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> Result<Page<Member>, RepoError>;

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
    /// [`MembershipConflict::SameOrganisation`] when the member already belongs to `to`;
    /// [`MembershipConflict::TransferOpen`] when a request is already waiting. `answer` makes
    /// the stored answer inside the transaction that files.
    #[allow(clippy::too_many_arguments)]
    async fn request_transfer(
        &self,
        id: TransferId,
        account_id: AccountId,
        to: OrgId,
        reason: Option<&str>,
        at: DateTime<Utc>,
        change: &Change,
        answer: AnswerOf<Transfer>,
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
        page: &PageRequest,
    ) -> Result<Page<Transfer>, RepoError>;

    /// Withdraws the account's waiting request. `NotFound` when it is not the account's,
    /// [`MembershipConflict::TransferStatus`] when it is no longer waiting.
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
    /// waiting, gets [`MembershipConflict::TransferStatus`]. `answer` makes the stored
    /// idempotent answer from the decided request, in the same transaction.
    async fn decide_transfer(
        &self,
        id: TransferId,
        decision: &TransferDecision,
        by: AccountId,
        at: DateTime<Utc>,
        change: &Change,
        answer: AnswerOf<Transfer>,
    ) -> Result<Transfer, RepoError>;

    /// A membership's history, oldest first.
    async fn membership_history(&self, member_id: MemberId)
        -> Result<Vec<HistoryEntry>, RepoError>;
}
