//! What is wrong with one field of what a user wrote: every validation in the domain reports
//! all its problems at once as a list of these, and the API turns the list into one 422.

use chrono::NaiveDate;
use serde_json::Value;

use crate::refusal::Explain;

/// One field's problem: the field, a stable code and texts. The field is the JSON path the
/// user wrote (`name`, `lines.2.total_fen`, `benefits.inpatient.minimum_fen`); an import
/// report names the column instead when the value came from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field.
    pub field: String,
    /// Stable code: `required`, `too_long`, `not_allowed`, `out_of_range`, `not_a_number`,
    /// `not_integer`, `negative`, `too_large`, `invalid`, or one a rule names.
    pub code: &'static str,
    /// What is wrong, in Chinese.
    pub zh: String,
    /// What is wrong, in English.
    pub en: String,
}

impl FieldProblem {
    /// A problem with `field`.
    pub fn new(
        field: impl Into<String>,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// `reason` (a parse error, say), against `field`.
    pub fn of(field: impl Into<String>, reason: &impl Explain) -> Self {
        Self::new(field, reason.code(), reason.zh(), reason.en())
    }

    /// The value is not one of `allowed`.
    pub fn not_one_of(field: &str, value: &str, allowed: &[&str]) -> Self {
        let list = allowed.join(", ");
        Self::new(
            field,
            "not_allowed",
            format!("{}「{value}」不在可选范围内，请重新选择", label(field)),
            format!("{field} `{value}` is not one of: {list}"),
        )
    }

    /// The field is missing or blank.
    pub fn required(field: &str) -> Self {
        Self::new(
            field,
            "required",
            format!("请填写{}", label(field)),
            format!("{field} is required"),
        )
    }
}

/// The Chinese words a worker or an official reads for a field, whose path stays in the
/// problem's `field`: the label of its last named segment (`lines.0.treated_on` → 就诊日期),
/// or 所填内容 for a field without one. Details say these words, never the identifier.
pub fn label(field: &str) -> &'static str {
    let name = field
        .rsplit('.')
        .find(|segment| !segment.is_empty() && !segment.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or(field);
    match name {
        "real_name" | "name" | "applicant" => "姓名",
        "id_number" => "身份证号码",
        "phone" => "手机号码",
        "employer_name" | "employer" => "工作单位",
        "credit_code" | "employer_credit_code" => "统一社会信用代码",
        "industry" => "所属行业",
        "employment_form" => "就业形态",
        "city" => "城市",
        "org_id" | "parent_id" => "组织",
        "kind" => "类别",
        "category" => "咨询类别",
        "status" => "状态",
        "subject" => "主题",
        "title" => "标题",
        "body" | "text" | "message" => "内容",
        "comment" => "评价内容",
        "hospital" => "医院",
        "invoice_number" => "发票号码",
        "treated_on" => "就诊日期",
        "reason" | "reason_code" => "理由",
        "method" => "方式",
        "amenity" => "设施",
        "lat" => "纬度",
        "lng" => "经度",
        "q" => "关键词",
        "limit" => "每页条数",
        "cursor" => "翻页位置",
        "lawyer_id" => "律师",
        "password" | "new_password" | "current_password" => "密码",
        "username" => "用户名",
        "role" => "角色",
        "counterparty" => "对方",
        "summary" => "事由",
        "aid" => "援助事项",
        "payee" => "收款人",
        "account_number" => "银行账号",
        "bank" => "开户银行",
        "documents" => "材料",
        "lines" => "费用明细",
        "stars" => "评分",
        "outcome" => "办理结果",
        "note" => "说明",
        "missing" => "需补充的内容",
        "threshold" => "人数阈值",
        "window_days" => "统计天数",
        "position" => "排序",
        "accept_minutes" => "接单时限",
        "first_response_minutes" => "首次响应时限",
        "resolution_minutes" => "办结时限",
        "years_in_practice" => "执业年限",
        "law_firm" => "律师事务所",
        "licence_number" => "执业证号",
        "bio" => "简介",
        "starts_on" => "开始日期",
        "ends_on" => "结束日期",
        "enrolment_opens_on" => "报名开始日期",
        "enrolment_closes_on" => "报名截止日期",
        "fee_fen" => "会费",
        "waiting_days" => "等待期天数",
        "second_review_from_fen" => "复核起点金额",
        "bank_reference" => "银行交易流水号",
        "reference" => "收款凭证号",
        "address" => "地址",
        "account_name" => "户名",
        "total_fen" => "总费用",
        "insurance_fen" => "医保支付金额",
        "out_of_pocket_fen" => "个人支付金额",
        "approved_fen" => "核定金额",
        "amount_fen" => "涉及金额",
        "display_name" => "显示名称",
        _ => "所填内容",
    }
}

/// The value of `result`, or `None` after noting its error against `field`.
pub fn check<T, E: Explain>(
    problems: &mut Vec<FieldProblem>,
    field: &str,
    result: Result<T, E>,
) -> Option<T> {
    result
        .map_err(|e| problems.push(FieldProblem::of(field, &e)))
        .ok()
}

/// `Ok` when nothing was noted, else every problem at once.
pub fn finish(problems: Vec<FieldProblem>) -> Result<(), Vec<FieldProblem>> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// `value` trimmed, when it is present and not blank.
pub fn present(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `value` trimmed, when present and at most `max` characters as sent (the contract's
/// `maxLength` counts what is sent, spaces around included); otherwise `None`, after noting
/// `required` (when it is) or `too_long` in `problems`.
pub fn text(
    problems: &mut Vec<FieldProblem>,
    field: &str,
    value: Option<String>,
    max: usize,
    required: bool,
) -> Option<String> {
    let sent = value.as_deref().map_or(0, |v| v.chars().count());
    match present(value) {
        None if required => {
            problems.push(FieldProblem::required(field));
            None
        }
        None => None,
        Some(_) if sent > max => {
            problems.push(FieldProblem::new(
                field,
                "too_long",
                format!("{}最多 {max} 个字符", label(field)),
                format!("{field} must be at most {max} characters"),
            ));
            None
        }
        Some(v) => Some(v),
    }
}

/// `value` read as a `YYYY-MM-DD` date; `None` after noting it missing (`required`) or
/// unreadable (`invalid`).
pub fn date(
    problems: &mut Vec<FieldProblem>,
    field: &str,
    value: Option<&str>,
) -> Option<NaiveDate> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        problems.push(FieldProblem::required(field));
        return None;
    };
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| {
            problems.push(FieldProblem::new(
                field,
                "invalid",
                format!("{}须为 YYYY-MM-DD 格式的日期", label(field)),
                format!("{field} must be a date as YYYY-MM-DD"),
            ));
        })
        .ok()
}

/// `value` read as a whole number in `range` (a JSON number without a fraction); `None` after
/// noting it missing (`required`) or outside the range (`out_of_range`).
pub fn whole_number(
    problems: &mut Vec<FieldProblem>,
    field: &str,
    value: Option<&Value>,
    range: std::ops::RangeInclusive<i64>,
) -> Option<i64> {
    let Some(value) = value else {
        problems.push(FieldProblem::required(field));
        return None;
    };
    match value.as_i64() {
        Some(n) if range.contains(&n) => Some(n),
        _ => {
            let (low, high) = (range.start(), range.end());
            problems.push(FieldProblem::new(
                field,
                "out_of_range",
                format!("{}须为 {low} 到 {high} 之间的整数", label(field)),
                format!("{field} must be a whole number from {low} to {high}"),
            ));
            None
        }
    }
}
