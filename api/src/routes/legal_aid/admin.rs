//! Legal-aid applications, the officials' and lawyers' side: the branch's applications
//! (a lawyer: those assigned to them), accepting one by assigning a lawyer, rejecting one with
//! the reason, and closing an accepted one with the outcome.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::account::Role;
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::legal_aid::{Actor, Command, LegalAidApplication, LegalAidId, LegalAidStatus};
use yiwang_domain::problem::{text, FieldProblem};

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::consultations::admin::lawyers::listed_lawyer;
use crate::routes::legal_aid::LegalAidView;
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{status_filter, PageQuery, Paged};
use crate::state::AppState;

/// Which applications.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LegalAidQuery {
    /// Only these states, comma-separated; all when absent.
    #[param(value_type = Option<Vec<crate::routes::vocabularies::LegalAidStatus>>, style = Form, explode = false)]
    pub status: Option<String>,
}

/// The application `id` as the caller may reach it, and who the caller acts as: a lawyer
/// those assigned to them, an official (`permission`) those of their branch; else 404.
async fn reach(
    state: &AppState,
    admin: &Admin,
    id: &str,
    permission: Permission,
) -> Result<(LegalAidApplication, Actor), ApiError> {
    let id = LegalAidId::parse(id).ok_or_else(ApiError::not_found)?;
    let a = state.legal_aid.legal_aid(id).await?;
    let me = admin.principal.account_id();
    if admin.role == Role::Lawyer {
        if a.lawyer_id != Some(me) {
            return Err(ApiError::not_found());
        }
        return Ok((a, Actor::Lawyer(me)));
    }
    admin.authorize(permission, &a.org_path)?;
    Ok((a, Actor::Official(me)))
}

/// The applications of the caller's branch (a lawyer: those assigned to them), oldest first.
#[utoipa::path(get, tag = "admin: consultations", security(("bearer" = [])),
    params(LegalAidQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<LegalAidView>),
        (status = 403, description = "Role may not read legal aid, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown state, bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/legal-aid/applications")]
pub async fn queue(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<LegalAidQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<LegalAidView>>, ApiError> {
    let (scope, lawyer) = if admin.role == Role::Lawyer {
        (None, Some(admin.principal.account_id()))
    } else {
        admin.authorize(Permission::ReadConsultations, &admin.org_path)?;
        (Some(&admin.org_path), None)
    };
    let page = page.request()?;
    let statuses = status_filter(
        query.status.as_deref(),
        LegalAidStatus::parse,
        &LegalAidStatus::ALL.map(LegalAidStatus::as_str),
    )?;
    let rows = state
        .legal_aid
        .legal_aid_queue(scope, lawyer, &statuses, &page)
        .await?;
    Ok(web::Json(Paged::of(rows, |a| LegalAidView::from(&a))))
}

/// One application.
#[utoipa::path(get, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The application", body = LegalAidView),
        (status = 403, description = "Role may not read legal aid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's to see", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[get("/admin/legal-aid/applications/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<LegalAidView>, ApiError> {
    let (a, _) = reach(&state, &admin, &id, Permission::ReadConsultations).await?;
    Ok(web::Json(LegalAidView::from(&a)))
}

/// Runs `command` on application `id` as the caller, audited as `legal_aid.<action>`; with
/// `Idempotency-Key`, a retry of the same step answers the first one instead of 409.
async fn step(
    state: &AppState,
    admin: &Admin,
    req: &HttpRequest,
    id: &str,
    command: Command,
    action: &'static str,
) -> Result<HttpResponse, ApiError> {
    let (a, actor) = reach(state, admin, id, Permission::HandleConsultations).await?;
    let account = admin.principal.account_id();
    let asked = command.clone();
    idempotency::step(state, req, account, &asked, |pending| async move {
        let change = admin.principal.change(
            &format!("legal_aid.{action}"),
            "legal_aid_application",
            a.id,
            json!({ "from": a.status.as_str() }),
            Some(OutboxEvent {
                topic: format!("legal_aid.{action}"),
                payload: json!({ "id": a.id, "account_id": a.account_id, "org_id": a.org_id }),
            }),
        );
        let at = clock::now();
        let answer = idempotency::answer_of(pending, StatusCode::OK, at, |after| {
            LegalAidView::from(after)
        });
        let after = state
            .legal_aid
            .decide_legal_aid(a.id, actor, command, at, change, answer)
            .await?;
        Ok(LegalAidView::from(&after))
    })
    .await
}

/// The lawyer to assign.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptForm {
    /// A lawyer on the roster.
    #[schema(format = Uuid)]
    pub lawyer_id: String,
}

/// An official accepts the application and assigns a lawyer.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    request_body = AcceptForm,
    responses(
        (status = 200, description = "Accepted", body = LegalAidView),
        (status = 403, description = "Role may not decide legal aid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not in the caller's branch", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_submitted`: decided already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`lawyer_id` not on the roster", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/legal-aid/applications/{id}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<AcceptForm>,
) -> Result<HttpResponse, ApiError> {
    let lawyer = listed_lawyer(&state, &form.lawyer_id).await?.account_id;
    step(
        &state,
        &admin,
        &req,
        &id,
        Command::Accept { lawyer },
        "accept",
    )
    .await
}

/// Why an application is refused.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalAidRejectForm {
    /// The reason the worker reads, 1–500 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 500, pattern = "\\S")]
    pub reason: Option<String>,
}

/// An official refuses the application, with the reason.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    request_body = LegalAidRejectForm,
    responses(
        (status = 200, description = "Rejected", body = LegalAidView),
        (status = 403, description = "Role may not decide legal aid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not in the caller's branch", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_submitted`: decided already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason, or over 500 characters", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/legal-aid/applications/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<LegalAidRejectForm>,
) -> Result<HttpResponse, ApiError> {
    let reason = written("reason", form.into_inner().reason, 500)?;
    step(
        &state,
        &admin,
        &req,
        &id,
        Command::Reject { reason },
        "reject",
    )
    .await
}

/// What came of it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseForm {
    /// The outcome, 1–2,000 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 2000, pattern = "\\S")]
    pub outcome: Option<String>,
}

/// The assigned lawyer (or an official of the branch) closes an accepted application with
/// the outcome.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    request_body = CloseForm,
    responses(
        (status = 200, description = "Closed", body = LegalAidView),
        (status = 403, description = "Role may not handle legal aid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_accepted`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No outcome, or over 2,000 characters", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/legal-aid/applications/{id}/close")]
pub async fn close(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<CloseForm>,
) -> Result<HttpResponse, ApiError> {
    let outcome = written("outcome", form.into_inner().outcome, 2_000)?;
    step(
        &state,
        &admin,
        &req,
        &id,
        Command::Close { outcome },
        "close",
    )
    .await
}

/// `value` as required text of at most `max` characters, else 422 naming `field`.
fn written(field: &str, value: Option<String>, max: usize) -> Result<String, ApiError> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    text(&mut problems, field, value, max, true).ok_or_else(|| problems.into())
}
