//! The ports through which service points are kept (implemented in `yiwang-infra`): the
//! catalogue in the database, and the in-memory nearest-point index kept in step with it.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::geo::GeoPoint;
use super::hours::Interval;
#[cfg(doc)]
use super::hours::Schedule;
use super::kind::{Amenity, ServicePointKind};
use super::point::{ServicePoint, ServicePointDraft, ServicePointId, ServicePointStatus};
use crate::account::AccountId;
use crate::audit::Change;
use crate::calendar::WorkingCalendar;
use crate::org::{OrgId, OrgPath};
use crate::store::{Page, PageRequest, RepoError};

crate::reasons! {
    /// The rules the service-point store keeps ([`RepoError::Refused`]).
    pub enum ServicePointConflict {
        /// Another point of the organisation already has this external id.
        ExternalIdTaken = (Conflict, "external_id_taken", "该组织已有相同外部编号的服务阵地",
            "The organisation already has a service point with this external id")
            at ("external_id", "taken", "外部编号已被使用", "already in use"),
        /// Deciding a review that is no longer held (another official decided it).
        ReviewNotHeld = (Conflict, "review_not_held", "该评价不在待审状态",
            "The review is not held for a decision"),
        /// Rating a point the worker never checked in at (`POST …/visits`): only those who
        /// were there may rate it, so a rating says something about the place.
        NotVisited = (Forbidden, "not_visited", "到访打卡后才能评价该服务阵地",
            "Check in at the service point before rating it"),
    }
}

/// A map viewport: south-west and north-east corners, GCJ-02.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// South-west corner.
    pub south_west: GeoPoint,
    /// North-east corner.
    pub north_east: GeoPoint,
}

/// Filters of a catalogue listing (workers' map and search, officials' lists and exports).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServicePointFilter {
    /// Only points owned in this subtree (officials: their scope).
    pub scope: Option<OrgPath>,
    /// Only points inside this box.
    pub bbox: Option<BoundingBox>,
    /// Only this kind.
    pub kind: Option<ServicePointKind>,
    /// Name or address containing this text.
    pub q: Option<String>,
    /// Only this status; `None` means every status but `closed` for workers — the caller
    /// decides by setting [`ServicePointFilter::include_closed`].
    pub status: Option<ServicePointStatus>,
    /// Whether closed points are listed when no status is asked for.
    pub include_closed: bool,
    /// Only flagged (`Some(true)`) or unflagged points.
    pub flagged: Option<bool>,
}

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// New points.
    pub created: u32,
    /// Points found by external id and changed.
    pub updated: u32,
    /// Points found by external id whose fields were already the same.
    pub unchanged: u32,
}

/// A recorded visit (a "served person" count, issue #4).
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    /// The point.
    pub service_point_id: ServicePointId,
    /// The worker.
    pub account_id: AccountId,
    /// The China Standard Time day; one visit per worker, point and day counts.
    pub visited_on: NaiveDate,
    /// When it was recorded.
    pub visited_at: DateTime<Utc>,
    /// Where the worker was, GCJ-02.
    pub from: GeoPoint,
    /// How far from the point, metres.
    pub distance_m: f64,
}

/// Visits of one point on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitCount {
    /// The point.
    pub service_point_id: ServicePointId,
    /// Its name.
    pub name: String,
    /// The China Standard Time day.
    pub date: NaiveDate,
    /// Distinct workers who checked in.
    pub visits: u32,
}

/// Where a review's comment stands with the content check (msgSecCheck, WECHAT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Moderation {
    /// Shown to everyone (passed the check, approved by an official, or no comment).
    Shown,
    /// Held for an official: the check said `review`, or could not be reached.
    Held,
    /// An official refused it; only the author sees it.
    Refused,
}

impl Moderation {
    /// Every term, in the order pickers show them.
    pub const ALL: [Moderation; 3] = [Self::Shown, Self::Held, Self::Refused];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shown => "shown",
            Self::Held => "held",
            Self::Refused => "refused",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            Moderation::Shown => "已展示",
            Moderation::Held => "待审核",
            Moderation::Refused => "未通过审核",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

crate::uuid_id!(
    /// Identifier of a review.
    ReviewId
);

/// A worker's rating of a point; one per worker and point, a new one replaces the old.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// Its id.
    pub id: ReviewId,
    /// The point.
    pub service_point_id: ServicePointId,
    /// The worker.
    pub account_id: AccountId,
    /// 1–5.
    pub rating: u8,
    /// The comment, 1–300 characters, if any.
    pub comment: Option<String>,
    /// Content-check state.
    pub moderation: Moderation,
    /// WeChat's `trace_id` of the check, kept with the text (WECHAT.md).
    pub trace_id: Option<String>,
    /// Written.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The service-point catalogue.
#[async_trait]
pub trait CatalogueRepository: Send + Sync {
    /// Stores a new point owned by `org`. [`ServicePointConflict::ExternalIdTaken`] when the
    /// organisation
    /// already has a point with its external id.
    async fn create(
        &self,
        id: ServicePointId,
        org: (OrgId, &OrgPath),
        draft: &ServicePointDraft,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<ServicePoint, RepoError>;
    /// One point, deleted ones excluded (`NotFound`).
    async fn get(&self, id: ServicePointId) -> Result<ServicePoint, RepoError>;
    /// Replaces every field of a point with `draft`. [`ServicePointConflict::ExternalIdTaken`]
    /// as above.
    async fn update(
        &self,
        id: ServicePointId,
        draft: &ServicePointDraft,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<ServicePoint, RepoError>;
    /// Deletes a point: kept, marked deleted, its visits and reviews on record; its external
    /// id is released, so a new point or a later import may use it.
    async fn delete(
        &self,
        id: ServicePointId,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<(), RepoError>;
    /// Points matching `filter`, deleted ones excluded, ordered by id, keyset-paged by id.
    async fn search(
        &self,
        filter: &ServicePointFilter,
        page: &PageRequest,
    ) -> Result<Page<ServicePoint>, RepoError>;
    /// Stores the drafts of one import under `org` in one transaction: a draft whose external
    /// id the organisation already has updates that point (or leaves it when nothing
    /// differs), any other creates one. All or nothing.
    async fn import(
        &self,
        org: (OrgId, &OrgPath),
        drafts: &[ServicePointDraft],
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<ImportOutcome, RepoError>;
    /// What [`import`](Self::import) of `drafts` under `org` would do now — the counts of a
    /// dry run — writing nothing. [`ServicePointConflict::ExternalIdTaken`] as `import`.
    async fn preview_import(
        &self,
        org: OrgId,
        drafts: &[ServicePointDraft],
    ) -> Result<ImportOutcome, RepoError>;
}

/// The catalogue's change feed: what the nearest-point index of every process follows.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Points written after the change `(revision, after_id)` in change order — revision,
    /// then id — deleted ones included, at most `limit`. Every write takes the next value of
    /// the change counter under one lock and its rows commit together, so counter order is
    /// commit order: a reader that resumes from the revision and id of the last point it got
    /// misses nothing, however a page cuts through the rows of one write. `after_id` `None`
    /// starts after every point of `revision`.
    async fn changes_since(
        &self,
        revision: i64,
        after_id: Option<ServicePointId>,
        limit: u32,
    ) -> Result<Vec<ServicePoint>, RepoError>;
    /// The change counter's current value.
    async fn revision(&self) -> Result<i64, RepoError>;
}

/// Workers' check-ins at service points.
#[async_trait]
pub trait VisitRepository: Send + Sync {
    /// Records a visit; `false` when the worker already checked in there that day (the first
    /// visit stands; nothing changes).
    async fn record_visit(&self, visit: &Visit) -> Result<bool, RepoError>;
    /// Visits per point and day in `[from, to]` for points owned in `scope`, optionally one
    /// point, by date then point.
    async fn visit_counts(
        &self,
        scope: &OrgPath,
        point: Option<ServicePointId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VisitCount>, RepoError>;
}

/// Workers' reviews of service points and their moderation.
#[async_trait]
pub trait ReviewRepository: Send + Sync {
    /// Stores the worker's review of a point, replacing their earlier one; returns it as
    /// stored. [`ServicePointConflict::NotVisited`] when the worker never checked in there.
    async fn save_review(&self, review: &Review, change: &Change) -> Result<Review, RepoError>;
    /// Reviews of a point, newest first, keyset-paged by update time and id; only those in
    /// `moderation` when given.
    async fn reviews(
        &self,
        point: ServicePointId,
        moderation: Option<Moderation>,
        page: &PageRequest,
    ) -> Result<Page<Review>, RepoError>;
    /// One review.
    async fn review(&self, id: ReviewId) -> Result<Review, RepoError>;
    /// An official's decision on a held review: `Shown` or `Refused`.
    async fn moderate_review(
        &self,
        id: ReviewId,
        moderation: Moderation,
        now: DateTime<Utc>,
        change: &Change,
    ) -> Result<Review, RepoError>;
}

/// Everything the service points keep, as one handle for the API's state: each part is its
/// own port.
pub trait ServicePointRepository:
    CatalogueRepository + ChangeFeed + VisitRepository + ReviewRepository
{
}

impl<T> ServicePointRepository for T where
    T: CatalogueRepository + ChangeFeed + VisitRepository + ReviewRepository
{
}

/// A nearest-point question (`GET /api/v1/service-points/nearby`).
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyQuery {
    /// Where the worker is, GCJ-02.
    pub from: GeoPoint,
    /// Farthest distance, metres (the API allows up to 50 km).
    pub radius_m: f64,
    /// Only this kind.
    pub kind: Option<ServicePointKind>,
    /// Only points offering every one of these.
    pub amenities: Vec<Amenity>,
    /// Only points open at the moment asked.
    pub open_now: bool,
    /// At most this many (the API allows up to 100).
    pub limit: usize,
}

/// One answer to a [`NearbyQuery`]: what the list and `wx.openLocation` need.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyHit {
    /// The point.
    pub id: ServicePointId,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ServicePointKind,
    /// Address.
    pub address: String,
    /// Phone, if any.
    pub phone: Option<String>,
    /// GCJ-02 point.
    pub point: GeoPoint,
    /// Amenities.
    pub amenities: Vec<Amenity>,
    /// Status (closed points are never answered).
    pub status: ServicePointStatus,
    /// Great-circle distance from the question's point, metres.
    pub distance_m: f64,
    /// Open at the moment asked; `None` when its hours are unknown.
    pub open_now: Option<bool>,
    /// The day's hours at the moment asked ([`Schedule::intervals_on`]); `None` when unknown.
    pub hours_today: Option<Vec<Interval>>,
    /// While open: when it closes, minutes since 00:00 ([`Schedule::closes_at`]).
    pub closes_at: Option<u16>,
    /// The point may lie in the wrong place.
    pub suspect_coordinates: bool,
}

/// The nearest-point index: every point not closed or deleted, in memory, answering in
/// microseconds. It follows the database through [`ServicePointRepository::changes_since`],
/// so several API processes on one database agree within their sync interval.
#[async_trait]
pub trait NearbyIndex: Send + Sync {
    /// The points within `query.radius_m` of `query.from` that pass its filters, nearest
    /// first, at most `query.limit`; `open_now` is evaluated at `at` (China Standard Time)
    /// with `calendar`.
    fn nearby(
        &self,
        query: &NearbyQuery,
        at: NaiveDateTime,
        calendar: &WorkingCalendar,
    ) -> Vec<NearbyHit>;
    /// Applies every change written since the last sync; returns how many points changed.
    async fn sync(&self) -> Result<usize, RepoError>;
    /// How many points the index holds.
    fn len(&self) -> usize;
    /// Whether the index holds no point.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
