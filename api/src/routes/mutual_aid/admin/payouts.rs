//! Paying approved claims (`finance`): the payment list for the bank as an Excel workbook,
//! with the payees' full account numbers (so every export is audited), and marking a claim
//! paid with the bank's reference — twice with the same reference changes nothing.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::calendar::china_date;
use yiwang_domain::clock;
use yiwang_domain::mutual_aid::claim::Claim;
use yiwang_domain::mutual_aid::review::Command;
use yiwang_domain::mutual_aid::store::ClaimFilter;
use yiwang_domain::mutual_aid::ClaimStatus;
use yiwang_domain::store::PageRequest;

use super::claims::{required_text, run};
use super::plan_filter;
use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::mutual_aid::claims::PAYEE_ACCOUNT_CONTEXT;
use crate::routes::mutual_aid::ClaimView;
use crate::routes::shared::responses::{JsonBodyErrors, NotLoggedIn};
use crate::routes::shared::spreadsheet::{build, download, heading, XlsxFile, XLSX};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::state::AppState;

/// Most claims one payment list holds.
pub const PAYMENT_LIST_MAX_ROWS: usize = 5_000;

/// Column headings and widths (characters).
const COLUMNS: [(&str, f64); 8] = [
    ("序号", 6.0),
    ("申请编号", 38.0),
    ("收款人户名", 12.0),
    ("开户行", 28.0),
    ("收款账号", 24.0),
    ("金额（元）", 12.0),
    ("金额（分）", 12.0),
    ("摘要", 16.0),
];

/// One row of the list: the claim and the opened account number.
struct Row {
    claim: Claim,
    account: String,
}

fn workbook(rows: &[Row]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("互助金支付清单")?;
    heading(sheet, &COLUMNS)?;
    let money = Format::new().set_num_format("#,##0.00");
    for (row, r) in (1u32..).zip(rows) {
        let fen = r.claim.approved_fen.map(|f| f.get()).unwrap_or_default();
        let payee = r.claim.payee.as_ref();
        sheet.write_number(row, 0, row)?;
        sheet.write_string(row, 1, r.claim.id.to_string())?;
        sheet.write_string(
            row,
            2,
            payee.map(|p| p.account_name.as_str()).unwrap_or_default(),
        )?;
        sheet.write_string(row, 3, payee.map(|p| p.bank.as_str()).unwrap_or_default())?;
        sheet.write_string(row, 4, &r.account)?;
        #[allow(clippy::cast_precision_loss)]
        sheet.write_number_with_format(row, 5, fen as f64 / 100.0, &money)?;
        #[allow(clippy::cast_precision_loss)]
        sheet.write_number(row, 6, fen as f64)?;
        sheet.write_string(row, 7, "工会互助金")?;
    }
    sheet.set_freeze_panes(1, 0)?;
    book.save_to_buffer()
}

/// Filters of the payment list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentListQuery {
    /// Only this plan.
    pub plan_id: Option<String>,
}

/// Every approved, unpaid claim of members in the caller's subtree, oldest first, as the
/// payment list for the bank (full account numbers; the export is audited with the claims
/// it lists).
#[utoipa::path(get, tag = "admin: mutual aid", security(("bearer" = [])),
    params(PaymentListQuery),
    responses(
        (status = 200, description = "The workbook (`mutual-aid-payments-YYYYMMDD.xlsx`)", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = XlsxFile),
        (status = 403, description = "Role may not pay claims (finance only), or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan_id` not in scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`export_too_large`: more than 5,000 claims; export per plan", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[get("/admin/mutual-aid/payment-list")]
pub async fn payment_list(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<PaymentListQuery>,
) -> Result<HttpResponse, ApiError> {
    admin.authorize(Permission::PayClaims, &admin.org_path)?;
    let plan = plan_filter(&state, &admin, query.plan_id.as_deref()).await?;
    let filter = ClaimFilter {
        statuses: vec![ClaimStatus::Approved],
        plan,
    };
    let mut claims: Vec<Claim> = Vec::new();
    let mut request = PageRequest {
        after: None,
        limit: 500,
    };
    loop {
        let page = state
            .mutual_aid
            .claim_queue(&admin.org_path, &filter, &request)
            .await?;
        claims.extend(page.items);
        request.after = page.next;
        let full = request.after.is_some();
        if claims.len() > PAYMENT_LIST_MAX_ROWS {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "export_too_large",
                format!("待支付的申请超过 {PAYMENT_LIST_MAX_ROWS} 件，请按计划分批导出"),
                format!(
                    "More than {PAYMENT_LIST_MAX_ROWS} claims wait for payment; export per plan"
                ),
            ));
        }
        if !full {
            break;
        }
    }
    let mut rows = Vec::with_capacity(claims.len());
    for claim in claims {
        let account = match &claim.payee {
            Some(p) => state
                .personal_data
                .open(&p.account_kid, &p.account_sealed, PAYEE_ACCOUNT_CONTEXT)
                .map_err(|e| ApiError::internal(&e))?,
            None => String::new(),
        };
        rows.push(Row { claim, account });
    }
    let change = admin.principal.change(
        "mutual_aid.payment_list.export",
        "mutual_aid_claim",
        "*",
        json!({
            "plan_id": plan,
            "claims": rows.iter().map(|r| r.claim.id.to_string()).collect::<Vec<_>>(),
            "total_fen": rows.iter().filter_map(|r| r.claim.approved_fen.map(|f| f.get())).sum::<i64>(),
        }),
        None,
    );
    state.audit.record_read(&change).await?;
    let bytes = build(move || workbook(&rows)).await?;
    let name = format!(
        "mutual-aid-payments-{}.xlsx",
        china_date(clock::now()).format("%Y%m%d")
    );
    Ok(download(XLSX, name)
        .insert_header(("Cache-Control", "private, no-store"))
        .body(bytes))
}

/// Marking a claim paid.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaidForm {
    /// The bank's reference of the transfer, 1–100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub bank_reference: String,
}

/// Marks an approved claim paid with the bank's reference (`approved → paid`, the paid
/// amount = the approved one). The same reference again answers the claim unchanged; another
/// reference for a paid claim is 409.
#[utoipa::path(post, tag = "admin: mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    request_body = PaidForm,
    responses(
        (status = 200, description = "Paid", body = ClaimView),
        (status = 403, description = "Role may not pay claims (finance only), or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`: not approved, or paid under another reference", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`bank_reference` empty or too long", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/mutual-aid/claims/{id}/paid")]
pub async fn mark_paid(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<PaidForm>,
) -> Result<HttpResponse, ApiError> {
    let bank_reference = required_text("bank_reference", &form.bank_reference, 100)?;
    run(
        &state,
        &admin,
        &req,
        Permission::PayClaims,
        &id,
        Command::MarkPaid { bank_reference },
    )
    .await
}
