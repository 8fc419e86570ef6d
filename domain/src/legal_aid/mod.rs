//! Legal-aid applications (法律援助申请, issue #6): a worker asks the union for free help in a
//! dispute — mediation (协商调解), drafting a legal document (代写法律文书) or representation
//! (代理) — directly or from a consultation (垦利's 云律团 takes them online, DOMAIN.md). An
//! official accepts one by assigning a lawyer, or rejects it with a reason; the lawyer or an
//! official closes it with the outcome:
//!
//! ```text
//! submitted ──accept (a lawyer)──▶ accepted ──close (outcome)──▶ closed
//!     └──────reject (reason)─────▶ rejected
//! ```

pub mod store;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::account::AccountId;
use crate::consultation::thread::ConsultationId;
use crate::membership::person::MobilePhone;
use crate::money::{amount, Fen};
use crate::org::{OrgId, OrgPath};
use crate::problem::{text, FieldProblem};
use crate::refusal::Refusal;

crate::uuid_id!(
    /// Identifier of a legal-aid application.
    LegalAidId
);

/// The largest amount in dispute an application may name: 100,000,000 yuan.
pub const MAX_AMOUNT: Fen = Fen::yuan(100_000_000);

/// The help asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AidKind {
    /// 协商调解: the union mediates with the employer.
    Mediation,
    /// 代写法律文书: a lawyer drafts a complaint, an arbitration application, a letter.
    DocumentDrafting,
    /// 代理: a lawyer represents the worker in arbitration or court.
    Representation,
}

impl AidKind {
    /// Every kind.
    pub const ALL: [AidKind; 3] = [
        AidKind::Mediation,
        AidKind::DocumentDrafting,
        AidKind::Representation,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            AidKind::Mediation => "mediation",
            AidKind::DocumentDrafting => "document_drafting",
            AidKind::Representation => "representation",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            AidKind::Mediation => "协商调解",
            AidKind::DocumentDrafting => "代写法律文书",
            AidKind::Representation => "代理仲裁或诉讼",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where an application is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegalAidStatus {
    /// 已提交: waiting for an official.
    Submitted,
    /// 已受理: a lawyer is assigned.
    Accepted,
    /// 不予受理: refused, with the reason.
    Rejected,
    /// 已结案: the outcome is recorded.
    Closed,
    /// 已撤回: the worker withdrew it before it was decided or closed.
    Withdrawn,
}

impl LegalAidStatus {
    /// Every state.
    pub const ALL: [LegalAidStatus; 5] = [
        LegalAidStatus::Submitted,
        LegalAidStatus::Accepted,
        LegalAidStatus::Rejected,
        LegalAidStatus::Closed,
        LegalAidStatus::Withdrawn,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            LegalAidStatus::Submitted => "submitted",
            LegalAidStatus::Accepted => "accepted",
            LegalAidStatus::Rejected => "rejected",
            LegalAidStatus::Closed => "closed",
            LegalAidStatus::Withdrawn => "withdrawn",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What a worker reads.
    pub fn zh(self) -> &'static str {
        match self {
            LegalAidStatus::Submitted => "已提交",
            LegalAidStatus::Accepted => "已受理",
            LegalAidStatus::Rejected => "不予受理",
            LegalAidStatus::Closed => "已结案",
            LegalAidStatus::Withdrawn => "已撤回",
        }
    }
}

/// What the worker writes, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The applicant's name, 1–50 characters.
    pub applicant: String,
    /// A mobile number to reach them.
    pub phone: MobilePhone,
    /// The other side (the employer, a platform, a person), 1–100 characters.
    pub counterparty: String,
    /// What the dispute is, 1–2,000 characters.
    pub summary: String,
    /// The amount in dispute, when there is one.
    pub amount_fen: Option<Fen>,
    /// The help asked for, 1–3 kinds without repeats.
    pub aid: Vec<AidKind>,
}

/// A request as written, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInput {
    /// 1–50 characters.
    pub applicant: Option<String>,
    /// A mainland mobile number.
    pub phone: Option<String>,
    /// 1–100 characters.
    pub counterparty: Option<String>,
    /// 1–2,000 characters.
    pub summary: Option<String>,
    /// Fen, a whole number up to [`MAX_AMOUNT`]; absent or null for none.
    pub amount_fen: Option<Value>,
    /// Kind codes.
    pub aid: Vec<String>,
}

impl RequestInput {
    /// The request, or every problem at once.
    pub fn validate(self) -> Result<Request, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let applicant = text(&mut problems, "applicant", self.applicant, 50, true);
        let phone = match self.phone.as_deref().map(str::trim) {
            None | Some("") => {
                problems.push(FieldProblem::required("phone"));
                None
            }
            Some(typed) => MobilePhone::parse(typed)
                .map_err(|_| {
                    problems.push(FieldProblem::new(
                        "phone",
                        "invalid",
                        "请填写 11 位大陆手机号码",
                        "phone must be a mainland mobile number",
                    ));
                })
                .ok(),
        };
        let counterparty = text(&mut problems, "counterparty", self.counterparty, 100, true);
        let summary = text(&mut problems, "summary", self.summary, 2_000, true);
        let amount_fen = match &self.amount_fen {
            None | Some(Value::Null) => None,
            Some(v) => amount(&mut problems, "amount_fen", Some(v), MAX_AMOUNT),
        };
        let mut aid = Vec::new();
        if self.aid.is_empty() {
            problems.push(FieldProblem::required("aid"));
        }
        for (i, code) in self.aid.iter().enumerate() {
            match AidKind::parse(code.trim()) {
                Some(kind) if !aid.contains(&kind) => aid.push(kind),
                Some(_) => problems.push(FieldProblem::new(
                    format!("aid.{i}"),
                    "duplicate",
                    "援助事项重复",
                    "aid listed twice",
                )),
                None => problems.push(FieldProblem::not_one_of(
                    &format!("aid.{i}"),
                    code.trim(),
                    &AidKind::ALL.map(AidKind::as_str),
                )),
            }
        }
        match (applicant, phone, counterparty, summary) {
            (Some(applicant), Some(phone), Some(counterparty), Some(summary))
                if problems.is_empty() =>
            {
                Ok(Request {
                    applicant,
                    phone,
                    counterparty,
                    summary,
                    amount_fen,
                    aid,
                })
            }
            _ => Err(problems),
        }
    }
}

/// A legal-aid application as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalAidApplication {
    /// Id.
    pub id: LegalAidId,
    /// The worker.
    pub account_id: AccountId,
    /// The union that handles it (the worker's own as a member, else the root).
    pub org_id: OrgId,
    /// Its path.
    pub org_path: OrgPath,
    /// The consultation it came from, if any (the worker's own).
    pub consultation_id: Option<ConsultationId>,
    /// What the worker asked.
    pub request: Request,
    /// Held by the content check: officials read it before any lawyer is assigned anyway.
    pub held: bool,
    /// Where it is.
    pub status: LegalAidStatus,
    /// The lawyer assigned on acceptance.
    pub lawyer_id: Option<AccountId>,
    /// Why it was refused.
    pub rejection_reason: Option<String>,
    /// What came of it.
    pub outcome: Option<String>,
    /// The official who accepted or rejected it.
    pub decided_by: Option<AccountId>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

/// What is asked of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An official accepts it and assigns a lawyer.
    Accept {
        /// The lawyer (on the roster).
        lawyer: AccountId,
    },
    /// An official refuses it.
    Reject {
        /// Why, 1–500 characters.
        reason: String,
    },
    /// The assigned lawyer or an official records the outcome.
    Close {
        /// What came of it, 1–2,000 characters.
        outcome: String,
    },
    /// The worker withdraws their own application while it is submitted or accepted (a
    /// settlement reached, a change of mind); a lawyer assigned finds it withdrawn.
    Withdraw,
}

/// Who acts: an official of the branch, a lawyer, or the worker who applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// An official in scope.
    Official(AccountId),
    /// A lawyer.
    Lawyer(AccountId),
    /// A worker: only [`Command::Withdraw`], only of their own application.
    Worker(AccountId),
}

crate::reasons! {
    /// Why a command is refused because of where the application stands.
    pub enum LegalAidRefusal {
        /// Accepting or rejecting what is no longer waiting.
        NotSubmitted = (Conflict, "not_submitted", "该申请已受理或已处理",
            "The application has already been accepted or decided"),
        /// Closing what is not accepted (waiting, rejected or closed already).
        NotAccepted = (Conflict, "not_accepted", "该申请尚未受理或已结案",
            "The application has not been accepted, or is closed already"),
        /// Withdrawing what is rejected, closed or withdrawn already.
        NotOpen = (Conflict, "not_open", "该申请已不予受理、已结案或已撤回，无法撤回",
            "The application was rejected, closed or withdrawn already"),
    }
}

/// `application` after `actor`'s `command` at `at`, or why not: not found for a lawyer it
/// is not assigned to or a worker it is not theirs, forbidden for a lawyer accepting or
/// rejecting (officials' work), for a worker doing anything but withdraw and for anyone else
/// withdrawing, a [`LegalAidRefusal`] for a step its state does not allow.
pub fn decide(
    application: &LegalAidApplication,
    actor: Actor,
    command: &Command,
    at: DateTime<Utc>,
) -> Result<LegalAidApplication, Refusal> {
    use LegalAidStatus as S;
    let mut a = application.clone();
    match (command, actor) {
        (Command::Withdraw, Actor::Worker(worker)) => {
            if a.account_id != worker {
                return Err(Refusal::not_found());
            }
            if !matches!(a.status, S::Submitted | S::Accepted) {
                return Err(LegalAidRefusal::NotOpen.into());
            }
            a.status = S::Withdrawn;
        }
        (Command::Withdraw, _) | (_, Actor::Worker(_)) => return Err(Refusal::forbidden()),
        (Command::Accept { lawyer }, Actor::Official(official)) => {
            if a.status != S::Submitted {
                return Err(LegalAidRefusal::NotSubmitted.into());
            }
            a.status = S::Accepted;
            a.lawyer_id = Some(*lawyer);
            a.decided_by = Some(official);
        }
        (Command::Reject { reason }, Actor::Official(official)) => {
            if a.status != S::Submitted {
                return Err(LegalAidRefusal::NotSubmitted.into());
            }
            a.status = S::Rejected;
            a.rejection_reason = Some(reason.clone());
            a.decided_by = Some(official);
        }
        (Command::Close { outcome }, _) => {
            if let Actor::Lawyer(id) = actor {
                if a.lawyer_id != Some(id) {
                    return Err(Refusal::not_found());
                }
            }
            if a.status != S::Accepted {
                return Err(LegalAidRefusal::NotAccepted.into());
            }
            a.status = S::Closed;
            a.outcome = Some(outcome.clone());
        }
        (_, Actor::Lawyer(_)) => return Err(Refusal::forbidden()),
    }
    a.updated_at = at;
    Ok(a)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn input() -> RequestInput {
        RequestInput {
            applicant: Some("王建军".into()),
            phone: Some("138-0013-8000".into()),
            counterparty: Some("郑州某某快递有限公司".into()),
            summary: Some("拖欠工资三个月，共一万二千元".into()),
            amount_fen: Some(json!(1_200_000)),
            aid: vec!["mediation".into(), "representation".into()],
        }
    }

    fn application() -> LegalAidApplication {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap();
        LegalAidApplication {
            id: LegalAidId::new(),
            account_id: AccountId::new(),
            org_id: OrgId::new(),
            org_path: OrgPath::from_stored("a".into()),
            consultation_id: None,
            request: input().validate().unwrap(),
            held: false,
            status: LegalAidStatus::Submitted,
            lawyer_id: None,
            rejection_reason: None,
            outcome: None,
            decided_by: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_request_names_every_fault() {
        let r = input().validate().unwrap();
        assert_eq!(r.phone.as_str(), "13800138000");
        assert_eq!(r.amount_fen, Some(Fen::yuan(12_000)));
        let bad = RequestInput {
            applicant: None,
            phone: Some("12345".into()),
            counterparty: Some(" ".into()),
            summary: Some("欠".repeat(2_001)),
            amount_fen: Some(json!(-1)),
            aid: vec!["mediation".into(), "mediation".into(), "lawsuit".into()],
        };
        let fields: Vec<(String, &str)> = bad
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|p| (p.field, p.code))
            .collect();
        let expected = [
            ("applicant", "required"),
            ("phone", "invalid"),
            ("counterparty", "required"),
            ("summary", "too_long"),
            ("amount_fen", "negative"),
            ("aid.1", "duplicate"),
            ("aid.2", "not_allowed"),
        ];
        assert_eq!(fields, expected.map(|(f, c)| (f.to_owned(), c)).to_vec());
        let none = RequestInput {
            aid: vec![],
            amount_fen: None,
            ..input()
        };
        assert_eq!(none.validate().unwrap_err()[0].field, "aid");
    }

    #[test]
    fn every_step_and_every_illegal_one() {
        let (official, lawyer) = (AccountId::new(), AccountId::new());
        let at = Utc::now();
        let a = application();
        let accept = Command::Accept { lawyer };
        let reject = Command::Reject {
            reason: "不属于劳动争议".into(),
        };
        let close = Command::Close {
            outcome: "调解成功，追回工资一万二".into(),
        };
        assert_eq!(
            decide(&a, Actor::Lawyer(lawyer), &accept, at),
            Err(Refusal::forbidden())
        );
        assert_eq!(
            decide(&a, Actor::Official(official), &close, at),
            Err(Refusal::from(LegalAidRefusal::NotAccepted))
        );
        let accepted = decide(&a, Actor::Official(official), &accept, at).unwrap();
        assert_eq!(
            (accepted.status, accepted.lawyer_id),
            (LegalAidStatus::Accepted, Some(lawyer))
        );
        for again in [&accept, &reject] {
            assert_eq!(
                decide(&accepted, Actor::Official(official), again, at),
                Err(Refusal::from(LegalAidRefusal::NotSubmitted))
            );
        }
        assert_eq!(
            decide(&accepted, Actor::Lawyer(AccountId::new()), &close, at),
            Err(Refusal::not_found())
        );
        let closed = decide(&accepted, Actor::Lawyer(lawyer), &close, at).unwrap();
        assert_eq!(closed.status, LegalAidStatus::Closed);
        assert_eq!(
            decide(&closed, Actor::Lawyer(lawyer), &close, at),
            Err(Refusal::from(LegalAidRefusal::NotAccepted))
        );
        let rejected = decide(&a, Actor::Official(official), &reject, at).unwrap();
        assert_eq!(rejected.status, LegalAidStatus::Rejected);
        assert_eq!(
            decide(&rejected, Actor::Official(official), &close, at),
            Err(Refusal::from(LegalAidRefusal::NotAccepted))
        );
    }

    #[test]
    fn the_worker_withdraws_an_open_application_of_their_own() {
        let (official, lawyer) = (AccountId::new(), AccountId::new());
        let at = Utc::now();
        let a = application();
        let worker = Actor::Worker(a.account_id);
        assert_eq!(
            decide(&a, Actor::Worker(AccountId::new()), &Command::Withdraw, at),
            Err(Refusal::not_found())
        );
        assert_eq!(
            decide(&a, Actor::Official(official), &Command::Withdraw, at),
            Err(Refusal::forbidden())
        );
        let close = Command::Close {
            outcome: "结案".into(),
        };
        assert_eq!(decide(&a, worker, &close, at), Err(Refusal::forbidden()));
        let withdrawn = decide(&a, worker, &Command::Withdraw, at).unwrap();
        assert_eq!(withdrawn.status, LegalAidStatus::Withdrawn);
        assert_eq!(
            decide(&withdrawn, worker, &Command::Withdraw, at),
            Err(Refusal::from(LegalAidRefusal::NotOpen))
        );
        let accepted = decide(
            &a,
            Actor::Official(official),
            &Command::Accept { lawyer },
            at,
        )
        .unwrap();
        let dropped = decide(&accepted, worker, &Command::Withdraw, at).unwrap();
        assert_eq!(dropped.status, LegalAidStatus::Withdrawn);
        assert_eq!(
            decide(&dropped, Actor::Lawyer(lawyer), &close, at),
            Err(Refusal::from(LegalAidRefusal::NotAccepted))
        );
        let closed = decide(&accepted, Actor::Lawyer(lawyer), &close, at).unwrap();
        assert_eq!(
            decide(&closed, worker, &Command::Withdraw, at),
            Err(Refusal::from(LegalAidRefusal::NotOpen))
        );
    }
}
