//! What every file upload and signed download shares: reading a `multipart/form-data` field
//! up to a limit, the answers for a form that cannot be read or a file too large, and the
//! signed links files are read through (issued to one account, audited under it, 5 minutes).
//! Used by claim documents and consultation attachments.

use actix_multipart::{Field, MultipartError};
use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use serde::Serialize;
use utoipa::ToSchema;
use yiwang_domain::account::{AccountId, AccountKind};
use yiwang_domain::audit::Actor;

use crate::auth::tokens::Scope;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// A signed download link.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentLink {
    /// Path of the download (`GET`, no `Authorization` needed), relative to the API's origin.
    pub url: String,
    /// When it stops working (RFC 3339, like every time in the API); links live 5 minutes.
    pub expires_at: DateTime<Utc>,
}

/// A link of `scope` to part `part` of record `record`, for `principal`, served at
/// `{path}/{token}`.
pub fn signed_link(
    state: &AppState,
    principal: &Principal,
    scope: Scope,
    (record, part): (impl std::fmt::Display, impl std::fmt::Display),
    path: &str,
) -> Result<DocumentLink, ApiError> {
    let holder = format!(
        "{}:{}",
        principal.session.kind.as_str(),
        principal.account_id()
    );
    let (token, expires_at) = state
        .tokens
        .issue_scoped(scope, &format!("{record}/{part}"), &holder)
        .map_err(|e| ApiError::internal(&e))?;
    let expires_at = DateTime::from_timestamp(expires_at, 0)
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("link expiry out of range")))?;
    Ok(DocumentLink {
        url: format!("{path}/{token}"),
        expires_at,
    })
}

/// What a link of `scope` names — the record and the part, read by `parse` — and who it
/// was issued to, as the actor of the read's audit row. `link_expired` for a token that is
/// unknown, altered, expired or of another scope.
pub fn open_link<R, P>(
    state: &AppState,
    scope: Scope,
    token: &str,
    parse: impl Fn(&str, &str) -> Option<(R, P)>,
) -> Result<(R, P, Actor), ApiError> {
    let claims = state
        .tokens
        .verify_scoped(scope, token)
        .ok_or_else(link_expired)?;
    let (record, part) = claims
        .sub
        .split_once('/')
        .and_then(|(r, p)| parse(r, p))
        .ok_or_else(link_expired)?;
    let (kind, id) = claims
        .num
        .split_once(':')
        .and_then(|(k, a)| Some((AccountKind::parse(k)?, AccountId::parse(a)?)))
        .ok_or_else(link_expired)?;
    Ok((record, part, Actor::Account { kind, id }))
}

/// 413 `file_too_large` for a file over `limit_mb` megabytes.
pub fn too_large(limit_mb: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!("文件超过 {limit_mb} MB 上限，请压缩后再上传"),
        format!("The file exceeds the {limit_mb} MB limit"),
    )
}

/// A multipart error as an answer: 415 when the body is not multipart, else 400.
pub fn multipart_error(e: &MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请以 multipart/form-data 上传文件",
            "Upload the file as multipart/form-data",
        ),
        MultipartError::Payload(e) if crate::body_timeout::is_idle(e) => {
            crate::routes::shared::body_timeout()
        }
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "无法读取上传的内容，请重试",
            format!("Cannot read the upload: {other}"),
        ),
    }
}

/// All bytes of `field`, refusing at the first byte past `max` (413, named in whole MB).
pub async fn read_field(field: &mut Field, max: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| multipart_error(&e))?;
        if bytes.len() + chunk.len() > max {
            return Err(too_large(max / (1024 * 1024)));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The fields of one upload form, each read at most once: a request cannot repeat a part
/// thousands of times or carry several files, and is refused at the first repeat, before
/// that part is read (issue 18, item 7).
pub struct FormFields {
    known: &'static [&'static str],
    seen: Vec<&'static str>,
}

impl FormFields {
    /// A form whose fields are `known`.
    pub fn new(known: &'static [&'static str]) -> Self {
        Self {
            known,
            seen: Vec::with_capacity(known.len()),
        }
    }

    /// `name` as one of the known fields, the first time it comes; 400 `unknown_field` for
    /// any other name, 400 `duplicate_field` for one already read.
    pub fn admit(&mut self, name: &str) -> Result<&'static str, ApiError> {
        let Some(known) = self.known.iter().copied().find(|k| *k == name) else {
            return Err(unknown_field(name, self.known));
        };
        if self.seen.contains(&known) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "duplicate_field",
                format!("表单字段 `{known}` 只能出现一次"),
                format!("The form field `{known}` may appear once"),
            )
            .field(known, "duplicate_field", "字段重复", "repeated field"));
        }
        self.seen.push(known);
        Ok(known)
    }
}

/// 400 `unknown_field` for a form field other than the `known` ones.
pub fn unknown_field(name: &str, known: &[&str]) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "unknown_field",
        format!("表单含有不认识的字段 `{name}`，只接受 {}", known.join("、")),
        format!(
            "Unknown form field `{name}`; only `{}` are read",
            known.join("`, `")
        ),
    )
    .field(name, "unknown_field", "不认识的字段", "unknown field")
}

/// 404 `link_expired`: a signed link that is unknown, altered or expired.
pub fn link_expired() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "link_expired",
        "链接已失效（有效期 5 分钟），请返回重新打开",
        "The link is invalid or has expired (links live 5 minutes); open it again",
    )
}
