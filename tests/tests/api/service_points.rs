//! Service points (服务阵地, issue #4), over HTTP: the real 郑州 file imported as it is (UTF-8
//! and GBK), bad files reported by row and column with nothing imported, XLSX with Chinese
//! headers, export that imports back, the officials' catalogue with scope and roles, the
//! workers' nearest-point lookup (validation, opening hours, rate limit), the map and search
//! listing, two API processes sharing one database, check-ins, ratings with WeChat's content
//! check, and `yiwang import service-points`.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::time::{Duration, Instant};
use yiwang_tests::hostile::with_declared_size;
use yiwang_tests::views::{assert_view, sorted_by};

use calamine::{Data, Reader, Xlsx};
use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use yiwang_api::config::Settings;
use yiwang_api::routes::service_points::admin::import::ImportOptions;
use yiwang_infra::db::schema::{service_point_reviews, service_point_visits};
use yiwang_tests::{assert_problem, both_shapes, token, Shape, TestApp};

use yiwang_tests::world::{
    all_pages, assert_invalid, assert_problem_zh, db, expect, id, is_chinese,
};

both_shapes!(
    a_spreadsheet_declaring_the_whole_grid_is_refused_and_the_server_lives,
    csv_exports_never_start_a_formula_and_import_back,
    real_file_imports_as_it_is_and_answers_the_walkthrough,
    gbk_files_import_and_other_encodings_are_refused,
    bad_rows_are_reported_by_row_and_column_and_nothing_is_imported,
    xlsx_with_chinese_headers_imports,
    export_reads_back_and_imports_unchanged,
    catalogue_crud_with_scope_and_roles,
    nearby_refuses_bad_parameters,
    lookups_are_rate_limited_per_address,
    open_now_follows_hours_exceptions_and_status,
    map_and_search_listing,
    two_processes_share_one_catalogue,
    visits_within_500_m_count_once_a_day,
    reviews_are_checked_moderated_and_averaged,
    the_cli_imports_the_real_file,
    large_files_import_and_oversized_ones_are_refused,
    export_and_reimport_keep_dated_exceptions,
    a_deleted_points_external_id_can_be_used_again,
);

const NEARBY: &str = "/api/v1/service-points/nearby";
const POINTS: &str = "/api/v1/service-points";
const ADMIN: &str = "/api/v1/admin/service-points";
const IMPORT: &str = "/api/v1/admin/service-points/import";
const EXPORT: &str = "/api/v1/admin/service-points/export";
const VISIT_COUNTS: &str = "/api/v1/admin/service-points/visits";

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The 82 stations of 郑州 (GCJ-02), as published (`shared/data/real/README.md`).
const REAL_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/real/zhengzhou_union_stations.csv"
);

/// 郑州东站, where the README walkthrough stands.
const EAST_STATION: (f64, f64) = (34.7571, 113.7783);

/// The rows of the real file whose coordinates are marked `SUSPECT`.
const SUSPECT_IDS: [&str; 4] = ["zz-008", "zz-077", "zz-078", "zz-079"];

/// The export's columns, in order (the import reads them back).
const EXPORT_COLUMNS: [&str; 19] = [
    "external_id",
    "name",
    "kind",
    "address",
    "province",
    "city",
    "district",
    "lng",
    "lat",
    "datum",
    "open_hours",
    "exceptions",
    "amenities",
    "contact_phone",
    "status",
    "star_grade",
    "coord_quality",
    "rating_average",
    "service_point_id",
];

// ---------------------------------------------------------------------------------------------
// helpers

/// An app with 总工会 → { 郑州市总工会, 洛阳市总工会 }, a generous lookup limit and a 100 ms
/// index sync.
struct Sp {
    app: TestApp,
    /// The super_admin of 总工会.
    root: String,
    zz: String,
    ly: String,
}

impl Sp {
    async fn new(shape: Shape) -> Sp {
        Sp::with(shape, |_| {}).await
    }

    async fn with(shape: Shape, tweak: impl FnOnce(&mut Settings)) -> Sp {
        let app = TestApp::spawn_with(shape, |s| {
            s.lookup_rate_per_minute = 100_000;
            s.service_point_sync_ms = 100;
            tweak(s);
        })
        .await;
        let (root, root_org) = app.root_admin().await;
        let zz = app.create_org(&root, &root_org, "郑州市总工会").await;
        let ly = app.create_org(&root, &root_org, "洛阳市总工会").await;
        Sp { app, root, zz, ly }
    }

    /// A logged-in official of `role` in `org`.
    async fn official(&self, username: &str, org: &str, role: &str) -> String {
        self.app
            .create_official(&self.root, username, org, role)
            .await;
        token(&self.app.login_admin(username).await)
    }

    /// A logged-in worker (`user` fresh in the test).
    async fn worker(&self, user: &str) -> String {
        token(&self.app.login_worker(&format!("{user}.1")).await)
    }

    /// Sends a spreadsheet to the import.
    async fn import(&self, tok: &str, query: &str, body: Vec<u8>, content_type: &str) -> Response {
        self.app
            .client
            .post(format!("{}{IMPORT}{query}", self.app.base))
            .header("content-type", content_type)
            .bearer_auth(tok)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Imports a CSV; the answer must be 200.
    async fn import_csv(&self, tok: &str, query: &str, body: Vec<u8>) -> Value {
        expect(
            self.import(tok, query, body, "text/csv").await,
            StatusCode::OK,
        )
        .await
    }

    /// Creates a point; the answer must be 201.
    async fn create(&self, tok: &str, form: &Value) -> Value {
        expect(
            self.app.post(ADMIN, form, Some(tok)).await,
            StatusCode::CREATED,
        )
        .await
    }

    async fn put(&self, tok: &str, point: &str, form: &Value) -> Response {
        self.app
            .request(
                Method::PUT,
                &format!("{ADMIN}/{point}"),
                Some(form),
                Some(tok),
            )
            .await
    }

    async fn delete(&self, tok: &str, point: &str) -> Response {
        self.app
            .request(Method::DELETE, &format!("{ADMIN}/{point}"), None, Some(tok))
            .await
    }

    /// Every point the official sees with `query` (`?…` or empty).
    async fn admin_points(&self, tok: &str, query: &str) -> Vec<Value> {
        all_pages(&self.app, Some(tok), &format!("{ADMIN}{query}"), 100).await
    }

    /// Every point a worker's listing gives with `query` (`?…` or empty).
    async fn worker_points(&self, query: &str) -> Vec<Value> {
        all_pages(&self.app, None, &format!("{POINTS}{query}"), 100).await
    }

    /// The nearby answer for `query` (without the `?`); must be 200.
    async fn nearby(&self, query: &str) -> Value {
        nearby_of(&self.app, query).await
    }

    /// The worker's view of one point; must be 200.
    async fn show(&self, point: &str) -> Value {
        expect(
            self.app.get(&format!("{POINTS}/{point}"), None).await,
            StatusCode::OK,
        )
        .await
    }
}

async fn nearby_of(app: &TestApp, query: &str) -> Value {
    expect(
        app.get(&format!("{NEARBY}?{query}"), None).await,
        StatusCode::OK,
    )
    .await
}

/// Polls `app`'s nearby answer for `query` until `done` holds (5 s at most); returns the items.
async fn wait_for_nearby(
    app: &TestApp,
    query: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = nearby_of(app, query).await;
        let items = answer["items"].as_array().unwrap().clone();
        if done(&items) {
            return items;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 5 s; last answer {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The bytes of the real file.
fn real_file() -> Vec<u8> {
    std::fs::read(REAL_FILE).unwrap_or_else(|e| panic!("cannot read {REAL_FILE}: {e}"))
}

/// The real file's rows by column name.
fn real_rows() -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(Cursor::new(real_file()));
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn strings(items: &[Value], key: &str) -> Vec<String> {
    items
        .iter()
        .map(|v| {
            v[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} of {v}"))
                .to_owned()
        })
        .collect()
}

fn set_of(items: &[Value], key: &str) -> HashSet<String> {
    strings(items, key).into_iter().collect()
}

fn names(items: &[Value]) -> HashSet<String> {
    set_of(items, "name")
}

fn str_set(values: &[&str]) -> HashSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// The amenity codes of a point or nearby item.
fn amenity_codes(point: &Value) -> Vec<String> {
    strings(point["amenities"].as_array().unwrap(), "code")
}

/// The `(field, code)` pairs of a problem's `errors`.
fn error_fields(problem: &Value) -> HashSet<(String, String)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> HashSet<(String, String)> {
    expected
        .iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect()
}

/// Great-circle distance in metres (the Earth's mean radius).
fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let dp = p2 - p1;
    let dl = (b.1 - a.1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

fn lat_lng(v: &Value) -> (f64, f64) {
    (v["lat"].as_f64().unwrap(), v["lng"].as_f64().unwrap())
}

/// Asserts a nearby answer is nearest first, within `radius_m`, with distances that match the
/// points' coordinates.
fn assert_nearest_first(items: &[Value], from: (f64, f64), radius_m: f64) {
    let distances: Vec<u64> = items
        .iter()
        .map(|i| i["distance_m"].as_u64().unwrap())
        .collect();
    assert!(
        distances.windows(2).all(|w| w[0] <= w[1]),
        "not nearest first: {distances:?}"
    );
    for item in items {
        let d = item["distance_m"].as_f64().unwrap();
        assert!(d <= radius_m, "{item}");
        let own = haversine_m(from, lat_lng(item));
        assert!((own - d).abs() <= 2.0, "distance {d} vs {own}: {item}");
    }
}

/// Now in China Standard Time.
fn china_now() -> NaiveDateTime {
    (chrono::Utc::now() + chrono::Duration::hours(8)).naive_utc()
}

fn china_today() -> String {
    china_now().date().to_string()
}

/// A valid point form: an outdoor workers' station open 24 hours with drinking water.
fn station(name: &str, lat: f64, lng: f64) -> Value {
    json!({
        "name": name,
        "kind": "outdoor_worker_station",
        "address": format!("郑州市{name}"),
        "lat": lat,
        "lng": lng,
        "hours": "24小时",
        "amenities": ["drinking_water", "charging"],
    })
}

fn with(mut form: Value, key: &str, value: Value) -> Value {
    form[key] = value;
    form
}

/// `external_id` → point of the officials' listing.
fn by_external_id(points: &[Value]) -> HashMap<String, Value> {
    points
        .iter()
        .map(|p| (p["external_id"].as_str().unwrap().to_owned(), p.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. the real file

async fn real_file_imports_as_it_is_and_answers_the_walkthrough(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let rows = real_rows();
    assert_eq!(rows.len(), 82);

    // A dry run reports what the import would do, and what to check, and writes nothing.
    let dry = w.import_csv(&sm, "?dry_run=true", real_file()).await;
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(dry["imported"], false, "{dry}");
    assert_eq!(dry["encoding"], "utf-8");
    assert_eq!(dry["rows_read"], 82);
    assert_eq!(dry["valid_rows"], 82);
    assert_eq!(dry["invalid_rows"], 0);
    assert_eq!(
        (&dry["created"], &dry["updated"], &dry["unchanged"]),
        (&json!(82), &json!(0), &json!(0)),
        "{dry}"
    );
    assert_eq!(dry["problems"], json!([]), "{dry}");
    // Warned, not refused: the SUSPECT rows, the unreadable hours, the masked phones (the
    // file publishes 158****6066 and others as contact phones).
    let warnings = dry["warnings"].as_array().unwrap();
    let rows_warned = |code: &str| -> HashSet<String> {
        warnings
            .iter()
            .filter(|w| w["code"] == code)
            .map(|w| rows[w["row"].as_u64().unwrap() as usize - 2]["id"].clone())
            .collect()
    };
    assert_eq!(rows_warned("suspect_coordinates"), str_set(&SUSPECT_IDS));
    let unreadable: HashSet<String> = rows
        .iter()
        .filter(|r| r["open_hours"] == "工作日开放")
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(rows_warned("hours_unreadable"), unreadable);
    let masked: HashSet<String> = rows
        .iter()
        .filter(|r| r["contact_phone"].contains('*'))
        .map(|r| r["id"].clone())
        .collect();
    assert!(masked.len() >= 2, "{masked:?}");
    assert_eq!(rows_warned("phone_masked"), masked);
    assert_eq!(warnings.len(), 4 + unreadable.len() + masked.len(), "{dry}");
    let masked_warning = warnings
        .iter()
        .find(|w| w["code"] == "phone_masked")
        .unwrap();
    assert_eq!(masked_warning["column"], "contact_phone");
    assert!(
        masked_warning["detail"].as_str().unwrap().contains("打码"),
        "{masked_warning}"
    );
    let ignored: Vec<String> = dry["ignored_columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert!(ignored.contains(&"lng_wgs84".to_owned()), "{ignored:?}");
    assert!(w.admin_points(&sm, "").await.is_empty());
    let near = w
        .nearby("lat=34.7571&lng=113.7783&radius_m=50000&limit=100")
        .await;
    assert_eq!(near["items"], json!([]), "the dry run reached the lookup");

    // The real import: every row, the station manager's organisation.
    let report = w.import_csv(&sm, "", real_file()).await;
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["imported"], true, "{report}");
    assert_eq!(report["created"], 82, "{report}");
    assert_eq!(report["updated"], 0);
    assert_eq!(report["unchanged"], 0);
    assert_eq!(report["skipped"], 0);
    let all = w.admin_points(&sm, "").await;
    assert_eq!(all.len(), 82);
    assert!(all.iter().all(|p| p["org_id"] == w.zz.as_str()));
    let file_ids: HashSet<String> = rows.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(set_of(&all, "external_id"), file_ids);
    let points = by_external_id(&all);
    let first = &points["zz-001"];
    assert_eq!(first["name"], rows[0]["name"].as_str());
    assert_eq!(first["kind"], "outdoor_worker_station");
    assert_eq!(first["lat"], 34.819187);
    assert_eq!(first["lng"], 113.564525);
    assert_eq!(first["district"], "高新区");
    assert_eq!(
        amenity_codes(first),
        [
            "drinking_water",
            "charging",
            "air_conditioning",
            "seating",
            "first_aid",
            "wifi"
        ]
    );
    assert_eq!(points["zz-004"]["phone"], "0371-55269597");

    // The SUSPECT rows are kept where the file puts them, and flagged.
    let flagged = w.admin_points(&sm, "?flagged=true").await;
    assert_eq!(flagged.len(), 4, "{flagged:?}");
    assert_eq!(set_of(&flagged, "external_id"), str_set(&SUSPECT_IDS));
    for p in &flagged {
        assert_eq!(p["quality_flag"], "suspect_coordinates", "{p}");
        assert!(
            p["quality_note"].as_str().unwrap().starts_with("SUSPECT"),
            "{p}"
        );
    }
    assert_eq!(points["zz-008"]["lat"], 34.733647);
    assert_eq!(points["zz-008"]["lng"], 113.75627);
    let unflagged = w.admin_points(&sm, "?flagged=false").await;
    assert_eq!(unflagged.len(), 78);
    assert!(unflagged.iter().all(|p| p["quality_flag"].is_null()));
    // Workers see the flag, not the official's note or the import id.
    let suspect = w.show(&id(&points["zz-008"])).await;
    assert_eq!(suspect["quality_flag"], "suspect_coordinates");
    assert!(suspect.get("quality_note").is_none(), "{suspect}");
    assert!(suspect.get("external_id").is_none(), "{suspect}");
    assert_view("service_point_flagged", &suspect);

    // Importing the same file again changes nothing.
    let again = w.import_csv(&sm, "", real_file()).await;
    assert_eq!(
        (&again["created"], &again["updated"], &again["unchanged"]),
        (&json!(0), &json!(0), &json!(82)),
        "{again}"
    );
    assert_eq!(w.admin_points(&sm, "").await.len(), 82);
    // A row changed in the file changes that point, under the same id; the dry run says so
    // first.
    let renamed_text = String::from_utf8(real_file()).unwrap().replacen(
        &rows[0]["name"],
        "枫杨办事处工会驿站（已更名）",
        1,
    );
    let would = w
        .import_csv(&sm, "?dry_run=true", renamed_text.clone().into_bytes())
        .await;
    assert_eq!(
        (&would["created"], &would["updated"], &would["unchanged"]),
        (&json!(0), &json!(1), &json!(81)),
        "{would}"
    );
    let changed = w.import_csv(&sm, "", renamed_text.into_bytes()).await;
    assert_eq!(
        (
            &changed["created"],
            &changed["updated"],
            &changed["unchanged"]
        ),
        (&json!(0), &json!(1), &json!(81)),
        "{changed}"
    );
    let renamed = w.show(&id(&points["zz-001"])).await;
    assert_eq!(renamed["name"], "枫杨办事处工会驿站（已更名）");
    assert_eq!(w.admin_points(&sm, "").await.len(), 82);
    // Out of the station manager's subtree: refused, nothing written.
    assert_problem(
        w.import(&sm, &format!("?org_id={}", w.ly), real_file(), "text/csv")
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(w
        .admin_points(&w.root, &format!("?org_id={}", w.ly))
        .await
        .is_empty());

    // Opening hours: every text kept; `工作日开放` is unknown, never guessed.
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for p in &all {
        let ext = p["external_id"].as_str().unwrap();
        let row = rows.iter().find(|r| r["id"] == ext).unwrap();
        assert_eq!(p["hours"]["text"], row["open_hours"].as_str(), "{p}");
        let kind = p["hours"]["kind"].as_str().unwrap();
        *kinds.entry(kind).or_default() += 1;
        match row["open_hours"].as_str() {
            "工作日开放" => {
                assert_eq!(kind, "unknown", "{p}");
                assert!(p["open_now"].is_null(), "{p}");
                let seen = w.show(&id(p)).await;
                assert_eq!(seen["hours"]["kind"], "unknown");
                assert!(seen["open_now"].is_null(), "{seen}");
            }
            "24小时" => {
                assert_eq!(kind, "always_open", "{p}");
                assert_eq!(p["open_now"], true, "{p}");
            }
            _ => {
                assert_eq!(kind, "weekly", "{p}");
                assert!(p["open_now"].is_boolean(), "{p}");
            }
        }
    }
    assert_eq!(kinds["unknown"], 2);
    assert_eq!(kinds["always_open"], 2);
    assert_eq!(kinds["weekly"], 78);

    // The README walkthrough: nearest stations with drinking water near 郑州东站. Within the
    // default 5 km there are three, all open 08:00-20:00.
    let ext_of: HashMap<String, String> = all
        .iter()
        .map(|p| (id(p), p["external_id"].as_str().unwrap().to_owned()))
        .collect();
    let any_time = w
        .nearby("lat=34.7571&lng=113.7783&amenity=drinking_water")
        .await;
    let items = any_time["items"].as_array().unwrap();
    let nearest: Vec<&str> = items.iter().map(|i| ext_of[&id(i)].as_str()).collect();
    assert_eq!(nearest, ["zz-070", "zz-008", "zz-022"], "{any_time}");
    assert_nearest_first(items, EAST_STATION, 5000.0);
    for item in items {
        let own = &points[ext_of[&id(item)].as_str()];
        assert_eq!(item["name"], own["name"]);
        assert_eq!(item["address"], own["address"]);
        assert_eq!(lat_lng(item), lat_lng(own));
    }
    assert!(any_time["evaluated_at"]
        .as_str()
        .unwrap()
        .ends_with("+08:00"));

    let before = china_now();
    let open = w
        .nearby("lat=34.7571&lng=113.7783&amenity=drinking_water&open_now=true")
        .await;
    let after = china_now();
    let open_items = open["items"].as_array().unwrap();
    assert_nearest_first(open_items, EAST_STATION, 5000.0);
    for item in open_items {
        assert!(
            amenity_codes(item).contains(&"drinking_water".to_owned()),
            "{item}"
        );
        assert_eq!(item["open_now"], true, "{item}");
    }
    let daytime = |t: NaiveDateTime| (8..20).contains(&t.hour());
    // Each answers today's hours, when it closes while open, and whether its place is
    // suspect (zz-008 is one of the file's SUSPECT rows).
    for item in items {
        assert_eq!(item["hours_today"], "08:00-20:00", "{item}");
        let flag = if ext_of[&id(item)] == "zz-008" {
            json!("suspect_coordinates")
        } else {
            Value::Null
        };
        assert_eq!(item["quality_flag"], flag, "{item}");
    }
    if daytime(before) == daytime(after) {
        for item in open_items {
            assert_eq!(item["closes_at"], "20:00", "{item}");
        }
        if !daytime(before) {
            assert!(items.iter().all(|i| i["closes_at"].is_null()), "{any_time}");
        }
        let expected: Vec<&str> = if daytime(before) {
            vec!["zz-070", "zz-008", "zz-022"]
        } else {
            vec![]
        };
        let got: Vec<&str> = open_items.iter().map(|i| ext_of[&id(i)].as_str()).collect();
        assert_eq!(got, expected, "at {before}: {open}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. GBK

async fn gbk_files_import_and_other_encodings_are_refused(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let text = String::from_utf8(real_file()).unwrap();
    let (gbk, _, had_errors) = encoding_rs::GBK.encode(&text);
    assert!(!had_errors, "the real file has a character GBK lacks");
    let gbk = gbk.into_owned();
    assert!(std::str::from_utf8(&gbk).is_err(), "not really GBK bytes");

    let dry = w.import_csv(&sm, "?dry_run=true", gbk.clone()).await;
    assert_eq!(dry["encoding"], "gbk", "{dry}");
    assert_eq!(dry["valid_rows"], 82, "{dry}");
    let report = w.import_csv(&sm, "", gbk).await;
    assert_eq!(report["encoding"], "gbk");
    assert_eq!(report["created"], 82, "{report}");
    let all = w.admin_points(&sm, "").await;
    let file_names: HashSet<String> = real_rows().iter().map(|r| r["name"].clone()).collect();
    assert_eq!(names(&all), file_names, "names decoded wrongly");
    let addresses: HashSet<String> = real_rows().iter().map(|r| r["address"].clone()).collect();
    assert_eq!(set_of(&all, "address"), addresses);
    assert_eq!(
        all.iter()
            .filter(|p| p["hours"]["text"] == "工作日开放")
            .count(),
        2
    );

    // Neither UTF-8 nor GBK: refused, saying how to save it; nothing changes.
    let resp = w
        .import(
            &sm,
            "",
            b"name,category,address,lng,lat\n\x81\x20\xff\xfe,x,y,113.7,34.7\n".to_vec(),
            "text/csv",
        )
        .await;
    let problem =
        assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "file_unreadable").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("UTF-8"),
        "{problem}"
    );
    assert_eq!(error_fields(&problem), pairs(&[("file", "unreadable")]));
    assert_eq!(w.admin_points(&sm, "").await.len(), 82);
}

// ---------------------------------------------------------------------------------------------
// 3. bad rows

async fn bad_rows_are_reported_by_row_and_column_and_nothing_is_imported(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let file = "id,name,category,address,lng,lat,datum,amenities\n\
        a1,东站驿站,爱心驿站,郑州市郑东新区心怡路,113.7783,34.7571,GCJ-02,drink;charging\n\
        a2,经度错驿站,爱心驿站,郑州市金水区,东经113.7,34.75,GCJ-02,drink\n\
        a3,纬度错驿站,爱心驿站,郑州市金水区,113.7,95,GCJ-02,drink\n\
        a4,设施错驿站,爱心驿站,郑州市金水区,113.7,34.75,GCJ-02,drink;jacuzzi\n\
        a5,,爱心驿站,郑州市金水区,113.7,34.75,GCJ-02,drink\n\
        a1,重复编号驿站,爱心驿站,郑州市金水区,113.71,34.76,GCJ-02,drink\n\
        a7,坐标系错驿站,爱心驿站,郑州市金水区,113.7,34.75,WGS-84,drink\n\
        a8,二七驿站,工会驿站,郑州市二七区解放路,113.66,34.756,GCJ-02,seat\n";
    let expected = [
        ("rows.3.lng", "not_a_number"),
        ("rows.4.lat", "out_of_range"),
        ("rows.5.amenities", "not_allowed"),
        ("rows.6.name", "required"),
        ("rows.7.id", "duplicate"),
        ("rows.8.datum", "datum"),
    ];

    // A real import: refused as a whole, every problem named.
    let resp = w
        .import(&sm, "", file.as_bytes().to_vec(), "text/csv")
        .await;
    let problem = assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "import_invalid").await;
    assert_eq!(error_fields(&problem), pairs(&expected), "{problem}");
    for e in problem["errors"].as_array().unwrap() {
        assert!(is_chinese(e["detail"].as_str().unwrap()), "{e}");
    }
    assert!(w.admin_points(&sm, "").await.is_empty(), "half imported");
    assert!(w.worker_points("").await.is_empty());

    // A dry run: 200 with every problem by row and column.
    let dry = w
        .import_csv(&sm, "?dry_run=true", file.as_bytes().to_vec())
        .await;
    assert_eq!(dry["imported"], false);
    assert_eq!(dry["rows_read"], 8);
    assert_eq!(dry["valid_rows"], 2);
    assert_eq!(dry["invalid_rows"], 6);
    let problems: HashSet<(String, String)> = dry["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                format!("rows.{}.{}", p["row"], p["column"].as_str().unwrap()),
                p["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(problems, pairs(&expected), "{dry}");
    let repeated = dry["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "duplicate")
        .unwrap();
    assert!(
        repeated["detail"].as_str().unwrap().contains('2'),
        "names the first row: {repeated}"
    );
    assert!(w.admin_points(&sm, "").await.is_empty());

    // Skipping the bad rows imports the good ones only.
    let report = w
        .import_csv(&sm, "?skip_invalid=true", file.as_bytes().to_vec())
        .await;
    assert_eq!(report["imported"], true, "{report}");
    assert_eq!(report["created"], 2);
    assert_eq!(report["skipped"], 6);
    let all = w.admin_points(&sm, "").await;
    assert_eq!(names(&all), str_set(&["东站驿站", "二七驿站"]));
    let east = all.iter().find(|p| p["name"] == "东站驿站").unwrap();
    assert_eq!(east["external_id"], "a1");
    assert_eq!(amenity_codes(east), ["drinking_water", "charging"]);

    // A file without a required column is a header problem (row 1); nothing imported.
    let resp = w
        .import(
            &sm,
            "",
            "name,address,lat\n东站,郑州,34.7\n".as_bytes().to_vec(),
            "text/csv",
        )
        .await;
    let problem = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "import_invalid").await;
    assert_eq!(
        error_fields(&problem),
        pairs(&[
            ("rows.1.kind", "missing_column"),
            ("rows.1.lng", "missing_column")
        ]),
        "{problem}"
    );
    assert_eq!(w.admin_points(&sm, "").await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// 4. XLSX

/// A workbook with the Chinese headers and `rows` (name, kind, address, lng, lat, hours,
/// amenities); coordinates as numbers.
fn workbook(rows: &[(&str, &str, &str, f64, f64, &str, &str)]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, title) in (0u16..).zip(["名称", "类型", "地址", "经度", "纬度", "开放时间", "设施"])
    {
        sheet.write_string(0, col, title).unwrap();
    }
    for (row, r) in (1u32..).zip(rows) {
        sheet.write_string(row, 0, r.0).unwrap();
        sheet.write_string(row, 1, r.1).unwrap();
        sheet.write_string(row, 2, r.2).unwrap();
        sheet.write_number(row, 3, r.3).unwrap();
        sheet.write_number(row, 4, r.4).unwrap();
        sheet.write_string(row, 5, r.5).unwrap();
        sheet.write_string(row, 6, r.6).unwrap();
    }
    book.save_to_buffer().unwrap()
}

async fn xlsx_with_chinese_headers_imports(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let good = [
        (
            "东站爱心驿站",
            "爱心驿站",
            "郑州市郑东新区心怡路郑州东站",
            113.7783,
            34.7571,
            "24小时",
            "饮用水、充电",
        ),
        (
            "郑州司机之家",
            "司机之家",
            "郑州市中牟县绿博大道",
            113.9,
            34.72,
            "08:00-20:00",
            "停车；餐食；淋浴",
        ),
        (
            "金水区爱心妈咪小屋",
            "爱心妈咪小屋",
            "郑州市金水区花园路",
            113.68,
            34.78,
            "周一至周五 09:00-17:00",
            "哺乳",
        ),
    ];
    let mut with_bad = good.to_vec();
    with_bad.push((
        "纬度错驿站",
        "爱心驿站",
        "郑州市金水区",
        113.7,
        95.0,
        "24小时",
        "饮用水",
    ));

    let dry = expect(
        w.import(&sm, "?dry_run=true", workbook(&with_bad), XLSX_TYPE)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(dry["encoding"], "xlsx", "{dry}");
    assert_eq!(dry["valid_rows"], 3, "{dry}");
    let problems = dry["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{dry}");
    assert_eq!(problems[0]["row"], 5);
    assert_eq!(problems[0]["column"], "纬度");
    assert_eq!(problems[0]["code"], "out_of_range");
    let problem = assert_problem(
        w.import(&sm, "", workbook(&with_bad), XLSX_TYPE).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "import_invalid",
    )
    .await;
    assert_eq!(
        error_fields(&problem),
        pairs(&[("rows.5.纬度", "out_of_range")])
    );
    assert!(w.admin_points(&sm, "").await.is_empty());

    let report = expect(
        w.import(&sm, "", workbook(&good), XLSX_TYPE).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["encoding"], "xlsx");
    assert_eq!(report["created"], 3, "{report}");
    let all = w.admin_points(&sm, "").await;
    let find = |name: &str| all.iter().find(|p| p["name"] == name).unwrap().clone();
    let east = find("东站爱心驿站");
    assert_eq!(east["kind"], "outdoor_worker_station");
    assert_eq!(lat_lng(&east), (34.7571, 113.7783));
    assert_eq!(east["hours"]["kind"], "always_open");
    assert_eq!(east["open_now"], true);
    assert_eq!(amenity_codes(&east), ["drinking_water", "charging"]);
    assert_eq!(east["address"], "郑州市郑东新区心怡路郑州东站");
    let drivers = find("郑州司机之家");
    assert_eq!(drivers["kind"], "driver_home");
    assert_eq!(drivers["hours"]["kind"], "weekly");
    assert_eq!(amenity_codes(&drivers), ["shower", "parking", "meals"]);
    let nursing = find("金水区爱心妈咪小屋");
    assert_eq!(nursing["kind"], "nursing_room");
    assert_eq!(nursing["hours"]["text"], "周一至周五 09:00-17:00");
    assert_eq!(amenity_codes(&nursing), ["nursing"]);
    // The imported points answer the workers' lookup.
    let near = w.nearby("lat=34.7571&lng=113.7783&limit=1").await;
    assert_eq!(near["items"][0]["name"], "东站爱心驿站", "{near}");
    assert_eq!(near["items"][0]["distance_m"], 0);
    assert_view("nearby", &near);
}

// ---------------------------------------------------------------------------------------------
// 5. export

fn cell(data: &Data) -> String {
    match data {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        other => panic!("unexpected cell {other:?}"),
    }
}

/// Downloads the export at `query` as `tok`: the file's bytes and its rows as text.
async fn export(w: &Sp, tok: &str, query: &str) -> (Vec<u8>, Vec<Vec<String>>) {
    let resp = w.app.get(&format!("{EXPORT}{query}"), Some(tok)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    let content_type = headers["content-type"].to_str().unwrap().to_owned();
    let disposition = headers["content-disposition"].to_str().unwrap().to_owned();
    assert!(
        disposition.starts_with("attachment") && disposition.contains("service-points-"),
        "{disposition}"
    );
    let bytes = resp.bytes().await.unwrap().to_vec();
    let rows: Vec<Vec<String>> = if query.contains("format=csv") {
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        assert!(disposition.contains(".csv"), "{disposition}");
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "no byte-order mark");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&bytes[3..]);
        reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    } else {
        assert_eq!(content_type, XLSX_TYPE);
        assert!(disposition.contains(".xlsx"), "{disposition}");
        let mut book: Xlsx<_> =
            calamine::open_workbook_from_rs(Cursor::new(bytes.clone())).unwrap();
        let sheet = book.worksheet_range("服务阵地").unwrap();
        sheet
            .rows()
            .map(|row| row.iter().map(cell).collect())
            .collect()
    };
    assert_eq!(rows[0], EXPORT_COLUMNS, "heading");
    (bytes, rows)
}

/// The value of `column` in an exported row.
fn col<'a>(row: &'a [String], column: &str) -> &'a str {
    let i = EXPORT_COLUMNS.iter().position(|c| *c == column).unwrap();
    &row[i]
}

async fn export_reads_back_and_imports_unchanged(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let report = w.import_csv(&sm, "", real_file()).await;
    assert_eq!(report["created"], 82);
    w.create(
        &w.root,
        &with(
            station("洛阳西站驿站", 34.62, 112.40),
            "org_id",
            json!(w.ly),
        ),
    )
    .await;
    let points = by_external_id(&w.admin_points(&sm, "").await);
    let rows = real_rows();

    // XLSX (the default): the station manager's subtree only, as the file said.
    let (xlsx, sheet) = export(&w, &sm, "").await;
    let body = &sheet[1..];
    assert_eq!(body.len(), 82);
    let exported: HashSet<String> = body
        .iter()
        .map(|r| col(r, "external_id").to_owned())
        .collect();
    let file_ids: HashSet<String> = rows.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(exported, file_ids);
    let first = body
        .iter()
        .find(|r| col(r, "external_id") == "zz-001")
        .unwrap();
    assert_eq!(col(first, "name"), rows[0]["name"]);
    assert_eq!(col(first, "kind"), "outdoor_worker_station");
    assert_eq!(col(first, "lat"), "34.819187");
    assert_eq!(col(first, "lng"), "113.564525");
    assert_eq!(col(first, "datum"), "GCJ-02");
    assert_eq!(col(first, "open_hours"), "08:00-20:00");
    assert_eq!(col(first, "status"), "open");
    assert_eq!(col(first, "service_point_id"), id(&points["zz-001"]));
    assert!(col(first, "amenities").contains("drinking_water"));
    let suspect = body
        .iter()
        .find(|r| col(r, "external_id") == "zz-008")
        .unwrap();
    assert!(col(suspect, "coord_quality").starts_with("SUSPECT"));

    // It imports back into the same organisation without a change.
    let back = expect(w.import(&sm, "", xlsx, XLSX_TYPE).await, StatusCode::OK).await;
    assert_eq!(back["encoding"], "xlsx");
    assert_eq!(
        (&back["created"], &back["updated"], &back["unchanged"]),
        (&json!(0), &json!(0), &json!(82)),
        "{back}"
    );

    // CSV: the same rows, UTF-8 with a byte-order mark; also imports back unchanged.
    let (csv_bytes, csv_rows) = export(&w, &sm, "?format=csv").await;
    assert_eq!(csv_rows.len(), 83);
    let csv_first = csv_rows
        .iter()
        .find(|r| col(r, "external_id") == "zz-001")
        .unwrap();
    assert_eq!(csv_first, first);
    let back = w.import_csv(&sm, "", csv_bytes).await;
    assert_eq!(back["encoding"], "utf-8");
    assert_eq!(
        (&back["created"], &back["updated"], &back["unchanged"]),
        (&json!(0), &json!(0), &json!(82)),
        "{back}"
    );
    assert_eq!(w.admin_points(&sm, "").await.len(), 82);

    // The filter applies: flagged points only.
    let (_, flagged) = export(&w, &sm, "?format=csv&flagged=true").await;
    let flagged_ids: HashSet<String> = flagged[1..]
        .iter()
        .map(|r| col(r, "external_id").to_owned())
        .collect();
    assert_eq!(flagged_ids, str_set(&SUSPECT_IDS));
    // The root sees the whole tree; another branch is out of the station manager's reach.
    let (_, everything) = export(&w, &w.root, "?format=csv").await;
    assert_eq!(everything.len(), 84);
    assert!(everything.iter().any(|r| col(r, "name") == "洛阳西站驿站"));
    assert_problem(
        w.app
            .get(&format!("{EXPORT}?org_id={}", w.ly), Some(&sm))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // An auditor reads; a reviewer may not; an unknown format is refused.
    let auditor = w.official("zz-auditor", &w.zz, "auditor").await;
    let (_, audited) = export(&w, &auditor, "?format=csv").await;
    assert_eq!(audited.len(), 83);
    let reviewer = w.official("zz-reviewer", &w.zz, "reviewer").await;
    assert_problem(
        w.app.get(EXPORT, Some(&reviewer)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_invalid(
        w.app.get(&format!("{EXPORT}?format=pdf"), Some(&sm)).await,
        &[("format", "not_allowed")],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// 6. the catalogue

/// A recuperation base with every field.
fn full_form() -> Value {
    json!({
        "name": "嵩山职工疗休养基地",
        "kind": "recuperation_base",
        "address": "河南省郑州市登封市嵩山路88号",
        "province": "河南省",
        "city": "郑州市",
        "district": "登封市",
        "lat": 34.4536,
        "lng": 113.0301,
        "hours": "周一至周五 08:30-12:00,13:00-17:30",
        "exceptions": [
            { "date": "2026-10-01", "hours": "closed" },
            { "date": "2026-10-02", "hours": "09:00-12:00" },
        ],
        "amenities": ["meals", "drinking_water", "shower", "drinking_water"],
        "phone": "0371-62880000",
        "status": "open",
        "star_grade": 4,
        "external_id": "R-1",
    })
}

/// Issue 18, item 10: a CSV cell that Excel or WPS would run as a formula is written with a
/// leading `'` (OWASP, CSV Injection), and the file still imports back unchanged.
async fn csv_exports_never_start_a_formula_and_import_back(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let mut form = full_form();
    form["name"] = json!("=HYPERLINK(\"http://example.com\",\"驿站\")");
    form["address"] = json!("@郑州市登封市嵩山路88号");
    w.create(&sm, &form).await;
    let (bytes, rows) = export(&w, &sm, "?format=csv").await;
    let row = &rows[1];
    assert_eq!(
        col(row, "name"),
        "'=HYPERLINK(\"http://example.com\",\"驿站\")"
    );
    assert_eq!(col(row, "address"), "'@郑州市登封市嵩山路88号");
    assert_eq!(
        col(row, "contact_phone"),
        "0371-62880000",
        "only a leading sign is neutralised"
    );
    let back = w.import_csv(&sm, "", bytes).await;
    assert_eq!(
        (&back["created"], &back["updated"], &back["unchanged"]),
        (&json!(0), &json!(0), &json!(1)),
        "{back}"
    );
    let points = w.admin_points(&sm, "").await;
    assert_eq!(points[0]["name"], form["name"]);
}

async fn catalogue_crud_with_scope_and_roles(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let ly_sm = w.official("ly-station", &w.ly, "station_manager").await;
    let reviewer = w.official("zz-reviewer", &w.zz, "reviewer").await;
    let auditor = w.official("zz-auditor", &w.zz, "auditor").await;
    let worker = w.worker("wang").await;

    // Create with every field.
    let created = w.create(&sm, &full_form()).await;
    let point = id(&created);
    assert_eq!(created["org_id"], w.zz.as_str());
    assert_eq!(created["kind"], "recuperation_base");
    assert_eq!(created["kind_label"], "疗休养基地");
    assert_view("admin_service_point_full", &created);
    assert_eq!(created["star_grade"], 4);
    assert_eq!(created["province"], "河南省");
    assert_eq!(created["district"], "登封市");
    assert_eq!(lat_lng(&created), (34.4536, 113.0301));
    assert_eq!(created["hours"]["kind"], "weekly");
    assert_eq!(
        created["hours"]["text"],
        "周一至周五 08:30-12:00,13:00-17:30"
    );
    assert_eq!(
        created["hours"]["exceptions"],
        json!([
            { "date": "2026-10-01", "hours": "" },
            { "date": "2026-10-02", "hours": "09:00-12:00" },
        ])
    );
    assert_eq!(
        amenity_codes(&created),
        ["drinking_water", "shower", "meals"],
        "each once, in vocabulary order"
    );
    assert_eq!(created["phone"], "0371-62880000");
    assert_eq!(created["status"], "open");
    assert_eq!(created["external_id"], "R-1");
    assert_eq!(created["rating_count"], 0);
    assert!(created["rating_average"].is_null());
    assert!(created["quality_flag"].is_null());

    // Shown to workers (without the import id) and to officials in scope.
    let seen = w.show(&point).await;
    assert_eq!(seen["name"], "嵩山职工疗休养基地");
    assert_eq!(seen["star_grade"], 4);
    assert_eq!(seen["hours"], created["hours"]);
    assert!(seen.get("external_id").is_none(), "{seen}");
    let admin_seen = expect(
        w.app.get(&format!("{ADMIN}/{point}"), Some(&auditor)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(admin_seen["external_id"], "R-1");
    assert_eq!(w.admin_points(&auditor, "").await.len(), 1);

    // Update: every field replaced.
    let changed = with(
        with(
            with(full_form(), "name", json!("嵩山职工疗休养基地（新院区）")),
            "star_grade",
            json!(5),
        ),
        "status",
        json!("temporarily_closed"),
    );
    let updated = expect(w.put(&sm, &point, &changed).await, StatusCode::OK).await;
    assert_eq!(updated["name"], "嵩山职工疗休养基地（新院区）");
    assert_eq!(updated["star_grade"], 5);
    assert_eq!(updated["status"], "temporarily_closed");
    assert_eq!(updated["open_now"], false);
    let seen = w.show(&point).await;
    assert_eq!(seen["name"], "嵩山职工疗休养基地（新院区）");
    assert_eq!(seen["status"], "temporarily_closed");

    // Every bad field at once; nothing stored.
    let bad = json!({
        "name": "",
        "kind": "spaceship",
        "address": "  ",
        "lat": 91.0,
        "lng": 181.0,
        "hours": "24小时",
        "exceptions": [{ "date": "2026-13-01", "hours": "09:00-12:00" }],
        "amenities": ["drinking_water", "jacuzzi"],
        "phone": "0".repeat(41),
        "status": "maybe",
        "star_grade": 9,
    });
    let problem = assert_invalid(
        w.app.post(ADMIN, &bad, Some(&sm)).await,
        &[
            ("name", "required"),
            ("address", "required"),
            ("kind", "not_allowed"),
            ("lat", "out_of_range"),
            ("lng", "out_of_range"),
            ("exceptions", "invalid"),
            ("amenities", "not_allowed"),
            ("phone", "too_long"),
            ("status", "not_allowed"),
            ("star_grade", "out_of_range"),
        ],
    )
    .await;
    let kind_error = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "kind")
        .unwrap();
    let kind_detail = kind_error["detail"].as_str().unwrap();
    assert!(
        kind_detail.contains("类别") && kind_detail.contains("spaceship"),
        "names the field in Chinese and the value: {kind_error}"
    );
    // A star grade belongs to recuperation bases only.
    assert_invalid(
        w.app
            .post(
                ADMIN,
                &with(station("星级驿站", 34.75, 113.7), "star_grade", json!(3)),
                Some(&sm),
            )
            .await,
        &[("star_grade", "not_allowed")],
    )
    .await;
    // The same bad form on update changes nothing.
    assert_invalid(
        w.put(&sm, &point, &with(changed.clone(), "lat", json!(-91.0)))
            .await,
        &[("lat", "out_of_range")],
    )
    .await;
    assert_eq!(w.admin_points(&sm, "").await.len(), 1);

    // External ids are unique within an organisation, by create and by update.
    let problem = assert_problem_zh(
        w.app
            .post(
                ADMIN,
                &with(
                    station("重复编号驿站", 34.75, 113.7),
                    "external_id",
                    json!("R-1"),
                ),
                Some(&sm),
            )
            .await,
        StatusCode::CONFLICT,
        "external_id_taken",
    )
    .await;
    assert_eq!(error_fields(&problem), pairs(&[("external_id", "taken")]));
    let other = w
        .create(
            &sm,
            &with(
                station("另一个驿站", 34.75, 113.7),
                "external_id",
                json!("S-1"),
            ),
        )
        .await;
    assert_problem(
        w.put(
            &sm,
            &id(&other),
            &with(
                station("另一个驿站", 34.75, 113.7),
                "external_id",
                json!("R-1"),
            ),
        )
        .await,
        StatusCode::CONFLICT,
        "external_id_taken",
    )
    .await;
    // Another organisation may use the same id.
    w.create(
        &ly_sm,
        &with(
            station("洛阳驿站", 34.62, 112.45),
            "external_id",
            json!("R-1"),
        ),
    )
    .await;

    // A station manager of a district under 郑州 manages only that district's points; the city's
    // station manager sees them too (the subtree).
    let district = w.app.create_org(&w.root, &w.zz, "金水区总工会").await;
    let district_sm = w
        .official("jinshui-station", &district, "station_manager")
        .await;
    let local = w
        .create(&district_sm, &station("金水区驿站", 34.78, 113.68))
        .await;
    assert_eq!(local["org_id"], district.as_str());
    assert_eq!(
        names(&w.admin_points(&district_sm, "").await),
        str_set(&["金水区驿站"])
    );
    assert!(names(&w.admin_points(&sm, "").await).contains("金水区驿站"));
    assert_eq!(
        names(&w.admin_points(&sm, &format!("?org_id={district}")).await),
        str_set(&["金水区驿站"])
    );
    assert_problem(
        w.app
            .get(&format!("{ADMIN}/{point}"), Some(&district_sm))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let resp = w.delete(&sm, &id(&local)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // Another branch's station manager: the point does not exist for them.
    for resp in [
        w.app.get(&format!("{ADMIN}/{point}"), Some(&ly_sm)).await,
        w.put(&ly_sm, &point, &changed).await,
        w.delete(&ly_sm, &point).await,
        w.app
            .post(
                ADMIN,
                &with(station("越权驿站", 34.75, 113.7), "org_id", json!(w.zz)),
                Some(&ly_sm),
            )
            .await,
    ] {
        assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert!(!w
        .admin_points(&ly_sm, "")
        .await
        .iter()
        .any(|p| id(p) == point));
    assert_eq!(w.show(&point).await["star_grade"], 5, "nothing changed");

    // A reviewer has no business here; an auditor reads but writes nothing; a worker's token
    // is not an official's.
    for resp in [
        w.app.get(ADMIN, Some(&reviewer)).await,
        w.app
            .get(&format!("{ADMIN}/{point}"), Some(&reviewer))
            .await,
        w.app
            .post(ADMIN, &station("审核员驿站", 34.75, 113.7), Some(&reviewer))
            .await,
        w.app
            .post(ADMIN, &station("审计员驿站", 34.75, 113.7), Some(&auditor))
            .await,
        w.put(&auditor, &point, &changed).await,
        w.delete(&auditor, &point).await,
        w.import(&auditor, "", real_file(), "text/csv").await,
    ] {
        assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert_problem(
        w.app.post(ADMIN, &full_form(), Some(&worker)).await,
        StatusCode::FORBIDDEN,
        "wrong_account_kind",
    )
    .await;
    assert_problem(
        w.app.post(ADMIN, &full_form(), None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(w.admin_points(&sm, "").await.len(), 2);

    // Delete: gone from the listing, the lookup and the details.
    let here = "lat=34.4536&lng=113.0301&radius_m=1000";
    assert_eq!(w.nearby(here).await["items"][0]["id"], point.as_str());
    assert!(w
        .worker_points("?q=嵩山")
        .await
        .iter()
        .any(|p| id(p) == point));
    let resp = w.delete(&sm, &point).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(w.nearby(here).await["items"], json!([]));
    assert!(w.worker_points("?q=嵩山").await.is_empty());
    assert_problem(
        w.app.get(&format!("{POINTS}/{point}"), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        w.app.get(&format!("{ADMIN}/{point}"), Some(&sm)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        w.delete(&sm, &point).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        names(&w.admin_points(&sm, "").await),
        str_set(&["另一个驿站"])
    );
}

// ---------------------------------------------------------------------------------------------
// 7. nearby validation and the rate limit

async fn nearby_response(w: &Sp, query: &str) -> Response {
    w.app.get(&format!("{NEARBY}?{query}"), None).await
}

async fn nearby_refuses_bad_parameters(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    w.create(&sm, &station("东站驿站", EAST_STATION.0, EAST_STATION.1))
        .await;

    assert_invalid(
        nearby_response(&w, "lat=91&lng=113.7").await,
        &[("lat", "out_of_range")],
    )
    .await;
    assert_invalid(
        nearby_response(&w, "lat=34.7&lng=-181").await,
        &[("lng", "out_of_range")],
    )
    .await;
    assert_invalid(
        nearby_response(&w, "lat=-90.5&lng=180.5").await,
        &[("lat", "out_of_range"), ("lng", "out_of_range")],
    )
    .await;
    assert_invalid(
        nearby_response(&w, "lat=34.7571&lng=113.7783&radius_m=50001").await,
        &[("radius_m", "out_of_range")],
    )
    .await;
    assert_invalid(
        nearby_response(&w, "lat=34.7571&lng=113.7783&limit=101").await,
        &[("limit", "out_of_range")],
    )
    .await;
    let problem = assert_invalid(
        nearby_response(&w, "lat=34.7571&lng=113.7783&kind=spa").await,
        &[("kind", "not_allowed")],
    )
    .await;
    // Chinese words naming the field and the value; the identifier stays in `field`.
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("类别") && detail.contains("spa") && !detail.contains("kind"),
        "{detail}"
    );
    let problem = assert_invalid(
        nearby_response(&w, "lat=34.7571&lng=113.7783&amenity=drinking_water,sauna").await,
        &[("amenity", "not_allowed")],
    )
    .await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("设施") && detail.contains("sauna") && !detail.contains("amenity"),
        "{detail}"
    );
    // Several problems at once.
    assert_invalid(
        nearby_response(&w, "lat=95&lng=113.7783&radius_m=0&limit=0&kind=spa").await,
        &[
            ("lat", "out_of_range"),
            ("radius_m", "out_of_range"),
            ("limit", "out_of_range"),
            ("kind", "not_allowed"),
        ],
    )
    .await;
    for (query, field) in [
        ("lat=abc&lng=113.7783", "lat"),
        ("lng=113.7783", "lat"),
        ("lat=34.7571&lng=113.7783&open_now=maybe", "open_now"),
    ] {
        let problem = assert_problem_zh(
            nearby_response(&w, query).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }

    // The edges are accepted.
    let ok = w
        .nearby("lat=34.7571&lng=113.7783&radius_m=50000&limit=100&kind=outdoor_worker_station&amenity=drinking_water,charging")
        .await;
    assert_eq!(ok["items"].as_array().unwrap().len(), 1, "{ok}");
    let none = w.nearby("lat=34.7571&lng=113.7783&kind=driver_home").await;
    assert_eq!(none["items"], json!([]));
    let none = w.nearby("lat=34.7571&lng=113.7783&amenity=shower").await;
    assert_eq!(none["items"], json!([]));
}

async fn lookups_are_rate_limited_per_address(shape: Shape) {
    let w = Sp::with(shape, |s| s.lookup_rate_per_minute = 3).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let point = id(&w
        .create(&sm, &station("东站驿站", EAST_STATION.0, EAST_STATION.1))
        .await);

    // Three lookups of any kind, then the fourth is refused.
    w.nearby("lat=34.7571&lng=113.7783").await;
    expect(w.app.get(POINTS, None).await, StatusCode::OK).await;
    w.show(&point).await;
    let resp = w
        .app
        .get(&format!("{NEARBY}?lat=34.7571&lng=113.7783"), None)
        .await;
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let problem = assert_problem_zh(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&retry_after.to_string()),
        "{problem}"
    );
    assert_problem(
        w.app.get(&format!("{POINTS}/{point}"), None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // Officials' work is not a public lookup.
    assert_eq!(w.admin_points(&sm, "").await.len(), 1);
}

/// Two replicas behind one balancer share one allowance per address: the shared count in
/// Redis, not one bucket per process (issue 18, item 9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_lookup_allowance_per_address() {
    let one = TestApp::spawn_with(Shape::Production, |s| s.lookup_rate_per_minute = 4).await;
    let two = one.replica().await;
    // The shared count is per clock minute: start early in one so it cannot turn mid-test.
    let second = chrono::Utc::now().second();
    if second > 50 {
        tokio::time::sleep(Duration::from_secs(u64::from(61 - second))).await;
    }
    for app in [&one, &two, &one, &two] {
        expect(app.get(POINTS, None).await, StatusCode::OK).await;
    }
    for app in [&one, &two] {
        let resp = app.get(POINTS, None).await;
        assert!(resp.headers().contains_key("retry-after"));
        assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
}

// ---------------------------------------------------------------------------------------------
// 8. open now

async fn open_now_follows_hours_exceptions_and_status(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let (lat, lng) = EAST_STATION;
    let minute = w
        .create(
            &sm,
            &with(
                station("一分钟驿站", lat + 0.001, lng),
                "hours",
                json!("00:00-00:01"),
            ),
        )
        .await;
    let always = w.create(&sm, &station("全天驿站", lat + 0.002, lng)).await;
    let unknown = w
        .create(
            &sm,
            &with(
                station("工作日驿站", lat + 0.003, lng),
                "hours",
                json!("工作日开放"),
            ),
        )
        .await;
    let paused = w
        .create(
            &sm,
            &with(
                station("暂停驿站", lat + 0.004, lng),
                "status",
                json!("temporarily_closed"),
            ),
        )
        .await;
    let shut = w
        .create(
            &sm,
            &with(
                station("关闭驿站", lat + 0.005, lng),
                "status",
                json!("closed"),
            ),
        )
        .await;
    let before = china_now();
    let today_closed = w
        .create(
            &sm,
            &with(
                station("今日闭馆驿站", lat + 0.006, lng),
                "exceptions",
                json!([{ "date": before.date().to_string(), "hours": "关闭" }]),
            ),
        )
        .await;
    assert_eq!(minute["hours"]["kind"], "weekly");
    assert_eq!(always["hours"]["kind"], "always_open");
    assert_eq!(unknown["hours"]["kind"], "unknown");

    let query = "lat=34.7571&lng=113.7783&radius_m=2000";
    let all = w.nearby(query).await;
    let open = w.nearby(&format!("{query}&open_now=true")).await;
    let after = china_now();
    let items = all["items"].as_array().unwrap();
    assert_nearest_first(items, EAST_STATION, 2000.0);
    let by_name: HashMap<String, Value> = items
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_owned(), i.clone()))
        .collect();
    // Closed for good: not shown; temporarily closed: shown, never open.
    assert!(!by_name.contains_key("关闭驿站"), "{all}");
    assert_eq!(
        by_name.keys().cloned().collect::<HashSet<_>>(),
        str_set(&[
            "一分钟驿站",
            "全天驿站",
            "工作日驿站",
            "暂停驿站",
            "今日闭馆驿站"
        ])
    );
    assert_eq!(by_name["全天驿站"]["open_now"], true);
    assert!(by_name["工作日驿站"]["open_now"].is_null());
    assert_eq!(by_name["暂停驿站"]["open_now"], false);
    assert_eq!(by_name["暂停驿站"]["status"], "temporarily_closed");
    let open_names = names(open["items"].as_array().unwrap());
    assert!(open_names.contains("全天驿站"), "{open}");
    for never in ["暂停驿站", "关闭驿站", "工作日驿站"] {
        assert!(!open_names.contains(never), "{open}");
    }
    // 00:00-00:01 is open one minute a day; the exception closes today.
    let first_minute = |t: NaiveDateTime| t.hour() == 0 && t.minute() == 0;
    if first_minute(before) == first_minute(after) {
        let expected = first_minute(before);
        assert_eq!(by_name["一分钟驿站"]["open_now"], expected, "at {before}");
        assert_eq!(open_names.contains("一分钟驿站"), expected, "at {before}");
    }
    if before.date() == after.date() {
        assert_eq!(by_name["今日闭馆驿站"]["open_now"], false, "{all}");
        assert!(!open_names.contains("今日闭馆驿站"), "{open}");
        assert_eq!(w.show(&id(&today_closed)).await["open_now"], false);
    }

    // The details say the same.
    assert_eq!(w.show(&id(&always)).await["open_now"], true);
    assert!(w.show(&id(&unknown)).await["open_now"].is_null());
    let seen = w.show(&id(&paused)).await;
    assert_eq!(seen["open_now"], false);
    // The workers' listing leaves the closed point out; the officials' keeps it.
    let listed = names(&w.worker_points("").await);
    assert!(!listed.contains("关闭驿站"), "{listed:?}");
    assert!(listed.contains("暂停驿站"));
    assert_eq!(listed.len(), 5);
    let official = w.admin_points(&sm, "?status=closed").await;
    assert_eq!(strings(&official, "id"), [id(&shut)]);

    // Reopening a closed point brings it back.
    let reopened = expect(
        w.put(&sm, &id(&shut), &station("关闭驿站", lat + 0.005, lng))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(reopened["status"], "open");
    let again = w.nearby(&format!("{query}&open_now=true")).await;
    assert!(names(again["items"].as_array().unwrap()).contains("关闭驿站"));
}

// ---------------------------------------------------------------------------------------------
// 12. map and search

async fn map_and_search_listing(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let mk = |name: &str, address: &str, lat: f64, lng: f64| {
        with(station(name, lat, lng), "address", json!(address))
    };
    for form in [
        mk(
            "郑州东站爱心驿站",
            "郑州市郑东新区心怡路",
            34.7571,
            113.7783,
        ),
        mk("金水区工会驿站", "郑州市金水区花园路100号", 34.78, 113.68),
        mk("二七广场驿站", "郑州市二七区解放路", 34.756, 113.66),
        with(
            mk("郑州司机之家", "郑州市中牟县绿博大道", 34.72, 113.9),
            "kind",
            json!("driver_home"),
        ),
        with(
            mk("暂停开放驿站", "郑州市惠济区", 34.85, 113.62),
            "status",
            json!("temporarily_closed"),
        ),
        with(
            mk("已关闭驿站", "郑州市花园路1号", 34.75, 113.7),
            "status",
            json!("closed"),
        ),
    ] {
        w.create(&sm, &form).await;
    }
    w.create(
        &w.root,
        &with(
            mk("洛阳西站驿站", "洛阳市西工区", 34.62, 112.4),
            "org_id",
            json!(w.ly),
        ),
    )
    .await;

    let zhengzhou = "113.5,34.6,114.0,34.9";
    assert_eq!(
        names(&w.worker_points(&format!("?bbox={zhengzhou}")).await),
        str_set(&[
            "郑州东站爱心驿站",
            "金水区工会驿站",
            "二七广场驿站",
            "郑州司机之家",
            "暂停开放驿站"
        ])
    );
    assert_eq!(
        names(&w.worker_points("?bbox=112.0,34.4,112.8,34.8").await),
        str_set(&["洛阳西站驿站"])
    );
    assert!(w.worker_points("?bbox=100,20,100.5,20.5").await.is_empty());
    // q: the name or the address.
    assert_eq!(
        names(&w.worker_points("?q=花园路").await),
        str_set(&["金水区工会驿站"]),
        "by address (the closed one left out)"
    );
    assert_eq!(
        names(&w.worker_points("?q=东站").await),
        str_set(&["郑州东站爱心驿站"]),
        "by name"
    );
    assert_eq!(
        names(&w.worker_points(&format!("?q=驿站&bbox={zhengzhou}")).await),
        str_set(&[
            "郑州东站爱心驿站",
            "金水区工会驿站",
            "二七广场驿站",
            "暂停开放驿站"
        ])
    );
    assert_eq!(
        names(&w.worker_points("?kind=driver_home").await),
        str_set(&["郑州司机之家"])
    );
    assert!(w.worker_points("?q=100%").await.is_empty(), "% is literal");

    // Paging: every point once.
    let paged = all_pages(&w.app, None, POINTS, 2).await;
    let ids: Vec<String> = paged.iter().map(id).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert_eq!(unique.len(), 6, "a point came twice: {ids:?}");
    assert!(!names(&paged).contains("已关闭驿站"));

    // Malformed filters.
    for bbox in [
        "113.5,34.6,114.0",
        "114.0,34.6,113.5,34.9",
        "a,b,c,d",
        "113.5,34.6,114.0,95",
        "113.5,34.6,114.0,34.9,1",
        // Plain decimals only, as the contract's pattern says, and an empty one is no box.
        "113.5,34.6,1e2,34.9",
        "113.5, 34.6,114.0,34.9",
        "",
    ] {
        assert_invalid(
            w.app.get(&format!("{POINTS}?bbox={bbox}"), None).await,
            &[("bbox", "invalid")],
        )
        .await;
    }
    for kind in ["castle", ""] {
        assert_invalid(
            w.app.get(&format!("{POINTS}?kind={kind}"), None).await,
            &[("kind", "not_allowed")],
        )
        .await;
    }
    assert_invalid(
        w.app
            .get(&format!("{POINTS}?q={}", "驿".repeat(51)), None)
            .await,
        &[("q", "too_long")],
    )
    .await;
    assert_invalid(
        w.app.get(&format!("{POINTS}?limit=101"), None).await,
        &[("limit", "out_of_range")],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// 9. two processes

/// A second API process on `first`'s database (and Redis prefix, and data directory, so the
/// keys match), syncing its index every 100 ms.
async fn second_process(first: &TestApp) -> TestApp {
    let database_url = first.settings.database_url.clone();
    let prefix = first.settings.redis_prefix.clone();
    let dir = first.settings.data_dir.clone();
    TestApp::spawn_with(first.shape, move |s| {
        s.database_url = database_url;
        s.redis_prefix = prefix;
        s.data_dir = dir;
        s.lookup_rate_per_minute = 100_000;
        s.service_point_sync_ms = 100;
    })
    .await
}

async fn two_processes_share_one_catalogue(shape: Shape) {
    let w = Sp::new(shape).await;
    let b = second_process(&w.app).await;
    assert_eq!(b.database_url(), w.app.database_url());
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let query = "lat=34.7571&lng=113.7783&radius_m=3000";
    assert_eq!(nearby_of(&b, query).await["items"], json!([]));

    // Created through A: B's lookup finds it within its sync interval.
    let point = id(&w
        .create(
            &sm,
            &station("东站驿站", EAST_STATION.0 + 0.001, EAST_STATION.1),
        )
        .await);
    assert_eq!(w.nearby(query).await["items"][0]["id"], point.as_str());
    let seen = wait_for_nearby(&b, query, "B sees the new point", |items| {
        items.iter().any(|i| id(i) == point)
    })
    .await;
    assert_eq!(seen[0]["name"], "东站驿站");
    assert_eq!(seen[0]["distance_m"], 111);

    // Changed through A: B follows.
    let moved = with(
        station("东站驿站（改）", EAST_STATION.0 + 0.01, EAST_STATION.1),
        "status",
        json!("temporarily_closed"),
    );
    expect(w.put(&sm, &point, &moved).await, StatusCode::OK).await;
    wait_for_nearby(&b, query, "B sees the change", |items| {
        items.len() == 1
            && items[0]["name"] == "东站驿站（改）"
            && items[0]["open_now"] == false
            && items[0]["distance_m"].as_u64().unwrap() > 1000
    })
    .await;

    // An import through A.
    let report = w.import_csv(&sm, "", real_file()).await;
    assert_eq!(report["created"], 82);
    let wide = "lat=34.7571&lng=113.7783&radius_m=50000&limit=100";
    let on_a: Vec<String> = w.nearby(wide).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(
        on_a.len(),
        70,
        "69 stations within 50 km, and the moved point"
    );
    wait_for_nearby(&b, wide, "B sees the import", |items| {
        items.iter().map(id).collect::<Vec<_>>() == on_a
    })
    .await;

    // Deleted through A: gone from B.
    let resp = w.delete(&sm, &point).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    wait_for_nearby(&b, query, "B forgets the deleted point", |items| {
        !items.iter().any(|i| id(i) == point)
    })
    .await;
    assert_problem(
        b.get(&format!("{POINTS}/{point}"), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    drop(b);
}

// ---------------------------------------------------------------------------------------------
// 10. visits

async fn visit(w: &Sp, tok: Option<&str>, point: &str, lat: f64, lng: f64) -> Response {
    w.app
        .post(
            &format!("{POINTS}/{point}/visits"),
            &json!({ "lat": lat, "lng": lng }),
            tok,
        )
        .await
}

async fn visits_within_500_m_count_once_a_day(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let ly_sm = w.official("ly-station", &w.ly, "station_manager").await;
    let (lat, lng) = EAST_STATION;
    let point = id(&w.create(&sm, &station("东站驿站", lat, lng)).await);
    let paused = id(&w
        .create(
            &sm,
            &with(
                station("暂停驿站", lat, lng + 0.001),
                "status",
                json!("temporarily_closed"),
            ),
        )
        .await);
    let ann = w.worker("ann").await;
    let bob = w.worker("bob").await;

    // About 334 m north: counted.
    let first = expect(
        visit(&w, Some(&ann), &point, lat + 0.003, lng).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(first["counted"], true);
    assert_eq!(first["service_point_id"], point.as_str());
    assert_eq!(first["visited_on"], china_today());
    let d = first["distance_m"].as_u64().unwrap();
    assert!((330..=340).contains(&d), "{first}");
    // Again the same day: answered, not counted again.
    let again = expect(
        visit(&w, Some(&ann), &point, lat, lng).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["counted"], false);
    // About 611 m away: too far.
    let problem = assert_problem_zh(
        visit(&w, Some(&bob), &point, lat + 0.0055, lng).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_far",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("500"),
        "{problem}"
    );
    // A temporarily closed point takes no check-ins.
    assert_problem_zh(
        visit(&w, Some(&bob), &paused, lat, lng + 0.001).await,
        StatusCode::CONFLICT,
        "service_point_closed",
    )
    .await;
    // Not logged in; an official; a bad coordinate; no such point.
    assert_problem(
        visit(&w, None, &point, lat, lng).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_problem(
        visit(&w, Some(&sm), &point, lat, lng).await,
        StatusCode::FORBIDDEN,
        "wrong_account_kind",
    )
    .await;
    assert_invalid(
        visit(&w, Some(&bob), &point, 91.0, lng).await,
        &[("lat", "out_of_range")],
    )
    .await;
    assert_problem(
        visit(&w, Some(&bob), &uuid::Uuid::new_v4().to_string(), lat, lng).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let stored: i64 = db(&w.app, |c| {
        service_point_visits::table.count().get_result(c).unwrap()
    })
    .await;
    assert_eq!(stored, 1);

    // The officials' counts: one visit today at that point.
    let today = china_today();
    let counts = expect(w.app.get(VISIT_COUNTS, Some(&sm)).await, StatusCode::OK).await;
    assert_eq!(counts["total"], 1, "{counts}");
    assert_view("visit_report", &counts);
    assert_eq!(
        counts["items"],
        json!([{ "service_point_id": point, "name": "东站驿站", "date": today, "visits": 1 }])
    );
    assert_eq!(counts["to"], today.as_str());
    // Scope: the other branch has none, and may not look into this one.
    let other = expect(
        w.app
            .get(&format!("{VISIT_COUNTS}?org_id={}", w.ly), Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(other["total"], 0, "{other}");
    assert_eq!(other["items"], json!([]));
    let mine = expect(
        w.app
            .get(&format!("{VISIT_COUNTS}?org_id={}", w.zz), Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine["total"], 1);
    let theirs = expect(w.app.get(VISIT_COUNTS, Some(&ly_sm)).await, StatusCode::OK).await;
    assert_eq!(theirs["total"], 0, "{theirs}");
    assert_problem(
        w.app
            .get(&format!("{VISIT_COUNTS}?org_id={}", w.zz), Some(&ly_sm))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // A second worker counts; the paused point still has none.
    expect(
        visit(&w, Some(&bob), &point, lat - 0.002, lng).await,
        StatusCode::CREATED,
    )
    .await;
    let counts = expect(w.app.get(VISIT_COUNTS, Some(&sm)).await, StatusCode::OK).await;
    assert_eq!(counts["total"], 2);
    assert_eq!(counts["items"][0]["visits"], 2);
    let only_paused = expect(
        w.app
            .get(
                &format!("{VISIT_COUNTS}?service_point_id={paused}"),
                Some(&sm),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(only_paused["total"], 0);
    // Yesterday had none.
    let yesterday = (china_now().date() - chrono::Duration::days(1)).to_string();
    let past = expect(
        w.app
            .get(
                &format!("{VISIT_COUNTS}?from={yesterday}&to={yesterday}"),
                Some(&sm),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(past["total"], 0);
}

// ---------------------------------------------------------------------------------------------
// 11. reviews

async fn rate(w: &Sp, tok: &str, point: &str, body: Value) -> Response {
    w.app
        .post(&format!("{POINTS}/{point}/reviews"), &body, Some(tok))
        .await
}

async fn public_reviews(w: &Sp, point: &str) -> Vec<Value> {
    all_pages(&w.app, None, &format!("{POINTS}/{point}/reviews"), 100).await
}

async fn stored_reviews(w: &Sp) -> i64 {
    db(&w.app, |c| {
        service_point_reviews::table.count().get_result(c).unwrap()
    })
    .await
}

async fn reviews_are_checked_moderated_and_averaged(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let ly_sm = w.official("ly-station", &w.ly, "station_manager").await;
    let point = id(&w
        .create(&sm, &station("东站驿站", EAST_STATION.0, EAST_STATION.1))
        .await);
    let ann = w.worker("ann").await;
    let bob = w.worker("bob").await;
    let cai = w.worker("cai").await;

    // Only a worker who checked in there may rate it: before that, refused, nothing stored.
    let problem = assert_problem_zh(
        rate(&w, &ann, &point, json!({ "rating": 1 })).await,
        StatusCode::FORBIDDEN,
        "not_visited",
    )
    .await;
    assert_eq!(problem["detail"], "到访打卡后才能评价该服务阵地");
    assert_eq!(stored_reviews(&w).await, 0);
    for tok in [&ann, &bob, &cai] {
        expect(
            visit(&w, Some(tok), &point, EAST_STATION.0, EAST_STATION.1).await,
            StatusCode::CREATED,
        )
        .await;
    }

    // Four stars without a comment: shown at once.
    let first = expect(
        rate(&w, &ann, &point, json!({ "rating": 4 })).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(first["moderation"], "shown");
    assert_eq!(first["rating"], 4);
    let seen = w.show(&point).await;
    assert_eq!(seen["rating_average"], 4.0);
    assert_eq!(seen["rating_count"], 1);

    // A comment WeChat calls risky: refused, nothing stored.
    let problem = assert_problem_zh(
        rate(
            &w,
            &bob,
            &point,
            json!({ "rating": 1, "comment": "this place is risky" }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "content_risky",
    )
    .await;
    assert_eq!(
        error_fields(&problem),
        pairs(&[("comment", "content_risky")])
    );
    assert_eq!(stored_reviews(&w).await, 1);

    // A comment WeChat wants checked: held, not shown, not counted.
    let held = expect(
        rate(
            &w,
            &bob,
            &point,
            json!({ "rating": 2, "comment": "饮水机坏了，待审" }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(held["moderation"], "held");
    assert_eq!(public_reviews(&w, &point).await.len(), 1);
    let seen = w.show(&point).await;
    assert_eq!(seen["rating_average"], 4.0);
    assert_eq!(seen["rating_count"], 1);
    let queue = all_pages(
        &w.app,
        Some(&sm),
        &format!("{ADMIN}/{point}/reviews?moderation=held"),
        100,
    )
    .await;
    assert_eq!(strings(&queue, "id"), [id(&held)]);
    assert_eq!(queue[0]["comment"], "饮水机坏了，待审");
    assert_view("admin_reviews_held", &json!(queue));

    // Another branch cannot decide; the station manager approves: shown and counted.
    let approve = format!("{ADMIN}/{point}/reviews/{}/approve", id(&held));
    assert_problem(
        w.app.post(&approve, &json!({}), Some(&ly_sm)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let approved = expect(
        w.app.post(&approve, &json!({}), Some(&sm)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(approved["moderation"], "shown");
    let shown = public_reviews(&w, &point).await;
    assert_eq!(shown.len(), 2);
    assert!(shown.iter().any(|r| r["comment"] == "饮水机坏了，待审"));
    assert_view("public_reviews", &json!(sorted_by(&shown, "comment")));
    assert!(
        shown.iter().all(|r| r.get("id").is_none()),
        "authors stay private"
    );
    let seen = w.show(&point).await;
    assert_eq!(seen["rating_average"], 3.0);
    assert_eq!(seen["rating_count"], 2);
    assert_problem_zh(
        w.app.post(&approve, &json!({}), Some(&sm)).await,
        StatusCode::CONFLICT,
        "review_not_held",
    )
    .await;

    // Reviewing again replaces the worker's earlier review.
    let second = expect(
        rate(
            &w,
            &ann,
            &point,
            json!({ "rating": 5, "comment": "水很干净，座椅舒服" }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(second["moderation"], "shown");
    assert_eq!(stored_reviews(&w).await, 2);
    let shown = public_reviews(&w, &point).await;
    assert_eq!(shown.len(), 2);
    let ratings: HashSet<u64> = shown
        .iter()
        .map(|r| r["rating"].as_u64().unwrap())
        .collect();
    assert_eq!(ratings, HashSet::from([5, 2]));
    let seen = w.show(&point).await;
    assert_eq!(seen["rating_average"], 3.5);
    assert_eq!(seen["rating_count"], 2);

    // A refused review stays out.
    let held = expect(
        rate(
            &w,
            &cai,
            &point,
            json!({ "rating": 1, "comment": "please review this" }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(held["moderation"], "held");
    let refused = expect(
        w.app
            .post(
                &format!("{ADMIN}/{point}/reviews/{}/refuse", id(&held)),
                &json!({}),
                Some(&sm),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(refused["moderation"], "refused");
    assert_eq!(public_reviews(&w, &point).await.len(), 2);
    assert_eq!(w.show(&point).await["rating_count"], 2);

    // Bad ratings and no login.
    for rating in [0, 6] {
        assert_invalid(
            rate(&w, &cai, &point, json!({ "rating": rating })).await,
            &[("rating", "out_of_range")],
        )
        .await;
    }
    assert_invalid(
        rate(
            &w,
            &cai,
            &point,
            json!({ "rating": 3, "comment": "好".repeat(301) }),
        )
        .await,
        &[("comment", "too_long")],
    )
    .await;
    assert_problem(
        w.app
            .post(
                &format!("{POINTS}/{point}/reviews"),
                &json!({ "rating": 5 }),
                None,
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(stored_reviews(&w).await, 3);
    let seen = w.show(&point).await;
    assert_eq!(seen["rating_average"], 3.5);
}

// ---------------------------------------------------------------------------------------------
// 13. the command line

async fn the_cli_imports_the_real_file(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let path = std::path::Path::new(REAL_FILE);
    let settings = w.app.settings.clone();

    // A dry run, the organisation by name: reports, writes nothing.
    yiwang_api::cli::import_service_points(
        &settings,
        path,
        Some("郑州市总工会"),
        ImportOptions {
            dry_run: true,
            skip_invalid: false,
        },
    )
    .await
    .unwrap();
    assert!(w.admin_points(&sm, "").await.is_empty());

    // An unknown organisation, a bad file: errors, nothing written.
    let err = yiwang_api::cli::import_service_points(
        &settings,
        path,
        Some("不存在的工会"),
        ImportOptions::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("不存在的工会"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "name,category,address,lng,lat\n东站驿站,爱心驿站,郑州东站,113.7783,34.7571\n坏驿站,爱心驿站,郑州,113.7,95\n",
    )
    .unwrap();
    let err = yiwang_api::cli::import_service_points(
        &settings,
        &bad,
        Some(&w.zz),
        ImportOptions::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(is_chinese(&err), "{err}");
    assert!(w.admin_points(&sm, "").await.is_empty());

    // The real run, the organisation by id: every row, and the running server's lookup
    // learns of them.
    yiwang_api::cli::import_service_points(&settings, path, Some(&w.zz), ImportOptions::default())
        .await
        .unwrap();
    let all = w.admin_points(&sm, "").await;
    assert_eq!(all.len(), 82);
    assert!(all.iter().all(|p| p["org_id"] == w.zz.as_str()));
    assert_eq!(w.admin_points(&sm, "?flagged=true").await.len(), 4);
    let items = wait_for_nearby(
        &w.app,
        "lat=34.7571&lng=113.7783&amenity=drinking_water",
        "the server sees the command line's import",
        |items| items.len() == 3,
    )
    .await;
    assert_nearest_first(&items, EAST_STATION, 5000.0);
    // Again: nothing new.
    yiwang_api::cli::import_service_points(&settings, path, Some(&w.zz), ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(w.admin_points(&sm, "").await.len(), 82);
    // Skipping the bad row imports the good one.
    yiwang_api::cli::import_service_points(
        &settings,
        &bad,
        Some(&w.ly),
        ImportOptions {
            dry_run: false,
            skip_invalid: true,
        },
    )
    .await
    .unwrap();
    let ly = w.admin_points(&w.root, &format!("?org_id={}", w.ly)).await;
    assert_eq!(names(&ly), str_set(&["东站驿站"]));
}

// ---------------------------------------------------------------------------------------------
// size limits

/// A workbook of two cells: a header in A1 and `x` at (`row`, `column`).
fn two_cell_workbook(row: u32, column: u16) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "名称").unwrap();
    sheet.write_string(row, column, "x").unwrap();
    book.save_to_buffer().unwrap()
}

async fn a_spreadsheet_declaring_the_whole_grid_is_refused_and_the_server_lives(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    // A1 and XFD1048576 in a few KB: read by its declared size it needs 512 GiB.
    let bomb = two_cell_workbook(1_048_575, 16_383);
    for query in ["?dry_run=true", ""] {
        assert_problem_zh(
            w.import(&sm, query, bomb.clone(), XLSX_TYPE).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_columns",
        )
        .await;
    }
    assert_problem_zh(
        w.import(&sm, "", two_cell_workbook(1_048_575, 1), XLSX_TYPE)
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_rows",
    )
    .await;
    // A few KB that say they unpack to 2.25 GiB, and a part that unpacks to more than it says.
    let small = two_cell_workbook(1, 1);
    let claims_gigabytes = with_declared_size(small.clone(), "xl/sharedStrings.xml", 0x9000_0000);
    assert_problem_zh(
        w.import(&sm, "?dry_run=true", claims_gigabytes, XLSX_TYPE)
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "unpacked_too_large",
    )
    .await;
    let understated = with_declared_size(small, "xl/sharedStrings.xml", 10);
    let body = assert_problem_zh(
        w.import(&sm, "", understated, XLSX_TYPE).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "file_unreadable",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("Excel"), "{body}");
    let wide = format!("{}\n", vec!["名称"; 101].join(","));
    assert_problem_zh(
        w.import(&sm, "", wide.into_bytes(), "text/csv").await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_columns",
    )
    .await;
    // Still serving, nothing written.
    assert_eq!(w.app.get("/healthz", None).await.status(), StatusCode::OK);
    assert!(w.admin_points(&sm, "").await.is_empty());
}

async fn large_files_import_and_oversized_ones_are_refused(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    // 5,000 rows (about 450 KB, well over the framework's default body limit).
    let big: String = std::iter::once("id,name,category,address,lng,lat\n".to_owned())
        .chain((0..5000).map(|i| {
            let step = f64::from(i) * 0.0001;
            format!(
                "b{i},大文件驿站{i},爱心驿站,郑州市金水区某某路{i}号,{:.4},{:.4}\n",
                113.5 + step,
                34.5 + step
            )
        }))
        .collect();
    let report = w.import_csv(&sm, "", big.into_bytes()).await;
    assert_eq!(report["rows_read"], 5000);
    assert_eq!(report["created"], 5000, "{report}");
    let near = w.nearby("lat=34.5&lng=113.5&radius_m=100&limit=5").await;
    assert_eq!(near["items"][0]["name"], "大文件驿站0", "{near}");

    // Over 10 MiB: 413 in the usual envelope, whether just over or far over.
    let just_over = vec![b'a'; 10 * 1024 * 1024 + 1];
    assert_problem_zh(
        w.import(&sm, "", just_over, "text/csv").await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let far_over = vec![b'a'; 11 * 1024 * 1024];
    assert_problem_zh(
        w.import(&sm, "", far_over, "text/csv").await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert_eq!(w.admin_points(&sm, "?q=大文件驿站0").await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// round trips an official would expect

/// An exported file imports back without a change (issue #4: export of the current filter;
/// re-import idempotent by external id): a point's dated exceptions (holiday closures) must
/// survive it.
async fn export_and_reimport_keep_dated_exceptions(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let form = with(
        with(
            station("国庆闭馆驿站", 34.75, 113.7),
            "external_id",
            json!("E-1"),
        ),
        "exceptions",
        json!([{ "date": "2026-10-01", "hours": "closed" }]),
    );
    let point = id(&w.create(&sm, &form).await);
    let before = w.show(&point).await;
    assert_eq!(
        before["hours"]["exceptions"],
        json!([{ "date": "2026-10-01", "hours": "" }])
    );

    for query in ["", "?format=csv"] {
        let (file, _) = export(&w, &sm, query).await;
        let content_type = if query.is_empty() {
            XLSX_TYPE
        } else {
            "text/csv"
        };
        let back = expect(w.import(&sm, "", file, content_type).await, StatusCode::OK).await;
        let after = w.show(&point).await;
        assert_eq!(
            after["hours"], before["hours"],
            "the round trip ({query:?}) lost the exceptions; import said {back}"
        );
        assert_eq!(
            (&back["updated"], &back["unchanged"]),
            (&json!(0), &json!(1)),
            "{back}"
        );
    }
}

/// Deleting a point takes it out of every list; its external id is then free: creating a
/// point with it must not answer "the organisation already has a service point with this
/// external id".
async fn a_deleted_points_external_id_can_be_used_again(shape: Shape) {
    let w = Sp::new(shape).await;
    let sm = w.official("zz-station", &w.zz, "station_manager").await;
    let form = with(
        station("东站驿站", 34.7571, 113.7783),
        "external_id",
        json!("R-1"),
    );
    let first = id(&w.create(&sm, &form).await);
    let resp = w.delete(&sm, &first).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(w.admin_points(&sm, "").await.is_empty());

    let again = expect(
        w.app
            .post(
                ADMIN,
                &with(form, "name", json!("东站驿站（新）")),
                Some(&sm),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(again["external_id"], "R-1");
    assert_eq!(
        names(&w.admin_points(&sm, "").await),
        str_set(&["东站驿站（新）"])
    );
}
