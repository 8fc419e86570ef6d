//! Officials' passwords (issue 18, item 13): an official changes their own, giving the current
//! one, and every session of theirs ends (the answer carries a new one); an administrator sets
//! a temporary password for an official below them, which ends that official's sessions and
//! must be changed at the next login before any other admin route answers. Every new password
//! passes [`password_problem`] (12–128 characters, zxcvbn score ≥ 3).

use actix_web::{post, web, CustomizeResponder, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use yiwang_domain::account::{password_problem, AccountKind, Official};
use yiwang_domain::clock;
use yiwang_domain::org::Organisation;
use yiwang_infra::password;

use super::{load_official, role_too_high};
use crate::auth::sessions::{self, SessionFor};
use crate::auth::Admin;
use crate::auth::{PasswordChanger, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::account::auth::{count_failure, locked, login_failures_key, LoginResponse};
use crate::routes::account::me::AccountView;
use crate::routes::shared::no_store;
use crate::routes::shared::responses::{JsonBodyErrors, NotLoggedIn, SessionStoreDown};
use crate::routes::shared::Json;
use crate::state::AppState;

/// An official's own password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password in force.
    pub current_password: String,
    /// The new one: 12–128 characters, not easily guessed.
    pub new_password: String,
}

/// A temporary password an administrator sets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// 12–128 characters, not easily guessed; the official must change it at the next login.
    pub new_password: String,
}

/// 422 when `new` is refused for `official`.
fn check_new(field: &str, new: &str, official: &Official) -> Result<(), ApiError> {
    let inputs = [official.username.as_str(), official.display_name.as_str()];
    match password_problem(field, new, &inputs) {
        Some(problem) => Err(ApiError::from(vec![problem])),
        None => Ok(()),
    }
}

/// The argon2id hash of `new`, off the async threads.
async fn hash(new: String) -> Result<String, ApiError> {
    web::block(move || password::hash(&new))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))
}

/// Changes the caller's password. The current password is checked as at login (failures count
/// towards the same lock); then every session of the caller ends, and the answer is a new
/// session's tokens. Open also while an administrator's temporary password must be changed.
#[utoipa::path(post, tag = "admin: officials", security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed: every earlier session has ended; here is a new one", body = LoginResponse),
        (status = 401, description = "`invalid_credentials`: the current password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: the new password is `too_short`, `too_long` or `too_weak`, or equals the current one (`unchanged`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`account_locked`, with Retry-After", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/me/password")]
pub async fn change_own(
    state: web::Data<AppState>,
    PasswordChanger(admin): PasswordChanger,
    body: Json<PasswordChange>,
) -> Result<CustomizeResponder<web::Json<LoginResponse>>, ApiError> {
    let body = body.into_inner();
    let me = state.officials.get(admin.principal.account_id()).await?;
    let key = login_failures_key(me.username.as_str());
    if let Some(secs) = state.sessions.locked_for(&key).await? {
        return Err(locked(secs));
    }
    let credentials = state.officials.find_credentials(&me.username).await?;
    let stored = credentials
        .map(|(_, hash)| hash)
        .ok_or_else(ApiError::not_found)?;
    let current = body.current_password.clone();
    let verified = web::block(move || password::verify(&current, &stored))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    if !verified {
        count_failure(&state, &key).await?;
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "当前密码不正确",
            "The current password is wrong",
        ));
    }
    state.sessions.clear_count(&key).await?;
    if body.new_password == body.current_password {
        return Err(ApiError::invalid_field(
            "new_password",
            "unchanged",
            "新密码不能与当前密码相同",
            "the new password equals the current one",
        ));
    }
    check_new("new_password", &body.new_password, &me)?;
    let hashed = hash(body.new_password).await?;
    let change = admin.principal.change(
        "official.password_change",
        "official",
        me.id,
        json!({ "username": me.username.as_str() }),
        None,
    );
    let me = state
        .officials
        .set_password(me.id, &hashed, false, &change)
        .await?;
    let ended = state.sessions.revoke_account(me.id).await?;
    tracing::info!(official_id = %me.id, sessions_ended = ended, "official changed their password");
    let org: Organisation = state.orgs.get(me.org_id).await?;
    let tokens = sessions::start(
        &state,
        SessionFor {
            account_id: me.id,
            kind: AccountKind::Admin,
            role: Some(me.role),
            org: Some((me.org_id, me.org_path.clone())),
            password_change_required: false,
        },
    )
    .await?;
    Ok(no_store(LoginResponse {
        tokens,
        account: AccountView::official(&me, &org),
    }))
}

/// Sets a temporary password for an official of the caller's subtree whose role is not above
/// the caller's. Their sessions end at once; at the next login they must change it before any
/// other admin route answers (`password_change_required`). Not for one's own account.
#[utoipa::path(post, tag = "admin: officials", security(("bearer" = [])),
    params(("id" = String, Path, description = "Official id")),
    request_body = PasswordReset,
    responses(
        (status = 204, description = "Set; the official's sessions have ended"),
        (status = 403, description = "`forbidden`, `role_too_high`, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such official in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`own_account`: use `POST /api/v1/admin/me/password`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: the password is `too_short`, `too_long` or `too_weak`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/officials/{id}/password")]
pub async fn reset(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    body: Json<PasswordReset>,
) -> Result<HttpResponse, ApiError> {
    let target = load_official(&state, &admin, Permission::ManageOfficials, &id).await?;
    if target.id == admin.principal.account_id() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "own_account",
            "修改自己的密码请使用“修改密码”（须输入当前密码）",
            "Change your own password with POST /api/v1/admin/me/password",
        ));
    }
    if target.role.rank() > admin.role.rank() {
        return Err(role_too_high());
    }
    let body = body.into_inner();
    check_new("new_password", &body.new_password, &target)?;
    let hashed = hash(body.new_password).await?;
    let change = admin.principal.change(
        "official.password_reset",
        "official",
        target.id,
        json!({ "username": target.username.as_str() }),
        None,
    );
    state
        .officials
        .set_password(target.id, &hashed, true, &change)
        .await?;
    let ended = state.sessions.revoke_account(target.id).await?;
    tracing::info!(official_id = %target.id, sessions_ended = ended, at = %clock::now(), "official's password reset");
    Ok(HttpResponse::NoContent().finish())
}
