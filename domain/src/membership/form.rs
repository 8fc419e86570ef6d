//! The membership application form as the worker fills it in, and its check: every field at
//! once (DOMAIN.md "Rules that hold everywhere"), the ID number read for its birth date, sex
//! and the minimum age, the organisation one that takes individual applications.

use chrono::NaiveDate;

use super::identity::{check_minimum_age, CreditCode, ResidentId};
use super::person::{EmploymentForm, MobilePhone, PersonName};
use crate::org::Organisation;
use crate::problem::{check, finish, FieldProblem};

/// What the worker sent, untouched.
#[derive(Debug, Clone, Default)]
pub struct ApplicationInput {
    /// Real name.
    pub real_name: String,
    /// Resident ID number (GB 11643-1999).
    pub id_number: String,
    /// Mainland mobile number; `None` or blank: the number bound through WeChat.
    pub phone: Option<String>,
    /// Employer, 1–100 characters.
    pub employer_name: String,
    /// Employer's unified social credit code (GB 32100-2015), optional.
    pub credit_code: Option<String>,
    /// Industry, 1–50 characters.
    pub industry: String,
    /// Form of employment code (`courier`, …).
    pub employment_form: String,
    /// City of work, 1–30 characters.
    pub city: String,
    /// Whether the worker accepted the privacy notice.
    pub consent_accepted: bool,
    /// The notice version they saw.
    pub consent_version: String,
}

/// What the check needs besides the form.
#[derive(Debug, Clone, Copy)]
pub struct FormContext<'a> {
    /// Today in China Standard Time (for the age and a birth date in the future).
    pub today: NaiveDate,
    /// The privacy-notice version in force.
    pub privacy_notice_version: &'a str,
    /// The mobile number the worker bound through WeChat, if any (used when the form has none).
    pub bound_phone: Option<&'a str>,
    /// The organisation the form names, when it exists.
    pub org: Option<&'a Organisation>,
}

/// The form, checked. The ID number stays in clear here: the caller seals it before storing.
#[derive(Debug, Clone)]
pub struct CheckedApplication {
    /// Real name.
    pub real_name: PersonName,
    /// The ID number.
    pub id_number: ResidentId,
    /// Mobile number.
    pub phone: MobilePhone,
    /// Employer.
    pub employer_name: String,
    /// Employer's credit code.
    pub credit_code: Option<CreditCode>,
    /// Industry.
    pub industry: String,
    /// Form of employment.
    pub employment_form: EmploymentForm,
    /// City of work.
    pub city: String,
    /// The organisation applied to.
    pub org: Organisation,
    /// The notice version consented to.
    pub consent_version: String,
}

impl ApplicationInput {
    /// Checks the whole form, every problem at once: consent (`consent.accepted`
    /// `consent_required` — PIPL: nothing is kept without it, and a form with any problem
    /// keeps nothing), an outdated notice version, the name, the ID number (form, check
    /// character, birth date, minimum age), the phone (given or bound), the free texts, the
    /// credit code, the form of employment, and the organisation (`unknown`, or
    /// `not_accepting_individuals`).
    pub fn check(&self, ctx: &FormContext<'_>) -> Result<CheckedApplication, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        if !self.consent_accepted {
            problems.push(FieldProblem::new(
                "consent.accepted",
                "consent_required",
                "须同意隐私政策后才能提交入会申请，未同意时不保存任何信息",
                "The privacy notice must be accepted; nothing is stored without consent",
            ));
        }
        let version = ctx.privacy_notice_version;
        if self.consent_accepted && self.consent_version != version {
            problems.push(FieldProblem::new(
                "consent.version",
                "outdated",
                format!("隐私政策已更新为 {version}，请阅读后重新同意"),
                format!("The privacy notice is now version {version}; read it and consent again"),
            ));
        }
        let p = &mut problems;
        let real_name = check(p, "real_name", PersonName::parse(&self.real_name));
        let id_number = check(
            p,
            "id_number",
            ResidentId::parse(&self.id_number, ctx.today),
        )
        .and_then(|id| check(p, "id_number", check_minimum_age(&id, ctx.today)).map(|()| id));
        let given = self
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let phone = phone_of(p, given.or(ctx.bound_phone));
        let employer_name = free_text(p, "employer_name", &self.employer_name, 100);
        let credit_code = match self.credit_code.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(code) => check(p, "credit_code", CreditCode::parse(code)).map(Some),
        };
        let industry = free_text(p, "industry", &self.industry, 50);
        let employment_form = self.employment_form.parse::<EmploymentForm>().ok();
        if employment_form.is_none() {
            let allowed = EmploymentForm::ALL.map(EmploymentForm::as_str);
            p.push(FieldProblem::not_one_of(
                "employment_form",
                &self.employment_form,
                &allowed,
            ));
        }
        let city = free_text(p, "city", &self.city, 30);
        let org = org_of(p, ctx.org);
        finish(problems)?;
        match (
            real_name,
            id_number,
            phone,
            employer_name,
            credit_code,
            industry,
            employment_form,
            city,
            org,
        ) {
            (
                Some(real_name),
                Some(id_number),
                Some(phone),
                Some(employer_name),
                Some(credit_code),
                Some(industry),
                Some(employment_form),
                Some(city),
                Some(org),
            ) => Ok(CheckedApplication {
                real_name,
                id_number,
                phone,
                employer_name,
                credit_code,
                industry,
                employment_form,
                city,
                org,
                consent_version: self.consent_version.clone(),
            }),
            // Every `None` above noted a problem, so `finish` answered already.
            _ => Err(vec![FieldProblem::new(
                "body",
                "invalid",
                "请求内容有误",
                "The request is not valid",
            )]),
        }
    }
}

/// The mobile number the form gives or the worker bound; one of them is required.
fn phone_of(problems: &mut Vec<FieldProblem>, number: Option<&str>) -> Option<MobilePhone> {
    match number {
        Some(number) => check(problems, "phone", MobilePhone::parse(number)),
        None => {
            problems.push(FieldProblem::new(
                "phone",
                "required",
                "请填写手机号码，或先绑定微信手机号",
                "give a mobile number, or bind your WeChat phone first",
            ));
            None
        }
    }
}

/// The organisation applied to: it exists and takes individual applications (a 联合工会 or
/// 行业工会联合会; an employer's own union is joined through the employer).
fn org_of(problems: &mut Vec<FieldProblem>, org: Option<&Organisation>) -> Option<Organisation> {
    match org {
        None => {
            problems.push(FieldProblem::new(
                "org_id",
                "unknown",
                "所选工会组织不存在",
                "no such union organisation",
            ));
            None
        }
        Some(org) => match not_joinable("org_id", org) {
            Some(problem) => {
                problems.push(problem);
                None
            }
            None => Some(org.clone()),
        },
    }
}

/// Whether a worker may join `org` on their own — by applying, or by a transfer after a job
/// change: only an organisation that takes individual members (a 联合工会 or 行业工会联合会;
/// an employer's own union is joined through the employer). The problem names `field`.
pub fn not_joinable(field: &str, org: &Organisation) -> Option<FieldProblem> {
    if org.accepts_individuals {
        return None;
    }
    let name = org.name.as_str();
    Some(FieldProblem::new(
        field,
        "not_accepting_individuals",
        format!("{name} 不接受个人直接申请入会，请选择所在单位工会或接受个人入会的工会联合会"),
        format!("{name} does not take individual applications; choose your employer's union or a federation that accepts individuals"),
    ))
}

/// `value` trimmed: not blank, at most `max` characters as sent, without control characters;
/// else `None` after noting `required` or `invalid`.
fn free_text(
    problems: &mut Vec<FieldProblem>,
    field: &str,
    value: &str,
    max: usize,
) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        problems.push(FieldProblem::new(
            field,
            "required",
            format!("请填写{}", crate::problem::label(field)),
            format!("{field} is required"),
        ));
        return None;
    }
    // The length as sent, as the contract's `maxLength` counts it.
    if value.chars().count() > max || v.chars().any(char::is_control) {
        problems.push(FieldProblem::new(
            field,
            "invalid",
            format!(
                "{}须为 1 到 {max} 个字，且不含控制字符",
                crate::problem::label(field)
            ),
            format!("{field} must be 1–{max} characters without control characters"),
        ));
        return None;
    }
    Some(v.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::org::{OrgId, OrgKind, OrgName, OrgPath};

    fn org(accepts_individuals: bool) -> Organisation {
        let id = OrgId::new();
        Organisation {
            id,
            parent_id: None,
            name: OrgName::parse("黔西市新就业形态工会联合会").unwrap(),
            kind: OrgKind::parse("city_federation").unwrap(),
            accepts_individuals,
            path: OrgPath::from_stored(format!("/{id}/")),
            city: None,
            code: "ABCDEF01".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn input() -> ApplicationInput {
        ApplicationInput {
            real_name: "张三".into(),
            id_number: "11010519491231002X".into(),
            phone: None,
            employer_name: "某某快递".into(),
            credit_code: None,
            industry: "快递物流".into(),
            employment_form: "courier".into(),
            city: "黔西市".into(),
            consent_accepted: true,
            consent_version: "v1".into(),
        }
    }

    fn ctx<'a>(org: Option<&'a Organisation>, bound: Option<&'a str>) -> FormContext<'a> {
        FormContext {
            today: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
            privacy_notice_version: "v1",
            bound_phone: bound,
            org,
        }
    }

    fn fields(problems: &[FieldProblem]) -> Vec<(&str, &str)> {
        problems
            .iter()
            .map(|p| (p.field.as_str(), p.code))
            .collect()
    }

    #[test]
    fn a_good_form_takes_the_bound_phone_when_it_names_none() {
        let o = org(true);
        let checked = input().check(&ctx(Some(&o), Some("13800138000"))).unwrap();
        assert_eq!(checked.phone.as_str(), "13800138000");
        assert_eq!(checked.employment_form, EmploymentForm::Courier);
        assert_eq!(checked.org.id, o.id);
    }

    #[test]
    fn every_bad_field_is_named_at_once_consent_first() {
        let o = org(false);
        let bad = ApplicationInput {
            real_name: "张3".into(),
            id_number: "110105194912310021".into(),
            credit_code: Some("91350100M000100Y4X".into()),
            employer_name: " ".into(),
            employment_form: "astronaut".into(),
            consent_version: "v0".into(),
            ..input()
        };
        // What is wrong besides consent, in the order the form is checked.
        let rest = [
            ("real_name", "name_has_digits"),
            ("id_number", "id_number_check"),
            ("phone", "required"),
            ("employer_name", "required"),
            ("credit_code", "credit_code_check"),
            ("employment_form", "not_allowed"),
            ("org_id", "not_accepting_individuals"),
        ];
        let problems = bad.check(&ctx(Some(&o), None)).unwrap_err();
        let mut expected = vec![("consent.version", "outdated")];
        expected.extend(rest);
        assert_eq!(fields(&problems), expected);
        let refused = ApplicationInput {
            consent_accepted: false,
            ..bad
        };
        // Refusing consent does not hide the rest (issue 19): the worker fixes all at once.
        let problems = refused.check(&ctx(Some(&o), None)).unwrap_err();
        let mut expected = vec![("consent.accepted", "consent_required")];
        expected.extend(rest);
        assert_eq!(fields(&problems), expected);
        // The words are Chinese; the identifiers stay in `field`.
        for p in &problems {
            assert!(!p.zh.contains(&p.field), "{}: {}", p.field, p.zh);
        }
    }
}
