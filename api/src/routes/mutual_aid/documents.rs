//! Claim documents: upload (`multipart/form-data`, JPEG, PNG or PDF as the bytes say — the
//! name and the declared type are not trusted — at most 10 MB), detach, and read back through
//! short-lived signed links. Documents are medical and therefore sensitive personal data: the
//! bytes are encrypted at rest (`yiwang_infra::documents`), served only to the claim's owner
//! and to officials in scope, and every download is audited.

use actix_multipart::Multipart;
use actix_web::http::header::{
    Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpResponse};
use futures_util::StreamExt as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use yiwang_domain::clock;
use yiwang_domain::mutual_aid::claim::{
    Claim, Document, DocumentId, MediaType, MAX_DOCUMENT_BYTES,
};
use yiwang_domain::mutual_aid::{ClaimId, DocumentKind};

use super::claims::own_claim;
use super::DocumentView;
use crate::auth::tokens::Scope;
use crate::auth::{self, audit_change, Principal};
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::{NotLoggedIn, WorkerOnly};
use crate::state::AppState;
use crate::upload::DocumentLink;
use crate::upload::{
    multipart_error, open_link, read_field, signed_link, unknown_field, FormFields,
};
use yiwang_domain::mutual_aid::store::MutualAidConflict;
use yiwang_domain::refusal::Refusal;

/// What the bytes are, by their signature; `None` unless JPEG, PNG or PDF.
pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
    infer::get(bytes).and_then(|t| MediaType::parse(t.mime_type()))
}

/// The uploaded file's name made safe for a header and a listing: the last path component,
/// without control characters or quotes, at most 100 characters, `stem` when nothing is left;
/// and its extension is the judged type's (`x.html` judged JPEG is kept as `x.jpg`), so a
/// download never names one type and holds another.
fn clean_file_name(name: Option<&str>, media_type: MediaType, stem: &str) -> String {
    let base = name
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(95)
        .collect();
    let clean = clean.trim();
    let (own_stem, extension) = match clean.rsplit_once('.') {
        Some((own, ext)) => (own.trim(), Some(ext)),
        None => (clean, None),
    };
    let fits = !own_stem.is_empty()
        && extension.is_some_and(|e| {
            media_type
                .extensions()
                .iter()
                .any(|known| e.eq_ignore_ascii_case(known))
        });
    if fits {
        return clean.to_owned();
    }
    let own_stem = if own_stem.is_empty() { stem } else { own_stem };
    format!("{own_stem}.{}", media_type.extensions()[0])
}

/// A claim document upload's form (`multipart/form-data`). Read field by field as it streams
/// in, never as a whole; the type only describes the form.
#[derive(utoipa::ToSchema)]
pub struct DocumentUpload {
    /// The document type.
    #[schema(value_type = String, example = "invoice")]
    pub kind: DocumentKind,
    /// A JPEG, PNG or PDF of at most 10 MB; the type is decided by the bytes.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Attaches a document to a draft or returned claim: form fields `kind` (the document type)
/// and `file` (the bytes).
#[utoipa::path(post, tag = "mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id")),
    request_body(content = DocumentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Attached", body = DocumentView),
        (status = 400, description = "Unreadable form, or a field other than `kind` and `file`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such claim of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_editable`: the claim is under review or decided", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`file_too_large`: over 10 MB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_file_type`: the bytes are not JPEG, PNG or PDF; or not multipart", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`kind` or `file` missing or `kind` unknown", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[post("/mutual-aid/claims/{id}/documents")]
pub async fn upload(
    state: web::Data<AppState>,
    worker: auth::Worker,
    id: web::Path<String>,
    mut form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let claim = own_claim(&state, &worker, &id).await?;
    if !claim.status.editable() {
        return Err(Refusal::from(MutualAidConflict::NotEditable).into());
    }
    let (mut kind, mut file) = (None, None);
    let mut fields = FormFields::new(&["kind", "file"]);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| multipart_error(&e))?;
        match fields.admit(field.name().unwrap_or_default())? {
            "kind" => {
                let bytes = read_field(&mut field, 64).await.map_err(|_| {
                    ApiError::invalid_field("kind", "invalid", "材料类别无效", "kind is not valid")
                })?;
                kind = Some(String::from_utf8_lossy(&bytes).trim().to_owned());
            }
            "file" => {
                let file_name = field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename())
                    .map(str::to_owned);
                let bytes = read_field(&mut field, MAX_DOCUMENT_BYTES).await?;
                file = Some((file_name, bytes));
            }
            other => return Err(unknown_field(other, &["kind", "file"])),
        }
    }
    let kind = match kind.as_deref() {
        None | Some("") => {
            return Err(ApiError::invalid_field(
                "kind",
                "required",
                "请选择材料类型",
                "kind is required",
            ))
        }
        Some(k) => k.parse::<DocumentKind>().map_err(|_| {
            let names: Vec<&str> = DocumentKind::ALL.iter().map(|d| d.as_str()).collect();
            ApiError::invalid_field(
                "kind",
                "not_allowed",
                format!("材料类别须为以下之一：{}", names.join(", ")),
                format!("kind must be one of: {}", names.join(", ")),
            )
        })?,
    };
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Err(ApiError::invalid_field(
            "file",
            "required",
            "请选择要上传的文件",
            "file is required",
        ));
    };
    let media_type = sniff(&bytes).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_file_type",
            "只能上传 JPEG、PNG 图片或 PDF 文件（按文件内容判断，与文件名无关）",
            "Only JPEG, PNG or PDF files are accepted (judged by the content, not the name)",
        )
    })?;
    let id = DocumentId::new();
    let object_key = format!("claims/{}/{}", claim.id, id);
    let document = Document {
        id,
        claim_id: claim.id,
        kind,
        media_type,
        size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        object_key: object_key.clone(),
        file_name: clean_file_name(file_name.as_deref(), media_type, kind.as_str()),
        sha256: Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        uploaded_at: clock::now(),
    };
    state.documents.put(&object_key, bytes).await?;
    let change = worker.0.change(
        "mutual_aid.document.upload",
        "mutual_aid_claim",
        claim.id,
        json!({ "document_id": id, "kind": kind.as_str(), "media_type": media_type.as_str(), "size_bytes": document.size_bytes }),
        None,
    );
    state.mutual_aid.add_document(&document, &change).await?;
    Ok(HttpResponse::Created().json(DocumentView::from(&document)))
}

/// Detaches a document from a draft or returned claim.
#[utoipa::path(delete, tag = "mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id"), ("document_id" = String, Path, description = "Document id")),
    responses(
        (status = 204, description = "Detached"),
        (status = 404, description = "No such claim or document of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_editable`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[delete("/mutual-aid/claims/{id}/documents/{document_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    worker: auth::Worker,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, document_id) = path.into_inner();
    let claim = own_claim(&state, &worker, &id).await?;
    let document_id = DocumentId::parse(&document_id).ok_or_else(ApiError::not_found)?;
    let change = worker.0.change(
        "mutual_aid.document.remove",
        "mutual_aid_claim",
        claim.id,
        json!({ "document_id": document_id }),
        None,
    );
    state
        .mutual_aid
        .remove_document(claim.id, document_id, clock::now(), &change)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A signed link to `document_id` of `claim` for `principal`.
pub fn link(
    state: &AppState,
    principal: &Principal,
    claim: &Claim,
    document_id: &str,
) -> Result<DocumentLink, ApiError> {
    let document_id = DocumentId::parse(document_id).ok_or_else(ApiError::not_found)?;
    if !claim.documents.iter().any(|d| d.id == document_id) {
        return Err(ApiError::not_found());
    }
    let part = (claim.id, document_id);
    signed_link(
        state,
        principal,
        Scope::Document,
        part,
        "/api/v1/mutual-aid/documents",
    )
}

/// A download link for one of the worker's claim documents, valid for 5 minutes.
#[utoipa::path(post, tag = "mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id"), ("document_id" = String, Path, description = "Document id")),
    responses(
        (status = 200, description = "The link", body = DocumentLink),
        (status = 404, description = "No such claim or document of the worker", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[post("/mutual-aid/claims/{id}/documents/{document_id}/link")]
pub async fn own_link(
    state: web::Data<AppState>,
    worker: auth::Worker,
    path: web::Path<(String, String)>,
) -> Result<web::Json<DocumentLink>, ApiError> {
    let (id, document_id) = path.into_inner();
    let claim = own_claim(&state, &worker, &id).await?;
    Ok(web::Json(link(&state, &worker.0, &claim, &document_id)?))
}

/// Downloads a document through a signed link (from `…/link`, valid
/// [`crate::auth::tokens::DOCUMENT_LINK_TTL_SECS`] seconds). Answers the bytes with their type,
/// `Content-Disposition: attachment` and no caching; the read is audited under the account the
/// link was issued to.
#[utoipa::path(get, tag = "mutual aid",
    params(("token" = String, Path, description = "The signed token of the link")),
    responses(
        (status = 200, description = "The bytes (image/jpeg, image/png or application/pdf)", content_type = "application/octet-stream"),
        (status = 404, description = "`link_expired`: the link is unknown, altered or expired", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/mutual-aid/documents/{token}")]
pub async fn download(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (claim_id, document_id, reader) = open_link(&state, Scope::Document, &token, |c, d| {
        Some((ClaimId::parse(c)?, DocumentId::parse(d)?))
    })?;
    let document = state.mutual_aid.document(claim_id, document_id).await?;
    let bytes = state.documents.get(&document.object_key).await?;
    let change = audit_change(
        reader,
        "mutual_aid.document.read",
        "mutual_aid_claim",
        claim_id,
        json!({ "document_id": document_id, "kind": document.kind.as_str() }),
        None,
    );
    state.audit.record_read(&change).await?;
    let ascii: String = document
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: document.file_name.clone().into_bytes(),
            }),
        ],
    };
    Ok(HttpResponse::Ok()
        .content_type(document.media_type.as_str())
        .insert_header(disposition)
        .insert_header(("Cache-Control", "private, no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_bytes_decide_the_type_not_the_name() {
        assert_eq!(sniff(b"%PDF-1.7\n1 0 obj"), Some(MediaType::Pdf));
        assert_eq!(
            sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0]),
            Some(MediaType::Png)
        );
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(MediaType::Jpeg)
        );
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), None);
        assert_eq!(sniff(b"GIF89a......"), None);
    }

    #[test]
    fn file_names_lose_paths_quotes_and_control_characters() {
        let pdf = MediaType::Pdf;
        assert_eq!(
            clean_file_name(Some("C:\\Users\\王\\发票 \"1\".pdf"), pdf, "x"),
            "发票 1.pdf"
        );
        assert_eq!(
            clean_file_name(Some("../../etc/passwd"), pdf, "x"),
            "passwd.pdf"
        );
        assert_eq!(
            clean_file_name(Some("\u{7}"), pdf, "invoice"),
            "invoice.pdf"
        );
        assert_eq!(clean_file_name(None, pdf, "invoice"), "invoice.pdf");
    }

    /// Issue 18, item 16: the extension follows the type judged from the bytes.
    #[test]
    fn the_extension_follows_the_judged_type() {
        let jpeg = MediaType::Jpeg;
        assert_eq!(clean_file_name(Some("x.html"), jpeg, "invoice"), "x.jpg");
        assert_eq!(
            clean_file_name(Some("发票.JPEG"), jpeg, "invoice"),
            "发票.JPEG"
        );
        assert_eq!(clean_file_name(Some("scan"), jpeg, "invoice"), "scan.jpg");
        assert_eq!(
            clean_file_name(Some(".html"), jpeg, "invoice"),
            "invoice.jpg"
        );
        assert_eq!(
            clean_file_name(Some("a.pdf.html"), MediaType::Pdf, "invoice"),
            "a.pdf.pdf"
        );
        let long = "长".repeat(300) + ".html";
        assert!(
            clean_file_name(Some(&long), jpeg, "invoice")
                .chars()
                .count()
                <= 100
        );
    }
}
