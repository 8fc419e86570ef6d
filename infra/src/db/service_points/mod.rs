//! [`ServicePointRepository`] on the shared schema: the service-point catalogue (服务阵地),
//! its change counter, workers' visits and their reviews.
//!
//! Every write to `service_points` takes the next value of the one-row counter
//! `service_point_revision` and stores it in the row's `revision`. The counter's row lock is
//! held until commit (on SQLite the database write lock is), so counter order is commit order
//! and [`ServicePointRepository::changes_since`] can hand out "everything after the last
//! (revision, id) you saw" without missing a commit. One import is one counter value for all
//! its rows; a page may end inside them.
//! Review writes change only the rating aggregate, which the nearest-point index does not
//! hold, so they do not take a counter value.
//!
//! Stored forms: amenity codes joined by `;`, the opening-hours text as written (parsed again
//! on every read), dated exceptions as JSON, enums by their `as_str` codes. A stored value that
//! does not read back is reported as an unexpected error, never a panic.

mod catalogue;
mod feed;
mod reviews;
mod visits;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use yiwang_domain::org::OrgPath;
use yiwang_domain::service_point::hours::{DatedException, OpeningHours, Schedule};
use yiwang_domain::service_point::store::{Moderation, Review, ReviewId};
use yiwang_domain::service_point::{
    Amenity, GeoPoint, QualityFlag, ServicePoint, ServicePointDraft, ServicePointId,
    ServicePointKind, ServicePointStatus,
};
use yiwang_domain::store::RepoError;

use super::codec::{account_id, org_id};
use super::schema::{
    service_point_reviews as r, service_point_revision as rev, service_point_visits as v,
    service_points as sp,
};
use super::{corrupt, execute_on, from_naive, DbConnection, TxError};

/// Rows per `INSERT` of an import. A row binds 23 values, so a chunk binds 11,500: below
/// SQLite's limit of 32,766 and PostgreSQL's of 65,535.
pub(super) const IMPORT_CHUNK: usize = 500;

/// Separator of the stored amenity codes.
pub(super) const AMENITY_SEPARATOR: char = ';';

/// A `service_points` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = sp)]
pub(super) struct PointRow {
    id: String,
    org_id: String,
    org_path: String,
    external_id: Option<String>,
    name: String,
    kind: String,
    address: String,
    province: Option<String>,
    city: Option<String>,
    district: Option<String>,
    lat: f64,
    lng: f64,
    hours_text: String,
    hours_exceptions: String,
    amenities: String,
    phone: Option<String>,
    status: String,
    star_grade: Option<i16>,
    quality_flag: Option<String>,
    quality_note: Option<String>,
    rating_sum: i64,
    rating_count: i32,
    revision: i64,
    deleted_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl PointRow {
    /// The official's fields as a draft, read back from their stored forms.
    fn draft(&self) -> Result<ServicePointDraft, RepoError> {
        let exceptions: Vec<DatedException> = serde_json::from_str(&self.hours_exceptions)
            .map_err(|_| corrupt("opening-hours exceptions", &self.hours_exceptions))?;
        let amenities = self
            .amenities
            .split(AMENITY_SEPARATOR)
            .filter(|code| !code.is_empty())
            .map(|code| Amenity::parse(code).ok_or_else(|| corrupt("amenity", code)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ServicePointDraft {
            name: self.name.clone(),
            kind: ServicePointKind::parse(&self.kind)
                .ok_or_else(|| corrupt("service point kind", &self.kind))?,
            address: self.address.clone(),
            province: self.province.clone(),
            city: self.city.clone(),
            district: self.district.clone(),
            point: GeoPoint::new(self.lat, self.lng)
                .map_err(|_| corrupt("coordinates", &format!("{},{}", self.lat, self.lng)))?,
            schedule: Schedule {
                hours: OpeningHours::parse(&self.hours_text),
                text: self.hours_text.clone(),
                exceptions,
            },
            amenities,
            phone: self.phone.clone(),
            status: ServicePointStatus::parse(&self.status)
                .ok_or_else(|| corrupt("service point status", &self.status))?,
            star_grade: self
                .star_grade
                .map(|g| u8::try_from(g).map_err(|_| corrupt("star grade", &g.to_string())))
                .transpose()?,
            quality_flag: self
                .quality_flag
                .as_deref()
                .map(|f| QualityFlag::parse(f).ok_or_else(|| corrupt("quality flag", f)))
                .transpose()?,
            quality_note: self.quality_note.clone(),
            external_id: self.external_id.clone(),
        })
    }

    pub(super) fn into_domain(self) -> Result<ServicePoint, RepoError> {
        let draft = self.draft()?;
        let rating_count = u32::try_from(self.rating_count)
            .map_err(|_| corrupt("rating count", &self.rating_count.to_string()))?;
        Ok(ServicePoint {
            id: ServicePointId::parse(&self.id)
                .ok_or_else(|| corrupt("service point id", &self.id))?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            draft,
            rating_average: (rating_count > 0)
                .then(|| self.rating_sum as f64 / f64::from(rating_count)),
            rating_count,
            revision: self.revision,
            deleted_at: self.deleted_at.map(from_naive),
            created_at: from_naive(self.created_at),
            updated_at: from_naive(self.updated_at),
        })
    }
}

/// The columns of a [`ServicePointDraft`] in their stored forms: inserted as part of a
/// [`NewPoint`], or set as a whole by an update (`None` writes `NULL`).
#[derive(Insertable, AsChangeset)]
#[diesel(
    table_name = sp,
    treat_none_as_default_value = false,
    treat_none_as_null = true
)]
pub(super) struct DraftColumns {
    external_id: Option<String>,
    name: String,
    kind: String,
    address: String,
    province: Option<String>,
    city: Option<String>,
    district: Option<String>,
    lat: f64,
    lng: f64,
    hours_text: String,
    hours_exceptions: String,
    amenities: String,
    phone: Option<String>,
    status: String,
    star_grade: Option<i16>,
    quality_flag: Option<String>,
    quality_note: Option<String>,
}

impl DraftColumns {
    fn from_draft(d: &ServicePointDraft) -> Result<DraftColumns, RepoError> {
        let amenities: Vec<&str> = d.amenities.iter().map(|a| a.as_str()).collect();
        Ok(DraftColumns {
            external_id: d.external_id.clone(),
            name: d.name.clone(),
            kind: d.kind.as_str().to_owned(),
            address: d.address.clone(),
            province: d.province.clone(),
            city: d.city.clone(),
            district: d.district.clone(),
            lat: d.point.lat,
            lng: d.point.lng,
            hours_text: d.schedule.text.clone(),
            hours_exceptions: serde_json::to_string(&d.schedule.exceptions)
                .map_err(|e| RepoError::Unexpected(Box::new(e)))?,
            amenities: amenities.join(&AMENITY_SEPARATOR.to_string()),
            phone: d.phone.clone(),
            status: d.status.as_str().to_owned(),
            star_grade: d.star_grade.map(i16::from),
            quality_flag: d.quality_flag.map(|f| f.as_str().to_owned()),
            quality_note: d.quality_note.clone(),
        })
    }
}

/// A new `service_points` row; the rating aggregate starts at its column defaults (none).
#[derive(Insertable)]
#[diesel(table_name = sp, treat_none_as_default_value = false)]
pub(super) struct NewPoint {
    id: String,
    org_id: String,
    org_path: String,
    #[diesel(embed)]
    draft: DraftColumns,
    revision: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// A `service_point_visits` row.
#[derive(Insertable)]
#[diesel(table_name = v)]
pub(super) struct NewVisit {
    service_point_id: String,
    account_id: String,
    visited_on: NaiveDate,
    visited_at: NaiveDateTime,
    lat: f64,
    lng: f64,
    distance_m: f64,
}

/// A `service_point_reviews` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = r)]
pub(super) struct ReviewRow {
    id: String,
    service_point_id: String,
    account_id: String,
    rating: i16,
    comment: Option<String>,
    moderation: String,
    trace_id: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl ReviewRow {
    pub(super) fn into_domain(self) -> Result<Review, RepoError> {
        Ok(Review {
            id: ReviewId::parse(&self.id).ok_or_else(|| corrupt("review id", &self.id))?,
            service_point_id: ServicePointId::parse(&self.service_point_id)
                .ok_or_else(|| corrupt("service point id", &self.service_point_id))?,
            account_id: account_id(&self.account_id)?,
            rating: u8::try_from(self.rating)
                .map_err(|_| corrupt("rating", &self.rating.to_string()))?,
            comment: self.comment,
            moderation: Moderation::parse(&self.moderation)
                .ok_or_else(|| corrupt("moderation", &self.moderation))?,
            trace_id: self.trace_id,
            created_at: from_naive(self.created_at),
            updated_at: from_naive(self.updated_at),
        })
    }
}

/// Takes the next change-counter value and returns it. The counter's row lock (SQLite: the
/// write lock) is then held until commit, which makes counter order commit order.
pub(super) fn next_revision(c: &mut DbConnection) -> QueryResult<i64> {
    diesel::update(rev::table.find(1))
        .set(rev::value.eq(rev::value + 1))
        .execute(c)?;
    current_revision(c)
}

/// Takes the change counter's row lock without changing its value (a write that changes
/// nothing; on SQLite it takes the write lock like [`claim_writer`]). Every later statement of
/// the transaction sees the commits of all earlier catalogue writers.
pub(super) fn lock_counter(c: &mut DbConnection) -> QueryResult<()> {
    diesel::update(rev::table.find(1))
        .set(rev::value.eq(rev::value))
        .execute(c)?;
    Ok(())
}

pub(super) fn current_revision(c: &mut DbConnection) -> QueryResult<i64> {
    rev::table.find(1).select(rev::value).first(c)
}

pub(super) fn load_point(c: &mut DbConnection, id: &str) -> Result<ServicePoint, TxError> {
    let row: PointRow = sp::table.select(PointRow::as_select()).find(id).first(c)?;
    row.into_domain().map_err(TxError::Repo)
}

pub(super) fn load_review(c: &mut DbConnection, id: &str) -> Result<Review, TxError> {
    let row: ReviewRow = r::table.select(ReviewRow::as_select()).find(id).first(c)?;
    row.into_domain().map_err(TxError::Repo)
}

/// Locks the row of point `id` (a write that changes nothing) so that review writes on one
/// point take turns and each recomputes the rating aggregate from the latest reviews; on
/// SQLite it takes the write lock. Returns whether the point exists (and, with
/// `live_only`, is not deleted).
pub(super) fn lock_point(c: &mut DbConnection, id: &str, live_only: bool) -> QueryResult<bool> {
    let target = sp::table.filter(sp::id.eq(id));
    let unchanged = sp::rating_sum.eq(sp::rating_sum);
    let n = if live_only {
        diesel::update(target.filter(sp::deleted_at.is_null()))
            .set(unchanged)
            .execute(c)?
    } else {
        diesel::update(target).set(unchanged).execute(c)?
    };
    Ok(n > 0)
}

/// Recomputes the rating aggregate of point `id` from its shown reviews.
pub(super) fn refresh_rating(c: &mut DbConnection, id: &str) -> QueryResult<()> {
    let (sum, count): (Option<i64>, i64) = r::table
        .filter(r::service_point_id.eq(id))
        .filter(r::moderation.eq(Moderation::Shown.as_str()))
        .select((diesel::dsl::sum(r::rating), diesel::dsl::count_star()))
        .first(c)?;
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    diesel::update(sp::table.find(id))
        .set((
            sp::rating_sum.eq(sum.unwrap_or(0)),
            sp::rating_count.eq(count),
        ))
        .execute(c)?;
    Ok(())
}

/// Inserts a visit unless the worker already has one at that point that day; returns the
/// rows written (0 or 1). `ON CONFLICT DO NOTHING` is not part of the multi-backend DSL, so
/// the statement is run on the concrete connection; both backends understand it, and unlike a
/// caught unique violation it leaves a PostgreSQL transaction usable.
pub(super) fn insert_visit(c: &mut DbConnection, visit: &NewVisit) -> QueryResult<usize> {
    let query = diesel::insert_into(v::table)
        .values(visit)
        .on_conflict_do_nothing();
    execute_on!(c, query)
}

/// Writes the points of an import in one statement: rows with a new id are inserted, rows
/// with the id of an existing (live) point replace its draft columns, revision and update
/// time (`ON CONFLICT (id) DO UPDATE`); its creation time, organisation and ratings stay. Neither a multi-row `INSERT` nor `ON CONFLICT` is part of the multi-backend
/// DSL, so the statement runs on the concrete connection; both backends understand it. Every
/// column has a value (no `DEFAULT`), which SQLite's multi-row `INSERT` needs.
pub(super) fn upsert_points(c: &mut DbConnection, rows: &[NewPoint]) -> QueryResult<usize> {
    use diesel::upsert::excluded;
    let query = diesel::insert_into(sp::table)
        .values(rows)
        .on_conflict(sp::id)
        .do_update()
        .set((
            (
                sp::external_id.eq(excluded(sp::external_id)),
                sp::name.eq(excluded(sp::name)),
                sp::kind.eq(excluded(sp::kind)),
                sp::address.eq(excluded(sp::address)),
                sp::province.eq(excluded(sp::province)),
                sp::city.eq(excluded(sp::city)),
                sp::district.eq(excluded(sp::district)),
                sp::lat.eq(excluded(sp::lat)),
                sp::lng.eq(excluded(sp::lng)),
            ),
            (
                sp::hours_text.eq(excluded(sp::hours_text)),
                sp::hours_exceptions.eq(excluded(sp::hours_exceptions)),
                sp::amenities.eq(excluded(sp::amenities)),
                sp::phone.eq(excluded(sp::phone)),
                sp::status.eq(excluded(sp::status)),
                sp::star_grade.eq(excluded(sp::star_grade)),
                sp::quality_flag.eq(excluded(sp::quality_flag)),
                sp::quality_note.eq(excluded(sp::quality_note)),
            ),
            (
                sp::revision.eq(excluded(sp::revision)),
                sp::updated_at.eq(excluded(sp::updated_at)),
            ),
        ));
    execute_on!(c, query)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::HashSet;

    use chrono::{DateTime, NaiveDate, Utc};
    use diesel::prelude::*;
    use yiwang_domain::audit::Change;
    use yiwang_domain::org::{OrgId, OrgPath};
    use yiwang_domain::service_point::hours::{DatedException, Schedule};
    use yiwang_domain::service_point::store::{
        ImportOutcome, Moderation, Review, ReviewId, ServicePointConflict, ServicePointFilter,
        ServicePointRepository, Visit, VisitCount,
    };
    use yiwang_domain::service_point::{
        Amenity, GeoPoint, QualityFlag, ServicePoint, ServicePointDraft, ServicePointId,
        ServicePointKind, ServicePointStatus,
    };
    use yiwang_domain::store::{PageRequest, RepoError};

    use crate::db::{unexpected, Database};

    use chrono::{Duration, TimeZone};
    use yiwang_domain::account::AccountId;
    use yiwang_domain::audit::{Actor, AuditEntry};
    use yiwang_domain::org::{OrgKind, OrgName, Organisation};
    use yiwang_domain::service_point::hours::Interval;
    use yiwang_domain::service_point::store::BoundingBox;
    use yiwang_domain::store::{OrgRepository, WorkerRepository};

    use crate::db::test_env::{backends, Env};

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap()
            + Duration::minutes(minutes)
            + Duration::microseconds(123_456)
    }

    fn change() -> Change {
        Change {
            audit: AuditEntry {
                actor: Actor::System,
                action: "service_point.test".into(),
                record_type: "service_point".into(),
                record_id: "-".into(),
                ip: None,
                request_id: None,
                detail: serde_json::json!({}),
                at: at(0),
            },
            event: None,
            answer: None,
        }
    }

    /// A root organisation, a child of it, another root, and two workers.
    struct Fixture {
        root: Organisation,
        child: Organisation,
        other: Organisation,
        worker: AccountId,
        worker2: AccountId,
    }

    async fn seed(db: &Database) -> Fixture {
        let name = |n: &str| OrgName::parse(n).unwrap();
        let root = Organisation::new_root(name("郑州市总工会"), OrgKind::CityFederation, at(0));
        let child = root.new_child(
            name("金水区总工会"),
            OrgKind::CountyFederation,
            false,
            at(0),
        );
        let other = Organisation::new_root(name("晋城市总工会"), OrgKind::CityFederation, at(0));
        for org in [&root, &child, &other] {
            OrgRepository::create(db, org, &change()).await.unwrap();
        }
        let worker = db.login_by_openid("o-1", None, at(0)).await.unwrap().0.id;
        let worker2 = db.login_by_openid("o-2", None, at(0)).await.unwrap().0.id;
        Fixture {
            root,
            child,
            other,
            worker,
            worker2,
        }
    }

    fn org(o: &Organisation) -> (OrgId, &OrgPath) {
        (o.id, &o.path)
    }

    /// A station with every optional field set.
    fn station(name: &str, external_id: Option<&str>) -> ServicePointDraft {
        let mut schedule = Schedule::from_text("周一至周五 08:30-12:00,13:00-17:30");
        schedule.exceptions = vec![
            DatedException {
                date: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
                intervals: Vec::new(),
            },
            DatedException {
                date: NaiveDate::from_ymd_opt(2026, 10, 2).unwrap(),
                intervals: vec![Interval {
                    start: 540,
                    end: 720,
                }],
            },
        ];
        ServicePointDraft {
            name: name.into(),
            kind: ServicePointKind::OutdoorWorkerStation,
            address: "郑州市金水区花园路 1 号".into(),
            province: Some("河南省".into()),
            city: Some("郑州市".into()),
            district: Some("金水区".into()),
            point: GeoPoint::new(34.7571, 113.7783).unwrap(),
            schedule,
            amenities: vec![Amenity::DrinkingWater, Amenity::Charging, Amenity::Wifi],
            phone: Some("0371-12345678".into()),
            status: ServicePointStatus::Open,
            star_grade: None,
            quality_flag: Some(QualityFlag::SuspectCoordinates),
            quality_note: Some("SUSPECT: geocode lands in central Zhengzhou".into()),
            external_id: external_id.map(str::to_owned),
        }
    }

    /// A recuperation base with the optional fields the station leaves out, and without the
    /// ones it sets.
    fn base(name: &str) -> ServicePointDraft {
        ServicePointDraft {
            name: name.into(),
            kind: ServicePointKind::RecuperationBase,
            address: "晋城市阳城县".into(),
            province: None,
            city: None,
            district: None,
            point: GeoPoint::new(35.4861, 112.4221).unwrap(),
            schedule: Schedule::from_text(""),
            amenities: Vec::new(),
            phone: None,
            status: ServicePointStatus::TemporarilyClosed,
            star_grade: Some(4),
            quality_flag: None,
            quality_note: None,
            external_id: None,
        }
    }

    fn repo(env: &Env) -> &dyn ServicePointRepository {
        &env.db
    }

    async fn audit_rows(db: &Database) -> i64 {
        db.run(|c| {
            super::super::schema::audit_log::table
                .count()
                .get_result(c)
                .map_err(unexpected)
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_get_update_delete_round_trip() {
        for env in backends() {
            let f = seed(&env.db).await;
            let repo = repo(&env);
            let audits = audit_rows(&env.db).await;
            let id = ServicePointId::new();
            let draft = station("郑州东站爱心驿站", Some("ZZ-001"));
            let created = repo
                .create(id, org(&f.child), &draft, at(1), &change())
                .await
                .unwrap();
            let expected = ServicePoint {
                id,
                org_id: f.child.id,
                org_path: f.child.path.clone(),
                draft: draft.clone(),
                rating_average: None,
                rating_count: 0,
                revision: 1,
                deleted_at: None,
                created_at: at(1),
                updated_at: at(1),
            };
            assert_eq!(created, expected);
            assert_eq!(repo.get(id).await.unwrap(), expected);
            assert_eq!(audit_rows(&env.db).await, audits + 1);

            let replacement = base("太行山疗休养基地");
            let updated = repo
                .update(id, &replacement, at(2), &change())
                .await
                .unwrap();
            assert_eq!(updated.draft, replacement);
            assert_eq!((updated.revision, updated.created_at), (2, at(1)));
            assert_eq!(updated.updated_at, at(2));
            assert_eq!(repo.get(id).await.unwrap(), updated);

            repo.delete(id, at(3), &change()).await.unwrap();
            assert!(matches!(repo.get(id).await, Err(RepoError::NotFound)));
            assert!(matches!(
                repo.delete(id, at(4), &change()).await,
                Err(RepoError::NotFound)
            ));
            assert!(matches!(
                repo.update(id, &draft, at(4), &change()).await,
                Err(RepoError::NotFound)
            ));
            assert!(matches!(
                repo.get(ServicePointId::new()).await,
                Err(RepoError::NotFound)
            ));
            // The refused writes took no counter value and wrote no audit row.
            assert_eq!(repo.revision().await.unwrap(), 3);
            assert_eq!(audit_rows(&env.db).await, audits + 3);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_external_id_is_unique_within_its_organisation() {
        for env in backends() {
            let f = seed(&env.db).await;
            let repo = repo(&env);
            let first = station("一号驿站", Some("A"));
            repo.create(
                ServicePointId::new(),
                org(&f.root),
                &first,
                at(1),
                &change(),
            )
            .await
            .unwrap();
            let again = repo
                .create(
                    ServicePointId::new(),
                    org(&f.root),
                    &first,
                    at(1),
                    &change(),
                )
                .await;
            assert!(
                matches!(&again, Err(RepoError::Refused(r)) if r.is(&ServicePointConflict::ExternalIdTaken))
            );
            // Another organisation may use it; points without one never collide.
            repo.create(
                ServicePointId::new(),
                org(&f.other),
                &first,
                at(1),
                &change(),
            )
            .await
            .unwrap();
            let plain = station("无编号驿站", None);
            repo.create(
                ServicePointId::new(),
                org(&f.root),
                &plain,
                at(1),
                &change(),
            )
            .await
            .unwrap();
            let second = repo
                .create(
                    ServicePointId::new(),
                    org(&f.root),
                    &plain,
                    at(1),
                    &change(),
                )
                .await
                .unwrap();
            let taken = repo.update(second.id, &first, at(2), &change()).await;
            assert!(
                matches!(&taken, Err(RepoError::Refused(r)) if r.is(&ServicePointConflict::ExternalIdTaken))
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn search_applies_every_filter() {
        for env in backends() {
            let f = seed(&env.db).await;
            let repo = repo(&env);
            let make = |name: &str, address: &str, kind, status, lat, flagged: bool| {
                let mut d = station(name, None);
                d.address = address.into();
                d.kind = kind;
                d.status = status;
                d.point = GeoPoint::new(lat, 113.7).unwrap();
                if !flagged {
                    d.quality_flag = None;
                    d.quality_note = None;
                }
                d
            };
            use ServicePointKind::{DriverHome as Home, OutdoorWorkerStation as Station};
            use ServicePointStatus::{Closed, Open, TemporarilyClosed as Paused};
            let in_child = [
                make("50%优惠驿站", "花园路", Station, Open, 34.70, true),
                make("500号驿站", "农业路", Station, Open, 34.80, false),
                make("司机之家", "中州大道 100%", Home, Paused, 34.75, false),
                make("已关闭驿站", "文化路", Station, Closed, 34.75, false),
            ];
            let mut ids = Vec::new();
            for d in &in_child {
                let p = repo
                    .create(ServicePointId::new(), org(&f.child), d, at(1), &change())
                    .await
                    .unwrap();
                ids.push(p.id);
            }
            let elsewhere = make("晋城驿站", "晋城", Station, Open, 35.49, false);
            let far = repo
                .create(
                    ServicePointId::new(),
                    org(&f.other),
                    &elsewhere,
                    at(1),
                    &change(),
                )
                .await
                .unwrap();
            let gone = repo
                .create(
                    ServicePointId::new(),
                    org(&f.child),
                    &in_child[0],
                    at(1),
                    &change(),
                )
                .await
                .unwrap();
            repo.delete(gone.id, at(2), &change()).await.unwrap();

            let page = PageRequest {
                after: None,
                limit: 100,
            };
            let names = |points: Vec<ServicePoint>| -> Vec<String> {
                points.into_iter().map(|p| p.draft.name).collect()
            };
            let search = |filter: ServicePointFilter| {
                let page = page.clone();
                async move { repo.search(&filter, &page).await.unwrap().items }
            };
            // Everything not closed nor deleted, by id.
            let all = search(ServicePointFilter::default()).await;
            let mut expected = vec![ids[0], ids[1], ids[2], far.id];
            expected.sort();
            assert_eq!(all.iter().map(|p| p.id).collect::<Vec<_>>(), expected);
            // Scope.
            let scoped = search(ServicePointFilter {
                scope: Some(f.root.path.clone()),
                include_closed: true,
                ..Default::default()
            })
            .await;
            assert_eq!(scoped.len(), 4);
            assert!(scoped.iter().all(|p| p.org_id == f.child.id));
            let other = search(ServicePointFilter {
                scope: Some(f.other.path.clone()),
                ..Default::default()
            })
            .await;
            assert_eq!(names(other), vec!["晋城驿站"]);
            // Bounding box.
            let boxed = search(ServicePointFilter {
                bbox: Some(BoundingBox {
                    south_west: GeoPoint::new(34.74, 113.0).unwrap(),
                    north_east: GeoPoint::new(34.81, 114.0).unwrap(),
                }),
                ..Default::default()
            })
            .await;
            let mut boxed = names(boxed);
            boxed.sort();
            assert_eq!(boxed, vec!["500号驿站", "司机之家"]);
            // Kind.
            let homes = search(ServicePointFilter {
                kind: Some(Home),
                ..Default::default()
            })
            .await;
            assert_eq!(names(homes), vec!["司机之家"]);
            // Text, `%` taken literally, in the name or the address.
            let literal = search(ServicePointFilter {
                q: Some("0%".into()),
                ..Default::default()
            })
            .await;
            let mut literal = names(literal);
            literal.sort();
            assert_eq!(literal, vec!["50%优惠驿站", "司机之家"]);
            // Status, and closed points only when asked for.
            let closed = search(ServicePointFilter {
                status: Some(Closed),
                ..Default::default()
            })
            .await;
            assert_eq!(names(closed), vec!["已关闭驿站"]);
            let with_closed = search(ServicePointFilter {
                include_closed: true,
                ..Default::default()
            })
            .await;
            assert_eq!(with_closed.len(), 5);
            // Quality flag.
            let flagged = search(ServicePointFilter {
                flagged: Some(true),
                ..Default::default()
            })
            .await;
            assert_eq!(names(flagged), vec!["50%优惠驿站"]);
            let unflagged = search(ServicePointFilter {
                flagged: Some(false),
                ..Default::default()
            })
            .await;
            assert_eq!(unflagged.len(), 3);
            // Keyset pages.
            let mut after = None;
            let mut paged = Vec::new();
            loop {
                let page = PageRequest { after, limit: 2 };
                let rows = repo
                    .search(&ServicePointFilter::default(), &page)
                    .await
                    .unwrap()
                    .items;
                let Some(last) = rows.last() else { break };
                after = Some(last.id.to_string());
                paged.extend(rows.iter().map(|p| p.id));
            }
            assert_eq!(paged, expected);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn imports_are_idempotent_and_take_one_revision() {
        for env in backends() {
            let f = seed(&env.db).await;
            let repo = repo(&env);
            let drafts: Vec<_> = (0..5)
                .map(|i| station(&format!("驿站 {i}"), Some(&format!("E{i}"))))
                .collect();
            let first = repo
                .import(org(&f.child), &drafts, at(1), &change())
                .await
                .unwrap();
            assert_eq!(
                first,
                ImportOutcome {
                    created: 5,
                    updated: 0,
                    unchanged: 0
                }
            );
            assert_eq!(repo.revision().await.unwrap(), 1);
            let rows = repo.changes_since(0, None, 100).await.unwrap();
            assert!(rows
                .iter()
                .all(|p| p.revision == 1 && p.org_id == f.child.id));
            assert_eq!(rows.len(), 5);

            let again = repo
                .import(org(&f.child), &drafts, at(2), &change())
                .await
                .unwrap();
            assert_eq!(
                again,
                ImportOutcome {
                    created: 0,
                    updated: 0,
                    unchanged: 5
                }
            );
            assert_eq!(repo.revision().await.unwrap(), 1);

            // One changed field; a deleted point released its external id, so its row comes back
            // as a new point beside the deleted one; one new point.
            let mut changed = drafts.clone();
            changed[1].phone = None;
            let e3 = rows
                .iter()
                .find(|p| p.draft.external_id.as_deref() == Some("E3"))
                .unwrap();
            repo.delete(e3.id, at(3), &change()).await.unwrap();
            changed.push(station("新驿站", Some("E5")));
            let third = repo
                .import(org(&f.child), &changed, at(4), &change())
                .await
                .unwrap();
            assert_eq!(
                third,
                ImportOutcome {
                    created: 2,
                    updated: 1,
                    unchanged: 3
                }
            );
            assert_eq!(repo.revision().await.unwrap(), 3);
            assert!(matches!(repo.get(e3.id).await, Err(RepoError::NotFound)));
            let rows = repo.changes_since(2, None, 100).await.unwrap();
            assert_eq!(rows.len(), 3);
            assert!(rows.iter().all(|p| p.revision == 3));

            // Points without an external id are always new; a repeated id is refused whole.
            let plain = vec![base("甲"), base("乙")];
            let outcome = repo
                .import(org(&f.child), &plain, at(5), &change())
                .await
                .unwrap();
            assert_eq!(outcome.created, 2);
            let outcome = repo
                .import(org(&f.child), &plain, at(5), &change())
                .await
                .unwrap();
            assert_eq!(outcome.created, 2);
            let twice = vec![station("x", Some("D")), station("y", Some("D"))];
            let refused = repo.import(org(&f.child), &twice, at(6), &change()).await;
            assert!(
                matches!(&refused, Err(RepoError::Refused(r)) if r.is(&ServicePointConflict::ExternalIdTaken))
            );
            assert_eq!(repo.revision().await.unwrap(), 5);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_import_is_batched() {
        for env in backends() {
            let f = seed(&env.db).await;
            let repo = repo(&env);
            let drafts: Vec<_> = (0..20_000)
                .map(|i| station(&format!("驿站 {i}"), Some(&format!("L{i:05}"))))
                .collect();
            let started = std::time::Instant::now();
            let first = repo
                .import(org(&f.root), &drafts, at(1), &change())
                .await
                .unwrap();
            let created = started.elapsed();
            assert_eq!(first.created, 20_000);
            let started = std::time::Instant::now();
            let again = repo
                .import(org(&f.root), &drafts, at(2), &change())
                .await
                .unwrap();
            let unchanged = started.elapsed();
            assert_eq!(again.unchanged, 20_000);
            let edited: Vec<_> = drafts
                .into_iter()
                .map(|mut d| {
                    d.phone = Some("12345".into());
                    d
                })
                .collect();
            let started = std::time::Instant::now();
            let third = repo
                .import(org(&f.root), &edited, at(3), &change())
                .await
                .unwrap();
            let updated = started.elapsed();
            assert_eq!(third.updated, 20_000);
            println!(
                "{:?}: 20,000 created in {created:?}, re-imported unchanged in {unchanged:?}, \
                 all changed in {updated:?}",
                env.db.backend_kind()
            );
            assert_eq!(repo.revision().await.unwrap(), 2);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_since_pages_by_revision_and_id() {
        for env in backends() {
            let f = seed(&env.db).await;
            let repo = repo(&env);
            let single = repo
                .create(
                    ServicePointId::new(),
                    org(&f.root),
                    &base("单个一"),
                    at(1),
                    &change(),
                )
                .await
                .unwrap();
            let drafts: Vec<_> = (0..5).map(|i| base(&format!("导入 {i}"))).collect();
            repo.import(org(&f.root), &drafts, at(2), &change())
                .await
                .unwrap();
            repo.create(
                ServicePointId::new(),
                org(&f.root),
                &base("单个二"),
                at(3),
                &change(),
            )
            .await
            .unwrap();
            assert_eq!(repo.revision().await.unwrap(), 3);

            // Pages of 3 cut through the import's 5 rows (one revision); resuming after the
            // last (revision, id) seen still gives every point once, in change order.
            let mut seen = Vec::new();
            let mut after = (0, None);
            let mut pages = Vec::new();
            loop {
                let rows = repo.changes_since(after.0, after.1, 3).await.unwrap();
                let Some(last) = rows.last() else { break };
                after = (last.revision, Some(last.id));
                pages.push(rows.len());
                seen.extend(rows.iter().map(|p| (p.revision, p.id)));
            }
            assert_eq!(pages, vec![3, 3, 1]);
            let mut ordered = seen.clone();
            ordered.sort();
            assert_eq!(seen, ordered);
            assert_eq!(
                seen.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
                vec![1, 2, 2, 2, 2, 2, 3]
            );
            assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);

            // Deleted points are changes too.
            repo.delete(single.id, at(4), &change()).await.unwrap();
            let rows = repo.changes_since(3, None, 10).await.unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].id, single.id);
            assert_eq!(rows[0].deleted_at, Some(at(4)));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_visit_per_worker_point_and_day_is_counted() {
        for env in backends() {
            let f = seed(&env.db).await;
            let repo = repo(&env);
            let a = repo
                .create(
                    ServicePointId::new(),
                    org(&f.child),
                    &station("甲驿站", None),
                    at(1),
                    &change(),
                )
                .await
                .unwrap();
            let b = repo
                .create(
                    ServicePointId::new(),
                    org(&f.other),
                    &station("乙驿站", None),
                    at(1),
                    &change(),
                )
                .await
                .unwrap();
            let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
            let visit = |point: ServicePointId, worker: AccountId, day: NaiveDate| Visit {
                service_point_id: point,
                account_id: worker,
                visited_on: day,
                visited_at: at(10),
                from: GeoPoint::new(34.757, 113.778).unwrap(),
                distance_m: 12.5,
            };
            let next = day.succ_opt().unwrap();
            assert!(repo
                .record_visit(&visit(a.id, f.worker, day))
                .await
                .unwrap());
            assert!(!repo
                .record_visit(&visit(a.id, f.worker, day))
                .await
                .unwrap());
            assert!(repo
                .record_visit(&visit(a.id, f.worker2, day))
                .await
                .unwrap());
            assert!(repo
                .record_visit(&visit(a.id, f.worker, next))
                .await
                .unwrap());
            assert!(repo
                .record_visit(&visit(b.id, f.worker, day))
                .await
                .unwrap());
            let unknown = repo
                .record_visit(&visit(ServicePointId::new(), f.worker, day))
                .await;
            assert!(matches!(unknown, Err(RepoError::NotFound)));

            let counts = repo
                .visit_counts(&f.root.path, None, day, next)
                .await
                .unwrap();
            let count = |date, visits| VisitCount {
                service_point_id: a.id,
                name: "甲驿站".into(),
                date,
                visits,
            };
            assert_eq!(counts, vec![count(day, 2), count(next, 1)]);
            let one_day = repo
                .visit_counts(&f.root.path, Some(a.id), next, next)
                .await
                .unwrap();
            assert_eq!(one_day, vec![count(next, 1)]);
            let none = repo
                .visit_counts(&f.root.path, Some(b.id), day, next)
                .await
                .unwrap();
            assert!(none.is_empty());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reviews_replace_and_only_shown_ones_are_rated() {
        for env in backends() {
            let f = seed(&env.db).await;
            let repo = repo(&env);
            let point = repo
                .create(
                    ServicePointId::new(),
                    org(&f.child),
                    &station("甲驿站", None),
                    at(1),
                    &change(),
                )
                .await
                .unwrap();
            let review = |worker, rating, moderation, minute| Review {
                id: ReviewId::new(),
                service_point_id: point.id,
                account_id: worker,
                rating,
                comment: Some("水很热".into()),
                moderation,
                trace_id: Some("trace".into()),
                created_at: at(minute),
                updated_at: at(minute),
            };
            // Only a worker who checked in there may rate it.
            let refused = repo
                .save_review(&review(f.worker, 4, Moderation::Shown, 2), &change())
                .await;
            assert!(
                matches!(&refused, Err(RepoError::Refused(r)) if r.code == "not_visited"),
                "{refused:?}"
            );
            for worker in [f.worker, f.worker2] {
                let visit = Visit {
                    service_point_id: point.id,
                    account_id: worker,
                    visited_on: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
                    visited_at: at(1),
                    from: GeoPoint::new(34.757, 113.778).unwrap(),
                    distance_m: 12.5,
                };
                assert!(repo.record_visit(&visit).await.unwrap());
            }
            let first = repo
                .save_review(&review(f.worker, 4, Moderation::Shown, 2), &change())
                .await
                .unwrap();
            let held = repo
                .save_review(&review(f.worker2, 2, Moderation::Held, 3), &change())
                .await
                .unwrap();
            let rated = repo.get(point.id).await.unwrap();
            assert_eq!((rated.rating_average, rated.rating_count), (Some(4.0), 1));
            // Reviews do not move the catalogue's counter.
            assert_eq!(rated.revision, point.revision);

            // The worker's second review replaces the first, keeping its id and creation.
            let mut second = review(f.worker, 5, Moderation::Shown, 4);
            second.comment = None;
            second.trace_id = None;
            let replaced = repo.save_review(&second, &change()).await.unwrap();
            assert_eq!((replaced.id, replaced.created_at), (first.id, at(2)));
            assert_eq!((replaced.rating, replaced.updated_at), (5, at(4)));
            assert_eq!((replaced.comment, replaced.trace_id), (None, None));
            assert_eq!(repo.review(first.id).await.unwrap().rating, 5);
            let rated = repo.get(point.id).await.unwrap();
            assert_eq!((rated.rating_average, rated.rating_count), (Some(5.0), 1));

            // Newest first, keyset pages, and the moderation filter.
            let page = |after| PageRequest { after, limit: 1 };
            let newest = repo.reviews(point.id, None, &page(None)).await.unwrap();
            assert_eq!(newest.items[0].id, first.id);
            let older = repo
                .reviews(point.id, None, &page(newest.next))
                .await
                .unwrap();
            assert_eq!(older.items[0].id, held.id);
            let end = repo
                .reviews(point.id, None, &page(older.next))
                .await
                .unwrap();
            assert!(end.items.is_empty() && end.next.is_none());
            let waiting = repo
                .reviews(
                    point.id,
                    Some(Moderation::Held),
                    &PageRequest {
                        after: None,
                        limit: 10,
                    },
                )
                .await
                .unwrap()
                .items;
            assert_eq!(waiting.iter().map(|r| r.id).collect::<Vec<_>>(), [held.id]);

            // Approving counts the rating; a second decision is refused.
            let shown = repo
                .moderate_review(held.id, Moderation::Shown, at(5), &change())
                .await
                .unwrap();
            assert_eq!(
                (shown.moderation, shown.updated_at),
                (Moderation::Shown, at(5))
            );
            let rated = repo.get(point.id).await.unwrap();
            assert_eq!((rated.rating_average, rated.rating_count), (Some(3.5), 2));
            let again = repo
                .moderate_review(held.id, Moderation::Refused, at(6), &change())
                .await;
            assert!(
                matches!(&again, Err(RepoError::Refused(r)) if r.is(&ServicePointConflict::ReviewNotHeld))
            );

            // A refused review is not counted.
            let refused = repo
                .save_review(&review(f.worker2, 1, Moderation::Held, 7), &change())
                .await
                .unwrap();
            repo.moderate_review(refused.id, Moderation::Refused, at(8), &change())
                .await
                .unwrap();
            let rated = repo.get(point.id).await.unwrap();
            assert_eq!((rated.rating_average, rated.rating_count), (Some(5.0), 1));

            assert!(matches!(
                repo.review(ReviewId::new()).await,
                Err(RepoError::NotFound)
            ));
            assert!(matches!(
                repo.moderate_review(ReviewId::new(), Moderation::Shown, at(9), &change())
                    .await,
                Err(RepoError::NotFound)
            ));
            repo.delete(point.id, at(9), &change()).await.unwrap();
            let late = repo
                .save_review(&review(f.worker, 3, Moderation::Shown, 10), &change())
                .await;
            assert!(matches!(late, Err(RepoError::NotFound)));
        }
    }
}
