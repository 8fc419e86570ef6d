//! The claim (互助金申请): its line items, its states and the one function that moves it from
//! one state to the next (issue #5, "Claims"). Amounts are kept apart as openIMIS does
//! (DOMAIN.md): what the lines claim, what a reviewer approved of each, what was paid.
//!
//! ```text
//! draft ──submit──▶ submitted ──take──▶ first_review ──approve──▶ approved ──mark_paid──▶ paid
//!   ▲                   ▲                  │    │                    ▲
//!   │                   │                  │    └─approve (≥ plan's second-review amount)─▶ second_review
//!   │                   └───submit─── returned ◀──return── first_review, second_review
//!   │                                         rejected ◀──reject── first_review, second_review
//! ```
//!
//! `second_review` is decided by any reviewer but the one who decided `first_review` (four
//! eyes). Only `draft` and `returned` claims can be edited by the worker.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::enrolment::{Enrolment, EnrolmentId};
use super::payout::{CostLine, Payout};
use super::plan::{benefit_kind, BenefitKind, DocumentKind, PlanId};
use crate::account::AccountId;
use crate::membership::member::MemberId;
use crate::money::{amount, Fen};
use crate::org::{OrgId, OrgPath};
use crate::problem::{date, text, FieldProblem};
use crate::refusal::{Explain, Refusal, RefusalKind};
use crate::text::as_typed;

crate::uuid_id!(
    /// Identifier of a claim.
    ClaimId
);

crate::uuid_id!(
    /// Identifier of a claim's line item.
    LineId
);

crate::uuid_id!(
    /// Identifier of a claim document.
    DocumentId
);

/// The most one line may state for any of its amounts: 100,000 yuan. More is a typing error
/// (an amount in fen typed in li, or yuan typed twice), not a hospital bill this plan pays.
pub const MAX_LINE_AMOUNT: Fen = Fen::yuan(100_000);

/// Where a claim is. Serialised in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Being written by the worker.
    Draft,
    /// Filed, waiting for a reviewer.
    Submitted,
    /// Taken by a reviewer (受理).
    FirstReview,
    /// Approved by the first reviewer at or above the plan's second-review amount; waiting
    /// for a second reviewer.
    SecondReview,
    /// Approved; waiting for payment.
    Approved,
    /// Paid into the member's account.
    Paid,
    /// Sent back to the worker with what to add.
    Returned,
    /// Refused, with a reason code.
    Rejected,
}

impl ClaimStatus {
    /// Every status.
    pub const ALL: [ClaimStatus; 8] = [
        ClaimStatus::Draft,
        ClaimStatus::Submitted,
        ClaimStatus::FirstReview,
        ClaimStatus::SecondReview,
        ClaimStatus::Approved,
        ClaimStatus::Paid,
        ClaimStatus::Returned,
        ClaimStatus::Rejected,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Draft => "draft",
            ClaimStatus::Submitted => "submitted",
            ClaimStatus::FirstReview => "first_review",
            ClaimStatus::SecondReview => "second_review",
            ClaimStatus::Approved => "approved",
            ClaimStatus::Paid => "paid",
            ClaimStatus::Returned => "returned",
            ClaimStatus::Rejected => "rejected",
        }
    }

    /// Parses [`ClaimStatus::as_str`].
    pub fn parse(s: &str) -> Option<ClaimStatus> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// What a worker reads on the status timeline.
    pub fn zh(self) -> &'static str {
        match self {
            ClaimStatus::Draft => "草稿",
            ClaimStatus::Submitted => "已提交，等待受理",
            ClaimStatus::FirstReview => "初审中",
            ClaimStatus::SecondReview => "复审中",
            ClaimStatus::Approved => "审核通过，等待打款",
            ClaimStatus::Paid => "已打款",
            ClaimStatus::Returned => "已退回，请补充材料",
            ClaimStatus::Rejected => "未通过",
        }
    }

    /// Whether the worker may change lines and documents.
    pub fn editable(self) -> bool {
        matches!(self, ClaimStatus::Draft | ClaimStatus::Returned)
    }
}

/// What someone does to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimAction {
    /// The worker files it (again, after a return).
    Submit,
    /// A reviewer takes it from the queue (受理).
    Take,
    /// A reviewer approves it (with the lines' approved amounts).
    Approve,
    /// A reviewer sends it back to the worker with what to add.
    Return,
    /// A reviewer refuses it with a reason code.
    Reject,
    /// Finance records the bank's payment.
    MarkPaid,
}

impl ClaimAction {
    /// Every action.
    pub const ALL: [ClaimAction; 6] = [
        ClaimAction::Submit,
        ClaimAction::Take,
        ClaimAction::Approve,
        ClaimAction::Return,
        ClaimAction::Reject,
        ClaimAction::MarkPaid,
    ];

    /// Parses [`ClaimAction::as_str`].
    pub fn parse(s: &str) -> Option<ClaimAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimAction::Submit => "submit",
            ClaimAction::Take => "take",
            ClaimAction::Approve => "approve",
            ClaimAction::Return => "return",
            ClaimAction::Reject => "reject",
            ClaimAction::MarkPaid => "mark_paid",
        }
    }

    /// Its Chinese name, for messages and the timeline.
    pub fn zh(self) -> &'static str {
        match self {
            ClaimAction::Submit => "提交",
            ClaimAction::Take => "受理",
            ClaimAction::Approve => "审核通过",
            ClaimAction::Return => "退回补充",
            ClaimAction::Reject => "不予通过",
            ClaimAction::MarkPaid => "登记打款",
        }
    }
}

/// Why a transition is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The action does not apply to a claim in this state (someone else acted first, or the
    /// claim moved on).
    #[error("cannot {} a claim that is {}", action.as_str(), from.as_str())]
    NotAllowed {
        /// Where the claim is.
        from: ClaimStatus,
        /// What was tried.
        action: ClaimAction,
    },
    /// The second review by the official who decided the first (four eyes).
    #[error("the first reviewer cannot also decide the second review")]
    FourEyes,
}

impl Explain for TransitionError {
    /// `illegal_transition` or `four_eyes`.
    fn code(&self) -> &'static str {
        match self {
            TransitionError::NotAllowed { .. } => "illegal_transition",
            TransitionError::FourEyes => "four_eyes",
        }
    }

    fn zh(&self) -> String {
        match self {
            TransitionError::NotAllowed { from, action } => {
                format!("申请当前状态为「{}」，不能{}", from.zh(), action.zh())
            }
            TransitionError::FourEyes => "复审须由初审以外的另一位审核人完成".into(),
        }
    }

    fn en(&self) -> String {
        self.to_string()
    }
}

impl From<TransitionError> for Refusal {
    /// The four-eyes rule is forbidden (403); any other illegal step a conflict (409).
    fn from(e: TransitionError) -> Self {
        let kind = match e {
            TransitionError::FourEyes => RefusalKind::Forbidden,
            TransitionError::NotAllowed { .. } => RefusalKind::Conflict,
        };
        Refusal::new(kind, &e)
    }
}

/// What a transition depends on besides the state and the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Who acts.
    pub actor: AccountId,
    /// Who decided the first review, once someone has.
    pub first_reviewer: Option<AccountId>,
    /// The payout the approval gives (for [`ClaimAction::Approve`]).
    pub approved_fen: Fen,
    /// The plan's second-review amount.
    pub second_review_from_fen: Fen,
}

/// The state after `action`, or why not. The one place the diagram above is decided.
pub fn next(
    from: ClaimStatus,
    action: ClaimAction,
    decision: &Decision,
) -> Result<ClaimStatus, TransitionError> {
    use ClaimAction as A;
    use ClaimStatus as S;
    let second_reviewer_ok = || {
        if decision.first_reviewer == Some(decision.actor) {
            Err(TransitionError::FourEyes)
        } else {
            Ok(())
        }
    };
    match (from, action) {
        (S::Draft | S::Returned, A::Submit) => Ok(S::Submitted),
        (S::Submitted, A::Take) => Ok(S::FirstReview),
        (S::FirstReview, A::Approve) => Ok(
            if decision.approved_fen >= decision.second_review_from_fen {
                S::SecondReview
            } else {
                S::Approved
            },
        ),
        (S::SecondReview, A::Approve) => second_reviewer_ok().map(|()| S::Approved),
        (S::FirstReview, A::Return) => Ok(S::Returned),
        (S::SecondReview, A::Return) => second_reviewer_ok().map(|()| S::Returned),
        (S::FirstReview, A::Reject) => Ok(S::Rejected),
        (S::SecondReview, A::Reject) => second_reviewer_ok().map(|()| S::Rejected),
        (S::Approved, A::MarkPaid) => Ok(S::Paid),
        (from, action) => Err(TransitionError::NotAllowed { from, action }),
    }
}

/// Numbered reasons for refusing a claim, as openIMIS keeps them (DOMAIN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    /// 1: the claimant was not an active member in the plan's subtree.
    NotMember,
    /// 2: the costs fall outside the coverage period.
    NotCovered,
    /// 3: the costs fall in the waiting period.
    WaitingPeriod,
    /// 4: the costs do not reach the threshold.
    BelowThreshold,
    /// 5: an invoice was claimed before.
    DuplicateInvoice,
    /// 6: the documents are not genuine or do not prove the costs.
    InvalidDocuments,
    /// 7: the costs are not of a kind the plan pays for.
    NotPayable,
    /// 99: another reason, explained in the text.
    Other,
}

impl RejectionReason {
    /// Every reason.
    pub const ALL: [RejectionReason; 8] = [
        RejectionReason::NotMember,
        RejectionReason::NotCovered,
        RejectionReason::WaitingPeriod,
        RejectionReason::BelowThreshold,
        RejectionReason::DuplicateInvoice,
        RejectionReason::InvalidDocuments,
        RejectionReason::NotPayable,
        RejectionReason::Other,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::NotMember => "not_member",
            RejectionReason::NotCovered => "not_covered",
            RejectionReason::WaitingPeriod => "waiting_period",
            RejectionReason::BelowThreshold => "below_threshold",
            RejectionReason::DuplicateInvoice => "duplicate_invoice",
            RejectionReason::InvalidDocuments => "invalid_documents",
            RejectionReason::NotPayable => "not_payable",
            RejectionReason::Other => "other",
        }
    }

    /// The number printed on letters and in the payment office's books.
    pub fn number(self) -> u8 {
        match self {
            RejectionReason::NotMember => 1,
            RejectionReason::NotCovered => 2,
            RejectionReason::WaitingPeriod => 3,
            RejectionReason::BelowThreshold => 4,
            RejectionReason::DuplicateInvoice => 5,
            RejectionReason::InvalidDocuments => 6,
            RejectionReason::NotPayable => 7,
            RejectionReason::Other => 99,
        }
    }

    /// The Chinese text shown to the worker.
    pub fn zh(self) -> &'static str {
        match self {
            RejectionReason::NotMember => "申请时不是本计划范围内的在册会员",
            RejectionReason::NotCovered => "费用发生日期不在保障期内",
            RejectionReason::WaitingPeriod => "费用发生在等待期内",
            RejectionReason::BelowThreshold => "费用未达到起付标准",
            RejectionReason::DuplicateInvoice => "发票已申请过互助金",
            RejectionReason::InvalidDocuments => "材料不真实或不能证明费用",
            RejectionReason::NotPayable => "费用不属于本计划保障范围",
            RejectionReason::Other => "其他原因",
        }
    }

    /// Parses [`RejectionReason::as_str`].
    pub fn parse(s: &str) -> Option<RejectionReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One cost on a claim: an invoice from a hospital.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimLine {
    /// Id.
    pub id: LineId,
    /// Hospital name, as on the invoice.
    pub hospital: String,
    /// Invoice number (发票号码) as typed, upper-case, without spaces: claimed once across all
    /// claims by [`ClaimLine::invoice_key`] and [`ClaimLine::invoice_day_key`].
    pub invoice_number: String,
    /// The day of the treatment or discharge.
    pub treated_on: NaiveDate,
    /// What it was for.
    pub kind: BenefitKind,
    /// Total cost on the invoice.
    pub total_fen: Fen,
    /// The part medical insurance paid (医保统筹支付).
    pub insurance_fen: Fen,
    /// The part the member paid (个人自付): what the rate applies to.
    pub out_of_pocket_fen: Fen,
    /// What a reviewer approved of the out-of-pocket part, once one has.
    pub approved_fen: Option<Fen>,
    /// Why the reviewer approved less, when they did.
    pub cut_reason: Option<String>,
}

impl ClaimLine {
    /// The line as the payout calculator sees it: with the approved amount when
    /// `approved` and a reviewer set one.
    pub fn cost(&self, approved: bool) -> CostLine {
        let eligible = match (approved, self.approved_fen) {
            (true, Some(amount)) => amount,
            _ => self.out_of_pocket_fen,
        };
        CostLine {
            kind: self.kind,
            total_fen: self.total_fen,
            eligible_fen: eligible,
            struck: approved && self.approved_fen == Some(Fen::ZERO),
        }
    }

    /// The hospital as compared for similar lines: without spaces or punctuation, full-width
    /// forms folded.
    pub fn hospital_key(&self) -> String {
        hospital_key(&self.hospital)
    }

    /// The first key one invoice is claimed once by: the hospital as compared
    /// ([`hospital_key`]) and the number's [`invoice_identity`] — the same whatever
    /// separators, case or leading zeros were typed, whatever the day or amount.
    pub fn invoice_key(&self) -> String {
        format!(
            "{}|{}",
            self.hospital_key(),
            invoice_identity(&self.invoice_number)
        )
    }

    /// The second key one invoice is claimed once by: the number's identity, the day and the
    /// total (fen) — the same whatever form of the hospital's name was typed. Two hospitals
    /// whose numbering collides are told apart by the day and the amount; what only looks
    /// alike is flagged to the reviewer ([`super::similar`]).
    pub fn invoice_day_key(&self) -> String {
        format!(
            "{}|{}|{}",
            invoice_identity(&self.invoice_number),
            self.treated_on,
            self.total_fen.get()
        )
    }
}

/// An invoice number as its identity: letters and digits only (separators and punctuation
/// dropped, full-width forms folded), upper case, leading zeros dropped — `No.0012-3456`
/// is `NO00123456`, while `0012 3456`, `12-3456` and `123456` are all `123456`. All zeros is
/// `0`.
pub fn invoice_identity(number: &str) -> String {
    let kept: String = as_typed(number)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match kept.trim_start_matches('0') {
        "" if !kept.is_empty() => "0".to_owned(),
        rest => rest.to_owned(),
    }
}

/// A hospital's name as compared: full-width forms folded, without spaces or punctuation.
pub fn hospital_key(name: &str) -> String {
    as_typed(name)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// What may separate the parts of an invoice number as people type it.
const INVOICE_SEPARATORS: &[char] = &['-', '.', '/', '_', '#'];

/// A line as written, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineInput {
    /// 1–100 characters.
    pub hospital: Option<String>,
    /// 1–40 letters, digits or separators (`- . / _ #`); spaces are dropped.
    pub invoice_number: Option<String>,
    /// `YYYY-MM-DD`.
    pub treated_on: Option<String>,
    /// `inpatient` or `chronic`.
    pub kind: Option<String>,
    /// Fen, as JSON values.
    pub total_fen: Option<Value>,
    /// Fen.
    pub insurance_fen: Option<Value>,
    /// Fen.
    pub out_of_pocket_fen: Option<Value>,
}

impl LineInput {
    /// The line, or every problem on fields named `{prefix}{field}` (e.g. `lines.2.`): texts
    /// missing or too long, an invoice number with other characters (`invalid`), a date that is
    /// not `YYYY-MM-DD` or later than `today` (`in_future`), an unknown kind, an amount that
    /// is not whole fen or above [`MAX_LINE_AMOUNT`], and parts above the total
    /// (`exceeds_total`).
    pub fn validate(&self, prefix: &str, today: NaiveDate) -> Result<ClaimLine, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let p = &mut problems;
        let f = |name: &str| format!("{prefix}{name}");
        let hospital = text(p, &f("hospital"), self.hospital.clone(), 100, true);
        let invoice = text(
            p,
            &f("invoice_number"),
            self.invoice_number.as_deref().map(as_typed),
            40,
            true,
        )
        .map(|v| v.to_uppercase().replace(char::is_whitespace, ""));
        let invoice = invoice.filter(|v| {
            let ok = v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || INVOICE_SEPARATORS.contains(&c))
                && v.chars().any(|c| c.is_ascii_alphanumeric());
            if !ok {
                p.push(FieldProblem::new(
                    f("invoice_number"),
                    "invalid",
                    "发票号码只能包含字母、数字和分隔符「- . / _ #」",
                    "an invoice number has only letters, digits and the separators `- . / _ #`",
                ));
            }
            ok
        });
        let treated_on = date(p, &f("treated_on"), self.treated_on.as_deref()).filter(|day| {
            let past = *day <= today;
            if !past {
                p.push(FieldProblem::new(
                    f("treated_on"),
                    "in_future",
                    "就诊日期不能晚于今天",
                    "the treatment date is in the future",
                ));
            }
            past
        });
        let kind = benefit_kind(p, &f("kind"), self.kind.as_deref());
        let mut amount = |name: &str, value: &Option<Value>| {
            amount(p, &f(name), value.as_ref(), MAX_LINE_AMOUNT)
        };
        let total = amount("total_fen", &self.total_fen);
        let insurance = amount("insurance_fen", &self.insurance_fen);
        let own = amount("out_of_pocket_fen", &self.out_of_pocket_fen);
        if let (Some(total), Some(insurance), Some(own)) = (total, insurance, own) {
            if insurance.plus(own) > total {
                p.push(FieldProblem::new(
                    f("out_of_pocket_fen"),
                    "exceeds_total",
                    format!("医保支付 {insurance} 与个人自付 {own} 之和超过了总费用 {total}"),
                    format!(
                        "insurance {} fen plus out-of-pocket {} fen exceed the total {} fen",
                        insurance.get(),
                        own.get(),
                        total.get()
                    ),
                ));
            }
        }
        match (hospital, invoice, treated_on, kind, total, insurance, own) {
            (
                Some(hospital),
                Some(invoice_number),
                Some(treated_on),
                Some(kind),
                Some(total_fen),
                Some(insurance_fen),
                Some(out_of_pocket_fen),
            ) if problems.is_empty() => Ok(ClaimLine {
                id: LineId::new(),
                hospital,
                invoice_number,
                treated_on,
                kind,
                total_fen,
                insurance_fen,
                out_of_pocket_fen,
                approved_fen: None,
                cut_reason: None,
            }),
            _ => Err(problems),
        }
    }
}

/// What a document's bytes are, decided from the bytes themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MediaType {
    /// `image/jpeg`.
    #[serde(rename = "image/jpeg")]
    Jpeg,
    /// `image/png`.
    #[serde(rename = "image/png")]
    Png,
    /// `application/pdf`.
    #[serde(rename = "application/pdf")]
    Pdf,
}

impl MediaType {
    /// Every accepted type.
    pub const ALL: [MediaType; 3] = [MediaType::Jpeg, MediaType::Png, MediaType::Pdf];

    /// The MIME type.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Pdf => "application/pdf",
        }
    }

    /// Parses [`MediaType::as_str`].
    pub fn parse(s: &str) -> Option<MediaType> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The file-name extensions of the type, the usual one first (lower case, no dot).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            MediaType::Jpeg => &["jpg", "jpeg"],
            MediaType::Png => &["png"],
            MediaType::Pdf => &["pdf"],
        }
    }
}

/// The most bytes one document may have: 10 MB (issue #5).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// A proof document attached to a claim. The bytes live in the object store under
/// `object_key`, a generated name; the name the worker's file had is kept only for the
/// download's `Content-Disposition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// Id.
    pub id: DocumentId,
    /// The claim.
    pub claim_id: ClaimId,
    /// What it proves.
    pub kind: DocumentKind,
    /// What its bytes are.
    pub media_type: MediaType,
    /// Its size.
    pub size_bytes: i64,
    /// Where the bytes are in the object store.
    #[serde(skip)]
    pub object_key: String,
    /// The uploaded file's name, cleaned for a download header.
    pub file_name: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// When it was uploaded (UTC).
    pub uploaded_at: DateTime<Utc>,
}

/// A rejection: the numbered reason and the reviewer's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// Why, as a code.
    pub reason: RejectionReason,
    /// The reviewer's explanation.
    pub text: String,
}

/// The member's bank account the payout is paid into (互助金 is paid into the member's
/// account within a month: DOMAIN.md, 晋城). The account number is personal financial
/// information: sealed at rest like an ID number, masked in every answer, read in full only
/// for the finance payment list (audited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payee {
    /// The account holder's name, as the bank has it (1–50 characters).
    pub account_name: String,
    /// The bank and branch (开户行), 2–100 characters.
    pub bank: String,
    /// Id of the key that sealed the number.
    pub account_kid: String,
    /// Base64 of nonce ‖ ciphertext ‖ tag of the account number.
    pub account_sealed: String,
    /// `6222********1234`.
    pub account_masked: String,
}

/// A bank account number as typed: 8–32 digits once spaces and dashes are dropped (debit
/// cards have 16–19, corporate accounts more).
pub fn bank_account_number(typed: &str) -> Option<String> {
    let digits: String = as_typed(typed)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (digits.chars().all(|c| c.is_ascii_digit()) && (8..=32).contains(&digits.len()))
        .then_some(digits)
}

/// `6222********1234`: the first four and last four digits of an account number.
pub fn mask_account(number: &str) -> String {
    let n = number.chars().count();
    number
        .chars()
        .enumerate()
        .map(|(i, c)| if i < 4 || i + 4 >= n { c } else { '*' })
        .collect()
}

/// A claim with its lines and documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Id.
    pub id: ClaimId,
    /// The plan.
    pub plan_id: PlanId,
    /// The plan version it is judged under: the one in force at its last submission.
    pub plan_version: i32,
    /// The enrolment it claims under.
    pub enrollment_id: EnrolmentId,
    /// The member.
    pub member_id: MemberId,
    /// The member's worker account (the owner).
    pub account_id: AccountId,
    /// The member's organisation (data scope for officials).
    pub org_id: OrgId,
    /// Its path.
    pub org_path: OrgPath,
    /// Where it is.
    pub status: ClaimStatus,
    /// The cost lines, in the order written.
    pub lines: Vec<ClaimLine>,
    /// The proof documents, oldest first.
    pub documents: Vec<Document>,
    /// What the lines claimed, computed at the last submission.
    pub claimed_fen: Option<Fen>,
    /// What the reviewers approved.
    pub approved_fen: Option<Fen>,
    /// What was paid.
    pub paid_fen: Option<Fen>,
    /// How the last computed amount (claimed or approved) came about.
    pub breakdown: Option<Payout>,
    /// Who decided the first review.
    pub first_reviewer: Option<AccountId>,
    /// Who decided the second review.
    pub second_reviewer: Option<AccountId>,
    /// What to add, when returned.
    pub return_note: Option<String>,
    /// Why refused, when rejected.
    pub rejection: Option<Rejection>,
    /// Where the payout goes; required to submit.
    pub payee: Option<Payee>,
    /// The bank's reference of the payment, when paid.
    pub bank_reference: Option<String>,
    /// First submission (UTC): the start of the one-month promise.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

impl Claim {
    /// A new draft under `enrollment`, judged (until submitted) under `plan_version`: the
    /// member, account and organisation are the enrolment's; nothing is computed or decided
    /// yet.
    pub fn draft(
        enrollment: &Enrolment,
        plan_version: i32,
        lines: Vec<ClaimLine>,
        payee: Option<Payee>,
        now: DateTime<Utc>,
    ) -> Claim {
        Claim {
            id: ClaimId::new(),
            plan_id: enrollment.plan_id,
            plan_version,
            enrollment_id: enrollment.id,
            member_id: enrollment.member_id,
            account_id: enrollment.account_id,
            org_id: enrollment.org_id,
            org_path: enrollment.org_path.clone(),
            status: ClaimStatus::Draft,
            lines,
            documents: Vec::new(),
            claimed_fen: None,
            approved_fen: None,
            paid_fen: None,
            breakdown: None,
            first_reviewer: None,
            second_reviewer: None,
            return_note: None,
            rejection: None,
            payee,
            bank_reference: None,
            submitted_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The document types it carries.
    pub fn document_kinds(&self) -> Vec<DocumentKind> {
        let mut kinds: Vec<DocumentKind> = self.documents.iter().map(|d| d.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Its lines as the calculator sees them: as claimed, or as approved.
    pub fn costs(&self, approved: bool) -> Vec<CostLine> {
        self.lines.iter().map(|l| l.cost(approved)).collect()
    }
}

/// One step on a claim's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimEvent {
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// Who: the worker or an official.
    pub actor: AccountId,
    /// What was done.
    pub action: ClaimAction,
    /// From where.
    pub from: ClaimStatus,
    /// To where.
    pub to: ClaimStatus,
    /// A note: what to add, why refused, the bank reference.
    pub note: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decision(actor: AccountId, first: Option<AccountId>, approved_yuan: i64) -> Decision {
        Decision {
            actor,
            first_reviewer: first,
            approved_fen: Fen::yuan(approved_yuan),
            second_review_from_fen: Fen::yuan(10_000),
        }
    }

    #[test]
    fn the_legal_transitions() {
        use ClaimAction as A;
        use ClaimStatus as S;
        let (a, b) = (AccountId::new(), AccountId::new());
        let d = decision(a, None, 5_000);
        assert_eq!(next(S::Draft, A::Submit, &d), Ok(S::Submitted));
        assert_eq!(next(S::Returned, A::Submit, &d), Ok(S::Submitted));
        assert_eq!(next(S::Submitted, A::Take, &d), Ok(S::FirstReview));
        assert_eq!(next(S::FirstReview, A::Approve, &d), Ok(S::Approved));
        let big = decision(a, None, 10_000);
        assert_eq!(next(S::FirstReview, A::Approve, &big), Ok(S::SecondReview));
        let second = decision(b, Some(a), 10_000);
        assert_eq!(next(S::SecondReview, A::Approve, &second), Ok(S::Approved));
        assert_eq!(next(S::SecondReview, A::Return, &second), Ok(S::Returned));
        assert_eq!(next(S::SecondReview, A::Reject, &second), Ok(S::Rejected));
        assert_eq!(next(S::FirstReview, A::Return, &d), Ok(S::Returned));
        assert_eq!(next(S::FirstReview, A::Reject, &d), Ok(S::Rejected));
        assert_eq!(next(S::Approved, A::MarkPaid, &d), Ok(S::Paid));
    }

    #[test]
    fn every_other_transition_is_refused() {
        let legal = [
            (ClaimStatus::Draft, ClaimAction::Submit),
            (ClaimStatus::Returned, ClaimAction::Submit),
            (ClaimStatus::Submitted, ClaimAction::Take),
            (ClaimStatus::FirstReview, ClaimAction::Approve),
            (ClaimStatus::FirstReview, ClaimAction::Return),
            (ClaimStatus::FirstReview, ClaimAction::Reject),
            (ClaimStatus::SecondReview, ClaimAction::Approve),
            (ClaimStatus::SecondReview, ClaimAction::Return),
            (ClaimStatus::SecondReview, ClaimAction::Reject),
            (ClaimStatus::Approved, ClaimAction::MarkPaid),
        ];
        let actions = ClaimAction::ALL;
        let d = decision(AccountId::new(), Some(AccountId::new()), 1);
        let mut refused = 0;
        for from in ClaimStatus::ALL {
            for action in actions {
                let outcome = next(from, action, &d);
                if legal.contains(&(from, action)) {
                    assert!(outcome.is_ok(), "{from:?} {action:?}");
                } else {
                    let error = outcome.unwrap_err();
                    assert_eq!(error, TransitionError::NotAllowed { from, action });
                    assert_eq!(error.code(), "illegal_transition");
                    assert!(error.zh().contains(from.zh()), "{}", error.zh());
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, 8 * 6 - legal.len());
    }

    #[test]
    fn the_first_reviewer_cannot_decide_the_second_review() {
        let a = AccountId::new();
        let same = decision(a, Some(a), 20_000);
        for action in [
            ClaimAction::Approve,
            ClaimAction::Return,
            ClaimAction::Reject,
        ] {
            assert_eq!(
                next(ClaimStatus::SecondReview, action, &same),
                Err(TransitionError::FourEyes)
            );
        }
        assert_eq!(TransitionError::FourEyes.code(), "four_eyes");
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 6, 1).unwrap()
    }

    fn good_line() -> LineInput {
        LineInput {
            hospital: Some("晋城市人民医院".into()),
            invoice_number: Some(" ｎｏ 1402-0001 ".into()),
            treated_on: Some("2027-05-20".into()),
            kind: Some("inpatient".into()),
            total_fen: Some(json!(1_200_000)),
            insurance_fen: Some(json!(700_000)),
            out_of_pocket_fen: Some(json!(500_000)),
        }
    }

    #[test]
    fn a_line_is_read_with_its_invoice_number_normalised() {
        let line = good_line().validate("lines.0.", today()).unwrap();
        assert_eq!(line.invoice_number, "NO1402-0001");
        assert_eq!(line.out_of_pocket_fen, Fen::yuan(5_000));
        assert_eq!(line.cost(true).eligible_fen, Fen::yuan(5_000));
    }

    #[test]
    fn one_invoice_has_one_key_however_it_is_typed() {
        let line = |number: &str, hospital: &str, total: i64| {
            let mut input = good_line();
            input.invoice_number = Some(number.into());
            input.hospital = Some(hospital.into());
            input.total_fen = Some(json!(total));
            input.validate("lines.0.", today()).unwrap()
        };
        let first = line("00123456", "晋城市人民医院", 1_200_000);
        for typed in [
            "123456",
            "0012-3456",
            "12.34.56",
            "１２３４５６",
            "0012 3456",
            "#123456",
        ] {
            let longer = line(typed, "山西省晋城市人民医院（东院）", 1_200_000);
            assert_eq!(longer.invoice_day_key(), first.invoice_day_key(), "{typed}");
            let other_amount = line(typed, "晋城市 人民医院", 1_300_000);
            assert_eq!(other_amount.invoice_key(), first.invoice_key(), "{typed}");
        }
        let other = line("123457", "晋城市人民医院", 1_200_000);
        assert_ne!(other.invoice_key(), first.invoice_key());
        assert_ne!(other.invoice_day_key(), first.invoice_day_key());
        let elsewhere = line("123456", "郑州大学第一附属医院", 1_300_000);
        assert_ne!(elsewhere.invoice_key(), first.invoice_key());
        assert_ne!(elsewhere.invoice_day_key(), first.invoice_day_key());
        assert_eq!(invoice_identity("000"), "0");
        assert_eq!(invoice_identity("No.0012"), "NO0012");
        let mut only_separators = good_line();
        only_separators.invoice_number = Some("--".into());
        assert!(only_separators.validate("lines.0.", today()).is_err());
    }

    #[test]
    fn bad_lines_name_every_field() {
        let codes = |input: LineInput| -> Vec<(String, &'static str)> {
            input
                .validate("lines.3.", today())
                .unwrap_err()
                .into_iter()
                .map(|p| (p.field, p.code))
                .collect()
        };
        let mut line = good_line();
        line.total_fen = Some(json!(-5));
        line.insurance_fen = Some(json!(10.5));
        line.out_of_pocket_fen = Some(json!(10_000_001));
        line.treated_on = Some("2027-06-02".into());
        line.invoice_number = Some("发票1".into());
        line.kind = Some("dental".into());
        assert_eq!(
            codes(line),
            vec![
                ("lines.3.invoice_number".into(), "invalid"),
                ("lines.3.treated_on".into(), "in_future"),
                ("lines.3.kind".into(), "not_allowed"),
                ("lines.3.total_fen".into(), "negative"),
                ("lines.3.insurance_fen".into(), "not_integer"),
                ("lines.3.out_of_pocket_fen".into(), "too_large"),
            ]
        );
        let mut line = good_line();
        line.out_of_pocket_fen = Some(json!(500_001));
        assert_eq!(
            codes(line),
            vec![("lines.3.out_of_pocket_fen".into(), "exceeds_total")]
        );
        assert_eq!(
            codes(LineInput::default()).len(),
            7,
            "every field is required"
        );
    }
}
