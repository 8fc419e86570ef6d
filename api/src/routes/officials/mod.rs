//! Officials: create, list, read and disable officials in the caller's subtree, and passwords
//! ([`passwords`]). Nobody grants a role above their own; disabling ends all of the official's
//! sessions at once.

pub mod passwords;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use yiwang_domain::account::{password_problem, AccountId, Official, Role, Username};
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_infra::password;

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::orgs::admin::load_in_scope;
use crate::routes::shared::responses::{
    BodyLimitErrors, MalformedQuery, NotLoggedIn, SessionStoreDown,
};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{PageQuery, Paged};
use crate::state::AppState;

/// An official, as other officials see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfficialView {
    /// Account id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// The organisation the official belongs to.
    pub org_id: String,
    /// Role: `super_admin`, `org_admin`, `reviewer`, `finance`, `lawyer`, `station_manager`,
    /// `auditor`.
    #[schema(value_type = crate::routes::vocabularies::Role)]
    pub role: String,
    /// When the account was disabled; absent while active.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<&Official> for OfficialView {
    fn from(o: &Official) -> Self {
        OfficialView {
            id: o.id.to_string(),
            username: o.username.as_str().to_owned(),
            display_name: o.display_name.clone(),
            org_id: o.org_id.to_string(),
            role: o.role.as_str().to_owned(),
            disabled_at: o.disabled_at,
            created_at: o.created_at,
        }
    }
}

/// A new official.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOfficial {
    /// Login name: 3–64 of `A–Z a–z 0–9 . _ -`, case-insensitive, unique.
    #[schema(pattern = "^[A-Za-z0-9._-]{3,64}$")]
    pub username: String,
    /// Initial password, 12–128 characters.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    /// Name shown to others, 1–50 characters.
    #[schema(min_length = 1, max_length = 50, pattern = "\\S")]
    pub display_name: String,
    /// The official's organisation, inside the caller's subtree.
    #[schema(format = Uuid)]
    pub org_id: String,
    /// Role, not above the caller's own.
    #[schema(value_type = crate::routes::vocabularies::Role)]
    pub role: String,
}

/// Filters for the list of officials.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OfficialFilter {
    /// Only officials with this role.

    #[param(value_type = Option<crate::routes::vocabularies::Role>)]
    pub role: Option<String>,
}

/// Checks a role name; 422 listing the allowed ones.
pub fn parse_role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s).ok_or_else(|| ApiError::not_one_of("role", &Role::ALL.map(Role::as_str)))
}

pub(crate) fn role_too_high() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "role_too_high",
        "不能授予或管理高于自己的角色",
        "You cannot grant or manage a role above your own",
    )
}

pub(crate) async fn load_official(
    state: &AppState,
    admin: &Admin,
    permission: Permission,
    id: &str,
) -> Result<Official, ApiError> {
    let id = AccountId::parse(id).ok_or_else(ApiError::not_found)?;
    let official = state.officials.get(id).await?;
    admin.authorize(permission, &official.org_path)?;
    Ok(official)
}

/// Creates an official in an organisation of the caller's subtree.
#[utoipa::path(post, tag = "admin: officials", security(("bearer" = [])),
    request_body = CreateOfficial,
    responses(
        (status = 201, description = "Created", body = OfficialView),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (role may not manage officials), `role_too_high`, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Organisation not found in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`username_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid username, password, display name or role", body = Problem, content_type = "application/problem+json"),
        BodyLimitErrors, NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/officials")]
pub async fn create(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<CreateOfficial>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let org = load_in_scope(&state, &admin, Permission::ManageOfficials, &body.org_id).await?;
    let role = parse_role(&body.role)?;
    if !admin.role.may_grant(role) {
        return Err(role_too_high());
    }
    let username = Username::parse(&body.username).ok_or_else(|| {
        ApiError::invalid_field(
            "username",
            "invalid",
            "用户名须为 3 到 64 个字母、数字或 . _ -",
            "username must be 3–64 of letters, digits, . _ -",
        )
    })?;
    let display_name = body.display_name.trim().to_owned();
    if display_name.is_empty() || display_name.chars().count() > 50 {
        return Err(ApiError::invalid_field(
            "display_name",
            "invalid",
            "显示名称须为 1 到 50 个字符",
            "display_name must be 1–50 characters",
        ));
    }
    let inputs = [username.as_str(), display_name.as_str()];
    if let Some(problem) = password_problem("password", &body.password, &inputs) {
        return Err(ApiError::from(vec![problem]));
    }
    let pw = body.password;
    let hash = web::block(move || password::hash(&pw))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    let official = Official {
        id: AccountId::new(),
        username,
        display_name,
        org_id: org.id,
        org_path: org.path.clone(),
        role,
        disabled_at: None,
        password_change_required: false,
        created_at: clock::now(),
    };
    let view = OfficialView::from(&official);
    let change = admin.principal.change(
        "official.create",
        "official",
        official.id,
        json!({ "username": view.username, "org_id": view.org_id, "role": view.role }),
        Some(OutboxEvent {
            topic: "official.created".into(),
            payload: json!(view),
        }),
    );
    state.officials.create(&official, &hash, &change).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Lists officials of the caller's subtree, optionally of one role.
#[utoipa::path(get, tag = "admin: officials", security(("bearer" = [])),
    params(PageQuery, OfficialFilter),
    responses(
        (status = 200, description = "One page", body = Paged<OfficialView>),
        (status = 403, description = "Role may not read officials, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit, cursor or role", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn, SessionStoreDown,
    ))]
#[get("/admin/officials")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    page: Query<PageQuery>,
    filter: Query<OfficialFilter>,
) -> Result<web::Json<Paged<OfficialView>>, ApiError> {
    admin.authorize(Permission::ReadOfficials, &admin.org_path)?;
    // Keys are account ids.
    let page = page.request()?;
    let role = filter.role.as_deref().map(parse_role).transpose()?;
    let rows = state
        .officials
        .list_in_subtree(&admin.org_path, role, &page)
        .await?;
    Ok(web::Json(Paged::of(rows, |o| OfficialView::from(&o))))
}

/// One official of the caller's subtree.
#[utoipa::path(get, tag = "admin: officials", security(("bearer" = [])),
    params(("id" = String, Path, description = "Official id")),
    responses(
        (status = 200, description = "The official", body = OfficialView),
        (status = 403, description = "Role may not read officials, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such official in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[get("/admin/officials/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<OfficialView>, ApiError> {
    let official = load_official(&state, &admin, Permission::ReadOfficials, &id).await?;
    Ok(web::Json(OfficialView::from(&official)))
}

/// Disables an official and ends all their sessions at once. Idempotent.
#[utoipa::path(post, tag = "admin: officials", security(("bearer" = [])),
    params(("id" = String, Path, description = "Official id")),
    responses(
        (status = 200, description = "Disabled", body = OfficialView),
        (status = 403, description = "`forbidden`, `role_too_high`, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such official in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`cannot_disable_self`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/officials/{id}/disable")]
pub async fn disable(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<OfficialView>, ApiError> {
    let target = load_official(&state, &admin, Permission::ManageOfficials, &id).await?;
    if target.id == admin.principal.account_id() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "cannot_disable_self",
            "不能停用自己的账号",
            "You cannot disable your own account",
        ));
    }
    if target.role.rank() > admin.role.rank() {
        return Err(role_too_high());
    }
    let change = admin.principal.change(
        "official.disable",
        "official",
        target.id,
        json!({ "username": target.username.as_str() }),
        Some(OutboxEvent {
            topic: "official.disabled".into(),
            payload: json!({ "id": target.id, "username": target.username.as_str() }),
        }),
    );
    let disabled = state
        .officials
        .disable(target.id, clock::now(), &change)
        .await?;
    let ended = state.sessions.revoke_account(target.id).await?;
    tracing::info!(official_id = %target.id, sessions_ended = ended, "official disabled");
    Ok(web::Json(OfficialView::from(&disabled)))
}

/// Registers this feature's routes with their OpenAPI paths, in the order actix matches
/// them (fixed paths before `{id}`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(passwords::change_own)
        .service(create)
        .service(list)
        .service(get)
        .service(disable)
        .service(passwords::reset);
}
