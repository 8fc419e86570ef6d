//! The lawyer roster (云律团), the worker's side: the consultation categories to pick from
//! and the lawyers to pick (点单) — on duty first, filtered by specialty. Facts: DOMAIN.md,
//! "垦利 云律团".

use std::collections::HashMap;

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::consultation::category::{Category, CategoryCode};
use yiwang_domain::consultation::lawyer::Lawyer;
use yiwang_domain::consultation::store::LawyerFilter;
use yiwang_domain::org::OrgPath;
use yiwang_domain::problem::FieldProblem;
use yiwang_domain::AccountId;

use crate::auth::Worker;
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::{MalformedQuery, NotLoggedIn, WorkerOnly};
use crate::routes::shared::Query;
use crate::routes::shared::{PageQuery, Paged};
use crate::state::AppState;

/// A consultation category and the service it promises.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryView {
    /// Stable code, e.g. `wage_arrears`.
    pub code: String,
    /// Chinese name, e.g. `欠薪`.
    pub name: String,
    /// Place in the list, smallest first.
    pub position: i32,
    /// Whether workers may pick it now.
    pub active: bool,
    /// Minutes a chosen lawyer has to accept before the consultation goes to the pool.
    pub accept_minutes: i32,
    /// First-response deadline, minutes of `clock`.
    pub first_response_minutes: i32,
    /// Resolution deadline, minutes of `clock`.
    pub resolution_minutes: i32,
    /// `all_hours` (7×24) or `business_hours` (09:00–17:00 China time on working days).
    #[schema(value_type = crate::routes::vocabularies::SlaClock)]
    pub clock: &'static str,
    /// Whether its consultations count towards the employer early warning.
    pub watched: bool,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<&Category> for CategoryView {
    fn from(c: &Category) -> Self {
        let r = &c.rules;
        Self {
            code: c.code.to_string(),
            name: r.name.clone(),
            position: r.position,
            active: r.active,
            accept_minutes: r.accept_minutes,
            first_response_minutes: r.first_response_minutes,
            resolution_minutes: r.resolution_minutes,
            clock: r.clock.as_str(),
            watched: r.watched,
            updated_at: c.updated_at,
        }
    }
}

/// Categories.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    /// By position.
    pub items: Vec<CategoryView>,
}

/// A specialty: the category's code and name.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpecialtyView {
    /// Category code.
    pub code: String,
    /// Category name.
    pub name: String,
}

/// A lawyer as workers see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct LawyerView {
    /// The lawyer's id (their official account).
    pub id: String,
    /// Name.
    pub name: String,
    /// Law firm (律师事务所).
    pub law_firm: String,
    /// Practising licence number (律师执业证号), 17 digits: public, so a worker can check it
    /// with the justice bureau.
    pub licence_number: String,
    /// Specialties, by the categories' order.
    pub specialties: Vec<SpecialtyView>,
    /// Years in practice.
    pub years_in_practice: i32,
    /// Short bio.
    pub bio: String,
    /// Whether the lawyer takes consultations now.
    pub on_duty: bool,
    /// Average of the workers' 1–5 ratings to one decimal; absent before the first.
    pub rating_average: Option<f64>,
    /// How many ratings.
    pub rating_count: i64,
}

impl LawyerView {
    /// `lawyer`'s view; `names` gives each category's name and place.
    pub fn new(lawyer: &Lawyer, names: &CategoryNames) -> Self {
        let d = &lawyer.details;
        let mut specialties: Vec<(i32, SpecialtyView)> = d
            .specialties
            .iter()
            .map(|code| {
                let (position, name) = names
                    .get(code)
                    .cloned()
                    .unwrap_or((i32::MAX, code.to_string()));
                let view = SpecialtyView {
                    code: code.to_string(),
                    name,
                };
                (position, view)
            })
            .collect();
        specialties.sort_by_key(|(position, _)| *position);
        Self {
            id: lawyer.account_id.to_string(),
            name: d.name.clone(),
            law_firm: d.law_firm.clone(),
            licence_number: d.licence_number.as_str().to_owned(),
            specialties: specialties.into_iter().map(|(_, v)| v).collect(),
            years_in_practice: d.years_in_practice,
            bio: d.bio.clone(),
            on_duty: lawyer.on_duty,
            rating_average: lawyer.rating_average(),
            rating_count: lawyer.rating_count,
        }
    }
}

/// Each category's place and name, by code.
pub type CategoryNames = HashMap<CategoryCode, (i32, String)>;

/// The names and places of every category.
pub async fn category_names(state: &AppState) -> Result<CategoryNames, ApiError> {
    Ok(state
        .roster
        .categories()
        .await?
        .into_iter()
        .map(|c| (c.code, (c.rules.position, c.rules.name)))
        .collect())
}

/// Which lawyers to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LawyerQuery {
    /// Only lawyers practising this category (a category code).
    pub category: Option<String>,
}

/// A page of `filter`'s lawyers (within `scope`, when given) as views; `category` must name
/// a category (422 naming the codes otherwise).
pub async fn lawyer_page(
    state: &AppState,
    category: Option<&str>,
    scope: Option<OrgPath>,
    page: &PageQuery,
) -> Result<Paged<LawyerView>, ApiError> {
    let page = page.request()?;
    let names = category_names(state).await?;
    let category = match category.map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(typed) => {
            let code = CategoryCode::parse(typed).filter(|c| names.contains_key(c));
            if code.is_none() {
                let mut codes: Vec<&str> = names.keys().map(CategoryCode::as_str).collect();
                codes.sort_unstable();
                return Err(vec![FieldProblem::not_one_of("category", typed, &codes)].into());
            }
            code
        }
    };
    let filter = LawyerFilter { category, scope };
    let rows = state.roster.lawyers(&filter, &page).await?;
    Ok(Paged::of(rows, |l| LawyerView::new(&l, &names)))
}

/// The categories a worker may pick, by position.
#[utoipa::path(get, tag = "consultations", security(("bearer" = [])),
    responses(
        (status = 200, description = "The active categories", body = CategoryList),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/consultation-categories")]
pub async fn categories(
    state: web::Data<AppState>,
    _worker: Worker,
) -> Result<web::Json<CategoryList>, ApiError> {
    let items = state
        .roster
        .categories()
        .await?
        .iter()
        .filter(|c| c.rules.active)
        .map(CategoryView::from)
        .collect();
    Ok(web::Json(CategoryList { items }))
}

/// Lawyers to pick from (点单): on duty first, optionally only those practising one category.
#[utoipa::path(get, tag = "consultations", security(("bearer" = [])),
    params(LawyerQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<LawyerView>),
        (status = 422, description = "Unknown `category` (the codes listed), bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn, WorkerOnly,
    ))]
#[get("/lawyers")]
pub async fn list(
    state: web::Data<AppState>,
    _worker: Worker,
    query: Query<LawyerQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<LawyerView>>, ApiError> {
    Ok(web::Json(
        lawyer_page(&state, query.category.as_deref(), None, &page).await?,
    ))
}

/// One lawyer.
#[utoipa::path(get, tag = "consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Lawyer id")),
    responses(
        (status = 200, description = "The lawyer", body = LawyerView),
        (status = 404, description = "No such lawyer on the roster", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/lawyers/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    _worker: Worker,
    id: web::Path<String>,
) -> Result<web::Json<LawyerView>, ApiError> {
    let id = AccountId::parse(&id).ok_or_else(ApiError::not_found)?;
    let lawyer = state.roster.lawyer(id).await?;
    let names = category_names(&state).await?;
    Ok(web::Json(LawyerView::new(&lawyer, &names)))
}
