//! The port through which plans, enrolments and claims are kept (implemented in
//! `yiwang-infra`). Every method that changes state writes its [`Change`] (audit row and
//! outbox event) in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::claim::{
    Claim, ClaimEvent, ClaimId, ClaimLine, ClaimStatus, Document, DocumentId, Payee,
};
use super::enrolment::{Enrolment, EnrolmentId, FeePayment};
use super::plan::{Plan, PlanId, PlanRules};
use super::review::{Command, Outcome, Preview};
use super::similar::Similar;
use crate::account::AccountId;
use crate::audit::Change;
use crate::org::OrgPath;
use crate::store::{Page, PageRequest, RepoError};

crate::reasons! {
    /// The rules the mutual-aid store keeps ([`RepoError::Refused`]).
    pub enum MutualAidConflict {
        /// The member is already enrolled in the plan.
        AlreadyEnrolled = (Conflict, "already_enrolled", "您已参加该互助计划，无需重复参加",
            "You are already enrolled in this plan"),
        /// An invoice number at one hospital is on another claim (or twice on this one).
        DuplicateInvoice = (Conflict, "duplicate_invoice",
            "该医院的这张发票已在其他申请中使用（或在本申请中重复填写），同一张发票只能申请一次",
            "This invoice of this hospital is already on a claim (or twice on this one)")
            at ("lines", "duplicate_invoice", "发票已被申请过", "invoice already claimed"),
        /// The claim cannot be edited in its state.
        NotEditable = (Conflict, "not_editable",
            "申请已提交，审核期间不能修改；被退回后可以补充材料",
            "The claim is under review and cannot be changed; it can be once returned"),
        /// The plan was saved by someone else since the version the caller read.
        PlanVersion = (Conflict, "plan_version",
            "该计划已被他人修改，请刷新后在最新版本上修改",
            "The plan was saved by someone else; reload it and edit the latest version")
            at ("version", "stale", "版本已过期", "stale version"),
    }
}

/// Filters of the officials' claim queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimFilter {
    /// Only these states (all when empty).
    pub statuses: Vec<ClaimStatus>,
    /// Only this plan.
    pub plan: Option<PlanId>,
}

/// Filters of the officials' enrolment list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrolmentFilter {
    /// Only this plan.
    pub plan: Option<PlanId>,
    /// Only paid (`Some(true)`) or unpaid (`Some(false)`) ones.
    pub paid: Option<bool>,
    /// Only members whose real name, phone or member number contains this text (finance
    /// finding a walk-in payer's enrolment).
    pub member: Option<String>,
}

/// What a worker writes to start a claim ([`MutualAidRepository::create_claim`]).
#[derive(Debug, Clone)]
pub struct NewClaim {
    /// The worker; the enrolment must be theirs.
    pub account: AccountId,
    /// The enrolment to claim under.
    pub enrollment: EnrolmentId,
    /// Checked cost lines.
    pub lines: Vec<ClaimLine>,
    /// Where to pay, when already given.
    pub payee: Option<Payee>,
    /// File it at once: the draft is submitted in the same transaction (a claim that needs
    /// no documents, filed in one round trip), and when the submission is refused nothing
    /// is stored.
    pub submit: bool,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

/// What [`MutualAidRepository::create_claim`] stored: the draft and, when it was filed at
/// once ([`NewClaim::submit`]), its submission.
#[derive(Debug, Clone)]
pub struct Created {
    /// The claim as created, before any submission.
    pub draft: Claim,
    /// The submission, when the claim was filed at once.
    pub submission: Option<Outcome>,
}

impl Created {
    /// The claim as stored: submitted when it was filed at once, else the draft.
    pub fn claim(&self) -> &Claim {
        self.submission.as_ref().map_or(&self.draft, |s| &s.claim)
    }
}

/// What the caller knows before the transaction: everything [`super::review::Context`] needs
/// that the repository does not read itself.
#[derive(Debug, Clone)]
pub struct CommandInput {
    /// The command.
    pub command: Command,
    /// Who acts.
    pub actor: AccountId,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

/// Mutual-aid plans and their versions.
#[async_trait]
pub trait PlanRepository: Send + Sync {
    /// Stores a new plan at version 1.
    async fn create_plan(
        &self,
        plan: &Plan,
        by: AccountId,
        change: &Change,
    ) -> Result<(), RepoError>;

    /// Saves new rules as the next version. [`MutualAidConflict::PlanVersion`] when the plan is no
    /// longer at `expected_version`.
    async fn save_plan(
        &self,
        id: PlanId,
        expected_version: i32,
        rules: &PlanRules,
        by: AccountId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Plan, RepoError>;

    /// One plan at its latest version.
    async fn plan(&self, id: PlanId) -> Result<Plan, RepoError>;

    /// The rules of one version of a plan.
    async fn plan_version(&self, id: PlanId, version: i32) -> Result<PlanRules, RepoError>;

    /// Plans run by organisations in `scope`, newest plan year first, keyset-paged by
    /// `{starts_on}|{id}`.
    async fn plans(&self, scope: &OrgPath, page: &PageRequest) -> Result<Page<Plan>, RepoError>;

    /// Plans a member of the organisation at `member_path` may enrol in: those run by that
    /// organisation or one above it, newest plan year first.
    async fn plans_for(&self, member_path: &OrgPath) -> Result<Vec<Plan>, RepoError>;
}

/// Members' enrolments in plans and their fees.
#[async_trait]
pub trait EnrolmentRepository: Send + Sync {
    /// Stores a new enrolment. [`MutualAidConflict::AlreadyEnrolled`] when the member has one in the
    /// plan.
    async fn enrol(&self, enrollment: &Enrolment, change: &Change) -> Result<(), RepoError>;

    /// One enrolment.
    async fn enrollment(&self, id: EnrolmentId) -> Result<Enrolment, RepoError>;

    /// The account's enrolments, newest first.
    async fn enrolments_of(&self, account: AccountId) -> Result<Vec<Enrolment>, RepoError>;

    /// Enrolments of members in `scope`, keyset-paged by `{requested_on}|{id}`.
    async fn enrollments(
        &self,
        scope: &OrgPath,
        filter: &EnrolmentFilter,
        page: &PageRequest,
    ) -> Result<Page<Enrolment>, RepoError>;

    /// Records `payment` for every enrolment in `ids` that is not paid yet, in one
    /// transaction, writing `change` once per enrolment paid (its record id filled in).
    /// Returns each enrolment and whether it was paid now (`false`: it already was).
    /// `NotFound` (and nothing written) when any id is unknown.
    async fn record_payments(
        &self,
        ids: &[EnrolmentId],
        payment: &FeePayment,
        change: &Change,
    ) -> Result<Vec<(Enrolment, bool)>, RepoError>;
}

/// Claims, their timeline and their decisions.
#[async_trait]
pub trait ClaimRepository: Send + Sync {
    /// Starts a claim in one transaction: reads the enrolment and its plan's current version,
    /// makes [`Claim::draft`] and, when `new.submit`, runs the submission on it as
    /// [`Self::decide`] does; stores the claim with its lines (and the submission's timeline
    /// entry) and writes `changes(&created)` in order. `NotFound` when the enrolment is not
    /// `new.account`'s; [`MutualAidConflict::DuplicateInvoice`] when a line's invoice is on another claim
    /// that is not rejected; a refused submission is [`RepoError::Refused`] and stores
    /// nothing.
    async fn create_claim(
        &self,
        new: NewClaim,
        changes: Box<dyn for<'c> FnOnce(&'c Created) -> Vec<Change> + Send + 'static>,
    ) -> Result<Created, RepoError>;

    /// One claim with its lines and documents.
    async fn claim(&self, id: ClaimId) -> Result<Claim, RepoError>;

    /// The account's claims, newest first.
    async fn claims_of(&self, account: AccountId) -> Result<Vec<Claim>, RepoError>;

    /// Claims of members in `scope`, oldest first submission first (drafts are the
    /// worker's own and never listed), keyset-paged by `{submitted_at}|{id}`.
    async fn claim_queue(
        &self,
        scope: &OrgPath,
        filter: &ClaimFilter,
        page: &PageRequest,
    ) -> Result<Page<Claim>, RepoError>;

    /// A claim's timeline, oldest first.
    async fn claim_events(&self, id: ClaimId) -> Result<Vec<ClaimEvent>, RepoError>;

    /// Replaces the lines and the payee of a draft or returned claim.
    /// [`MutualAidConflict::NotEditable`] in any other state, [`MutualAidConflict::DuplicateInvoice`] as for
    /// [`Self::create_claim`].
    async fn update_draft(
        &self,
        id: ClaimId,
        lines: &[ClaimLine],
        payee: Option<&Payee>,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Claim, RepoError>;

    /// The preview of `claim` ([`super::review::preview`]), judged on what a submission is
    /// judged on while the claim is editable (the plan's current rules, whether the claimant
    /// is a member in force, the enrolment) and on the claim's plan version afterwards, with
    /// the member's other approved or paid claims of the enrolment. Holds nothing.
    async fn preview(&self, claim: &Claim) -> Result<Preview, RepoError>;

    /// What on other claims (drafts left out) looks like `claim`'s, as
    /// [`super::similar::similar`] judges it among the lines with the same invoice identity
    /// or the same day and total, and the documents with the same bytes.
    async fn similar_to(&self, claim: &Claim) -> Result<Vec<Similar>, RepoError>;

    /// Runs `input.command` on the claim inside one transaction: holds the claim and its
    /// enrolment, reads the rules (the plan's current version for a submission, the claim's
    /// version otherwise), for a submission whether the claimant is a member in force in the
    /// plan's subtree ([`Plan::takes_members_of`]), and the member's earlier approved or paid
    /// claims of the enrolment,
    /// calls [`super::review::decide`], and when the outcome changes anything writes the
    /// claim, its timeline entry and `change(&outcome)` (the outcome's claim as stored). Two racing commands run one after
    /// the other; the second is judged on what the first wrote.
    async fn decide(
        &self,
        id: ClaimId,
        input: &CommandInput,
        change: Box<dyn for<'o> FnOnce(&'o Outcome) -> Change + Send + 'static>,
    ) -> Result<Outcome, RepoError>;
}

/// The documents attached to claims (their bytes are in the
/// [`DocumentStore`](crate::documents::DocumentStore)).
#[async_trait]
pub trait ClaimDocumentRepository: Send + Sync {
    /// Attaches a stored document to a draft or returned claim. [`MutualAidConflict::NotEditable`] in
    /// any other state.
    async fn add_document(&self, document: &Document, change: &Change) -> Result<(), RepoError>;

    /// Detaches a document from a draft or returned claim (the bytes stay in the store,
    /// unreferenced). [`MutualAidConflict::NotEditable`], or `NotFound` when it is not the claim's.
    async fn remove_document(
        &self,
        claim: ClaimId,
        document: DocumentId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<(), RepoError>;

    /// One document of a claim.
    async fn document(&self, claim: ClaimId, document: DocumentId) -> Result<Document, RepoError>;
}

/// Everything mutual aid keeps, as one handle for the API's state: each part is its own port.
pub trait MutualAidRepository:
    PlanRepository + EnrolmentRepository + ClaimRepository + ClaimDocumentRepository
{
}

impl<T> MutualAidRepository for T where
    T: PlanRepository + EnrolmentRepository + ClaimRepository + ClaimDocumentRepository
{
}
