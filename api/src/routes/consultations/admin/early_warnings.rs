//! Employer early warnings (群体性劳动纠纷预警), the officials' side: the alerts their branch
//! holds, acknowledging one with what was done, and the rule (a `super_admin`'s). Alerts are
//! raised as workers ask ([`yiwang_domain::consultation::early_warning`]); each raise is also
//! the outbox event `consultation.employer_alert`, for the notices to the branch's officials.

use actix_web::{get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::clock;
use yiwang_domain::consultation::early_warning::{AlertId, AlertRule, AlertStatus, EmployerAlert};
use yiwang_domain::problem::{text, FieldProblem};

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{status_filter, PageQuery, Paged};
use crate::state::AppState;

/// An employer alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    /// Id.
    pub id: String,
    /// The employer, as the latest consultation counted names it.
    pub employer: String,
    /// How it is recognised: `credit:{unified social credit code}` or `name:{normalised name}`.
    pub employer_key: String,
    /// The branch that holds every consultation counted.
    pub org_id: String,
    /// Consultations counted in the window.
    pub consultations: u32,
    /// The rule's threshold when it was raised.
    pub threshold: u32,
    /// The rule's window, days.
    pub window_days: u32,
    /// The first consultation counted (UTC).
    pub first_at: DateTime<Utc>,
    /// The latest (UTC).
    pub last_at: DateTime<Utc>,
    /// `open` or `acknowledged`.
    #[schema(value_type = crate::routes::vocabularies::AlertStatus)]
    pub status: &'static str,
    /// The state in Chinese.
    pub status_label: &'static str,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When (UTC).
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// What was done.
    pub note: Option<String>,
    /// Raised (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<&EmployerAlert> for AlertView {
    fn from(a: &EmployerAlert) -> Self {
        Self {
            id: a.id.to_string(),
            employer: a.employer.clone(),
            employer_key: a.employer_key.as_str().to_owned(),
            org_id: a.org_id.to_string(),
            consultations: a.consultations,
            threshold: a.rule.threshold,
            window_days: a.rule.window_days,
            first_at: a.first_at,
            last_at: a.last_at,
            status: a.status.as_str(),
            status_label: a.status.zh(),
            acknowledged_by: a.acknowledged_by.map(|b| b.to_string()),
            acknowledged_at: a.acknowledged_at,
            note: a.note.clone(),
            created_at: a.created_at,
        }
    }
}

/// Which alerts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only these states (`open`, `acknowledged`), comma-separated; all when absent.
    #[param(value_type = Option<Vec<crate::routes::vocabularies::AlertStatus>>, style = Form, explode = false)]
    pub status: Option<String>,
}

/// The alerts the caller's branch holds, newest first.
#[utoipa::path(get, tag = "admin: consultations", security(("bearer" = [])),
    params(AlertQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<AlertView>),
        (status = 403, description = "Role may not read consultations, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown state, bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/early-warnings")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<AlertQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<AlertView>>, ApiError> {
    admin.authorize(Permission::ReadConsultations, &admin.org_path)?;
    let page = page.request()?;
    let statuses = status_filter(
        query.status.as_deref(),
        AlertStatus::parse,
        &AlertStatus::ALL.map(AlertStatus::as_str),
    )?;
    let rows = state
        .early_warning
        .alerts(&admin.org_path, &statuses, &page)
        .await?;
    Ok(web::Json(Paged::of(rows, |a| AlertView::from(&a))))
}

/// What was done about an alert.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeForm {
    /// What was or will be done (e.g. 已约谈企业), at most 500 characters.
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Acknowledges an open alert of the caller's branch: the employer's next burst raises a new
/// one.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Alert id")),
    request_body = AcknowledgeForm,
    responses(
        (status = 200, description = "Acknowledged", body = AlertView),
        (status = 403, description = "Role may not handle consultations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such alert in the caller's branch", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_acknowledged`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The note is over 500 characters", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/early-warnings/{id}/acknowledge")]
pub async fn acknowledge(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    form: Json<AcknowledgeForm>,
) -> Result<web::Json<AlertView>, ApiError> {
    let id = AlertId::parse(&id).ok_or_else(ApiError::not_found)?;
    let alert = state.early_warning.alert(id).await?;
    admin.authorize(Permission::HandleConsultations, &alert.org_path)?;
    let mut problems: Vec<FieldProblem> = Vec::new();
    let note = text(&mut problems, "note", form.into_inner().note, 500, false);
    if !problems.is_empty() {
        return Err(problems.into());
    }
    let change = admin.principal.change(
        "employer_alert.acknowledge",
        "employer_alert",
        alert.id,
        json!({ "note": note }),
        None,
    );
    let me = admin.principal.account_id();
    let done = state
        .early_warning
        .acknowledge(alert.id, me, note, clock::now(), &change)
        .await?;
    Ok(web::Json(AlertView::from(&done)))
}

/// The rule: an alert is raised when `threshold` distinct workers ask, in the watched
/// categories, about one employer within `window_days` days (one worker's repeated questions
/// count once).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleForm {
    /// Distinct workers, 2–1,000.
    #[schema(required = true, value_type = i64, minimum = 2, maximum = 1000)]
    pub threshold: Option<i64>,
    /// Days, 1–90.
    #[schema(required = true, value_type = i64, minimum = 1, maximum = 90)]
    pub window_days: Option<i64>,
}

impl From<AlertRule> for RuleForm {
    fn from(r: AlertRule) -> Self {
        Self {
            threshold: Some(i64::from(r.threshold)),
            window_days: Some(i64::from(r.window_days)),
        }
    }
}

/// The rule in force (which categories it watches: `watched` of
/// `GET /api/v1/admin/consultation-categories`).
#[utoipa::path(get, tag = "admin: consultations", security(("bearer" = [])),
    responses(
        (status = 200, description = "The rule", body = RuleForm),
        (status = 403, description = "Role may not read consultations", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[get("/admin/early-warnings/rule")]
pub async fn show_rule(
    state: web::Data<AppState>,
    admin: Admin,
) -> Result<web::Json<RuleForm>, ApiError> {
    admin.authorize(Permission::ReadConsultations, &admin.org_path)?;
    Ok(web::Json(state.early_warning.alert_rule().await?.into()))
}

/// Replaces the rule (`super_admin`); alerts already raised keep the rule they were raised by.
#[utoipa::path(put, tag = "admin: consultations", security(("bearer" = [])),
    request_body = RuleForm,
    responses(
        (status = 200, description = "The rule now", body = RuleForm),
        (status = 403, description = "Not a super_admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field missing or out of range (each one listed)", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[put("/admin/early-warnings/rule")]
pub async fn save_rule(
    state: web::Data<AppState>,
    admin: Admin,
    form: Json<RuleForm>,
) -> Result<web::Json<RuleForm>, ApiError> {
    admin.authorize(Permission::ManageCategories, &admin.org_path)?;
    let (threshold, window_days) = (form.threshold, form.window_days);
    let new = match (threshold, window_days) {
        (Some(t), Some(w)) => AlertRule::new(t, w)?,
        _ => {
            let missing = [("threshold", threshold), ("window_days", window_days)];
            let problems: Vec<FieldProblem> = missing
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(f, _)| FieldProblem::required(f))
                .collect();
            return Err(problems.into());
        }
    };
    let change = admin.principal.change(
        "early_warning.rule",
        "early_warning_rule",
        1,
        json!({ "threshold": new.threshold, "window_days": new.window_days }),
        None,
    );
    state
        .early_warning
        .save_alert_rule(&new, clock::now(), &change)
        .await?;
    Ok(web::Json(new.into()))
}
