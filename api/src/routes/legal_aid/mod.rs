//! Legal-aid applications (法律援助申请), the worker's side: apply — directly or from one of
//! one's consultations — and follow the status. The summary goes through msgSecCheck:
//! `risky` is refused; `review` or an unreachable check marks it `held` for the officials who
//! read every application anyway. With `Idempotency-Key`, a retry files once.

pub mod admin;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::consultation::thread::ConsultationId;
use yiwang_domain::legal_aid::{
    Actor, Command, LegalAidApplication, LegalAidId, LegalAidStatus, RequestInput,
};
use yiwang_domain::problem::FieldProblem;
use yiwang_domain::store::Found;
use yiwang_domain::wechat::ContentScene;

use crate::auth::Worker;
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::moderation;
use crate::routes::consultations::handling_org;
use crate::routes::shared::responses::{JsonBodyErrors, NotLoggedIn, WorkerOnly};
use crate::routes::shared::Json;
use crate::state::AppState;

/// An application as the worker and officials see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegalAidView {
    /// Id.
    pub id: String,
    /// The consultation it came from.
    pub consultation_id: Option<String>,
    /// The applicant's name.
    pub applicant: String,
    /// The applicant's mobile number.
    pub phone: String,
    /// The other side.
    pub counterparty: String,
    /// The dispute.
    pub summary: String,
    /// The amount in dispute, fen.
    pub amount_fen: Option<i64>,
    /// The help asked for: `mediation` (协商调解), `document_drafting` (代写法律文书),
    /// `representation` (代理).
    #[schema(value_type = Vec<crate::routes::vocabularies::AidKind>)]
    pub aid: Vec<&'static str>,
    /// Held by the content check.
    pub held: bool,
    /// `submitted`, `accepted`, `rejected`, `closed` or `withdrawn`.
    #[schema(value_type = crate::routes::vocabularies::LegalAidStatus)]
    pub status: &'static str,
    /// The state in Chinese.
    pub status_label: &'static str,
    /// The lawyer assigned.
    pub lawyer_id: Option<String>,
    /// Why it was refused.
    pub rejection_reason: Option<String>,
    /// What came of it.
    pub outcome: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<&LegalAidApplication> for LegalAidView {
    fn from(a: &LegalAidApplication) -> Self {
        let r = &a.request;
        Self {
            id: a.id.to_string(),
            consultation_id: a.consultation_id.map(|c| c.to_string()),
            applicant: r.applicant.clone(),
            phone: r.phone.as_str().to_owned(),
            counterparty: r.counterparty.clone(),
            summary: r.summary.clone(),
            amount_fen: r.amount_fen.map(|f| f.get()),
            aid: r.aid.iter().map(|k| k.as_str()).collect(),
            held: a.held,
            status: a.status.as_str(),
            status_label: a.status.zh(),
            lawyer_id: a.lawyer_id.map(|l| l.to_string()),
            rejection_reason: a.rejection_reason.clone(),
            outcome: a.outcome.clone(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// Applications.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegalAidList {
    /// The rows.
    pub items: Vec<LegalAidView>,
}

/// An application as the worker writes it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalAidForm {
    /// The consultation it comes from (one of the worker's own), if any.
    #[schema(format = Uuid)]
    pub consultation_id: Option<String>,
    /// The applicant's name, 1–50 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 50, pattern = "\\S")]
    pub applicant: Option<String>,
    /// A mainland mobile number to reach them.
    #[schema(required = true, value_type = String, min_length = 1)]
    pub phone: Option<String>,
    /// The other side (the employer, a platform, a person), 1–100 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100, pattern = "\\S")]
    pub counterparty: Option<String>,
    /// What the dispute is, 1–2,000 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 2000, pattern = "\\S")]
    pub summary: Option<String>,
    /// The amount in dispute, fen (whole, up to 10,000,000,000); absent when there is none.
    #[schema(value_type = Option<i64>)]
    pub amount_fen: Option<Value>,
    /// The help asked for, 1–3 of `mediation`, `document_drafting`, `representation`.
    #[serde(default)]
    #[schema(value_type = Vec<crate::routes::vocabularies::AidKind>)]
    pub aid: Vec<String>,
}

/// Applies for legal aid. With `Idempotency-Key`, a retry answers the first application.
#[utoipa::path(post, tag = "legal aid", security(("bearer" = [])),
    request_body = LegalAidForm,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first application")),
    responses(
        (status = 201, description = "Submitted", body = LegalAidView),
        (status = 422, description = "Bad fields, every one listed (a consultation that is not the worker's too), `content_risky`, `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[post("/legal-aid/applications")]
pub async fn apply(
    state: web::Data<AppState>,
    worker: Worker,
    req: HttpRequest,
    form: Json<LegalAidForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let request = serde_json::to_vec(&form).map_err(|e| ApiError::internal(&e))?;
    let account = worker.0.account_id();
    let route = "POST /api/v1/legal-aid/applications".to_owned();
    idempotency::once(&state, &req, account, route, &request, |pending| async {
        let consultation = match form.consultation_id.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(raw) => {
                let own = match ConsultationId::parse(raw) {
                    Some(id) => state
                        .consultations
                        .consultation(id)
                        .await
                        .found()?
                        .filter(|c| c.account_id == account),
                    None => None,
                };
                own.map(|c| Some(c.id)).ok_or_else(|| {
                    FieldProblem::new(
                        "consultation_id",
                        "not_allowed",
                        "没有这条咨询",
                        "no such consultation of the worker",
                    )
                })
            }
        };
        let input = RequestInput {
            applicant: form.applicant,
            phone: form.phone,
            counterparty: form.counterparty,
            summary: form.summary,
            amount_fen: form.amount_fen,
            aid: form.aid,
        };
        let (consultation, request) = match (consultation, input.validate()) {
            (Ok(c), Ok(r)) => (c, r),
            (c, r) => {
                let mut problems = r.err().unwrap_or_default();
                problems.extend(c.err());
                return Err(problems.into());
            }
        };
        let checked = moderation::check(
            &state,
            account,
            ContentScene::Forum,
            "summary",
            &request.summary,
        )
        .await?;
        let (org_id, org_path) = handling_org(&state, account).await?;
        let at = clock::now();
        let application = LegalAidApplication {
            id: LegalAidId::new(),
            account_id: account,
            org_id,
            org_path,
            consultation_id: consultation,
            request,
            held: checked.held,
            status: LegalAidStatus::Submitted,
            lawyer_id: None,
            rejection_reason: None,
            outcome: None,
            decided_by: None,
            created_at: at,
            updated_at: at,
        };
        let view = serde_json::to_value(LegalAidView::from(&application))
            .map_err(|e| ApiError::internal(&e))?;
        let aid: Vec<&str> = application.request.aid.iter().map(|k| k.as_str()).collect();
        let mut change = worker.0.change(
            "legal_aid.apply",
            "legal_aid_application",
            application.id,
            json!({ "aid": aid, "held": checked.held, "consultation_id": consultation }),
            Some(OutboxEvent {
                topic: "legal_aid.submitted".into(),
                payload: json!({ "id": application.id, "org_id": application.org_id }),
            }),
        );
        change.answer = pending.map(|p| p.answer(StatusCode::CREATED, &view, at));
        state.legal_aid.file(&application, &change).await?;
        Ok((StatusCode::CREATED, view))
    })
    .await
}

/// The worker's applications, newest first.
#[utoipa::path(get, tag = "legal aid", security(("bearer" = [])),
    responses(
        (status = 200, description = "The applications", body = LegalAidList),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/legal-aid/applications")]
pub async fn list(
    state: web::Data<AppState>,
    worker: Worker,
) -> Result<web::Json<LegalAidList>, ApiError> {
    let items = state
        .legal_aid
        .legal_aid_of(worker.0.account_id())
        .await?
        .iter()
        .map(LegalAidView::from)
        .collect();
    Ok(web::Json(LegalAidList { items }))
}

/// One of the worker's applications.
#[utoipa::path(get, tag = "legal aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The application", body = LegalAidView),
        (status = 404, description = "No such application of the worker", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/legal-aid/applications/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    worker: Worker,
    id: web::Path<String>,
) -> Result<web::Json<LegalAidView>, ApiError> {
    Ok(web::Json(LegalAidView::from(
        &own(&state, &worker, &id).await?,
    )))
}

/// The worker's application `id`; 404 for anyone else's, as for none.
async fn own(state: &AppState, worker: &Worker, id: &str) -> Result<LegalAidApplication, ApiError> {
    let id = LegalAidId::parse(id).ok_or_else(ApiError::not_found)?;
    let a = state.legal_aid.legal_aid(id).await?;
    if a.account_id != worker.0.account_id() {
        return Err(ApiError::not_found());
    }
    Ok(a)
}

/// The worker withdraws an application still open — submitted, or accepted and not closed (a
/// settlement reached, a change of mind): `withdrawn` (已撤回); an assigned lawyer finds it so.
#[utoipa::path(post, tag = "legal aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "Withdrawn", body = LegalAidView),
        (status = 404, description = "No such application of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_open`: rejected, closed or withdrawn already", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[post("/legal-aid/applications/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    worker: Worker,
    id: web::Path<String>,
) -> Result<web::Json<LegalAidView>, ApiError> {
    let a = own(&state, &worker, &id).await?;
    let account = worker.0.account_id();
    let change = worker.0.change(
        "legal_aid.withdraw",
        "legal_aid_application",
        a.id,
        json!({ "from": a.status.as_str() }),
        Some(OutboxEvent {
            topic: "legal_aid.withdraw".into(),
            payload: json!({ "id": a.id, "account_id": account, "org_id": a.org_id,
                             "lawyer_id": a.lawyer_id }),
        }),
    );
    let after = state
        .legal_aid
        .decide_legal_aid(
            a.id,
            Actor::Worker(account),
            Command::Withdraw,
            clock::now(),
            change,
            Box::new(|_| None),
        )
        .await?;
    Ok(web::Json(LegalAidView::from(&after)))
}

/// Registers this feature's routes with their OpenAPI paths, in the order actix matches
/// them (fixed paths before `{id}`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(apply)
        .service(list)
        .service(show)
        .service(withdraw)
        .service(admin::queue)
        .service(admin::show)
        .service(admin::accept)
        .service(admin::reject)
        .service(admin::close);
}
