//! Starting sessions and answering with tokens: shared by worker login, official login and
//! refresh.

use chrono::Duration;
use serde::Serialize;
use utoipa::ToSchema;
use yiwang_domain::account::{AccountId, AccountKind, Role};
use yiwang_domain::clock;
use yiwang_domain::org::{OrgId, OrgPath};
use yiwang_domain::session::SessionRecord;

use super::tokens::{new_refresh, random_token};
use crate::error::ApiError;
use crate::state::AppState;

/// Tokens handed out at login and refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// Signed JWT (EdDSA) for `Authorization: Bearer …`.
    pub access_token: String,
    /// Opaque, single-use refresh token for `POST /api/v1/auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires (900).
    pub expires_in: u64,
}

/// Who the session is for.
#[derive(Debug)]
pub struct SessionFor {
    /// The account.
    pub account_id: AccountId,
    /// Worker or official.
    pub kind: AccountKind,
    /// The official's role.
    pub role: Option<Role>,
    /// The official's organisation and its path.
    pub org: Option<(OrgId, OrgPath)>,
    /// The official must change their password first.
    pub password_change_required: bool,
}

/// Most live sessions one account keeps (phones, consoles); a new login ends the oldest
/// beyond it.
pub const MAX_SESSIONS_PER_ACCOUNT: usize = 10;

/// Creates a session and signs its first tokens; ends the account's oldest sessions beyond
/// [`MAX_SESSIONS_PER_ACCOUNT`].
pub async fn start(state: &AppState, who: SessionFor) -> Result<TokenPair, ApiError> {
    let sid = random_token(16);
    let (refresh_token, refresh_hash) = new_refresh(&sid);
    let now = clock::now();
    let ttl = match who.kind {
        AccountKind::Worker => state.worker_session_ttl_secs,
        AccountKind::Admin => state.admin_session_ttl_secs,
    };
    let session = SessionRecord {
        sid,
        account_id: who.account_id,
        kind: who.kind,
        roles: who.role.into_iter().collect(),
        org_id: who.org.as_ref().map(|(id, _)| *id),
        org_path: who.org.map(|(_, p)| p),
        refresh_hash,
        created_at: now,
        expires_at: now + Duration::seconds(i64::try_from(ttl).unwrap_or(i64::MAX / 2)),
        password_change_required: who.password_change_required,
    };
    state.sessions.create(&session).await?;
    let live = state.sessions.sessions_of(session.account_id).await?;
    let beyond = live.len().saturating_sub(MAX_SESSIONS_PER_ACCOUNT);
    for old in live.iter().filter(|s| s.sid != session.sid).take(beyond) {
        state.sessions.revoke(&old.sid).await?;
    }
    pair(state, &session, refresh_token)
}

/// Signs an access token for `session` and pairs it with `refresh_token`.
pub fn pair(
    state: &AppState,
    session: &SessionRecord,
    refresh_token: String,
) -> Result<TokenPair, ApiError> {
    let access_token = state
        .tokens
        .issue(session)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs(),
    })
}
