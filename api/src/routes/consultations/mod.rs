//! Online consultation (在线咨询), the worker's side: ask a question in a category (optionally
//! of a lawyer picked from the roster, 点单), follow the thread, write in it, rate the answer.
//! What the worker writes goes through msgSecCheck first ([`crate::moderation`]). Asking and
//! writing honour `Idempotency-Key`, so a double tap on a weak network sends once.

pub mod admin;
pub mod attachments;
pub mod commands;
pub mod lawyers;
pub mod live;
pub mod views;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::consultation::category::{Category, CategoryCode};
use yiwang_domain::consultation::message::{self, Author, Message, MessageId, ReadMark};
use yiwang_domain::consultation::thread::{
    Actor, Command, Consultation, ConsultationId, ConsultationStatus, Question, Rating,
};
use yiwang_domain::membership::identity::CreditCode;
use yiwang_domain::org::{OrgId, OrgPath};
use yiwang_domain::problem::{finish, text, FieldProblem};
use yiwang_domain::store::{Found, OrgSearch, PageRequest, RepoError};
use yiwang_domain::wechat::ContentScene;
use yiwang_domain::AccountId;

use crate::auth::Worker;
use crate::error::{ApiError, Problem};
use crate::idempotency::{self};
use crate::moderation;
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn, WorkerOnly};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::state::AppState;

pub use commands::{run, step_change};
pub use live::{push, push_read, ConsultationFrame};
pub use views::{
    lawyer_names, message_page, ConsultationList, ConsultationView, MessageList, MessageQuery,
    MessageView, ReadMarkView, MAX_PAGE,
};

/// The union that handles what worker `account` asks: their own as a member in force, else
/// the installation's root (the first organisation in tree order).
pub async fn handling_org(
    state: &AppState,
    account: AccountId,
) -> Result<(OrgId, OrgPath), ApiError> {
    if let Some(member) = state.membership.member_of(account).await? {
        return Ok((member.org_id, member.org_path));
    }
    let first = PageRequest {
        after: None,
        limit: 1,
    };
    let root = state
        .orgs
        .search(&OrgSearch::default(), &first)
        .await?
        .items
        .into_iter()
        .next()
        .ok_or_else(ApiError::not_found)?;
    Ok((root.id, root.path))
}

/// The worker's consultation `id`, else 404.
async fn own(state: &AppState, worker: &Worker, id: &str) -> Result<Consultation, ApiError> {
    let id = ConsultationId::parse(id).ok_or_else(ApiError::not_found)?;
    let c = state.consultations.consultation(id).await?;
    if c.account_id != worker.0.account_id() {
        return Err(ApiError::not_found());
    }
    Ok(c)
}

/// A question.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionForm {
    /// Category code (`GET /api/v1/consultation-categories`).
    #[schema(required = true, value_type = String, min_length = 1)]
    pub category: Option<String>,
    /// Title, 1–50 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 50, pattern = "\\S")]
    pub title: Option<String>,
    /// The question, 1–2,000 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 2000, pattern = "\\S")]
    pub message: Option<String>,
    /// The employer it is about, at most 100 characters.
    #[schema(max_length = 100)]
    pub employer: Option<String>,
    /// The employer's unified social credit code (统一社会信用代码, GB 32100-2015), when the
    /// worker knows it: the early warning then recognises the employer by it.
    pub employer_credit_code: Option<String>,
    /// A lawyer picked from `GET /api/v1/lawyers` (点单): they have the category's accept
    /// minutes to take it before the pool may.
    #[schema(format = Uuid)]
    pub lawyer_id: Option<String>,
}

/// Asks a question. The title and text go through WeChat's content check first: refused
/// when `risky` (nothing stored), held for an official when `review` or when the check cannot
/// be reached (kept, shown to no lawyer until released). With `Idempotency-Key`, a retry
/// answers the first question.
#[utoipa::path(post, tag = "consultations", security(("bearer" = [])),
    request_body = QuestionForm,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first question")),
    responses(
        (status = 201, description = "Asked: `waiting` for a lawyer, or `held` for an official", body = ConsultationView),
        (status = 422, description = "Bad fields (every one listed: an unknown or retired category, a lawyer not on the roster or outside the category), `content_risky`, `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[post("/consultations")]
pub async fn ask(
    state: web::Data<AppState>,
    worker: Worker,
    req: HttpRequest,
    form: Json<QuestionForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let request = serde_json::to_vec(&form).map_err(|e| ApiError::internal(&e))?;
    let account = worker.0.account_id();
    let route = "POST /api/v1/consultations".to_owned();
    idempotency::once(&state, &req, account, route, &request, |pending| async {
        let q = checked_question(&state, form).await?;
        let (category, title, body, chosen) = (&q.category, q.title, q.body, q.chosen);
        let checked = moderation::check(
            &state,
            account,
            ContentScene::Forum,
            "message",
            &format!("{title}\n{body}"),
        )
        .await?;
        let (org_id, org_path) = handling_org(&state, account).await?;
        let at = clock::now();
        let question = Question {
            account,
            org_id,
            org_path,
            title,
            employer: q.employer,
            employer_credit_code: q.employer_credit_code,
            chosen_lawyer: chosen,
            held: checked.held,
        };
        let consultation = Consultation::new(question, category, &state.calendar, at);
        let mut first = Message::new(consultation.id, Author::Worker, Some(account), body, at);
        first.held = checked.held;
        first.trace_id = checked.trace_id;
        let view = serde_json::to_value(ConsultationView::new(&consultation, at))
            .map_err(|e| ApiError::internal(&e))?;
        let mut change = worker.0.change(
            "consultation.ask",
            "consultation",
            consultation.id,
            json!({ "category": category.code.as_str(), "held": checked.held,
                    "chosen_lawyer_id": chosen }),
            Some(OutboxEvent {
                topic: format!("consultation.{}", consultation.status.as_str()),
                payload: json!({ "id": consultation.id, "org_id": consultation.org_id,
                                 "category": category.code.as_str(), "chosen_lawyer_id": chosen }),
            }),
        );
        change.answer = pending.map(|p| p.answer(StatusCode::CREATED, &view, at));
        state
            .consultations
            .open(&consultation, &first, &change)
            .await?;
        let pooled = consultation.status == ConsultationStatus::Waiting;
        push(
            &state,
            &consultation,
            std::slice::from_ref(&first),
            at,
            pooled,
        )
        .await;
        Ok((StatusCode::CREATED, view))
    })
    .await
}

/// A question's fields, checked.
struct CheckedQuestion {
    category: Category,
    title: String,
    body: String,
    employer: Option<String>,
    employer_credit_code: Option<CreditCode>,
    chosen: Option<AccountId>,
}

/// Checks every field of `form` at once: an active category, the title, the message, the
/// employer and its credit code, and a picked lawyer who is on the roster and practises the
/// category.
async fn checked_question(
    state: &AppState,
    form: QuestionForm,
) -> Result<CheckedQuestion, ApiError> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    let categories = state.roster.categories().await?;
    let category = match form.category.as_deref().map(str::trim) {
        None | Some("") => {
            problems.push(FieldProblem::required("category"));
            None
        }
        Some(typed) => {
            let found = CategoryCode::parse(typed)
                .and_then(|code| categories.iter().find(|c| c.code == code && c.rules.active));
            if found.is_none() {
                let codes: Vec<&str> = categories
                    .iter()
                    .filter(|c| c.rules.active)
                    .map(|c| c.code.as_str())
                    .collect();
                problems.push(FieldProblem::not_one_of("category", typed, &codes));
            }
            found
        }
    };
    let title = text(&mut problems, "title", form.title, 50, true);
    let body = message::text("message", form.message.as_deref())
        .map_err(|p| problems.push(p))
        .ok();
    let employer = text(&mut problems, "employer", form.employer, 100, false);
    let employer_credit_code = match form.employer_credit_code.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(typed) => CreditCode::parse(typed)
            .map_err(|e| problems.push(FieldProblem::of("employer_credit_code", &e)))
            .ok(),
    };
    let chosen = match form.lawyer_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            let lawyer = match AccountId::parse(raw) {
                Some(id) => state.roster.lawyer(id).await.found()?,
                None => None,
            };
            let fits = lawyer
                .as_ref()
                .is_some_and(|l| category.is_none_or(|c| l.practises(&c.code)));
            if !fits {
                problems.push(FieldProblem::new(
                    "lawyer_id",
                    "not_allowed",
                    "所选律师不在名录中，或不擅长该类咨询",
                    "the lawyer is not on the roster or does not practise this category",
                ));
            }
            lawyer.map(|l| l.account_id)
        }
    };
    let (Some(category), Some(title), Some(body)) = (category, title, body) else {
        return Err(problems.into());
    };
    finish(problems)?;
    Ok(CheckedQuestion {
        category: category.clone(),
        title,
        body,
        employer,
        employer_credit_code,
        chosen,
    })
}

/// The worker's consultations, newest first.
#[utoipa::path(get, tag = "consultations", security(("bearer" = [])),
    responses(
        (status = 200, description = "The consultations", body = ConsultationList),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/consultations")]
pub async fn list(
    state: web::Data<AppState>,
    worker: Worker,
) -> Result<web::Json<ConsultationList>, ApiError> {
    let now = clock::now();
    let mine = state
        .consultations
        .consultations_of(worker.0.account_id())
        .await?;
    let names = lawyer_names(&state, &mine).await?;
    let items = mine
        .iter()
        .map(|c| ConsultationView::named(c, now, &names))
        .collect();
    Ok(web::Json(ConsultationList { items }))
}

/// One of the worker's consultations.
#[utoipa::path(get, tag = "consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id")),
    responses(
        (status = 200, description = "The consultation", body = ConsultationView),
        (status = 404, description = "No such consultation of the worker", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/consultations/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    worker: Worker,
    id: web::Path<String>,
) -> Result<web::Json<ConsultationView>, ApiError> {
    let c = own(&state, &worker, &id).await?;
    let names = lawyer_names(&state, [&c]).await?;
    Ok(web::Json(ConsultationView::named(&c, clock::now(), &names)))
}

/// The thread, oldest first; `after` gives only newer messages (for clients that poll).
#[utoipa::path(get, tag = "consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"), MessageQuery),
    responses(
        (status = 200, description = "The messages", body = MessageList),
        (status = 404, description = "No such consultation of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad `after` or `limit`", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn, WorkerOnly,
    ))]
#[get("/consultations/{id}/messages")]
pub async fn messages(
    state: web::Data<AppState>,
    worker: Worker,
    id: web::Path<String>,
    query: Query<MessageQuery>,
) -> Result<web::Json<MessageList>, ApiError> {
    let c = own(&state, &worker, &id).await?;
    let page = message_page(&state, c.id, &query, Author::Worker, worker.0.account_id()).await?;
    Ok(web::Json(page))
}

/// A message.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageForm {
    /// The text, 1–2,000 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 2000, pattern = "\\S")]
    pub text: Option<String>,
}

/// Writes in the thread: answers a lawyer who asked (the resolution clock runs again), or
/// reopens a resolution within 7 days. Checked by WeChat first, like the question. With
/// `Idempotency-Key`, a retry answers the first write.
#[utoipa::path(post, tag = "consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body sends once")),
    request_body = MessageForm,
    responses(
        (status = 200, description = "Written; the consultation as it is now", body = ConsultationView),
        (status = 404, description = "No such consultation of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`closed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or over 2,000 characters, `content_risky`, `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[post("/consultations/{id}/messages")]
pub async fn write(
    state: web::Data<AppState>,
    worker: Worker,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<MessageForm>,
) -> Result<HttpResponse, ApiError> {
    let c = own(&state, &worker, &id).await?;
    let form = form.into_inner();
    let request = serde_json::to_vec(&form).map_err(|e| ApiError::internal(&e))?;
    let account = worker.0.account_id();
    let route = format!("POST /api/v1/consultations/{}/messages", c.id);
    idempotency::once(&state, &req, account, route, &request, |pending| async {
        let body = message::text("text", form.text.as_deref()).map_err(|p| vec![p])?;
        let checked =
            moderation::check(&state, account, ContentScene::Forum, "text", &body).await?;
        let mut m = Message::new(c.id, Author::Worker, Some(account), body, clock::now());
        m.held = checked.held;
        m.trace_id = checked.trace_id;
        let base = worker.0.change("", "consultation", c.id, Value::Null, None);
        let command = Command::Write { asks_worker: false };
        run(
            &state,
            c.id,
            Actor::Worker(account),
            command,
            Some(m),
            base,
            "write",
            pending,
        )
        .await
    })
    .await
}

/// A rating of the answer.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingForm {
    /// Stars, 1–5.
    #[schema(minimum = 1, maximum = 5)]
    pub stars: i64,
    /// What the worker says, up to 300 characters: read by officials, not shown to the
    /// lawyer or anyone else.
    #[schema(max_length = 300)]
    pub comment: Option<String>,
}

/// Rates the answer, once, after it is resolved; the lawyer's average follows.
#[utoipa::path(post, tag = "consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id")),
    request_body = RatingForm,
    responses(
        (status = 200, description = "Rated", body = ConsultationView),
        (status = 404, description = "No such consultation of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_resolved`, `already_rated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Stars outside 1–5, a comment over 300 characters", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[post("/consultations/{id}/rating")]
pub async fn rate(
    state: web::Data<AppState>,
    worker: Worker,
    id: web::Path<String>,
    form: Json<RatingForm>,
) -> Result<web::Json<Value>, ApiError> {
    let c = own(&state, &worker, &id).await?;
    let form = form.into_inner();
    let mut problems = Vec::new();
    if !(1..=5).contains(&form.stars) {
        problems.push(FieldProblem::new(
            "stars",
            "out_of_range",
            "评分须为 1 到 5 星",
            "stars must be 1 to 5",
        ));
    }
    let comment = text(&mut problems, "comment", form.comment, 300, false);
    if !problems.is_empty() {
        return Err(problems.into());
    }
    let rating = Rating {
        stars: u8::try_from(form.stars).unwrap_or(5),
        comment,
        at: clock::now(),
    };
    let account = worker.0.account_id();
    let base = worker.0.change("", "consultation", c.id, Value::Null, None);
    let (_, body) = run(
        &state,
        c.id,
        Actor::Worker(account),
        Command::Rate(rating),
        None,
        base,
        "rate",
        None,
    )
    .await?;
    Ok(web::Json(body))
}

/// The newest message read.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadForm {
    /// A message id of the thread: it and every message before it are read.
    #[schema(format = Uuid)]
    pub message_id: Option<String>,
}

/// Moves `reader`'s (`account`'s) read mark on `c` to the form's message and tells the
/// participants' sockets (`consultation.read`). 422 for a missing id or one not in the thread.
pub async fn mark_read(
    state: &AppState,
    c: &Consultation,
    reader: Author,
    account: AccountId,
    form: ReadForm,
) -> Result<ReadMarkView, ApiError> {
    let not_in_thread = || {
        ApiError::invalid_field(
            "message_id",
            "not_in_thread",
            "已读位置须为本咨询中的消息",
            "message_id must be a message of this consultation",
        )
    };
    let message_id = match form.message_id.as_deref().map(str::trim) {
        None | Some("") => return Err(vec![FieldProblem::required("message_id")].into()),
        Some(raw) => MessageId::parse(raw).ok_or_else(not_in_thread)?,
    };
    let mark = ReadMark {
        consultation_id: c.id,
        reader,
        account_id: account,
        message_id,
        at: clock::now(),
    };
    let mark = state
        .consultations
        .mark_read(&mark)
        .await
        .map_err(|e| match e {
            RepoError::NotFound => not_in_thread(),
            other => other.into(),
        })?;
    push_read(state, c, &mark).await;
    Ok(ReadMarkView::from(&mark))
}

/// Marks the thread read up to a message (已读): the lawyer sees it in the thread's
/// `read_marks` and on the live socket. A mark never moves back: an older id answers the
/// mark as it stands.
#[utoipa::path(post, tag = "consultations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Consultation id")),
    request_body = ReadForm,
    responses(
        (status = 200, description = "The worker's mark as it stands", body = ReadMarkView),
        (status = 404, description = "No such consultation of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`message_id` missing or not in the thread", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[post("/consultations/{id}/read")]
pub async fn read(
    state: web::Data<AppState>,
    worker: Worker,
    id: web::Path<String>,
    form: Json<ReadForm>,
) -> Result<web::Json<ReadMarkView>, ApiError> {
    let c = own(&state, &worker, &id).await?;
    let account = worker.0.account_id();
    let mark = mark_read(&state, &c, Author::Worker, account, form.into_inner()).await?;
    Ok(web::Json(mark))
}

/// Registers this feature's routes with their OpenAPI paths, in the order actix matches
/// them (fixed paths before `{id}`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(live::socket)
        .service(ask)
        .service(list)
        .service(show)
        .service(messages)
        .service(write)
        .service(rate)
        .service(read)
        .service(attachments::send)
        .service(attachments::own_link)
        .service(attachments::download)
        .service(admin::queue)
        .service(admin::show)
        .service(admin::messages)
        .service(admin::accept)
        .service(admin::answer)
        .service(admin::resolve)
        .service(admin::release)
        .service(admin::refuse)
        .service(admin::assign)
        .service(admin::read)
        .service(admin::attach)
        .service(admin::link)
        .service(admin::early_warnings::list)
        .service(admin::early_warnings::show_rule)
        .service(admin::early_warnings::save_rule)
        .service(admin::early_warnings::acknowledge)
        .service(lawyers::categories)
        .service(lawyers::list)
        .service(lawyers::show)
        .service(admin::categories::list)
        .service(admin::categories::save)
        .service(admin::lawyers::list)
        .service(admin::lawyers::duty)
        .service(admin::lawyers::save);
}
