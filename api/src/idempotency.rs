//! The `Idempotency-Key` request header (IETF httpapi draft "The Idempotency-Key HTTP Header
//! Field"): a worker on a weak network taps "submit", the answer is lost, the app retries with
//! the same key — and gets the first answer back instead of a second claim.
//!
//! [`once`] wraps a handler's action. Without the header the action simply runs. With it, the
//! action is handed a [`Pending`] key and stores its answer in its own transaction, beside its
//! audit row ([`yiwang_domain::idempotency`]): a success and its stored answer exist together
//! or not at all. When the action fails, the key is looked up: a stored answer to the same
//! request means a twin got there first (a retry after a lost answer, or two taps at once, the
//! second of which waited in the database for the first), and that answer is given again with
//! `Idempotent-Replayed: true`; the same key with another body → 422 `idempotency_key_reused`.

use std::future::Future;

use actix_web::http::header::ContentType;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use yiwang_domain::account::AccountId;
use yiwang_domain::idempotency::{key_from_header, AnswerOf, IdempotencyKey, IdempotentAnswer};

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

/// A request's key while it acts: [`Pending::answer`] is what the action's transaction stores.
#[derive(Debug, Clone)]
pub struct Pending {
    key: IdempotencyKey,
    request_hash: String,
}

impl Pending {
    /// The answer `status` with `body`, at `at`, to store beside the change it answers.
    pub fn answer(
        &self,
        status: StatusCode,
        body: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> IdempotentAnswer {
        IdempotentAnswer {
            key: self.key.clone(),
            request_hash: self.request_hash.clone(),
            status: status.as_u16(),
            body: body.to_string(),
            at,
        }
    }
}

/// For a store that makes the record it answers with inside its transaction: the
/// [`AnswerOf`] storing `status` with `view` of that record, at `at`, for `pending`'s key — no
/// answer without a key.
pub fn answer_of<T, V: serde::Serialize>(
    pending: Option<Pending>,
    status: StatusCode,
    at: DateTime<Utc>,
    view: impl FnOnce(&T) -> V + Send + 'static,
) -> AnswerOf<T> {
    Box::new(move |record| {
        let pending = pending?;
        let body = serde_json::to_value(view(record)).ok()?;
        Some(pending.answer(status, &body, at))
    })
}

/// Runs `act` at most once per `Idempotency-Key` of `account` on `route` (method and path,
/// e.g. `POST /api/v1/mutual-aid/claims/{id}/submit` with the id filled in). `request` is what
/// makes two requests the same (the body as JSON). `act` gets the [`Pending`] key when the
/// request carries one, must store `pending.answer(..)` of its success in the transaction that
/// acts, and answers that status and body.
pub async fn once<F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    account: AccountId,
    route: String,
    request: &[u8],
    act: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(Option<Pending>) -> Fut,
    Fut: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let Some(key) = key_of(req)? else {
        let (status, body) = act(None).await?;
        return Ok(HttpResponse::build(status).json(body));
    };
    let pending = Pending {
        key: IdempotencyKey {
            account,
            route,
            key,
        },
        request_hash: hex(&Sha256::digest(request)),
    };
    let (key, hash) = (pending.key.clone(), pending.request_hash.clone());
    let error = match act(Some(pending)).await {
        Ok((status, body)) => return Ok(HttpResponse::build(status).json(body)),
        Err(error) => error,
    };
    let stored = match state.idempotency.find(&key).await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(cause = %e, "could not look up an idempotency key");
            return Err(error);
        }
    };
    match stored {
        None => Err(error),
        Some(first) if first.request_hash == hash => {
            let status = StatusCode::from_u16(first.status).unwrap_or(StatusCode::OK);
            Ok(HttpResponse::build(status)
                .insert_header(("Idempotent-Replayed", "true"))
                .content_type(ContentType::json())
                .body(first.body))
        }
        Some(_) => Err(ApiError::invalid_field(
            HEADER,
            "idempotency_key_reused",
            "该 Idempotency-Key 已用于内容不同的请求，请为新请求生成新的键",
            "This Idempotency-Key was used with a different request; use a new key",
        )),
    }
}

/// [`once`] for a step on a record that answers 200 with a view (an official's decision):
/// keyed on `req`'s method and path, two requests the same when their
/// `step` is. `act` gets the key, stores its answer in the step's transaction and returns the
/// view — so a retry after a lost answer gets the first answer instead of a 409.
pub async fn step<S, V, F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    account: AccountId,
    step: &S,
    act: F,
) -> Result<HttpResponse, ApiError>
where
    S: std::fmt::Debug,
    V: serde::Serialize,
    F: FnOnce(Option<Pending>) -> Fut,
    Fut: Future<Output = Result<V, ApiError>>,
{
    let route = format!("{} {}", req.method(), req.path());
    let request = format!("{step:?}");
    once(
        state,
        req,
        account,
        route,
        request.as_bytes(),
        |pending| async move {
            let view = act(pending).await?;
            let body = serde_json::to_value(view).map_err(|e| ApiError::internal(&e))?;
            Ok((StatusCode::OK, body))
        },
    )
    .await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
