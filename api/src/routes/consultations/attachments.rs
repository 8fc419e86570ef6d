//! Images and voice in a consultation thread (图片、语音): the worker or the lawyer who has the
//! consultation uploads one (`multipart/form-data`: `file`, and for voice the recorder's
//! `seconds`); it becomes a message like a text, pushed to the other side. The bytes — JPEG or
//! PNG, or AAC (MP4 or ADTS), MP3 or WAV, judged by their signature, at most 10 MB — are
//! sealed in the document store that keeps claim documents. They are read through 5-minute
//! signed links, each read audited, since a photo of a pay slip or an ID card is personal
//! data.
//!
//! Images are not sent through WeChat's content check: its image check (`mediaCheckAsync`)
//! answers later, by a push this server does not receive yet.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use yiwang_domain::clock;
use yiwang_domain::consultation::message::{
    Attachment, AttachmentType, Author, Message, MessageId, MAX_ATTACHMENT_BYTES, MAX_VOICE_SECONDS,
};
use yiwang_domain::consultation::thread::{Actor, Command, Consultation, ConsultationId};

use super::{own, run};
use crate::auth::tokens::Scope;
use crate::auth::{audit_change, Principal, Worker};
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::shared::responses::{NotLoggedIn, WorkerOnly};
use crate::state::AppState;
use crate::upload::{
    multipart_error, open_link, read_field, signed_link, unknown_field, DocumentLink, FormFields,
};

/// An image or voice recording of a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    /// `image` or `voice`.
    pub kind: &'static str,
    /// `image/jpeg`, `image/png`, `audio/mp4`, `audio/aac`, `audio/mpeg` or `audio/wav`.
    pub media_type: &'static str,
    /// Size, bytes.
    pub bytes: u64,
    /// A voice recording's length, seconds.
    pub seconds: Option<u32>,
}

impl From<&Attachment> for AttachmentView {
    fn from(a: &Attachment) -> Self {
        Self {
            kind: if a.media_type.is_voice() {
                "voice"
            } else {
                "image"
            },
            media_type: a.media_type.as_str(),
            bytes: a.bytes,
            seconds: a.seconds,
        }
    }
}

/// What the bytes are, by their signature; `None` unless an accepted image or audio type.
pub fn sniff(bytes: &[u8]) -> Option<AttachmentType> {
    match infer::get(bytes)?.mime_type() {
        "image/jpeg" => Some(AttachmentType::Jpeg),
        "image/png" => Some(AttachmentType::Png),
        "audio/m4a" | "audio/mp4" => Some(AttachmentType::M4a),
        "audio/aac" => Some(AttachmentType::Aac),
        "audio/mpeg" => Some(AttachmentType::Mp3),
        "audio/x-wav" | "audio/wav" => Some(AttachmentType::Wav),
        _ => None,
    }
}

/// An upload read and checked: the bytes, their type and a voice recording's seconds.
pub struct Upload {
    bytes: Vec<u8>,
    media_type: AttachmentType,
    seconds: Option<u32>,
}

impl Upload {
    /// Reads the form: `file` (required) and `seconds` (a voice recording's length, 1–600).
    pub async fn read(mut form: Multipart) -> Result<Upload, ApiError> {
        let (mut file, mut seconds) = (None, None);
        let mut fields = FormFields::new(&["file", "seconds"]);
        while let Some(field) = form.next().await {
            let mut field = field.map_err(|e| multipart_error(&e))?;
            match fields.admit(field.name().unwrap_or_default())? {
                "file" => file = Some(read_field(&mut field, MAX_ATTACHMENT_BYTES).await?),
                "seconds" => {
                    let bad = || {
                        ApiError::invalid_field(
                            "seconds",
                            "out_of_range",
                            format!("语音时长须为 1 到 {MAX_VOICE_SECONDS} 秒的整数"),
                            format!("seconds must be a whole number from 1 to {MAX_VOICE_SECONDS}"),
                        )
                    };
                    let raw = read_field(&mut field, 16).await.map_err(|_| bad())?;
                    let n = String::from_utf8_lossy(&raw).trim().parse::<u32>();
                    seconds = Some(
                        n.ok()
                            .filter(|n| (1..=MAX_VOICE_SECONDS).contains(n))
                            .ok_or_else(bad)?,
                    );
                }
                other => return Err(unknown_field(other, &["file", "seconds"])),
            }
        }
        let Some(bytes) = file.filter(|b| !b.is_empty()) else {
            return Err(ApiError::invalid_field(
                "file",
                "required",
                "请选择要发送的图片或语音",
                "file is required",
            ));
        };
        let media_type = sniff(&bytes).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_file_type",
                "只能发送 JPEG、PNG 图片或 AAC、MP3、WAV 语音（按文件内容判断，与文件名无关）",
                "Only JPEG or PNG images and AAC, MP3 or WAV recordings are accepted (judged by the content)",
            )
        })?;
        Ok(Upload {
            bytes,
            media_type,
            seconds,
        })
    }

    /// What an idempotent retry must repeat: the bytes' SHA-256 and the seconds.
    fn fingerprint(&self) -> Vec<u8> {
        let mut f = Sha256::digest(&self.bytes).to_vec();
        f.extend_from_slice(format!("|{:?}", self.seconds).as_bytes());
        f
    }
}

/// Seals `upload`'s bytes and writes its message into `c` by `actor` (`author`, `account`)
/// as the step `action`, with `Idempotency-Key` honoured for `route`: the answer of
/// [`run`], the consultation as it is now.
#[allow(clippy::too_many_arguments)]
pub async fn attach(
    state: &AppState,
    req: &HttpRequest,
    principal: &Principal,
    c: &Consultation,
    actor: Actor,
    author: Author,
    file: Upload,
    route: String,
) -> Result<HttpResponse, ApiError> {
    let account = principal.account_id();
    let fingerprint = file.fingerprint();
    idempotency::once(
        state,
        req,
        account,
        route,
        &fingerprint,
        |pending| async move {
            let size = u64::try_from(file.bytes.len()).unwrap_or(u64::MAX);
            let m = Message::with_attachment(
                c.id,
                author,
                account,
                file.media_type,
                size,
                file.seconds,
                clock::now(),
            );
            if let Some(a) = &m.attachment {
                state.documents.put(&a.key, file.bytes).await?;
            }
            let base = principal.change("", "consultation", c.id, Value::Null, None);
            let command = Command::Write { asks_worker: false };
            run(
                state,
                c.id,
                actor,
                command,
                Some(m),
                base,
                "attach",
                pending,
            )
            .await
        },
    )
    .await
}

/// An attachment upload's form (`multipart/form-data`). Read field by field as it streams in,
/// never as a whole; the type only describes the form.
#[derive(ToSchema)]
pub struct AttachmentUpload {
    /// A JPEG or PNG image, or an AAC (MP4 or ADTS), MP3 or WAV recording, at most 10 MB; the
    /// type is decided by the bytes, not by the part's `Content-Type`.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// A recording's length in seconds, 1–600 (as the recorder reports it); only for voice.
    #[schema(minimum = 1, maximum = 600)]
    pub seconds: Option<u32>,
}

/// Sends an image or a voice recording in the worker's consultation, like a text: a lawyer
/// who asked is answered, a resolution within 7 days is reopened. With `Idempotency-Key`, a
/// retry of the same file sends once.
#[utoipa::path(post, tag = "consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and file sends once")),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Sent; the consultation as it is now", body = super::ConsultationView),
        (status = 400, description = "Unreadable form, or a field other than `file` and `seconds`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such consultation of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`closed`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`file_too_large`: over 10 MB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_file_type`, or not multipart", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`file` missing, `seconds` out of range, `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[post("/consultations/{id}/attachments")]
pub async fn send(
    state: web::Data<AppState>,
    worker: Worker,
    req: HttpRequest,
    id: web::Path<String>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let c = own(&state, &worker, &id).await?;
    let upload = Upload::read(form).await?;
    let account = worker.0.account_id();
    let route = format!("POST /api/v1/consultations/{}/attachments", c.id);
    let actor = Actor::Worker(account);
    attach(
        &state,
        &req,
        &worker.0,
        &c,
        actor,
        Author::Worker,
        upload,
        route,
    )
    .await
}

/// A signed link to the attachment of message `message_id` of `c`, for `principal` reading
/// as `reader`. 404 when there is no such message the reader may read, or it has no
/// attachment.
pub async fn link(
    state: &AppState,
    principal: &Principal,
    reader: Author,
    c: &Consultation,
    message_id: &str,
) -> Result<DocumentLink, ApiError> {
    let message_id = MessageId::parse(message_id).ok_or_else(ApiError::not_found)?;
    let m = state.consultations.message(c.id, message_id).await?;
    if m.attachment.is_none() || !m.visible_to(reader, principal.account_id()) {
        return Err(ApiError::not_found());
    }
    let path = "/api/v1/consultation-attachments";
    signed_link(state, principal, Scope::Attachment, (c.id, m.id), path)
}

/// A link to an image or voice recording of the worker's consultation, valid 5 minutes.
#[utoipa::path(post, tag = "consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"), ("message_id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "The link", body = DocumentLink),
        (status = 404, description = "No such consultation of the worker, or no attachment in that message", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[post("/consultations/{id}/messages/{message_id}/link")]
pub async fn own_link(
    state: web::Data<AppState>,
    worker: Worker,
    path: web::Path<(String, String)>,
) -> Result<web::Json<DocumentLink>, ApiError> {
    let (id, message_id) = path.into_inner();
    let c = own(&state, &worker, &id).await?;
    let link = link(&state, &worker.0, Author::Worker, &c, &message_id).await?;
    Ok(web::Json(link))
}

/// Reads an image or voice recording through a signed link (no `Authorization` needed):
/// the bytes with their type, not cached; the read is audited under the account the link
/// was issued to.
#[utoipa::path(get, tag = "consultations",
    params(("token" = String, Path, description = "The signed token of the link")),
    responses(
        (status = 200, description = "The bytes (image/jpeg, image/png, audio/mp4, audio/aac, audio/mpeg or audio/wav)", content_type = "application/octet-stream"),
        (status = 404, description = "`link_expired`: the link is unknown, altered or expired", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/consultation-attachments/{token}")]
pub async fn download(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (consultation, message, reader) = open_link(&state, Scope::Attachment, &token, |c, m| {
        Some((ConsultationId::parse(c)?, MessageId::parse(m)?))
    })?;
    let m = state.consultations.message(consultation, message).await?;
    let attachment = m.attachment.ok_or_else(ApiError::not_found)?;
    let bytes = state.documents.get(&attachment.key).await?;
    let change = audit_change(
        reader,
        "consultation.attachment.read",
        "consultation",
        consultation,
        json!({ "message_id": message, "media_type": attachment.media_type.as_str() }),
        None,
    );
    state.audit.record_read(&change).await?;
    Ok(HttpResponse::Ok()
        .content_type(attachment.media_type.as_str())
        .insert_header(("Cache-Control", "private, no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes))
}
