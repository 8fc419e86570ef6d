//! The change feed the nearest-point index follows.

use async_trait::async_trait;
use diesel::prelude::*;
use yiwang_domain::service_point::{ServicePoint, ServicePointId};
use yiwang_domain::store::RepoError;

use crate::db::schema::service_points as sp;
use crate::db::{unexpected, Database};

use super::*;
use yiwang_domain::service_point::store::ChangeFeed;

#[async_trait]
impl ChangeFeed for Database {
    /// Pages hold whole revisions. An import writes many rows under one revision; were a page
    /// to end inside it, a caller resuming from "revision > last seen" would skip the rest.
    /// So one row more than `limit` is read: when there is more, the rows of the revision
    /// that row belongs to are left for the next page, and the value returned is the one
    /// before that revision (every revision up to it is complete). When that would leave the
    /// page empty — a single revision larger than `limit` — that revision is returned whole,
    /// however many rows it has. When everything fits, the counter's value is returned.
    ///
    /// The counter is read first, then only rows at or below it: all of those are committed
    /// (counter order is commit order). On PostgreSQL the transaction is `REPEATABLE READ`,
    /// so every statement sees one snapshot; a SQLite read transaction does by itself.
    async fn changes_since(
        &self,
        revision: i64,
        after_id: Option<ServicePointId>,
        limit: u32,
    ) -> Result<Vec<ServicePoint>, RepoError> {
        let after_id = after_id.map(|id| id.to_string());
        let limit = i64::from(limit);
        self.run(move |c| {
            // Two range reads on the (revision, id) index: the rest of revision `revision`,
            // then the revisions after it. One query with an OR of the two made SQLite sort
            // the whole revision for every page: 64 s to load a million points imported at
            // once.
            let mut rows: Vec<PointRow> = match after_id {
                None => Vec::new(),
                Some(id) => sp::table
                    .select(PointRow::as_select())
                    .filter(sp::revision.eq(revision))
                    .filter(sp::id.gt(id))
                    .order(sp::id.asc())
                    .limit(limit)
                    .load(c)
                    .map_err(unexpected)?,
            };
            let missing = limit - i64::try_from(rows.len()).unwrap_or(limit);
            if missing > 0 {
                let later: Vec<PointRow> = sp::table
                    .select(PointRow::as_select())
                    .filter(sp::revision.gt(revision))
                    .order((sp::revision.asc(), sp::id.asc()))
                    .limit(missing)
                    .load(c)
                    .map_err(unexpected)?;
                rows.extend(later);
            }
            rows.into_iter().map(PointRow::into_domain).collect()
        })
        .await
    }
    async fn revision(&self) -> Result<i64, RepoError> {
        self.run(|c| current_revision(c).map_err(unexpected)).await
    }
}
