//! Bulk import of service points from a spreadsheet (CSV — UTF-8 or GBK — or XLSX), by HTTP
//! and by `yiwang import service-points` ([`run_import`] serves both). Every row is read and
//! checked first; a dry run reports every problem and warning by row and column, and what the
//! import would create, update and leave, and writes nothing. A real
//! import writes nothing when any row is bad, unless asked to skip bad rows; it is one
//! transaction, and re-importing the same file changes nothing (points are matched by their
//! external id within the organisation).

use actix_web::http::StatusCode;
use actix_web::{post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::audit::{Change, OutboxEvent};
use yiwang_domain::clock;
use yiwang_domain::org::Organisation;
use yiwang_domain::service_point::import::{ImportPlan, ImportProblem};
use yiwang_domain::service_point::store::ServicePointRepository;
use yiwang_domain::store::RepoError;
use yiwang_infra::spreadsheet::{self, SheetError};

use super::{org_in_scope, refresh_index};
use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::NotLoggedIn;
use crate::routes::shared::Query;
use crate::state::AppState;

/// Options of an import.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportOptions {
    /// Check and report only; write nothing (default false).
    #[serde(default)]
    pub dry_run: bool,
    /// Import the good rows and skip the bad ones (default false: any bad row stops the
    /// import).
    #[serde(default)]
    pub skip_invalid: bool,
}

/// One problem, where the official finds it in the spreadsheet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportProblemView {
    /// Spreadsheet row (the header is row 1); 0 for the whole file.
    pub row: usize,
    /// The column header as written in the file.
    pub column: Option<String>,
    /// The field it maps to (`lat`, `amenities`, …).
    pub field: Option<&'static str>,
    /// Stable code: `required`, `not_allowed`, `out_of_range`, `not_a_number`, `too_long`,
    /// `duplicate`, `datum`, `missing_column`, `duplicate_column`, `too_many_rows`, `invalid`.
    pub code: &'static str,
    /// What is wrong (Chinese).
    pub detail: String,
}

impl From<ImportProblem> for ImportProblemView {
    fn from(p: ImportProblem) -> Self {
        Self {
            row: p.row,
            column: p.column,
            field: p.field,
            code: p.code,
            detail: p.zh,
        }
    }
}

/// What an import did, or would do.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether anything was written.
    pub imported: bool,
    /// `utf-8`, `gbk` or `xlsx`.
    pub encoding: &'static str,
    /// Data rows read (blank rows not counted).
    pub rows_read: usize,
    /// Rows without a problem.
    pub valid_rows: usize,
    /// Rows with at least one problem.
    pub invalid_rows: usize,
    /// New points (a dry run: the valid rows that would be new).
    pub created: u32,
    /// Points found by external id and changed (a dry run: that would change).
    pub updated: u32,
    /// Points found by external id and already the same.
    pub unchanged: u32,
    /// Bad rows left out (`skip_invalid`; a dry run: that would be).
    pub skipped: usize,
    /// Headers no field uses.
    pub ignored_columns: Vec<String>,
    /// Every problem, by row then column: each keeps its row out.
    pub problems: Vec<ImportProblemView>,
    /// What good rows carry that an official should check — `suspect_coordinates`,
    /// `hours_unreadable`, `phone_masked` — by row; those rows are imported all the same.
    pub warnings: Vec<ImportProblemView>,
}

/// Why an import wrote nothing.
#[derive(Debug)]
pub enum ImportError {
    /// The file could not be read at all.
    File(SheetError),
    /// Some row is bad and `skip_invalid` was not asked; the report lists every problem.
    Invalid(Box<ImportReport>),
    /// The database failed.
    Repo(RepoError),
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::File(e) if e.limit_code().is_some() => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                e.limit_code().unwrap_or("payload_too_large"),
                e.zh(),
                e.to_string(),
            ),
            ImportError::File(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "file_unreadable",
                e.zh(),
                e.to_string(),
            )
            .field("file", "unreadable", e.zh(), e.to_string()),
            ImportError::Invalid(report) => {
                let mut error = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "import_invalid",
                    format!(
                        "{} 行有问题，未导入任何数据；请修改后重新导入，或选择跳过有问题的行",
                        report.invalid_rows.max(1)
                    ),
                    format!(
                        "{} rows have problems; nothing was imported. Fix them, or ask to skip bad rows",
                        report.invalid_rows.max(1)
                    ),
                );
                for p in &report.problems {
                    let column = p.column.as_deref().or(p.field).unwrap_or("file");
                    error = error.field(
                        format!("rows.{}.{column}", p.row),
                        p.code,
                        format!("第 {} 行「{column}」：{}", p.row, p.detail),
                        format!("row {}, column {column}: {}", p.row, p.detail),
                    );
                }
                error
            }
            ImportError::Repo(e) => e.into(),
        }
    }
}

/// Reads `bytes`, checks every row and, unless `options.dry_run` or a bad row stops it,
/// imports the good rows into `org` in one transaction. `change` is the audit row; its detail
/// gets the counts.
pub async fn run_import(
    repo: &dyn ServicePointRepository,
    org: &Organisation,
    bytes: &[u8],
    options: ImportOptions,
    mut change: Change,
) -> Result<ImportReport, ImportError> {
    let sheet = spreadsheet::read(bytes).map_err(ImportError::File)?;
    let plan = ImportPlan::read(&sheet.header, &sheet.rows);
    let file_level = plan.problems.iter().any(|p| p.row <= 1);
    let invalid_rows = plan.bad_rows();
    let drafts: Vec<_> = plan.rows.into_iter().map(|(_, d)| d).collect();
    let mut report = ImportReport {
        dry_run: options.dry_run,
        imported: false,
        encoding: sheet.encoding,
        rows_read: plan.rows_read,
        valid_rows: drafts.len(),
        invalid_rows,
        created: 0,
        updated: 0,
        unchanged: 0,
        skipped: 0,
        ignored_columns: plan.ignored_columns,
        problems: plan
            .problems
            .into_iter()
            .map(ImportProblemView::from)
            .collect(),
        warnings: plan
            .warnings
            .into_iter()
            .map(ImportProblemView::from)
            .collect(),
    };
    if options.dry_run {
        if !file_level && !drafts.is_empty() {
            let outcome = repo
                .preview_import(org.id, &drafts)
                .await
                .map_err(ImportError::Repo)?;
            report.created = outcome.created;
            report.updated = outcome.updated;
            report.unchanged = outcome.unchanged;
            report.skipped = invalid_rows;
        }
        return Ok(report);
    }
    if file_level || (invalid_rows > 0 && !options.skip_invalid) || drafts.is_empty() {
        if report.problems.is_empty() {
            report.problems.push(ImportProblemView {
                row: 0,
                column: None,
                field: None,
                code: "empty",
                detail: "文件中没有数据行".into(),
            });
        }
        return Err(ImportError::Invalid(Box::new(report)));
    }
    report.skipped = invalid_rows;
    change.audit.detail = json!({
        "rows": drafts.len(),
        "skipped": invalid_rows,
        "encoding": sheet.encoding,
    });
    let outcome = repo
        .import((org.id, &org.path), &drafts, clock::now(), &change)
        .await
        .map_err(ImportError::Repo)?;
    report.imported = true;
    report.created = outcome.created;
    report.updated = outcome.updated;
    report.unchanged = outcome.unchanged;
    Ok(report)
}

/// Where an import goes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportTarget {
    /// Owning organisation of the imported points, inside the caller's subtree (default the
    /// caller's).
    pub org_id: Option<String>,
}

/// A spreadsheet to import, sent as the request body.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct SpreadsheetFile(pub Vec<u8>);

/// Imports service points from a CSV (UTF-8 or GBK) or XLSX file sent as the body (at most
/// 10 MiB, 20,000 rows). Columns are found by their header — the 郑州 open-data names (`id`,
/// `name`, `category`, `address`, `province`, `city`, `district`, `lng`, `lat`, `datum`,
/// `open_hours`, `amenities`, `contact_phone`, `coord_quality`) or Chinese ones (`名称`, `类型`,
/// `地址`, `经度`, `纬度`, `开放时间`, `设施`, `联系电话`, `状态`, `星级`). Coordinates must be
/// GCJ-02.
#[utoipa::path(post, tag = "admin: service points", security(("bearer" = [])),
    params(ImportTarget, ImportOptions),
    request_body(description = "CSV (UTF-8 or GBK) or XLSX bytes; the format is decided by the content, whichever of these types is sent",
        content(
            (SpreadsheetFile = "text/csv"),
            (SpreadsheetFile = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (SpreadsheetFile = "application/octet-stream"),
        )),
    responses(
        (status = 200, description = "Imported, or the dry run's report", body = ImportReport),
        (status = 400, description = "Malformed query, or a body that cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not manage service points, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org_id` not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: over 10 MiB; `too_many_rows`: over 50,000 rows after the header; `too_many_columns`: a value past column 100; `too_many_cells`: over 1,000,000 cells; `unpacked_too_large`: an XLSX whose parts unpack to over 128 MiB. Checked as the file is read, never by the size a workbook declares", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`file_unreadable` (not CSV/XLSX, or an encoding other than UTF-8/GBK), or `import_invalid`: bad rows, each listed as `rows.<row>.<column>`; nothing imported", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/service-points/import")]
pub async fn import(
    state: web::Data<AppState>,
    admin: Admin,
    target: Query<ImportTarget>,
    options: Query<ImportOptions>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<web::Json<ImportReport>, ApiError> {
    admin.authorize(Permission::ManageServicePoints, &admin.org_path)?;
    // Over the body limit, the framework would answer plain text; answer the envelope.
    let body = body.map_err(|e| {
        if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::from(ImportError::File(SheetError::TooLarge))
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "无法读取上传的文件",
                format!("Cannot read the uploaded file: {e}"),
            )
        }
    })?;
    let org = org_in_scope(
        &state,
        &admin,
        Permission::ManageServicePoints,
        target.org_id.as_deref(),
    )
    .await?;
    let change = admin.principal.change(
        "service_point.import",
        "organisation",
        org.id,
        json!({}),
        Some(OutboxEvent {
            topic: "service_points.imported".into(),
            payload: json!({ "org_id": org.id }),
        }),
    );
    let report = run_import(
        state.service_points.as_ref(),
        &org,
        &body,
        options.into_inner(),
        change,
    )
    .await?;
    if report.imported {
        refresh_index(&state).await;
    }
    Ok(web::Json(report))
}
