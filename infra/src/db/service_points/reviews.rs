//! Reviews and their moderation; a point's rating counts shown reviews only.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::audit::Change;
use yiwang_domain::service_point::store::{Moderation, Review, ReviewId, ServicePointConflict};
use yiwang_domain::service_point::ServicePointId;
use yiwang_domain::store::{Page, PageRequest, RepoError};

use crate::db::page::{page_of, start_after, TimeKey};
use crate::db::schema::{service_point_reviews as r, service_point_visits as v};
use crate::db::{claim_writer, record_change, to_naive, unexpected, Database, TxError};

use super::*;
use yiwang_domain::service_point::store::ReviewRepository;

#[async_trait]
impl ReviewRepository for Database {
    async fn save_review(&self, review: &Review, change: &Change) -> Result<Review, RepoError> {
        let (review, change) = (review.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let point = review.service_point_id.to_string();
                // A write first: no `claim_writer` needed.
                if !lock_point(c, &point, true)? {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                let account = review.account_id.to_string();
                let visited: Option<String> = v::table
                    .filter(v::service_point_id.eq(&point))
                    .filter(v::account_id.eq(&account))
                    .select(v::account_id)
                    .first(c)
                    .optional()?;
                if visited.is_none() {
                    return Err(TxError::refused(ServicePointConflict::NotVisited));
                }
                let rating = i16::from(review.rating);
                let at = to_naive(review.updated_at);
                let earlier: Option<String> = r::table
                    .filter(r::service_point_id.eq(&point))
                    .filter(r::account_id.eq(&account))
                    .select(r::id)
                    .first(c)
                    .optional()?;
                let key = match earlier {
                    Some(key) => {
                        diesel::update(r::table.find(&key))
                            .set((
                                r::rating.eq(rating),
                                r::comment.eq(&review.comment),
                                r::moderation.eq(review.moderation.as_str()),
                                r::trace_id.eq(&review.trace_id),
                                r::updated_at.eq(at),
                            ))
                            .execute(c)?;
                        key
                    }
                    None => {
                        let key = review.id.to_string();
                        diesel::insert_into(r::table)
                            .values((
                                r::id.eq(&key),
                                r::service_point_id.eq(&point),
                                r::account_id.eq(&account),
                                r::rating.eq(rating),
                                r::comment.eq(&review.comment),
                                r::moderation.eq(review.moderation.as_str()),
                                r::trace_id.eq(&review.trace_id),
                                r::created_at.eq(to_naive(review.created_at)),
                                r::updated_at.eq(at),
                            ))
                            .execute(c)?;
                        key
                    }
                };
                refresh_rating(c, &point)?;
                record_change(c, &change)?;
                load_review(c, &key)
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
    async fn reviews(
        &self,
        point: ServicePointId,
        moderation: Option<Moderation>,
        page: &PageRequest,
    ) -> Result<Page<Review>, RepoError> {
        let request = page.clone();
        self.run(move |c| {
            let mut q = r::table
                .select(ReviewRow::as_select())
                .filter(r::service_point_id.eq(point.to_string()))
                .order((r::updated_at.desc(), r::id.desc()))
                .limit(i64::from(request.limit))
                .into_boxed();
            if let Some(moderation) = moderation {
                q = q.filter(r::moderation.eq(moderation.as_str()));
            }
            if let Some(TimeKey { at, id }) = start_after::<TimeKey>(&request)? {
                // Newest first: the page goes on with older rows, or the same instant's
                // smaller ids. The redundant `<=` lets the index seek.
                q = q.filter(r::updated_at.le(at)).filter(
                    r::updated_at
                        .lt(at)
                        .or(r::updated_at.eq(at).and(r::id.lt(id))),
                );
            }
            let rows: Vec<ReviewRow> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(ReviewRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                TimeKey::new(r.updated_at, r.id)
            }))
        })
        .await
    }
    async fn review(&self, id: ReviewId) -> Result<Review, RepoError> {
        self.run(move |c| load_review(c, &id.to_string()).map_err(|e| e.into_repo()))
            .await
    }
    async fn moderate_review(
        &self,
        id: ReviewId,
        moderation: Moderation,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<Review, RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let key = id.to_string();
                let point = load_review(c, &key)?.service_point_id.to_string();
                lock_point(c, &point, false)?;
                let n = diesel::update(
                    r::table
                        .filter(r::id.eq(&key))
                        .filter(r::moderation.eq(Moderation::Held.as_str())),
                )
                .set((
                    r::moderation.eq(moderation.as_str()),
                    r::updated_at.eq(to_naive(now)),
                ))
                .execute(c)?;
                if n == 0 {
                    return Err(TxError::refused(ServicePointConflict::ReviewNotHeld));
                }
                refresh_rating(c, &point)?;
                record_change(c, &change)?;
                load_review(c, &key)
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
}
