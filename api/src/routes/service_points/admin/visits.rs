//! Visit counts ("served persons", 服务人次) per point and day, for the points owned in the
//! official's subtree: what a union reports upward.

use actix_web::{get, web};
use chrono::{NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::calendar::china_date;
use yiwang_domain::clock;
use yiwang_domain::service_point::ServicePointId;

use super::org_in_scope;
use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::{MalformedQuery, NotLoggedIn};
use crate::routes::shared::Query;
use crate::state::AppState;

/// Longest period one request covers, days.
pub const MAX_DAYS: i64 = 366;

/// Which visits to count.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VisitQuery {
    /// First day, `YYYY-MM-DD` (Asia/Shanghai; default 29 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (default today).
    pub to: Option<NaiveDate>,
    /// Only points owned in this organisation's subtree (inside the caller's).
    pub org_id: Option<String>,
    /// Only this point.
    pub service_point_id: Option<String>,
}

/// Visits of one point on one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitCountView {
    /// The point.
    pub service_point_id: String,
    /// Its name.
    pub name: String,
    /// The day.
    pub date: NaiveDate,
    /// Workers who checked in (each counted once a day).
    pub visits: u32,
}

/// The counts, with their total.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitReport {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Sum of `visits`.
    pub total: u64,
    /// Per point and day, by day then point; days without visits are left out.
    pub items: Vec<VisitCountView>,
}

/// Visits per point and day in the caller's subtree (at most 366 days at once).
#[utoipa::path(get, tag = "admin: service points", security(("bearer" = [])),
    params(VisitQuery),
    responses(
        (status = 200, description = "The counts", body = VisitReport),
        (status = 403, description = "Role may not read service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org_id` not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`from` after `to`, or more than 366 days", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/service-points/visits")]
pub async fn counts(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<VisitQuery>,
) -> Result<web::Json<VisitReport>, ApiError> {
    admin.authorize(Permission::ReadServicePoints, &admin.org_path)?;
    let to = query.to.unwrap_or_else(|| china_date(clock::now()));
    let from = query.from.unwrap_or(to - TimeDelta::days(29));
    if from > to || (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::invalid_field(
            "from",
            "out_of_range",
            "开始日期不能晚于结束日期，且一次最多统计 366 天",
            "from must not be after to, and at most 366 days at once",
        ));
    }
    let scope = org_in_scope(
        &state,
        &admin,
        Permission::ReadServicePoints,
        query.org_id.as_deref(),
    )
    .await?
    .path;
    let point = match query.service_point_id.as_deref() {
        None => None,
        Some(id) => Some(ServicePointId::parse(id).ok_or_else(ApiError::not_found)?),
    };
    let rows = state
        .service_points
        .visit_counts(&scope, point, from, to)
        .await?;
    Ok(web::Json(VisitReport {
        from,
        to,
        total: rows.iter().map(|r| u64::from(r.visits)).sum(),
        items: rows
            .into_iter()
            .map(|r| VisitCountView {
                service_point_id: r.service_point_id.to_string(),
                name: r.name,
                date: r.date,
                visits: r.visits,
            })
            .collect(),
    }))
}
