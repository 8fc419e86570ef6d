//! What every file upload and signed download shares: reading a `multipart/form-data` field
//! up to a limit, the answers for a form that cannot be read or a file too large, and the
//! answer for a download link that expired. Used by claim documents and consultation
//! attachments.

use actix_multipart::{Field, MultipartError};
use actix_web::http::StatusCode;
use futures_util::StreamExt as _;

use crate::error::ApiError;

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
