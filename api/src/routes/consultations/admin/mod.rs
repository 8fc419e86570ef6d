//! Consultations, the lawyers' and officials' side. A lawyer sees their own open work and the
//! waiting consultations of their specialties, accepts one (接单; the first accept wins),
//! answers — asking the worker for more stops the resolution clock — and resolves it. An
//! official of the consultation's branch releases or refuses text the content check held,
//! assigns a lawyer, and follows the branch's queue with overdue ones flagged.

pub mod categories;
pub mod early_warnings;
pub mod lawyers;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::account::Role;
use yiwang_domain::clock;
use yiwang_domain::consultation::lawyer::Lawyer;
use yiwang_domain::consultation::message::{self, Author, Message};
use yiwang_domain::consultation::store::QueueScope;
use yiwang_domain::consultation::thread::{
    Actor, Command, Consultation, ConsultationId, ConsultationStatus,
};

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::consultations::admin::lawyers::{listed_lawyer, no_profile};
use crate::routes::consultations::attachments::{self, Upload};
use crate::routes::consultations::{
    lawyer_names, mark_read, message_page, run, ConsultationView, MessageList, MessageQuery,
    ReadForm, ReadMarkView,
};
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{status_filter, PageQuery, Paged};
use crate::state::AppState;
use crate::upload::DocumentLink;

/// The calling lawyer's profile; 404 `no_profile` before an administrator wrote it.
async fn my_profile(state: &AppState, admin: &Admin) -> Result<Lawyer, ApiError> {
    state
        .roster
        .lawyer(admin.principal.account_id())
        .await
        .map_err(no_profile)
}

/// Consultation `id` as the caller may reach it for `permission`, and who the caller acts
/// as: a lawyer reaches their own and the pool (see below); an official those of their
/// branch. Anything else answers 404.
async fn reach(
    state: &AppState,
    admin: &Admin,
    id: &str,
    permission: Permission,
) -> Result<(Consultation, Actor), ApiError> {
    let id = ConsultationId::parse(id).ok_or_else(ApiError::not_found)?;
    let c = state.consultations.consultation(id).await?;
    if admin.role == Role::Lawyer {
        let me = my_profile(state, admin).await?;
        let mine = c.lawyer == Some(me.account_id);
        let reachable = if permission == Permission::ReadConsultations {
            // Reading: the waiting pool of their specialties.
            c.status == ConsultationStatus::Waiting && me.practises(&c.category)
        } else {
            // Acting: any waiting one, or one of their specialties a colleague took, so an
            // accept is told why not (403 not_your_specialty, 409 already_taken); never held
            // text.
            c.status != ConsultationStatus::Held
                && (c.status == ConsultationStatus::Waiting || me.practises(&c.category))
        };
        if !mine && !reachable {
            return Err(ApiError::not_found());
        }
        return Ok((c, Actor::Lawyer(Box::new(me))));
    }
    admin.authorize(permission, &c.org_path)?;
    Ok((c, Actor::Official(admin.principal.account_id())))
}

/// Which consultations an official lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Only these states, comma-separated (`held,waiting`); all when absent.
    #[param(value_type = Option<Vec<crate::routes::vocabularies::ConsultationStatus>>, style = Form, explode = false)]
    pub status: Option<String>,
}

/// For a lawyer: their own consultations and the waiting ones of their specialties, in
/// `status` (without it: waiting, open and pending — the work in hand; `resolved,closed` is
/// their history). For an official: the consultations of their branch, in `status` (all
/// without it). Oldest first, paged; `overdue` flags a deadline passed unmet.
#[utoipa::path(get, tag = "admin: consultations", security(("bearer" = [])),
    params(QueueQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<ConsultationView>),
        (status = 403, description = "Role may not read consultations, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`no_profile`: a lawyer without a profile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown state, bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/consultations")]
pub async fn queue(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<QueueQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<ConsultationView>>, ApiError> {
    let now = clock::now();
    let page = page.request()?;
    let statuses = status_filter(
        query.status.as_deref(),
        ConsultationStatus::parse,
        &ConsultationStatus::ALL.map(ConsultationStatus::as_str),
    )?;
    if admin.role == Role::Lawyer {
        let me = my_profile(&state, &admin).await?;
        // Without a filter, the work in hand: the pool and their open and pending ones.
        let statuses = if statuses.is_empty() {
            vec![
                ConsultationStatus::Waiting,
                ConsultationStatus::Open,
                ConsultationStatus::Pending,
            ]
        } else {
            statuses
        };
        let whose = QueueScope::Lawyer {
            lawyer: me.account_id,
            specialties: me.details.specialties.clone(),
        };
        let rows = state
            .consultations
            .queue(&whose, &statuses, now, &page)
            .await?;
        let names = lawyer_names(&state, &rows.items).await?;
        let me = Actor::Lawyer(Box::new(me));
        return Ok(web::Json(Paged::of(rows, |c| {
            ConsultationView::named(&c, now, &names).for_reader(me.author())
        })));
    }
    admin.authorize(Permission::ReadConsultations, &admin.org_path)?;
    let whose = QueueScope::Branch(admin.org_path.clone());
    let rows = state
        .consultations
        .queue(&whose, &statuses, now, &page)
        .await?;
    let names = lawyer_names(&state, &rows.items).await?;
    Ok(web::Json(Paged::of(rows, |c| {
        ConsultationView::named(&c, now, &names)
    })))
}

/// One consultation.
#[utoipa::path(get, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id")),
    responses(
        (status = 200, description = "The consultation", body = ConsultationView),
        (status = 403, description = "Role may not read consultations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's to see", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[get("/admin/consultations/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<ConsultationView>, ApiError> {
    let (c, actor) = reach(&state, &admin, &id, Permission::ReadConsultations).await?;
    let names = lawyer_names(&state, [&c]).await?;
    Ok(web::Json(
        ConsultationView::named(&c, clock::now(), &names).for_reader(actor.author()),
    ))
}

/// The thread, oldest first (held messages included for officials).
#[utoipa::path(get, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"), MessageQuery),
    responses(
        (status = 200, description = "The messages", body = MessageList),
        (status = 403, description = "Role may not read consultations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's to see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad `after` or `limit`", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/consultations/{id}/messages")]
pub async fn messages(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    query: Query<MessageQuery>,
) -> Result<web::Json<MessageList>, ApiError> {
    let (c, actor) = reach(&state, &admin, &id, Permission::ReadConsultations).await?;
    let me = admin.principal.account_id();
    Ok(web::Json(
        message_page(&state, c.id, &query, actor.author(), me).await?,
    ))
}

/// Runs `command` on consultation `id` as the caller, recorded as step `action`; with
/// `Idempotency-Key`, a retry of the same step answers the first one instead of 409.
async fn step(
    state: &AppState,
    admin: &Admin,
    req: &HttpRequest,
    id: &str,
    command: Command,
    action: &'static str,
) -> Result<HttpResponse, ApiError> {
    let (c, actor) = reach(state, admin, id, Permission::HandleConsultations).await?;
    let base = admin
        .principal
        .change("", "consultation", c.id, Value::Null, None);
    // Two assignments are the same request when they name the same lawyer, whatever their
    // profile says by the retry.
    let asked = match &command {
        Command::Assign(lawyer) => format!("Assign({})", lawyer.account_id),
        other => format!("{other:?}"),
    };
    let account = admin.principal.account_id();
    idempotency::step(state, req, account, &asked, |pending| async move {
        let (_, body) = run(state, c.id, actor, command, None, base, action, pending).await?;
        Ok(body)
    })
    .await
}

/// A lawyer takes a waiting consultation (接单): one in their specialties, while on duty,
/// once a lawyer the worker picked has had their minutes. The first accept wins; the others
/// get 409.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first step")),
    responses(
        (status = 200, description = "Accepted: open", body = ConsultationView),
        (status = 403, description = "`not_your_specialty`, `off_duty`, or not a lawyer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's to see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_taken`, `reserved` (the worker's chosen lawyer still has it)", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/consultations/{id}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if admin.role != Role::Lawyer {
        return Err(ApiError::forbidden());
    }
    step(&state, &admin, &req, &id, Command::Accept, "accept").await
}

/// The lawyer's answer.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerForm {
    /// The text, 1–2,000 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 2000, pattern = "\\S")]
    pub text: Option<String>,
    /// `true`: the lawyer waits on the worker's answer (`pending`; the resolution clock
    /// stops until the worker writes).
    #[serde(default)]
    pub asks_worker: bool,
}

/// The lawyer writes in their consultation. With `Idempotency-Key`, a retry sends once.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body sends once")),
    request_body = AnswerForm,
    responses(
        (status = 200, description = "Written; the consultation as it is now", body = ConsultationView),
        (status = 403, description = "Not a lawyer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the lawyer's consultation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_open`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or over 2,000 characters, `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/consultations/{id}/messages")]
pub async fn answer(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<AnswerForm>,
) -> Result<HttpResponse, ApiError> {
    if admin.role != Role::Lawyer {
        return Err(ApiError::forbidden());
    }
    let (c, actor) = reach(&state, &admin, &id, Permission::HandleConsultations).await?;
    let form = form.into_inner();
    let request = serde_json::to_vec(&form).map_err(|e| ApiError::internal(&e))?;
    let me = admin.principal.account_id();
    let route = format!("POST /api/v1/admin/consultations/{}/messages", c.id);
    idempotency::once(&state, &req, me, route, &request, |pending| async {
        let body = message::text("text", form.text.as_deref()).map_err(|p| vec![p])?;
        let m = Message::new(c.id, Author::Lawyer, Some(me), body, clock::now());
        let base = admin
            .principal
            .change("", "consultation", c.id, Value::Null, None);
        let command = Command::Write {
            asks_worker: form.asks_worker,
        };
        run(
            &state,
            c.id,
            actor,
            command,
            Some(m),
            base,
            "answer",
            pending,
        )
        .await
    })
    .await
}

/// The lawyer (or an official of the branch) marks the consultation resolved; the worker may
/// rate it, or write within 7 days to reopen it.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first step")),
    responses(
        (status = 200, description = "Resolved", body = ConsultationView),
        (status = 403, description = "Role may not handle consultations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_open`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/consultations/{id}/resolve")]
pub async fn resolve(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    step(&state, &admin, &req, &id, Command::Resolve, "resolve").await
}

/// An official lets held text through: the consultation waits for a lawyer, and its
/// deadlines start now.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first step")),
    responses(
        (status = 200, description = "Released: waiting", body = ConsultationView),
        (status = 403, description = "Role may not handle consultations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not in the caller's branch", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_held`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/consultations/{id}/release")]
pub async fn release(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    official_only(&admin)?;
    step(&state, &admin, &req, &id, Command::Release, "release").await
}

/// An official refuses held text: the consultation closes, and no lawyer sees it.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first step")),
    responses(
        (status = 200, description = "Refused: closed", body = ConsultationView),
        (status = 403, description = "Role may not handle consultations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not in the caller's branch", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_held`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/consultations/{id}/refuse")]
pub async fn refuse(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    official_only(&admin)?;
    step(&state, &admin, &req, &id, Command::Refuse, "refuse").await
}

/// A lawyer to give a consultation to.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignForm {
    /// The lawyer (on the roster, practising the consultation's category).
    #[schema(format = Uuid)]
    pub lawyer_id: String,
}

/// An official gives a waiting, open or pending consultation to a lawyer.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first step")),
    request_body = AssignForm,
    responses(
        (status = 200, description = "Assigned: open", body = ConsultationView),
        (status = 403, description = "Role may not handle consultations; `not_your_specialty`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not in the caller's branch", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_assignable` (resolved or closed)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`lawyer_id` not on the roster", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/consultations/{id}/assign")]
pub async fn assign(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<AssignForm>,
) -> Result<HttpResponse, ApiError> {
    official_only(&admin)?;
    let lawyer = listed_lawyer(&state, &form.lawyer_id).await?;
    step(
        &state,
        &admin,
        &req,
        &id,
        Command::Assign(Box::new(lawyer)),
        "assign",
    )
    .await
}

/// Release, refusal and assignment are officials' work.
fn official_only(admin: &Admin) -> Result<(), ApiError> {
    if admin.role == Role::Lawyer {
        return Err(ApiError::forbidden());
    }
    Ok(())
}

/// The lawyer who has the consultation marks the thread read up to a message (已读): the
/// worker sees it in the thread's `read_marks` and on the live socket.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id")),
    request_body = ReadForm,
    responses(
        (status = 200, description = "The lawyer's mark as it stands", body = ReadMarkView),
        (status = 403, description = "`not_a_participant`: only the lawyer who has it marks it read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's to see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`message_id` missing or not in the thread", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/consultations/{id}/read")]
pub async fn read(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    form: Json<ReadForm>,
) -> Result<web::Json<ReadMarkView>, ApiError> {
    let (c, _) = reach(&state, &admin, &id, Permission::ReadConsultations).await?;
    let me = admin.principal.account_id();
    if c.lawyer != Some(me) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_participant",
            "只有承办律师可以标记已读",
            "Only the lawyer who has the consultation marks it read",
        ));
    }
    let mark = mark_read(&state, &c, Author::Lawyer, me, form.into_inner()).await?;
    Ok(web::Json(mark))
}

/// The lawyer who has the consultation sends an image or a voice recording, like a text
/// answer. With `Idempotency-Key`, a retry of the same file sends once.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and file sends once")),
    request_body(content = super::attachments::AttachmentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Sent; the consultation as it is now", body = ConsultationView),
        (status = 400, description = "Unreadable form, or a field other than `file` and `seconds`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a lawyer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the lawyer's consultation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_open`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`file_too_large`: over 10 MB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_file_type`, or not multipart", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`file` missing, `seconds` out of range, `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/consultations/{id}/attachments")]
pub async fn attach(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    if admin.role != Role::Lawyer {
        return Err(ApiError::forbidden());
    }
    let (c, actor) = reach(&state, &admin, &id, Permission::HandleConsultations).await?;
    let upload = Upload::read(form).await?;
    let route = format!("POST /api/v1/admin/consultations/{}/attachments", c.id);
    let principal = &admin.principal;
    attachments::attach(
        &state,
        &req,
        principal,
        &c,
        actor,
        Author::Lawyer,
        upload,
        route,
    )
    .await
}

/// A link to an image or voice recording of a consultation the caller may read, valid 5
/// minutes; each read is audited.
#[utoipa::path(post, tag = "admin: consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"), ("message_id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "The link", body = DocumentLink),
        (status = 403, description = "Role may not read consultations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's to see, or no attachment in that message", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/consultations/{id}/messages/{message_id}/link")]
pub async fn link(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<web::Json<DocumentLink>, ApiError> {
    let (id, message_id) = path.into_inner();
    let (c, actor) = reach(&state, &admin, &id, Permission::ReadConsultations).await?;
    let principal = &admin.principal;
    let link = attachments::link(&state, principal, actor.author(), &c, &message_id).await?;
    Ok(web::Json(link))
}
