//! The `Idempotency-Key` request header (IETF httpapi draft "The Idempotency-Key HTTP Header
//! Field"): a worker on a weak network taps "submit", the answer is lost, the app retries with
//! the same key — and gets the first answer back instead of a second claim.
//!
//! [`once`] wraps a handler's action. Without the header the action simply runs. With it, the
//! key is claimed for (account, route) before the action runs; a success is stored and
//! replayed to every retry (with `Idempotent-Replayed: true`); a failure changed nothing, so
//! the key is released and a retry acts afresh. A retry while the first request still runs →
//! 409 `idempotency_in_progress`; the same key with another body → 422
//! `idempotency_key_reused`.

use std::future::Future;

use actix_web::http::header::ContentType;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use yiwang_domain::account::AccountId;
use yiwang_domain::clock;
use yiwang_domain::idempotency::{key_from_header, Begin, IdempotencyKey};

use crate::error::ApiError;
use crate::state::AppState;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";

/// The key the request carries, `None` without the header; 422 for a value that is not 1–100
/// visible ASCII characters.
fn key_of(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(key_from_header)
        .map(|k| Some(k.to_owned()))
        .ok_or_else(|| {
            ApiError::invalid_field(
                HEADER,
                "invalid",
                "Idempotency-Key 须为 1 到 100 个可见 ASCII 字符（建议使用 UUID）",
                "Idempotency-Key must be 1–100 visible ASCII characters (a UUID, say)",
            )
        })
}

/// Runs `act` at most once per `Idempotency-Key` of `account` on `route` (method and path,
/// e.g. `POST /api/v1/mutual-aid/claims/{id}/submit` with the id filled in). `request` is what
/// makes two requests the same (the body as JSON); `act` answers a status and a JSON body.
pub async fn once<F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    account: AccountId,
    route: String,
    request: &[u8],
    act: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let Some(key) = key_of(req)? else {
        let (status, body) = act().await?;
        return Ok(HttpResponse::build(status).json(body));
    };
    let key = IdempotencyKey {
        account,
        route,
        key,
    };
    let hash = hex(&Sha256::digest(request));
    match state.idempotency.begin(&key, &hash, clock::now()).await? {
        Begin::Started => {}
        Begin::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return Ok(HttpResponse::build(status)
                .insert_header(("Idempotent-Replayed", "true"))
                .content_type(ContentType::json())
                .body(body));
        }
        Begin::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "相同的请求正在处理中，请稍后重试",
                "A request with this Idempotency-Key is still being processed; retry shortly",
            )
            .retry_after(1));
        }
        Begin::Mismatch => {
            return Err(ApiError::invalid_field(
                HEADER,
                "idempotency_key_reused",
                "该 Idempotency-Key 已用于内容不同的请求，请为新请求生成新的键",
                "This Idempotency-Key was used with a different request; use a new key",
            ));
        }
    }
    match act().await {
        Ok((status, body)) => {
            let text = body.to_string();
            if let Err(e) = state
                .idempotency
                .complete(&key, status.as_u16(), &text)
                .await
            {
                tracing::warn!(cause = %e, "could not store an idempotent answer");
            }
            Ok(HttpResponse::build(status)
                .content_type(ContentType::json())
                .body(text))
        }
        Err(error) => {
            if let Err(e) = state.idempotency.release(&key).await {
                tracing::warn!(cause = %e, "could not release an idempotency key");
            }
            Err(error)
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
