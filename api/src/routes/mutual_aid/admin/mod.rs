//! Mutual aid, the officials' side: plans (here), [`enrollments`] and their fees, the claim
//! queue and decisions ([`claims`]), and the finance payment list ([`payouts`]). Plans are
//! kept by `org_admin` / `super_admin`; fees by `finance` and administrators; claims are
//! decided by `reviewer`s and administrators and paid by `finance`; `auditor` reads.

pub mod claims;
pub mod enrolments;
pub mod payouts;

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::mutual_aid::plan::{BenefitInput, Plan, PlanId, PlanInput, PlanRules};

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::mutual_aid::{today, PlanView};
use crate::routes::service_points::admin::org_in_scope;
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{PageQuery, Paged};
use crate::state::AppState;
use std::collections::HashMap;
use yiwang_domain::membership::member::{Member, MemberId};

/// One benefit as an official writes it. Amounts are whole fen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BenefitForm {
    /// `inpatient` or `chronic`.
    #[schema(value_type = Option<crate::routes::vocabularies::BenefitKind>)]
    pub kind: Option<String>,
    /// Year's costs of this kind must reach this (fen), e.g. 900000 for 9,000 yuan.
    #[schema(value_type = i64)]
    pub threshold_fen: Option<Value>,
    /// Taken off the out-of-pocket amount first (fen).
    #[schema(value_type = i64)]
    pub deductible_fen: Option<Value>,
    /// Share paid, 1–10,000 basis points.
    #[schema(value_type = i64)]
    pub rate_basis_points: Option<Value>,
    /// Least payout once the threshold is met (fen).
    #[schema(value_type = i64)]
    pub minimum_fen: Option<Value>,
    /// Most payout of one claim (fen).
    #[schema(value_type = i64)]
    pub maximum_fen: Option<Value>,
    /// Most per member and plan year (fen).
    #[schema(value_type = i64)]
    pub annual_cap_fen: Option<Value>,
    /// Document types a claim of this kind must carry.
    #[serde(default)]
    pub required_documents: Vec<String>,
}

/// A plan as an official writes it (create, or a full replacement that becomes the next
/// version).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanForm {
    /// Create only: the organisation that runs it, inside the caller's subtree (default the
    /// caller's).
    #[schema(format = Uuid)]
    pub org_id: Option<String>,
    /// Save only: the version the official edited (409 `plan_version` when someone saved
    /// since).
    pub version: Option<i32>,
    /// Name, 1–100 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// First day of the plan year, `YYYY-MM-DD`.
    #[schema(required = true, value_type = String, format = Date)]
    pub starts_on: Option<String>,
    /// Last day, after `starts_on`, at most a year later.
    #[schema(required = true, value_type = String, format = Date)]
    pub ends_on: Option<String>,
    /// First day of enrolment.
    #[schema(required = true, value_type = String, format = Date)]
    pub enrolment_opens_on: Option<String>,
    /// Last day of enrolment, not after `ends_on`.
    #[schema(required = true, value_type = String, format = Date)]
    pub enrolment_closes_on: Option<String>,
    /// The yearly fee (fen), e.g. 5000 for 50 yuan.
    #[schema(value_type = i64)]
    pub fee_fen: Option<Value>,
    /// Only these employment forms may enrol (empty: all).
    #[serde(default)]
    pub employment_forms: Vec<String>,
    /// Days from the fee to coverage, 0–365.
    #[schema(value_type = i64)]
    pub waiting_days: Option<Value>,
    /// Approved payouts from this amount (fen) need a second reviewer.
    #[schema(value_type = i64)]
    pub second_review_from_fen: Option<Value>,
    /// At least one benefit, one per kind.
    #[serde(default)]
    pub benefits: Vec<BenefitForm>,
}

impl PlanForm {
    /// The rules, or 422 listing every problem.
    fn rules(self) -> Result<PlanRules, ApiError> {
        PlanInput {
            name: self.name,
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            enrolment_opens_on: self.enrolment_opens_on,
            enrolment_closes_on: self.enrolment_closes_on,
            fee_fen: self.fee_fen,
            employment_forms: self.employment_forms,
            waiting_days: self.waiting_days,
            second_review_from_fen: self.second_review_from_fen,
            benefits: self
                .benefits
                .into_iter()
                .map(|b| BenefitInput {
                    kind: b.kind,
                    threshold_fen: b.threshold_fen,
                    deductible_fen: b.deductible_fen,
                    rate_basis_points: b.rate_basis_points,
                    minimum_fen: b.minimum_fen,
                    maximum_fen: b.maximum_fen,
                    annual_cap_fen: b.annual_cap_fen,
                    required_documents: b.required_documents,
                })
                .collect(),
        }
        .validate()
        .map_err(ApiError::from)
    }
}

/// Plan `id` if the caller holds `permission` for it: to manage, the plan must be run inside
/// the caller's subtree; to read, it may also be run above it (the plan the caller's members
/// enrol in). Else 404 (403 for the role).
pub async fn plan_in_scope(
    state: &AppState,
    admin: &Admin,
    permission: Permission,
    id: &str,
) -> Result<Plan, ApiError> {
    admin.authorize(permission, &admin.org_path)?;
    let id = PlanId::parse(id).ok_or_else(ApiError::not_found)?;
    let plan = state.mutual_aid.plan(id).await?;
    let above = permission == Permission::ReadMutualAid && plan.org_path.contains(&admin.org_path);
    if !above {
        admin.authorize(permission, &plan.org_path)?;
    }
    Ok(plan)
}

/// The plan of an optional `plan_id` filter: `None` without one, else the plan's id if the
/// caller may read it (404 otherwise).
pub async fn plan_filter(
    state: &AppState,
    admin: &Admin,
    plan_id: Option<&str>,
) -> Result<Option<PlanId>, ApiError> {
    match plan_id {
        None => Ok(None),
        Some(id) => Ok(Some(
            plan_in_scope(state, admin, Permission::ReadMutualAid, id)
                .await?
                .id,
        )),
    }
}

/// Creates a plan for an organisation in the caller's subtree, at version 1.
#[utoipa::path(post, tag = "admin: mutual aid", security(("bearer" = [])),
    request_body = PlanForm,
    responses(
        (status = 201, description = "Created", body = PlanView),
        (status = 403, description = "Role may not manage plans, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org_id` not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid rules, every field listed", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/mutual-aid/plans")]
pub async fn create(
    state: web::Data<AppState>,
    admin: Admin,
    form: Json<PlanForm>,
) -> Result<HttpResponse, ApiError> {
    let mut form = form.into_inner();
    let org = org_in_scope(
        &state,
        &admin,
        Permission::ManagePlans,
        form.org_id.take().as_deref(),
    )
    .await?;
    let rules = form.rules()?;
    let now = clock::now();
    let plan = Plan {
        id: PlanId::new(),
        org_id: org.id,
        org_path: org.path.clone(),
        rules,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let change = admin.principal.change(
        "mutual_aid.plan.create",
        "mutual_aid_plan",
        plan.id,
        json!({ "org_id": org.id, "name": plan.rules.name, "version": 1 }),
        Some(OutboxEvent {
            topic: "mutual_aid.plan.saved".into(),
            payload: json!({ "id": plan.id, "org_id": org.id, "version": 1 }),
        }),
    );
    state
        .mutual_aid
        .create_plan(&plan, admin.principal.account_id(), &change)
        .await?;
    Ok(HttpResponse::Created().json(PlanView::new(&plan, today())))
}

/// Plans run inside the caller's subtree, newest plan year first, paged.
#[utoipa::path(get, tag = "admin: mutual aid", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<PlanView>),
        (status = 403, description = "Role may not read mutual aid, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/mutual-aid/plans")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<PlanView>>, ApiError> {
    admin.authorize(Permission::ReadMutualAid, &admin.org_path)?;
    let page = page.request()?;
    let rows = state.mutual_aid.plans(&admin.org_path, &page).await?;
    let today = today();
    Ok(web::Json(Paged::of(rows, |p| PlanView::new(&p, today))))
}

/// One plan at its latest version.
#[utoipa::path(get, tag = "admin: mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Plan id")),
    responses(
        (status = 200, description = "The plan", body = PlanView),
        (status = 403, description = "Role may not read mutual aid, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found in the caller's scope", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[get("/admin/mutual-aid/plans/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<PlanView>, ApiError> {
    let plan = plan_in_scope(&state, &admin, Permission::ReadMutualAid, &id).await?;
    Ok(web::Json(PlanView::new(&plan, today())))
}

/// Saves new rules as the plan's next version. Claims already submitted keep the version
/// they were submitted under.
#[utoipa::path(put, tag = "admin: mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Plan id")),
    request_body = PlanForm,
    responses(
        (status = 200, description = "Saved", body = PlanView),
        (status = 403, description = "Role may not manage plans, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan_version`: saved by someone else since `version`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid rules, `version` missing, or `org_id` given", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[put("/admin/mutual-aid/plans/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    form: Json<PlanForm>,
) -> Result<web::Json<PlanView>, ApiError> {
    let plan = plan_in_scope(&state, &admin, Permission::ManagePlans, &id).await?;
    let form = form.into_inner();
    if form.org_id.is_some() {
        return Err(ApiError::invalid_field(
            "org_id",
            "not_allowed",
            "计划创建后不能更换所属组织",
            "a plan's organisation cannot change",
        ));
    }
    let Some(version) = form.version else {
        return Err(ApiError::invalid_field(
            "version",
            "required",
            "请提供所编辑的版本号 version",
            "version (the one edited) is required",
        ));
    };
    let rules = form.rules()?;
    let next = version.saturating_add(1);
    let change = admin.principal.change(
        "mutual_aid.plan.save",
        "mutual_aid_plan",
        plan.id,
        json!({ "name": rules.name, "version": next }),
        Some(OutboxEvent {
            topic: "mutual_aid.plan.saved".into(),
            payload: json!({ "id": plan.id, "org_id": plan.org_id, "version": next }),
        }),
    );
    let saved = state
        .mutual_aid
        .save_plan(
            plan.id,
            version,
            &rules,
            admin.principal.account_id(),
            clock::now(),
            &change,
        )
        .await?;
    Ok(web::Json(PlanView::new(&saved, today())))
}

/// The members behind `ids`, to name them on officials' lists of enrolments and claims: one
/// read for a whole page.
pub async fn members_of(
    state: &AppState,
    ids: impl IntoIterator<Item = MemberId>,
) -> Result<HashMap<MemberId, Member>, ApiError> {
    let mut ids: Vec<MemberId> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let members = state.membership.members_by_id(&ids).await?;
    Ok(members.into_iter().map(|m| (m.id, m)).collect())
}
