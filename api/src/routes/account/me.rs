//! The current account: `GET /api/v1/me` for both sides, phone binding and account deletion
//! for workers.
//!
//! A worker's view — the account and their standing with the union — is kept in the session
//! store (`me:worker:v2:{id}`, [`WORKER_VIEW_TTL_SECS`]) so the request workers make most
//! often needs no database read: a miss reads the rows and fills the entry only if it is still
//! empty, and every change to what the view shows (a bound phone, an application submitted,
//! decided or withdrawn, a transfer, leaving) rewrites it after its commit
//! ([`refresh_worker_view`]), so a fill racing a change cannot bring the old one back.

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yiwang_domain::account::AccountId;
use yiwang_domain::account::{AccountKind, Official, Role, Worker};
use yiwang_domain::clock;
use yiwang_domain::membership::application::ApplicationStatus;
use yiwang_domain::membership::person::MobilePhone;
use yiwang_domain::org::Organisation;

use crate::auth::{self, Principal};
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::{JsonBodyErrors, NotLoggedIn, SessionStoreDown, WorkerOnly};
use crate::routes::shared::Json;
use crate::state::AppState;

/// The `kind` of a worker's account: always `worker`.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkerKind {
    /// A worker (WeChat login).
    #[default]
    Worker,
}

/// The `kind` of an official's account: always `admin`.
#[derive(Debug, Default, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfficialKind {
    /// An official (password login).
    #[default]
    Admin,
}

/// A worker as they see themselves.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkerView {
    /// Always `worker`: tells this view from an official's in [`AccountView`].
    #[serde(default)]
    #[schema(required = true)]
    pub kind: WorkerKind,
    /// Account id.
    pub id: String,
    /// Bound mobile number, masked (`138****8000`); absent until bound.
    pub phone: Option<String>,
    /// Whether WeChat gave a unionid for this worker.
    pub has_unionid: bool,
    /// Created (UTC, RFC 3339).
    pub created_at: DateTime<Utc>,
    /// Where the worker stands with the union.
    pub membership: MembershipBrief,
}

/// Where a worker stands with the union: what the app's home page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipStanding {
    /// A member in force (会员).
    Member,
    /// An application waiting for the union's decision (审核中).
    Applied,
    /// An application returned to complete (待补充材料): the app opens it for editing.
    Returned,
    /// Neither (未入会): the app offers to join.
    None,
}

/// A worker's standing with the union, and what it refers to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MembershipBrief {
    /// `member`, `applied`, `returned` or `none`.
    pub status: MembershipStanding,
    /// The same in Chinese: 会员, 审核中, 待补充材料, 未入会.
    pub status_label: String,
    /// The member number (`member`).
    pub member_number: Option<String>,
    /// The member's organisation, or the one applied to.
    pub org: Option<OrgBrief>,
    /// The open application (`applied`, `returned`): `GET /api/v1/membership/applications/{id}`.
    pub application_id: Option<String>,
}

/// An organisation, in brief.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrgBrief {
    /// Organisation id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// An official as they see themselves.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfficialSelfView {
    /// Always `admin`: tells this view from a worker's in [`AccountView`].
    pub kind: OfficialKind,
    /// Account id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    #[schema(value_type = String, example = "org_admin")]
    pub role: Role,
    /// The organisation whose subtree is the official's data scope.
    pub org: OrgBrief,
    /// An administrator set the password: it must be changed
    /// (`POST /api/v1/admin/me/password`) before any other admin route answers.
    pub password_change_required: bool,
}

/// The current account: `kind` tells which side (`worker` or `admin`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "kind", mapping(
    ("worker" = "#/components/schemas/WorkerView"),
    ("admin" = "#/components/schemas/OfficialSelfView"),
)))]
pub enum AccountView {
    /// A worker.
    Worker(WorkerView),
    /// An official.
    Admin(OfficialSelfView),
}

/// Masks a mobile number: first 3 and last 4 digits shown.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

impl WorkerView {
    /// Worker `w` standing as `membership`.
    pub fn new(w: &Worker, membership: MembershipBrief) -> Self {
        WorkerView {
            kind: WorkerKind::Worker,
            id: w.id.to_string(),
            phone: w.phone.as_deref().map(mask_phone),
            has_unionid: w.unionid.is_some(),
            created_at: w.created_at,
            membership,
        }
    }
}

/// The standing of worker `account`: a membership in force, else an open application
/// (submitted or returned), else none.
async fn membership_brief(
    state: &AppState,
    account: AccountId,
) -> Result<MembershipBrief, ApiError> {
    if let Some(m) = state.membership.member_of(account).await? {
        return Ok(MembershipBrief {
            status: MembershipStanding::Member,
            status_label: "会员".to_owned(),
            member_number: Some(m.member_number),
            org: Some(OrgBrief {
                id: m.org_id.to_string(),
                name: m.org_name,
            }),
            application_id: None,
        });
    }
    let open = state
        .membership
        .applications_of(account)
        .await?
        .into_iter()
        .find(|a| {
            matches!(
                a.status,
                ApplicationStatus::Submitted | ApplicationStatus::Returned
            )
        });
    Ok(match open {
        Some(a) => MembershipBrief {
            status: if a.status == ApplicationStatus::Returned {
                MembershipStanding::Returned
            } else {
                MembershipStanding::Applied
            },
            status_label: a.status.zh().to_owned(),
            member_number: None,
            org: Some(OrgBrief {
                id: a.org_id.to_string(),
                name: a.org_name,
            }),
            application_id: Some(a.id.to_string()),
        },
        None => MembershipBrief {
            status: MembershipStanding::None,
            status_label: "未入会".to_owned(),
            member_number: None,
            org: None,
            application_id: None,
        },
    })
}

impl AccountView {
    /// The official's view.
    pub fn official(o: &Official, org: &Organisation) -> Self {
        AccountView::Admin(OfficialSelfView {
            kind: OfficialKind::Admin,
            id: o.id.to_string(),
            username: o.username.as_str().to_owned(),
            display_name: o.display_name.clone(),
            role: o.role,
            org: OrgBrief {
                id: org.id.to_string(),
                name: org.name.as_str().to_owned(),
            },
            password_change_required: o.password_change_required,
        })
    }
}

/// The current worker or official.
#[utoipa::path(get, tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "The current account", body = AccountView),
        NotLoggedIn, SessionStoreDown,
    ))]
#[get("/me")]
pub async fn me(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<AccountView>, ApiError> {
    let id = principal.account_id();
    let view = match principal.session.kind {
        AccountKind::Worker => AccountView::Worker(worker_view(&state, id).await?),
        AccountKind::Admin => {
            let official = state.officials.get(id).await?;
            let org = state.orgs.get(official.org_id).await?;
            AccountView::official(&official, &org)
        }
    };
    Ok(web::Json(view))
}

/// How long a worker's cached view lives, in seconds.
pub const WORKER_VIEW_TTL_SECS: u64 = 3600;

fn worker_view_key(id: AccountId) -> String {
    format!("me:worker:v2:{id}")
}

/// The worker's view as the database has it now.
async fn read_worker_view(state: &AppState, id: AccountId) -> Result<WorkerView, ApiError> {
    let worker = state.workers.get(id).await?;
    Ok(WorkerView::new(&worker, membership_brief(state, id).await?))
}

/// The worker's view from the session store, or from the database (then cached).
pub async fn worker_view(state: &AppState, id: AccountId) -> Result<WorkerView, ApiError> {
    let key = worker_view_key(id);
    if let Some(view) = state
        .sessions
        .cache_get(&key)
        .await?
        .and_then(|json| serde_json::from_str(&json).ok())
    {
        return Ok(view);
    }
    let view = read_worker_view(state, id).await?;
    let json = serde_json::to_string(&view).map_err(|e| ApiError::internal(&e))?;
    state
        .sessions
        .cache_add(&key, &json, WORKER_VIEW_TTL_SECS)
        .await?;
    Ok(view)
}

/// Rewrites worker `id`'s cached view from the database after a committed change to what it
/// shows. The change stands whatever happens here: when the rows cannot be read the entry is
/// dropped instead (the next `/me` reads them), and when the store cannot be written the entry
/// ages out within [`WORKER_VIEW_TTL_SECS`]; either failure is logged. The view read, when it
/// was.
pub async fn refresh_worker_view(state: &AppState, id: AccountId) -> Option<WorkerView> {
    let key = worker_view_key(id);
    let (view, stored) = match read_worker_view(state, id).await {
        Ok(view) => {
            let stored = match serde_json::to_string(&view) {
                Ok(json) => state
                    .sessions
                    .cache_set(&key, &json, WORKER_VIEW_TTL_SECS)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            (Some(view), stored)
        }
        Err(e) => {
            tracing::warn!(error = ?e, worker = %id, "could not read the worker's /me view");
            let dropped = state.sessions.cache_delete(&key).await;
            (None, dropped.map_err(|e| e.to_string()))
        }
    };
    if let Err(error) = stored {
        tracing::warn!(%error, worker = %id, "could not refresh the cached /me view");
    }
    view
}

/// A `getPhoneNumber` button code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindPhone {
    /// The code from the mini-program's `getPhoneNumber` button (not the `wx.login` code).
    #[schema(min_length = 1, max_length = 128, pattern = "\\S")]
    pub code: String,
}

/// Binds the worker's mobile number through WeChat's getuserphonenumber.
#[utoipa::path(post, tag = "me", security(("bearer" = [])), request_body = BindPhone,
    responses(
        (status = 200, description = "Bound; the number is shown masked", body = AccountView),
        (status = 401, description = "Not logged in, or `wechat_code_invalid`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`wrong_account_kind`: officials have no WeChat phone", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty code, or a code of another mini-program; `phone_unsupported`: the WeChat phone is not a mainland mobile number (nothing stored)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`wechat_rate_limited`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`wechat_error`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "WeChat or the session store unavailable", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors,
    ))]
#[post("/me/phone")]
pub async fn bind_phone(
    state: web::Data<AppState>,
    worker: auth::Worker,
    body: Json<BindPhone>,
) -> Result<web::Json<AccountView>, ApiError> {
    // At most 128 characters as sent (the contract's `maxLength`), then trimmed.
    let code = body.code.trim();
    if code.is_empty() || body.code.chars().count() > 128 {
        return Err(ApiError::invalid_field(
            "code",
            "invalid",
            "手机号凭证无效，请重新点击“获取手机号”",
            "code must be the code getPhoneNumber returned",
        ));
    }
    let phone = state.wechat.phone_number(code).await?;
    // Checked as the membership form checks a number (issue 18, item 17): what WeChat sends
    // is stored only when it is a mainland mobile number, normalised.
    let number = MobilePhone::from_wechat(&phone.pure_phone_number, &phone.country_code)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "phone_unsupported",
                "微信绑定的手机号不是中国大陆手机号码，未保存；申请入会时请直接填写手机号码",
                "The WeChat phone is not a mainland China mobile number and was not stored; type the number in the application instead",
            )
        })?;
    let principal = &worker.0;
    let change = principal.change(
        "worker.bind_phone",
        "worker",
        principal.account_id(),
        serde_json::json!({ "phone": mask_phone(number.as_str()) }),
        None,
    );
    let updated = state
        .workers
        .bind_phone(
            principal.account_id(),
            number.as_str(),
            "86",
            clock::now(),
            &change,
        )
        .await?;
    let view = match refresh_worker_view(&state, updated.id).await {
        Some(view) => view,
        None => worker_view(&state, updated.id).await?,
    };
    Ok(web::Json(AccountView::Worker(view)))
}

/// Deletes the worker's account (注销账号). A member leaves the union first
/// (`POST /api/v1/membership/leave`); open applications are withdrawn; the personal data of
/// every application and ended membership is erased at once rather than after the retention
/// period; every session ends. Logging in with the same WeChat afterwards starts a new, empty
/// account. Repeating the request after a lost answer changes nothing.
#[utoipa::path(delete, tag = "me", security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted; the tokens no longer work"),
        (status = 409, description = "`member_active`: leave the union first", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[delete("/me")]
pub async fn delete_account(
    state: web::Data<AppState>,
    worker: auth::Worker,
) -> Result<HttpResponse, ApiError> {
    let id = worker.0.account_id();
    let change = worker.0.change(
        "worker.delete",
        "worker",
        id,
        serde_json::json!({}),
        Some(yiwang_domain::audit::OutboxEvent {
            topic: "worker.deleted".into(),
            payload: serde_json::json!({ "account_id": id }),
        }),
    );
    state
        .workers
        .delete_account(id, clock::now(), &change)
        .await?;
    state.sessions.revoke_account(id).await?;
    state.sessions.cache_delete(&worker_view_key(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::mask_phone;

    #[test]
    fn masks_the_middle() {
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("123"), "***");
    }
}
