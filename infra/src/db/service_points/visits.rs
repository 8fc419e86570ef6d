//! Check-ins: one per worker, point and day.

use async_trait::async_trait;
use chrono::NaiveDate;
use diesel::prelude::*;
use yiwang_domain::org::OrgPath;
use yiwang_domain::service_point::store::{Visit, VisitCount};
use yiwang_domain::service_point::ServicePointId;
use yiwang_domain::store::RepoError;

use crate::db::schema::{service_point_visits as v, service_points as sp};
use crate::db::{corrupt, to_naive, unexpected, Database};

use super::*;
use yiwang_domain::service_point::store::VisitRepository;

#[async_trait]
impl VisitRepository for Database {
    async fn record_visit(&self, visit: &Visit) -> Result<bool, RepoError> {
        let row = NewVisit {
            service_point_id: visit.service_point_id.to_string(),
            account_id: visit.account_id.to_string(),
            visited_on: visit.visited_on,
            visited_at: to_naive(visit.visited_at),
            lat: visit.from.lat,
            lng: visit.from.lng,
            distance_m: visit.distance_m,
        };
        self.run(move |c| match insert_visit(c, &row) {
            Ok(n) => Ok(n > 0),
            // No such point or worker.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _,
            )) => Err(RepoError::NotFound),
            Err(e) => Err(unexpected(e)),
        })
        .await
    }
    async fn visit_counts(
        &self,
        scope: &OrgPath,
        point: Option<ServicePointId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VisitCount>, RepoError> {
        let (lower, upper) = scope.subtree_range();
        self.run(move |c| {
            let mut q = v::table
                .inner_join(sp::table)
                .filter(sp::org_path.ge(lower))
                .filter(sp::org_path.lt(upper))
                .filter(v::visited_on.between(from, to))
                .group_by((v::visited_on, v::service_point_id))
                // One name per point: `min` only satisfies the grouping rules.
                .select((
                    v::visited_on,
                    v::service_point_id,
                    diesel::dsl::min(sp::name),
                    diesel::dsl::count_star(),
                ))
                .order((v::visited_on.asc(), v::service_point_id.asc()))
                .into_boxed();
            if let Some(point) = point {
                q = q.filter(v::service_point_id.eq(point.to_string()));
            }
            let rows: Vec<(NaiveDate, String, Option<String>, i64)> =
                q.load(c).map_err(unexpected)?;
            rows.into_iter()
                .map(|(date, id, name, visits)| {
                    Ok(VisitCount {
                        service_point_id: ServicePointId::parse(&id)
                            .ok_or_else(|| corrupt("service point id", &id))?,
                        name: name.unwrap_or_default(),
                        date,
                        visits: u32::try_from(visits).unwrap_or(u32::MAX),
                    })
                })
                .collect()
        })
        .await
    }
}
