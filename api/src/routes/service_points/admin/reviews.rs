//! Reviews of a point, the officials' side: read them all (held ones first to decide), and
//! show or refuse a review WeChat's content check held (or could not check).

use actix_web::{get, post, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use yiwang_domain::clock;
use yiwang_domain::service_point::store::{Moderation, ReviewId};

use super::point_in_scope;
use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::service_points::reviews::ReviewView;
use crate::routes::shared::responses::{MalformedQuery, NotLoggedIn};
use crate::routes::shared::Query;
use crate::routes::shared::{PageQuery, Paged};
use crate::state::AppState;

/// Which reviews.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// Only `shown`, `held` or `refused`.
    #[param(value_type = Option<crate::routes::vocabularies::Moderation>)]
    pub moderation: Option<String>,
}

/// The reviews of a point in the caller's subtree, newest first.
#[utoipa::path(get, tag = "admin: service points", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service point id"), ReviewQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<ReviewView>),
        (status = 403, description = "Role may not read service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such point in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad moderation, limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/service-points/{id}/reviews")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    query: Query<ReviewQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<ReviewView>>, ApiError> {
    let page = page.request()?;
    let moderation = match query.moderation.as_deref() {
        None => None,
        Some(m) => Some(
            Moderation::parse(m)
                .ok_or_else(|| ApiError::not_one_of("moderation", &["shown", "held", "refused"]))?,
        ),
    };
    let point = point_in_scope(&state, &admin, Permission::ReadServicePoints, &id).await?;
    let rows = state
        .service_points
        .reviews(point.id, moderation, &page)
        .await?;
    Ok(web::Json(Paged::of(rows, ReviewView::from)))
}

async fn moderate(
    state: &AppState,
    admin: &Admin,
    id: &str,
    review_id: &str,
    moderation: Moderation,
) -> Result<ReviewView, ApiError> {
    let point = point_in_scope(state, admin, Permission::ManageServicePoints, id).await?;
    let review_id = ReviewId::parse(review_id).ok_or_else(ApiError::not_found)?;
    let review = state.service_points.review(review_id).await?;
    if review.service_point_id != point.id {
        return Err(ApiError::not_found());
    }
    let change = admin.principal.change(
        &format!("service_point.review.{}", moderation.as_str()),
        "service_point_review",
        review.id,
        json!({ "service_point_id": point.id }),
        None,
    );
    let decided = state
        .service_points
        .moderate_review(review.id, moderation, clock::now(), &change)
        .await?;
    Ok(ReviewView::from(decided))
}

/// Shows a held review.
#[utoipa::path(post, tag = "admin: service points", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service point id"), ("review_id" = String, Path, description = "Review id")),
    responses(
        (status = 200, description = "Shown", body = ReviewView),
        (status = 403, description = "Role may not manage service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such review of a point in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`review_not_held`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/service-points/{id}/reviews/{review_id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ReviewView>, ApiError> {
    let (id, review_id) = path.into_inner();
    Ok(web::Json(
        moderate(&state, &admin, &id, &review_id, Moderation::Shown).await?,
    ))
}

/// Refuses a held review: only its author still sees it.
#[utoipa::path(post, tag = "admin: service points", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service point id"), ("review_id" = String, Path, description = "Review id")),
    responses(
        (status = 200, description = "Refused", body = ReviewView),
        (status = 403, description = "Role may not manage service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such review of a point in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`review_not_held`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/service-points/{id}/reviews/{review_id}/refuse")]
pub async fn refuse(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ReviewView>, ApiError> {
    let (id, review_id) = path.into_inner();
    Ok(web::Json(
        moderate(&state, &admin, &id, &review_id, Moderation::Refused).await?,
    ))
}
