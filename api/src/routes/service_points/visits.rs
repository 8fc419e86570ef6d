//! Checking in at a service point (打卡): a logged-in worker standing within 500 m of an open
//! point is counted once a day there — the "served persons" figures officials report (issue
//! #4). A second check-in the same day answers the first one and counts nothing more.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yiwang_domain::calendar::china_date;
use yiwang_domain::clock;
use yiwang_domain::service_point::store::Visit;
use yiwang_domain::service_point::ServicePointStatus;

use super::{check_point, checked_without_error, find_point};
use crate::auth::Worker;
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::{JsonBodyErrors, NotLoggedIn, WorkerOnly};
use crate::routes::shared::Json;
use crate::state::AppState;
use yiwang_domain::problem::{finish, FieldProblem};

/// Farthest a worker may stand from the point to check in, metres (issue #4).
pub const VISIT_RADIUS_M: f64 = 500.0;

/// Where the worker is, from `wx.getLocation({type: 'gcj02'})`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitForm {
    /// Latitude, GCJ-02.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    /// Longitude, GCJ-02.
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub lng: f64,
}

/// A check-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitView {
    /// The point.
    pub service_point_id: String,
    /// The day it counts for (Asia/Shanghai).
    pub visited_on: NaiveDate,
    /// How far the worker stood from the point, whole metres.
    pub distance_m: u32,
    /// `true` when this request was counted, `false` when the worker had already checked in
    /// there that day.
    pub counted: bool,
}

/// Checks in at a point: 201 when counted, 200 when the worker already checked in there today.
#[utoipa::path(post, tag = "service points", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service point id")),
    request_body = VisitForm,
    responses(
        (status = 201, description = "Counted", body = VisitView),
        (status = 200, description = "Already counted today; nothing changed", body = VisitView),
        (status = 404, description = "No such point", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`service_point_closed`: the point is not open", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A coordinate out of range, or `too_far`: more than 500 m from the point", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[post("/service-points/{id}/visits")]
pub async fn check_in(
    state: web::Data<AppState>,
    worker: Worker,
    id: web::Path<String>,
    form: Json<VisitForm>,
) -> Result<HttpResponse, ApiError> {
    let mut errors: Vec<FieldProblem> = Vec::new();
    let from = check_point(&mut errors, form.lat, form.lng);
    finish(errors)?;
    let from = from.ok_or_else(checked_without_error)?;
    let point = find_point(&state, &id).await?;
    if point.draft.status != ServicePointStatus::Open {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "service_point_closed",
            "该服务阵地暂未开放，无法打卡",
            "The service point is not open",
        ));
    }
    let distance_m = from.distance_m(point.draft.point);
    if distance_m > VISIT_RADIUS_M {
        let far = distance_m.round();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_far",
            format!("您距离该服务阵地约 {far} 米，须在 500 米以内才能打卡"),
            format!("You are about {far} m from the point; check-ins need 500 m or less"),
        )
        .field("lat", "too_far", "距离超过 500 米", "more than 500 m away"));
    }
    let now = clock::now();
    let visit = Visit {
        service_point_id: point.id,
        account_id: worker.0.account_id(),
        visited_on: china_date(now),
        visited_at: now,
        from,
        distance_m,
    };
    let counted = state.service_points.record_visit(&visit).await?;
    let view = VisitView {
        service_point_id: point.id.to_string(),
        visited_on: visit.visited_on,
        distance_m: distance_m.round() as u32,
        counted,
    };
    let status = if counted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(view))
}
