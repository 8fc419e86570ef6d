//! The organisation tree: create, list, read and change organisations in the caller's
//! subtree.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::org::{self, OrgId, OrgKind, OrgName, Organisation};
use yiwang_domain::store::OrgUpdate;

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::{
    BodyLimitErrors, MalformedQuery, NotLoggedIn, SessionStoreDown,
};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{PageQuery, Paged};
use crate::state::AppState;

/// An organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    /// Id.
    pub id: String,
    /// Parent id; absent for the root.
    pub parent_id: Option<String>,
    /// Name, unique among siblings.
    pub name: String,
    /// Level or form: `national_federation`, `provincial_federation`, `city_federation`,
    /// `county_federation`, `township_union`, `enterprise_union`, `joint_union`,
    /// `industry_federation`.
    #[schema(value_type = crate::routes::vocabularies::OrgKind)]
    pub kind: String,
    /// Whether individual workers may join directly.
    pub accepts_individuals: bool,
    /// City it serves; absent when not set.
    pub city: Option<String>,
    /// Prefix of its member numbers.
    pub code: String,
    /// Depth in the tree (root = 1).
    pub depth: u32,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<&Organisation> for OrgView {
    fn from(o: &Organisation) -> Self {
        OrgView {
            id: o.id.to_string(),
            parent_id: o.parent_id.map(|p| p.to_string()),
            name: o.name.as_str().to_owned(),
            kind: o.kind.as_str().to_owned(),
            accepts_individuals: o.accepts_individuals,
            city: o.city.clone(),
            code: o.code.clone(),
            depth: u32::try_from(o.path.depth()).unwrap_or(u32::MAX),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// A new child organisation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    /// The parent, inside the caller's subtree.
    pub parent_id: String,
    /// Name, 1–100 characters, unique among siblings.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "\\S (no control characters)"
    )]
    pub name: String,
    /// Level or form (see `OrgView.kind`).
    #[schema(value_type = crate::routes::vocabularies::OrgKind)]
    pub kind: String,
    /// Whether individual workers may join directly. Default false.
    #[serde(default)]
    pub accepts_individuals: bool,
    /// City it serves (`黔西市`), 1–30 characters.
    #[schema(
        min_length = 1,
        max_length = 30,
        pattern = "\\S (no control characters)"
    )]
    pub city: Option<String>,
}

/// Changes to an organisation; at least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    /// New name.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "\\S (no control characters)"
    )]
    pub name: Option<String>,
    /// New kind.
    #[schema(value_type = Option<crate::routes::vocabularies::OrgKind>)]
    pub kind: Option<String>,
    /// New flag.
    pub accepts_individuals: Option<bool>,
    /// New city, 1–30 characters.
    #[schema(
        min_length = 1,
        max_length = 30,
        pattern = "\\S (no control characters)"
    )]
    pub city: Option<String>,
}

pub(crate) fn parse_name(s: &str) -> Result<OrgName, ApiError> {
    OrgName::parse(s).map_err(|_| {
        ApiError::invalid_field(
            "name",
            "invalid",
            "名称须为 1 到 100 个字符，且不含控制字符",
            "name must be 1–100 characters without control characters",
        )
    })
}

fn parse_city(s: &str) -> Result<String, ApiError> {
    org::parse_city(s).ok_or_else(|| {
        ApiError::invalid_field(
            "city",
            "invalid",
            "城市须为 1 到 30 个字符，且不含控制字符",
            "city must be 1–30 characters without control characters",
        )
    })
}

fn parse_kind(s: &str) -> Result<OrgKind, ApiError> {
    OrgKind::parse(s)
        .ok_or_else(|| ApiError::not_one_of("kind", &OrgKind::ALL.map(OrgKind::as_str)))
}

/// The organisation with this id if it lies in the caller's scope and the caller holds
/// `permission`; 404 otherwise (an id that is not a UUID cannot exist).
pub(crate) async fn load_in_scope(
    state: &AppState,
    admin: &Admin,
    permission: Permission,
    id: &str,
) -> Result<Organisation, ApiError> {
    let id = OrgId::parse(id).ok_or_else(ApiError::not_found)?;
    let org = state.orgs.get(id).await?;
    admin.authorize(permission, &org.path)?;
    Ok(org)
}

/// Creates a child organisation under a parent in the caller's subtree.
#[utoipa::path(post, tag = "admin: organisations", security(("bearer" = [])),
    request_body = CreateOrg,
    responses(
        (status = 201, description = "Created", body = OrgView),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not manage organisations, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Parent not found in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`org_name_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name or kind", body = Problem, content_type = "application/problem+json"),
        BodyLimitErrors, NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/orgs")]
pub async fn create(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<CreateOrg>,
) -> Result<HttpResponse, ApiError> {
    let parent = load_in_scope(&state, &admin, Permission::ManageOrgs, &body.parent_id).await?;
    let name = parse_name(&body.name)?;
    let kind = parse_kind(&body.kind)?;
    let now = clock::now();
    let mut org = parent.new_child(name, kind, body.accepts_individuals, now);
    org.city = body.city.as_deref().map(parse_city).transpose()?;
    let view = OrgView::from(&org);
    let change = admin.principal.change(
        "organisation.create",
        "organisation",
        org.id,
        json!({ "parent_id": parent.id, "name": view.name, "kind": view.kind, "city": view.city }),
        Some(OutboxEvent {
            topic: "organisation.created".into(),
            payload: json!(view),
        }),
    );
    state.orgs.create(&org, &change).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Lists the caller's organisation and everything below it, in tree order.
#[utoipa::path(get, tag = "admin: organisations", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<OrgView>),
        (status = 403, description = "A worker token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn, SessionStoreDown,
    ))]
#[get("/admin/orgs")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<PageQuery>,
) -> Result<web::Json<Paged<OrgView>>, ApiError> {
    // Keys are paths of this subtree.
    let page = query.request()?;
    admin.authorize(Permission::ReadOrgs, &admin.org_path)?;
    let rows = state.orgs.list_subtree(&admin.org_path, &page).await?;
    Ok(web::Json(Paged::of(rows, |o| OrgView::from(&o))))
}

/// One organisation in the caller's subtree.
#[utoipa::path(get, tag = "admin: organisations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The organisation", body = OrgView),
        (status = 403, description = "A worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[get("/admin/orgs/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<OrgView>, ApiError> {
    let org = load_in_scope(&state, &admin, Permission::ReadOrgs, &id).await?;
    Ok(web::Json(OrgView::from(&org)))
}

/// Changes an organisation in the caller's subtree.
#[utoipa::path(patch, tag = "admin: organisations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id")),
    request_body = UpdateOrg,
    responses(
        (status = 200, description = "Changed", body = OrgView),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not manage organisations, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`org_name_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name or kind, or nothing to change", body = Problem, content_type = "application/problem+json"),
        BodyLimitErrors, NotLoggedIn, SessionStoreDown,
    ))]
#[patch("/admin/orgs/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    body: Json<UpdateOrg>,
) -> Result<web::Json<OrgView>, ApiError> {
    let org = load_in_scope(&state, &admin, Permission::ManageOrgs, &id).await?;
    let update = OrgUpdate {
        name: body.name.as_deref().map(parse_name).transpose()?,
        kind: body.kind.as_deref().map(parse_kind).transpose()?,
        accepts_individuals: body.accepts_individuals,
        city: body.city.as_deref().map(parse_city).transpose()?,
    };
    if update == OrgUpdate::default() {
        return Err(ApiError::invalid_field(
            "name",
            "required",
            "至少要修改 name、kind、accepts_individuals、city 中的一项",
            "give at least one of name, kind, accepts_individuals, city",
        ));
    }
    let detail = json!({
        "name": body.name, "kind": body.kind, "accepts_individuals": body.accepts_individuals,
        "city": body.city,
    });
    let change = admin.principal.change(
        "organisation.update",
        "organisation",
        org.id,
        detail.clone(),
        Some(OutboxEvent {
            topic: "organisation.updated".into(),
            payload: json!({ "id": org.id, "changed": detail }),
        }),
    );
    let updated = state
        .orgs
        .update(org.id, &update, clock::now(), &change)
        .await?;
    Ok(web::Json(OrgView::from(&updated)))
}
