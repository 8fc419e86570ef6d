//! Service points (服务阵地), the workers' side: the nearest points from where the worker
//! stands, the map viewport and text search, one point's details — none needs a login, all are
//! limited per client address ([`crate::rate_limit`]) — and, logged in, checking in
//! ([`visits`]) and rating ([`reviews`]). Coordinates are GCJ-02, what
//! `wx.getLocation({type: 'gcj02'})` gives and `wx.openLocation` takes.

pub mod admin;
pub mod reviews;
pub mod visits;

use actix_web::{get, web};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use yiwang_domain::calendar::china_time;
use yiwang_domain::clock;
use yiwang_domain::service_point::hours::{DatedException, Interval};
use yiwang_domain::service_point::store::{
    BoundingBox, NearbyHit, NearbyQuery, ServicePointFilter,
};
use yiwang_domain::service_point::{
    Amenity, GeoPoint, OpeningHours, QualityFlag, ServicePoint, ServicePointId, ServicePointKind,
    ServicePointStatus,
};

use crate::error::{ApiError, Problem};
use crate::rate_limit::Lookup;
use crate::routes::shared::responses::MalformedQuery;
use crate::routes::shared::Query;
use crate::routes::shared::{optional_text, PageQuery, Paged};
use crate::state::AppState;
use yiwang_domain::problem::{finish, FieldProblem};

/// Farthest `radius_m` a nearby lookup takes, metres.
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// Most points a nearby lookup answers.
pub const MAX_NEARBY: usize = 100;

/// An amenity with its label.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmenityView {
    /// Code, e.g. `drinking_water`.
    pub code: &'static str,
    /// Label, e.g. 饮用水.
    pub label: &'static str,
}

fn amenity_views(amenities: &[Amenity]) -> Vec<AmenityView> {
    amenities
        .iter()
        .map(|a| AmenityView {
            code: a.as_str(),
            label: a.zh(),
        })
        .collect()
}

/// Coordinates to six decimals (about 0.1 m), as maps write them.
fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// One of the nearest points: what the list shows and what `wx.openLocation` needs (`lat` →
/// `latitude`, `lng` → `longitude`, `name`, `address`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind code.
    #[schema(value_type = crate::routes::vocabularies::ServicePointKind)]
    pub kind: &'static str,
    /// Kind label, e.g. 户外劳动者服务站点.
    pub kind_label: &'static str,
    /// Address.
    pub address: String,
    /// Phone, if published.
    pub phone: Option<String>,
    /// Latitude, GCJ-02 degrees.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    /// Longitude, GCJ-02 degrees.
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub lng: f64,
    /// Amenities.
    pub amenities: Vec<AmenityView>,
    /// `open` or `temporarily_closed`.
    #[schema(value_type = crate::routes::vocabularies::ServicePointStatus)]
    pub status: &'static str,
    /// Great-circle distance from the asked point, whole metres.
    pub distance_m: u32,
    /// Open at the time of the answer (Asia/Shanghai); `null` when its hours are unknown.
    pub open_now: Option<bool>,
    /// Today's hours (Asia/Shanghai), `HH:MM-HH:MM` joined by `,` (`00:00-24:00`: all day);
    /// empty when it does not open today or is temporarily closed; `null` when its hours are
    /// unknown.
    pub hours_today: Option<String>,
    /// While open: when it closes, `HH:MM` (past midnight for hours that run overnight), so a
    /// worker is not sent to a station about to close; `null` when closed, unknown or open all
    /// day.
    pub closes_at: Option<String>,
    /// `suspect_coordinates` when the point may be in the wrong place: the app says so
    /// before sending a worker there.
    #[schema(value_type = Option<crate::routes::vocabularies::QualityFlag>)]
    pub quality_flag: Option<&'static str>,
}

impl From<NearbyHit> for NearbyView {
    fn from(hit: NearbyHit) -> Self {
        Self {
            id: hit.id.to_string(),
            name: hit.name,
            kind: hit.kind.as_str(),
            kind_label: hit.kind.zh(),
            address: hit.address,
            phone: hit.phone,
            lat: round6(hit.point.lat),
            lng: round6(hit.point.lng),
            amenities: amenity_views(&hit.amenities),
            status: hit.status.as_str(),
            distance_m: hit.distance_m.round().clamp(0.0, f64::from(u32::MAX)) as u32,
            open_now: hit.open_now,
            hours_today: hit.hours_today.map(|today| intervals_text(&today)),
            closes_at: hit.closes_at.map(hhmm),
            quality_flag: hit
                .suspect_coordinates
                .then_some(QualityFlag::SuspectCoordinates.as_str()),
        }
    }
}

/// The nearest points, nearest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyAnswer {
    /// The points.
    pub items: Vec<NearbyView>,
    /// The moment `open_now` was evaluated for, Asia/Shanghai (`+08:00`).
    pub evaluated_at: DateTime<FixedOffset>,
}

/// Parameters of a nearby lookup.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearbyParams {
    /// Latitude, GCJ-02, −90 to 90.
    #[param(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    /// Longitude, GCJ-02, −180 to 180.
    #[param(minimum = -180.0, maximum = 180.0)]
    pub lng: f64,
    /// Farthest distance in metres, 1–50,000 (default 5,000).
    #[param(minimum = 1, maximum = 50000)]
    pub radius_m: Option<f64>,
    /// Only this kind (`outdoor_worker_station`, `driver_home`, …).
    #[param(value_type = Option<crate::routes::vocabularies::ServicePointKind>)]
    pub kind: Option<String>,
    /// Only points with all of these amenities, comma-separated codes
    /// (`drinking_water,charging`).
    #[param(value_type = Option<Vec<crate::routes::vocabularies::Amenity>>, style = Form, explode = false)]
    pub amenity: Option<String>,
    /// Only points open now (Asia/Shanghai); points with unknown hours are left out.
    pub open_now: Option<bool>,
    /// How many, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A GCJ-02 point from a request's `lat` and `lng`; each coordinate out of range is noted in
/// `errors` (422 `out_of_range` naming it) and the answer is `None`.
pub fn check_point(errors: &mut Vec<FieldProblem>, lat: f64, lng: f64) -> Option<GeoPoint> {
    GeoPoint::check(lat, lng)
        .map_err(|bad| {
            for e in bad {
                errors.push(FieldProblem::new(
                    e.field(),
                    "out_of_range",
                    e.zh(),
                    e.to_string(),
                ));
            }
        })
        .ok()
}

/// For a [`check_point`] that answered `None` yet noted nothing: cannot happen, answers 500.
pub fn checked_without_error() -> ApiError {
    ApiError::internal(&std::io::Error::other(
        "a point was refused without a reason",
    ))
}

/// A kind given as a filter: one of the codes, else (an empty `kind=` too) 422 listing them.
pub fn kind_filter(errors: &mut Vec<FieldProblem>, kind: Option<&str>) -> Option<ServicePointKind> {
    let kind = kind.map(str::trim)?;
    let found = ServicePointKind::parse(kind);
    if found.is_none() {
        let allowed = ServicePointKind::ALL.map(ServicePointKind::as_str);
        errors.push(FieldProblem::not_one_of("kind", kind, &allowed));
    }
    found
}

impl NearbyParams {
    fn query(&self) -> Result<NearbyQuery, ApiError> {
        let mut errors: Vec<FieldProblem> = Vec::new();
        let from = check_point(&mut errors, self.lat, self.lng);
        let radius_m = self.radius_m.unwrap_or(5_000.0);
        if !(1.0..=MAX_RADIUS_M).contains(&radius_m) {
            errors.push(FieldProblem::new(
                "radius_m",
                "out_of_range",
                "搜索半径须在 1 到 50000 米之间",
                "radius_m must be between 1 and 50,000 metres",
            ));
        }
        let limit = self.limit.unwrap_or(20) as usize;
        if !(1..=MAX_NEARBY).contains(&limit) {
            errors.push(FieldProblem::new(
                "limit",
                "out_of_range",
                "每页条数须在 1 到 100 之间",
                "limit must be between 1 and 100",
            ));
        }
        let kind = kind_filter(&mut errors, self.kind.as_deref());
        let mut amenities = Vec::new();
        for code in self
            .amenity
            .iter()
            .flat_map(|a| a.split(','))
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match Amenity::parse(code) {
                Some(a) => amenities.push(a),
                None => {
                    let names = Amenity::ALL.map(Amenity::as_str).join(", ");
                    errors.push(FieldProblem::new(
                        "amenity",
                        "not_allowed",
                        format!("设施「{code}」不在可选范围内，请重新选择"),
                        format!("amenity `{code}` is not one of: {names}"),
                    ));
                }
            }
        }
        finish(errors)?;
        Ok(NearbyQuery {
            from: from.ok_or_else(checked_without_error)?,
            radius_m,
            kind,
            amenities,
            open_now: self.open_now.unwrap_or(false),
            limit,
        })
    }
}

/// Asia/Shanghai, for the times answers show.
pub fn shanghai(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(8 * 3600)
        .map_or_else(|| at.fixed_offset(), |offset| at.with_timezone(&offset))
}

/// The nearest service points, nearest first, with their distance and whether each is open
/// now. Answered from memory; no login; limited per client address.
#[utoipa::path(get, tag = "service points",
    params(NearbyParams),
    responses(
        (status = 200, description = "The nearest points, nearest first", body = NearbyAnswer),
        (status = 400, description = "A parameter is not a number or boolean", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A coordinate out of range, radius over 50 km, limit over 100, unknown kind or amenity (the allowed values are listed)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many lookups from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/service-points/nearby")]
pub async fn nearby(
    state: web::Data<AppState>,
    _limit: Lookup,
    params: Query<NearbyParams>,
) -> Result<web::Json<NearbyAnswer>, ApiError> {
    let query = params.query()?;
    let now = clock::now();
    let hits = state
        .nearby
        .nearby(&query, china_time(now), &state.calendar);
    Ok(web::Json(NearbyAnswer {
        items: hits.into_iter().map(NearbyView::from).collect(),
        evaluated_at: shanghai(now),
    }))
}

/// A dated exception as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExceptionView {
    /// The day, `YYYY-MM-DD`.
    pub date: NaiveDate,
    /// Its hours, `HH:MM-HH:MM` joined by `,`; empty when closed all day.
    pub hours: String,
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Intervals as `HH:MM-HH:MM` joined by `,`.
fn intervals_text(intervals: &[Interval]) -> String {
    intervals
        .iter()
        .map(|i| format!("{}-{}", hhmm(i.start), hhmm(i.end)))
        .collect::<Vec<_>>()
        .join(",")
}

impl From<&DatedException> for ExceptionView {
    fn from(e: &DatedException) -> Self {
        Self {
            date: e.date,
            hours: intervals_text(&e.intervals),
        }
    }
}

/// Opening hours as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoursView {
    /// The text as the official wrote it (`08:00-20:00`, `周一至周五 08:30-12:00,13:00-17:30`).
    pub text: String,
    /// `always_open`, `weekly`, or `unknown` when the text could not be read (never guessed).
    pub kind: &'static str,
    /// Days with other hours than usual.
    pub exceptions: Vec<ExceptionView>,
}

/// A service point in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServicePointView {
    /// Id.
    pub id: String,
    /// Owning organisation.
    pub org_id: String,
    /// Name.
    pub name: String,
    /// Kind code.
    #[schema(value_type = crate::routes::vocabularies::ServicePointKind)]
    pub kind: &'static str,
    /// Kind label.
    pub kind_label: &'static str,
    /// Address.
    pub address: String,
    /// 省.
    pub province: Option<String>,
    /// 市.
    pub city: Option<String>,
    /// 区/县.
    pub district: Option<String>,
    /// Latitude, GCJ-02 degrees.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    /// Longitude, GCJ-02 degrees.
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub lng: f64,
    /// Opening hours.
    pub hours: HoursView,
    /// Open now (Asia/Shanghai); `null` when the hours are unknown.
    pub open_now: Option<bool>,
    /// Amenities.
    pub amenities: Vec<AmenityView>,
    /// Phone.
    pub phone: Option<String>,
    /// `open`, `temporarily_closed` or `closed`.
    #[schema(value_type = crate::routes::vocabularies::ServicePointStatus)]
    pub status: &'static str,
    /// Star grade 1–5 (recuperation bases).
    pub star_grade: Option<u8>,
    /// Average of the shown ratings, one decimal.
    pub rating_average: Option<f64>,
    /// Number of shown ratings.
    pub rating_count: u32,
    /// `suspect_coordinates` when the point may be in the wrong place.
    #[schema(value_type = Option<crate::routes::vocabularies::QualityFlag>)]
    pub quality_flag: Option<&'static str>,
    /// Why it is flagged (officials only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_note: Option<String>,
    /// Id in the file it was imported from (officials only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl ServicePointView {
    /// The view of `point` at `now`; `for_official` adds the import and quality notes.
    pub fn new(point: ServicePoint, state: &AppState, for_official: bool) -> Self {
        let d = point.draft;
        let open_now = match d.status {
            ServicePointStatus::Open => d
                .schedule
                .is_open_at(china_time(clock::now()), &state.calendar),
            _ => Some(false),
        };
        Self {
            id: point.id.to_string(),
            org_id: point.org_id.to_string(),
            kind: d.kind.as_str(),
            kind_label: d.kind.zh(),
            name: d.name,
            address: d.address,
            province: d.province,
            city: d.city,
            district: d.district,
            lat: round6(d.point.lat),
            lng: round6(d.point.lng),
            hours: HoursView {
                kind: match d.schedule.hours {
                    OpeningHours::AlwaysOpen => "always_open",
                    OpeningHours::Weekly { .. } => "weekly",
                    OpeningHours::Unknown => "unknown",
                },
                exceptions: d
                    .schedule
                    .exceptions
                    .iter()
                    .map(ExceptionView::from)
                    .collect(),
                text: d.schedule.text,
            },
            open_now,
            amenities: amenity_views(&d.amenities),
            phone: d.phone,
            status: d.status.as_str(),
            star_grade: d.star_grade,
            rating_average: point.rating_average.map(|a| (a * 10.0).round() / 10.0),
            rating_count: point.rating_count,
            quality_flag: d.quality_flag.map(|f| f.as_str()),
            quality_note: d.quality_note.filter(|_| for_official),
            external_id: d.external_id.filter(|_| for_official),
            updated_at: point.updated_at,
        }
    }
}

/// `text` as a plain decimal (`-113.62`): digits with an optional sign and fraction, nothing
/// else — what the `bbox` pattern in the contract says.
fn decimal(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    (digits(whole) && digits(fraction))
        .then(|| text.parse().ok())
        .flatten()
}

/// A viewport `min_lng,min_lat,max_lng,max_lat` (RFC 7946 order), GCJ-02, four plain decimals
/// without spaces; an empty `bbox=` is refused as any other unreadable one.
pub fn parse_bbox(errors: &mut Vec<FieldProblem>, bbox: Option<&str>) -> Option<BoundingBox> {
    let text = bbox?;
    let numbers: Vec<f64> = text.split(',').filter_map(decimal).collect();
    let corners = match numbers.as_slice() {
        [w, s, e, n] if s <= n && w <= e => GeoPoint::new(*s, *w)
            .and_then(|sw| GeoPoint::new(*n, *e).map(|ne| (sw, ne)))
            .ok(),
        _ => None,
    };
    if corners.is_none() {
        errors.push(FieldProblem::new(
            "bbox",
            "invalid",
            "地图范围须为 最小经度,最小纬度,最大经度,最大纬度（GCJ-02）",
            "bbox must be min_lng,min_lat,max_lng,max_lat (GCJ-02)",
        ));
    }
    corners.map(|(south_west, north_east)| BoundingBox {
        south_west,
        north_east,
    })
}

/// Filters of the map and search listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Map viewport `min_lng,min_lat,max_lng,max_lat`, GCJ-02 (west ≤ east, south ≤ north).
    #[param(pattern = r"^-?[0-9]+(\.[0-9]+)?(,-?[0-9]+(\.[0-9]+)?){3}$")]
    pub bbox: Option<String>,
    /// Only this kind.
    #[param(value_type = Option<crate::routes::vocabularies::ServicePointKind>)]
    pub kind: Option<String>,
    /// Name or address containing this text (1–50 characters).
    pub q: Option<String>,
}

/// Service points in a map viewport or matching a text, by id, paged (at most 100 a page).
/// Closed points are left out.
#[utoipa::path(get, tag = "service points",
    params(ListParams, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<ServicePointView>),
        (status = 422, description = "Bad bbox, kind, q, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
        MalformedQuery,
    ))]
#[get("/service-points")]
pub async fn list(
    state: web::Data<AppState>,
    _limit: Lookup,
    params: Query<ListParams>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<ServicePointView>>, ApiError> {
    let page = page.request()?;
    let mut errors: Vec<FieldProblem> = Vec::new();
    let bbox = parse_bbox(&mut errors, params.bbox.as_deref());
    let kind = kind_filter(&mut errors, params.kind.as_deref());
    finish(errors)?;
    let filter = ServicePointFilter {
        bbox,
        kind,
        q: optional_text("q", params.q.as_deref(), 50)?,
        ..ServicePointFilter::default()
    };
    let rows = state.service_points.search(&filter, &page).await?;
    Ok(web::Json(Paged::of(rows, |p| {
        ServicePointView::new(p, &state, false)
    })))
}

/// A point that exists and is not deleted, by its id in the path (404 otherwise).
pub async fn find_point(state: &AppState, id: &str) -> Result<ServicePoint, ApiError> {
    let id = ServicePointId::parse(id).ok_or_else(ApiError::not_found)?;
    Ok(state.service_points.get(id).await?)
}

/// One service point in full, with its rating.
#[utoipa::path(get, tag = "service points",
    params(("id" = String, Path, description = "Service point id")),
    responses(
        (status = 200, description = "The point", body = ServicePointView),
        (status = 404, description = "No such point, or closed for good", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/service-points/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    _limit: Lookup,
    id: web::Path<String>,
) -> Result<web::Json<ServicePointView>, ApiError> {
    let point = find_point(&state, &id).await?;
    if point.draft.status == ServicePointStatus::Closed {
        return Err(ApiError::not_found());
    }
    Ok(web::Json(ServicePointView::new(point, &state, false)))
}

/// Registers this feature's routes with their OpenAPI paths, in the order actix matches
/// them (fixed paths before `{id}`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(nearby)
        .service(list)
        .service(show)
        .service(visits::check_in)
        .service(reviews::review)
        .service(reviews::list)
        .service(admin::import::import)
        .service(admin::export::export)
        .service(admin::visits::counts)
        .service(admin::create)
        .service(admin::list)
        .service(admin::show)
        .service(admin::update)
        .service(admin::remove)
        .service(admin::reviews::list)
        .service(admin::reviews::approve)
        .service(admin::reviews::refuse);
}
