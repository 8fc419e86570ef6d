//! Consultation categories (咨询类别) as data officials edit: what a worker picks when asking
//! a question, what a lawyer's specialties name, and the service levels the union promises
//! for each. The roster starts with 垦利's twelve modules (DOMAIN.md, "云律团"); see
//! [`STARTING_CATEGORIES`].

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::problem::{text, whole_number, FieldProblem};

/// The longest a chosen lawyer may be given to accept, or a deadline may run: 30 days, in
/// minutes.
pub const MAX_MINUTES: i64 = 30 * 24 * 60;

/// A category's stable code: 2–40 characters of `a`–`z`, `0`–`9` and `_`, starting with a
/// letter (`labour_dispute`). It never changes once made: specialties and consultations
/// name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CategoryCode(String);

impl CategoryCode {
    /// The code `value` spells, or `None` when it breaks the rule above.
    pub fn parse(value: &str) -> Option<Self> {
        let ok = (2..=40).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        ok.then(|| Self(value.to_owned()))
    }

    /// The code as stored and answered.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a category's deadlines are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaClock {
    /// Around the clock, every day (7×24, as 垦利's platform promises).
    AllHours,
    /// Working hours only: 09:00–17:00 China Standard Time on working days (the configured
    /// calendar: weekdays but holidays, plus the weekend days worked in their place).
    BusinessHours,
}

impl SlaClock {
    /// Every clock.
    pub const ALL: [SlaClock; 2] = [SlaClock::AllHours, SlaClock::BusinessHours];

    /// The stored and JSON form: `all_hours` or `business_hours`.
    pub fn as_str(self) -> &'static str {
        match self {
            SlaClock::AllHours => "all_hours",
            SlaClock::BusinessHours => "business_hours",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            SlaClock::AllHours => "全天候（7×24 小时）",
            SlaClock::BusinessHours => "工作时间（工作日 9:00–17:00）",
        }
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// What an official sets for one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRules {
    /// Chinese name shown to workers, 1–20 characters (`劳动争议`).
    pub name: String,
    /// Place in the list, smallest first (0–1,000).
    pub position: i32,
    /// Whether workers may pick it now; a retired category keeps its past consultations.
    pub active: bool,
    /// Minutes a lawyer the worker chose has to accept (接单) before the consultation goes to
    /// the pool of on-duty lawyers with the specialty, 1–[`MAX_MINUTES`].
    pub accept_minutes: i32,
    /// First-response deadline in minutes of [`Self::clock`], 1–[`MAX_MINUTES`].
    pub first_response_minutes: i32,
    /// Resolution deadline in minutes of [`Self::clock`], at least the first-response one.
    pub resolution_minutes: i32,
    /// How the deadlines are counted.
    pub clock: SlaClock,
    /// Whether its consultations count towards the employer early warning (wage arrears and
    /// labour disputes, where a group dispute shows first).
    pub watched: bool,
}

/// A category as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// The code.
    pub code: CategoryCode,
    /// The rules.
    pub rules: CategoryRules,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A category as an official writes it, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CategoryInput {
    /// 1–20 characters.
    pub name: Option<String>,
    /// Whole number 0–1,000.
    pub position: Option<Value>,
    /// Default true.
    pub active: Option<bool>,
    /// Minutes.
    pub accept_minutes: Option<Value>,
    /// Minutes.
    pub first_response_minutes: Option<Value>,
    /// Minutes.
    pub resolution_minutes: Option<Value>,
    /// `all_hours` or `business_hours`.
    pub clock: Option<String>,
    /// Default false.
    pub watched: Option<bool>,
}

impl CategoryInput {
    /// The rules, or every problem at once (fields named as written: `name`,
    /// `resolution_minutes`, …).
    pub fn validate(self) -> Result<CategoryRules, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let name = text(&mut problems, "name", self.name, 20, true);
        let position = whole_number(&mut problems, "position", self.position.as_ref(), 0..=1_000);
        let mut minutes = |field: &str, value: Option<&Value>| {
            whole_number(&mut problems, field, value, 1..=MAX_MINUTES)
        };
        let accept = minutes("accept_minutes", self.accept_minutes.as_ref());
        let first = minutes(
            "first_response_minutes",
            self.first_response_minutes.as_ref(),
        );
        let resolution = minutes("resolution_minutes", self.resolution_minutes.as_ref());
        let clock = match self.clock.as_deref().map(str::trim) {
            None | Some("") => Some(SlaClock::AllHours),
            Some(code) => SlaClock::parse(code).or_else(|| {
                let allowed = SlaClock::ALL.map(SlaClock::as_str);
                problems.push(FieldProblem::not_one_of("clock", code, &allowed));
                None
            }),
        };
        if let (Some(first), Some(resolution)) = (first, resolution) {
            if resolution < first {
                problems.push(FieldProblem::new(
                    "resolution_minutes",
                    "out_of_order",
                    "办结时限不能短于首次响应时限",
                    "resolution_minutes must be at least first_response_minutes",
                ));
            }
        }
        match (name, position, accept, first, resolution, clock) {
            (
                Some(name),
                Some(position),
                Some(accept),
                Some(first),
                Some(resolution),
                Some(clock),
            ) if problems.is_empty() => {
                let minutes = |m: i64| i32::try_from(m).unwrap_or(i32::MAX);
                Ok(CategoryRules {
                    name,
                    position: minutes(position),
                    active: self.active.unwrap_or(true),
                    accept_minutes: minutes(accept),
                    first_response_minutes: minutes(first),
                    resolution_minutes: minutes(resolution),
                    clock,
                    watched: self.watched.unwrap_or(false),
                })
            }
            _ => Err(problems),
        }
    }
}

/// The twelve modules of 垦利's 云律团 (DOMAIN.md), the categories a new installation starts
/// with: `(code, name, watched)`. Their service levels are assumed, not from a seed: accept
/// within 15 minutes, first response within 2 hours and resolution within 3 days, around
/// the clock (the platform is 7×24); officials change them as data.
pub const STARTING_CATEGORIES: [(&str, &str, bool); 12] = [
    ("labour_dispute", "劳动争议", true),
    ("wage_arrears", "欠薪", true),
    ("labour_contract", "劳动合同", false),
    ("work_injury", "工伤", false),
    ("social_insurance", "社会保险", false),
    ("contract_dispute", "合同纠纷", false),
    ("marriage_family", "婚姻家庭", false),
    ("traffic_accident", "交通事故", false),
    ("housing_property", "房产物业", false),
    ("debt", "借贷纠纷", false),
    ("criminal", "刑事", false),
    ("other", "其他", false),
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input() -> CategoryInput {
        CategoryInput {
            name: Some(" 欠薪 ".into()),
            position: Some(json!(2)),
            active: None,
            accept_minutes: Some(json!(15)),
            first_response_minutes: Some(json!(120)),
            resolution_minutes: Some(json!(4_320)),
            clock: None,
            watched: Some(true),
        }
    }

    #[test]
    fn codes_are_lowercase_ascii_words() {
        for good in ["wage_arrears", "debt", "c2"] {
            assert!(CategoryCode::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "x",
            "Wage",
            "2fast",
            "wage-arrears",
            "欠薪",
            &"a".repeat(41),
        ] {
            assert!(CategoryCode::parse(bad).is_none(), "{bad}");
        }
        for (code, _, _) in STARTING_CATEGORIES {
            assert!(CategoryCode::parse(code).is_some(), "{code}");
        }
    }

    #[test]
    fn rules_are_checked_all_at_once() {
        let rules = input().validate().unwrap();
        assert_eq!(rules.name, "欠薪");
        assert_eq!(rules.clock, SlaClock::AllHours);
        assert!(rules.active && rules.watched);

        let mut bad = input();
        bad.name = Some("   ".into());
        bad.accept_minutes = Some(json!(0));
        bad.resolution_minutes = Some(json!(60));
        bad.clock = Some("office".into());
        let problems = bad.validate().unwrap_err();
        let fields: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.field.as_str(), p.code))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("name", "required"),
                ("accept_minutes", "out_of_range"),
                ("clock", "not_allowed"),
                ("resolution_minutes", "out_of_order"),
            ]
        );
    }
}
