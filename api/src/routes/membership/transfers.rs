//! Membership transfer (会籍转移), the member's side: asking to move to another organisation
//! after a job change, following and withdrawing the request, and the membership history.
//! The receiving organisation decides (`crate::routes::membership::admin::transfers`); the
//! rule and its source are in [`yiwang_domain::membership::transfer`].

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::membership::form::not_joinable;
use yiwang_domain::membership::member::Member;
use yiwang_domain::membership::transfer::{
    HistoryEntry, OrgBrief, Transfer, TransferId, TRANSFER_TEXT_MAX_CHARS,
};
use yiwang_domain::org::OrgId;
use yiwang_domain::store::{Found, RepoError};

use super::{member_in_force, not_a_member, OrgRef};
use crate::auth;
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::account::me::mask_phone;
use crate::routes::shared::optional_text;
use crate::routes::shared::responses::{
    BodyLimitErrors, NotLoggedIn, SessionStoreDown, WorkerOnly,
};
use crate::routes::shared::Json;
use crate::state::AppState;

/// A request to move a membership.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferForm {
    /// The organisation to move to (`GET /api/v1/orgs`), e.g. the new employer's union.
    #[schema(format = Uuid)]
    pub to_org_id: String,
    /// Why (the new employer, a move…), at most 200 characters.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

/// A transfer request.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferView {
    /// Id.
    pub id: String,
    /// `requested`, `approved`, `rejected` or `withdrawn` (also when the membership ended
    /// while it waited).
    #[schema(value_type = crate::routes::vocabularies::TransferStatus)]
    pub status: String,
    /// The status in Chinese, for display.
    pub status_label: String,
    /// The member number; it stays the same after the move.
    pub member_number: String,
    /// The member's real name.
    pub name: Option<String>,
    /// The member's mobile number (masked except in an official's single-request view).
    pub phone: Option<String>,
    /// Where the member belonged when asking.
    pub from_org: OrgRef,
    /// Where the member asks to go; its reviewers decide.
    pub to_org: OrgRef,
    /// The member's reason.
    pub reason: Option<String>,
    /// When asked (UTC).
    pub requested_at: DateTime<Utc>,
    /// When decided or withdrawn (UTC).
    pub decided_at: Option<DateTime<Utc>>,
    /// A rejection's reason.
    pub decision_reason: Option<String>,
}

impl From<OrgBrief> for OrgRef {
    fn from(o: OrgBrief) -> Self {
        OrgRef {
            id: o.id.to_string(),
            name: o.name,
        }
    }
}

impl TransferView {
    /// The view of `t`; `full_phone` shows the mobile number unmasked.
    pub fn new(t: Transfer, full_phone: bool) -> Self {
        TransferView {
            id: t.id.to_string(),
            status: t.status.as_str().to_owned(),
            status_label: t.status.zh().to_owned(),
            member_number: t.member_number,
            name: t.member_name,
            phone: t
                .member_phone
                .map(|p| if full_phone { p } else { mask_phone(&p) }),
            from_org: t.from_org.into(),
            to_org: t.to_org.into(),
            reason: t.reason,
            requested_at: t.requested_at,
            decided_at: t.decided_at,
            decision_reason: t.decision_reason,
        }
    }
}

/// The worker's transfer requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferList {
    /// Newest first.
    pub items: Vec<TransferView>,
}

/// Asks to move the worker's membership to another organisation; that organisation's
/// reviewers decide, and the current one is notified of the outcome. With `Idempotency-Key`,
/// a retry after a lost answer answers the first request (without it, `transfer_open`).
#[utoipa::path(post, tag = "membership", security(("bearer" = [])),
    request_body = TransferForm,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first request")),
    responses(
        (status = 201, description = "Requested", body = TransferView),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`transfer_open`: a request is already waiting", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown `to_org_id`, `not_accepting_individuals` (the organisation takes no individual members, as for applying), `same_organisation`, or reason too long", body = Problem, content_type = "application/problem+json"),
        BodyLimitErrors, NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[post("/membership/transfers")]
pub async fn request(
    state: web::Data<AppState>,
    worker: auth::Worker,
    req: HttpRequest,
    form: Json<TransferForm>,
) -> Result<HttpResponse, ApiError> {
    let member = member_in_force(&state, &worker).await?;
    let unknown = || {
        ApiError::invalid_field(
            "to_org_id",
            "unknown",
            "所选工会组织不存在",
            "no such union organisation",
        )
    };
    let to = OrgId::parse(form.to_org_id.trim()).ok_or_else(unknown)?;
    let destination = state.orgs.get(to).await.found()?.ok_or_else(unknown)?;
    if let Some(problem) = not_joinable("to_org_id", &destination) {
        return Err(vec![problem].into());
    }
    let reason = optional_text("reason", form.reason.as_deref(), TRANSFER_TEXT_MAX_CHARS)?;
    let request = json!({ "to_org_id": to, "reason": reason }).to_string();
    let route = "POST /api/v1/membership/transfers".to_owned();
    let account = worker.0.account_id();
    idempotency::once(
        &state,
        &req,
        account,
        route,
        request.as_bytes(),
        |pending| async {
            file_transfer(&state, &worker, &member, to, reason.as_deref(), pending).await
        },
    )
    .await
}

/// [`request`]'s work, storing its answer for `pending`'s key in the transaction that files.
async fn file_transfer(
    state: &AppState,
    worker: &auth::Worker,
    member: &Member,
    to: OrgId,
    reason: Option<&str>,
    pending: Option<idempotency::Pending>,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let id = TransferId::new();
    let change = worker.0.change(
        "membership.transfer.request",
        "membership_transfer",
        id,
        json!({ "member_id": member.id, "from_org_id": member.org_id, "to_org_id": to }),
        Some(OutboxEvent {
            topic: "membership.transfer.requested".into(),
            payload: json!({
                "id": id, "member_id": member.id, "from_org_id": member.org_id, "to_org_id": to,
            }),
        }),
    );
    let at = clock::now();
    let answer = idempotency::answer_of(pending, StatusCode::CREATED, at, |t: &Transfer| {
        TransferView::new(t.clone(), false)
    });
    let transfer = match state
        .transfers
        .request_transfer(id, worker.0.account_id(), to, reason, at, &change, answer)
        .await
    {
        Ok(t) => t,
        // The organisation was read above: the membership ended in between.
        Err(RepoError::NotFound) => return Err(not_a_member()),
        Err(e) => return Err(e.into()),
    };
    let body = serde_json::to_value(TransferView::new(transfer, false))
        .map_err(|e| ApiError::internal(&e))?;
    Ok((StatusCode::CREATED, body))
}

/// The worker's transfer requests, newest first.
#[utoipa::path(get, tag = "membership", security(("bearer" = [])),
    responses(
        (status = 200, description = "The worker's requests", body = TransferList),
        NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[get("/membership/transfers")]
pub async fn list(
    state: web::Data<AppState>,
    worker: auth::Worker,
) -> Result<web::Json<TransferList>, ApiError> {
    let items = state.transfers.transfers_of(worker.0.account_id()).await?;
    Ok(web::Json(TransferList {
        items: items
            .into_iter()
            .map(|t| TransferView::new(t, false))
            .collect(),
    }))
}

/// Withdraws the worker's waiting transfer request.
#[utoipa::path(post, tag = "membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Transfer request id")),
    responses(
        (status = 200, description = "Withdrawn", body = TransferView),
        (status = 404, description = "Not one of the worker's requests", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`transfer_status`: already decided or withdrawn", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[post("/membership/transfers/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    worker: auth::Worker,
    id: web::Path<String>,
) -> Result<web::Json<TransferView>, ApiError> {
    let id = TransferId::parse(&id).ok_or_else(ApiError::not_found)?;
    let change = worker.0.change(
        "membership.transfer.withdraw",
        "membership_transfer",
        id,
        json!({}),
        Some(OutboxEvent {
            topic: "membership.transfer.withdrawn".into(),
            payload: json!({ "id": id }),
        }),
    );
    let transfer = state
        .transfers
        .withdraw_transfer(id, worker.0.account_id(), clock::now(), &change)
        .await?;
    Ok(web::Json(TransferView::new(transfer, false)))
}

/// One step of a membership's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipEvent {
    /// `joined`, `transferred` or `ended`.
    #[schema(value_type = crate::routes::vocabularies::MembershipEventKind)]
    pub event: String,
    /// The event in Chinese, for display.
    pub event_label: String,
    /// The organisation joined, moved to, or left.
    pub org: OrgRef,
    /// The organisation moved from (transfers).
    pub from_org: Option<OrgRef>,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

impl From<HistoryEntry> for MembershipEvent {
    fn from(e: HistoryEntry) -> Self {
        MembershipEvent {
            event: e.event.as_str().to_owned(),
            event_label: e.event.zh().to_owned(),
            org: e.org.into(),
            from_org: e.from_org.map(OrgRef::from),
            at: e.at,
        }
    }
}

/// A membership's history (会籍变动记录).
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipHistory {
    /// The member number.
    pub member_number: String,
    /// Oldest first.
    pub items: Vec<MembershipEvent>,
}

impl MembershipHistory {
    /// The history of the member numbered `member_number`.
    pub fn new(member_number: String, entries: Vec<HistoryEntry>) -> Self {
        MembershipHistory {
            member_number,
            items: entries.into_iter().map(MembershipEvent::from).collect(),
        }
    }
}

/// The history of the worker's membership in force: joining and each transfer.
#[utoipa::path(get, tag = "membership", security(("bearer" = [])),
    responses(
        (status = 200, description = "The history", body = MembershipHistory),
        (status = 404, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[get("/membership/history")]
pub async fn history(
    state: web::Data<AppState>,
    worker: auth::Worker,
) -> Result<web::Json<MembershipHistory>, ApiError> {
    let member = member_in_force(&state, &worker).await?;
    let entries = state.transfers.membership_history(member.id).await?;
    Ok(web::Json(MembershipHistory::new(
        member.member_number,
        entries,
    )))
}
