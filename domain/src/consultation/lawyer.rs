//! The lawyer roster (云律团): a lawyer is an official with the `lawyer` role, and this is the
//! profile workers browse when they pick one (点单) — name, law firm, licence number,
//! specialties, years in practice, a short bio, whether on duty, and the workers' rating.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::category::CategoryCode;
use crate::account::AccountId;
use crate::org::{OrgId, OrgPath};
use crate::problem::{text, whole_number, FieldProblem};

/// Most specialties one lawyer lists.
pub const MAX_SPECIALTIES: usize = 12;

/// A lawyer's practising licence number (律师执业证号): 17 digits, as the Ministry of
/// Justice issues it (the licence's own layout — region, year, kind, sex, serial — is not
/// checked: no check digit exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceNumber(String);

impl LicenceNumber {
    /// The number in `value` (spaces dropped), or `None` when it is not 17 digits.
    pub fn parse(value: &str) -> Option<Self> {
        let digits: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        (digits.len() == 17 && digits.chars().all(|c| c.is_ascii_digit())).then_some(Self(digits))
    }

    /// The 17 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an official writes about a lawyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LawyerDetails {
    /// Name, 1–50 characters.
    pub name: String,
    /// Law firm (律师事务所), 2–100 characters.
    pub law_firm: String,
    /// Licence number.
    pub licence_number: LicenceNumber,
    /// Category codes, 1–[`MAX_SPECIALTIES`], without repeats; each must name a category.
    pub specialties: Vec<CategoryCode>,
    /// Years in practice, 0–70.
    pub years_in_practice: i32,
    /// Short bio, at most 500 characters (may be empty).
    pub bio: String,
}

/// A lawyer's profile as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lawyer {
    /// The official's account.
    pub account_id: AccountId,
    /// The official's organisation (the union whose roster lists the lawyer).
    pub org_id: OrgId,
    /// Its path: officials above it manage the profile.
    pub org_path: OrgPath,
    /// The profile.
    pub details: LawyerDetails,
    /// Whether the lawyer takes consultations now.
    pub on_duty: bool,
    /// Sum of the 1–5 ratings workers gave.
    pub rating_sum: i64,
    /// How many ratings.
    pub rating_count: i64,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

impl Lawyer {
    /// The average rating to one decimal (4.7), or `None` before the first.
    pub fn rating_average(&self) -> Option<f64> {
        (self.rating_count > 0).then(|| {
            let tenths = (self.rating_sum * 10 + self.rating_count / 2) / self.rating_count;
            tenths as f64 / 10.0
        })
    }

    /// Whether the lawyer lists `category` among their specialties.
    pub fn practises(&self, category: &CategoryCode) -> bool {
        self.details.specialties.contains(category)
    }
}

/// A profile as written, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LawyerInput {
    /// 1–50 characters.
    pub name: Option<String>,
    /// 2–100 characters.
    pub law_firm: Option<String>,
    /// 17 digits.
    pub licence_number: Option<String>,
    /// Category codes.
    pub specialties: Vec<String>,
    /// Whole number 0–70.
    pub years_in_practice: Option<Value>,
    /// At most 500 characters.
    pub bio: Option<String>,
}

impl LawyerInput {
    /// The details, or every problem at once. `known` says whether a category code names a
    /// category (`specialties.N` is `not_allowed` otherwise).
    pub fn validate(
        self,
        known: impl Fn(&CategoryCode) -> bool,
    ) -> Result<LawyerDetails, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let name = text(&mut problems, "name", self.name, 50, true);
        let law_firm = text(&mut problems, "law_firm", self.law_firm, 100, true).filter(|f| {
            let ok = f.chars().count() >= 2;
            if !ok {
                problems.push(FieldProblem::new(
                    "law_firm",
                    "too_short",
                    "律师事务所名称至少 2 个字",
                    "law_firm needs at least 2 characters",
                ));
            }
            ok
        });
        let licence = match self.licence_number.as_deref().map(str::trim) {
            None | Some("") => {
                problems.push(FieldProblem::required("licence_number"));
                None
            }
            Some(typed) => LicenceNumber::parse(typed).or_else(|| {
                problems.push(FieldProblem::new(
                    "licence_number",
                    "invalid",
                    "律师执业证号须为 17 位数字",
                    "licence_number must be 17 digits",
                ));
                None
            }),
        };
        let mut specialties: Vec<CategoryCode> = Vec::new();
        if self.specialties.is_empty() || self.specialties.len() > MAX_SPECIALTIES {
            problems.push(FieldProblem::new(
                "specialties",
                "out_of_range",
                format!("擅长领域须选 1 到 {MAX_SPECIALTIES} 个"),
                format!("list 1 to {MAX_SPECIALTIES} specialties"),
            ));
        }
        for (i, typed) in self.specialties.iter().enumerate().take(MAX_SPECIALTIES) {
            let field = format!("specialties.{i}");
            match CategoryCode::parse(typed.trim()).filter(|c| known(c)) {
                Some(code) if specialties.contains(&code) => problems.push(FieldProblem::new(
                    field,
                    "duplicate",
                    "擅长领域重复",
                    "specialty listed twice",
                )),
                Some(code) => specialties.push(code),
                None => problems.push(FieldProblem::new(
                    field,
                    "not_allowed",
                    format!("没有「{}」这个咨询类别", typed.trim()),
                    format!("`{}` is not a consultation category", typed.trim()),
                )),
            }
        }
        let years = whole_number(
            &mut problems,
            "years_in_practice",
            self.years_in_practice.as_ref(),
            0..=70,
        );
        let bio = text(&mut problems, "bio", self.bio, 500, false).unwrap_or_default();
        match (name, law_firm, licence, years) {
            (Some(name), Some(law_firm), Some(licence_number), Some(years))
                if problems.is_empty() =>
            {
                Ok(LawyerDetails {
                    name,
                    law_firm,
                    licence_number,
                    specialties,
                    years_in_practice: i32::try_from(years).unwrap_or(0),
                    bio,
                })
            }
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::consultation::category::STARTING_CATEGORIES;

    fn known(code: &CategoryCode) -> bool {
        STARTING_CATEGORIES
            .iter()
            .any(|(c, _, _)| *c == code.as_str())
    }

    fn input() -> LawyerInput {
        LawyerInput {
            name: Some("张明".into()),
            law_firm: Some("山东垦利律师事务所".into()),
            licence_number: Some("13705 2010 1012 3456".into()),
            specialties: vec!["wage_arrears".into(), "labour_dispute".into()],
            years_in_practice: Some(json!(12)),
            bio: None,
        }
    }

    #[test]
    fn a_profile_is_read_and_every_fault_named() {
        let details = input().validate(known).unwrap();
        assert_eq!(details.licence_number.as_str(), "13705201010123456");
        assert_eq!(details.specialties.len(), 2);
        assert_eq!(details.bio, "");

        let mut bad = input();
        bad.law_firm = Some("所".into());
        bad.licence_number = Some("1370520101012345X".into());
        bad.specialties = vec!["wage_arrears".into(), "wage_arrears".into(), "tax".into()];
        bad.years_in_practice = Some(json!(71));
        let problems = bad.validate(known).unwrap_err();
        let fields: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.field.as_str(), p.code))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("law_firm", "too_short"),
                ("licence_number", "invalid"),
                ("specialties.1", "duplicate"),
                ("specialties.2", "not_allowed"),
                ("years_in_practice", "out_of_range"),
            ]
        );
        let mut none = input();
        none.specialties.clear();
        let problems = none.validate(known).unwrap_err();
        assert_eq!(problems[0].field, "specialties");
    }

    #[test]
    fn the_average_rating_is_rounded_to_a_tenth() {
        let mut lawyer = Lawyer {
            account_id: AccountId::new(),
            org_id: OrgId::new(),
            org_path: OrgPath::from_stored("a".into()),
            details: input().validate(known).unwrap(),
            on_duty: true,
            rating_sum: 0,
            rating_count: 0,
            updated_at: Utc::now(),
        };
        assert_eq!(lawyer.rating_average(), None);
        (lawyer.rating_sum, lawyer.rating_count) = (14, 3);
        assert_eq!(lawyer.rating_average(), Some(4.7));
        assert!(lawyer.practises(&CategoryCode::parse("wage_arrears").unwrap()));
        assert!(!lawyer.practises(&CategoryCode::parse("criminal").unwrap()));
    }
}
