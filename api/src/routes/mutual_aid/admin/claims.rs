//! The claim queue and the decisions (the approval team, 专门审批小组): take a claim
//! (受理), approve it (cutting lines with a reason), return it to the worker with what to add,
//! or reject it with a numbered reason. Approved payouts from the plan's second-review amount
//! need a second reviewer who is not the first (four eyes). Every command runs through one
//! transition function inside one transaction ([`yiwang_domain::mutual_aid::review`]): two
//! reviewers deciding at once → one wins, the other gets 409.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::clock;
use yiwang_domain::money::Fen;
use yiwang_domain::mutual_aid::claim::{Claim, LineId, Rejection, MAX_LINE_AMOUNT};
use yiwang_domain::mutual_aid::review::{Command, LineApproval, Outcome};
use yiwang_domain::mutual_aid::store::{ClaimFilter, CommandInput};
use yiwang_domain::mutual_aid::{ClaimId, ClaimStatus, RejectionReason};
use yiwang_domain::problem::{present, text, FieldProblem};

use super::{members_of, plan_filter};
use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::mutual_aid::documents::link;
use crate::routes::mutual_aid::{transition_change, ClaimView};
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{status_filter, PageQuery, Paged};
use crate::state::AppState;
use crate::upload::DocumentLink;
use std::collections::HashMap;
use yiwang_domain::store::RepoError;

/// Filters of the queue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimQuery {
    /// Only these states, comma-separated (default: `submitted,first_review,second_review`,
    /// what waits for a reviewer; `draft` lists nothing, a draft is its member's alone).
    #[param(value_type = Option<Vec<crate::routes::vocabularies::ClaimStatus>>, style = Form, explode = false)]
    pub status: Option<String>,
    /// Only this plan.
    pub plan_id: Option<String>,
}

/// Claim `id` if it belongs to a member in the caller's subtree and the caller holds
/// `permission`; else 404 (403 for the role).
pub async fn claim_in_scope(
    state: &AppState,
    admin: &Admin,
    permission: Permission,
    id: &str,
) -> Result<Claim, ApiError> {
    admin.authorize(permission, &admin.org_path)?;
    let id = ClaimId::parse(id).ok_or_else(ApiError::not_found)?;
    let claim = state.mutual_aid.claim(id).await?;
    if claim.status == ClaimStatus::Draft {
        return Err(ApiError::not_found());
    }
    admin.authorize(permission, &claim.org_path)?;
    Ok(claim)
}

/// Claims of members in the caller's subtree, oldest submission first; those waiting more
/// than 20 days are flagged `overdue` (the one-month promise).
#[utoipa::path(get, tag = "admin: mutual aid", security(("bearer" = [])),
    params(ClaimQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<ClaimView>),
        (status = 403, description = "Role may not read mutual aid, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan_id` not in scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown status, bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/mutual-aid/claims")]
pub async fn queue(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<ClaimQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<ClaimView>>, ApiError> {
    admin.authorize(Permission::ReadMutualAid, &admin.org_path)?;
    let page = page.request()?;
    let mut statuses = status_filter(
        query.status.as_deref(),
        ClaimStatus::parse,
        &ClaimStatus::ALL.map(ClaimStatus::as_str),
    )?;
    if statuses.is_empty() {
        statuses = vec![
            ClaimStatus::Submitted,
            ClaimStatus::FirstReview,
            ClaimStatus::SecondReview,
        ];
    } else {
        // A draft is its member's alone: asked for, it lists nothing.
        statuses.retain(|s| *s != ClaimStatus::Draft);
        if statuses.is_empty() {
            return Ok(web::Json(Paged {
                items: Vec::new(),
                next_cursor: None,
            }));
        }
    }
    let plan = plan_filter(&state, &admin, query.plan_id.as_deref()).await?;
    let filter = ClaimFilter { statuses, plan };
    let rows = state
        .mutual_aid
        .claim_queue(&admin.org_path, &filter, &page)
        .await?;
    let members = members_of(&state, rows.items.iter().map(|c| c.member_id)).await?;
    let now = clock::now();
    Ok(web::Json(Paged::of(rows, |c| {
        ClaimView::new(&c, now).naming(members.get(&c.member_id))
    })))
}

/// One claim with its timeline and what on other claims looks like it (`similar`: the same
/// invoice number however typed, the same amount and day at a hospital of a like name, the
/// same document bytes), each flag naming the other claim.
#[utoipa::path(get, tag = "admin: mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id")),
    responses(
        (status = 200, description = "The claim", body = ClaimView),
        (status = 403, description = "Role may not read mutual aid, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found in the caller's subtree (drafts are the worker's own)", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[get("/admin/mutual-aid/claims/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<ClaimView>, ApiError> {
    let claim = claim_in_scope(&state, &admin, Permission::ReadMutualAid, &id).await?;
    let events = state.mutual_aid.claim_events(claim.id).await?;
    let similar = state.mutual_aid.similar_to(&claim).await?;
    let members = members_of(&state, [claim.member_id]).await?;
    let mut officials = HashMap::new();
    for actor in events.iter().map(|e| e.actor) {
        if actor == claim.account_id || officials.contains_key(&actor) {
            continue;
        }
        match state.officials.get(actor).await {
            Ok(official) => {
                officials.insert(actor, official.display_name);
            }
            Err(RepoError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(web::Json(
        ClaimView::new(&claim, clock::now())
            .naming(members.get(&claim.member_id))
            .with_timeline(&events, claim.account_id)
            .naming_actors(&officials, &events)
            .with_similar(&similar),
    ))
}

/// A download link for a document of a claim in scope, valid for 5 minutes.
#[utoipa::path(post, tag = "admin: mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id"), ("document_id" = String, Path, description = "Document id")),
    responses(
        (status = 200, description = "The link", body = DocumentLink),
        (status = 403, description = "Role may not read mutual aid, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/mutual-aid/claims/{id}/documents/{document_id}/link")]
pub async fn document_link(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<web::Json<DocumentLink>, ApiError> {
    let (id, document_id) = path.into_inner();
    let claim = claim_in_scope(&state, &admin, Permission::ReadMutualAid, &id).await?;
    Ok(web::Json(link(
        &state,
        &admin.principal,
        &claim,
        &document_id,
    )?))
}

/// Runs `command` on claim `id` for an official holding `permission`. With
/// `Idempotency-Key`, a retry of the same decision answers the first one (stored in the
/// decision's transaction) instead of 409 `illegal_transition`.
pub(super) async fn run(
    state: &AppState,
    admin: &Admin,
    req: &HttpRequest,
    permission: Permission,
    id: &str,
    command: Command,
) -> Result<HttpResponse, ApiError> {
    let claim = claim_in_scope(state, admin, permission, id).await?;
    let members = members_of(state, [claim.member_id]).await?;
    let member = members.get(&claim.member_id).cloned();
    let actor = admin.principal.account_id();
    let step = command.clone();
    idempotency::step(state, req, actor, &step, |pending| async move {
        let at = clock::now();
        let action = command.action();
        let input = CommandInput { command, actor, at };
        let base = admin
            .principal
            .change("", "mutual_aid_claim", claim.id, Value::Null, None);
        let change = transition_change(base, action);
        let answered = member.clone();
        let outcome = state
            .mutual_aid
            .decide(
                claim.id,
                &input,
                Box::new(move |outcome: &Outcome| {
                    let mut change = change(outcome);
                    let view = ClaimView::new(&outcome.claim, at).naming(answered.as_ref());
                    change.answer = pending.and_then(|pending| {
                        let body = serde_json::to_value(view).ok()?;
                        Some(pending.answer(StatusCode::OK, &body, at))
                    });
                    change
                }),
            )
            .await?;
        Ok(ClaimView::new(&outcome.claim, at).naming(member.as_ref()))
    })
    .await
}

/// Takes a submitted claim into review (受理): `submitted → first_review`; the caller becomes
/// its first reviewer.
#[utoipa::path(post, tag = "admin: mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    responses(
        (status = 200, description = "In first review", body = ClaimView),
        (status = 403, description = "Role may not review claims, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`: not waiting to be taken (someone else was faster)", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/mutual-aid/claims/{id}/take")]
pub async fn take(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    run(
        &state,
        &admin,
        &req,
        Permission::ReviewClaims,
        &id,
        Command::Take,
    )
    .await
}

/// One line's approved amount, when less than claimed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineCutForm {
    /// The line's id.
    #[schema(format = Uuid)]
    pub line_id: String,
    /// Approved part of its out-of-pocket amount (fen), at most what was claimed; 0 takes the
    /// line out.
    #[schema(value_type = i64, minimum = 0)]
    pub approved_fen: Value,
    /// Why (required), e.g. 自费药品不在互助范围.
    #[schema(required = true, value_type = String, min_length = 1, pattern = "\\S")]
    pub reason: Option<String>,
}

/// An approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveForm {
    /// Lines approved for less than claimed; the others are approved as claimed.
    #[serde(default)]
    pub cuts: Vec<LineCutForm>,
}

/// Approves a claim under review: the payout is computed from the approved lines under the
/// claim's plan version (with its breakdown). In first review, a payout from the plan's
/// second-review amount goes to `second_review` instead of `approved`; the second review is
/// decided by another official (403 `four_eyes`).
#[utoipa::path(post, tag = "admin: mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    request_body = ApproveForm,
    responses(
        (status = 200, description = "Approved, or waiting for the second review", body = ClaimView),
        (status = 403, description = "Role may not review claims, a worker token, or `four_eyes`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`: not under review (already decided by someone else)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A cut names an unknown line (`unknown_line`), exceeds the claimed part (`exceeds_claimed`), has no reason (`reason_required`) or a bad amount", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/mutual-aid/claims/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<ApproveForm>,
) -> Result<HttpResponse, ApiError> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    let mut cuts = Vec::new();
    for (i, cut) in form.into_inner().cuts.into_iter().enumerate() {
        let field = |name: &str| format!("cuts.{i}.{name}");
        let line_id = LineId::parse(cut.line_id.trim());
        if line_id.is_none() {
            problems.push(FieldProblem::new(
                field("line_id"),
                "unknown_line",
                "费用明细编号无效",
                "not a line id",
            ));
        }
        let approved = Fen::from_json(&field("approved_fen"), &cut.approved_fen, MAX_LINE_AMOUNT)
            .map_err(|p| problems.push(p))
            .ok();
        if let (Some(line_id), Some(approved_fen)) = (line_id, approved) {
            cuts.push(LineApproval {
                line_id,
                approved_fen,
                reason: present(cut.reason),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems.into());
    }
    run(
        &state,
        &admin,
        &req,
        Permission::ReviewClaims,
        &id,
        Command::Approve { cuts },
    )
    .await
}

/// Sending a claim back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnForm {
    /// What the worker must add or correct, 1–500 characters.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub note: String,
}

/// Returns a claim under review to the worker with what to add; the worker edits and
/// submits again.
#[utoipa::path(post, tag = "admin: mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    request_body = ReturnForm,
    responses(
        (status = 200, description = "Returned", body = ClaimView),
        (status = 403, description = "Role may not review claims, a worker token, or `four_eyes`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`note` empty or too long", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/mutual-aid/claims/{id}/return")]
pub async fn return_claim(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<ReturnForm>,
) -> Result<HttpResponse, ApiError> {
    let note = required_text("note", &form.note, 500)?;
    run(
        &state,
        &admin,
        &req,
        Permission::ReviewClaims,
        &id,
        Command::Return { note },
    )
    .await
}

/// A rejection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRejectForm {
    /// Reason code: `not_member`, `not_covered`, `waiting_period`, `below_threshold`,
    /// `duplicate_invoice`, `invalid_documents`, `not_payable`, `other`.
    #[schema(value_type = crate::routes::vocabularies::ClaimRejectReason)]
    pub reason: String,
    /// The reviewer's explanation for the worker, 1–500 characters.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub text: String,
}

/// Rejects a claim under review with a numbered reason; its invoices may be claimed again.
#[utoipa::path(post, tag = "admin: mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first decision")),
    request_body = ClaimRejectForm,
    responses(
        (status = 200, description = "Rejected", body = ClaimView),
        (status = 403, description = "Role may not review claims, a worker token, or `four_eyes`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown reason, `text` empty or too long", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/mutual-aid/claims/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<ClaimRejectForm>,
) -> Result<HttpResponse, ApiError> {
    let reason = RejectionReason::parse(form.reason.trim()).ok_or_else(|| {
        ApiError::not_one_of("reason", &RejectionReason::ALL.map(RejectionReason::as_str))
    })?;
    let text = required_text("text", &form.text, 500)?;
    run(
        &state,
        &admin,
        &req,
        Permission::ReviewClaims,
        &id,
        Command::Reject {
            rejection: Rejection { reason, text },
        },
    )
    .await
}

/// `value` trimmed, 1–`max` characters, else 422 on `field` (`required` or `too_long`).
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let mut problems = Vec::new();
    text(&mut problems, field, Some(value.to_owned()), max, true).ok_or_else(|| problems.into())
}
