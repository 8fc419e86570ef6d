//! The service point record (服务阵地) and the one validation every way of writing it goes
//! through: the officials' form (JSON), the spreadsheet import and the command line.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::geo::GeoPoint;
use super::hours::{DatedException, OpeningHours, Schedule};
use super::kind::{Amenity, ServicePointKind};
use crate::org::{OrgId, OrgPath};
pub use crate::problem::FieldProblem;
use crate::problem::{present, text};
use crate::text::as_typed;

crate::uuid_id!(
    /// Identifier of a service point.
    ServicePointId
);

/// Longest name, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// Longest address, in characters.
pub const ADDRESS_MAX_CHARS: usize = 200;
/// Longest province, city or district name, in characters.
pub const REGION_MAX_CHARS: usize = 40;
/// Longest opening-hours text, in characters.
pub const HOURS_MAX_CHARS: usize = 200;
/// Longest phone text (digits, `-`, spaces, `+`, `转`), in characters.
pub const PHONE_MAX_CHARS: usize = 40;
/// Longest external id, in characters.
pub const EXTERNAL_ID_MAX_CHARS: usize = 64;
/// Longest data-quality note, in characters.
pub const QUALITY_NOTE_MAX_CHARS: usize = 300;
/// Most dated exceptions a point keeps.
pub const EXCEPTIONS_MAX: usize = 60;

/// Whether a point is running (issue #4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServicePointStatus {
    /// Running; its opening hours apply.
    Open,
    /// Closed for now (repairs, staff); shown, never open.
    TemporarilyClosed,
    /// Closed for good; not shown to workers.
    Closed,
}

impl ServicePointStatus {
    /// Every status.
    pub const ALL: [ServicePointStatus; 3] = [Self::Open, Self::TemporarilyClosed, Self::Closed];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::TemporarilyClosed => "temporarily_closed",
            Self::Closed => "closed",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            ServicePointStatus::Open => "开放",
            ServicePointStatus::TemporarilyClosed => "暂停开放",
            ServicePointStatus::Closed => "已关闭",
        }
    }

    /// Parses the stored form, or the Chinese labels officials type (`开放`, `暂停开放`,
    /// `关闭`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|k| k.as_str() == s).or(match s {
            "开放" | "正常" | "运营" | "运营中" => Some(Self::Open),
            "暂停" | "暂停开放" | "临时关闭" => Some(Self::TemporarilyClosed),
            "关闭" | "已关闭" | "停用" => Some(Self::Closed),
            _ => None,
        })
    }
}

/// A data-quality flag an official should look at (issue #4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityFlag {
    /// The point may lie in the wrong place (the 郑州 file's `SUSPECT` rows).
    SuspectCoordinates,
}

impl QualityFlag {
    /// Every flag.
    pub const ALL: [QualityFlag; 1] = [QualityFlag::SuspectCoordinates];

    /// What an official and a worker read.
    pub fn zh(self) -> &'static str {
        match self {
            Self::SuspectCoordinates => "位置待核实",
        }
    }

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SuspectCoordinates => "suspect_coordinates",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        (s == "suspect_coordinates").then_some(Self::SuspectCoordinates)
    }
}

/// What an official writes about a point, validated: the fields of a create, of a full
/// update and of one import row.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePointDraft {
    /// Name, 1–100 characters.
    pub name: String,
    /// Kind.
    pub kind: ServicePointKind,
    /// Street address, 1–200 characters.
    pub address: String,
    /// 省, if given.
    pub province: Option<String>,
    /// 市, if given.
    pub city: Option<String>,
    /// 区/县, if given.
    pub district: Option<String>,
    /// The GCJ-02 point.
    pub point: GeoPoint,
    /// Opening hours: the text as written, what it says, dated exceptions.
    pub schedule: Schedule,
    /// What it offers, each once, in vocabulary order.
    pub amenities: Vec<Amenity>,
    /// Phone, as written.
    pub phone: Option<String>,
    /// Running or not.
    pub status: ServicePointStatus,
    /// Star grade 1–5; recuperation bases only.
    pub star_grade: Option<u8>,
    /// Data-quality flag.
    pub quality_flag: Option<QualityFlag>,
    /// Why it is flagged, as the source said it.
    pub quality_note: Option<String>,
    /// The id the point has in the file it was imported from; unique per organisation.
    pub external_id: Option<String>,
}

/// A stored service point.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePoint {
    /// Its id.
    pub id: ServicePointId,
    /// Owning organisation (data scope).
    pub org_id: OrgId,
    /// Its path, for scope checks.
    pub org_path: OrgPath,
    /// What the official wrote.
    pub draft: ServicePointDraft,
    /// Average of the shown ratings (1–5), if any.
    pub rating_average: Option<f64>,
    /// How many ratings are shown.
    pub rating_count: u32,
    /// The change counter value of its last write (see
    /// [`super::store::ServicePointRepository::changes_since`]).
    pub revision: i64,
    /// When it was deleted, if it was (kept so every process's index learns of it).
    pub deleted_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A dated exception as written: a date and an hours text (`09:00-12:00`, or `关闭` / `closed`
/// for a day without opening).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionInput {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The day's intervals, or `closed` / `关闭`.
    pub hours: String,
}

/// What arrives from a form or a file row, before validation. Texts are as typed; blank
/// texts count as absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DraftInput {
    /// Name.
    pub name: Option<String>,
    /// Kind: a code (`driver_home`), a Chinese label or a category word (`爱心驿站`).
    pub kind: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// 省.
    pub province: Option<String>,
    /// 市.
    pub city: Option<String>,
    /// 区/县.
    pub district: Option<String>,
    /// Latitude, GCJ-02 degrees.
    pub lat: Option<f64>,
    /// Longitude, GCJ-02 degrees.
    pub lng: Option<f64>,
    /// Opening-hours text.
    pub hours: Option<String>,
    /// Dated exceptions.
    pub exceptions: Vec<ExceptionInput>,
    /// Amenities: codes, the 郑州 short codes or Chinese labels.
    pub amenities: Vec<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Status (default `open`).
    pub status: Option<String>,
    /// Star grade.
    pub star_grade: Option<i64>,
    /// A data-quality text; one starting with `SUSPECT` or `可疑` flags the coordinates.
    pub quality_note: Option<String>,
    /// External id.
    pub external_id: Option<String>,
}

fn exception(input: &ExceptionInput) -> Option<DatedException> {
    let date = NaiveDate::parse_from_str(as_typed(&input.date).trim(), "%Y-%m-%d").ok()?;
    let hours = input.hours.trim();
    if matches!(hours, "closed" | "关闭" | "闭馆" | "休息" | "不开放") {
        return Some(DatedException {
            date,
            intervals: Vec::new(),
        });
    }
    match OpeningHours::parse(hours) {
        OpeningHours::AlwaysOpen => Some(DatedException {
            date,
            intervals: vec![super::hours::Interval {
                start: 0,
                end: 24 * 60,
            }],
        }),
        OpeningHours::Weekly { rules } => match rules.as_slice() {
            [rule] if rule.days == super::hours::Days::Weekdays([true; 7]) => {
                Some(DatedException {
                    date,
                    intervals: rule.intervals.clone(),
                })
            }
            _ => None,
        },
        OpeningHours::Unknown => None,
    }
}

impl DraftInput {
    /// Validates every field and reports every problem at once. Rules: name and address
    /// required; kind required and known; `lat`/`lng` required and in range; amenities
    /// known (repeats dropped); status known (default `open`); star grade 1–5 and only for
    /// recuperation bases; exceptions well-formed, at most [`EXCEPTIONS_MAX`]; hours text kept
    /// even when it cannot be read (the hours are then unknown, issue #4).
    pub fn validate(self) -> Result<ServicePointDraft, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let p = &mut problems;
        let name = text(p, "name", self.name, NAME_MAX_CHARS, true);
        let address = text(p, "address", self.address, ADDRESS_MAX_CHARS, true);
        let province = text(p, "province", self.province, REGION_MAX_CHARS, false);
        let city = text(p, "city", self.city, REGION_MAX_CHARS, false);
        let district = text(p, "district", self.district, REGION_MAX_CHARS, false);
        let phone = text(
            p,
            "phone",
            self.phone.map(|v| as_typed(&v)),
            PHONE_MAX_CHARS,
            false,
        );
        let hours_text = text(p, "hours", self.hours, HOURS_MAX_CHARS, false);
        let quality_note = text(
            p,
            "quality_note",
            self.quality_note,
            QUALITY_NOTE_MAX_CHARS,
            false,
        );
        let external_id = text(
            p,
            "external_id",
            self.external_id,
            EXTERNAL_ID_MAX_CHARS,
            false,
        );
        let kind = kind_of(p, self.kind);
        let point = point_of(p, self.lat, self.lng);
        let amenities = amenities_of(p, &self.amenities);
        let status = status_of(p, self.status);
        let star_grade = star_grade_of(p, self.star_grade, kind);
        let exceptions = exceptions_of(p, &self.exceptions);
        let quality_flag = quality_note.as_deref().and_then(|note| {
            let upper = note.to_uppercase();
            (upper.starts_with("SUSPECT") || note.starts_with("可疑"))
                .then_some(QualityFlag::SuspectCoordinates)
        });
        match (name, address, kind, point, status) {
            (Some(name), Some(address), Some(kind), Some(point), Some(status))
                if problems.is_empty() =>
            {
                let mut schedule = Schedule::from_text(hours_text.as_deref().unwrap_or(""));
                schedule.exceptions = exceptions;
                Ok(ServicePointDraft {
                    name,
                    kind,
                    address,
                    province,
                    city,
                    district,
                    point,
                    schedule,
                    amenities,
                    phone,
                    status,
                    star_grade,
                    quality_flag,
                    quality_note,
                    external_id,
                })
            }
            _ => Err(problems),
        }
    }
}

/// The kind: a code, or a category name an import file uses.
fn kind_of(p: &mut Vec<FieldProblem>, kind: Option<String>) -> Option<ServicePointKind> {
    let all_kinds = ServicePointKind::ALL.map(ServicePointKind::as_str);
    match present(kind) {
        None => {
            p.push(FieldProblem::new(
                "kind",
                "required",
                "请选择类别",
                "kind is required",
            ));
            None
        }
        Some(k) => {
            let found = ServicePointKind::parse(&k).or_else(|| ServicePointKind::from_category(&k));
            if found.is_none() {
                p.push(FieldProblem::not_one_of("kind", &k, &all_kinds));
            }
            found
        }
    }
}

/// The point: both coordinates required, each in range (GCJ-02); a missing one is reported
/// and the other still checked.
fn point_of(p: &mut Vec<FieldProblem>, lat: Option<f64>, lng: Option<f64>) -> Option<GeoPoint> {
    for (field, value) in [("lat", lat), ("lng", lng)] {
        if value.is_none() {
            p.push(FieldProblem::new(
                field,
                "required",
                format!("请填写{}（GCJ-02 坐标）", crate::problem::label(field)),
                format!("{field} is required (GCJ-02)"),
            ));
        }
    }
    // A missing coordinate is reported above; the other is still checked.
    match GeoPoint::check(lat.unwrap_or(0.0), lng.unwrap_or(0.0)) {
        Ok(point) => lat.and(lng).map(|_| point),
        Err(errors) => {
            for e in errors {
                p.push(FieldProblem::new(
                    e.field(),
                    "out_of_range",
                    e.zh(),
                    e.to_string(),
                ));
            }
            None
        }
    }
}

/// The amenities: known codes (or import names), each once, in the catalogue's order.
fn amenities_of(p: &mut Vec<FieldProblem>, given: &[String]) -> Vec<Amenity> {
    let mut amenities = Vec::new();
    for code in given.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        match Amenity::from_import(code) {
            Some(a) if !amenities.contains(&a) => amenities.push(a),
            Some(_) => {}
            None => p.push(FieldProblem::not_one_of(
                "amenities",
                code,
                &Amenity::ALL.map(Amenity::as_str),
            )),
        }
    }
    amenities.sort_by_key(|a| Amenity::ALL.iter().position(|b| b == a));
    amenities
}

/// The status, `open` when not given.
fn status_of(p: &mut Vec<FieldProblem>, status: Option<String>) -> Option<ServicePointStatus> {
    match present(status) {
        None => Some(ServicePointStatus::Open),
        Some(s) => {
            let found = ServicePointStatus::parse(&s);
            if found.is_none() {
                p.push(FieldProblem::not_one_of(
                    "status",
                    &s,
                    &ServicePointStatus::ALL.map(ServicePointStatus::as_str),
                ));
            }
            found
        }
    }
}

/// The star grade, 1–5, of a recuperation base only.
fn star_grade_of(
    p: &mut Vec<FieldProblem>,
    grade: Option<i64>,
    kind: Option<ServicePointKind>,
) -> Option<u8> {
    match grade {
        None => None,
        Some(g) if !(1..=5).contains(&g) => {
            p.push(FieldProblem::new(
                "star_grade",
                "out_of_range",
                "星级须为 1 到 5",
                "star_grade must be 1 to 5",
            ));
            None
        }
        Some(_) if kind.is_some_and(|k| k != ServicePointKind::RecuperationBase) => {
            p.push(FieldProblem::new(
                "star_grade",
                "not_allowed",
                "只有疗休养基地评定星级",
                "only recuperation bases have a star grade",
            ));
            None
        }
        Some(g) => u8::try_from(g).ok(),
    }
}

/// The dated exceptions to the weekly hours: at most [`EXCEPTIONS_MAX`], each date once, by
/// date.
fn exceptions_of(p: &mut Vec<FieldProblem>, given: &[ExceptionInput]) -> Vec<DatedException> {
    let mut exceptions = Vec::new();
    if given.len() > EXCEPTIONS_MAX {
        p.push(FieldProblem::new(
            "exceptions",
            "too_long",
            format!("特殊开放时间最多 {EXCEPTIONS_MAX} 条"),
            format!("at most {EXCEPTIONS_MAX} exceptions"),
        ));
    }
    for input in given {
        match exception(input) {
            Some(e) if exceptions.iter().any(|x: &DatedException| x.date == e.date) => {
                p.push(FieldProblem::new(
                    "exceptions",
                    "invalid",
                    format!("特殊开放时间中 {} 出现了两次", e.date),
                    format!("{} appears twice in exceptions", e.date),
                ));
            }
            Some(e) => exceptions.push(e),
            None => p.push(FieldProblem::new(
                "exceptions",
                "invalid",
                format!(
                    "特殊开放时间「{} {}」无法识别：日期写作 2026-10-01，时间写作 09:00-17:00 或「关闭」",
                    input.date, input.hours
                ),
                format!(
                    "exception `{} {}` is not a YYYY-MM-DD date with HH:MM-HH:MM intervals or `closed`",
                    input.date, input.hours
                ),
            )),
        }
    }
    exceptions.sort_by_key(|e| e.date);
    exceptions
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn station() -> DraftInput {
        DraftInput {
            name: Some("郑州东站爱心驿站".into()),
            kind: Some("爱心驿站".into()),
            address: Some("郑州市金水区".into()),
            lat: Some(34.7571),
            lng: Some(113.7783),
            amenities: vec!["drink".into(), "饮水".into(), "charging".into()],
            hours: Some("24小时".into()),
            ..DraftInput::default()
        }
    }

    #[test]
    fn a_station_from_the_zhengzhou_file_validates() {
        let draft = station().validate().unwrap();
        assert_eq!(draft.kind, ServicePointKind::OutdoorWorkerStation);
        assert_eq!(
            draft.amenities,
            vec![Amenity::DrinkingWater, Amenity::Charging]
        );
        assert_eq!(draft.schedule.hours, OpeningHours::AlwaysOpen);
        assert_eq!(draft.status, ServicePointStatus::Open);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let input = DraftInput {
            name: Some("  ".into()),
            kind: Some("spa".into()),
            lat: Some(95.0),
            lng: Some(113.0),
            amenities: vec!["jacuzzi".into()],
            star_grade: Some(3),
            ..DraftInput::default()
        };
        let problems = input.validate().unwrap_err();
        let fields: Vec<_> = problems
            .iter()
            .map(|p| (p.field.as_str(), p.code))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("name", "required"),
                ("address", "required"),
                ("kind", "not_allowed"),
                ("lat", "out_of_range"),
                ("amenities", "not_allowed"),
            ]
        );
    }

    #[test]
    fn star_grades_belong_to_recuperation_bases() {
        let mut input = station();
        input.star_grade = Some(4);
        assert_eq!(input.clone().validate().unwrap_err()[0].field, "star_grade");
        input.kind = Some("recuperation_base".into());
        assert_eq!(input.validate().unwrap().star_grade, Some(4));
    }

    #[test]
    fn suspect_rows_are_flagged_and_keep_their_note() {
        let mut input = station();
        input.quality_note = Some("SUSPECT: geocode lands in central Zhengzhou".into());
        let draft = input.validate().unwrap();
        assert_eq!(draft.quality_flag, Some(QualityFlag::SuspectCoordinates));
        let mut input = station();
        input.quality_note = Some("poi".into());
        assert_eq!(input.validate().unwrap().quality_flag, None);
    }

    #[test]
    fn exceptions_replace_the_day_and_closed_days_have_no_interval() {
        let mut input = station();
        input.exceptions = vec![
            ExceptionInput {
                date: "2026-10-01".into(),
                hours: "关闭".into(),
            },
            ExceptionInput {
                date: "2026-10-02".into(),
                hours: "09:00-12:00".into(),
            },
        ];
        let draft = input.validate().unwrap();
        assert!(draft.schedule.exceptions[0].intervals.is_empty());
        assert_eq!(draft.schedule.exceptions[1].intervals.len(), 1);
        let mut bad = station();
        bad.exceptions = vec![ExceptionInput {
            date: "国庆".into(),
            hours: "关闭".into(),
        }];
        assert_eq!(bad.validate().unwrap_err()[0].field, "exceptions");
    }
}
