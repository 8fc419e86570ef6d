//! The caller's own sessions (issue 18, item 9): a worker or an official sees where they are
//! logged in and ends one session or every other one. Sessions are named by an opaque `id`
//! derived from the session id, never by the session id itself (which the tokens carry).

use actix_web::{delete, get, web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use yiwang_domain::session::SessionRecord;

use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::{NotLoggedIn, SessionStoreDown};
use crate::state::AppState;

/// One live session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Opaque id (22 characters) for `DELETE /api/v1/me/sessions/{id}`.
    pub id: String,
    /// Logged in (UTC).
    pub created_at: DateTime<Utc>,
    /// Ends at the latest (UTC).
    pub expires_at: DateTime<Utc>,
    /// Whether it is the session of this request.
    pub current: bool,
}

/// The caller's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Oldest first.
    pub items: Vec<SessionView>,
}

/// The public id of a session.
fn public_id(sid: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(sid.as_bytes())[..16])
}

fn view(record: &SessionRecord, current: &str) -> SessionView {
    SessionView {
        id: public_id(&record.sid),
        created_at: record.created_at,
        expires_at: record.expires_at,
        current: record.sid == current,
    }
}

/// The caller's live sessions, oldest first (at most 10: a new login ends the oldest).
#[utoipa::path(get, tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "The sessions", body = SessionList),
        NotLoggedIn, SessionStoreDown,
    ))]
#[get("/me/sessions")]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<SessionList>, ApiError> {
    let live = state.sessions.sessions_of(principal.account_id()).await?;
    let current = principal.session.sid.as_str();
    Ok(web::Json(SessionList {
        items: live.iter().map(|r| view(r, current)).collect(),
    }))
}

/// Ends one of the caller's sessions (the current one too: that is a logout).
#[utoipa::path(delete, tag = "me", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id from `GET /api/v1/me/sessions`")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No such live session of the caller", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[delete("/me/sessions/{id}")]
pub async fn end_one(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let live = state.sessions.sessions_of(principal.account_id()).await?;
    let target = live
        .iter()
        .find(|r| public_id(&r.sid) == *id)
        .ok_or_else(ApiError::not_found)?;
    state.sessions.revoke(&target.sid).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of the caller but the current one ("sign out everywhere else").
#[utoipa::path(delete, tag = "me", security(("bearer" = [])),
    responses(
        (status = 204, description = "Every other session has ended"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[delete("/me/sessions")]
pub async fn end_others(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let live = state.sessions.sessions_of(principal.account_id()).await?;
    for other in live.iter().filter(|r| r.sid != principal.session.sid) {
        state.sessions.revoke(&other.sid).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}
