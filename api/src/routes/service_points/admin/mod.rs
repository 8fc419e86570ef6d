//! The service-point catalogue, the officials' side: create, list, read, change and delete
//! points owned inside the official's subtree (roles `station_manager`, `org_admin`,
//! `super_admin`; `auditor` reads), spreadsheet [`import`] and [`export`], [`visits`] counts
//! and review moderation ([`reviews`]). Every write tells this process's nearest-point index at
//! once; other processes follow within their sync interval.

pub mod export;
pub mod import;
pub mod reviews;
pub mod visits;

use actix_web::{delete, get, post, put, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::org::{OrgId, Organisation};
use yiwang_domain::service_point::point::ExceptionInput;
use yiwang_domain::service_point::store::ServicePointFilter;
use yiwang_domain::service_point::{
    DraftInput, ServicePoint, ServicePointDraft, ServicePointId, ServicePointStatus,
};

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::service_points::{kind_filter, parse_bbox, ServicePointView};
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{optional_text, PageQuery, Paged};
use crate::state::AppState;
use yiwang_domain::problem::{finish, FieldProblem};

/// A dated exception in a form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionForm {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM-HH:MM` intervals joined by `,`, `24小时`, or `closed` / `关闭`.
    pub hours: String,
}

/// A service point as an official writes it (create, or full replacement).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePointForm {
    /// Owning organisation, inside the caller's subtree (create only; default the caller's).
    #[schema(format = Uuid)]
    pub org_id: Option<String>,
    /// Name, 1–100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// Kind: `outdoor_worker_station`, `driver_home`, `nursing_room`, `service_center`,
    /// `cultural_palace`, `recuperation_base`, `legal_aid_station`, `other` (Chinese labels
    /// such as 爱心驿站 are read too).
    #[schema(value_type = crate::routes::vocabularies::ServicePointKind)]
    pub kind: String,
    /// Street address, 1–200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub address: String,
    /// 省.
    pub province: Option<String>,
    /// 市.
    pub city: Option<String>,
    /// 区/县.
    pub district: Option<String>,
    /// Latitude, GCJ-02, −90 to 90.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    /// Longitude, GCJ-02, −180 to 180.
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub lng: f64,
    /// Opening hours as text: `08:00-20:00`, `周一至周五 08:30-12:00,13:00-17:30`,
    /// `24小时`. Text that cannot be read is kept and the hours are `unknown`.
    pub hours: Option<String>,
    /// Days with other hours (holidays, closures).
    #[serde(default)]
    pub exceptions: Vec<ExceptionForm>,
    /// Amenity codes (`drinking_water`, `charging`, …).
    #[serde(default)]
    #[schema(value_type = Vec<crate::routes::vocabularies::Amenity>)]
    pub amenities: Vec<String>,
    /// Phone.
    pub phone: Option<String>,
    /// `open` (default), `temporarily_closed`, `closed`.
    #[schema(value_type = Option<crate::routes::vocabularies::ServicePointStatus>)]
    pub status: Option<String>,
    /// Star grade 1–5, recuperation bases only.
    #[schema(minimum = 1, maximum = 5)]
    pub star_grade: Option<i64>,
    /// A data-quality note; one starting with `SUSPECT` or `可疑` flags the coordinates.
    pub quality_note: Option<String>,
    /// Id in an external system; unique within the owning organisation.
    pub external_id: Option<String>,
}

impl ServicePointForm {
    /// The validated draft, or 422 listing every problem.
    fn draft(self) -> Result<ServicePointDraft, ApiError> {
        let input = DraftInput {
            name: Some(self.name),
            kind: Some(self.kind),
            address: Some(self.address),
            province: self.province,
            city: self.city,
            district: self.district,
            lat: Some(self.lat),
            lng: Some(self.lng),
            hours: self.hours,
            exceptions: self
                .exceptions
                .into_iter()
                .map(|e| ExceptionInput {
                    date: e.date,
                    hours: e.hours,
                })
                .collect(),
            amenities: self.amenities,
            phone: self.phone,
            status: self.status,
            star_grade: self.star_grade,
            quality_note: self.quality_note,
            external_id: self.external_id,
        };
        input.validate().map_err(ApiError::from)
    }
}

/// Brings this process's nearest-point index up to date after a write; a failure is logged
/// (the follower catches up within its interval), never shown to the official.
pub async fn refresh_index(state: &AppState) {
    if let Err(e) = state.nearby.sync().await {
        tracing::warn!(cause = %e, "nearest-point index sync after a write failed");
    }
}

/// The organisation named by `org_id` (default the caller's own) if the caller holds
/// `permission` there: 403 for the role, 404 for an id that is malformed, unknown or outside
/// the caller's subtree.
pub async fn org_in_scope(
    state: &AppState,
    admin: &Admin,
    permission: Permission,
    org_id: Option<&str>,
) -> Result<Organisation, ApiError> {
    admin.authorize(permission, &admin.org_path)?;
    let id = match org_id {
        None => admin.org_id,
        Some(id) => OrgId::parse(id).ok_or_else(ApiError::not_found)?,
    };
    let org = state.orgs.get(id).await?;
    admin.authorize(permission, &org.path)?;
    Ok(org)
}

/// A point in the caller's scope for `permission`, else 404 (403 for the role).
async fn point_in_scope(
    state: &AppState,
    admin: &Admin,
    permission: Permission,
    id: &str,
) -> Result<ServicePoint, ApiError> {
    admin.authorize(permission, &admin.org_path)?;
    let id = ServicePointId::parse(id).ok_or_else(ApiError::not_found)?;
    let point = state.service_points.get(id).await?;
    admin.authorize(permission, &point.org_path)?;
    Ok(point)
}

/// The outbox event of a catalogue change.
fn catalogue_event(topic: &str, point: &ServicePoint) -> OutboxEvent {
    OutboxEvent {
        topic: topic.to_owned(),
        payload: json!({
            "id": point.id,
            "org_id": point.org_id,
            "name": point.draft.name,
            "status": point.draft.status.as_str(),
        }),
    }
}

/// Adds a service point to an organisation in the caller's subtree.
#[utoipa::path(post, tag = "admin: service points", security(("bearer" = [])),
    request_body = ServicePointForm,
    responses(
        (status = 201, description = "Created", body = ServicePointView),
        (status = 403, description = "Role may not manage service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org_id` is not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`external_id_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, every one listed", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/service-points")]
pub async fn create(
    state: web::Data<AppState>,
    admin: Admin,
    form: Json<ServicePointForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let org = org_in_scope(
        &state,
        &admin,
        Permission::ManageServicePoints,
        form.org_id.as_deref(),
    )
    .await?;
    let draft = form.draft()?;
    let id = ServicePointId::new();
    let change = admin.principal.change(
        "service_point.create",
        "service_point",
        id,
        json!({ "org_id": org.id, "name": draft.name }),
        Some(OutboxEvent {
            topic: "service_point.created".into(),
            payload: json!({ "id": id, "org_id": org.id, "name": draft.name }),
        }),
    );
    let point = state
        .service_points
        .create(id, (org.id, &org.path), &draft, clock::now(), &change)
        .await?;
    refresh_index(&state).await;
    Ok(HttpResponse::Created().json(ServicePointView::new(point, &state, true)))
}

/// Filters of the officials' listing and export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminListParams {
    /// Only points owned in this organisation's subtree (inside the caller's).
    pub org_id: Option<String>,
    /// Map viewport `min_lng,min_lat,max_lng,max_lat`, GCJ-02 (west ≤ east, south ≤ north).
    #[param(pattern = r"^-?[0-9]+(\.[0-9]+)?(,-?[0-9]+(\.[0-9]+)?){3}$")]
    pub bbox: Option<String>,
    /// Only this kind.
    #[param(value_type = Option<crate::routes::vocabularies::ServicePointKind>)]
    pub kind: Option<String>,
    /// Name or address containing this text (1–50 characters).
    pub q: Option<String>,
    /// Only this status: `open`, `temporarily_closed`, `closed`.
    #[param(value_type = Option<crate::routes::vocabularies::ServicePointStatus>)]
    pub status: Option<String>,
    /// Only flagged (`true`) or unflagged (`false`) points.
    pub flagged: Option<bool>,
}

impl AdminListParams {
    /// The filter, inside the caller's scope (an `org_id` outside it is 404).
    pub async fn filter(
        &self,
        state: &AppState,
        admin: &Admin,
    ) -> Result<ServicePointFilter, ApiError> {
        let scope = org_in_scope(
            state,
            admin,
            Permission::ReadServicePoints,
            self.org_id.as_deref(),
        )
        .await?
        .path;
        let mut errors: Vec<FieldProblem> = Vec::new();
        let bbox = parse_bbox(&mut errors, self.bbox.as_deref());
        let kind = kind_filter(&mut errors, self.kind.as_deref());
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => {
                let found = ServicePointStatus::ALL
                    .into_iter()
                    .find(|k| k.as_str() == s);
                if found.is_none() {
                    let names = ServicePointStatus::ALL
                        .map(ServicePointStatus::as_str)
                        .join(", ");
                    errors.push(FieldProblem::new(
                        "status",
                        "not_allowed",
                        "状态不在可选范围内，请重新选择".to_owned(),
                        format!("status must be one of: {names}"),
                    ));
                }
                found
            }
        };
        finish(errors)?;
        Ok(ServicePointFilter {
            scope: Some(scope),
            bbox,
            kind,
            q: optional_text("q", self.q.as_deref(), 50)?,
            status,
            include_closed: true,
            flagged: self.flagged,
        })
    }
}

/// Service points owned in the caller's subtree, by id, paged; closed ones included.
#[utoipa::path(get, tag = "admin: service points", security(("bearer" = [])),
    params(AdminListParams, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<ServicePointView>),
        (status = 403, description = "Role may not read service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org_id` outside the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/service-points")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    params: Query<AdminListParams>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<ServicePointView>>, ApiError> {
    let page = page.request()?;
    let filter = params.filter(&state, &admin).await?;
    let rows = state.service_points.search(&filter, &page).await?;
    Ok(web::Json(Paged::of(rows, |p| {
        ServicePointView::new(p, &state, true)
    })))
}

/// One service point owned in the caller's subtree.
#[utoipa::path(get, tag = "admin: service points", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service point id")),
    responses(
        (status = 200, description = "The point", body = ServicePointView),
        (status = 403, description = "Role may not read service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such point in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[get("/admin/service-points/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<ServicePointView>, ApiError> {
    let point = point_in_scope(&state, &admin, Permission::ReadServicePoints, &id).await?;
    Ok(web::Json(ServicePointView::new(point, &state, true)))
}

/// Replaces every field of a point (its organisation stays; `org_id` is ignored).
#[utoipa::path(put, tag = "admin: service points", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service point id")),
    request_body = ServicePointForm,
    responses(
        (status = 200, description = "Changed", body = ServicePointView),
        (status = 403, description = "Role may not manage service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such point in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`external_id_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, every one listed", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[put("/admin/service-points/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    form: Json<ServicePointForm>,
) -> Result<web::Json<ServicePointView>, ApiError> {
    let point = point_in_scope(&state, &admin, Permission::ManageServicePoints, &id).await?;
    let draft = form.into_inner().draft()?;
    let change = admin.principal.change(
        "service_point.update",
        "service_point",
        point.id,
        json!({ "name": draft.name, "status": draft.status.as_str() }),
        Some(catalogue_event("service_point.updated", &point)),
    );
    let updated = state
        .service_points
        .update(point.id, &draft, clock::now(), &change)
        .await?;
    refresh_index(&state).await;
    Ok(web::Json(ServicePointView::new(updated, &state, true)))
}

/// Deletes a point: it leaves every list and lookup; its visits and reviews stay on record.
#[utoipa::path(delete, tag = "admin: service points", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service point id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Role may not manage service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such point in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[delete("/admin/service-points/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let point = point_in_scope(&state, &admin, Permission::ManageServicePoints, &id).await?;
    let change = admin.principal.change(
        "service_point.delete",
        "service_point",
        point.id,
        json!({ "name": point.draft.name, "external_id": point.draft.external_id }),
        Some(catalogue_event("service_point.deleted", &point)),
    );
    state
        .service_points
        .delete(point.id, clock::now(), &change)
        .await?;
    refresh_index(&state).await;
    Ok(HttpResponse::NoContent().finish())
}
