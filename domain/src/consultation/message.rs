//! Messages of a consultation thread: text from the worker or the lawyer (1–2,000
//! characters, through msgSecCheck first) and system lines for the steps both should see
//! ("张明 律师已接单"). Ids are UUIDv7, so they sort by time and serve as the `after` cursor of
//! clients that poll.

use chrono::{DateTime, Utc};

use super::thread::ConsultationId;
use crate::account::AccountId;
use crate::problem::FieldProblem;

crate::uuid_id!(
    /// Identifier of a message (a UUIDv7: later messages sort after earlier ones).
    MessageId
);

/// Longest text message, characters.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// The worker who asked.
    Worker,
    /// The lawyer.
    Lawyer,
    /// An official.
    Official,
    /// The system: a step of the thread.
    System,
}

impl Author {
    /// Every author kind.
    pub const ALL: [Author; 4] = [
        Author::Worker,
        Author::Lawyer,
        Author::Official,
        Author::System,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Worker => "worker",
            Author::Lawyer => "lawyer",
            Author::Official => "official",
            Author::System => "system",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Id.
    pub id: MessageId,
    /// The thread.
    pub consultation_id: ConsultationId,
    /// Who wrote it.
    pub author: Author,
    /// Their account (none for the system).
    pub author_id: Option<AccountId>,
    /// The text.
    pub body: String,
    /// Held by msgSecCheck (`review`, or the check could not be reached): shown to its
    /// author and officials only, until an official releases it.
    pub held: bool,
    /// WeChat's `trace_id` of the check, kept with the text.
    pub trace_id: Option<String>,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
}

/// How far a participant has read a thread (已读): the newest message they have seen. Marks
/// only move forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMark {
    /// The thread.
    pub consultation_id: ConsultationId,
    /// The reader's side: worker or lawyer.
    pub reader: Author,
    /// The reader.
    pub account_id: AccountId,
    /// The newest message read.
    pub message_id: MessageId,
    /// When it was marked (UTC).
    pub at: DateTime<Utc>,
}

impl Message {
    /// A message by `author` (`author_id`) in `consultation` at `at`.
    pub fn new(
        consultation: ConsultationId,
        author: Author,
        author_id: Option<AccountId>,
        body: String,
        at: DateTime<Utc>,
    ) -> Message {
        Message {
            id: MessageId::new(),
            consultation_id: consultation,
            author,
            author_id,
            body,
            held: false,
            trace_id: None,
            created_at: at,
        }
    }

    /// Whether `viewer` (of `author` kind, or an official) may read it: held messages reach
    /// their author and officials only.
    pub fn visible_to(&self, viewer: Author, viewer_id: AccountId) -> bool {
        !self.held || viewer == Author::Official || self.author_id == Some(viewer_id)
    }
}

/// `value` as message text: trimmed, 1–[`MAX_TEXT_CHARS`] characters; else the problem with
/// `field`.
pub fn text(field: &str, value: Option<&str>) -> Result<String, FieldProblem> {
    let text = value.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(FieldProblem::required(field));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldProblem::new(
            field,
            "too_long",
            format!("{field} 最多 {MAX_TEXT_CHARS} 个字"),
            format!("{field} must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn text_is_one_to_two_thousand_characters() {
        assert_eq!(
            text("message", Some("  老板拖欠工资  ")).unwrap(),
            "老板拖欠工资"
        );
        assert_eq!(text("message", Some("   ")).unwrap_err().code, "required");
        assert_eq!(text("message", None).unwrap_err().code, "required");
        let long = "欠".repeat(MAX_TEXT_CHARS);
        assert!(text("message", Some(&long)).is_ok());
        let longer = "欠".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(text("message", Some(&longer)).unwrap_err().code, "too_long");
    }

    #[test]
    fn held_messages_reach_their_author_and_officials_only() {
        let (worker, lawyer) = (AccountId::new(), AccountId::new());
        let mut m = Message::new(
            ConsultationId::new(),
            Author::Worker,
            Some(worker),
            "问题".into(),
            Utc::now(),
        );
        assert!(m.visible_to(Author::Lawyer, lawyer));
        m.held = true;
        assert!(!m.visible_to(Author::Lawyer, lawyer));
        assert!(m.visible_to(Author::Worker, worker));
        assert!(m.visible_to(Author::Official, AccountId::new()));
    }
}
