//! The membership application (入会申请) and its life: `submitted → approved | rejected |
//! returned`, `withdrawn` by the worker while undecided; a returned or rejected application can
//! be edited and submitted again. Every step is kept as an [`ApplicationEvent`].

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::identity::Sex;
use super::person::EmploymentForm;
use crate::account::AccountId;
use crate::org::{OrgId, OrgPath};

crate::uuid_id!(
    /// Identifier of a membership application.
    ApplicationId
);

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    /// Waiting for an official's decision.
    Submitted,
    /// Accepted: the applicant is a member.
    Approved,
    /// Refused, with a reason code; the worker may edit and submit again.
    Rejected,
    /// Sent back for what is missing; the worker edits and submits again.
    Returned,
    /// Taken back by the worker before a decision.
    Withdrawn,
}

impl ApplicationStatus {
    /// Every status, in the order of the life cycle.
    pub const ALL: [ApplicationStatus; 5] = [
        Self::Submitted,
        Self::Approved,
        Self::Rejected,
        Self::Returned,
        Self::Withdrawn,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Returned => "returned",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Parses [`ApplicationStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The label a worker or official reads.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Submitted => "审核中",
            Self::Approved => "已通过",
            Self::Rejected => "未通过",
            Self::Returned => "待补充材料",
            Self::Withdrawn => "已撤回",
        }
    }

    /// Open applications count for "one open application per person": submitted or
    /// returned (the worker still has something to do, or the union does).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Submitted | Self::Returned)
    }

    /// Whether the worker may withdraw it: while undecided.
    pub fn may_withdraw(self) -> bool {
        self.is_open()
    }

    /// Whether the worker may edit it and submit it again.
    pub fn may_resubmit(self) -> bool {
        matches!(self, Self::Returned | Self::Rejected)
    }

    /// Whether an official may decide it.
    pub fn may_decide(self) -> bool {
        self == Self::Submitted
    }
}

/// Why an application was refused: numbered reason codes, as openIMIS keeps for claims
/// (DOMAIN.md, "Facts from public sources").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not eligible to join this organisation (e.g. works elsewhere, not a worker).
    NotEligible,
    /// The information given is false or does not match the documents.
    FalseInformation,
    /// Belongs to another organisation (e.g. the employer has its own union).
    WrongOrganisation,
    /// Duplicates another application or membership.
    Duplicate,
    /// Anything else; the reason text says what.
    Other,
}

impl RejectReason {
    /// Every reason.
    pub const ALL: [RejectReason; 5] = [
        Self::NotEligible,
        Self::FalseInformation,
        Self::WrongOrganisation,
        Self::Duplicate,
        Self::Other,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotEligible => "not_eligible",
            Self::FalseInformation => "false_information",
            Self::WrongOrganisation => "wrong_organisation",
            Self::Duplicate => "duplicate",
            Self::Other => "other",
        }
    }

    /// Parses [`RejectReason::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The label a worker reads.
    pub fn zh(self) -> &'static str {
        match self {
            Self::NotEligible => "不符合入会条件",
            Self::FalseInformation => "填写信息不实",
            Self::WrongOrganisation => "应加入其他工会组织",
            Self::Duplicate => "重复申请",
            Self::Other => "其他原因",
        }
    }
}

/// An official's decision on a submitted application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Admit the applicant: a member record with a new member number is created.
    Approve,
    /// Refuse, with a reason code and a text the worker reads.
    Reject {
        /// Reason code.
        reason_code: RejectReason,
        /// Explanation, 1–500 characters.
        reason: String,
    },
    /// Send back to the worker, saying what to add or correct.
    Return {
        /// What is missing, 1–500 characters.
        missing: String,
    },
}

impl Decision {
    /// The status the application takes.
    pub fn status(&self) -> ApplicationStatus {
        match self {
            Self::Approve => ApplicationStatus::Approved,
            Self::Reject { .. } => ApplicationStatus::Rejected,
            Self::Return { .. } => ApplicationStatus::Returned,
        }
    }
}

/// Longest free text in a decision (reason, what is missing), in characters.
pub const DECISION_TEXT_MAX_CHARS: usize = 500;

/// A resident ID number as stored: sealed (AES-256-GCM under key `kid`), its keyed hash for
/// uniqueness and lookup, and the masked form for display. The plaintext never reaches the
/// repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedIdNumber {
    /// Id of the key that sealed it.
    pub kid: String,
    /// Base64 of nonce ‖ ciphertext ‖ tag.
    pub sealed: String,
    /// Hex HMAC-SHA256 (the blind index).
    pub index: String,
    /// `3201**********1234`.
    pub masked: String,
}

/// What the applicant states, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicantDetails {
    /// Real name (实名).
    pub real_name: String,
    /// The resident ID number, sealed.
    pub id_number: SealedIdNumber,
    /// Birth date, from the ID number.
    pub birth_date: NaiveDate,
    /// Sex, from the ID number.
    pub sex: Sex,
    /// Mainland mobile number, 11 digits.
    pub phone: String,
    /// Employer's name (for platform workers, the platform or agency).
    pub employer_name: String,
    /// Employer's unified social credit code, checked (GB 32100-2015).
    pub credit_code: Option<String>,
    /// Industry, as the worker words it.
    pub industry: String,
    /// Form of employment.
    pub employment_form: EmploymentForm,
    /// City where the worker works.
    pub city: String,
    /// The organisation applied to.
    pub org_id: OrgId,
    /// Version of the privacy notice the worker consented to.
    pub consent_version: String,
}

/// A membership application as stored. Personal fields are `None` once the retention task
/// has erased them (`erased_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Id.
    pub id: ApplicationId,
    /// The worker's account.
    pub account_id: AccountId,
    /// The organisation applied to.
    pub org_id: OrgId,
    /// Its path (the reviewers' data scope).
    pub org_path: OrgPath,
    /// Its name.
    pub org_name: String,
    /// Where it stands.
    pub status: ApplicationStatus,
    /// Real name.
    pub real_name: Option<String>,
    /// Masked ID number.
    pub id_number_masked: Option<String>,
    /// Birth date.
    pub birth_date: Option<NaiveDate>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Mobile number (full; mask before showing in lists).
    pub phone: Option<String>,
    /// Employer's name.
    pub employer_name: Option<String>,
    /// Employer's credit code.
    pub credit_code: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Form of employment.
    pub employment_form: EmploymentForm,
    /// City.
    pub city: Option<String>,
    /// Privacy-notice version consented to.
    pub consent_version: String,
    /// When consent was given (UTC).
    pub consented_at: DateTime<Utc>,
    /// Last (re)submission (UTC): the reviewers' waiting clock.
    pub submitted_at: DateTime<Utc>,
    /// Last decision (UTC).
    pub decided_at: Option<DateTime<Utc>>,
    /// Who decided last.
    pub decided_by: Option<AccountId>,
    /// Reason code of the last rejection.
    pub reason_code: Option<RejectReason>,
    /// Text of the last rejection.
    pub reason: Option<String>,
    /// What the last return asked for.
    pub missing: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
    /// When personal data was erased (UTC).
    pub erased_at: Option<DateTime<Utc>>,
}

/// One step in an application's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationAction {
    /// First submission.
    Submitted,
    /// Edited and submitted again.
    Resubmitted,
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
    /// Returned for more.
    Returned,
    /// Withdrawn by the worker.
    Withdrawn,
}

impl ApplicationAction {
    /// Every action.
    pub const ALL: [ApplicationAction; 6] = [
        Self::Submitted,
        Self::Resubmitted,
        Self::Approved,
        Self::Rejected,
        Self::Returned,
        Self::Withdrawn,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Resubmitted => "resubmitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Returned => "returned",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// What the history shows.
    pub fn zh(self) -> &'static str {
        match self {
            ApplicationAction::Submitted => "提交申请",
            ApplicationAction::Resubmitted => "补充后重新提交",
            ApplicationAction::Approved => "审核通过",
            ApplicationAction::Rejected => "未通过",
            ApplicationAction::Returned => "退回补充",
            ApplicationAction::Withdrawn => "撤回申请",
        }
    }

    /// Parses [`ApplicationAction::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One entry of an application's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationEvent {
    /// What happened.
    pub action: ApplicationAction,
    /// Who did it: the worker or an official.
    pub actor_id: Option<AccountId>,
    /// Reason code (rejections).
    pub reason_code: Option<RejectReason>,
    /// Reason text (rejections).
    pub reason: Option<String>,
    /// What was asked for (returns).
    pub missing: Option<String>,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn life_cycle_rules() {
        use ApplicationStatus::*;
        assert!(Submitted.may_decide());
        assert!(!Returned.may_decide());
        assert!(Submitted.may_withdraw() && Returned.may_withdraw());
        assert!(!Approved.may_withdraw() && !Rejected.may_withdraw());
        assert!(Returned.may_resubmit() && Rejected.may_resubmit());
        assert!(!Submitted.may_resubmit() && !Withdrawn.may_resubmit());
        for s in ApplicationStatus::ALL {
            assert_eq!(ApplicationStatus::parse(s.as_str()), Some(s));
        }
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::parse(r.as_str()), Some(r));
        }
    }
}
