//! Telling people what happened (issue 20): which events tell whom what, the in-app inbox and
//! its port. WeChat subscribe messages ([`template`]) carry the same tidings to a worker who
//! is not looking.
//!
//! What an event tells is decided here, from the event alone ([`tidings`]): the person, the
//! kind of message (which they may switch off, [`NotificationKind`]), a Chinese title and body,
//! the record it is about, and the facts a subscribe message may quote ([`Facts`]). No message
//! carries more than the worker already knows: no ID number, no diagnosis, no bank account.

pub mod store;
pub mod template;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::account::{AccountId, Role};
use crate::money::Fen;
use crate::org::{OrgId, OrgPath};
use crate::outbox::RelayedEvent;

/// A kind of message, which a worker may switch off for WeChat (the inbox keeps everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotificationKind {
    /// 入会审核: the application approved, returned or rejected.
    Application,
    /// 会籍转移: a transfer decided.
    Transfer,
    /// 互助保障: an enrolment active (the fee recorded).
    Enrolment,
    /// 互助理赔: a claim returned, approved, rejected or paid.
    Claim,
    /// 法律咨询: a lawyer's reply or question, the consultation resolved.
    Consultation,
    /// 法律援助: an application accepted, rejected or closed.
    LegalAid,
    /// 主席信箱: the chairman's reply.
    Letter,
    /// 会员转出 (officials): a member of the organisation moved to another.
    TransferOut,
    /// 欠薪预警 (officials): the employer early warning raised an alert.
    EmployerAlert,
}

impl NotificationKind {
    /// Every kind.
    pub const ALL: [NotificationKind; 9] = [
        NotificationKind::Application,
        NotificationKind::Transfer,
        NotificationKind::Enrolment,
        NotificationKind::Claim,
        NotificationKind::Consultation,
        NotificationKind::LegalAid,
        NotificationKind::Letter,
        NotificationKind::TransferOut,
        NotificationKind::EmployerAlert,
    ];

    /// The kinds a worker receives, in the order their settings list them.
    pub const FOR_WORKERS: [NotificationKind; 7] = [
        NotificationKind::Application,
        NotificationKind::Transfer,
        NotificationKind::Enrolment,
        NotificationKind::Claim,
        NotificationKind::Consultation,
        NotificationKind::LegalAid,
        NotificationKind::Letter,
    ];

    /// The stored and sent word.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Application => "application",
            NotificationKind::Transfer => "transfer",
            NotificationKind::Enrolment => "enrolment",
            NotificationKind::Claim => "claim",
            NotificationKind::Consultation => "consultation",
            NotificationKind::LegalAid => "legal_aid",
            NotificationKind::Letter => "letter",
            NotificationKind::TransferOut => "transfer_out",
            NotificationKind::EmployerAlert => "employer_alert",
        }
    }

    /// Reads a stored or sent word.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The Chinese name a worker reads in settings.
    pub fn zh(self) -> &'static str {
        match self {
            NotificationKind::Application => "入会审核",
            NotificationKind::Transfer => "会籍转移",
            NotificationKind::Enrolment => "互助保障",
            NotificationKind::Claim => "互助理赔",
            NotificationKind::Consultation => "法律咨询",
            NotificationKind::LegalAid => "法律援助",
            NotificationKind::Letter => "主席信箱",
            NotificationKind::TransferOut => "会员转出",
            NotificationKind::EmployerAlert => "欠薪预警",
        }
    }
}

/// A value a subscribe message may quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// Words.
    Text(String),
    /// Money (fen), written as WeChat's `amount` type wants it: `¥300.00`.
    Amount(Fen),
    /// A moment, written in China Standard Time.
    Time(DateTime<Utc>),
}

/// The facts of one message, by name (`item`, `status`, `amount`, `reason`, `time`, `title`).
pub type Facts = BTreeMap<&'static str, Fact>;

/// What one event tells one person.
#[derive(Debug, Clone, PartialEq)]
pub struct Tiding {
    /// Who is told.
    pub account: AccountId,
    /// The kind of message.
    pub kind: NotificationKind,
    /// Title, ≤ 20 characters.
    pub title: String,
    /// One or two sentences.
    pub body: String,
    /// The record it is about: `membership_application`, `mutual_aid_claim`, …
    pub record_type: &'static str,
    /// Its id.
    pub record_id: String,
    /// What a subscribe message may quote.
    pub facts: Facts,
    /// Whether a WeChat message is left out while the person has the app open (a lawyer's
    /// reply reaches an open app through its socket).
    pub only_when_away: bool,
}

/// The facts every topic offers: the names a template's fields may use, with what they say.
pub const FACTS: [(&str, &str); 6] = [
    ("title", "通知标题，如「理赔申请已核准」"),
    ("item", "办理事项，如「互助理赔」"),
    ("status", "办理结果，如「已核准」（不超过 5 个字）"),
    ("amount", "金额（仅理赔与缴费通知），如 ¥300.00"),
    ("reason", "说明：退回或不通过的理由、需补充的内容"),
    ("time", "发生时间（北京时间）"),
];

/// The topics that tell a worker something, with their Chinese description: what a
/// `super_admin` may attach a subscribe template to.
pub const TOPICS: [(&str, &str); 16] = [
    ("membership.application.approved", "入会申请通过"),
    ("membership.application.returned", "入会申请退回补充"),
    ("membership.application.rejected", "入会申请未通过"),
    ("membership.transfer.approved", "转会申请通过"),
    ("membership.transfer.rejected", "转会申请未通过"),
    ("mutual_aid.enrollment.active", "互助保障生效"),
    ("mutual_aid.claim.returned", "理赔申请退回补充"),
    ("mutual_aid.claim.approved", "理赔申请核准"),
    ("mutual_aid.claim.rejected", "理赔申请未通过"),
    ("mutual_aid.claim.paid", "互助金已支付"),
    ("consultation.answer", "律师回复或提问"),
    ("consultation.resolve", "咨询已办结"),
    ("legal_aid.accept", "法律援助申请受理"),
    ("legal_aid.reject", "法律援助申请未受理"),
    ("legal_aid.close", "法律援助结案"),
    ("mailbox.letter.reply", "主席信箱回复"),
];

fn text(payload: &Value, pointer: &str) -> Option<String> {
    payload
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn fen(payload: &Value, pointer: &str) -> Option<Fen> {
    payload
        .pointer(pointer)
        .and_then(Value::as_i64)
        .and_then(Fen::new)
}

/// What `event` tells, and to whom: nothing for events no worker needs to hear of.
/// The payload fields read are those the routes write (`account_id`, `id`, `decision`,
/// `transition`, …); an event without its worker tells no one.
pub fn tidings(event: &RelayedEvent) -> Vec<Tiding> {
    let p = &event.payload;
    let Some(account) = text(p, "/account_id").and_then(|a| AccountId::parse(&a)) else {
        return Vec::new();
    };
    let id = text(p, "/id").unwrap_or_default();
    use NotificationKind as K;
    let (kind, record_type, record_id, title, status, body, reason, amount): (
        K,
        &'static str,
        String,
        &str,
        &str,
        String,
        Option<String>,
        Option<Fen>,
    ) = match event.topic.as_str() {
        "membership.application.approved" => (
            K::Application,
            "membership_application",
            id,
            "入会申请已通过",
            "已通过",
            "您的入会申请已审核通过，欢迎加入工会。".into(),
            None,
            None,
        ),
        "membership.application.returned" => {
            let missing = text(p, "/decision/missing");
            (
                K::Application,
                "membership_application",
                id,
                "入会申请需补充材料",
                "待补充",
                format!(
                    "您的入会申请需要补充：{}。请修改后重新提交。",
                    missing.as_deref().unwrap_or("材料")
                ),
                missing,
                None,
            )
        }
        "membership.application.rejected" => {
            let reason = text(p, "/decision/reason");
            (
                K::Application,
                "membership_application",
                id,
                "入会申请未通过",
                "未通过",
                format!(
                    "您的入会申请未通过审核{}",
                    reason.as_deref().map_or("。".into(), |r| format!("：{r}"))
                ),
                reason,
                None,
            )
        }
        "membership.transfer.approved" => (
            K::Transfer,
            "membership_transfer",
            id,
            "转会申请已通过",
            "已通过",
            "您的会籍转移已办结，会籍已转入新的工会组织。".into(),
            None,
            None,
        ),
        "membership.transfer.rejected" => {
            let reason = text(p, "/reason");
            (
                K::Transfer,
                "membership_transfer",
                id,
                "转会申请未通过",
                "未通过",
                format!(
                    "您的转会申请未通过{}",
                    reason.as_deref().map_or("。".into(), |r| format!("：{r}"))
                ),
                reason,
                None,
            )
        }
        "mutual_aid.enrollment.active" => {
            let amount = fen(p, "/amount_fen");
            (
                K::Enrolment,
                "mutual_aid_enrollment",
                text(p, "/enrollment_id").unwrap_or_default(),
                "互助保障已生效",
                "已生效",
                format!(
                    "您的互助保障费{}已登记，保障已生效。",
                    amount.map_or(String::new(), |a| format!(" {a} "))
                ),
                None,
                amount,
            )
        }
        "mutual_aid.claim.returned" => {
            let note = text(p, "/transition/note");
            (
                K::Claim,
                "mutual_aid_claim",
                id,
                "理赔申请需补充材料",
                "待补充",
                format!(
                    "您的理赔申请已退回：{}。请补充后重新提交。",
                    note.as_deref().unwrap_or("请查看说明")
                ),
                note,
                fen(p, "/transition/claimed_fen"),
            )
        }
        "mutual_aid.claim.approved" => {
            let amount = fen(p, "/transition/approved_fen");
            (
                K::Claim,
                "mutual_aid_claim",
                id,
                "理赔申请已核准",
                "已核准",
                format!(
                    "您的理赔申请已核准{}，互助金将尽快支付。",
                    amount.map_or(String::new(), |a| format!("，核准金额 {a}"))
                ),
                None,
                amount,
            )
        }
        "mutual_aid.claim.rejected" => {
            let note = text(p, "/transition/note");
            (
                K::Claim,
                "mutual_aid_claim",
                id,
                "理赔申请未通过",
                "未通过",
                format!(
                    "您的理赔申请未通过审核{}",
                    note.as_deref().map_or("。".into(), |r| format!("：{r}"))
                ),
                note,
                fen(p, "/transition/claimed_fen"),
            )
        }
        "mutual_aid.claim.paid" => {
            let amount = fen(p, "/transition/paid_fen");
            (
                K::Claim,
                "mutual_aid_claim",
                id,
                "互助金已支付",
                "已支付",
                format!(
                    "您的互助金{}已支付，请留意银行到账。",
                    amount.map_or(String::new(), |a| format!(" {a} "))
                ),
                None,
                amount,
            )
        }
        "consultation.answer" => {
            let asks = text(p, "/transition/to").as_deref() == Some("pending");
            let (title, body) = if asks {
                ("律师向您提问", "律师在您的咨询中提出了问题，请及时回复。")
            } else {
                ("律师回复了您的咨询", "律师回复了您的咨询，请查看。")
            };
            let mut t = one(
                account,
                K::Consultation,
                "consultation",
                id,
                title,
                "已回复",
                body.into(),
                None,
                None,
                event.created_at,
            );
            t.only_when_away = true;
            return vec![t];
        }
        "consultation.resolve" => (
            K::Consultation,
            "consultation",
            id,
            "咨询已办结",
            "已办结",
            "您的法律咨询已办结，欢迎对律师的服务作出评价。".into(),
            None,
            None,
        ),
        "legal_aid.accept" => (
            K::LegalAid,
            "legal_aid_application",
            id,
            "法律援助申请已受理",
            "已受理",
            "您的法律援助申请已受理，工作人员将与您联系。".into(),
            None,
            None,
        ),
        "legal_aid.reject" => (
            K::LegalAid,
            "legal_aid_application",
            id,
            "法律援助申请未受理",
            "未受理",
            "您的法律援助申请未予受理，详情请查看申请。".into(),
            None,
            None,
        ),
        "legal_aid.close" => (
            K::LegalAid,
            "legal_aid_application",
            id,
            "法律援助已结案",
            "已结案",
            "您的法律援助事项已结案。".into(),
            None,
            None,
        ),
        "mailbox.letter.reply" => (
            K::Letter,
            "mailbox_letter",
            id,
            "主席信箱回复了您的来信",
            "已回复",
            "工会主席信箱已回复您的来信，请查看。".into(),
            None,
            None,
        ),
        _ => return Vec::new(),
    };
    vec![one(
        account,
        kind,
        record_type,
        record_id,
        title,
        status,
        body,
        reason,
        amount,
        event.created_at,
    )]
}

#[allow(clippy::too_many_arguments)]
fn one(
    account: AccountId,
    kind: NotificationKind,
    record_type: &'static str,
    record_id: String,
    title: &str,
    status: &str,
    body: String,
    reason: Option<String>,
    amount: Option<Fen>,
    at: DateTime<Utc>,
) -> Tiding {
    let mut facts = Facts::new();
    facts.insert("title", Fact::Text(title.to_owned()));
    facts.insert("item", Fact::Text(kind.zh().to_owned()));
    facts.insert("status", Fact::Text(status.to_owned()));
    facts.insert("time", Fact::Time(at));
    if let Some(reason) = reason {
        facts.insert("reason", Fact::Text(reason));
    }
    if let Some(amount) = amount {
        facts.insert("amount", Fact::Amount(amount));
    }
    Tiding {
        account,
        kind,
        title: title.to_owned(),
        body,
        record_type,
        record_id,
        facts,
        only_when_away: false,
    }
}

/// What an event tells the officials of an organisation (issue 20, item 4): those of
/// [`Notice::roles`] at the organisation nearest to it (itself or the closest ancestor) that
/// has any, in their inbox and on their socket.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The organisation it happened in, by id (its path looked up) …
    pub org_id: Option<OrgId>,
    /// … or by path, when the event carries it.
    pub org_path: Option<OrgPath>,
    /// The roles told: those who act on it.
    pub roles: &'static [Role],
    /// What it tells, for each official (the account filled in per official).
    pub tiding: Tiding,
}

/// Those who decide membership matters.
const MEMBERSHIP_OFFICIALS: [Role; 3] = [Role::SuperAdmin, Role::OrgAdmin, Role::Reviewer];
/// Those who handle consultations.
const CONSULTATION_OFFICIALS: [Role; 2] = [Role::SuperAdmin, Role::OrgAdmin];

/// What `event` tells officials: the old organisation of an approved transfer (粤工惠's rule:
/// it is told, it has no veto), and the branch an employer early-warning alert was raised in.
pub fn notices(event: &RelayedEvent) -> Vec<Notice> {
    let p = &event.payload;
    let id = text(p, "/id").unwrap_or_default();
    let notice = match event.topic.as_str() {
        "membership.transfer.approved" => Notice {
            org_id: text(p, "/from_org_id").and_then(|o| OrgId::parse(&o)),
            org_path: None,
            roles: &MEMBERSHIP_OFFICIALS,
            tiding: one(
                AccountId::default(),
                NotificationKind::TransferOut,
                "membership_transfer",
                id,
                "会员已转出",
                "已转出",
                "本会一名会员的会籍转移已办结，会籍已转入其他工会组织，会员编号不变。".into(),
                None,
                None,
                event.created_at,
            ),
        },
        "consultation.employer_alert" => {
            let employer = text(p, "/employer").unwrap_or_else(|| "同一用人单位".into());
            let count = p.get("consultations").and_then(Value::as_i64).unwrap_or(0);
            let days = p.get("window_days").and_then(Value::as_i64).unwrap_or(0);
            Notice {
                org_id: None,
                org_path: text(p, "/org_path").map(OrgPath::from_stored),
                roles: &CONSULTATION_OFFICIALS,
                tiding: one(
                    AccountId::default(),
                    NotificationKind::EmployerAlert,
                    "employer_alert",
                    id,
                    "欠薪预警",
                    "待处理",
                    format!(
                        "「{employer}」在 {days} 天内已有 {count} 起劳动争议咨询，请及时关注。"
                    ),
                    None,
                    None,
                    event.created_at,
                ),
            }
        }
        _ => return Vec::new(),
    };
    if notice.org_id.is_none() && notice.org_path.is_none() {
        return Vec::new();
    }
    vec![notice]
}

/// One row of a person's inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Its id (a UUIDv7, so ids sort as they were written).
    pub id: String,
    /// Whose inbox.
    pub account: AccountId,
    /// The outbox event it came from (one notification per event and person).
    pub event_id: String,
    /// The kind of message.
    pub kind: NotificationKind,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// The record it is about.
    pub record_type: String,
    /// Its id.
    pub record_id: String,
    /// When it happened (UTC).
    pub created_at: DateTime<Utc>,
    /// When the person read it, if they have.
    pub read_at: Option<DateTime<Utc>>,
}

impl Notification {
    /// The inbox row of `tiding`, from `event`.
    pub fn of(tiding: &Tiding, event: &RelayedEvent, id: String) -> Self {
        Self {
            id,
            account: tiding.account,
            event_id: event.id.clone(),
            kind: tiding.kind,
            title: tiding.title.clone(),
            body: tiding.body.clone(),
            record_type: tiding.record_type.to_owned(),
            record_id: tiding.record_id.clone(),
            created_at: event.created_at,
            read_at: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(topic: &str, payload: Value) -> RelayedEvent {
        RelayedEvent {
            id: "e1".into(),
            topic: topic.into(),
            payload,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn every_topic_listed_tells_its_worker() {
        let account = AccountId::new();
        for (topic, _) in TOPICS {
            let t = tidings(&event(
                topic,
                json!({ "id": "r1", "enrollment_id": "r1", "account_id": account.to_string() }),
            ));
            assert_eq!(t.len(), 1, "{topic}");
            assert_eq!(t[0].account, account);
            assert_eq!(t[0].record_id, "r1", "{topic}");
            assert!(t[0].title.chars().count() <= 20, "{topic}");
        }
    }

    #[test]
    fn a_paid_claim_quotes_its_amount_and_an_unlisted_topic_tells_no_one() {
        let account = AccountId::new();
        let t = tidings(&event(
            "mutual_aid.claim.paid",
            json!({ "id": "c", "account_id": account.to_string(),
                    "transition": { "paid_fen": 30_000 } }),
        ));
        assert_eq!(
            t[0].facts.get("amount"),
            Some(&Fact::Amount(Fen::new(30_000).unwrap()))
        );
        assert!(t[0].body.contains("300.00 元"), "{}", t[0].body);
        assert!(tidings(&event(
            "mutual_aid.claim.submitted",
            json!({ "account_id": account.to_string() })
        ))
        .is_empty());
        assert!(tidings(&event("mutual_aid.claim.paid", json!({ "id": "c" }))).is_empty());
    }
}
