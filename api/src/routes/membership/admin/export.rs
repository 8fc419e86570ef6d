//! The member search exported to Excel (`.xlsx`, written with rust_xlsxwriter): the same
//! filters as `GET /api/v1/admin/members`, every matching member, ID and phone numbers
//! masked. Each export is written to the audit log with its filter and row count.

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpResponse};
use chrono::Datelike;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};
use serde_json::json;
use yiwang_domain::calendar::china_date;
use yiwang_domain::clock;
use yiwang_domain::membership::member::Member;

use super::{member_filter, MemberQuery};
use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::account::me::mask_phone;
use crate::routes::shared::responses::{MalformedQuery, NotLoggedIn, SessionStoreDown};
use crate::routes::shared::spreadsheet::{build, download, heading, XlsxFile, XLSX};
use crate::routes::shared::Query;
use crate::state::AppState;

/// Most rows one export holds; a larger result asks for a narrower filter (e.g. one
/// organisation), which keeps the workbook a few megabytes in memory.
pub const EXPORT_MAX_ROWS: u32 = 50_000;

/// Column headings (Chinese, as officials read them) and widths in characters.
const COLUMNS: [(&str, f64); 9] = [
    ("会员编号", 18.0),
    ("姓名", 12.0),
    ("身份证号码", 22.0),
    ("手机号码", 14.0),
    ("就业形态", 14.0),
    ("所属工会", 30.0),
    ("入会日期", 12.0),
    ("状态", 8.0),
    ("退会日期", 12.0),
];

/// Writes `members` as one worksheet: a bold heading row kept in view, a filter on every
/// column, dates as Excel dates.
fn workbook(members: &[Member]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("会员")?;
    heading(sheet, &COLUMNS)?;
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let excel_date = |d: chrono::NaiveDate| {
        ExcelDateTime::from_ymd(
            u16::try_from(d.year()).unwrap_or(1900),
            u8::try_from(d.month()).unwrap_or(1),
            u8::try_from(d.day()).unwrap_or(1),
        )
    };
    for (row, m) in (1u32..).zip(members) {
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        sheet.write_string(row, 0, &m.member_number)?;
        sheet.write_string(row, 1, text(&m.real_name))?;
        sheet.write_string(row, 2, text(&m.id_number_masked))?;
        sheet.write_string(
            row,
            3,
            m.phone.as_deref().map(mask_phone).unwrap_or_default(),
        )?;
        sheet.write_string(row, 4, m.employment_form.zh())?;
        sheet.write_string(row, 5, &m.org_name)?;
        sheet.write_with_format(row, 6, &excel_date(m.joined_on)?, &date)?;
        sheet.write_string(row, 7, m.status.zh())?;
        if let Some(ended) = m.ended_at {
            sheet.write_with_format(row, 8, &excel_date(china_date(ended))?, &date)?;
        }
    }
    let last_row = u32::try_from(members.len()).unwrap_or(u32::MAX);
    sheet.autofilter(0, 0, last_row, 8)?;
    sheet.set_freeze_panes(1, 0)?;
    book.save_to_buffer()
}

/// Every member in the caller's subtree matching the filter, as an Excel workbook (masked).
#[utoipa::path(get, tag = "admin: membership", security(("bearer" = [])),
    params(MemberQuery),
    responses(
        (status = 200, description = "The workbook (`members-YYYYMMDD.xlsx`)", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = XlsxFile),
        (status = 403, description = "Role may not read membership, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org_id` not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad status or q, or `export_too_large`: more than 50,000 members match", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn, SessionStoreDown,
    ))]
#[get("/admin/members/export")]
pub async fn export(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<MemberQuery>,
) -> Result<HttpResponse, ApiError> {
    admin.authorize(Permission::ReadMembership, &admin.org_path)?;
    let filter = member_filter(&state, &admin, &query).await?;
    let change = admin.principal.change(
        "members.export",
        "member",
        "*",
        json!({
            "org_id": query.org_id, "q": filter.q, "status": query.status, "format": "xlsx",
        }),
        None,
    );
    let members = state
        .membership
        .export_members(&admin.org_path, &filter, EXPORT_MAX_ROWS, &change)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "export_too_large",
                format!("符合条件的会员超过 {EXPORT_MAX_ROWS} 人，请按下级工会组织或状态分批导出"),
                format!("More than {EXPORT_MAX_ROWS} members match; export by organisation or status in parts"),
            )
        })?;
    let bytes = build(move || workbook(&members)).await?;
    let name = format!("members-{}.xlsx", china_date(clock::now()).format("%Y%m%d"));
    Ok(download(XLSX, name).body(bytes))
}
