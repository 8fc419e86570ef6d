//! Membership transfer (会籍转移), the receiving organisation's side: the requests into the
//! official's subtree, oldest first, and approving or rejecting them. Approval moves the member
//! (member number unchanged) and emits `membership.transfer.approved` naming the old
//! organisation, which is how it is notified.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::membership::transfer::{Transfer, TransferDecision, TransferId, TransferStatus};

use super::decision_text;
use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::account::me::refresh_worker_view;
use crate::routes::membership::transfers::{MembershipHistory, TransferView};
use crate::routes::shared::responses::{
    JsonBodyErrors, MalformedQuery, NotLoggedIn, SessionStoreDown,
};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{PageQuery, Paged};
use crate::state::AppState;

/// Filters of the transfer queue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// Only this status: `requested`, `approved`, `rejected`, `withdrawn`.
    #[param(value_type = Option<crate::routes::vocabularies::TransferStatus>)]
    pub status: Option<String>,
}

/// Transfer requests into the caller's subtree, oldest first.
#[utoipa::path(get, tag = "admin: membership", security(("bearer" = [])),
    params(TransferQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<TransferView>),
        (status = 403, description = "Role may not read membership, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad status, limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn, SessionStoreDown,
    ))]
#[get("/admin/membership/transfers")]
pub async fn queue(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<TransferQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<TransferView>>, ApiError> {
    admin.authorize(Permission::ReadMembership, &admin.org_path)?;
    let page = page.request()?;
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(TransferStatus::parse(s).ok_or_else(|| {
            ApiError::not_one_of("status", &TransferStatus::ALL.map(TransferStatus::as_str))
        })?),
    };
    let rows = state
        .transfers
        .transfer_queue(&admin.org_path, status, &page)
        .await?;
    Ok(web::Json(Paged::of(rows, |t| TransferView::new(t, false))))
}

/// Transfer `id` if its receiving organisation lies in the caller's scope and the caller
/// holds `permission`.
async fn transfer_in_scope(
    state: &AppState,
    admin: &Admin,
    permission: Permission,
    id: &str,
) -> Result<Transfer, ApiError> {
    let id = TransferId::parse(id).ok_or_else(ApiError::not_found)?;
    let transfer = state.transfers.transfer(id).await?;
    admin.authorize(permission, &transfer.to_org_path)?;
    Ok(transfer)
}

/// A transfer request with the member's history, for the reviewer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferDetail {
    /// The request, with the member's full mobile number (to contact them).
    pub transfer: TransferView,
    /// The member's history so far.
    pub history: MembershipHistory,
}

/// One transfer request into the caller's subtree, with the member's history.
#[utoipa::path(get, tag = "admin: membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Transfer request id")),
    responses(
        (status = 200, description = "The request", body = TransferDetail),
        (status = 403, description = "Role may not read membership, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request into the caller's subtree", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[get("/admin/membership/transfers/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<TransferDetail>, ApiError> {
    let transfer = transfer_in_scope(&state, &admin, Permission::ReadMembership, &id).await?;
    let history = state
        .transfers
        .membership_history(transfer.member_id)
        .await?;
    Ok(web::Json(TransferDetail {
        history: MembershipHistory::new(transfer.member_number.clone(), history),
        transfer: TransferView::new(transfer, true),
    }))
}

/// Decides `transfer` (already checked to be in scope).
async fn decide(
    state: &AppState,
    admin: &Admin,
    transfer: &Transfer,
    decision: &TransferDecision,
    pending: Option<idempotency::Pending>,
) -> Result<TransferView, ApiError> {
    let outcome = decision.status().as_str();
    let (action, reason) = match decision {
        TransferDecision::Approve => ("approve", None),
        TransferDecision::Reject { reason } => ("reject", Some(reason.as_str())),
    };
    let change = admin.principal.change(
        &format!("membership.transfer.{action}"),
        "membership_transfer",
        transfer.id,
        json!({ "member_id": transfer.member_id, "reason": reason }),
        Some(OutboxEvent {
            topic: format!("membership.transfer.{outcome}"),
            payload: json!({
                "id": transfer.id,
                "member_id": transfer.member_id,
                "account_id": transfer.account_id,
                "from_org_id": transfer.from_org.id,
                "to_org_id": transfer.to_org.id,
                "reason": reason,
            }),
        }),
    );
    let at = clock::now();
    let answer = idempotency::answer_of(pending, StatusCode::OK, at, |t: &Transfer| {
        TransferView::new(t.clone(), false)
    });
    let decided = state
        .transfers
        .decide_transfer(
            transfer.id,
            decision,
            admin.principal.account_id(),
            at,
            &change,
            answer,
        )
        .await?;
    refresh_worker_view(state, decided.account_id).await;
    Ok(TransferView::new(decided, false))
}

/// [`decide`] once per `Idempotency-Key`: a retry of the same decision answers the first one
/// instead of 409 `transfer_status`.
async fn decide_once(
    state: &AppState,
    admin: &Admin,
    req: &HttpRequest,
    transfer: &Transfer,
    decision: TransferDecision,
) -> Result<HttpResponse, ApiError> {
    let account = admin.principal.account_id();
    idempotency::step(state, req, account, &decision, |pending| {
        decide(state, admin, transfer, &decision, pending)
    })
    .await
}

/// Approves a waiting transfer: the member now belongs to the receiving organisation.
#[utoipa::path(post, tag = "admin: membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Transfer request id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    responses(
        (status = 200, description = "Approved", body = TransferView),
        (status = 403, description = "Role may not review, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request into the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`transfer_status`: already decided or withdrawn", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/membership/transfers/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let transfer = transfer_in_scope(&state, &admin, Permission::ReviewMembership, &id).await?;
    decide_once(&state, &admin, &req, &transfer, TransferDecision::Approve).await
}

/// A transfer rejection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectTransfer {
    /// What the member reads, 1–500 characters.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub reason: String,
}

/// Rejects a waiting transfer with a reason; the member stays where they are.
#[utoipa::path(post, tag = "admin: membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Transfer request id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    request_body = RejectTransfer,
    responses(
        (status = 200, description = "Rejected", body = TransferView),
        (status = 403, description = "Role may not review, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request into the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`transfer_status`: already decided or withdrawn", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad reason", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, SessionStoreDown,
    ))]
#[post("/admin/membership/transfers/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    body: Json<RejectTransfer>,
) -> Result<HttpResponse, ApiError> {
    let transfer = transfer_in_scope(&state, &admin, Permission::ReviewMembership, &id).await?;
    let decision = TransferDecision::Reject {
        reason: decision_text("reason", &body.reason)?,
    };
    decide_once(&state, &admin, &req, &transfer, decision).await
}
