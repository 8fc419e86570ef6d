//! WeChat subscribe messages (`shared/design/WECHAT.md`, "Subscribe messages"): which template
//! an event sends, its fields and the page it opens are data a `super_admin` edits
//! ([`SubscribeTemplate`]); [`SubscribeTemplate::check`] holds them to WeChat's field rules
//! when saved, and [`SubscribeTemplate::render`] fills them from a [`Tiding`], cutting each
//! value to its type's limit with the cut shown as "…".

use std::collections::BTreeMap;

use crate::calendar::china_time;
use crate::notification::{Fact, Tiding, FACTS, TOPICS};
use crate::problem::FieldProblem;

/// Longest template id accepted (WeChat's are 43 characters).
pub const MAX_TEMPLATE_ID: usize = 128;
/// Longest page path accepted.
pub const MAX_PAGE: usize = 512;
/// Most fields in one template.
pub const MAX_FIELDS: usize = 10;
/// Longest field value pattern accepted (before filling).
pub const MAX_PATTERN: usize = 100;

/// A subscribe template's value types (WECHAT.md), named by a data key without its digits:
/// `thing1` is a `thing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// `thing`: ≤ 20 characters.
    Thing,
    /// `number`: ≤ 32 digits.
    Number,
    /// `letter`: ≤ 32 letters.
    Letter,
    /// `symbol`: ≤ 5 symbols.
    Symbol,
    /// `character_string`: ≤ 32 letters, digits and symbols.
    CharacterString,
    /// `time`: `2019年10月1日 15:01`.
    Time,
    /// `date`: `2019年10月1日`.
    Date,
    /// `amount`: a currency sign and ≤ 10 digits, `¥300.00`.
    Amount,
    /// `phone_number`: ≤ 17 characters.
    PhoneNumber,
    /// `car_number`: ≤ 8 characters.
    CarNumber,
    /// `name`: ≤ 10 characters.
    Name,
    /// `phrase`: ≤ 5 Chinese characters.
    Phrase,
}

impl ValueType {
    const NAMES: [(&'static str, ValueType); 12] = [
        ("thing", ValueType::Thing),
        ("number", ValueType::Number),
        ("letter", ValueType::Letter),
        ("symbol", ValueType::Symbol),
        ("character_string", ValueType::CharacterString),
        ("time", ValueType::Time),
        ("date", ValueType::Date),
        ("amount", ValueType::Amount),
        ("phone_number", ValueType::PhoneNumber),
        ("car_number", ValueType::CarNumber),
        ("name", ValueType::Name),
        ("phrase", ValueType::Phrase),
    ];

    /// The type of a data key (`thing1`, `amount12`): its name followed by 1–3 digits.
    pub fn of_key(key: &str) -> Option<ValueType> {
        let name = key.trim_end_matches(|c: char| c.is_ascii_digit());
        let digits = key.len() - name.len();
        if !(1..=3).contains(&digits) {
            return None;
        }
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    /// The most characters a value may have, and whether a cut is shown with "…".
    fn limit(self) -> (usize, bool) {
        match self {
            ValueType::Thing => (20, true),
            ValueType::Name => (10, true),
            ValueType::Phrase => (5, true),
            ValueType::Number | ValueType::Letter | ValueType::CharacterString => (32, false),
            ValueType::Symbol => (5, false),
            ValueType::PhoneNumber => (17, false),
            ValueType::CarNumber => (8, false),
            ValueType::Time | ValueType::Date | ValueType::Amount => (32, false),
        }
    }
}

/// Which template an event's topic sends, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeTemplate {
    /// The event topic (one of [`TOPICS`]).
    pub topic: String,
    /// WeChat's template id, from the mini-program's template library.
    pub template_id: String,
    /// The mini-program page the message opens; `{id}` is the record's id
    /// (`pages/claim/detail?id={id}`).
    pub page: String,
    /// Data key (`thing1`) → value pattern with `{fact}` placeholders ([`FACTS`]).
    pub data: BTreeMap<String, String>,
}

/// A message ready for `subscribeMessage.send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeMessage {
    /// WeChat's template id.
    pub template_id: String,
    /// The page, its `{id}` filled.
    pub page: String,
    /// Data key → value, each within its type's limit.
    pub data: BTreeMap<String, String>,
}

/// A pattern's pieces: literal text and placeholders.
enum Piece<'a> {
    Text(&'a str),
    Fact(&'a str),
}

/// Splits `pattern` into pieces; `None` when a brace is unmatched.
fn pieces(pattern: &str) -> Option<Vec<Piece<'_>>> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return None;
        }
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let close = rest[open..].find('}')? + open;
        let name = &rest[open + 1..close];
        if name.contains('{') {
            return None;
        }
        out.push(Piece::Fact(name));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Some(out)
}

fn is_fact(name: &str) -> bool {
    FACTS.iter().any(|(n, _)| *n == name)
}

impl SubscribeTemplate {
    /// Checks a template against WeChat's rules and ours, reporting every problem at once
    /// (fields `topic`, `template_id`, `page`, `data`, `data.<key>`): the topic one of
    /// [`TOPICS`]; the template id 1–128 letters, digits, `-` or `_`; the page a relative
    /// mini-program path whose only placeholder is `{id}`; 1–10 data keys, each a WeChat value
    /// type with a 1–3 digit number; each pattern 1–100 characters using only [`FACTS`],
    /// `amount…` keys exactly `{amount}`, `time…` and `date…` keys exactly `{time}`.
    pub fn check(&self) -> Result<(), Vec<FieldProblem>> {
        let mut problems = Vec::new();
        if !TOPICS.iter().any(|(t, _)| *t == self.topic) {
            problems.push(FieldProblem::new(
                "topic",
                "not_allowed",
                "该事件不发送订阅消息",
                "no subscribe message is sent for this topic",
            ));
        }
        let id_ok = !self.template_id.is_empty()
            && self.template_id.len() <= MAX_TEMPLATE_ID
            && self
                .template_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            problems.push(FieldProblem::new(
                "template_id",
                "invalid",
                "模板编号应为 1 至 128 位字母、数字、- 或 _（在小程序后台「订阅消息」中复制）",
                "template_id must be 1–128 letters, digits, - or _",
            ));
        }
        let page_chars = self
            .page
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./?=&{}".contains(&b));
        let page_placeholders = pieces(&self.page).is_some_and(|ps| {
            ps.iter()
                .all(|p| matches!(p, Piece::Text(_)) || matches!(p, Piece::Fact("id")))
        });
        if self.page.is_empty()
            || self.page.len() > MAX_PAGE
            || self.page.starts_with('/')
            || !page_chars
            || !page_placeholders
        {
            problems.push(FieldProblem::new(
                "page",
                "invalid",
                "跳转页面应为小程序内的页面路径：不以 / 开头，只可用 {id} 代表记录编号",
                "page must be a relative mini-program path whose only placeholder is {id}",
            ));
        }
        if self.data.is_empty() || self.data.len() > MAX_FIELDS {
            problems.push(FieldProblem::new(
                "data",
                "invalid",
                "模板内容应有 1 至 10 个字段",
                "data must have 1–10 keys",
            ));
        }
        for (key, pattern) in &self.data {
            let field = format!("data.{key}");
            let Some(kind) = ValueType::of_key(key) else {
                problems.push(FieldProblem::new(
                    field,
                    "invalid",
                    "字段名应与小程序后台模板详情中的关键词代码一致：类型名加 1 至 3 位编号",
                    "keys are a WeChat value type and a number, e.g. thing1",
                ));
                continue;
            };
            let parts = pieces(pattern);
            let known = parts.as_ref().is_some_and(|ps| {
                ps.iter().all(|p| match p {
                    Piece::Fact(name) => is_fact(name),
                    Piece::Text(_) => true,
                })
            });
            let exact = |want: &str| pattern == want;
            let shaped = match kind {
                ValueType::Amount => exact("{amount}"),
                ValueType::Time | ValueType::Date => exact("{time}"),
                // No fact is a number: a number field holds digits of its own.
                ValueType::Number => pattern.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
                _ => true,
            };
            if pattern.trim().is_empty() || pattern.chars().count() > MAX_PATTERN || !known {
                problems.push(FieldProblem::new(
                    field,
                    "invalid",
                    "字段内容应为 1 至 100 个字，只可使用 {title}、{item}、{status}、{amount}、{reason}、{time} 占位",
                    "patterns are 1–100 characters with known {fact} placeholders",
                ));
            } else if !shaped {
                problems.push(FieldProblem::new(
                    field,
                    "invalid",
                    "金额字段只能填 {amount}，时间与日期字段只能填 {time}，数字字段只能填数字",
                    "amount keys take exactly {amount}, time and date keys exactly {time}, number keys digits",
                ));
            }
        }
        crate::problem::finish(problems)
    }

    /// Fills the template from `tiding` for record `record_id`: each value within its
    /// type's limit ("…" where words were cut), a fact the event lacks written as 无.
    pub fn render(&self, tiding: &Tiding) -> SubscribeMessage {
        let data = self
            .data
            .iter()
            .map(|(key, pattern)| {
                let kind = ValueType::of_key(key).unwrap_or(ValueType::Thing);
                (key.clone(), fill(pattern, kind, tiding))
            })
            .collect();
        SubscribeMessage {
            template_id: self.template_id.clone(),
            page: self.page.replace("{id}", &tiding.record_id),
            data,
        }
    }
}

fn fill(pattern: &str, kind: ValueType, tiding: &Tiding) -> String {
    let mut out = String::new();
    for piece in pieces(pattern).unwrap_or_default() {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Fact(name) => match tiding.facts.get(name) {
                Some(Fact::Text(t)) => out.push_str(t),
                Some(Fact::Amount(fen)) => {
                    let f = fen.get();
                    out.push_str(&format!("¥{}.{:02}", f / 100, f % 100));
                }
                Some(Fact::Time(at)) => {
                    let local = china_time(*at);
                    let format = if kind == ValueType::Date {
                        "%Y年%-m月%-d日"
                    } else {
                        "%Y年%-m月%-d日 %H:%M"
                    };
                    out.push_str(&local.format(format).to_string());
                }
                None => out.push('无'),
            },
        }
    }
    let out = out.trim();
    let out = if out.is_empty() { "无" } else { out };
    cut(out, kind)
}

/// `value` within `kind`'s limit: cut to one character less and "…" for words, to the limit
/// for codes.
pub fn cut(value: &str, kind: ValueType) -> String {
    let (max, ellipsis) = kind.limit();
    if value.chars().count() <= max {
        return value.to_owned();
    }
    if ellipsis {
        let mut s: String = value.chars().take(max - 1).collect();
        s.push('…');
        s
    } else {
        value.chars().take(max).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::account::AccountId;
    use crate::money::Fen;
    use crate::notification::{Facts, NotificationKind};

    fn template(data: &[(&str, &str)]) -> SubscribeTemplate {
        SubscribeTemplate {
            topic: "mutual_aid.claim.paid".into(),
            template_id: "tpl-Claim_1".into(),
            page: "pages/claim/detail?id={id}".into(),
            data: data
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn tiding(reason: &str) -> Tiding {
        let mut facts = Facts::new();
        facts.insert("title", Fact::Text("互助金已支付".into()));
        facts.insert("status", Fact::Text("已支付".into()));
        facts.insert("reason", Fact::Text(reason.into()));
        facts.insert("amount", Fact::Amount(Fen::new(30_012).unwrap()));
        facts.insert(
            "time",
            Fact::Time(Utc.with_ymd_and_hms(2026, 12, 4, 7, 5, 0).unwrap()),
        );
        Tiding {
            account: AccountId::new(),
            kind: NotificationKind::Claim,
            title: "互助金已支付".into(),
            body: String::new(),
            record_type: "mutual_aid_claim",
            record_id: "c-1".into(),
            facts,
            only_when_away: false,
        }
    }

    #[test]
    fn a_template_is_filled_and_cut_to_wechat_limits() {
        let t = template(&[
            ("thing1", "{title}：{reason}"),
            ("amount2", "{amount}"),
            ("time3", "{time}"),
            ("date4", "{time}"),
            ("phrase5", "{status}"),
            ("thing6", "{item}"),
        ]);
        t.check().unwrap();
        let m = t.render(&tiding("请补充住院费用清单原件和出院小结，并重新提交申请"));
        assert_eq!(m.page, "pages/claim/detail?id=c-1");
        assert_eq!(m.data["amount2"], "¥300.12");
        assert_eq!(m.data["time3"], "2026年12月4日 15:05");
        assert_eq!(m.data["date4"], "2026年12月4日");
        assert_eq!(m.data["phrase5"], "已支付");
        assert_eq!(m.data["thing6"], "无", "a fact the event lacks");
        assert_eq!(m.data["thing1"].chars().count(), 20);
        assert!(m.data["thing1"].ends_with('…'), "{}", m.data["thing1"]);
    }

    #[test]
    fn every_broken_rule_is_reported_at_once() {
        let mut t = template(&[
            ("thing", "{title}"),
            ("amount1", "共 {amount}"),
            ("thing2", "{id_number}"),
            ("thing3", "{title"),
        ]);
        t.topic = "worker.deleted".into();
        t.template_id = "has space".into();
        t.page = "/pages/x?id={record}".into();
        let problems = t.check().unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "topic",
                "template_id",
                "page",
                "data.amount1",
                "data.thing",
                "data.thing2",
                "data.thing3"
            ]
        );
    }

    #[test]
    fn keys_are_a_type_and_a_number() {
        assert_eq!(
            ValueType::of_key("character_string12"),
            Some(ValueType::CharacterString)
        );
        assert_eq!(ValueType::of_key("thing1234"), None);
        assert_eq!(ValueType::of_key("colour1"), None);
        assert_eq!(cut("一二三四五六", ValueType::Phrase), "一二三四…");
        assert_eq!(
            cut("12345678901234567890123456789012345", ValueType::Number).len(),
            32
        );
    }
}
