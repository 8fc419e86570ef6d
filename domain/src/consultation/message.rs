//! Messages of a consultation thread: text from the worker or the lawyer (1–2,000
//! characters, through msgSecCheck first), images and voice ([`Attachment`], the bytes kept
//! sealed in the document store) and system lines for the steps both should see
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

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            Author::Worker => "职工",
            Author::Lawyer => "律师",
            Author::Official => "工会工作人员",
            Author::System => "系统",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Largest image or voice recording, bytes (10 MB, as claim documents).
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

/// Longest voice recording, seconds (WeChat's recorder stops at 10 minutes).
pub const MAX_VOICE_SECONDS: u32 = 600;

/// What an attachment's bytes are, judged by their signature, never by a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentType {
    /// `image/jpeg`.
    Jpeg,
    /// `image/png`.
    Png,
    /// `audio/mp4` (AAC in an MP4 container: WeChat's recorder with `format: 'aac'`).
    M4a,
    /// `audio/aac` (raw ADTS).
    Aac,
    /// `audio/mpeg` (WeChat's recorder with `format: 'mp3'`).
    Mp3,
    /// `audio/wav`.
    Wav,
}

impl AttachmentType {
    /// Every accepted type.
    pub const ALL: [AttachmentType; 6] = [
        AttachmentType::Jpeg,
        AttachmentType::Png,
        AttachmentType::M4a,
        AttachmentType::Aac,
        AttachmentType::Mp3,
        AttachmentType::Wav,
    ];

    /// The MIME type, as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentType::Jpeg => "image/jpeg",
            AttachmentType::Png => "image/png",
            AttachmentType::M4a => "audio/mp4",
            AttachmentType::Aac => "audio/aac",
            AttachmentType::Mp3 => "audio/mpeg",
            AttachmentType::Wav => "audio/wav",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether it is a voice recording (else an image).
    pub fn is_voice(self) -> bool {
        !matches!(self, AttachmentType::Jpeg | AttachmentType::Png)
    }
}

/// An image or a voice recording in a thread. The bytes are in the document store under
/// `key`, encrypted at rest; they are read through short-lived signed links, and every read is
/// audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// What the bytes are.
    pub media_type: AttachmentType,
    /// Size, bytes.
    pub bytes: u64,
    /// A voice recording's length, seconds, as the recorder reported it.
    pub seconds: Option<u32>,
    /// Where the bytes are: `consultations/{consultation id}/{message id}`.
    pub key: String,
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
    /// The text; for an image `[图片]`, for a voice recording `[语音]` (what a client that
    /// shows only text shows).
    pub body: String,
    /// The image or voice recording.
    pub attachment: Option<Attachment>,
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
            attachment: None,
            held: false,
            trace_id: None,
            created_at: at,
        }
    }

    /// A message carrying an image or a voice recording (`media_type`, `bytes`, `seconds`)
    /// by `author` (`author_id`) in `consultation` at `at`; its bytes go under
    /// [`Attachment::key`].
    pub fn with_attachment(
        consultation: ConsultationId,
        author: Author,
        author_id: AccountId,
        media_type: AttachmentType,
        bytes: u64,
        seconds: Option<u32>,
        at: DateTime<Utc>,
    ) -> Message {
        let body = if media_type.is_voice() {
            "[语音]"
        } else {
            "[图片]"
        };
        let mut m = Message::new(consultation, author, Some(author_id), body.into(), at);
        m.attachment = Some(Attachment {
            media_type,
            bytes,
            seconds: seconds.filter(|_| media_type.is_voice()),
            key: format!("consultations/{consultation}/{}", m.id),
        });
        m
    }

    /// Whether `viewer` (of `author` kind, or an official) may read it: held messages reach
    /// their author and officials only.
    pub fn visible_to(&self, viewer: Author, viewer_id: AccountId) -> bool {
        !self.held || viewer == Author::Official || self.author_id == Some(viewer_id)
    }
}

/// `value` as message text: at most [`MAX_TEXT_CHARS`] characters as sent, trimmed, not
/// blank; else the problem with `field`.
pub fn text(field: &str, value: Option<&str>) -> Result<String, FieldProblem> {
    let sent = value.unwrap_or_default();
    let text = sent.trim();
    if text.is_empty() {
        return Err(FieldProblem::required(field));
    }
    if sent.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldProblem::new(
            field,
            "too_long",
            format!("{}最多 {MAX_TEXT_CHARS} 个字", crate::problem::label(field)),
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
