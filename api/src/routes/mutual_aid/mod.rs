//! Mutual aid (互助保障), the worker's side: the plans open to the worker, enrolment, and
//! claims ([`claims`]) with their documents ([`documents`]). The officials' side is
//! `crate::routes::mutual_aid::admin`. The rules and their sources are in
//! [`yiwang_domain::mutual_aid`]; the views here are shared by both sides.

pub mod admin;
pub mod claims;
pub mod documents;

use std::collections::HashMap;
use utoipa_actix_web::service_config::ServiceConfig;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::{Change, OutboxEvent};
use yiwang_domain::calendar::china_date;
use yiwang_domain::clock;
use yiwang_domain::membership::member::Member;
use yiwang_domain::mutual_aid::claim::{Claim, ClaimAction, ClaimEvent, ClaimLine, Document};
use yiwang_domain::mutual_aid::enrolment::Enrolment;
use yiwang_domain::mutual_aid::payout::{Limit, Payout};
use yiwang_domain::mutual_aid::plan::{BenefitRule, Plan, PlanId, PlanRules};
use yiwang_domain::mutual_aid::review::Outcome;
use yiwang_domain::mutual_aid::similar::Similar;
use yiwang_domain::mutual_aid::EnrolmentId;

use crate::auth;
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::membership::member_in_force;
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn, WorkerOnly};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::state::AppState;
use yiwang_domain::membership::person::EmploymentForm;
use yiwang_domain::org::{OrgId, OrgPath};

/// One benefit of a plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct BenefitView {
    /// `inpatient` (住院) or `chronic` (门诊慢特病).
    #[schema(value_type = crate::routes::vocabularies::BenefitKind)]
    pub kind: String,
    /// The kind in Chinese.
    pub kind_label: String,
    /// Costs of this kind over the plan year must reach this (fen).
    pub threshold_fen: i64,
    /// Taken off the out-of-pocket amount before the rate (fen).
    pub deductible_fen: i64,
    /// Share paid, in basis points (5,000 = 50 %).
    pub rate_basis_points: u32,
    /// Least payout of a claim that meets the threshold (fen).
    pub minimum_fen: i64,
    /// Most payout of one claim (fen).
    pub maximum_fen: i64,
    /// Most one member receives from this benefit in the plan year (fen).
    pub annual_cap_fen: i64,
    /// Document types a claim with this kind must carry.
    pub required_documents: Vec<String>,
}

impl From<&BenefitRule> for BenefitView {
    fn from(b: &BenefitRule) -> Self {
        BenefitView {
            kind: b.kind.as_str().to_owned(),
            kind_label: b.kind.zh().to_owned(),
            threshold_fen: b.threshold_fen.get(),
            deductible_fen: b.deductible_fen.get(),
            rate_basis_points: b.rate_basis_points,
            minimum_fen: b.minimum_fen.get(),
            maximum_fen: b.maximum_fen.get(),
            annual_cap_fen: b.annual_cap_fen.get(),
            required_documents: b
                .required_documents
                .iter()
                .map(|d| d.as_str().to_owned())
                .collect(),
        }
    }
}

/// A mutual-aid plan at its latest version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    /// Id.
    pub id: String,
    /// The organisation that runs it; its members (and those below it) may enrol.
    pub org_id: String,
    /// Version: 1 on creation, one more on every save. Send it back when saving.
    pub version: i32,
    /// Name.
    pub name: String,
    /// First day of the plan year.
    pub starts_on: NaiveDate,
    /// Last day of the plan year.
    pub ends_on: NaiveDate,
    /// First day members may enrol.
    pub enrolment_opens_on: NaiveDate,
    /// Last day members may enrol.
    pub enrolment_closes_on: NaiveDate,
    /// The yearly fee (fen).
    pub fee_fen: i64,
    /// Only these employment forms may enrol; empty: every form.
    pub employment_forms: Vec<String>,
    /// Days after the fee is recorded before costs are covered (等待期).
    pub waiting_days: u32,
    /// A claim whose approved payout reaches this (fen) needs a second reviewer.
    pub second_review_from_fen: i64,
    /// What it pays for.
    pub benefits: Vec<BenefitView>,
    /// Whether enrolment is open today (China Standard Time).
    pub enrolment_open: bool,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last saved (UTC).
    pub updated_at: DateTime<Utc>,
}

impl PlanView {
    /// The view of `plan`, with `enrolment_open` for `today`.
    pub fn new(plan: &Plan, today: NaiveDate) -> Self {
        let r = &plan.rules;
        PlanView {
            id: plan.id.to_string(),
            org_id: plan.org_id.to_string(),
            version: plan.version,
            name: r.name.clone(),
            starts_on: r.starts_on,
            ends_on: r.ends_on,
            enrolment_opens_on: r.enrolment_opens_on,
            enrolment_closes_on: r.enrolment_closes_on,
            fee_fen: r.fee_fen.get(),
            employment_forms: r
                .employment_forms
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
            waiting_days: r.waiting_days,
            second_review_from_fen: r.second_review_from_fen.get(),
            benefits: r.benefits.iter().map(BenefitView::from).collect(),
            enrolment_open: r.enrolment_open_on(today),
            created_at: plan.created_at,
            updated_at: plan.updated_at,
        }
    }
}

/// A recorded enrolment fee.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeePaymentView {
    /// `cash`, `bank_transfer` or `paid_by_union` (代付).
    #[schema(value_type = crate::routes::vocabularies::PaymentMethod)]
    pub method: String,
    /// Fen.
    pub amount_fen: i64,
    /// Receipt or transfer reference.
    pub reference: Option<String>,
    /// The day it was recorded: the day the enrolment became active.
    pub activated_on: NaiveDate,
}

/// The member an enrolment or claim belongs to, as officials' lists name them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberBrief {
    /// Member number (`{organisation code}-{sequence:06}`).
    pub member_number: String,
    /// Real name (absent once erased after the retention period).
    pub name: Option<String>,
    /// The member's organisation, by name.
    pub org_name: String,
}

impl From<&Member> for MemberBrief {
    fn from(m: &Member) -> Self {
        MemberBrief {
            member_number: m.member_number.clone(),
            name: m.real_name.clone(),
            org_name: m.org_name.clone(),
        }
    }
}

/// A member's enrolment in a plan year.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentView {
    /// Id.
    pub id: String,
    /// The plan.
    pub plan_id: String,
    /// The plan's name.
    pub plan_name: String,
    /// The member.
    pub member_id: String,
    /// The member, named (officials' answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberBrief>,
    /// The member's organisation.
    pub org_id: String,
    /// `pending_payment`, `active` or `expired`.
    #[schema(value_type = crate::routes::vocabularies::EnrolmentStatus)]
    pub status: String,
    /// The status in Chinese.
    pub status_label: String,
    /// The day the member enrolled.
    pub requested_on: NaiveDate,
    /// The fee, once recorded.
    pub payment: Option<FeePaymentView>,
    /// First day costs are covered (activation plus the waiting period), once paid.
    pub covered_from: Option<NaiveDate>,
    /// Last day covered: the end of the plan year.
    pub covered_until: Option<NaiveDate>,
}

impl EnrolmentView {
    /// Named for officials: the member, from `member` (absent when the record is gone).
    pub fn naming(mut self, member: Option<&Member>) -> Self {
        self.member = member.map(MemberBrief::from);
        self
    }

    /// The view of `e` under its plan's `rules`, its status as of `today`.
    pub fn new(e: &Enrolment, rules: &PlanRules, today: NaiveDate) -> Self {
        let status = e.status(rules, today);
        let coverage = e.coverage(rules);
        EnrolmentView {
            id: e.id.to_string(),
            plan_id: e.plan_id.to_string(),
            plan_name: rules.name.clone(),
            member_id: e.member_id.to_string(),
            member: None,
            org_id: e.org_id.to_string(),
            status: status.as_str().to_owned(),
            status_label: status.zh().to_owned(),
            requested_on: e.requested_on,
            payment: e.payment.as_ref().map(|p| FeePaymentView {
                method: p.method.as_str().to_owned(),
                amount_fen: p.amount_fen.get(),
                reference: p.reference.clone(),
                activated_on: p.activated_on,
            }),
            covered_from: coverage.map(|c| c.from),
            covered_until: coverage.map(|c| c.until),
        }
    }
}

/// One line of a claim.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    /// Id (reviewers name it when cutting).
    pub id: String,
    /// Hospital.
    pub hospital: String,
    /// Invoice number, as stored (upper case, no spaces).
    pub invoice_number: String,
    /// Day of treatment (discharge day for a stay).
    pub treated_on: NaiveDate,
    /// `inpatient` or `chronic`.
    #[schema(value_type = crate::routes::vocabularies::BenefitKind)]
    pub kind: String,
    /// Total cost (fen).
    pub total_fen: i64,
    /// Paid by medical insurance (fen).
    pub insurance_fen: i64,
    /// Paid by the worker (fen): what the benefit rates.
    pub out_of_pocket_fen: i64,
    /// What the reviewers approved of the out-of-pocket part (fen), once decided.
    pub approved_fen: Option<i64>,
    /// Why less was approved than claimed.
    pub cut_reason: Option<String>,
}

impl From<&ClaimLine> for LineView {
    fn from(l: &ClaimLine) -> Self {
        LineView {
            id: l.id.to_string(),
            hospital: l.hospital.clone(),
            invoice_number: l.invoice_number.clone(),
            treated_on: l.treated_on,
            kind: l.kind.as_str().to_owned(),
            total_fen: l.total_fen.get(),
            insurance_fen: l.insurance_fen.get(),
            out_of_pocket_fen: l.out_of_pocket_fen.get(),
            approved_fen: l.approved_fen.map(|f| f.get()),
            cut_reason: l.cut_reason.clone(),
        }
    }
}

/// A proof document (its bytes through a download link only).
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    /// Id.
    pub id: String,
    /// `invoice`, `diagnosis_certificate`, `discharge_summary`, `itemised_bill`,
    /// `insurance_settlement` or `id_card`.
    #[schema(value_type = crate::routes::vocabularies::DocumentKind)]
    pub kind: String,
    /// `image/jpeg`, `image/png` or `application/pdf`, decided from the bytes.
    pub media_type: String,
    /// Bytes.
    pub size_bytes: i64,
    /// The uploaded file's name.
    pub file_name: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Uploaded (UTC).
    pub uploaded_at: DateTime<Utc>,
}

impl From<&Document> for DocumentView {
    fn from(d: &Document) -> Self {
        DocumentView {
            id: d.id.to_string(),
            kind: d.kind.as_str().to_owned(),
            media_type: d.media_type.as_str().to_owned(),
            size_bytes: d.size_bytes,
            file_name: d.file_name.clone(),
            sha256: d.sha256.clone(),
            uploaded_at: d.uploaded_at,
        }
    }
}

/// How one benefit kind's payout came about.
#[derive(Debug, Serialize, ToSchema)]
pub struct BenefitPayoutView {
    /// The kind.
    pub kind: String,
    /// Positions (0-based) of the claim's lines of this kind.
    pub lines: Vec<usize>,
    /// Whether the plan pays for this kind at all.
    pub covered: bool,
    /// This claim's total costs of the kind (fen).
    pub claim_costs_fen: i64,
    /// Costs of the kind on the member's earlier approved claims this plan year (fen).
    pub earlier_costs_fen: i64,
    /// The threshold the two together must reach (fen).
    pub threshold_fen: i64,
    /// Whether they do.
    pub threshold_met: bool,
    /// The out-of-pocket amount the rate applies to (fen).
    pub eligible_fen: i64,
    /// Taken off first (fen).
    pub deductible_fen: i64,
    /// The rate (basis points).
    pub rate_basis_points: u32,
    /// (eligible − deductible) × rate, rounded down to the fen.
    pub rated_fen: i64,
    /// Which limit applied: `none`, `minimum`, `maximum`, `out_of_pocket` (lowered to what
    /// the member paid) or `annual_cap`.
    pub limit: String,
    /// What was left of the annual cap before this claim (fen).
    pub cap_remaining_fen: i64,
    /// What this kind pays (fen).
    pub payout_fen: i64,
    /// The same in one Chinese sentence, for the worker.
    pub explanation: String,
}

/// A payout with its breakdown.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutView {
    /// What the claim pays (fen).
    pub total_fen: i64,
    /// Per benefit kind.
    pub benefits: Vec<BenefitPayoutView>,
}

impl From<&Payout> for PayoutView {
    fn from(p: &Payout) -> Self {
        let benefits = p
            .benefits
            .iter()
            .map(|b| {
                let costs = b.claim_costs_fen.plus(b.earlier_costs_fen);
                let explanation = if !b.covered {
                    format!("本计划不保障{}费用", b.kind.zh())
                } else if !b.threshold_met {
                    format!(
                        "本年度{}费用合计 {}，未达到起付标准 {}，不予给付",
                        b.kind.zh(),
                        costs,
                        b.threshold_fen
                    )
                } else {
                    let limit = match b.limit {
                        Limit::None => String::new(),
                        Limit::Minimum => "，低于最低给付额，按最低额".into(),
                        Limit::Maximum => "，超过单次最高给付额，按最高额".into(),
                        Limit::OutOfPocket => "，给付不超过个人自付金额".into(),
                        Limit::AnnualCap => "，以年度剩余额度为限".into(),
                    };
                    format!(
                        "本年度{}费用合计 {}，达到起付标准 {}；自付 {} 扣除免赔 {} 后按 {}% 计 {}{}，给付 {}",
                        b.kind.zh(),
                        costs,
                        b.threshold_fen,
                        b.eligible_fen,
                        b.deductible_fen,
                        f64::from(b.rate_basis_points) / 100.0,
                        b.rated_fen,
                        limit,
                        b.payout_fen
                    )
                };
                BenefitPayoutView {
                    kind: b.kind.as_str().to_owned(),
                    lines: b.lines.clone(),
                    covered: b.covered,
                    claim_costs_fen: b.claim_costs_fen.get(),
                    earlier_costs_fen: b.earlier_costs_fen.get(),
                    threshold_fen: b.threshold_fen.get(),
                    threshold_met: b.threshold_met,
                    eligible_fen: b.eligible_fen.get(),
                    deductible_fen: b.deductible_fen.get(),
                    rate_basis_points: b.rate_basis_points,
                    rated_fen: b.rated_fen.get(),
                    limit: match b.limit {
                        Limit::None => "none",
                        Limit::Minimum => "minimum",
                        Limit::Maximum => "maximum",
                        Limit::OutOfPocket => "out_of_pocket",
                        Limit::AnnualCap => "annual_cap",
                    }
                    .to_owned(),
                    cap_remaining_fen: b.cap_remaining_fen.get(),
                    payout_fen: b.payout_fen.get(),
                    explanation,
                }
            })
            .collect();
        PayoutView {
            total_fen: p.total_fen.get(),
            benefits,
        }
    }
}

/// The payee account, masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayeeView {
    /// Account holder.
    pub account_name: String,
    /// Bank and branch.
    pub bank: String,
    /// `6222********1234`.
    pub account_masked: String,
}

/// A rejection.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectionView {
    /// Stable code, e.g. `not_covered`.
    pub code: String,
    /// Its number in the reason list.
    pub number: u8,
    /// The reason in Chinese.
    pub label: String,
    /// The reviewer's words.
    pub text: String,
}

/// One step on a claim's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// `submit`, `take`, `approve`, `return`, `reject` or `mark_paid`.
    #[schema(value_type = crate::routes::vocabularies::ClaimAction)]
    pub action: String,
    /// The action in Chinese.
    pub action_label: String,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// The state after, in Chinese.
    pub to_label: String,
    /// What the step said (what to add, the rejection, the bank reference…).
    pub note: Option<String>,
    /// Whether the member took the step (filing, completing); otherwise an official did.
    pub by_member: bool,
    /// The official who took the step, by display name (officials' answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

impl TimelineEntry {
    /// The step `e` of a claim filed by `member`.
    fn new(e: &ClaimEvent, member: AccountId) -> Self {
        TimelineEntry {
            by_member: e.actor == member,
            actor_name: None,
            action: e.action.as_str().to_owned(),
            action_label: e.action.zh().to_owned(),
            from: e.from.as_str().to_owned(),
            to: e.to.as_str().to_owned(),
            to_label: e.to.zh().to_owned(),
            note: e.note.clone(),
            at: e.at,
        }
    }
}

/// Days after submission from which an undecided claim is flagged: the plan promises the
/// money within a month (DOMAIN.md, 晋城), so at 20 days it needs attention.
pub const OVERDUE_AFTER_DAYS: i64 = 20;

/// A claim.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimView {
    /// Id.
    pub id: String,
    /// The plan.
    pub plan_id: String,
    /// The plan version it is judged under.
    pub plan_version: i32,
    /// The enrolment.
    pub enrollment_id: String,
    /// The member.
    pub member_id: String,
    /// The member, named (officials' answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberBrief>,
    /// The member's organisation.
    pub org_id: String,
    /// `draft`, `submitted`, `first_review`, `second_review`, `approved`, `paid`,
    /// `returned` or `rejected`.
    #[schema(value_type = crate::routes::vocabularies::ClaimStatus)]
    pub status: String,
    /// The status in Chinese.
    pub status_label: String,
    /// The cost lines.
    pub lines: Vec<LineView>,
    /// The proof documents.
    pub documents: Vec<DocumentView>,
    /// Where the payout goes (masked).
    pub payee: Option<PayeeView>,
    /// Officials' answers only, when a payee is given: `true` when the account holder's name
    /// is not the member's — a relative's account, or a mistake — to be checked before
    /// approving.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payee_not_member: Option<bool>,
    /// What the lines claim, computed at submission (fen).
    pub claimed_fen: Option<i64>,
    /// What the reviewers approved (fen).
    pub approved_fen: Option<i64>,
    /// What was paid (fen).
    pub paid_fen: Option<i64>,
    /// How the last computed amount came about.
    pub breakdown: Option<PayoutView>,
    /// What to add (when returned).
    pub return_note: Option<String>,
    /// Why refused (when rejected).
    pub rejection: Option<RejectionView>,
    /// The bank's reference (when paid).
    pub bank_reference: Option<String>,
    /// First submission (UTC): the one-month clock starts here.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Whether it has waited more than 20 days since submission without being decided.
    pub overdue: bool,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
    /// The timeline, oldest first (single-claim answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEntry>>,
    /// What on other claims looks like this one's (a reviewer's single-claim answer only):
    /// each flag names the other claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similar: Option<Vec<SimilarView>>,
}

/// Something on another claim that looks like this claim's — to check before deciding.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarView {
    /// `same_invoice_number` (however it was typed), `same_amount_and_day` (at a hospital
    /// whose name reads the same) or `same_document` (identical bytes).
    #[schema(value_type = crate::routes::vocabularies::Likeness)]
    pub likeness: String,
    /// The same in Chinese.
    pub likeness_label: String,
    /// This claim's line (0-based) that looks alike; absent for a document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The other claim's id.
    pub other_claim_id: String,
    /// Its state.
    pub other_status: String,
    /// Its state in Chinese.
    pub other_status_label: String,
    /// Its line (0-based) that looks alike; absent for a document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_line: Option<usize>,
}

impl From<&Similar> for SimilarView {
    fn from(s: &Similar) -> Self {
        SimilarView {
            likeness: s.likeness.as_str().to_owned(),
            likeness_label: s.likeness.zh().to_owned(),
            line: s.line,
            other_claim_id: s.other_claim.to_string(),
            other_status: s.other_status.as_str().to_owned(),
            other_status_label: s.other_status.zh().to_owned(),
            other_line: s.other_line,
        }
    }
}

impl ClaimView {
    /// The view of `c` as of `now`.
    pub fn new(c: &Claim, now: DateTime<Utc>) -> Self {
        use yiwang_domain::mutual_aid::ClaimStatus as S;
        let waiting = matches!(
            c.status,
            S::Submitted | S::FirstReview | S::SecondReview | S::Approved
        );
        let overdue = waiting
            && c.submitted_at
                .is_some_and(|at| (now - at).num_days() >= OVERDUE_AFTER_DAYS);
        ClaimView {
            id: c.id.to_string(),
            plan_id: c.plan_id.to_string(),
            plan_version: c.plan_version,
            enrollment_id: c.enrollment_id.to_string(),
            member_id: c.member_id.to_string(),
            member: None,
            org_id: c.org_id.to_string(),
            status: c.status.as_str().to_owned(),
            status_label: c.status.zh().to_owned(),
            lines: c.lines.iter().map(LineView::from).collect(),
            documents: c.documents.iter().map(DocumentView::from).collect(),
            payee: c.payee.as_ref().map(|p| PayeeView {
                account_name: p.account_name.clone(),
                bank: p.bank.clone(),
                account_masked: p.account_masked.clone(),
            }),
            payee_not_member: None,
            claimed_fen: c.claimed_fen.map(|f| f.get()),
            approved_fen: c.approved_fen.map(|f| f.get()),
            paid_fen: c.paid_fen.map(|f| f.get()),
            breakdown: c.breakdown.as_ref().map(PayoutView::from),
            return_note: c.return_note.clone(),
            rejection: c.rejection.as_ref().map(|r| RejectionView {
                code: r.reason.as_str().to_owned(),
                number: r.reason.number(),
                label: r.reason.zh().to_owned(),
                text: r.text.clone(),
            }),
            bank_reference: c.bank_reference.clone(),
            submitted_at: c.submitted_at,
            overdue,
            created_at: c.created_at,
            updated_at: c.updated_at,
            timeline: None,
            similar: None,
        }
    }

    /// With the timeline.
    pub fn with_timeline(mut self, events: &[ClaimEvent], member: AccountId) -> Self {
        self.timeline = Some(
            events
                .iter()
                .map(|e| TimelineEntry::new(e, member))
                .collect(),
        );
        self
    }

    /// Named for officials: the member (from `member`, absent when the record is gone) and
    /// whether the payee's name differs from the member's.
    pub fn naming(mut self, member: Option<&Member>) -> Self {
        self.member = member.map(MemberBrief::from);
        self.payee_not_member = self.payee.as_ref().zip(member).map(|(payee, m)| {
            m.real_name.as_deref().map(str::trim) != Some(payee.account_name.trim())
        });
        self
    }

    /// The timeline's officials by display name, from `names` (account → name).
    pub fn naming_actors(
        mut self,
        names: &HashMap<AccountId, String>,
        events: &[ClaimEvent],
    ) -> Self {
        if let Some(timeline) = self.timeline.as_mut() {
            for (entry, event) in timeline.iter_mut().zip(events) {
                if !entry.by_member {
                    entry.actor_name = names.get(&event.actor).cloned();
                }
            }
        }
        self
    }

    /// With the flags of what looks alike on other claims.
    pub fn with_similar(mut self, similar: &[Similar]) -> Self {
        self.similar = Some(similar.iter().map(SimilarView::from).collect());
        self
    }
}

/// The claims of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimList {
    /// Newest first.
    pub items: Vec<ClaimView>,
}

/// The enrolments of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentList {
    /// Newest first.
    pub items: Vec<EnrolmentView>,
}

/// The plans of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanList {
    /// Newest plan year first.
    pub items: Vec<PlanView>,
}

/// Today in China Standard Time.
pub fn today() -> NaiveDate {
    china_date(clock::now())
}

/// The rules of each plan in `ids`, read once each.
pub async fn rules_of(
    state: &AppState,
    ids: impl IntoIterator<Item = PlanId>,
) -> Result<HashMap<PlanId, PlanRules>, ApiError> {
    let mut rules = HashMap::new();
    for id in ids {
        if let std::collections::hash_map::Entry::Vacant(slot) = rules.entry(id) {
            slot.insert(state.mutual_aid.plan(id).await?.rules);
        }
    }
    Ok(rules)
}

/// Whose plans a worker who is not a member reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlansQuery {
    /// For a worker who is neither a member nor has an open application: the organisation
    /// they would join (`GET /api/v1/orgs`). Ignored for members and applicants, who read the
    /// plans of their own organisation.
    pub org_id: Option<String>,
}

/// Plans the worker may enrol in: run by the member's organisation or one above it, and open
/// to the member's employment form; newest plan year first. A worker who is not yet a member
/// reads the plans they could join — those of their open application's organisation (and
/// employment form), or of the organisation `org_id` — to decide before joining; enrolling
/// still needs the membership.
#[utoipa::path(get, tag = "mutual aid", security(("bearer" = [])),
    params(PlansQuery),
    responses(
        (status = 200, description = "The plans", body = PlanList),
        (status = 404, description = "No such organisation `org_id`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`org_required`: not a member, no open application and no `org_id`", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn, WorkerOnly,
    ))]
#[get("/mutual-aid/plans")]
pub async fn plans(
    state: web::Data<AppState>,
    worker: auth::Worker,
    query: Query<PlansQuery>,
) -> Result<web::Json<PlanList>, ApiError> {
    let (path, form) = match state.membership.member_of(worker.0.account_id()).await? {
        Some(member) => (member.org_path, Some(member.employment_form)),
        None => prospective_scope(&state, &worker, query.org_id.as_deref()).await?,
    };
    let today = today();
    let items = state
        .mutual_aid
        .plans_for(&path)
        .await?
        .iter()
        .filter(|p| form.is_none_or(|f| p.rules.admits(f)))
        .map(|p| PlanView::new(p, today))
        .collect();
    Ok(web::Json(PlanList { items }))
}

/// Where a worker who is not a member looks for plans: the organisation (and employment form)
/// of their open application, else the organisation `org_id` with every form.
async fn prospective_scope(
    state: &AppState,
    worker: &auth::Worker,
    org_id: Option<&str>,
) -> Result<(OrgPath, Option<EmploymentForm>), ApiError> {
    let open = state
        .membership
        .applications_of(worker.0.account_id())
        .await?
        .into_iter()
        .find(|a| a.status.is_open());
    if let Some(app) = open {
        return Ok((app.org_path, Some(app.employment_form)));
    }
    let Some(org_id) = org_id else {
        return Err(ApiError::invalid_field(
            "org_id",
            "org_required",
            "您还不是工会会员：请选择拟加入的工会组织，查看其互助保障计划",
            "Not a member: give org_id, the organisation you would join, to read its plans",
        ));
    };
    let id = OrgId::parse(org_id.trim()).ok_or_else(ApiError::not_found)?;
    Ok((state.orgs.get(id).await?.path, None))
}

/// Asking to enrol.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentForm {
    /// The plan (`GET /api/v1/mutual-aid/plans`).
    #[schema(format = Uuid)]
    pub plan_id: String,
}

/// Enrols the worker in a plan for its plan year. The enrolment waits for the fee
/// (`pending_payment`) until an official records it; then it is `active`, and costs are
/// covered from the day after the waiting period. With `Idempotency-Key`, a retry after a
/// lost answer answers the first enrolment (without it, the retry is `already_enrolled`).
#[utoipa::path(post, tag = "mutual aid", security(("bearer" = [])),
    request_body = EnrolmentForm,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first enrolment")),
    responses(
        (status = 201, description = "Enrolled, waiting for the fee", body = EnrolmentView),
        (status = 404, description = "`not_a_member`, or no such plan open to the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_enrolled`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`enrolment_closed` or `employment_form_not_admitted`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[post("/mutual-aid/enrollments")]
pub async fn enrol(
    state: web::Data<AppState>,
    worker: auth::Worker,
    req: HttpRequest,
    form: Json<EnrolmentForm>,
) -> Result<HttpResponse, ApiError> {
    let route = "POST /api/v1/mutual-aid/enrollments".to_owned();
    let request = form.plan_id.trim().as_bytes().to_vec();
    idempotency::once(
        &state,
        &req,
        worker.0.account_id(),
        route,
        &request,
        |pending| enrol_once(&state, &worker, &form, pending),
    )
    .await
}

/// [`enrol`]'s work, storing its answer for `pending`'s key in the transaction that enrols.
async fn enrol_once(
    state: &AppState,
    worker: &auth::Worker,
    form: &EnrolmentForm,
    pending: Option<idempotency::Pending>,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let member = member_in_force(state, worker).await?;
    let plan_id = PlanId::parse(form.plan_id.trim()).ok_or_else(ApiError::not_found)?;
    let plan = state.mutual_aid.plan(plan_id).await?;
    if !plan.takes_members_of(&member.org_path) {
        return Err(ApiError::not_found());
    }
    let today = today();
    if !plan.rules.admits(member.employment_form) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "employment_form_not_admitted",
            "该计划只面向特定就业形态的会员，您的就业形态不在其中",
            "The plan is limited to other forms of employment",
        )
        .field(
            "plan_id",
            "employment_form_not_admitted",
            "就业形态不符",
            "form of employment not admitted",
        ));
    }
    if !plan.rules.enrolment_open_on(today) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "enrolment_closed",
            format!(
                "该计划的参保时间为 {} 至 {}，今天不在参保期内",
                plan.rules.enrolment_opens_on, plan.rules.enrolment_closes_on
            ),
            format!(
                "Enrolment runs from {} to {}",
                plan.rules.enrolment_opens_on, plan.rules.enrolment_closes_on
            ),
        )
        .field(
            "plan_id",
            "enrolment_closed",
            "不在参保期内",
            "enrolment is closed",
        ));
    }
    let enrollment = Enrolment {
        id: EnrolmentId::new(),
        plan_id: plan.id,
        member_id: member.id,
        account_id: worker.0.account_id(),
        org_id: member.org_id,
        org_path: member.org_path.clone(),
        requested_on: today,
        payment: None,
    };
    let mut change = worker.0.change(
        "mutual_aid.enrol",
        "mutual_aid_enrollment",
        enrollment.id,
        json!({ "plan_id": plan.id, "member_id": member.id }),
        Some(OutboxEvent {
            topic: "mutual_aid.enrolled".into(),
            payload: json!({ "id": enrollment.id, "plan_id": plan.id, "member_id": member.id, "org_id": member.org_id }),
        }),
    );
    let view = serde_json::to_value(EnrolmentView::new(&enrollment, &plan.rules, today))
        .map_err(|e| ApiError::internal(&e))?;
    change.answer = pending.map(|p| p.answer(StatusCode::CREATED, &view, clock::now()));
    state.mutual_aid.enrol(&enrollment, &change).await?;
    Ok((StatusCode::CREATED, view))
}

/// The worker's enrolments, newest first.
#[utoipa::path(get, tag = "mutual aid", security(("bearer" = [])),
    responses(
        (status = 200, description = "The enrolments", body = EnrolmentList),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/mutual-aid/enrollments")]
pub async fn my_enrolments(
    state: web::Data<AppState>,
    worker: auth::Worker,
) -> Result<web::Json<EnrolmentList>, ApiError> {
    let rows = state
        .mutual_aid
        .enrolments_of(worker.0.account_id())
        .await?;
    let rules = rules_of(&state, rows.iter().map(|e| e.plan_id)).await?;
    let today = today();
    let items = rows
        .iter()
        .filter_map(|e| {
            rules
                .get(&e.plan_id)
                .map(|r| EnrolmentView::new(e, r, today))
        })
        .collect();
    Ok(web::Json(EnrolmentList { items }))
}

/// The audit row and outbox event of a claim command, completed from its outcome: `base` is
/// the actor's audit row of this request (taken before the repository's transaction, which
/// runs off the request's task), its action becomes `mutual_aid.claim.<action>`, its detail
/// the move and the amounts, and the event `mutual_aid.claim.<to state>` goes to the outbox.
pub fn transition_change(
    base: Change,
    action: ClaimAction,
) -> Box<dyn for<'o> FnOnce(&'o Outcome) -> Change + Send + 'static> {
    Box::new(move |o: &Outcome| {
        let c = &o.claim;
        let detail = json!({
            "from": o.from.as_str(),
            "to": c.status.as_str(),
            "claimed_fen": c.claimed_fen,
            "approved_fen": c.approved_fen,
            "paid_fen": c.paid_fen,
            "note": o.note,
        });
        let mut change = base;
        change.audit.action = format!("mutual_aid.claim.{}", action.as_str());
        change.audit.detail = detail.clone();
        change.event = Some(OutboxEvent {
            topic: format!("mutual_aid.claim.{}", c.status.as_str()),
            payload: json!({
                "id": c.id,
                "member_id": c.member_id,
                "org_id": c.org_id,
                "account_id": c.account_id,
                "transition": detail,
            }),
        });
        change
    })
}

/// Registers this feature's routes with their OpenAPI paths, in the order actix matches
/// them (fixed paths before `{id}`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(plans)
        .service(enrol)
        .service(my_enrolments)
        .service(claims::create)
        .service(claims::list)
        .service(claims::show)
        .service(claims::update)
        .service(claims::preview)
        .service(claims::submit)
        .service(documents::upload)
        .service(documents::remove)
        .service(documents::own_link)
        .service(documents::download)
        .service(admin::create)
        .service(admin::list)
        .service(admin::show)
        .service(admin::update)
        .service(admin::enrolments::list)
        .service(admin::enrolments::record_payments)
        .service(admin::payouts::payment_list)
        .service(admin::claims::queue)
        .service(admin::claims::show)
        .service(admin::claims::document_link)
        .service(admin::claims::take)
        .service(admin::claims::approve)
        .service(admin::claims::return_claim)
        .service(admin::claims::reject)
        .service(admin::payouts::mark_paid);
}
