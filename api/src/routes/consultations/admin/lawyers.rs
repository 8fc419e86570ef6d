//! The lawyer roster (云律团), the officials' side: the lawyers of the caller's subtree, an
//! administrator writing a lawyer official's profile, and a lawyer going on or off duty.

use actix_web::http::StatusCode;
use actix_web::{get, put, web};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use yiwang_domain::account::Role;
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::consultation::lawyer::{Lawyer, LawyerInput};
use yiwang_domain::store::RepoError;
use yiwang_domain::AccountId;

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::consultations::lawyers::{category_names, lawyer_page, LawyerQuery, LawyerView};
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{PageQuery, Paged};
use crate::state::AppState;

/// A lawyer's profile as an administrator writes it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LawyerForm {
    /// Name, 1–50 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 50, pattern = "\\S")]
    pub name: Option<String>,
    /// Law firm (律师事务所), 2–100 characters.
    #[schema(required = true, value_type = String, min_length = 2, max_length = 100, pattern = "\\S")]
    pub law_firm: Option<String>,
    /// Practising licence number (律师执业证号), 17 digits (spaces are dropped).
    #[schema(required = true, value_type = String, pattern = "^ *([0-9] *){17}$")]
    pub licence_number: Option<String>,
    /// Category codes, 1–12.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 12)]
    pub specialties: Vec<String>,
    /// Years in practice, 0–70.
    #[schema(value_type = i64, minimum = 0, maximum = 70)]
    pub years_in_practice: Option<Value>,
    /// Short bio, at most 500 characters.
    #[schema(max_length = 500)]
    pub bio: Option<String>,
}

/// On duty or not.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DutyForm {
    /// `true`: taking consultations now.
    pub on_duty: bool,
}

/// The lawyers of organisations in the caller's subtree, on duty first.
#[utoipa::path(get, tag = "admin: consultations", security(("bearer" = [])),
    params(LawyerQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<LawyerView>),
        (status = 403, description = "Role may not read the roster, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown `category`, bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/lawyers")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<LawyerQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<LawyerView>>, ApiError> {
    admin.authorize(Permission::ReadRoster, &admin.org_path)?;
    let scope = Some(admin.org_path.clone());
    Ok(web::Json(
        lawyer_page(&state, query.category.as_deref(), scope, &page).await?,
    ))
}

/// Writes the profile of lawyer official `id` (created with the `lawyer` role in the caller's
/// subtree): a new profile starts off duty; saving again keeps duty and ratings.
#[utoipa::path(put, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "The lawyer official's id")),
    request_body = LawyerForm,
    responses(
        (status = 200, description = "Saved", body = LawyerView),
        (status = 403, description = "Role may not manage the roster", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such official in the caller's subtree, or disabled", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`licence_taken`: another lawyer has the licence number", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_a_lawyer`, or bad fields, every one listed", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[put("/admin/lawyers/{id}")]
pub async fn save(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    form: Json<LawyerForm>,
) -> Result<web::Json<LawyerView>, ApiError> {
    admin.authorize(Permission::ManageRoster, &admin.org_path)?;
    let id = AccountId::parse(&id).ok_or_else(ApiError::not_found)?;
    let official = state.officials.get(id).await?;
    admin.authorize(Permission::ManageRoster, &official.org_path)?;
    if official.disabled_at.is_some() {
        return Err(ApiError::not_found());
    }
    if official.role != Role::Lawyer {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_lawyer",
            "该账号不是律师角色：请先以 lawyer 角色创建账号",
            "This official does not have the lawyer role",
        ));
    }
    let names = category_names(&state).await?;
    let form = form.into_inner();
    let details = LawyerInput {
        name: form.name,
        law_firm: form.law_firm,
        licence_number: form.licence_number,
        specialties: form.specialties,
        years_in_practice: form.years_in_practice,
        bio: form.bio,
    }
    .validate(|code| names.contains_key(code))?;
    let change = admin.principal.change(
        "lawyer.profile.save",
        "lawyer",
        id,
        json!({ "law_firm": details.law_firm,
                "specialties": details.specialties.iter().map(|c| c.as_str()).collect::<Vec<_>>() }),
        None,
    );
    let lawyer = state
        .roster
        .save_lawyer(id, &details, clock::now(), &change)
        .await?;
    Ok(web::Json(LawyerView::new(&lawyer, &names)))
}

/// The calling lawyer goes on duty (taking consultations) or off.
#[utoipa::path(put, tag = "admin: consultations", security(("bearer" = [])),
    request_body = DutyForm,
    responses(
        (status = 200, description = "The lawyer's profile", body = LawyerView),
        (status = 403, description = "Not a lawyer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`no_profile`: an administrator has not written the lawyer's profile yet", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[put("/admin/lawyers/me/duty")]
pub async fn duty(
    state: web::Data<AppState>,
    admin: Admin,
    form: Json<DutyForm>,
) -> Result<web::Json<LawyerView>, ApiError> {
    if admin.role != Role::Lawyer {
        return Err(ApiError::forbidden());
    }
    let me = admin.principal.account_id();
    let on_duty = form.on_duty;
    let change = admin.principal.change(
        "lawyer.duty",
        "lawyer",
        me,
        json!({ "on_duty": on_duty }),
        Some(OutboxEvent {
            topic: if on_duty {
                "lawyer.on_duty"
            } else {
                "lawyer.off_duty"
            }
            .into(),
            payload: json!({ "lawyer_id": me }),
        }),
    );
    let lawyer = state
        .roster
        .set_on_duty(me, on_duty, clock::now(), &change)
        .await
        .map_err(no_profile)?;
    let names = category_names(&state).await?;
    Ok(web::Json(LawyerView::new(&lawyer, &names)))
}

/// The lawyer on the roster whose id `raw` is, else 422 naming `lawyer_id`.
pub async fn listed_lawyer(state: &AppState, raw: &str) -> Result<Lawyer, ApiError> {
    let not_listed = || {
        ApiError::invalid_field(
            "lawyer_id",
            "not_allowed",
            "该律师不在名录中",
            "the lawyer is not on the roster",
        )
    };
    let id = AccountId::parse(raw.trim()).ok_or_else(not_listed)?;
    state.roster.lawyer(id).await.map_err(|e| match e {
        RepoError::NotFound => not_listed(),
        other => other.into(),
    })
}

/// A lawyer's own profile missing (404 `no_profile`: an administrator has not written it
/// yet); other errors as they are.
pub fn no_profile(e: RepoError) -> ApiError {
    match e {
        RepoError::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            "no_profile",
            "您的律师档案尚未建立，请联系工会管理员",
            "Your lawyer profile has not been written yet; ask an administrator",
        ),
        other => other.into(),
    }
}
