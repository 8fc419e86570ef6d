//! The chairman mailbox (主席信箱, DOMAIN.md; 毕节's mini-program has one): a worker writes to
//! an organisation's chairman, publicly or privately, signed or anonymous to the public —
//! never to the officials, who must be able to answer. Officials of that organisation (or
//! above it) reply; public letters with their replies are listed with names masked.
//!
//! ```text
//! received ──reply──▶ replied ──close──▶ closed
//!    └──withdraw (the writer)──▶ withdrawn
//! ```

pub mod store;

use chrono::{DateTime, Utc};

use crate::account::AccountId;
use crate::org::{OrgId, OrgPath};

crate::uuid_id!(
    /// Identifier of a letter.
    LetterId
);

/// Where a letter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetterStatus {
    /// 已收到: waiting for the reply.
    Received,
    /// 已回复.
    Replied,
    /// 已办结.
    Closed,
    /// 已撤回: the writer took it back before any reply.
    Withdrawn,
}

impl LetterStatus {
    /// Every state.
    pub const ALL: [LetterStatus; 4] = [
        LetterStatus::Received,
        LetterStatus::Replied,
        LetterStatus::Closed,
        LetterStatus::Withdrawn,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            LetterStatus::Received => "received",
            LetterStatus::Replied => "replied",
            LetterStatus::Closed => "closed",
            LetterStatus::Withdrawn => "withdrawn",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What a worker reads.
    pub fn zh(self) -> &'static str {
        match self {
            LetterStatus::Received => "已收到",
            LetterStatus::Replied => "已回复",
            LetterStatus::Closed => "已办结",
            LetterStatus::Withdrawn => "已撤回",
        }
    }
}

/// A letter to a chairman.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// Id.
    pub id: LetterId,
    /// The worker who wrote it (officials always know who wrote).
    pub account_id: AccountId,
    /// The organisation whose chairman it is addressed to.
    pub org_id: OrgId,
    /// Its path: officials of it and above answer.
    pub org_path: OrgPath,
    /// The name the worker signs with, 1–20 characters.
    pub name: String,
    /// Subject, 1–50 characters.
    pub subject: String,
    /// Body, 1–2,000 characters.
    pub body: String,
    /// Listed publicly once replied.
    pub public: bool,
    /// Shown to the public without a name.
    pub anonymous: bool,
    /// Held by the content check: never listed publicly.
    pub held: bool,
    /// Where it is.
    pub status: LetterStatus,
    /// The reply, 1–2,000 characters.
    pub reply: Option<String>,
    /// Who replied.
    pub replied_by: Option<AccountId>,
    /// When (UTC).
    pub replied_at: Option<DateTime<Utc>>,
    /// Written (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

impl Letter {
    /// The signature the public reads: `匿名职工` for an anonymous letter, else the name with
    /// all but its first character masked (`王**`).
    pub fn public_name(&self) -> String {
        if self.anonymous {
            return "匿名职工".to_owned();
        }
        let mut chars = self.name.chars();
        let first = chars.next().map(String::from).unwrap_or_default();
        let rest = chars.count().max(1);
        format!("{first}{}", "*".repeat(rest))
    }

    /// Whether the public list shows it: public, not held, and answered.
    pub fn listed(&self) -> bool {
        self.public && !self.held && self.reply.is_some()
    }
}

/// What an official (or, to withdraw, the writer) does with a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Answers it (once).
    Reply(String),
    /// Closes an answered letter.
    Close,
    /// The writer takes it back before any reply.
    Withdraw,
}

crate::reasons! {
    /// Why a letter cannot take a step: it is not where the step needs it.
    pub enum LetterRefusal {
        /// Replying to a letter that has its reply (someone replied first).
        AlreadyReplied = (Conflict, "already_replied", "这封信已经回复过了",
            "This letter has already been replied to"),
        /// Closing a letter that has no reply yet (or is closed).
        NotReplied = (Conflict, "not_replied", "这封信尚未回复，不能办结",
            "This letter has no reply yet, so it cannot be closed"),
        /// Replying to or closing a letter its writer withdrew.
        Withdrawn = (Conflict, "withdrawn", "写信人已撤回这封信",
            "The writer withdrew this letter"),
        /// Withdrawing a letter that has its reply, or is withdrawn already.
        NotWithdrawable = (Conflict, "not_withdrawable", "这封信已回复、已办结或已撤回，不能撤回",
            "This letter was replied to, closed or withdrawn already"),
        /// Withdrawing someone else's letter.
        NotTheWriter = (Forbidden, "not_the_writer", "只有写信人可以撤回这封信",
            "Only the writer may withdraw this letter"),
    }
}

/// `letter` after `by`'s `command` at `at` (an official's; the writer's for
/// [`Command::Withdraw`]), or the [`LetterRefusal`] of a step its state does not allow.
pub fn decide(
    letter: &Letter,
    by: AccountId,
    command: &Command,
    at: DateTime<Utc>,
) -> Result<Letter, LetterRefusal> {
    let mut l = letter.clone();
    match command {
        Command::Withdraw => {
            if l.account_id != by {
                return Err(LetterRefusal::NotTheWriter);
            }
            if l.status != LetterStatus::Received {
                return Err(LetterRefusal::NotWithdrawable);
            }
            l.status = LetterStatus::Withdrawn;
        }
        _ if l.status == LetterStatus::Withdrawn => return Err(LetterRefusal::Withdrawn),
        Command::Reply(text) => {
            if l.status != LetterStatus::Received {
                return Err(LetterRefusal::AlreadyReplied);
            }
            l.status = LetterStatus::Replied;
            l.reply = Some(text.clone());
            l.replied_by = Some(by);
            l.replied_at = Some(at);
        }
        Command::Close => {
            if l.status != LetterStatus::Replied {
                return Err(LetterRefusal::NotReplied);
            }
            l.status = LetterStatus::Closed;
        }
    }
    l.updated_at = at;
    Ok(l)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn letter() -> Letter {
        let at = Utc::now();
        Letter {
            id: LetterId::new(),
            account_id: AccountId::new(),
            org_id: OrgId::new(),
            org_path: OrgPath::from_stored("a".into()),
            name: "王建军".into(),
            subject: "食堂".into(),
            body: "建议延长食堂开放时间".into(),
            public: true,
            anonymous: false,
            held: false,
            status: LetterStatus::Received,
            reply: None,
            replied_by: None,
            replied_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn names_are_masked_or_withheld_for_the_public() {
        let mut l = letter();
        assert_eq!(l.public_name(), "王**");
        l.name = "李".into();
        assert_eq!(l.public_name(), "李*");
        l.anonymous = true;
        assert_eq!(l.public_name(), "匿名职工");
    }

    #[test]
    fn a_letter_is_answered_once_then_closed_and_listed_only_when_public_and_clean() {
        let (by, at) = (AccountId::new(), Utc::now());
        let l = letter();
        assert!(!l.listed());
        assert_eq!(
            decide(&l, by, &Command::Close, at),
            Err(LetterRefusal::NotReplied)
        );
        let replied = decide(&l, by, &Command::Reply("已协调延长到 21 点".into()), at).unwrap();
        assert_eq!(replied.status, LetterStatus::Replied);
        assert!(replied.listed());
        assert_eq!(
            decide(&replied, by, &Command::Reply("再答".into()), at),
            Err(LetterRefusal::AlreadyReplied)
        );
        let closed = decide(&replied, by, &Command::Close, at).unwrap();
        assert_eq!(closed.status, LetterStatus::Closed);
        assert_eq!(
            decide(&closed, by, &Command::Close, at),
            Err(LetterRefusal::NotReplied)
        );
        let mut held = replied.clone();
        held.held = true;
        assert!(!held.listed());
        let mut private = replied;
        private.public = false;
        assert!(!private.listed());
    }

    #[test]
    fn the_writer_withdraws_a_letter_before_its_reply() {
        let (official, at) = (AccountId::new(), Utc::now());
        let l = letter();
        assert_eq!(
            decide(&l, official, &Command::Withdraw, at),
            Err(LetterRefusal::NotTheWriter)
        );
        let withdrawn = decide(&l, l.account_id, &Command::Withdraw, at).unwrap();
        assert_eq!(withdrawn.status, LetterStatus::Withdrawn);
        assert!(!withdrawn.listed());
        for step in [Command::Reply("答复".into()), Command::Close] {
            assert_eq!(
                decide(&withdrawn, official, &step, at),
                Err(LetterRefusal::Withdrawn)
            );
        }
        assert_eq!(
            decide(&withdrawn, l.account_id, &Command::Withdraw, at),
            Err(LetterRefusal::NotWithdrawable)
        );
        let replied = decide(&l, official, &Command::Reply("已协调".into()), at).unwrap();
        assert_eq!(
            decide(&replied, l.account_id, &Command::Withdraw, at),
            Err(LetterRefusal::NotWithdrawable)
        );
    }
}
