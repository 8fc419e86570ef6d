//! Enrolments, the officials' side: the list of a subtree's enrolments and recording the
//! fee — cash, bank transfer, or paid by the union (代付, as 晋城 does for new members) — for
//! one member or a whole list at once. Online payment is a later issue.

use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::mutual_aid::enrolment::{FeePayment, PaymentMethod};
use yiwang_domain::mutual_aid::plan::PlanId;
use yiwang_domain::mutual_aid::store::EnrolmentFilter;
use yiwang_domain::mutual_aid::EnrolmentId;
use yiwang_domain::problem::present;

use super::{members_of, plan_filter};
use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::mutual_aid::{rules_of, today, EnrolmentView};
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::Json;
use crate::routes::shared::{optional_text, Query};
use crate::routes::shared::{PageQuery, Paged};
use crate::state::AppState;

/// Most enrolments one payment request records.
pub const MAX_PAYMENTS: usize = 500;

/// Filters of the enrolment list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EnrolmentQuery {
    /// Only this plan.
    pub plan_id: Option<String>,
    /// Only paid (`true`) or unpaid (`false`) enrolments.
    pub paid: Option<bool>,
    /// Only members whose real name, mobile number or member number contains this text (at
    /// most 50 characters): finance finding a walk-in payer.
    pub q: Option<String>,
}

/// Enrolments of members in the caller's subtree, oldest first, paged.
#[utoipa::path(get, tag = "admin: mutual aid", security(("bearer" = [])),
    params(EnrolmentQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<EnrolmentView>),
        (status = 403, description = "Role may not read mutual aid, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan_id` not in scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/mutual-aid/enrollments")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<EnrolmentQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<EnrolmentView>>, ApiError> {
    admin.authorize(Permission::ReadMutualAid, &admin.org_path)?;
    let page = page.request()?;
    let plan = plan_filter(&state, &admin, query.plan_id.as_deref()).await?;
    let filter = EnrolmentFilter {
        plan,
        paid: query.paid,
        member: optional_text("q", query.q.as_deref(), 50)?,
    };
    let rows = state
        .mutual_aid
        .enrollments(&admin.org_path, &filter, &page)
        .await?;
    let rules = rules_of(&state, rows.items.iter().map(|e| e.plan_id)).await?;
    let members = members_of(&state, rows.items.iter().map(|e| e.member_id)).await?;
    let today = today();
    Ok(web::Json(Paged::of_some(rows, |e| {
        rules
            .get(&e.plan_id)
            .map(|r| EnrolmentView::new(&e, r, today).naming(members.get(&e.member_id)))
    })))
}

/// A fee recorded for one or more enrolments of one plan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentForm {
    /// The enrolments, 1–500, all of one plan.
    #[schema(min_items = 1, max_items = 500, value_type = Vec<uuid::Uuid>)]
    pub enrollment_ids: Vec<String>,
    /// `cash`, `bank_transfer` or `paid_by_union` (代付).
    #[schema(value_type = crate::routes::vocabularies::PaymentMethod)]
    pub method: String,
    /// Receipt number or transfer reference, at most 100 characters.
    #[schema(max_length = 100)]
    pub reference: Option<String>,
}

/// One enrolment after the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentResult {
    /// The enrolment, active now.
    pub enrollment: EnrolmentView,
    /// `false` when it had been paid already (nothing changed).
    pub paid_now: bool,
}

/// What a payment request did.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentResults {
    /// In the order asked.
    pub items: Vec<PaymentResult>,
}

/// Records the plan's fee for each listed enrolment not paid yet, all or none: the enrolments
/// become active today and coverage starts after the waiting period. Recording a paid one
/// again changes nothing (`paid_now: false`).
#[utoipa::path(post, tag = "admin: mutual aid", security(("bearer" = [])),
    request_body = PaymentForm,
    responses(
        (status = 200, description = "Recorded", body = PaymentResults),
        (status = 403, description = "Role may not record fees, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "An enrolment unknown or outside the caller's subtree (nothing recorded)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No or too many ids, an unknown method, `mixed_plans`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/mutual-aid/enrollments/payments")]
pub async fn record_payments(
    state: web::Data<AppState>,
    admin: Admin,
    form: Json<PaymentForm>,
) -> Result<web::Json<PaymentResults>, ApiError> {
    admin.authorize(Permission::RecordFees, &admin.org_path)?;
    let form = form.into_inner();
    if form.enrollment_ids.is_empty() || form.enrollment_ids.len() > MAX_PAYMENTS {
        return Err(ApiError::invalid_field(
            "enrollment_ids",
            "out_of_range",
            format!("一次可登记 1 到 {MAX_PAYMENTS} 人"),
            format!("record 1 to {MAX_PAYMENTS} enrolments at a time"),
        ));
    }
    let method = PaymentMethod::parse(form.method.trim()).ok_or_else(|| {
        ApiError::not_one_of("method", &PaymentMethod::ALL.map(PaymentMethod::as_str))
    })?;
    let reference = present(form.reference);
    if reference.as_ref().is_some_and(|r| r.chars().count() > 100) {
        return Err(ApiError::invalid_field(
            "reference",
            "too_long",
            "票据或转账编号最多 100 个字符",
            "reference must be at most 100 characters",
        ));
    }
    let mut ids = Vec::new();
    let mut plan: Option<PlanId> = None;
    for (i, raw) in form.enrollment_ids.iter().enumerate() {
        let id = EnrolmentId::parse(raw.trim()).ok_or_else(ApiError::not_found)?;
        let e = state.mutual_aid.enrollment(id).await?;
        admin.authorize(Permission::RecordFees, &e.org_path)?;
        if plan.is_some_and(|p| p != e.plan_id) {
            return Err(ApiError::invalid_field(
                &format!("enrollment_ids.{i}"),
                "mixed_plans",
                "一次只能登记同一个计划的缴费",
                "all enrolments of one request must be of one plan",
            ));
        }
        plan = Some(e.plan_id);
        ids.push(id);
    }
    let Some(plan_id) = plan else {
        return Err(ApiError::not_found());
    };
    let plan = state.mutual_aid.plan(plan_id).await?;
    let today = today();
    let payment = FeePayment {
        method,
        amount_fen: plan.rules.fee_fen,
        reference,
        recorded_by: admin.principal.account_id(),
        activated_on: today,
    };
    let change = admin.principal.change(
        "mutual_aid.enrollment.pay",
        "mutual_aid_enrollment",
        "",
        json!({ "method": method.as_str(), "amount_fen": plan.rules.fee_fen, "reference": payment.reference }),
        Some(OutboxEvent {
            topic: "mutual_aid.enrollment.active".into(),
            payload: json!({ "plan_id": plan.id, "method": method.as_str() }),
        }),
    );
    let done = state
        .mutual_aid
        .record_payments(&ids, &payment, &change)
        .await?;
    let members = members_of(&state, done.iter().map(|(e, _)| e.member_id)).await?;
    let items = done
        .into_iter()
        .map(|(e, paid_now)| PaymentResult {
            enrollment: EnrolmentView::new(&e, &plan.rules, today)
                .naming(members.get(&e.member_id)),
            paid_now,
        })
        .collect();
    Ok(web::Json(PaymentResults { items }))
}
