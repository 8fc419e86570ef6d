//! The officials' current filter exported as XLSX or CSV. The columns carry the import's
//! header names, so an exported file edited in Excel imports back: re-import matches points by
//! `external_id`, so points created without one come back as new points.

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpResponse};
use rust_xlsxwriter::{Workbook, XlsxError};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::calendar::china_date;
use yiwang_domain::clock;
use yiwang_domain::service_point::ServicePoint;
use yiwang_domain::store::PageRequest;
use yiwang_infra::spreadsheet;

use super::AdminListParams;
use crate::error::{ApiError, Problem};
use crate::routes::service_points::ExceptionView;
use crate::routes::shared::responses::{MalformedQuery, NotLoggedIn};
use crate::routes::shared::spreadsheet::{build, download, heading, XlsxFile, XLSX};
use crate::routes::shared::Query;
use crate::state::AppState;

/// Most points one export holds.
pub const EXPORT_MAX_ROWS: usize = 50_000;

/// Header names (the import reads them back) and column widths in characters.
const COLUMNS: [(&str, f64); 19] = [
    ("external_id", 14.0),
    ("name", 30.0),
    ("kind", 22.0),
    ("address", 40.0),
    ("province", 10.0),
    ("city", 10.0),
    ("district", 10.0),
    ("lng", 12.0),
    ("lat", 12.0),
    ("datum", 8.0),
    ("open_hours", 30.0),
    ("exceptions", 30.0),
    ("amenities", 30.0),
    ("contact_phone", 16.0),
    ("status", 18.0),
    ("star_grade", 10.0),
    ("coord_quality", 30.0),
    ("rating_average", 12.0),
    ("service_point_id", 38.0),
];

fn cells(p: &ServicePoint) -> [String; 19] {
    let d = &p.draft;
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    [
        text(&d.external_id),
        d.name.clone(),
        d.kind.as_str().to_owned(),
        d.address.clone(),
        text(&d.province),
        text(&d.city),
        text(&d.district),
        format!("{:.6}", d.point.lng),
        format!("{:.6}", d.point.lat),
        "GCJ-02".to_owned(),
        d.schedule.text.clone(),
        d.schedule
            .exceptions
            .iter()
            .map(|e| {
                let hours = ExceptionView::from(e).hours;
                let hours = if hours.is_empty() {
                    "closed".to_owned()
                } else {
                    hours
                };
                format!("{} {hours}", e.date)
            })
            .collect::<Vec<_>>()
            .join("; "),
        d.amenities
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        text(&d.phone),
        d.status.as_str().to_owned(),
        d.star_grade.map(|g| g.to_string()).unwrap_or_default(),
        text(&d.quality_note),
        p.rating_average
            .map(|a| format!("{a:.1}"))
            .unwrap_or_default(),
        p.id.to_string(),
    ]
}

fn xlsx(points: &[ServicePoint]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("服务阵地")?;
    heading(sheet, &COLUMNS)?;
    for (row, p) in (1u32..).zip(points) {
        for (col, value) in (0u16..).zip(cells(p)) {
            sheet.write_string(row, col, value)?;
        }
    }
    let last_row = u32::try_from(points.len()).unwrap_or(u32::MAX);
    sheet.autofilter(0, 0, last_row, 18)?;
    sheet.set_freeze_panes(1, 0)?;
    book.save_to_buffer()
}

fn csv(points: &[ServicePoint]) -> Result<Vec<u8>, csv::Error> {
    // A UTF-8 byte-order mark, so Excel on Chinese Windows opens it as UTF-8.
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        writer.write_record(COLUMNS.map(|(title, _)| title))?;
        for p in points {
            // No cell may start a formula in Excel or WPS (OWASP, CSV Injection).
            writer.write_record(
                cells(p)
                    .iter()
                    .map(|c| spreadsheet::csv_cell(c).into_owned()),
            )?;
        }
        writer.flush()?;
    }
    Ok(out)
}

/// The file format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportFormat {
    /// `xlsx` (default) or `csv` (UTF-8 with a byte-order mark; a cell that would start a
    /// formula — `=`, `+`, `-`, `@`, tab, CR — gets a leading `'`, dropped again on import).
    #[param(inline, value_type = Option<SpreadsheetFormat>)]
    pub format: Option<String>,
}

/// A spreadsheet file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum SpreadsheetFormat {
    /// Office Open XML workbook.
    Xlsx,
    /// Comma-separated values, UTF-8 with a byte-order mark.
    Csv,
}

impl SpreadsheetFormat {
    /// The format a `format` parameter names (absent: XLSX); anything else — an empty
    /// `format=` too — is 422 listing the two.
    fn of(format: Option<&str>) -> Result<Self, ApiError> {
        match format {
            None | Some("xlsx") => Ok(Self::Xlsx),
            Some("csv") => Ok(Self::Csv),
            Some(_) => Err(ApiError::not_one_of("format", &["xlsx", "csv"])),
        }
    }
}

/// Every point in the caller's subtree matching the filter, as XLSX or CSV that imports back.
#[utoipa::path(get, tag = "admin: service points", security(("bearer" = [])),
    params(AdminListParams, ExportFormat),
    responses(
        (status = 200, description = "The file (`service-points-YYYYMMDD.xlsx` or `.csv`)", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = XlsxFile),
        (status = 403, description = "Role may not read service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org_id` not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad filter or format, or `export_too_large`: more than 50,000 points match", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/service-points/export")]
pub async fn export(
    state: web::Data<AppState>,
    admin: crate::auth::Admin,
    params: Query<AdminListParams>,
    format: Query<ExportFormat>,
) -> Result<HttpResponse, ApiError> {
    let format = SpreadsheetFormat::of(format.format.as_deref())?;
    let filter = params.filter(&state, &admin).await?;
    let mut points = Vec::new();
    let mut request = PageRequest {
        after: None,
        limit: 1000,
    };
    loop {
        let page = state.service_points.search(&filter, &request).await?;
        points.extend(page.items);
        request.after = page.next;
        let full = request.after.is_some();
        if points.len() > EXPORT_MAX_ROWS {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "export_too_large",
                format!("符合条件的服务阵地超过 {EXPORT_MAX_ROWS} 个，请按组织或类型分批导出"),
                format!("More than {EXPORT_MAX_ROWS} points match; export in parts"),
            ));
        }
        if !full {
            break;
        }
    }
    let day = china_date(clock::now()).format("%Y%m%d");
    let (bytes, content_type, name) = if format == SpreadsheetFormat::Csv {
        let bytes = build(move || csv(&points)).await?;
        (
            bytes,
            "text/csv; charset=utf-8",
            format!("service-points-{day}.csv"),
        )
    } else {
        let bytes = build(move || xlsx(&points)).await?;
        (bytes, XLSX, format!("service-points-{day}.xlsx"))
    };
    Ok(download(content_type, name).body(bytes))
}
