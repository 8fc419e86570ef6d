//! Membership, the officials' side: the review queue (oldest first, with the 15-working-day
//! contact deadline), decisions one by one or in batches of up to 100, the member search, and
//! the audited reveal of a member's full ID number. The member search's spreadsheet export is
//! in [`export`], transfers between organisations in [`transfers`].

pub mod export;
pub mod transfers;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, CustomizeResponder, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::calendar::{china_date, CONTACT_DEADLINE_WORKING_DAYS};
use yiwang_domain::clock;
use yiwang_domain::membership::application::{
    Application, ApplicationId, ApplicationStatus, Decision, RejectReason, DECISION_TEXT_MAX_CHARS,
};
use yiwang_domain::membership::member::{Member, MemberId};
use yiwang_domain::membership::store::{MemberFilter, QueueFilter};
use yiwang_domain::org::OrgPath;

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::account::me::mask_phone;
use crate::routes::account::me::refresh_worker_view;
use crate::routes::membership::{ApplicationView, OrgRef, ID_NUMBER_CONTEXT};
use crate::routes::orgs::admin::load_in_scope;
use crate::routes::shared::responses::{
    JsonBodyErrors, MalformedQuery, NotLoggedIn, SessionStoreDown,
};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{no_store, optional_text, PageQuery, Paged};
use crate::state::AppState;

/// Largest batch of approvals in one request.
pub const BATCH_MAX: usize = 100;

/// One row of the review queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueRow {
    /// The application (phone masked).
    #[serde(flatten)]
    pub application: ApplicationView,
    /// Working days since the last submission (China Standard Time; weekends and configured
    /// holidays do not count).
    pub waited_working_days: u32,
    /// Still submitted and past the 15-working-day contact deadline (豫工惠).
    pub overdue: bool,
}

impl QueueRow {
    /// The row of `app` as of `today` (China Standard Time).
    fn new(state: &AppState, app: Application, today: NaiveDate, full_phone: bool) -> Self {
        let waited = state
            .calendar
            .working_days_between(china_date(app.submitted_at), today);
        let overdue =
            app.status == ApplicationStatus::Submitted && waited > CONTACT_DEADLINE_WORKING_DAYS;
        QueueRow {
            application: ApplicationView::new(app, full_phone),
            waited_working_days: waited,
            overdue,
        }
    }
}

/// Filters of the queue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Only this status: `submitted`, `approved`, `rejected`, `returned`, `withdrawn`.
    #[param(value_type = Option<crate::routes::vocabularies::ApplicationStatus>)]
    pub status: Option<String>,
    /// Only this organisation's subtree (inside the caller's).
    pub org_id: Option<String>,
    /// Real name, phone or employer containing this text (at most 50 characters).
    #[param(max_length = 50)]
    pub q: Option<String>,
}

/// The subtree an `org_id` filter names, checked against the caller's scope.
async fn org_filter(
    state: &AppState,
    admin: &Admin,
    org_id: Option<&str>,
) -> Result<Option<OrgPath>, ApiError> {
    match org_id {
        None => Ok(None),
        Some(id) => Ok(Some(
            load_in_scope(state, admin, Permission::ReadMembership, id)
                .await?
                .path,
        )),
    }
}

/// Applications in the caller's subtree, oldest submission first.
#[utoipa::path(get, tag = "admin: membership", security(("bearer" = [])),
    params(QueueQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<QueueRow>),
        (status = 403, description = "Role may not read membership, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org_id` not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad status, limit, cursor or q", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn, SessionStoreDown,
    ))]
#[get("/admin/membership/applications")]
pub async fn queue(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<QueueQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<QueueRow>>, ApiError> {
    admin.authorize(Permission::ReadMembership, &admin.org_path)?;
    let page = page.request()?;
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(ApplicationStatus::parse(s).ok_or_else(|| {
            ApiError::not_one_of(
                "status",
                &ApplicationStatus::ALL.map(ApplicationStatus::as_str),
            )
        })?),
    };
    let filter = QueueFilter {
        status,
        org: org_filter(&state, &admin, query.org_id.as_deref()).await?,
        q: optional_text("q", query.q.as_deref(), 50)?,
    };
    let rows = state
        .membership
        .queue(&admin.org_path, &filter, &page)
        .await?;
    let today = china_date(clock::now());
    Ok(web::Json(Paged::of(rows, |a| {
        QueueRow::new(&state, a, today, false)
    })))
}

/// Application `id` if it lies in the caller's scope and the caller holds `permission`.
async fn application_in_scope(
    state: &AppState,
    admin: &Admin,
    permission: Permission,
    id: &str,
) -> Result<Application, ApiError> {
    let id = ApplicationId::parse(id).ok_or_else(ApiError::not_found)?;
    let app = state.membership.application(id).await?;
    admin.authorize(permission, &app.org_path)?;
    Ok(app)
}

/// One application, with the applicant's full mobile number (to contact them) and history.
#[utoipa::path(get, tag = "admin: membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The application", body = QueueRow),
        (status = 403, description = "Role may not read membership, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[get("/admin/membership/applications/{id}")]
pub async fn application(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<QueueRow>, ApiError> {
    let app = application_in_scope(&state, &admin, Permission::ReadMembership, &id).await?;
    let history = state.membership.history(app.id).await?;
    let mut row = QueueRow::new(&state, app, china_date(clock::now()), true);
    row.application = row.application.with_history(history);
    Ok(web::Json(row))
}

/// The outcome of a decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// The application after the decision.
    pub application: ApplicationView,
    /// The new member's number (approvals).
    pub member_number: Option<String>,
}

impl DecisionView {
    fn new(decided: Application, member: Option<&Member>) -> Self {
        DecisionView {
            application: ApplicationView::new(decided, false),
            member_number: member.map(|m| m.member_number.clone()),
        }
    }
}

/// Decides application `id` (already checked to be in scope).
async fn decide(
    state: &AppState,
    admin: &Admin,
    app: &Application,
    decision: &Decision,
    pending: Option<idempotency::Pending>,
) -> Result<DecisionView, ApiError> {
    let action = decision.status().as_str();
    let member_id = MemberId::new();
    let detail = match decision {
        Decision::Approve => json!({ "member_id": member_id }),
        Decision::Reject {
            reason_code,
            reason,
        } => json!({ "reason_code": reason_code.as_str(), "reason": reason }),
        Decision::Return { missing } => json!({ "missing": missing }),
    };
    let change = admin.principal.change(
        &format!("membership.application.{action}"),
        "membership_application",
        app.id,
        detail.clone(),
        Some(OutboxEvent {
            topic: format!("membership.application.{action}"),
            payload: json!({
                "id": app.id, "org_id": app.org_id, "account_id": app.account_id, "decision": detail,
            }),
        }),
    );
    let at = clock::now();
    let answer = idempotency::answer_of(
        pending,
        StatusCode::OK,
        at,
        |(decided, member): &(Application, Option<Member>)| {
            DecisionView::new(decided.clone(), member.as_ref())
        },
    );
    let (updated, member) = state
        .membership
        .decide(
            app.id,
            decision,
            admin.principal.account_id(),
            member_id,
            at,
            &change,
            answer,
        )
        .await?;
    refresh_worker_view(state, updated.account_id).await;
    Ok(DecisionView::new(updated, member.as_ref()))
}

/// [`decide`] once per `Idempotency-Key`: a retry of the same decision answers the first one
/// instead of 409 `already_decided`.
async fn decide_once(
    state: &AppState,
    admin: &Admin,
    req: &HttpRequest,
    app: &Application,
    decision: Decision,
) -> Result<HttpResponse, ApiError> {
    let account = admin.principal.account_id();
    idempotency::step(state, req, account, &decision, |pending| {
        decide(state, admin, app, &decision, pending)
    })
    .await
}

/// Approves a submitted application: the applicant becomes a member with a new number.
#[utoipa::path(post, tag = "admin: membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    responses(
        (status = 200, description = "Approved", body = DecisionView),
        (status = 403, description = "Role may not review, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_decided` or `already_member`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/membership/applications/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = application_in_scope(&state, &admin, Permission::ReviewMembership, &id).await?;
    decide_once(&state, &admin, &req, &app, Decision::Approve).await
}

/// A rejection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// `not_eligible`, `false_information`, `wrong_organisation`, `duplicate` or `other`.
    #[schema(value_type = crate::routes::vocabularies::ApplicationRejectReason)]
    pub reason_code: String,
    /// What the worker reads, 1–500 characters.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub reason: String,
}

/// A decision's text (reason, what is missing): at most 500 characters as sent, trimmed, not
/// blank; else 422 naming `field`.
pub(crate) fn decision_text(field: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || value.chars().count() > DECISION_TEXT_MAX_CHARS {
        return Err(ApiError::invalid_field(
            field,
            "invalid",
            format!(
                "{}须为 1 到 {DECISION_TEXT_MAX_CHARS} 个字符",
                yiwang_domain::problem::label(field)
            ),
            format!("{field} must be 1–{DECISION_TEXT_MAX_CHARS} characters"),
        ));
    }
    Ok(v.to_owned())
}

/// Rejects a submitted application with a reason code and text; the worker may edit and
/// submit it again.
#[utoipa::path(post, tag = "admin: membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    request_body = RejectBody,
    responses(
        (status = 200, description = "Rejected", body = DecisionView),
        (status = 403, description = "Role may not review, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_decided`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown reason code or bad text", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/membership/applications/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    body: Json<RejectBody>,
) -> Result<HttpResponse, ApiError> {
    let app = application_in_scope(&state, &admin, Permission::ReviewMembership, &id).await?;
    let reason_code = RejectReason::parse(&body.reason_code).ok_or_else(|| {
        ApiError::not_one_of("reason_code", &RejectReason::ALL.map(RejectReason::as_str))
    })?;
    let decision = Decision::Reject {
        reason_code,
        reason: decision_text("reason", &body.reason)?,
    };
    decide_once(&state, &admin, &req, &app, decision).await
}

/// A return for more information.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    /// What the worker must add or correct, 1–500 characters.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub missing: String,
}

/// Returns a submitted application to the worker, saying what is missing.
#[utoipa::path(post, tag = "admin: membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    request_body = ReturnBody,
    responses(
        (status = 200, description = "Returned", body = DecisionView),
        (status = 403, description = "Role may not review, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_decided`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad text", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/membership/applications/{id}/return")]
pub async fn return_application(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    body: Json<ReturnBody>,
) -> Result<HttpResponse, ApiError> {
    let app = application_in_scope(&state, &admin, Permission::ReviewMembership, &id).await?;
    let decision = Decision::Return {
        missing: decision_text("missing", &body.missing)?,
    };
    decide_once(&state, &admin, &req, &app, decision).await
}

/// Applications to approve together.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchApprove {
    /// 1–100 application ids (one named twice is approved once).
    #[schema(min_items = 1, max_items = 100, value_type = Vec<uuid::Uuid>)]
    pub ids: Vec<String>,
}

/// The outcome for one application of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchOutcome {
    /// The application id as given.
    pub id: String,
    /// `approved`, or the error code that kept it from being approved (`not_found`,
    /// `already_decided`, `already_member`, …).
    pub outcome: String,
    /// The new member's number, when approved.
    pub member_number: Option<String>,
}

/// The outcomes of a batch, in the order given.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// How many were approved.
    pub approved: usize,
    /// One outcome per id.
    pub results: Vec<BatchOutcome>,
}

/// Approves up to 100 applications; each is decided on its own, so one that cannot be
/// approved does not hold back the others.
#[utoipa::path(post, tag = "admin: membership", security(("bearer" = [])),
    request_body = BatchApprove,
    responses(
        (status = 200, description = "Per-application outcomes", body = BatchResult),
        (status = 403, description = "Role may not review, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No ids, more than 100, or repeated ids", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/membership/applications/batch-approve")]
pub async fn batch_approve(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<BatchApprove>,
) -> Result<web::Json<BatchResult>, ApiError> {
    admin.authorize(Permission::ReviewMembership, &admin.org_path)?;
    if body.ids.is_empty() || body.ids.len() > BATCH_MAX {
        return Err(ApiError::invalid_field(
            "ids",
            "out_of_range",
            format!("一次须批准 1 到 {BATCH_MAX} 份申请"),
            format!("ids must hold 1 to {BATCH_MAX} ids"),
        ));
    }
    let malformed: Vec<usize> = body
        .ids
        .iter()
        .enumerate()
        .filter(|(_, id)| uuid::Uuid::parse_str(id).is_err())
        .map(|(i, _)| i)
        .collect();
    if !malformed.is_empty() {
        let problems = malformed
            .into_iter()
            .map(|i| {
                yiwang_domain::problem::FieldProblem::new(
                    format!("ids.{i}"),
                    "invalid",
                    "申请编号格式不正确",
                    "not an application id (a UUID)",
                )
            })
            .collect::<Vec<_>>();
        return Err(problems.into());
    }
    // An id named twice is one application: approved once, answered once.
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<&String> = body
        .ids
        .iter()
        .filter(|id| seen.insert(id.as_str()))
        .collect();
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let outcome =
            match application_in_scope(&state, &admin, Permission::ReviewMembership, id).await {
                Ok(app) => decide(&state, &admin, &app, &Decision::Approve, None).await,
                Err(e) => Err(e),
            };
        results.push(match outcome {
            Ok(view) => BatchOutcome {
                id: id.clone(),
                outcome: "approved".into(),
                member_number: view.member_number,
            },
            Err(e) if e.is_server_error() => return Err(e),
            Err(e) => BatchOutcome {
                id: id.clone(),
                outcome: e.code().to_owned(),
                member_number: None,
            },
        });
    }
    Ok(web::Json(BatchResult {
        approved: results.iter().filter(|r| r.outcome == "approved").count(),
        results,
    }))
}

/// A member as officials see them (phone masked).
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// Member record id.
    pub id: String,
    /// Member number.
    pub member_number: String,
    /// Real name.
    pub name: Option<String>,
    /// ID number, masked.
    pub id_number: Option<String>,
    /// Mobile number, masked.
    pub phone: Option<String>,
    /// Form of employment.
    pub employment_form: String,
    /// Organisation.
    pub org: OrgRef,
    /// `active` or `ended`.
    #[schema(value_type = crate::routes::vocabularies::MemberStatus)]
    pub status: String,
    /// Join date (China Standard Time).
    pub joined_on: NaiveDate,
    /// When membership ended (UTC).
    pub ended_at: Option<DateTime<Utc>>,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView {
            id: m.id.to_string(),
            member_number: m.member_number,
            name: m.real_name,
            id_number: m.id_number_masked,
            phone: m.phone.as_deref().map(mask_phone),
            employment_form: m.employment_form.as_str().to_owned(),
            org: OrgRef {
                id: m.org_id.to_string(),
                name: m.org_name,
            },
            status: m.status.as_str().to_owned(),
            joined_on: m.joined_on,
            ended_at: m.ended_at,
        }
    }
}

/// Filters of the member search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// Only this organisation's subtree (inside the caller's).
    pub org_id: Option<String>,
    /// Real name, phone or member number containing this text (at most 50 characters).
    #[param(max_length = 50)]
    pub q: Option<String>,
    /// `active` or `ended`.

    #[param(value_type = Option<crate::routes::vocabularies::MemberStatus>)]
    pub status: Option<String>,
}

/// The member search's filter, checked (422 naming the field, 404 for an `org_id` outside
/// the caller's subtree).
async fn member_filter(
    state: &AppState,
    admin: &Admin,
    query: &MemberQuery,
) -> Result<MemberFilter, ApiError> {
    let active = match query.status.as_deref() {
        None => None,
        Some("active") => Some(true),
        Some("ended") => Some(false),
        Some(_) => return Err(ApiError::not_one_of("status", &["active", "ended"])),
    };
    Ok(MemberFilter {
        org: org_filter(state, admin, query.org_id.as_deref()).await?,
        q: optional_text("q", query.q.as_deref(), 50)?,
        active,
    })
}

/// Members in the caller's subtree, by member number.
#[utoipa::path(get, tag = "admin: membership", security(("bearer" = [])),
    params(MemberQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<MemberView>),
        (status = 403, description = "Role may not read membership, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org_id` not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad status, limit, cursor or q", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn, SessionStoreDown,
    ))]
#[get("/admin/members")]
pub async fn members(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<MemberQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<MemberView>>, ApiError> {
    admin.authorize(Permission::ReadMembership, &admin.org_path)?;
    let page = page.request()?;
    let filter = member_filter(&state, &admin, &query).await?;
    let rows = state
        .membership
        .members(&admin.org_path, &filter, &page)
        .await?;
    Ok(web::Json(Paged::of(rows, MemberView::from)))
}

/// A member's full ID number.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevealedId {
    /// The full resident ID number.
    pub id_number: String,
}

/// Shows a member's full ID number; the read is written to the audit log.
#[utoipa::path(post, tag = "admin: membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Member record id")),
    responses(
        (status = 200, description = "The full number", body = RevealedId),
        (status = 403, description = "Role may not reveal ID numbers, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`erased`: the number was erased after the retention period", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/members/{id}/reveal-id")]
pub async fn reveal_id(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<CustomizeResponder<web::Json<RevealedId>>, ApiError> {
    let member_id = MemberId::parse(&id).ok_or_else(ApiError::not_found)?;
    let member = state.membership.member(member_id).await?;
    admin.authorize(Permission::RevealIdNumber, &member.org_path)?;
    let change = admin.principal.change(
        "member.reveal_id_number",
        "member",
        member.id,
        json!({ "member_number": member.member_number }),
        None,
    );
    let sealed = state
        .membership
        .sealed_id_number(member.id, &change)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::GONE,
                "erased",
                "该会员的身份证号码已按保存期限删除",
                "This member's ID number was erased after the retention period",
            )
        })?;
    let id_number = state
        .personal_data
        .open(&sealed.kid, &sealed.sealed, ID_NUMBER_CONTEXT)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(no_store(RevealedId { id_number }))
}
