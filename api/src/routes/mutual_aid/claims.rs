//! Claims (互助金申请), the worker's side: write a draft with its cost lines and the bank
//! account to pay into, attach documents ([`super::documents`]), preview the payout, submit,
//! and follow the claim's timeline. Create and submit honour `Idempotency-Key`
//! ([`crate::idempotency`]), so a double tap on a weak network files once.

use actix_web::http::StatusCode;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::idempotency::IdempotentAnswer;
use yiwang_domain::mutual_aid::claim::{
    bank_account_number, mask_account, Claim, ClaimLine, LineInput, Payee,
};
use yiwang_domain::mutual_aid::enrolment::EnrolmentId;
use yiwang_domain::mutual_aid::review::{Command, Outcome};
use yiwang_domain::mutual_aid::store::{CommandInput, Created, NewClaim};
use yiwang_domain::mutual_aid::{ClaimAction, ClaimId};
use yiwang_domain::problem::{text, FieldProblem};

use super::{today, transition_change, BenefitPayoutView, ClaimList, ClaimView, PayoutView};
use crate::auth;
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::shared::responses::{JsonBodyErrors, NotLoggedIn, WorkerOnly};
use crate::routes::shared::Json;
use crate::state::AppState;

/// Most lines on one claim.
pub const MAX_LINES: usize = 50;

/// The associated data the payee account number is sealed under.
pub const PAYEE_ACCOUNT_CONTEXT: &str = "mutual_aid_claims.payee_account";

/// One cost line as the worker writes it (from one invoice).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineForm {
    /// Hospital, 1–100 characters.
    pub hospital: Option<String>,
    /// Invoice number, 1–40 letters, digits or `-` (spaces dropped, upper-cased).
    pub invoice_number: Option<String>,
    /// Day of treatment (discharge day for a stay), `YYYY-MM-DD`, not in the future.
    pub treated_on: Option<String>,
    /// `inpatient` or `chronic`.
    #[schema(value_type = Option<crate::routes::vocabularies::BenefitKind>)]
    pub kind: Option<String>,
    /// Total cost in fen (whole, 0–10,000,000).
    #[schema(value_type = i64)]
    pub total_fen: Option<Value>,
    /// Paid by medical insurance, fen.
    #[schema(value_type = i64)]
    pub insurance_fen: Option<Value>,
    /// Paid by the worker, fen; with the insurance part at most the total.
    #[schema(value_type = i64)]
    pub out_of_pocket_fen: Option<Value>,
}

/// The bank account the payout is paid into.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayeeForm {
    /// Account holder, 1–50 characters (the member).
    #[schema(required = true, value_type = String, min_length = 1, max_length = 50, pattern = "\\S")]
    pub account_name: Option<String>,
    /// Bank and branch (开户行), 2–100 characters.
    #[schema(required = true, value_type = String, min_length = 2, max_length = 100, pattern = "\\S")]
    pub bank: Option<String>,
    /// Account or card number, 8–32 digits (spaces and dashes are dropped). Stored
    /// encrypted, shown masked.
    #[schema(required = true, value_type = String, pattern = "^[ -]*([0-9][ -]*){8,32}$")]
    pub account_number: Option<String>,
}

/// A new claim.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimForm {
    /// The worker's enrolment to claim under.
    #[schema(format = Uuid)]
    pub enrollment_id: String,
    /// Cost lines, at most 50 (may be added later).
    #[serde(default)]
    pub lines: Vec<LineForm>,
    /// Where to pay (may be given later; required to submit).
    pub payee: Option<PayeeForm>,
    /// `true` files the claim at once, as `POST …/claims/{id}/submit` would right after: one
    /// round trip for a claim whose plan asks no documents. When the submission is refused
    /// (the same 422 codes as that route) nothing is stored. Default `false`: a draft.
    #[serde(default)]
    pub submit: bool,
}

/// A draft's lines and payee, replacing what it had.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftForm {
    /// Cost lines, at most 50.
    #[serde(default)]
    pub lines: Vec<LineForm>,
    /// Where to pay.
    pub payee: Option<PayeeForm>,
}

/// The lines and payee of a form, checked (every problem at once, fields named like
/// `lines.2.total_fen` and `payee.account_number`); the account number sealed.
fn checked(
    state: &AppState,
    lines: Vec<LineForm>,
    payee: Option<PayeeForm>,
) -> Result<(Vec<ClaimLine>, Option<Payee>), ApiError> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    if lines.len() > MAX_LINES {
        problems.push(FieldProblem::new(
            "lines",
            "too_many",
            format!("一份申请最多 {MAX_LINES} 条费用明细"),
            format!("a claim has at most {MAX_LINES} lines"),
        ));
    }
    let today = today();
    let mut checked_lines = Vec::new();
    for (i, l) in lines.into_iter().enumerate().take(MAX_LINES) {
        let input = LineInput {
            hospital: l.hospital,
            invoice_number: l.invoice_number,
            treated_on: l.treated_on,
            kind: l.kind,
            total_fen: l.total_fen,
            insurance_fen: l.insurance_fen,
            out_of_pocket_fen: l.out_of_pocket_fen,
        };
        match input.validate(&format!("lines.{i}."), today) {
            Ok(line) => checked_lines.push(line),
            Err(mut p) => problems.append(&mut p),
        }
    }
    let payee = payee.and_then(|p| {
        let name = text(
            &mut problems,
            "payee.account_name",
            p.account_name,
            50,
            true,
        );
        let bank = text(&mut problems, "payee.bank", p.bank, 100, true).filter(|b| {
            let ok = b.chars().count() >= 2;
            if !ok {
                problems.push(FieldProblem::new(
                    "payee.bank",
                    "too_short",
                    "开户行至少 2 个字",
                    "the bank needs at least 2 characters",
                ));
            }
            ok
        });
        let number = match p.account_number.as_deref().map(str::trim) {
            None | Some("") => {
                problems.push(FieldProblem::required("payee.account_number"));
                None
            }
            Some(typed) => {
                let number = bank_account_number(typed);
                if number.is_none() {
                    problems.push(FieldProblem::new(
                        "payee.account_number",
                        "invalid",
                        "银行账号须为 8 到 32 位数字",
                        "an account number has 8 to 32 digits",
                    ));
                }
                number
            }
        };
        let (name, bank, number) = (name?, bank?, number?);
        let sealed = state.personal_data.seal(&number, PAYEE_ACCOUNT_CONTEXT);
        Some(Payee {
            account_name: name,
            bank,
            account_kid: sealed.kid,
            account_sealed: sealed.ciphertext,
            account_masked: mask_account(&number),
        })
    });
    if problems.is_empty() {
        Ok((checked_lines, payee))
    } else {
        Err(problems.into())
    }
}

/// The worker's claim `id`, else 404 (someone else's answers the same as none).
pub async fn own_claim(
    state: &AppState,
    worker: &auth::Worker,
    id: &str,
) -> Result<Claim, ApiError> {
    let id = ClaimId::parse(id).ok_or_else(ApiError::not_found)?;
    let claim = state.mutual_aid.claim(id).await?;
    if claim.account_id != worker.0.account_id() {
        return Err(ApiError::not_found());
    }
    Ok(claim)
}

/// The claim as answered at `at`: the same body whether it is sent now or stored for a retry.
fn view_json(claim: &Claim, at: DateTime<Utc>) -> Result<Value, ApiError> {
    serde_json::to_value(ClaimView::new(claim, at)).map_err(|e| ApiError::internal(&e))
}

/// The answer to store for a request's `Idempotency-Key`, if it carried one: `status` with
/// the claim as answered at `at`.
fn answer_of(
    pending: Option<idempotency::Pending>,
    status: StatusCode,
    claim: &Claim,
    at: DateTime<Utc>,
) -> Option<IdempotentAnswer> {
    let pending = pending?;
    Some(pending.answer(status, &view_json(claim, at).ok()?, at))
}

/// Starts a claim under one of the worker's enrolments, as a draft: nothing is judged until
/// it is submitted. With `"submit": true` it is filed at once (the checks of
/// `POST …/claims/{id}/submit`), or refused with nothing stored. With `Idempotency-Key`, a
/// retry answers the first claim.
#[utoipa::path(post, tag = "mutual aid", security(("bearer" = [])),
    request_body = ClaimForm,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters (a UUID); a retry with the same key and body answers the first claim")),
    responses(
        (status = 201, description = "The draft, or the submitted claim with `\"submit\": true`", body = ClaimView),
        (status = 404, description = "No such enrolment of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`duplicate_invoice`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid lines or payee (every field listed), `idempotency_key_reused`, or with `\"submit\": true` a refused submission: `no_lines`, `payee_missing`, `not_member`, `not_enrolled`, `waiting_period`, `not_covered`, `kind_not_covered`, `documents_missing`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[post("/mutual-aid/claims")]
pub async fn create(
    state: web::Data<AppState>,
    worker: auth::Worker,
    req: HttpRequest,
    form: Json<ClaimForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let request = serde_json::to_vec(&form).map_err(|e| ApiError::internal(&e))?;
    let route = "POST /api/v1/mutual-aid/claims".to_owned();
    idempotency::once(&state, &req, worker.0.account_id(), route, &request, |pending| async {
        let enrollment = EnrolmentId::parse(&form.enrollment_id).ok_or_else(ApiError::not_found)?;
        let (lines, payee) = checked(&state, form.lines, form.payee)?;
        let at = clock::now();
        let new = NewClaim {
            account: worker.0.account_id(),
            enrollment,
            lines,
            payee,
            submit: form.submit,
            at,
        };
        let base = worker.0.change(
            "mutual_aid.claim.create",
            "mutual_aid_claim",
            "",
            Value::Null,
            None,
        );
        let created = state
            .mutual_aid
            .create_claim(
                new,
                Box::new(move |created: &Created| {
                    let draft = &created.draft;
                    let mut create = base;
                    create.audit.record_id = draft.id.to_string();
                    let submission = transition_change(create.clone(), ClaimAction::Submit);
                    create.audit.detail = json!({ "enrollment_id": draft.enrollment_id, "lines": draft.lines.len() });
                    create.event = Some(OutboxEvent {
                        topic: "mutual_aid.claim.draft".into(),
                        payload: json!({ "id": draft.id, "member_id": draft.member_id, "org_id": draft.org_id }),
                    });
                    let mut changes = vec![create];
                    changes.extend(created.submission.as_ref().map(submission));
                    if let Some(last) = changes.last_mut() {
                        last.answer = answer_of(pending, StatusCode::CREATED, created.claim(), at);
                    }
                    changes
                }),
            )
            .await?;
        Ok((StatusCode::CREATED, view_json(created.claim(), at)?))
    })
    .await
}

/// The worker's claims, newest first.
#[utoipa::path(get, tag = "mutual aid", security(("bearer" = [])),
    responses(
        (status = 200, description = "The claims", body = ClaimList),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/mutual-aid/claims")]
pub async fn list(
    state: web::Data<AppState>,
    worker: auth::Worker,
) -> Result<web::Json<ClaimList>, ApiError> {
    let now = clock::now();
    let items = state
        .mutual_aid
        .claims_of(worker.0.account_id())
        .await?
        .iter()
        .map(|c| ClaimView::new(c, now))
        .collect();
    Ok(web::Json(ClaimList { items }))
}

/// One of the worker's claims with its timeline.
#[utoipa::path(get, tag = "mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id")),
    responses(
        (status = 200, description = "The claim and its timeline", body = ClaimView),
        (status = 404, description = "No such claim of the worker", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/mutual-aid/claims/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    worker: auth::Worker,
    id: web::Path<String>,
) -> Result<web::Json<ClaimView>, ApiError> {
    let claim = own_claim(&state, &worker, &id).await?;
    let events = state.mutual_aid.claim_events(claim.id).await?;
    Ok(web::Json(
        ClaimView::new(&claim, clock::now()).with_timeline(&events, claim.account_id),
    ))
}

/// Replaces a draft's (or a returned claim's) lines and payee.
#[utoipa::path(put, tag = "mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id")),
    request_body = DraftForm,
    responses(
        (status = 200, description = "The claim", body = ClaimView),
        (status = 404, description = "No such claim of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_editable` (under review or decided), `duplicate_invoice`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid lines or payee, every field listed", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[put("/mutual-aid/claims/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    worker: auth::Worker,
    id: web::Path<String>,
    form: Json<DraftForm>,
) -> Result<web::Json<ClaimView>, ApiError> {
    let claim = own_claim(&state, &worker, &id).await?;
    let form = form.into_inner();
    let (lines, payee) = checked(&state, form.lines, form.payee)?;
    let change = worker.0.change(
        "mutual_aid.claim.update",
        "mutual_aid_claim",
        claim.id,
        json!({ "lines": lines.len(), "payee": payee.is_some() }),
        None,
    );
    let claim = state
        .mutual_aid
        .update_draft(claim.id, &lines, payee.as_ref(), clock::now(), &change)
        .await?;
    Ok(web::Json(ClaimView::new(&claim, clock::now())))
}

/// What the claim would pay if approved as written, with the breakdown, under the plan's
/// current rules (its version at submission once submitted) and the member's other approved
/// claims this plan year; and, while the worker can still edit it, what submitting it now
/// would be refused for — the same checks submit runs, every failing line named.
#[utoipa::path(get, tag = "mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id")),
    responses(
        (status = 200, description = "The computed payout, and `refusal` when submitting now would be refused", body = ClaimPreviewView),
        (status = 404, description = "No such claim of the worker", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/mutual-aid/claims/{id}/preview")]
pub async fn preview(
    state: web::Data<AppState>,
    worker: auth::Worker,
    id: web::Path<String>,
) -> Result<web::Json<ClaimPreviewView>, ApiError> {
    let claim = own_claim(&state, &worker, &id).await?;
    let preview = state.mutual_aid.preview(&claim).await?;
    Ok(web::Json(ClaimPreviewView {
        total_fen: preview.payout.total_fen.get(),
        benefits: PayoutView::from(&preview.payout).benefits,
        refusal: preview.refusal.map(|r| ApiError::from(r).problem()),
    }))
}

/// A claim's payout preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimPreviewView {
    /// What the claim pays (fen).
    pub total_fen: i64,
    /// Per benefit kind.
    pub benefits: Vec<BenefitPayoutView>,
    /// What `POST …/submit` would answer now (422, with every failing check and line in
    /// `errors`); absent when it would be accepted or the claim is no longer the worker's to
    /// edit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Problem>,
}

/// Files the claim for review. Checks that it has lines and a payee, that the worker is a
/// member in force in the plan's organisation, that the fee is paid, that every line's date
/// is covered and past the waiting period, and that the documents the plan asks for are
/// attached (the error names the missing ones). A returned claim is filed again the same
/// way. With `Idempotency-Key`, a retry answers the first submission.
#[utoipa::path(post, tag = "mutual aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Claim id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key answers the first submission")),
    responses(
        (status = 200, description = "Submitted", body = ClaimView),
        (status = 404, description = "No such claim of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition` (already submitted or decided)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`no_lines`, `payee_missing`, `not_member`, `not_enrolled`, `waiting_period`, `not_covered`, `kind_not_covered`, `documents_missing`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[post("/mutual-aid/claims/{id}/submit")]
pub async fn submit(
    state: web::Data<AppState>,
    worker: auth::Worker,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ClaimId::parse(&id).ok_or_else(ApiError::not_found)?;
    let route = format!("POST /api/v1/mutual-aid/claims/{id}/submit");
    idempotency::once(
        &state,
        &req,
        worker.0.account_id(),
        route,
        b"",
        |pending| async {
            let at = clock::now();
            let input = CommandInput {
                command: Command::Submit,
                actor: worker.0.account_id(),
                at,
            };
            let base = worker
                .0
                .change("", "mutual_aid_claim", id, Value::Null, None);
            let change = transition_change(base, ClaimAction::Submit);
            let outcome = state
                .mutual_aid
                .decide(
                    id,
                    &input,
                    Box::new(move |outcome: &Outcome| {
                        let mut change = change(outcome);
                        change.answer = answer_of(pending, StatusCode::OK, &outcome.claim, at);
                        change
                    }),
                )
                .await?;
            Ok((StatusCode::OK, view_json(&outcome.claim, at)?))
        },
    )
    .await
}
