//! What a consultation and its thread look like to each reader: the worker, the lawyer, an
//! official; the message page with its read marks.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::consultation::message::{Author, Message, MessageId, ReadMark};
use yiwang_domain::consultation::thread::{Consultation, ConsultationId};
use yiwang_domain::{AccountId, RepoError};

use super::attachments::AttachmentView;
use crate::error::ApiError;
use crate::state::AppState;

/// Most messages one page answers.
pub const MAX_PAGE: u32 = 200;

/// A consultation as its participants and officials see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationView {
    /// Id.
    pub id: String,
    /// Category code.
    pub category: String,
    /// Title.
    pub title: String,
    /// The employer the question is about, as written.
    pub employer: Option<String>,
    /// The employer's unified social credit code, when given.
    pub employer_credit_code: Option<String>,
    /// `held`, `waiting`, `open`, `pending`, `resolved` or `closed` (a resolution left alone
    /// for 7 days reads `closed`).
    #[schema(value_type = crate::routes::vocabularies::ConsultationStatus)]
    pub status: &'static str,
    /// The state in Chinese.
    pub status_label: &'static str,
    /// The lawyer the worker picked.
    pub chosen_lawyer_id: Option<String>,
    /// Until when only the chosen lawyer may accept (UTC).
    pub reserved_until: Option<DateTime<Utc>>,
    /// The lawyer who has it.
    pub lawyer_id: Option<String>,
    /// That lawyer's name on the roster (`张明`), in reads of the consultation (`GET`); absent
    /// in the answers of steps and live pushes, and for a lawyer taken off the roster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lawyer_name: Option<String>,
    /// The first answer is due by then (UTC).
    pub first_response_due: Option<DateTime<Utc>>,
    /// When the lawyer first answered (UTC).
    pub first_response_at: Option<DateTime<Utc>>,
    /// The resolution is due by then (UTC); absent while the clock stands (pending: see
    /// `resolution_left_seconds`).
    pub resolution_due: Option<DateTime<Utc>>,
    /// While pending: seconds the resolution clock had left (negative: overdue).
    pub resolution_left_seconds: Option<i64>,
    /// A deadline passed unmet.
    pub overdue: bool,
    /// When it was resolved (UTC).
    pub resolved_at: Option<DateTime<Utc>>,
    /// The worker's rating, 1–5.
    pub rating: Option<u8>,
    /// The rating's comment.
    pub rating_comment: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
    /// In the answer of a request that sent a message (a text, an image, a recording): that
    /// message's id, e.g. for `POST …/messages/{message_id}/link`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// Lawyers' roster names by account, as [`lawyer_names`] reads them.
pub type LawyerNames = HashMap<AccountId, String>;

/// The roster names of the lawyers who have `consultations`, each read once. A lawyer whose
/// profile is gone (the official disabled) has none; a storage failure is an error.
pub async fn lawyer_names<'c>(
    state: &AppState,
    consultations: impl IntoIterator<Item = &'c Consultation>,
) -> Result<LawyerNames, ApiError> {
    let mut names = LawyerNames::new();
    for lawyer in consultations.into_iter().filter_map(|c| c.lawyer) {
        if names.contains_key(&lawyer) {
            continue;
        }
        match state.roster.lawyer(lawyer).await {
            Ok(profile) => {
                names.insert(lawyer, profile.details.name);
            }
            Err(RepoError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(names)
}

impl ConsultationView {
    /// `c` as it stands at `now`.
    pub fn new(c: &Consultation, now: DateTime<Utc>) -> Self {
        let status = c.status_at(now);
        Self {
            id: c.id.to_string(),
            category: c.category.to_string(),
            title: c.title.clone(),
            employer: c.employer.clone(),
            employer_credit_code: c
                .employer_credit_code
                .as_ref()
                .map(|e| e.as_str().to_owned()),
            status: status.as_str(),
            status_label: status.zh(),
            chosen_lawyer_id: c.chosen_lawyer.map(|l| l.to_string()),
            reserved_until: c.reserved_until,
            lawyer_id: c.lawyer.map(|l| l.to_string()),
            lawyer_name: None,
            first_response_due: c.first_response_due,
            first_response_at: c.first_response_at,
            resolution_due: c.resolution_due,
            resolution_left_seconds: c.resolution_left_seconds,
            overdue: c.breached_at(now),
            resolved_at: c.resolved_at,
            rating: c.rating.as_ref().map(|r| r.stars),
            rating_comment: c.rating.as_ref().and_then(|r| r.comment.clone()),
            created_at: c.created_at,
            updated_at: c.updated_at,
            message_id: None,
        }
    }

    /// `c` at `now`, with its lawyer's name from `names`.
    pub fn named(c: &Consultation, now: DateTime<Utc>, names: &LawyerNames) -> Self {
        let mut view = Self::new(c, now);
        view.lawyer_name = c.lawyer.and_then(|l| names.get(&l).cloned());
        view
    }

    /// The view as a `reader` may read it: a lawyer reads the rating but not its comment (the
    /// comment is for the officials, and no content check has read it).
    pub fn for_reader(mut self, reader: Author) -> Self {
        if reader == Author::Lawyer {
            self.rating_comment = None;
        }
        self
    }
}

/// Consultations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationList {
    /// The rows.
    pub items: Vec<ConsultationView>,
}

/// A message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// Id (UUIDv7: pass the last one as `after` to poll for newer ones).
    pub id: String,
    /// `worker`, `lawyer`, `official` or `system`.
    #[schema(value_type = crate::routes::vocabularies::Author)]
    pub author: &'static str,
    /// The author's account (absent for the system).
    pub author_id: Option<String>,
    /// The text (`[图片]` or `[语音]` for an attachment).
    pub body: String,
    /// An image or voice recording: read it through
    /// `POST …/messages/{message_id}/link`.
    pub attachment: Option<AttachmentView>,
    /// Held by the content check: shown to its author and officials only.
    pub held: bool,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            author: m.author.as_str(),
            author_id: m.author_id.map(|a| a.to_string()),
            body: m.body.clone(),
            attachment: m.attachment.as_ref().map(AttachmentView::from),
            held: m.held,
            created_at: m.created_at,
        }
    }
}

/// How far a participant has read the thread (已读).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadMarkView {
    /// `worker` or `lawyer`.
    pub reader: &'static str,
    /// The reader's account.
    pub account_id: String,
    /// The newest message they have read: every message up to it is read.
    pub message_id: String,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

impl From<&ReadMark> for ReadMarkView {
    fn from(m: &ReadMark) -> Self {
        Self {
            reader: m.reader.as_str(),
            account_id: m.account_id.to_string(),
            message_id: m.message_id.to_string(),
            at: m.at,
        }
    }
}

/// Messages, oldest first, and how far each participant has read.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    /// The rows.
    pub items: Vec<MessageView>,
    /// The participants' read marks.
    pub read_marks: Vec<ReadMarkView>,
}

/// Which messages.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    /// Only messages after this message id (for clients that poll).
    pub after: Option<String>,
    /// At most this many, 1–200 (default 50).
    pub limit: Option<u32>,
}

/// The page `query` asks for, visible to `viewer` (`viewer_kind`).
pub async fn message_page(
    state: &AppState,
    id: ConsultationId,
    query: &MessageQuery,
    viewer_kind: Author,
    viewer: AccountId,
) -> Result<MessageList, ApiError> {
    let after = match query.after.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(MessageId::parse(raw).ok_or_else(|| {
            ApiError::invalid_field(
                "after",
                "invalid",
                "翻页位置须为本咨询中的消息编号",
                "after must be a message id",
            )
        })?),
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "out_of_range",
            format!("每页条数须为 1 到 {MAX_PAGE}"),
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let items = state
        .consultations
        .messages(id, after, limit)
        .await?
        .iter()
        .filter(|m| m.visible_to(viewer_kind, viewer))
        .map(MessageView::from)
        .collect();
    let marks = state.consultations.read_marks(id).await?;
    Ok(MessageList {
        items,
        read_marks: marks.iter().map(ReadMarkView::from).collect(),
    })
}
