//! The ports through which the consultation categories, the lawyer roster and the
//! consultations themselves are kept (implemented in `yiwang-infra`). Every method that changes state writes its [`Change`]
//! (audit row and outbox event) in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::category::{Category, CategoryCode, CategoryRules};
use super::early_warning::{AlertId, AlertRule, AlertStatus, EmployerAlert};
use super::lawyer::{Lawyer, LawyerDetails};
use super::message::{Message, MessageId, ReadMark};
use super::thread::{Actor, Command, Consultation, ConsultationId, ConsultationStatus, Outcome};
use crate::account::AccountId;
use crate::audit::Change;
use crate::calendar::WorkingCalendar;
use crate::org::OrgPath;
use crate::store::{Page, PageRequest, RepoError};

crate::reasons! {
    /// The rules the roster and the early-warning stores keep ([`RepoError::Refused`]).
    pub enum RosterConflict {
        /// Another lawyer's profile has the licence number.
        LicenceTaken = (Conflict, "licence_taken", "该执业证号已登记在另一位律师名下",
            "Another lawyer on the roster has this licence number")
            at ("licence_number", "licence_taken", "执业证号已被登记", "licence number taken"),
        /// The alert was acknowledged already (by another official).
        AlreadyAcknowledged = (Conflict, "already_acknowledged", "该预警已由其他干部处理",
            "The alert was acknowledged already"),
    }
}

/// Which lawyers to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LawyerFilter {
    /// Only those practising this category.
    pub category: Option<CategoryCode>,
    /// Only those of organisations in this subtree (an official's scope).
    pub scope: Option<OrgPath>,
}

/// Categories and lawyers.
#[async_trait]
pub trait RosterRepository: Send + Sync {
    /// Every category, active or not, by position then code.
    async fn categories(&self) -> Result<Vec<Category>, RepoError>;

    /// Creates category `code` or replaces its rules; `true` when it was new.
    async fn save_category(
        &self,
        code: &CategoryCode,
        rules: &CategoryRules,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<(Category, bool), RepoError>;

    /// Creates or replaces the profile of the official `account`, keeping an existing
    /// profile's duty and ratings (a new one starts off duty, unrated). `NotFound` when
    /// `account` is not an official with the `lawyer` role, or is disabled;
    /// [`RosterConflict::LicenceTaken`] when another profile has the licence number.
    async fn save_lawyer(
        &self,
        account: AccountId,
        details: &LawyerDetails,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Lawyer, RepoError>;

    /// Puts the lawyer `account` on or off duty. `NotFound` without a profile.
    async fn set_on_duty(
        &self,
        account: AccountId,
        on_duty: bool,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Lawyer, RepoError>;

    /// One lawyer's profile. `NotFound` without one, or when the official is disabled.
    async fn lawyer(&self, account: AccountId) -> Result<Lawyer, RepoError>;

    /// Lawyers whose officials are not disabled, on duty first, then by account id,
    /// keyset-paged by `{0 on duty | 1 off}|{account id}`.
    async fn lawyers(
        &self,
        filter: &LawyerFilter,
        page: &PageRequest,
    ) -> Result<Page<Lawyer>, RepoError>;
}

/// A command on a consultation: who gives it, what, the message it carries (checked and
/// moderated) and when.
#[derive(Debug, Clone)]
pub struct Act {
    /// Who.
    pub actor: Actor,
    /// What.
    pub command: Command,
    /// The message of a [`Command::Write`].
    pub message: Option<Message>,
    /// The working days business-hour deadlines are counted in.
    pub calendar: WorkingCalendar,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

/// What a command wrote: the decided outcome and the thread's new messages (the act's own
/// message, then the outcome's system note), oldest first.
#[derive(Debug, Clone)]
pub struct Step {
    /// The decision, with the consultation as stored.
    pub outcome: Outcome,
    /// The messages the step added to the thread.
    pub messages: Vec<Message>,
}

/// Consultations and their messages.
/// Whose consultations a queue lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueScope {
    /// An official's: every consultation of organisations in the subtree.
    Branch(OrgPath),
    /// A lawyer's: their own (any state but `held`) and the `waiting` ones of their
    /// specialties, which any of them may accept.
    Lawyer {
        lawyer: AccountId,
        specialties: Vec<CategoryCode>,
    },
}

#[async_trait]
pub trait ConsultationRepository: Send + Sync {
    /// Stores a new consultation with its first message and writes `change`. In a `watched`
    /// category with an employer named, it also counts the employer's consultations for the
    /// early warning ([`super::early_warning`]) in the same transaction, one employer at a
    /// time: at the rule's threshold it raises an alert (with its
    /// [`EmployerAlert::raised`] change), and an open alert is counted again.
    async fn open(
        &self,
        consultation: &Consultation,
        first: &Message,
        change: &Change,
    ) -> Result<(), RepoError>;

    /// One consultation.
    async fn consultation(&self, id: ConsultationId) -> Result<Consultation, RepoError>;

    /// Runs `act` in one transaction: holds the consultation's row, reads its category,
    /// calls [`super::thread::decide`], and writes the consultation, the act's message, the
    /// outcome's system note, a rating into the lawyer's average, and `change(&outcome)`.
    /// A refusal is [`RepoError::Refused`] and writes nothing. Two lawyers accepting at once
    /// run one after the other: the second is judged on what the first wrote
    /// (`already_taken`).
    async fn act(
        &self,
        id: ConsultationId,
        act: Act,
        change: Box<dyn for<'o> FnOnce(&'o Outcome) -> Change + Send + 'static>,
    ) -> Result<Step, RepoError>;

    /// The messages after `after` (all when `None`), oldest first, at most `limit`.
    async fn messages(
        &self,
        id: ConsultationId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>, RepoError>;

    /// Moves the reader's mark on the thread forward to `mark.message_id` (a mark further on
    /// stays) and answers the mark as it stands. `NotFound` when the message is not in the
    /// thread.
    async fn mark_read(&self, mark: &ReadMark) -> Result<ReadMark, RepoError>;

    /// One message of the thread. `NotFound` when it is not in the thread.
    async fn message(&self, id: ConsultationId, message: MessageId) -> Result<Message, RepoError>;

    /// The thread's read marks, one per reader.
    async fn read_marks(&self, id: ConsultationId) -> Result<Vec<ReadMark>, RepoError>;

    /// The worker's consultations, newest first.
    async fn consultations_of(&self, account: AccountId) -> Result<Vec<Consultation>, RepoError>;

    /// Consultations `whose` ([`QueueScope`]), in `statuses` as they stand at `at`
    /// ([`Consultation::status_at`]: a resolution left alone for 7 days counts as closed),
    /// all when empty; oldest first, keyset-paged by `{created_at}|{id}`.
    async fn queue(
        &self,
        whose: &QueueScope,
        statuses: &[ConsultationStatus],
        at: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<Consultation>, RepoError>;
}

/// The employer early warning: its rule and its alerts (raised by
/// [`ConsultationRepository::open`]).
#[async_trait]
pub trait EarlyWarningRepository: Send + Sync {
    /// The rule in force.
    async fn alert_rule(&self) -> Result<AlertRule, RepoError>;

    /// Replaces the rule (alerts already raised keep theirs) and writes `change`.
    async fn save_alert_rule(
        &self,
        rule: &AlertRule,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<(), RepoError>;

    /// Alerts of organisations in `scope`, in `statuses` (all when empty), newest first,
    /// keyset-paged by `{created_at}|{id}`.
    async fn alerts(
        &self,
        scope: &OrgPath,
        statuses: &[AlertStatus],
        page: &PageRequest,
    ) -> Result<Page<EmployerAlert>, RepoError>;

    /// One alert.
    async fn alert(&self, id: AlertId) -> Result<EmployerAlert, RepoError>;

    /// Marks open alert `id` acknowledged by `by`, with `note`, and writes `change`.
    /// [`RosterConflict::AlreadyAcknowledged`] when it is not open (two officials at once: the
    /// second).
    async fn acknowledge(
        &self,
        id: AlertId,
        by: AccountId,
        note: Option<String>,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<EmployerAlert, RepoError>;
}
