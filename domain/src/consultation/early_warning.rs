//! Employer early warning (群体性劳动纠纷预警): when several workers ask about the same employer
//! in a short time, in the categories that signal a group dispute forming (劳动争议, 欠薪 — the
//! categories marked `watched`), the union's officials are told before it becomes one. Source:
//! issue #6 and DOMAIN.md (垦利 云律团 "warns the union early when a group dispute is
//! forming").
//!
//! - The employer is recognised by its unified social credit code when the worker gave one,
//!   else by its name normalised ([`EmployerKey`]).
//! - The rule is data ([`AlertRule`]): `threshold` distinct workers asking within
//!   `window_days` — one worker asking again and again is one worker, not a group.
//! - One open alert per employer at a time ([`EmployerAlert`]): later consultations raise its
//!   count; once an official acknowledges it, a new burst raises a new one.
//! - The alert belongs to the organisation that holds every consultation counted (their
//!   nearest common branch, [`common_branch`]): the officials whose subtree holds it see it.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use unicode_normalization::UnicodeNormalization;

use crate::account::AccountId;
use crate::audit::{Actor, AuditEntry, Change, OutboxEvent};
use crate::membership::identity::CreditCode;
use crate::org::{OrgId, OrgPath};
use crate::problem::FieldProblem;

crate::uuid_id!(
    /// Identifier of an employer alert (a UUIDv7).
    AlertId
);

/// Company-form endings dropped from a name before comparing (longest first), so that
/// `某某快递有限公司` and `某某快递` are one employer.
const FORMS: [&str; 6] = [
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团公司",
    "公司",
    "集团",
];

/// How the employer of a consultation is recognised: `credit:{18-character code}` or
/// `name:{normalised name}`. Names are read as NFKC (full-width letters and digits as
/// ASCII), lower-cased, stripped of whitespace and punctuation and of one company-form
/// ending ([`FORMS`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmployerKey(String);

impl EmployerKey {
    /// The key of an employer named `name`, with `credit_code` when given (it wins). `None`
    /// when neither says anything (a name of punctuation only, or none).
    pub fn of(name: Option<&str>, credit_code: Option<&CreditCode>) -> Option<EmployerKey> {
        if let Some(code) = credit_code {
            return Some(EmployerKey(format!("credit:{}", code.as_str())));
        }
        let folded: String = name?
            .nfkc()
            .flat_map(char::to_lowercase)
            .filter(|c| c.is_alphanumeric())
            .collect();
        let stem = FORMS
            .iter()
            .find_map(|form| folded.strip_suffix(form).filter(|s| !s.is_empty()))
            .unwrap_or(&folded);
        (!stem.is_empty()).then(|| EmployerKey(format!("name:{stem}")))
    }

    /// A stored key, as is.
    pub fn from_stored(key: String) -> EmployerKey {
        EmployerKey(key)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// When an alert is raised: `threshold` distinct workers asking about one employer within
/// `window_days` days (a worker's repeated questions count once). Defaults to 5 in 7 days,
/// the example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRule {
    /// Consultations, 2–1,000.
    pub threshold: u32,
    /// Days, 1–90.
    pub window_days: u32,
}

impl Default for AlertRule {
    fn default() -> Self {
        Self {
            threshold: 5,
            window_days: 7,
        }
    }
}

impl AlertRule {
    /// A rule from the typed values, or the problems of each field.
    pub fn new(threshold: i64, window_days: i64) -> Result<AlertRule, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let mut bounded = |field: &str, v: i64, lo: i64, hi: i64| -> u32 {
            match u32::try_from(v) {
                Ok(n) if (lo..=hi).contains(&v) => n,
                _ => {
                    problems.push(FieldProblem::new(
                        field,
                        "out_of_range",
                        format!("{}须为 {lo} 到 {hi}", crate::problem::label(field)),
                        format!("{field} must be {lo} to {hi}"),
                    ));
                    0
                }
            }
        };
        let threshold = bounded("threshold", threshold, 2, 1000);
        let window_days = bounded("window_days", window_days, 1, 90);
        if problems.is_empty() {
            Ok(AlertRule {
                threshold,
                window_days,
            })
        } else {
            Err(problems)
        }
    }

    /// The start of the window that ends at `at`.
    pub fn since(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at - TimeDelta::days(i64::from(self.window_days))
    }
}

/// Whether an alert is waiting for an official.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStatus {
    /// Raised, nobody has looked at it yet.
    Open,
    /// An official took it in hand.
    Acknowledged,
}

impl AlertStatus {
    /// Every state.
    pub const ALL: [AlertStatus; 2] = [AlertStatus::Open, AlertStatus::Acknowledged];

    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
        }
    }

    /// In Chinese.
    pub fn zh(self) -> &'static str {
        match self {
            AlertStatus::Open => "待处理",
            AlertStatus::Acknowledged => "已处理",
        }
    }

    /// Parses the code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// An employer alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployerAlert {
    /// Id.
    pub id: AlertId,
    /// The employer.
    pub employer_key: EmployerKey,
    /// The employer's name as the latest consultation wrote it.
    pub employer: String,
    /// The branch that holds every consultation counted.
    pub org_id: OrgId,
    /// Its path.
    pub org_path: OrgPath,
    /// Consultations in the window when it was raised or last counted.
    pub consultations: u32,
    /// The rule in force when it was raised.
    pub rule: AlertRule,
    /// The first consultation counted (UTC).
    pub first_at: DateTime<Utc>,
    /// The latest (UTC).
    pub last_at: DateTime<Utc>,
    /// Open or acknowledged.
    pub status: AlertStatus,
    /// Who acknowledged it.
    pub acknowledged_by: Option<AccountId>,
    /// When (UTC).
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// What they did or will do.
    pub note: Option<String>,
    /// Raised (UTC).
    pub created_at: DateTime<Utc>,
}

impl EmployerAlert {
    /// The audit row and outbox event of a raised alert: `consultation.employer_alert`, with
    /// the organisation (officials whose subtree holds it are to be told), the employer and
    /// the count. The system raises it, within the worker's request.
    pub fn raised(&self) -> Change {
        let payload = json!({
            "id": self.id, "org_id": self.org_id, "org_path": self.org_path.as_str(),
            "employer": self.employer, "employer_key": self.employer_key.as_str(),
            "consultations": self.consultations, "window_days": self.rule.window_days,
            "first_at": self.first_at, "last_at": self.last_at,
        });
        Change {
            audit: AuditEntry {
                actor: Actor::System,
                action: "employer_alert.raise".into(),
                record_type: "employer_alert".into(),
                record_id: self.id.to_string(),
                ip: None,
                request_id: None,
                detail: payload.clone(),
                at: self.created_at,
            },
            event: Some(OutboxEvent {
                topic: "consultation.employer_alert".into(),
                payload,
            }),
            answer: None,
        }
    }
}

/// The deepest organisation that holds every one of `paths` (their nearest common branch):
/// its id and path; `None` for no paths.
pub fn common_branch<'p>(paths: impl IntoIterator<Item = &'p OrgPath>) -> Option<(OrgId, OrgPath)> {
    let mut paths = paths.into_iter();
    let first = paths.next()?;
    let rest: Vec<&OrgPath> = paths.collect();
    let branch = first
        .ancestors()
        .into_iter()
        .rev()
        .find(|a| rest.iter().all(|p| a.contains(p)))?;
    let id = branch.as_str().trim_end_matches('/').rsplit('/').next()?;
    Some((OrgId::parse(id)?, branch))
}

/// What the consultations of one employer within the window call for, given the employer's
/// open alert (if any): nothing below the threshold, else a new alert or the open one
/// counted again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Below the threshold, or nothing to change.
    Quiet,
    /// Raise this new alert.
    Raise,
    /// Update the open alert's count and time.
    Recount,
}

/// Judges `counted` (the distinct workers who asked about the employer in the rule's window,
/// the new question's asker included) against `rule`, given whether an alert of the employer
/// is open.
pub fn judge(rule: &AlertRule, counted: usize, open_alert: bool) -> Verdict {
    match (counted >= rule.threshold as usize, open_alert) {
        (_, true) => Verdict::Recount,
        (true, false) => Verdict::Raise,
        (false, false) => Verdict::Quiet,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(name: &str) -> String {
        EmployerKey::of(Some(name), None).unwrap().0
    }

    #[test]
    fn names_that_differ_in_width_case_spacing_punctuation_or_form_are_one_employer() {
        let one = key("郑州某某快递有限公司");
        for same in [
            "郑州某某快递有限公司 ",
            "郑州 某某快递（有限公司）",
            "郑州某某快递",
            "郑州某某快递有限责任公司",
            "郑州某某快递股份有限公司",
        ] {
            assert_eq!(key(same), one, "{same}");
        }
        assert_eq!(key("ＡＢＣ物流公司"), key("abc物流"));
        assert_ne!(key("郑州某某快递"), key("郑州某某物流"));
        // A name that is nothing but a form or punctuation keeps what it has, or is none.
        assert_eq!(key("公司"), "name:公司");
        assert_eq!(EmployerKey::of(Some(" ，。 "), None), None);
        assert_eq!(EmployerKey::of(None, None), None);
    }

    #[test]
    fn a_credit_code_wins_over_the_name() {
        let code = CreditCode::parse("91350100M000100Y43").unwrap();
        let by_code = EmployerKey::of(Some("随便写的名字"), Some(&code)).unwrap();
        assert_eq!(by_code.as_str(), "credit:91350100M000100Y43");
        assert_eq!(EmployerKey::of(None, Some(&code)), Some(by_code));
    }

    #[test]
    fn the_rule_is_bounded_and_judges_at_the_threshold() {
        assert_eq!(AlertRule::new(5, 7), Ok(AlertRule::default()));
        let problems = AlertRule::new(1, 0).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["threshold", "window_days"]);
        assert!(AlertRule::new(1001, 91).is_err());
        let rule = AlertRule::default();
        assert_eq!(judge(&rule, 4, false), Verdict::Quiet);
        assert_eq!(judge(&rule, 5, false), Verdict::Raise);
        assert_eq!(judge(&rule, 6, true), Verdict::Recount);
    }

    #[test]
    fn the_common_branch_is_the_deepest_shared_path() {
        let r = OrgPath::root(OrgId::new());
        let zz_id = OrgId::new();
        let zz = r.child(zz_id);
        let (jj, ly) = (zz.child(OrgId::new()), zz.child(OrgId::new()));
        let kf = r.child(OrgId::new());
        assert_eq!(common_branch([&jj]).map(|b| b.1), Some(jj.clone()));
        assert_eq!(common_branch([&jj, &ly]), Some((zz_id, zz.clone())));
        assert_eq!(common_branch([&jj, &zz]).map(|b| b.1), Some(zz.clone()));
        assert_eq!(common_branch([&jj, &ly, &kf]).map(|b| b.1), Some(r));
        assert_eq!(common_branch(std::iter::empty::<&OrgPath>()), None);
    }
}
