//! Logging in and out: workers with WeChat, officials with a password; refresh and logout for
//! both.

use actix_web::http::StatusCode;
use actix_web::{post, web, CustomizeResponder, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yiwang_domain::account::{
    lockout_duration, lockout_window, AccountKind, Username, LOCKOUT_MAX_FAILURES,
};
use yiwang_domain::clock;
use yiwang_domain::session::RotateOutcome;
use yiwang_infra::password;

use super::me::{worker_view, AccountView};
use crate::auth::sessions::{self, SessionFor, TokenPair};
use crate::auth::tokens::{new_refresh, parse_refresh};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::rate_limit::LoginAttempt;
use crate::routes::shared::no_store;
use crate::routes::shared::responses::{JsonBodyErrors, NotLoggedIn, SessionStoreDown};
use crate::routes::shared::Json;
use crate::state::AppState;

/// `wx.login()` code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeChatLogin {
    /// The code from `wx.login()`: single use, lives about five minutes.
    #[schema(
        example = "081aBcDe2xYz0Q0cFgHi3Jk4Lm2aBcDe",
        min_length = 1,
        max_length = 128,
        pattern = "\\S"
    )]
    pub code: String,
}

/// An official's credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminLogin {
    /// Login name (case-insensitive).
    pub username: String,
    /// Password.
    pub password: String,
}

/// A refresh token to exchange.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The latest refresh token of the session.
    pub refresh_token: String,
}

/// Login answer: the tokens plus the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// `access_token`, `refresh_token`, `token_type`, `expires_in`.
    #[serde(flatten)]
    pub tokens: TokenPair,
    /// The logged-in account.
    pub account: AccountView,
}

/// Most WeChat logins of one worker account in an hour (counted across replicas).
pub const WECHAT_LOGINS_PER_HOUR: u32 = 30;

/// Worker login with WeChat: code2Session, then find or create the worker by `openid`.
/// Throttled per client address before WeChat is asked, and per account after; the account's
/// oldest sessions end beyond [`crate::auth::sessions::MAX_SESSIONS_PER_ACCOUNT`].
#[utoipa::path(post, tag = "auth", request_body = WeChatLogin,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "`wechat_code_invalid`: call wx.login again", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`wechat_user_blocked`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or overlong code", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many logins from this address (`YIWANG_WECHAT_LOGIN_RATE_PER_MINUTE`); `too_many_logins`: more than 30 logins of one account in an hour; `wechat_rate_limited`: WeChat's own limit. With Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`wechat_error`: another WeChat error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`: WeChat busy, slow or unreachable", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors,
    ))]
#[post("/auth/wechat/login")]
pub async fn wechat_login(
    state: web::Data<AppState>,
    _attempt: LoginAttempt,
    body: Json<WeChatLogin>,
) -> Result<CustomizeResponder<web::Json<LoginResponse>>, ApiError> {
    // At most 128 characters as sent (the contract's `maxLength`), then trimmed.
    let code = body.code.trim();
    if code.is_empty() || body.code.chars().count() > 128 {
        return Err(ApiError::invalid_field(
            "code",
            "invalid",
            "登录凭证无效，请重新调用 wx.login 获取",
            "code must be the code wx.login returned",
        ));
    }
    let identity = state.wechat.code_to_session(code).await?;
    let (worker, created) = state
        .workers
        .login_by_openid(&identity.openid, identity.unionid.as_deref(), clock::now())
        .await?;
    let key = format!("wechat-login:{}", worker.id);
    if state.sessions.count(&key, 3600).await? > WECHAT_LOGINS_PER_HOUR {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_logins",
            "登录过于频繁，请稍后再试",
            "Too many logins of this account; try again later",
        )
        .retry_after(600));
    }
    tracing::info!(worker_id = %worker.id, created, "worker logged in");
    let tokens = sessions::start(
        &state,
        SessionFor {
            account_id: worker.id,
            kind: AccountKind::Worker,
            role: None,
            org: None,
            password_change_required: false,
        },
    )
    .await?;
    let account = AccountView::Worker(worker_view(&state, worker.id).await?);
    Ok(no_store(LoginResponse { tokens, account }))
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "用户名或密码错误",
        "Wrong username or password",
    )
}

/// The key an official's failed password checks are counted under (login and password
/// change alike).
pub(crate) fn login_failures_key(username: &str) -> String {
    format!("admin-login:{}", username.trim().to_lowercase())
}

/// Counts a failed password check of `key`, locking it after [`LOCKOUT_MAX_FAILURES`].
pub(crate) async fn count_failure(state: &AppState, key: &str) -> Result<(), ApiError> {
    let window = u64::try_from(lockout_window().num_seconds()).unwrap_or(900);
    let failures = state.sessions.count(key, window).await?;
    if failures >= LOCKOUT_MAX_FAILURES {
        let secs = u64::try_from(lockout_duration().num_seconds()).unwrap_or(900);
        state.sessions.lock(key, secs).await?;
        state.sessions.clear_count(key).await?;
        tracing::warn!(
            failures,
            "official password checks locked after repeated failures"
        );
    }
    Ok(())
}

/// 429 `account_locked` for `secs` more seconds.
pub(crate) fn locked(secs: u64) -> ApiError {
    let minutes = secs.div_ceil(60);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
        format!("登录失败次数过多，请 {minutes} 分钟后再试"),
        format!("Too many failed logins; try again in {minutes} minutes"),
    )
    .retry_after(secs)
}

/// Official login. After 5 failures within 15 minutes the username is locked for 15 minutes;
/// an unknown username gets exactly the same answers as a wrong password.
#[utoipa::path(post, tag = "auth", request_body = AdminLogin,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`account_locked`, with Retry-After", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, SessionStoreDown,
    ))]
#[post("/admin/auth/login")]
pub async fn admin_login(
    state: web::Data<AppState>,
    body: Json<AdminLogin>,
) -> Result<CustomizeResponder<web::Json<LoginResponse>>, ApiError> {
    let body = body.into_inner();
    let key = login_failures_key(&body.username);
    if let Some(secs) = state.sessions.locked_for(&key).await? {
        return Err(locked(secs));
    }
    let found = match Username::parse(&body.username) {
        Some(u) => state.officials.find_credentials(&u).await?,
        None => None,
    };
    let stored = found.as_ref().map(|(_, h)| h.clone());
    let password = body.password;
    // argon2 costs tens of milliseconds of CPU: off the async threads. Unknown users are
    // checked against a dummy hash so they cost the same time.
    let verified = web::block(move || {
        password::verify(
            &password,
            stored.as_deref().unwrap_or_else(|| password::dummy_hash()),
        )
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(|e| ApiError::internal(&e))?;
    match found {
        Some((official, _)) if verified && official.disabled_at.is_none() => {
            state.sessions.clear_count(&key).await?;
            let tokens = sessions::start(
                &state,
                SessionFor {
                    account_id: official.id,
                    kind: AccountKind::Admin,
                    role: Some(official.role),
                    org: Some((official.org_id, official.org_path.clone())),
                    password_change_required: official.password_change_required,
                },
            )
            .await?;
            let org = state.orgs.get(official.org_id).await?;
            tracing::info!(official_id = %official.id, "official logged in");
            Ok(no_store(LoginResponse {
                tokens,
                account: AccountView::official(&official, &org),
            }))
        }
        _ => {
            count_failure(&state, &key).await?;
            Err(invalid_credentials())
        }
    }
}

/// Exchanges a refresh token for a new pair. The old refresh token stops working; presenting
/// it again ends the whole session (theft is assumed).
#[utoipa::path(post, tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 401, description = "`refresh_token_invalid`, or `refresh_token_reused` (the session has been ended)", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, SessionStoreDown,
    ))]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<CustomizeResponder<web::Json<TokenPair>>, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "refresh_token_invalid",
            "刷新凭证无效或已过期，请重新登录",
            "The refresh token is invalid or expired; log in again",
        )
    };
    let (sid, presented) = parse_refresh(&body.refresh_token).ok_or_else(invalid)?;
    let (token, new_hash) = new_refresh(&sid);
    match state.sessions.rotate(&sid, &presented, &new_hash).await? {
        RotateOutcome::Rotated(session) => Ok(no_store(sessions::pair(&state, &session, token)?)),
        RotateOutcome::ReuseDetected => {
            tracing::warn!("refresh token reused; session revoked");
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "刷新凭证已被使用过，为安全起见本次登录已失效，请重新登录",
                "This refresh token was already used; the session has been ended for safety",
            ))
        }
        RotateOutcome::Invalid => Err(invalid()),
    }
}

/// Ends the current session at once: its access and refresh tokens stop working.
#[utoipa::path(post, tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    state.sessions.revoke(&principal.session.sid).await?;
    Ok(HttpResponse::NoContent().finish())
}
