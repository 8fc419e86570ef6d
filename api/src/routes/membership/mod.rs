//! Joining the union (入会), the worker's side: the privacy notice, applying, following,
//! editing, resubmitting and withdrawing an application, and the member card with its QR
//! token, which officials and service-point staff check at `POST /api/v1/member-cards/verify`,
//! and leaving the union. Transfers to another organisation are in [`transfers`].

pub mod admin;
pub mod transfers;

use actix_web::http::StatusCode;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::calendar::china_date;
use yiwang_domain::clock;
use yiwang_domain::membership::application::{
    ApplicantDetails, Application, ApplicationEvent, ApplicationId, SealedIdNumber,
};
use yiwang_domain::membership::form::{ApplicationInput, FormContext};
use yiwang_domain::membership::member::{Member, MemberStatus};
use yiwang_domain::org::{OrgId, OrgPath};
use yiwang_domain::store::{Found, RepoError};

use crate::auth::{self, Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::account::me::mask_phone;
use crate::routes::account::me::refresh_worker_view;
use crate::routes::shared::responses::{
    BodyLimitErrors, JsonBodyErrors, NotLoggedIn, SessionStoreDown, WorkerOnly,
};
use crate::routes::shared::Json;
use crate::state::AppState;

/// AES-GCM associated data of every sealed resident ID number.
pub const ID_NUMBER_CONTEXT: &str = "resident_id_number";

/// The privacy notice applicants consent to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrivacyNotice {
    /// Version; an application must name it in `consent.version`.
    pub version: String,
    /// The notice (Chinese).
    pub text: String,
}

/// The privacy notice in force.
#[utoipa::path(get, tag = "membership",
    responses((status = 200, description = "The notice", body = PrivacyNotice)))]
#[get("/membership/privacy-notice")]
pub async fn privacy_notice(state: web::Data<AppState>) -> web::Json<PrivacyNotice> {
    web::Json(PrivacyNotice {
        version: state.privacy_notice_version.clone(),
        text: "为办理入会，工会将收集您的姓名、身份证号码、手机号码、工作单位、行业、就业形态和所在城市。\
               身份证号码属于敏感个人信息，加密存储，仅审核人员在必要时查看完整号码并留有记录。\
               信息仅用于会员管理和会员服务；申请被驳回、撤回或退会后，个人信息在保存期限届满时删除。\
               您可以随时查询、更正您的信息或申请注销账号。"
            .into(),
    })
}

/// Consent to the privacy notice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Must be `true`; without consent nothing is stored.
    pub accepted: bool,
    /// The notice version shown (`GET /api/v1/membership/privacy-notice`).
    #[schema(min_length = 1, max_length = 32)]
    pub version: String,
}

/// A membership application as the worker fills it in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationForm {
    /// Real name: 1–30 characters, letters (any script), `·`, spaces; no digits.
    #[schema(min_length = 1, max_length = 30)]
    pub real_name: String,
    /// Resident ID number (18 characters, GB 11643-1999); birth date and sex are read from
    /// it; the applicant must be at least 16.
    #[schema(min_length = 18, max_length = 18)]
    pub id_number: String,
    /// Mainland mobile number; absent: the number bound through WeChat.
    #[schema(max_length = 20)]
    pub phone: Option<String>,
    /// Employer (for platform workers: the platform or agency), 1–100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub employer_name: String,
    /// Employer's unified social credit code (18 characters, GB 32100-2015), optional.
    #[schema(min_length = 18, max_length = 18)]
    pub credit_code: Option<String>,
    /// Industry, 1–50 characters (`快递物流`).
    #[schema(min_length = 1, max_length = 50)]
    pub industry: String,
    /// Form of employment.
    #[schema(value_type = crate::routes::vocabularies::EmploymentForm)]
    pub employment_form: String,
    /// City of work, 1–30 characters.
    #[schema(min_length = 1, max_length = 30)]
    pub city: String,
    /// The organisation to join (`GET /api/v1/orgs`).
    pub org_id: String,
    /// Consent to the privacy notice.
    pub consent: Consent,
}

/// An organisation, in brief.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgRef {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// One step of an application's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// `submitted`, `resubmitted`, `approved`, `rejected`, `returned` or `withdrawn`.
    #[schema(value_type = crate::routes::vocabularies::ApplicationAction)]
    pub action: String,
    /// Reason code (rejections).
    #[schema(value_type = Option<crate::routes::vocabularies::ApplicationRejectReason>)]
    pub reason_code: Option<String>,
    /// Reason (rejections).
    pub reason: Option<String>,
    /// What was asked for (returns).
    pub missing: Option<String>,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

impl From<ApplicationEvent> for HistoryEntry {
    fn from(e: ApplicationEvent) -> Self {
        HistoryEntry {
            action: e.action.as_str().to_owned(),
            reason_code: e.reason_code.map(|r| r.as_str().to_owned()),
            reason: e.reason,
            missing: e.missing,
            at: e.at,
        }
    }
}

/// A membership application. The ID number is always masked; personal fields are absent
/// once erased after the retention period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    /// Id.
    pub id: String,
    /// `submitted`, `approved`, `rejected`, `returned` or `withdrawn`.
    #[schema(value_type = crate::routes::vocabularies::ApplicationStatus)]
    pub status: String,
    /// The status in Chinese, for display.
    pub status_label: String,
    /// The organisation applied to.
    pub org: OrgRef,
    /// Real name.
    pub real_name: Option<String>,
    /// ID number, masked: `3201**********1234`.
    pub id_number: Option<String>,
    /// Birth date, from the ID number.
    pub birth_date: Option<NaiveDate>,
    /// `male` or `female`, from the ID number.
    #[schema(value_type = Option<crate::routes::vocabularies::Sex>)]
    pub sex: Option<String>,
    /// Mobile number (masked in workers' views and officials' lists).
    pub phone: Option<String>,
    /// Employer.
    pub employer_name: Option<String>,
    /// Employer's unified social credit code.
    pub credit_code: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Form of employment.
    #[schema(value_type = crate::routes::vocabularies::EmploymentForm)]
    pub employment_form: String,
    /// City.
    pub city: Option<String>,
    /// Privacy-notice version consented to.
    pub consent_version: String,
    /// When consent was given (UTC).
    pub consented_at: DateTime<Utc>,
    /// Last (re)submission (UTC).
    pub submitted_at: DateTime<Utc>,
    /// Last decision (UTC).
    pub decided_at: Option<DateTime<Utc>>,
    /// Reason code of the last rejection: `not_eligible`, `false_information`,
    /// `wrong_organisation`, `duplicate`, `other`.
    #[schema(value_type = Option<crate::routes::vocabularies::ApplicationRejectReason>)]
    pub reason_code: Option<String>,
    /// Reason of the last rejection.
    pub reason: Option<String>,
    /// What the last return asked for.
    pub missing: Option<String>,
    /// History, oldest first (in single-application answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryEntry>>,
}

impl ApplicationView {
    /// The view of `app`; `full_phone` shows the mobile number unmasked (an official's
    /// single-application view, who must contact the applicant).
    pub fn new(app: Application, full_phone: bool) -> Self {
        ApplicationView {
            id: app.id.to_string(),
            status: app.status.as_str().to_owned(),
            status_label: app.status.zh().to_owned(),
            org: OrgRef {
                id: app.org_id.to_string(),
                name: app.org_name,
            },
            real_name: app.real_name,
            id_number: app.id_number_masked,
            birth_date: app.birth_date,
            sex: app.sex.map(|s| s.as_str().to_owned()),
            phone: app
                .phone
                .map(|p| if full_phone { p } else { mask_phone(&p) }),
            employer_name: app.employer_name,
            credit_code: app.credit_code,
            industry: app.industry,
            employment_form: app.employment_form.as_str().to_owned(),
            city: app.city,
            consent_version: app.consent_version,
            consented_at: app.consented_at,
            submitted_at: app.submitted_at,
            decided_at: app.decided_at,
            reason_code: app.reason_code.map(|r| r.as_str().to_owned()),
            reason: app.reason,
            missing: app.missing,
            history: None,
        }
    }

    /// Adds the history.
    pub fn with_history(mut self, history: Vec<ApplicationEvent>) -> Self {
        self.history = Some(history.into_iter().map(HistoryEntry::from).collect());
        self
    }
}

/// The worker's applications.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationList {
    /// Newest first.
    pub items: Vec<ApplicationView>,
}

/// Checks the whole form in the domain ([`ApplicationInput::check`]), seals the ID number
/// and returns what the repository stores, with the organisation's path.
async fn checked_details(
    state: &AppState,
    worker: &auth::Worker,
    form: &ApplicationForm,
) -> Result<(ApplicantDetails, OrgPath), ApiError> {
    let given = form.phone.as_deref().is_some_and(|p| !p.trim().is_empty());
    let bound_phone = match given {
        true => None,
        false => state.workers.get(worker.0.account_id()).await?.phone,
    };
    let org = match OrgId::parse(&form.org_id) {
        Some(id) => state.orgs.get(id).await.found()?,
        None => None,
    };
    let input = ApplicationInput {
        real_name: form.real_name.clone(),
        id_number: form.id_number.clone(),
        phone: form.phone.clone(),
        employer_name: form.employer_name.clone(),
        credit_code: form.credit_code.clone(),
        industry: form.industry.clone(),
        employment_form: form.employment_form.clone(),
        city: form.city.clone(),
        consent_accepted: form.consent.accepted,
        consent_version: form.consent.version.clone(),
    };
    let checked = input.check(&FormContext {
        today: china_date(clock::now()),
        privacy_notice_version: &state.privacy_notice_version,
        bound_phone: bound_phone.as_deref(),
        org: org.as_ref(),
    })?;
    let id = &checked.id_number;
    let sealed = state.personal_data.seal(id.expose(), ID_NUMBER_CONTEXT);
    let details = ApplicantDetails {
        real_name: checked.real_name.as_str().to_owned(),
        id_number: SealedIdNumber {
            kid: sealed.kid,
            sealed: sealed.ciphertext,
            index: state.personal_data.blind_index(id.expose()),
            masked: id.masked(),
        },
        birth_date: id.birth_date(),
        sex: id.sex(),
        phone: checked.phone.as_str().to_owned(),
        employer_name: checked.employer_name,
        credit_code: checked.credit_code.map(|c| c.as_str().to_owned()),
        industry: checked.industry,
        employment_form: checked.employment_form,
        city: checked.city,
        org_id: checked.org.id,
        consent_version: checked.consent_version,
    };
    Ok((details, checked.org.path))
}

fn application_id(id: &str) -> Result<ApplicationId, ApiError> {
    ApplicationId::parse(id).ok_or_else(ApiError::not_found)
}

/// Files a membership application. With `Idempotency-Key`, a retry after a lost answer answers
/// the first application (without it, the retry is `application_open`).
#[utoipa::path(post, tag = "membership", security(("bearer" = [])),
    request_body = ApplicationForm,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and form answers the first application")),
    responses(
        (status = 201, description = "Submitted", body = ApplicationView),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_member` or `application_open`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (every one is listed), or no consent", body = Problem, content_type = "application/problem+json"),
        BodyLimitErrors, NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[post("/membership/applications")]
pub async fn apply(
    state: web::Data<AppState>,
    worker: auth::Worker,
    req: HttpRequest,
    form: Json<ApplicationForm>,
) -> Result<HttpResponse, ApiError> {
    let (details, org_path) = checked_details(&state, &worker, &form).await?;
    let account = worker.0.account_id();
    // What makes two filings the same: the checked details, the ID number by its blind index
    // (a hash of the number itself would be guessable).
    let request = json!({
        "real_name": details.real_name, "id_number": details.id_number.index,
        "phone": details.phone, "employer_name": details.employer_name,
        "credit_code": details.credit_code, "industry": details.industry,
        "employment_form": details.employment_form.as_str(), "city": details.city,
        "org_id": details.org_id, "consent_version": details.consent_version,
    })
    .to_string();
    let route = "POST /api/v1/membership/applications".to_owned();
    idempotency::once(
        &state,
        &req,
        account,
        route,
        request.as_bytes(),
        |pending| async {
            let id = ApplicationId::new();
            let change = worker.0.change(
                "membership.application.submit",
                "membership_application",
                id,
                json!({ "org_id": details.org_id, "id_number": details.id_number.masked }),
                Some(OutboxEvent {
                    topic: "membership.application.submitted".into(),
                    payload: json!({ "id": id, "org_id": details.org_id }),
                }),
            );
            let at = clock::now();
            let answer =
                idempotency::answer_of(pending, StatusCode::CREATED, at, |app: &Application| {
                    ApplicationView::new(app.clone(), false)
                });
            let app = state
                .membership
                .submit(id, account, &details, &org_path, at, &change, answer)
                .await?;
            refresh_worker_view(&state, account).await;
            let body = serde_json::to_value(ApplicationView::new(app, false))
                .map_err(|e| ApiError::internal(&e))?;
            Ok((StatusCode::CREATED, body))
        },
    )
    .await
}

/// The worker's own applications, newest first.
#[utoipa::path(get, tag = "membership", security(("bearer" = [])),
    responses(
        (status = 200, description = "The worker's applications", body = ApplicationList),
        NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[get("/membership/applications")]
pub async fn my_applications(
    state: web::Data<AppState>,
    worker: auth::Worker,
) -> Result<web::Json<ApplicationList>, ApiError> {
    let apps = state
        .membership
        .applications_of(worker.0.account_id())
        .await?;
    Ok(web::Json(ApplicationList {
        items: apps
            .into_iter()
            .map(|a| ApplicationView::new(a, false))
            .collect(),
    }))
}

/// The worker's application `id`, when it is theirs.
async fn own_application(
    state: &AppState,
    worker: &auth::Worker,
    id: &str,
) -> Result<Application, ApiError> {
    let app = state.membership.application(application_id(id)?).await?;
    if app.account_id != worker.0.account_id() {
        return Err(ApiError::not_found());
    }
    Ok(app)
}

/// One of the worker's applications, with its history.
#[utoipa::path(get, tag = "membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The application", body = ApplicationView),
        (status = 404, description = "Not one of the worker's applications", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[get("/membership/applications/{id}")]
pub async fn my_application(
    state: web::Data<AppState>,
    worker: auth::Worker,
    id: web::Path<String>,
) -> Result<web::Json<ApplicationView>, ApiError> {
    let app = own_application(&state, &worker, &id).await?;
    let history = state.membership.history(app.id).await?;
    Ok(web::Json(
        ApplicationView::new(app, false).with_history(history),
    ))
}

/// Edits a returned or rejected application and submits it again.
#[utoipa::path(put, tag = "membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id")),
    request_body = ApplicationForm,
    responses(
        (status = 200, description = "Submitted again", body = ApplicationView),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not one of the worker's applications", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`application_status` (not returned or rejected), `already_member`, `application_open`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, or no consent", body = Problem, content_type = "application/problem+json"),
        BodyLimitErrors, NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[put("/membership/applications/{id}")]
pub async fn resubmit(
    state: web::Data<AppState>,
    worker: auth::Worker,
    id: web::Path<String>,
    form: Json<ApplicationForm>,
) -> Result<web::Json<ApplicationView>, ApiError> {
    let app = own_application(&state, &worker, &id).await?;
    let (details, org_path) = checked_details(&state, &worker, &form).await?;
    let change = worker.0.change(
        "membership.application.resubmit",
        "membership_application",
        app.id,
        json!({ "org_id": details.org_id, "id_number": details.id_number.masked }),
        Some(OutboxEvent {
            topic: "membership.application.resubmitted".into(),
            payload: json!({ "id": app.id, "org_id": details.org_id }),
        }),
    );
    let updated = state
        .membership
        .resubmit(
            app.id,
            worker.0.account_id(),
            &details,
            &org_path,
            clock::now(),
            &change,
        )
        .await?;
    refresh_worker_view(&state, updated.account_id).await;
    let history = state.membership.history(updated.id).await?;
    Ok(web::Json(
        ApplicationView::new(updated, false).with_history(history),
    ))
}

/// Withdraws an undecided (submitted or returned) application.
#[utoipa::path(post, tag = "membership", security(("bearer" = [])),
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "Withdrawn", body = ApplicationView),
        (status = 404, description = "Not one of the worker's applications", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`application_status`: already decided or withdrawn", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[post("/membership/applications/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    worker: auth::Worker,
    id: web::Path<String>,
) -> Result<web::Json<ApplicationView>, ApiError> {
    let app = own_application(&state, &worker, &id).await?;
    let change = worker.0.change(
        "membership.application.withdraw",
        "membership_application",
        app.id,
        json!({}),
        Some(OutboxEvent {
            topic: "membership.application.withdrawn".into(),
            payload: json!({ "id": app.id, "org_id": app.org_id }),
        }),
    );
    let updated = state
        .membership
        .withdraw(app.id, worker.0.account_id(), clock::now(), &change)
        .await?;
    refresh_worker_view(&state, updated.account_id).await;
    Ok(web::Json(ApplicationView::new(updated, false)))
}

/// The member card (电子会员卡).
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberCard {
    /// Member number, `{organisation code}-{sequence}`.
    pub member_number: String,
    /// Real name.
    pub name: Option<String>,
    /// ID number, masked.
    pub id_number: Option<String>,
    /// The member's organisation.
    pub org: OrgRef,
    /// Join date (China Standard Time).
    pub joined_on: NaiveDate,
    /// `active` or `ended`.
    #[schema(value_type = crate::routes::vocabularies::MemberStatus)]
    pub status: String,
    /// The status in Chinese.
    pub status_label: String,
    /// What the QR code encodes: a signed token, valid 5 minutes, checked at
    /// `POST /api/v1/member-cards/verify`. Fetch the card again for a fresh one.
    pub qr_token: String,
    /// When `qr_token` expires (UTC).
    pub qr_expires_at: DateTime<Utc>,
}

/// The worker's membership in force, or 404 `not_a_member`.
pub(crate) async fn member_in_force(
    state: &AppState,
    worker: &auth::Worker,
) -> Result<Member, ApiError> {
    state
        .membership
        .member_of(worker.0.account_id())
        .await?
        .ok_or_else(not_a_member)
}

pub(crate) fn not_a_member() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_a_member",
        "您还不是工会会员（或已退会）；入会申请通过后即可查看电子会员卡",
        "You are not a member (or have left); the card appears once an application is approved",
    )
}

fn org_ref(member: &Member) -> OrgRef {
    OrgRef {
        id: member.org_id.to_string(),
        name: member.org_name.clone(),
    }
}

/// The worker's member card, with a fresh QR token.
#[utoipa::path(get, tag = "membership", security(("bearer" = [])),
    responses(
        (status = 200, description = "The card", body = MemberCard),
        (status = 404, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[get("/me/member-card")]
pub async fn member_card(
    state: web::Data<AppState>,
    worker: auth::Worker,
) -> Result<web::Json<MemberCard>, ApiError> {
    let member = member_in_force(&state, &worker).await?;
    let (qr_token, exp) = state
        .tokens
        .issue_card(&member.id.to_string(), &member.member_number)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(web::Json(MemberCard {
        member_number: member.member_number.clone(),
        name: member.real_name.clone(),
        id_number: member.id_number_masked.clone(),
        org: org_ref(&member),
        joined_on: member.joined_on,
        status: member.status.as_str().to_owned(),
        status_label: member.status.zh().to_owned(),
        qr_token,
        qr_expires_at: DateTime::from_timestamp(exp, 0).unwrap_or_default(),
    }))
}

/// A member card's QR token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyCard {
    /// The token from the QR code.
    #[schema(min_length = 1, max_length = 2048)]
    pub token: String,
}

/// What a check of a member card shows: never the ID number.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardCheck {
    /// Member number.
    pub member_number: String,
    /// Real name.
    pub name: Option<String>,
    /// The member's organisation now.
    pub org: OrgRef,
    /// `active` or `ended`, as of now.
    #[schema(value_type = crate::routes::vocabularies::MemberStatus)]
    pub status: String,
    /// The status in Chinese.
    pub status_label: String,
    /// Whether the holder is a member in good standing.
    pub valid: bool,
}

/// Checks a member card's QR token (any official, including service-point staff).
#[utoipa::path(post, tag = "membership", security(("bearer" = [])),
    request_body = VerifyCard,
    responses(
        (status = 200, description = "The card's holder", body = CardCheck),
        (status = 403, description = "A worker's token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`card_token_invalid`: forged, expired or not a card token", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, SessionStoreDown,
    ))]
#[post("/member-cards/verify")]
pub async fn verify_card(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<VerifyCard>,
) -> Result<web::Json<CardCheck>, ApiError> {
    admin.authorize(Permission::VerifyMemberCard, &admin.org_path)?;
    let invalid = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "card_token_invalid",
            "会员卡二维码无效或已过期，请会员刷新电子会员卡后重新出示",
            "The card's QR code is invalid or expired; ask the member to refresh the card",
        )
        .field("token", "invalid", "无效或已过期", "invalid or expired")
    };
    let claims = state
        .tokens
        .verify_card(body.token.trim())
        .ok_or_else(invalid)?;
    let member_id =
        yiwang_domain::membership::member::MemberId::parse(&claims.sub).ok_or_else(invalid)?;
    let member = match state.membership.member(member_id).await {
        Ok(m) => m,
        Err(RepoError::NotFound) => return Err(invalid()),
        Err(e) => return Err(e.into()),
    };
    Ok(web::Json(CardCheck {
        member_number: member.member_number.clone(),
        name: member.real_name.clone(),
        org: org_ref(&member),
        status: member.status.as_str().to_owned(),
        status_label: member.status.zh().to_owned(),
        valid: member.status == MemberStatus::Active,
    }))
}

/// What ending a membership answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipEnded {
    /// The member number, kept in the history.
    pub member_number: String,
    /// `ended`.
    pub status: String,
    /// When it ended (UTC).
    pub ended_at: Option<DateTime<Utc>>,
}

/// Ends the worker's membership (退会). Personal data is erased after the retention period.
#[utoipa::path(post, tag = "membership", security(("bearer" = [])),
    responses(
        (status = 200, description = "Membership ended", body = MembershipEnded),
        (status = 404, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly, SessionStoreDown,
    ))]
#[post("/membership/leave")]
pub async fn leave(
    state: web::Data<AppState>,
    worker: auth::Worker,
) -> Result<web::Json<MembershipEnded>, ApiError> {
    let member = member_in_force(&state, &worker).await?;
    let change = worker.0.change(
        "membership.end",
        "member",
        member.id,
        json!({ "member_number": member.member_number }),
        Some(OutboxEvent {
            topic: "membership.ended".into(),
            payload: json!({ "member_id": member.id, "org_id": member.org_id }),
        }),
    );
    let ended = match state
        .membership
        .end_membership(worker.0.account_id(), clock::now(), &change)
        .await
    {
        Ok(m) => m,
        Err(RepoError::NotFound) => return Err(not_a_member()),
        Err(e) => return Err(e.into()),
    };
    refresh_worker_view(&state, ended.account_id).await;
    Ok(web::Json(MembershipEnded {
        member_number: ended.member_number,
        status: ended.status.as_str().to_owned(),
        ended_at: ended.ended_at,
    }))
}

/// Registers this feature's routes with their OpenAPI paths, in the order actix matches
/// them (fixed paths before `{id}`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(privacy_notice)
        .service(apply)
        .service(my_applications)
        .service(my_application)
        .service(resubmit)
        .service(withdraw)
        .service(member_card)
        .service(leave)
        .service(verify_card)
        .service(transfers::request)
        .service(transfers::list)
        .service(transfers::withdraw)
        .service(transfers::history)
        .service(admin::batch_approve)
        .service(admin::queue)
        .service(admin::application)
        .service(admin::approve)
        .service(admin::reject)
        .service(admin::return_application)
        .service(admin::members)
        .service(admin::export::export)
        .service(admin::reveal_id)
        .service(admin::transfers::queue)
        .service(admin::transfers::show)
        .service(admin::transfers::approve)
        .service(admin::transfers::reject);
}
