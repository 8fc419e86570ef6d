//! The mutual-aid plan (互助保障计划) as data: one organisation's plan for one plan year, with
//! its enrolment window, fee, who may enrol, waiting period and benefit rules. An official
//! saves the rules; each save is validated here and becomes a new version, and a claim keeps
//! the version it was judged under.
//!
//! The first plan served is 晋城's 大病医疗互助 for new-employment-form workers (DOMAIN.md,
//! "Facts from the seeds"): 50 yuan a year; hospital costs of at least 9,000 yuan pay 300 to
//! 30,000 yuan; chronic-disease costs of at least 5,000 yuan pay 300 to 10,000 yuan.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::membership::person::EmploymentForm;
use crate::money::{amount, Fen};
use crate::org::{OrgId, OrgPath};
use crate::problem::{date, text, whole_number, FieldProblem};

crate::uuid_id!(
    /// Identifier of a mutual-aid plan.
    PlanId
);

/// The largest amount a rule may name (fee, threshold, payout, cap): 1,000,000 yuan.
pub const MAX_RULE_AMOUNT: Fen = Fen::yuan(1_000_000);

/// The longest plan year: a leap year.
pub const MAX_PLAN_DAYS: i64 = 366;

/// The longest waiting period (等待期), in days.
pub const MAX_WAITING_DAYS: i64 = 365;

/// What a benefit pays for. Serialised in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenefitKind {
    /// 住院: hospital stays.
    Inpatient,
    /// 慢性病 / 门诊慢特病: chronic-disease treatment.
    Chronic,
}

impl BenefitKind {
    /// Every kind.
    pub const ALL: [BenefitKind; 2] = [BenefitKind::Inpatient, BenefitKind::Chronic];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            BenefitKind::Inpatient => "inpatient",
            BenefitKind::Chronic => "chronic",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            BenefitKind::Inpatient => "住院",
            BenefitKind::Chronic => "慢性病",
        }
    }

    fn codes() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.as_str()).collect()
    }
}

impl FromStr for BenefitKind {
    type Err = ();

    /// Parses [`BenefitKind::as_str`] exactly.
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// The type of a claim document (DOMAIN.md, "Facts from public sources": the documents asked
/// for in practice). Serialised in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 发票.
    Invoice,
    /// 诊断证明.
    DiagnosisCertificate,
    /// 出院小结.
    DischargeSummary,
    /// 费用总清单.
    ItemisedBill,
    /// 医保结算单.
    InsuranceSettlement,
    /// 身份证.
    IdCard,
}

impl DocumentKind {
    /// Every type.
    pub const ALL: [DocumentKind; 6] = [
        DocumentKind::Invoice,
        DocumentKind::DiagnosisCertificate,
        DocumentKind::DischargeSummary,
        DocumentKind::ItemisedBill,
        DocumentKind::InsuranceSettlement,
        DocumentKind::IdCard,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "invoice",
            DocumentKind::DiagnosisCertificate => "diagnosis_certificate",
            DocumentKind::DischargeSummary => "discharge_summary",
            DocumentKind::ItemisedBill => "itemised_bill",
            DocumentKind::InsuranceSettlement => "insurance_settlement",
            DocumentKind::IdCard => "id_card",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "发票",
            DocumentKind::DiagnosisCertificate => "诊断证明",
            DocumentKind::DischargeSummary => "出院小结",
            DocumentKind::ItemisedBill => "费用总清单",
            DocumentKind::InsuranceSettlement => "医保结算单",
            DocumentKind::IdCard => "身份证",
        }
    }

    fn codes() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.as_str()).collect()
    }
}

impl FromStr for DocumentKind {
    type Err = ();

    /// Parses [`DocumentKind::as_str`] exactly.
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// How one benefit pays (see [`super::payout`] for the computation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitRule {
    /// What it pays for.
    pub kind: BenefitKind,
    /// Costs of this kind over the plan year (earlier claims and this one, total cost of each
    /// line) must reach this for anything to be paid.
    pub threshold_fen: Fen,
    /// Taken off the eligible (out-of-pocket) amount of a claim before the rate applies.
    pub deductible_fen: Fen,
    /// Share of the eligible amount paid, in basis points (10,000 = 100 %).
    pub rate_basis_points: u32,
    /// A claim that meets the threshold pays at least this …
    pub minimum_fen: Fen,
    /// … and at most this.
    pub maximum_fen: Fen,
    /// What one member may receive from this benefit in one plan year, over all claims.
    pub annual_cap_fen: Fen,
    /// The document types a claim with lines of this kind must carry.
    pub required_documents: Vec<DocumentKind>,
}

/// A plan's rules: everything an official sets, and versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRules {
    /// Name, e.g. `2027 年度新就业形态劳动者大病医疗互助`.
    pub name: String,
    /// First day of the plan year (coverage never starts earlier).
    pub starts_on: NaiveDate,
    /// Last day of the plan year, when coverage ends.
    pub ends_on: NaiveDate,
    /// First day a member may enrol.
    pub enrolment_opens_on: NaiveDate,
    /// Last day a member may enrol (晋城: the first quarter).
    pub enrolment_closes_on: NaiveDate,
    /// Yearly fee (晋城: 5,000 fen).
    pub fee_fen: Fen,
    /// Who may enrol besides being a member in the plan's subtree: these employment forms
    /// only, or everyone when empty.
    pub employment_forms: Vec<EmploymentForm>,
    /// Days after activation before costs are covered (等待期).
    pub waiting_days: u32,
    /// A claim whose approved payout reaches this goes to a second reviewer, never the
    /// first one (four eyes).
    pub second_review_from_fen: Fen,
    /// One rule per benefit kind.
    pub benefits: Vec<BenefitRule>,
}

impl PlanRules {
    /// The rule of `kind`, if the plan pays for it.
    pub fn benefit(&self, kind: BenefitKind) -> Option<&BenefitRule> {
        self.benefits.iter().find(|b| b.kind == kind)
    }

    /// Whether a member with `form` may enrol.
    pub fn admits(&self, form: EmploymentForm) -> bool {
        self.employment_forms.is_empty() || self.employment_forms.contains(&form)
    }

    /// Whether `day` is inside the enrolment window.
    pub fn enrolment_open_on(&self, day: NaiveDate) -> bool {
        self.enrolment_opens_on <= day && day <= self.enrolment_closes_on
    }
}

/// A plan as stored: its rules at their latest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Id.
    pub id: PlanId,
    /// The organisation that runs it; members in its subtree may enrol.
    pub org_id: OrgId,
    /// Its path (data scope).
    pub org_path: OrgPath,
    /// The rules.
    pub rules: PlanRules,
    /// 1 on creation, one more on every save.
    pub version: i32,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last saved (UTC).
    pub updated_at: DateTime<Utc>,
}

impl Plan {
    /// Whether a member of the organisation at `member_org` may take part: it is the plan's
    /// organisation or one below it (issue #5: "members in the organisation's subtree").
    pub fn takes_members_of(&self, member_org: &OrgPath) -> bool {
        self.org_path.contains(member_org)
    }
}

/// One benefit as written, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BenefitInput {
    /// `inpatient` or `chronic`.
    pub kind: Option<String>,
    /// Amounts in fen, as JSON values (so a fraction or a text is reported on its field).
    pub threshold_fen: Option<Value>,
    /// Fen.
    pub deductible_fen: Option<Value>,
    /// Basis points, 1–10,000.
    pub rate_basis_points: Option<Value>,
    /// Fen.
    pub minimum_fen: Option<Value>,
    /// Fen.
    pub maximum_fen: Option<Value>,
    /// Fen.
    pub annual_cap_fen: Option<Value>,
    /// Document type codes.
    pub required_documents: Vec<String>,
}

/// A plan as written, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanInput {
    /// 1–100 characters.
    pub name: Option<String>,
    /// Dates as `YYYY-MM-DD`.
    pub starts_on: Option<String>,
    /// `YYYY-MM-DD`.
    pub ends_on: Option<String>,
    /// `YYYY-MM-DD`.
    pub enrolment_opens_on: Option<String>,
    /// `YYYY-MM-DD`.
    pub enrolment_closes_on: Option<String>,
    /// Fen.
    pub fee_fen: Option<Value>,
    /// Employment form codes; empty admits every form.
    pub employment_forms: Vec<String>,
    /// Days, 0–365.
    pub waiting_days: Option<Value>,
    /// Fen.
    pub second_review_from_fen: Option<Value>,
    /// At least one.
    pub benefits: Vec<BenefitInput>,
}

/// The benefit kind `value` names; `None` after noting it missing or unknown.
pub(crate) fn benefit_kind(
    problems: &mut Vec<FieldProblem>,
    field: &str,
    value: Option<&str>,
) -> Option<BenefitKind> {
    match value.map(str::trim) {
        None | Some("") => {
            problems.push(FieldProblem::required(field));
            None
        }
        Some(code) => code
            .parse::<BenefitKind>()
            .map_err(|()| {
                problems.push(FieldProblem::not_one_of(field, code, &BenefitKind::codes()));
            })
            .ok(),
    }
}

fn order(problems: &mut Vec<FieldProblem>, field: &str, ok: bool, zh: String, en: String) {
    if !ok {
        problems.push(FieldProblem::new(field, "out_of_order", zh, en));
    }
}

impl BenefitInput {
    fn validate(&self, problems: &mut Vec<FieldProblem>, at: usize) -> Option<BenefitRule> {
        let f = |name: &str| format!("benefits.{at}.{name}");
        let kind = benefit_kind(problems, &f("kind"), self.kind.as_deref());
        let threshold = amount(
            problems,
            &f("threshold_fen"),
            self.threshold_fen.as_ref(),
            MAX_RULE_AMOUNT,
        );
        let deductible = amount(
            problems,
            &f("deductible_fen"),
            self.deductible_fen.as_ref(),
            MAX_RULE_AMOUNT,
        );
        let rate = whole_number(
            problems,
            &f("rate_basis_points"),
            self.rate_basis_points.as_ref(),
            1..=10_000,
        );
        let minimum = amount(
            problems,
            &f("minimum_fen"),
            self.minimum_fen.as_ref(),
            MAX_RULE_AMOUNT,
        );
        let maximum = amount(
            problems,
            &f("maximum_fen"),
            self.maximum_fen.as_ref(),
            MAX_RULE_AMOUNT,
        );
        let cap = amount(
            problems,
            &f("annual_cap_fen"),
            self.annual_cap_fen.as_ref(),
            MAX_RULE_AMOUNT,
        );
        let mut documents = Vec::new();
        for (i, code) in self.required_documents.iter().enumerate() {
            match code.trim().parse::<DocumentKind>() {
                Ok(kind) if !documents.contains(&kind) => documents.push(kind),
                Ok(_) => {}
                Err(()) => problems.push(FieldProblem::not_one_of(
                    &f(&format!("required_documents.{i}")),
                    code,
                    &DocumentKind::codes(),
                )),
            }
        }
        if let (Some(minimum), Some(maximum)) = (minimum, maximum) {
            order(
                problems,
                &f("maximum_fen"),
                minimum <= maximum,
                format!("最高给付 {maximum} 不能低于最低给付 {minimum}"),
                format!(
                    "the maximum payout {} fen is below the minimum {} fen",
                    maximum.get(),
                    minimum.get()
                ),
            );
        }
        if let (Some(maximum), Some(cap)) = (maximum, cap) {
            order(
                problems,
                &f("annual_cap_fen"),
                maximum <= cap,
                format!("年度封顶 {cap} 不能低于单次最高给付 {maximum}"),
                format!(
                    "the annual cap {} fen is below the maximum payout {} fen",
                    cap.get(),
                    maximum.get()
                ),
            );
        }
        Some(BenefitRule {
            kind: kind?,
            threshold_fen: threshold?,
            deductible_fen: deductible?,
            rate_basis_points: u32::try_from(rate?).ok()?,
            minimum_fen: minimum?,
            maximum_fen: maximum?,
            annual_cap_fen: cap?,
            required_documents: documents,
        })
    }
}

impl PlanInput {
    /// The rules, or every problem at once: a missing or blank field (`required`), a date
    /// that is not `YYYY-MM-DD`, dates out of order (`out_of_order`: the plan year must end
    /// after it starts and last at most [`MAX_PLAN_DAYS`]; the enrolment window must open no
    /// later than it closes, and close by the end of the plan year), amounts that are not
    /// whole fen or above [`MAX_RULE_AMOUNT`], a rate outside 1–10,000 basis points, a
    /// minimum above the maximum or a maximum above the annual cap, unknown codes, no
    /// benefit or the same kind twice (`duplicate`).
    pub fn validate(&self) -> Result<PlanRules, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let p = &mut problems;
        let name = text(p, "name", self.name.clone(), 100, true);
        let starts_on = date(p, "starts_on", self.starts_on.as_deref());
        let ends_on = date(p, "ends_on", self.ends_on.as_deref());
        let opens_on = date(p, "enrolment_opens_on", self.enrolment_opens_on.as_deref());
        let closes_on = date(
            p,
            "enrolment_closes_on",
            self.enrolment_closes_on.as_deref(),
        );
        check_dates(p, starts_on, ends_on, opens_on, closes_on);
        let fee = amount(p, "fee_fen", self.fee_fen.as_ref(), MAX_RULE_AMOUNT);
        let forms = employment_forms(p, &self.employment_forms);
        let waiting = whole_number(
            p,
            "waiting_days",
            self.waiting_days.as_ref(),
            0..=MAX_WAITING_DAYS,
        );
        let second_review = amount(
            p,
            "second_review_from_fen",
            self.second_review_from_fen.as_ref(),
            MAX_RULE_AMOUNT,
        );
        let benefits = benefit_rules(p, &self.benefits);
        let rules = (|| {
            Some(PlanRules {
                name: name?,
                starts_on: starts_on?,
                ends_on: ends_on?,
                enrolment_opens_on: opens_on?,
                enrolment_closes_on: closes_on?,
                fee_fen: fee?,
                employment_forms: forms,
                waiting_days: u32::try_from(waiting?).ok()?,
                second_review_from_fen: second_review?,
                benefits,
            })
        })();
        match rules {
            Some(rules) if problems.is_empty() => Ok(rules),
            _ => Err(problems),
        }
    }
}

/// The plan year lasts 2–[`MAX_PLAN_DAYS`] days; enrolment opens before it closes, and closes
/// by the end of the plan year.
fn check_dates(
    p: &mut Vec<FieldProblem>,
    starts_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
    opens_on: Option<NaiveDate>,
    closes_on: Option<NaiveDate>,
) {
    if let (Some(start), Some(end)) = (starts_on, ends_on) {
        let days = (end - start).num_days() + 1;
        order(
            p,
            "ends_on",
            (2..=MAX_PLAN_DAYS).contains(&days),
            format!("计划年度须在开始日之后结束，且不超过 {MAX_PLAN_DAYS} 天"),
            format!("the plan year must end after it starts and last at most {MAX_PLAN_DAYS} days"),
        );
    }
    if let (Some(opens), Some(closes)) = (opens_on, closes_on) {
        order(
            p,
            "enrolment_closes_on",
            opens <= closes,
            "参保截止日不能早于开始日".into(),
            "enrolment must not close before it opens".into(),
        );
    }
    if let (Some(closes), Some(end)) = (closes_on, ends_on) {
        order(
            p,
            "enrolment_closes_on",
            closes <= end,
            "参保截止日不能晚于计划年度结束日".into(),
            "enrolment must close by the end of the plan year".into(),
        );
    }
}

/// The forms of employment a plan is open to, each once.
fn employment_forms(p: &mut Vec<FieldProblem>, codes: &[String]) -> Vec<EmploymentForm> {
    let mut forms = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        match code.trim().parse::<EmploymentForm>() {
            Ok(form) if !forms.contains(&form) => forms.push(form),
            Ok(_) => {}
            Err(_) => {
                let allowed: Vec<&str> = EmploymentForm::ALL.iter().map(|f| f.as_str()).collect();
                p.push(FieldProblem::not_one_of(
                    &format!("employment_forms.{i}"),
                    code,
                    &allowed,
                ));
            }
        }
    }
    forms
}

/// The benefits: at least one, each kind once.
fn benefit_rules(p: &mut Vec<FieldProblem>, inputs: &[BenefitInput]) -> Vec<BenefitRule> {
    if inputs.is_empty() {
        p.push(FieldProblem::new(
            "benefits",
            "required",
            "计划至少要有一项保障（住院或慢性病）",
            "a plan needs at least one benefit",
        ));
    }
    let mut benefits: Vec<BenefitRule> = Vec::new();
    let mut kinds: Vec<BenefitKind> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let rule = input.validate(p, i);
        let kind = input
            .kind
            .as_deref()
            .and_then(|k| k.trim().parse::<BenefitKind>().ok());
        if let Some(kind) = kind {
            if kinds.contains(&kind) {
                p.push(FieldProblem::new(
                    format!("benefits.{i}.kind"),
                    "duplicate",
                    format!("保障类别「{}」重复", kind.zh()),
                    format!("benefit kind `{}` appears twice", kind.as_str()),
                ));
                continue;
            }
            kinds.push(kind);
        }
        benefits.extend(rule);
    }
    benefits
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// 晋城's plan for 2027 with an assumed rate of 50 % and no deductible (the seeds give
    /// neither): 50 yuan, enrolment in the first quarter, 30 days' wait, a second review from
    /// 10,000 yuan, annual caps of 60,000 and 20,000 yuan (two maximum payouts).
    pub(crate) fn jincheng_input() -> PlanInput {
        let benefit = |kind: &str, threshold: i64, maximum: i64, cap: i64| BenefitInput {
            kind: Some(kind.into()),
            threshold_fen: Some(json!(threshold * 100)),
            deductible_fen: Some(json!(0)),
            rate_basis_points: Some(json!(5_000)),
            minimum_fen: Some(json!(300 * 100)),
            maximum_fen: Some(json!(maximum * 100)),
            annual_cap_fen: Some(json!(cap * 100)),
            required_documents: vec!["invoice".into(), "diagnosis_certificate".into()],
        };
        PlanInput {
            name: Some("2027 年度新就业形态劳动者大病医疗互助".into()),
            starts_on: Some("2027-01-01".into()),
            ends_on: Some("2027-12-31".into()),
            enrolment_opens_on: Some("2027-01-01".into()),
            enrolment_closes_on: Some("2027-03-31".into()),
            fee_fen: Some(json!(5_000)),
            employment_forms: vec![],
            waiting_days: Some(json!(30)),
            second_review_from_fen: Some(json!(1_000_000)),
            benefits: vec![
                benefit("inpatient", 9_000, 30_000, 60_000),
                benefit("chronic", 5_000, 10_000, 20_000),
            ],
        }
    }

    pub(crate) fn jincheng() -> PlanRules {
        jincheng_input().validate().unwrap()
    }

    fn problems(input: &PlanInput) -> Vec<(String, &'static str)> {
        input
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|p| (p.field, p.code))
            .collect()
    }

    #[test]
    fn the_jincheng_plan_validates() {
        let rules = jincheng();
        assert_eq!(rules.fee_fen, Fen::yuan(50));
        assert_eq!(
            rules.benefit(BenefitKind::Chronic).unwrap().maximum_fen,
            Fen::yuan(10_000)
        );
        assert!(rules.admits(EmploymentForm::DeliveryRider));
        assert!(rules.enrolment_open_on(NaiveDate::from_ymd_opt(2027, 3, 31).unwrap()));
        assert!(!rules.enrolment_open_on(NaiveDate::from_ymd_opt(2027, 4, 1).unwrap()));
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let mut input = jincheng_input();
        input.name = Some("  ".into());
        input.ends_on = Some("2026-12-31".into());
        input.enrolment_closes_on = Some("2027-13-01".into());
        input.fee_fen = Some(json!(50.5));
        input.employment_forms = vec!["pilot".into()];
        input.waiting_days = Some(json!(-1));
        input.benefits[0].rate_basis_points = Some(json!(12_000));
        input.benefits[0].minimum_fen = Some(json!(4_000_000));
        input.benefits[1].kind = Some("inpatient".into());
        input.benefits[1].required_documents = vec!["selfie".into()];
        assert_eq!(
            problems(&input),
            vec![
                ("name".into(), "required"),
                ("enrolment_closes_on".into(), "invalid"),
                ("ends_on".into(), "out_of_order"),
                ("fee_fen".into(), "not_integer"),
                ("employment_forms.0".into(), "not_allowed"),
                ("waiting_days".into(), "out_of_range"),
                ("benefits.0.rate_basis_points".into(), "out_of_range"),
                ("benefits.0.maximum_fen".into(), "out_of_order"),
                ("benefits.1.required_documents.0".into(), "not_allowed"),
                ("benefits.1.kind".into(), "duplicate"),
            ]
        );
    }

    #[test]
    fn a_plan_needs_a_benefit_and_a_window_inside_its_year() {
        let mut input = jincheng_input();
        input.benefits.clear();
        input.enrolment_opens_on = Some("2027-04-01".into());
        input.enrolment_closes_on = Some("2028-01-01".into());
        assert_eq!(
            problems(&input),
            vec![
                ("enrolment_closes_on".into(), "out_of_order"),
                ("benefits".into(), "required"),
            ]
        );
        let mut input = jincheng_input();
        input.benefits[1].annual_cap_fen = Some(json!(100));
        input.benefits[1].threshold_fen = None;
        assert_eq!(
            problems(&input),
            vec![
                ("benefits.1.threshold_fen".into(), "required"),
                ("benefits.1.annual_cap_fen".into(), "out_of_order"),
            ]
        );
    }
}
