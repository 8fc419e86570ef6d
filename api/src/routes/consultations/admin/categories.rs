//! Consultation categories, the officials' side: every category (retired ones too) and saving
//! one — its name, place, service levels and whether it feeds the employer early warning.
//! Categories are the installation's, so only a `super_admin` saves them.

use actix_web::http::StatusCode;
use actix_web::{get, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use yiwang_domain::clock;
use yiwang_domain::consultation::category::{CategoryCode, CategoryInput};

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::consultations::lawyers::{CategoryList, CategoryView};
use crate::routes::shared::responses::{JsonBodyErrors, NotLoggedIn};
use crate::routes::shared::Json;
use crate::state::AppState;

/// A category as an official writes it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryForm {
    /// Chinese name, 1–20 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 20, pattern = "\\S")]
    pub name: Option<String>,
    /// Place in the list, 0–1,000.
    #[schema(value_type = i64, minimum = 0, maximum = 1000)]
    pub position: Option<Value>,
    /// Whether workers may pick it (default true).
    pub active: Option<bool>,
    /// Minutes a chosen lawyer has to accept, 1–43,200.
    #[schema(value_type = i64, minimum = 1, maximum = 43200)]
    pub accept_minutes: Option<Value>,
    /// First-response deadline in minutes, 1–43,200.
    #[schema(value_type = i64, minimum = 1, maximum = 43200)]
    pub first_response_minutes: Option<Value>,
    /// Resolution deadline in minutes, from the first-response one to 43,200.
    #[schema(value_type = i64, minimum = 1, maximum = 43200)]
    pub resolution_minutes: Option<Value>,
    /// `all_hours` (default) or `business_hours`.
    #[schema(value_type = Option<crate::routes::vocabularies::SlaClock>)]
    pub clock: Option<String>,
    /// Whether it feeds the employer early warning (default false).
    pub watched: Option<bool>,
}

/// Every category, by position.
#[utoipa::path(get, tag = "admin: consultations", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every category, retired ones too", body = CategoryList),
        (status = 403, description = "Role may not read the roster, or a worker token", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[get("/admin/consultation-categories")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
) -> Result<web::Json<CategoryList>, ApiError> {
    admin.authorize(Permission::ReadRoster, &admin.org_path)?;
    let items = state
        .roster
        .categories()
        .await?
        .iter()
        .map(CategoryView::from)
        .collect();
    Ok(web::Json(CategoryList { items }))
}

/// Creates category `code` or replaces its settings (a retired one is saved with
/// `"active": false`; a code is never removed, since specialties and consultations name it).
#[utoipa::path(put, tag = "admin: consultations", security(("bearer" = [])),
    params(("code" = String, Path, description = "2–40 characters of a–z, 0–9 and _, starting with a letter", pattern = "^[a-z][a-z0-9_]{1,39}$")),
    request_body = CategoryForm,
    responses(
        (status = 200, description = "Saved", body = CategoryView),
        (status = 201, description = "Created", body = CategoryView),
        (status = 403, description = "Not a `super_admin`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad code or setting, every field listed", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[put("/admin/consultation-categories/{code}")]
pub async fn save(
    state: web::Data<AppState>,
    admin: Admin,
    code: web::Path<String>,
    form: Json<CategoryForm>,
) -> Result<HttpResponse, ApiError> {
    admin.authorize(Permission::ManageCategories, &admin.org_path)?;
    let code = CategoryCode::parse(code.trim()).ok_or_else(|| {
        ApiError::invalid_field(
            "code",
            "invalid",
            "类别代码须为 2 到 40 个小写字母、数字或下划线，以字母开头",
            "code must be 2–40 characters of a–z, 0–9 and _, starting with a letter",
        )
    })?;
    let form = form.into_inner();
    let rules = CategoryInput {
        name: form.name,
        position: form.position,
        active: form.active,
        accept_minutes: form.accept_minutes,
        first_response_minutes: form.first_response_minutes,
        resolution_minutes: form.resolution_minutes,
        clock: form.clock,
        watched: form.watched,
    }
    .validate()?;
    let change = admin.principal.change(
        "consultation.category.save",
        "consultation_category",
        &code,
        json!({ "name": rules.name, "active": rules.active, "clock": rules.clock.as_str(),
                "first_response_minutes": rules.first_response_minutes,
                "resolution_minutes": rules.resolution_minutes }),
        None,
    );
    let (category, created) = state
        .roster
        .save_category(&code, &rules, clock::now(), &change)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(CategoryView::from(&category)))
}
