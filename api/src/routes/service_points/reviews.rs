//! Rating a service point: a logged-in worker gives 1–5 stars and an optional comment. The
//! comment goes through WeChat's msgSecCheck first (WECHAT.md, a platform rule for user text):
//! `risky` is refused and nothing is stored; `review`, or a check that cannot be reached, holds
//! the review for an official — kept, not shown; `pass` shows it. A new review by the same
//! worker replaces their earlier one, so a double tap never files twice.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use yiwang_domain::clock;
use yiwang_domain::service_point::store::{Moderation, Review, ReviewId};
use yiwang_domain::wechat::ContentScene;

use super::find_point;
use crate::auth::Worker;
use crate::error::{ApiError, Problem};
use crate::moderation;
use crate::rate_limit::Lookup;
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{PageQuery, Paged};
use crate::state::AppState;
use yiwang_domain::problem::{finish, FieldProblem};

/// Longest comment, characters.
pub const COMMENT_MAX_CHARS: usize = 300;

/// A rating.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewForm {
    /// Stars, 1–5.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    /// What the worker says, up to 300 characters.
    #[schema(max_length = 300)]
    pub comment: Option<String>,
}

/// A review as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    /// Id.
    pub id: String,
    /// Stars, 1–5.
    pub rating: u8,
    /// The comment, if any.
    pub comment: Option<String>,
    /// `shown`; `held` while an official checks it; `refused`.
    #[schema(value_type = crate::routes::vocabularies::Moderation)]
    pub moderation: &'static str,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

impl From<Review> for ReviewView {
    fn from(r: Review) -> Self {
        Self {
            id: r.id.to_string(),
            rating: r.rating,
            comment: r.comment,
            moderation: r.moderation.as_str(),
            updated_at: r.updated_at,
        }
    }
}

/// Rates a point the worker checked in at (replacing their earlier rating of it). 201 with
/// the review; its `moderation` says whether it shows yet.
#[utoipa::path(post, tag = "service points", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service point id")),
    request_body = ReviewForm,
    responses(
        (status = 201, description = "Stored", body = ReviewView),
        (status = 403, description = "`not_visited`: the worker never checked in at the point (`POST …/visits`); `wrong_account_kind`: an official's token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such point", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rating not 1–5, comment too long, or `content_risky`: WeChat's content check refused the comment", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/service-points/{id}/reviews")]
pub async fn review(
    state: web::Data<AppState>,
    worker: Worker,
    id: web::Path<String>,
    form: Json<ReviewForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let mut errors: Vec<FieldProblem> = Vec::new();
    if !(1..=5).contains(&form.rating) {
        errors.push(FieldProblem::new(
            "rating",
            "out_of_range",
            "评分须为 1 到 5 星",
            "rating must be 1 to 5",
        ));
    }
    let comment = form
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > COMMENT_MAX_CHARS)
    {
        errors.push(FieldProblem::new(
            "comment",
            "too_long",
            format!("评价内容最多 {COMMENT_MAX_CHARS} 个字"),
            format!("comment must be at most {COMMENT_MAX_CHARS} characters"),
        ));
    }
    finish(errors)?;
    let point = find_point(&state, &id).await?;
    let (moderation, trace_id) = match &comment {
        None => (Moderation::Shown, None),
        Some(text) => {
            let account = worker.0.account_id();
            let checked =
                moderation::check(&state, account, ContentScene::Comment, "comment", text).await?;
            let shown = if checked.held {
                Moderation::Held
            } else {
                Moderation::Shown
            };
            (shown, checked.trace_id)
        }
    };
    let now = clock::now();
    let review = Review {
        id: ReviewId::new(),
        service_point_id: point.id,
        account_id: worker.0.account_id(),
        rating: u8::try_from(form.rating).unwrap_or(5),
        comment,
        moderation,
        trace_id,
        created_at: now,
        updated_at: now,
    };
    let change = worker.0.change(
        "service_point.review",
        "service_point",
        point.id,
        json!({ "rating": review.rating, "moderation": moderation.as_str() }),
        None,
    );
    let stored = state.service_points.save_review(&review, &change).await?;
    Ok(HttpResponse::Created().json(ReviewView::from(stored)))
}

/// A shown review, without its author.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicReview {
    /// Stars, 1–5.
    pub rating: u8,
    /// The comment, if any.
    pub comment: Option<String>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// The shown reviews of a point, newest first, paged. No login.
#[utoipa::path(get, tag = "service points",
    params(("id" = String, Path, description = "Service point id"), PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<PublicReview>),
        (status = 404, description = "No such point", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
        MalformedQuery,
    ))]
#[get("/service-points/{id}/reviews")]
pub async fn list(
    state: web::Data<AppState>,
    _limit: Lookup,
    id: web::Path<String>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<PublicReview>>, ApiError> {
    let page = page.request()?;
    let point = find_point(&state, &id).await?;
    let rows = state
        .service_points
        .reviews(point.id, Some(Moderation::Shown), &page)
        .await?;
    Ok(web::Json(Paged::of(rows, |r| PublicReview {
        rating: r.rating,
        comment: r.comment,
        updated_at: r.updated_at,
    })))
}
