//! What a worker's submission and an official's decision do to a claim: the checks, the new
//! state, the amounts and the timeline entry, decided in one pure function ([`decide`]) that
//! the repository runs inside the transaction that holds the claim (and the member's
//! enrolment) locked. So two reviewers deciding at once are one after the other, and the
//! second finds the claim moved on; two approvals for one member never both spend the same
//! room under the annual cap.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::claim::{next, Claim, ClaimAction, ClaimStatus, Decision, LineId, Rejection};
use super::enrolment::{Coverage, Enrolment};
use super::payout::{compute, Payout, YearToDate};
use super::plan::{BenefitKind, PlanRules};
use crate::account::AccountId;
use crate::money::Fen;
use crate::refusal::{Refusal, RefusalKind};

/// A reviewer's verdict on one line when approving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineApproval {
    /// The line.
    pub line_id: LineId,
    /// What is approved of its out-of-pocket part (at most that; 0 takes the line out).
    pub approved_fen: Fen,
    /// Why less than claimed; required when it is.
    pub reason: Option<String>,
}

/// What someone asks to do to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The worker files the claim.
    Submit,
    /// A reviewer takes it (受理).
    Take,
    /// A reviewer approves, cutting the lines listed (the others as claimed).
    Approve {
        /// Cuts.
        cuts: Vec<LineApproval>,
    },
    /// A reviewer sends it back with what to add.
    Return {
        /// What to add.
        note: String,
    },
    /// A reviewer refuses it.
    Reject {
        /// The reason.
        rejection: Rejection,
    },
    /// Finance records the payment.
    MarkPaid {
        /// The bank's reference.
        bank_reference: String,
    },
}

impl Command {
    /// The action it performs.
    pub fn action(&self) -> ClaimAction {
        match self {
            Command::Submit => ClaimAction::Submit,
            Command::Take => ClaimAction::Take,
            Command::Approve { .. } => ClaimAction::Approve,
            Command::Return { .. } => ClaimAction::Return,
            Command::Reject { .. } => ClaimAction::Reject,
            Command::MarkPaid { .. } => ClaimAction::MarkPaid,
        }
    }
}

/// What the decision reads, gathered by the repository inside the transaction.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The claim as it is now.
    pub claim: &'a Claim,
    /// The enrolment it claims under.
    pub enrollment: &'a Enrolment,
    /// The rules to judge by: the plan's current version for a submission, the claim's
    /// version afterwards.
    pub rules: &'a PlanRules,
    /// That version's number.
    pub rules_version: i32,
    /// The member's earlier approved or paid claims of the same enrolment, per kind.
    pub earlier: &'a BTreeMap<BenefitKind, YearToDate>,
    /// Whether the member is in force in the plan's subtree now (checked at submission).
    pub member_in_scope: bool,
    /// Who acts.
    pub actor: AccountId,
    /// When (UTC): the claim's `updated_at`, and its `submitted_at` on a first submission.
    pub at: DateTime<Utc>,
}

/// A refusal the member can fix (422): `code`, the field or line at fault when one is, and
/// the texts.
fn unprocessable(code: &'static str, field: Option<String>, zh: String, en: String) -> Refusal {
    let refusal = Refusal::with_text(RefusalKind::Invalid, code, zh, en);
    match field {
        Some(field) => refusal.at(field),
        None => refusal,
    }
}

/// What to write: the claim after the command and the timeline entry's note. `changed` is
/// false when the command asked for what already is (a payment recorded twice with the same
/// reference), and nothing is to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The claim as it is to be stored.
    pub claim: Claim,
    /// The state before.
    pub from: ClaimStatus,
    /// The note for the timeline.
    pub note: Option<String>,
    /// Whether anything changes.
    pub changed: bool,
}

/// The claim after `command`, or why not. Checks, in order: a submission is the claimant's own
/// (else not found); the transition is legal (409) and
/// the second reviewer is not the first (403); then for a submission, that the claim has
/// lines and a payee account, the member is in force in the plan's subtree, the enrolment is paid, every line's
/// date is covered and past the waiting period, and the documents each line's benefit asks
/// for are there (422, every failing check and line at once: [`submission_refusal`]); for an approval, that every cut names a line,
/// stays within its out-of-pocket part and gives a reason.
pub fn decide(ctx: &Context<'_>, command: &Command) -> Result<Outcome, Refusal> {
    if matches!(command, Command::Submit) && ctx.actor != ctx.claim.account_id {
        return Err(Refusal::not_found());
    }
    let mut claim = ctx.claim.clone();
    let from = claim.status;
    if let (Command::MarkPaid { bank_reference }, ClaimStatus::Paid) = (command, from) {
        if claim.bank_reference.as_deref() == Some(bank_reference.as_str()) {
            return Ok(Outcome {
                claim,
                from,
                note: None,
                changed: false,
            });
        }
    }
    let approved = match command {
        Command::Approve { cuts } => {
            apply_cuts(&mut claim, cuts)?;
            Some(payout(ctx, &claim, true))
        }
        _ => None,
    };
    let decision = Decision {
        actor: ctx.actor,
        first_reviewer: claim.first_reviewer,
        approved_fen: approved.as_ref().map_or(Fen::ZERO, |p| p.total_fen),
        second_review_from_fen: ctx.rules.second_review_from_fen,
    };
    let to = next(from, command.action(), &decision)?;
    let mut note = None;
    match command {
        Command::Submit => {
            if let Some(refusal) = submission_refusal(ctx, &claim) {
                return Err(refusal);
            }
            let claimed = payout(ctx, &claim, false);
            claim.plan_version = ctx.rules_version;
            claim.submitted_at.get_or_insert(ctx.at);
            claim.claimed_fen = Some(claimed.total_fen);
            claim.breakdown = Some(claimed);
            claim.return_note = None;
            claim.first_reviewer = None;
            claim.second_reviewer = None;
            for line in &mut claim.lines {
                line.approved_fen = None;
                line.cut_reason = None;
            }
        }
        Command::Take => {}
        Command::Approve { .. } => {
            record_reviewer(&mut claim, from, ctx.actor);
            if let Some(approved) = approved {
                note = Some(format!("核定金额 {}", approved.total_fen));
                claim.approved_fen = Some(approved.total_fen);
                claim.breakdown = Some(approved);
            }
        }
        Command::Return { note: what } => {
            record_reviewer(&mut claim, from, ctx.actor);
            claim.return_note = Some(what.clone());
            note = Some(what.clone());
        }
        Command::Reject { rejection } => {
            record_reviewer(&mut claim, from, ctx.actor);
            note = Some(format!("{}：{}", rejection.reason.zh(), rejection.text));
            claim.rejection = Some(rejection.clone());
        }
        Command::MarkPaid { bank_reference } => {
            claim.paid_fen = claim.approved_fen;
            claim.bank_reference = Some(bank_reference.clone());
            note = Some(bank_reference.clone());
        }
    }
    claim.status = to;
    claim.updated_at = ctx.at;
    Ok(Outcome {
        claim,
        from,
        note,
        changed: true,
    })
}

fn record_reviewer(claim: &mut Claim, from: ClaimStatus, actor: AccountId) {
    if from == ClaimStatus::FirstReview {
        claim.first_reviewer = Some(actor);
    } else {
        claim.second_reviewer = Some(actor);
    }
}

fn payout(ctx: &Context<'_>, claim: &Claim, approved: bool) -> Payout {
    compute(ctx.rules, &claim.costs(approved), |kind| {
        ctx.earlier.get(&kind).copied().unwrap_or_default()
    })
}

/// Applies `cuts` over the lines' approved amounts so far (the first reviewer's, when the
/// second approves; a line nobody cut is approved as claimed).
fn apply_cuts(claim: &mut Claim, cuts: &[LineApproval]) -> Result<(), Refusal> {
    for line in &mut claim.lines {
        line.approved_fen.get_or_insert(line.out_of_pocket_fen);
    }
    for (i, cut) in cuts.iter().enumerate() {
        let field = |name: &str| Some(format!("lines.{i}.{name}"));
        let Some(line) = claim.lines.iter_mut().find(|l| l.id == cut.line_id) else {
            return Err(unprocessable(
                "unknown_line",
                field("line_id"),
                "核减的费用明细不属于这份申请".into(),
                "the cut names a line this claim does not have".into(),
            ));
        };
        if cut.approved_fen > line.out_of_pocket_fen {
            return Err(unprocessable(
                "exceeds_claimed",
                field("approved_fen"),
                format!("核定金额不能超过个人自付 {}", line.out_of_pocket_fen),
                "the approved amount exceeds the out-of-pocket part".into(),
            ));
        }
        let reason = cut
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if cut.approved_fen < line.out_of_pocket_fen && reason.is_none() {
            return Err(unprocessable(
                "reason_required",
                field("reason"),
                "核减费用须写明原因".into(),
                "a cut needs a reason".into(),
            ));
        }
        line.approved_fen = Some(cut.approved_fen);
        line.cut_reason = reason.map(str::to_owned);
    }
    Ok(())
}

/// Why submitting `claim` now would be refused — every reason at once, the first one's code
/// leading and each line at fault named — or `None` when it would be accepted. Submission and
/// the preview both ask this, so a preview never promises what submitting refuses.
pub fn submission_refusal(ctx: &Context<'_>, claim: &Claim) -> Option<Refusal> {
    let mut found = Vec::new();
    if claim.lines.is_empty() {
        found.push(unprocessable(
            "no_lines",
            Some("lines".into()),
            "请先填写至少一条费用明细".into(),
            "a claim needs at least one line".into(),
        ));
    }
    if claim.payee.is_none() {
        found.push(unprocessable(
            "payee_missing",
            Some("payee".into()),
            "请填写收款银行账户，互助金将打入该账户".into(),
            "give the bank account the payout is to be paid into".into(),
        ));
    }
    if !ctx.member_in_scope {
        found.push(unprocessable(
            "not_member",
            None,
            "只有本计划范围内的在册会员可以申请互助金".into(),
            "only a member in force in the plan's organisation may claim".into(),
        ));
    }
    match ctx.enrollment.coverage(ctx.rules) {
        Some(coverage) => line_refusals(ctx, claim, &coverage, &mut found),
        None if ctx.enrollment.payment.is_none() => found.push(unprocessable(
            "not_enrolled",
            None,
            "参保费用尚未缴纳，保障未生效".into(),
            "the enrolment fee is not paid: no coverage yet".into(),
        )),
        None => found.push(unprocessable(
            "waiting_period",
            None,
            "等待期持续到计划年度结束，本年度没有保障期".into(),
            "the waiting period lasts past the plan year".into(),
        )),
    }
    found.extend(documents_refusal(ctx, claim));
    Refusal::all(found)
}

/// Every line not treated inside the coverage and past the waiting period, or of a kind the
/// plan does not pay for, each named.
fn line_refusals(ctx: &Context<'_>, claim: &Claim, coverage: &Coverage, found: &mut Vec<Refusal>) {
    for (i, line) in claim.lines.iter().enumerate() {
        let field = Some(format!("lines.{i}.treated_on"));
        if ctx.enrollment.in_waiting_period(ctx.rules, line.treated_on) {
            found.push(unprocessable(
                "waiting_period",
                field,
                format!(
                    "第 {} 条费用发生在等待期内（保障自 {} 起）",
                    i + 1,
                    coverage.from
                ),
                format!(
                    "line {} falls in the waiting period (covered from {})",
                    i + 1,
                    coverage.from
                ),
            ));
        } else if !coverage.covers(line.treated_on) {
            found.push(unprocessable(
                "not_covered",
                field,
                format!(
                    "第 {} 条费用不在保障期（{} 至 {}）内",
                    i + 1,
                    coverage.from,
                    coverage.until
                ),
                format!(
                    "line {} is outside coverage ({} to {})",
                    i + 1,
                    coverage.from,
                    coverage.until
                ),
            ));
        }
        if ctx.rules.benefit(line.kind).is_none() {
            found.push(unprocessable(
                "kind_not_covered",
                Some(format!("lines.{i}.kind")),
                format!("本计划不保障第 {} 条的「{}」费用", i + 1, line.kind.zh()),
                format!(
                    "the plan does not pay for `{}` (line {})",
                    line.kind.as_str(),
                    i + 1
                ),
            ));
        }
    }
}

/// The documents every claimed kind's benefit asks for that are not attached, as one refusal
/// listing them.
fn documents_refusal(ctx: &Context<'_>, claim: &Claim) -> Option<Refusal> {
    let have = claim.document_kinds();
    let mut missing = Vec::new();
    for kind in BenefitKind::ALL {
        if let Some(rule) = ctx.rules.benefit(kind) {
            if claim.lines.iter().any(|l| l.kind == kind) {
                for needed in &rule.required_documents {
                    if !have.contains(needed) && !missing.contains(needed) {
                        missing.push(*needed);
                    }
                }
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let zh: Vec<&str> = missing.iter().map(|d| d.zh()).collect();
    let en: Vec<&str> = missing.iter().map(|d| d.as_str()).collect();
    Some(unprocessable(
        "documents_missing",
        Some("documents".into()),
        format!("还缺少以下材料：{}", zh.join("、")),
        format!("missing documents: {}", en.join(", ")),
    ))
}

/// What a claim would pay as written and, while the worker can still edit it, what
/// submitting it now would be refused for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The payout under `ctx.rules` and the member's earlier claims.
    pub payout: Payout,
    /// The refusal [`submission_refusal`] gives, for a claim still editable.
    pub refusal: Option<Refusal>,
}

/// The preview of `ctx.claim`: the same payout and the same checks a submission runs.
pub fn preview(ctx: &Context<'_>) -> Preview {
    let refusal = if ctx.claim.status.editable() {
        submission_refusal(ctx, ctx.claim)
    } else {
        None
    };
    Preview {
        payout: payout(ctx, ctx.claim, false),
        refusal,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::membership::member::MemberId;
    use crate::mutual_aid::claim::{ClaimId, ClaimLine, Document, DocumentId, MediaType, Payee};
    use crate::mutual_aid::enrolment::{EnrolmentId, FeePayment, PaymentMethod};
    use crate::mutual_aid::plan::tests::jincheng;
    use crate::mutual_aid::plan::{DocumentKind, PlanId};
    use crate::org::{OrgId, OrgPath};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    struct World {
        rules: PlanRules,
        enrollment: Enrolment,
        claim: Claim,
        earlier: BTreeMap<BenefitKind, YearToDate>,
        worker: AccountId,
    }

    fn world() -> World {
        let org = OrgId::new();
        let worker = AccountId::new();
        let enrollment = Enrolment {
            id: EnrolmentId::new(),
            plan_id: PlanId::new(),
            member_id: MemberId::new(),
            account_id: worker,
            org_id: org,
            org_path: OrgPath::root(org),
            requested_on: day("2027-01-05"),
            payment: Some(FeePayment {
                method: PaymentMethod::Cash,
                amount_fen: Fen::yuan(50),
                reference: None,
                recorded_by: AccountId::new(),
                activated_on: day("2027-01-10"),
            }),
        };
        let line = |yuan: i64, on: &str| ClaimLine {
            id: LineId::new(),
            hospital: "晋城市人民医院".into(),
            invoice_number: format!("INV-{yuan}"),
            treated_on: day(on),
            kind: BenefitKind::Inpatient,
            total_fen: Fen::yuan(yuan),
            insurance_fen: Fen::ZERO,
            out_of_pocket_fen: Fen::yuan(yuan),
            approved_fen: None,
            cut_reason: None,
        };
        let now = Utc::now();
        let claim_id = ClaimId::new();
        let document = |kind| Document {
            id: DocumentId::new(),
            claim_id,
            kind,
            media_type: MediaType::Pdf,
            size_bytes: 1000,
            object_key: "k".into(),
            file_name: "a.pdf".into(),
            sha256: String::new(),
            uploaded_at: now,
        };
        let payee = Payee {
            account_name: "王师傅".into(),
            bank: "中国工商银行晋城分行".into(),
            account_kid: "k1".into(),
            account_sealed: "c2VhbGVk".into(),
            account_masked: "6222********1234".into(),
        };
        let lines = vec![line(12_000, "2027-05-01"), line(30_000, "2027-05-20")];
        let mut claim = Claim::draft(&enrollment, 1, lines, Some(payee), now);
        claim.id = claim_id;
        claim.documents = vec![
            document(DocumentKind::Invoice),
            document(DocumentKind::DiagnosisCertificate),
        ];
        World {
            rules: jincheng(),
            enrollment,
            claim,
            earlier: BTreeMap::new(),
            worker,
        }
    }

    impl World {
        fn run(&mut self, actor: AccountId, command: Command) -> Result<Outcome, Refusal> {
            let ctx = Context {
                claim: &self.claim,
                enrollment: &self.enrollment,
                rules: &self.rules,
                rules_version: 2,
                earlier: &self.earlier,
                member_in_scope: true,
                actor,
                at: Utc::now(),
            };
            let outcome = decide(&ctx, &command)?;
            self.claim = outcome.claim.clone();
            Ok(outcome)
        }
    }

    fn code(r: Result<Outcome, Refusal>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn a_large_claim_goes_through_two_reviewers_and_is_paid_once() {
        let mut w = world();
        let (first, second, finance) = (AccountId::new(), AccountId::new(), AccountId::new());
        let submitted = w.run(w.worker, Command::Submit).unwrap();
        assert_eq!(submitted.claim.status, ClaimStatus::Submitted);
        // 42,000 yuan at 50 % is 21,000.
        assert_eq!(submitted.claim.claimed_fen, Some(Fen::yuan(21_000)));
        assert_eq!(submitted.claim.plan_version, 2);
        assert!(submitted.claim.submitted_at.is_some());
        w.run(first, Command::Take).unwrap();
        let cut = LineApproval {
            line_id: w.claim.lines[1].id,
            approved_fen: Fen::yuan(20_000),
            reason: Some("自费药品不在保障范围".into()),
        };
        let approved = w.run(first, Command::Approve { cuts: vec![cut] }).unwrap();
        assert_eq!(approved.claim.status, ClaimStatus::SecondReview);
        assert_eq!(approved.claim.approved_fen, Some(Fen::yuan(16_000)));
        assert_eq!(
            approved.claim.claimed_fen,
            Some(Fen::yuan(21_000)),
            "kept apart"
        );
        assert_eq!(
            code(w.run(first, Command::Approve { cuts: vec![] })),
            "four_eyes"
        );
        let done = w.run(second, Command::Approve { cuts: vec![] }).unwrap();
        assert_eq!(done.claim.status, ClaimStatus::Approved);
        assert_eq!(
            done.claim.approved_fen,
            Some(Fen::yuan(16_000)),
            "the first cut stands"
        );
        assert_eq!(done.claim.second_reviewer, Some(second));
        let paid = w
            .run(
                finance,
                Command::MarkPaid {
                    bank_reference: "B-1".into(),
                },
            )
            .unwrap();
        assert_eq!(paid.claim.paid_fen, Some(Fen::yuan(16_000)));
        let again = w
            .run(
                finance,
                Command::MarkPaid {
                    bank_reference: "B-1".into(),
                },
            )
            .unwrap();
        assert!(!again.changed);
        assert_eq!(
            code(w.run(
                finance,
                Command::MarkPaid {
                    bank_reference: "B-2".into()
                }
            )),
            "illegal_transition"
        );
    }

    #[test]
    fn a_small_claim_needs_one_reviewer_and_a_return_clears_the_review() {
        let mut w = world();
        w.claim.lines.truncate(1);
        let reviewer = AccountId::new();
        w.run(w.worker, Command::Submit).unwrap();
        w.run(reviewer, Command::Take).unwrap();
        let back = w
            .run(
                reviewer,
                Command::Return {
                    note: "请补充出院小结".into(),
                },
            )
            .unwrap();
        assert_eq!(back.claim.status, ClaimStatus::Returned);
        assert_eq!(back.claim.return_note.as_deref(), Some("请补充出院小结"));
        let first_submitted = w.claim.submitted_at;
        let again = w.run(w.worker, Command::Submit).unwrap();
        assert_eq!(
            again.claim.submitted_at, first_submitted,
            "a resubmission keeps the one-month clock running"
        );
        assert_eq!(
            (again.claim.return_note.clone(), again.claim.first_reviewer),
            (None, None)
        );
        w.run(reviewer, Command::Take).unwrap();
        let ok = w.run(reviewer, Command::Approve { cuts: vec![] }).unwrap();
        assert_eq!(ok.claim.status, ClaimStatus::Approved);
        assert_eq!(ok.claim.approved_fen, Some(Fen::yuan(6_000)));
    }

    #[test]
    fn submissions_are_checked() {
        let mut w = world();
        w.claim
            .documents
            .retain(|d| d.kind == DocumentKind::Invoice);
        let refusal = w.run(w.worker, Command::Submit).unwrap_err();
        assert_eq!(
            (refusal.kind, refusal.code),
            (RefusalKind::Invalid, "documents_missing")
        );
        assert!(refusal.zh.contains("诊断证明"), "{}", refusal.zh);
        let mut w = world();
        w.claim.lines[0].treated_on = day("2027-02-08");
        assert_eq!(code(w.run(w.worker, Command::Submit)), "waiting_period");
        w.claim.lines[0].treated_on = day("2026-12-31");
        assert_eq!(code(w.run(w.worker, Command::Submit)), "not_covered");
        let mut w = world();
        w.enrollment.payment = None;
        assert_eq!(code(w.run(w.worker, Command::Submit)), "not_enrolled");
        let mut w = world();
        w.claim.lines.clear();
        assert_eq!(code(w.run(w.worker, Command::Submit)), "no_lines");
        let mut w = world();
        w.claim.payee = None;
        assert_eq!(code(w.run(w.worker, Command::Submit)), "payee_missing");
        let mut w = world();
        assert_eq!(code(w.run(AccountId::new(), Command::Submit)), "not_found");
        assert_eq!(w.claim.status, ClaimStatus::Draft);
    }

    #[test]
    fn cuts_need_a_reason_and_stay_within_the_claimed_part() {
        let mut w = world();
        let reviewer = AccountId::new();
        w.run(w.worker, Command::Submit).unwrap();
        w.run(reviewer, Command::Take).unwrap();
        let line_id = w.claim.lines[0].id;
        let cut = |fen: Fen, reason: Option<&str>| Command::Approve {
            cuts: vec![LineApproval {
                line_id,
                approved_fen: fen,
                reason: reason.map(Into::into),
            }],
        };
        assert_eq!(
            code(w.run(reviewer, cut(Fen::yuan(1), None))),
            "reason_required"
        );
        assert_eq!(
            code(w.run(reviewer, cut(Fen::yuan(12_001), Some("x")))),
            "exceeds_claimed"
        );
        let stranger = Command::Approve {
            cuts: vec![LineApproval {
                line_id: LineId::new(),
                approved_fen: Fen::ZERO,
                reason: Some("x".into()),
            }],
        };
        assert_eq!(code(w.run(reviewer, stranger)), "unknown_line");
        assert_eq!(
            w.claim.status,
            ClaimStatus::FirstReview,
            "a refusal changes nothing"
        );
    }

    #[test]
    fn the_annual_cap_counts_earlier_claims() {
        let mut w = world();
        w.earlier.insert(
            BenefitKind::Inpatient,
            YearToDate {
                costs_fen: Fen::yuan(100_000),
                paid_fen: Fen::yuan(55_000),
            },
        );
        let first = AccountId::new();
        w.run(w.worker, Command::Submit).unwrap();
        w.run(first, Command::Take).unwrap();
        let approved = w.run(first, Command::Approve { cuts: vec![] }).unwrap();
        assert_eq!(approved.claim.approved_fen, Some(Fen::yuan(5_000)));
        assert_eq!(
            approved.claim.status,
            ClaimStatus::Approved,
            "below the second-review amount"
        );
    }
}
