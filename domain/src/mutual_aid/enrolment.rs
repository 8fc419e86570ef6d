//! Enrolment (参保): a member's participation in one plan year (issue #5, "Enrolment").
//!
//! `pending_payment → active → expired`. The member asks inside the enrolment window; an
//! official records the fee as paid (cash, bank transfer, or paid by the union — 代付, which
//! 晋城 does for new members); coverage runs from the activation day plus the waiting period to
//! the end of the plan year, after which the enrolment is expired.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::plan::{PlanId, PlanRules};
use crate::account::AccountId;
use crate::membership::member::MemberId;
use crate::money::Fen;
use crate::org::{OrgId, OrgPath};

crate::uuid_id!(
    /// Identifier of an enrolment.
    EnrolmentId
);

/// Where an enrolment is, on a given day. Serialised in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrolmentStatus {
    /// Asked for; the fee is not recorded yet.
    PendingPayment,
    /// Paid; the plan year has not ended.
    Active,
    /// The plan year has ended.
    Expired,
}

impl EnrolmentStatus {
    /// Every term, in the order pickers show them.
    pub const ALL: [EnrolmentStatus; 3] = [Self::PendingPayment, Self::Active, Self::Expired];

    /// The JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrolmentStatus::PendingPayment => "pending_payment",
            EnrolmentStatus::Active => "active",
            EnrolmentStatus::Expired => "expired",
        }
    }

    /// What a worker reads.
    pub fn zh(self) -> &'static str {
        match self {
            EnrolmentStatus::PendingPayment => "待缴费",
            EnrolmentStatus::Active => "保障中",
            EnrolmentStatus::Expired => "已到期",
        }
    }
}

/// How the fee was paid. Serialised in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// 现金.
    Cash,
    /// 银行转账.
    BankTransfer,
    /// 工会代付: the union paid for the member.
    PaidByUnion,
}

impl PaymentMethod {
    /// Every method.
    pub const ALL: [PaymentMethod; 3] = [
        PaymentMethod::Cash,
        PaymentMethod::BankTransfer,
        PaymentMethod::PaidByUnion,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::PaidByUnion => "paid_by_union",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "现金",
            PaymentMethod::BankTransfer => "银行转账",
            PaymentMethod::PaidByUnion => "工会代付",
        }
    }

    /// Parses [`PaymentMethod::as_str`].
    pub fn parse(s: &str) -> Option<PaymentMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The recorded fee payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeePayment {
    /// How.
    pub method: PaymentMethod,
    /// How much (the plan's fee at the time).
    pub amount_fen: Fen,
    /// A receipt or bank reference, if any.
    pub reference: Option<String>,
    /// The official who recorded it.
    pub recorded_by: AccountId,
    /// The day it was recorded (Asia/Shanghai): the activation day.
    pub activated_on: NaiveDate,
}

/// A member's enrolment in one plan year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// Id.
    pub id: EnrolmentId,
    /// The plan.
    pub plan_id: PlanId,
    /// The member.
    pub member_id: MemberId,
    /// The member's worker account.
    pub account_id: AccountId,
    /// The member's organisation when they enrolled (data scope for officials).
    pub org_id: OrgId,
    /// Its path.
    pub org_path: OrgPath,
    /// The day they asked (Asia/Shanghai).
    pub requested_on: NaiveDate,
    /// The payment, once recorded.
    pub payment: Option<FeePayment>,
}

/// The days an enrolment covers, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// First covered day: activation plus the waiting period, never before the plan year.
    pub from: NaiveDate,
    /// Last covered day: the end of the plan year.
    pub until: NaiveDate,
}

impl Coverage {
    /// Whether `day` is covered.
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.until
    }
}

impl Enrolment {
    /// Its status on `today`.
    pub fn status(&self, rules: &PlanRules, today: NaiveDate) -> EnrolmentStatus {
        match &self.payment {
            _ if today > rules.ends_on => EnrolmentStatus::Expired,
            None => EnrolmentStatus::PendingPayment,
            Some(_) => EnrolmentStatus::Active,
        }
    }

    /// The covered days, once paid; `None` before (or when the waiting period runs past the
    /// plan year, leaving nothing covered).
    pub fn coverage(&self, rules: &PlanRules) -> Option<Coverage> {
        let paid = self.payment.as_ref()?;
        let from = paid
            .activated_on
            .checked_add_days(chrono::Days::new(u64::from(rules.waiting_days)))?
            .max(rules.starts_on);
        (from <= rules.ends_on).then_some(Coverage {
            from,
            until: rules.ends_on,
        })
    }

    /// Whether `day` falls in the waiting period: after activation, before coverage starts.
    pub fn in_waiting_period(&self, rules: &PlanRules, day: NaiveDate) -> bool {
        match (&self.payment, self.coverage(rules)) {
            (Some(paid), Some(c)) => paid.activated_on <= day && day < c.from,
            (Some(paid), None) => paid.activated_on <= day,
            _ => false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::mutual_aid::plan::tests::jincheng;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn enrollment(activated: Option<&str>) -> Enrolment {
        let org = OrgId::new();
        Enrolment {
            id: EnrolmentId::new(),
            plan_id: PlanId::new(),
            member_id: MemberId::new(),
            account_id: AccountId::new(),
            org_id: org,
            org_path: OrgPath::root(org),
            requested_on: day("2027-01-05"),
            payment: activated.map(|d| FeePayment {
                method: PaymentMethod::PaidByUnion,
                amount_fen: Fen::yuan(50),
                reference: None,
                recorded_by: AccountId::new(),
                activated_on: day(d),
            }),
        }
    }

    #[test]
    fn coverage_starts_after_the_waiting_period_and_ends_with_the_year() {
        let rules = jincheng();
        let pending = enrollment(None);
        assert_eq!(
            pending.status(&rules, day("2027-02-01")),
            EnrolmentStatus::PendingPayment
        );
        assert_eq!(pending.coverage(&rules), None);
        let paid = enrollment(Some("2027-01-10"));
        assert_eq!(
            paid.status(&rules, day("2027-02-01")),
            EnrolmentStatus::Active
        );
        assert_eq!(
            paid.status(&rules, day("2028-01-01")),
            EnrolmentStatus::Expired
        );
        let c = paid.coverage(&rules).unwrap();
        assert_eq!((c.from, c.until), (day("2027-02-09"), day("2027-12-31")));
        assert!(!c.covers(day("2027-02-08")) && c.covers(day("2027-02-09")));
        assert!(paid.in_waiting_period(&rules, day("2027-02-08")));
        assert!(
            !paid.in_waiting_period(&rules, day("2027-01-09")),
            "before activation"
        );
        assert!(!paid.in_waiting_period(&rules, day("2027-02-09")));
    }

    #[test]
    fn paid_before_the_year_starts_covers_from_the_first_day_after_the_wait() {
        let mut rules = jincheng();
        rules.waiting_days = 0;
        let early = enrollment(Some("2026-12-20"));
        assert_eq!(early.coverage(&rules).unwrap().from, day("2027-01-01"));
        rules.waiting_days = 365;
        let late = enrollment(Some("2027-03-01"));
        assert_eq!(late.coverage(&rules), None, "the wait outlasts the year");
        assert!(late.in_waiting_period(&rules, day("2027-12-31")));
    }
}
