//! Online consultation (在线咨询), the worker's side: ask a question in a category (optionally
//! of a lawyer picked from the roster, 点单), follow the thread, write in it, rate the answer.
//! What the worker writes goes through msgSecCheck first ([`crate::moderation`]). Asking and
//! writing honour `Idempotency-Key`, so a double tap on a weak network sends once.

pub mod admin;
pub mod attachments;
pub mod lawyers;
pub mod live;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use yiwang_domain::audit::{Change, OutboxEvent};
use yiwang_domain::clock;
use yiwang_domain::consultation::category::CategoryCode;
use yiwang_domain::consultation::message::{self, Author, Message, MessageId, ReadMark};
use yiwang_domain::consultation::store::{Act, LawyerFilter};
use yiwang_domain::consultation::thread::{
    Actor, Command, Consultation, ConsultationId, ConsultationStatus, Outcome, Question, Rating,
};
use yiwang_domain::membership::identity::CreditCode;
use yiwang_domain::org::{OrgId, OrgPath};
use yiwang_domain::problem::{text, FieldProblem};
use yiwang_domain::repo::{Found, OrgSearch, PageRequest, RepoError};
use yiwang_domain::wechat::ContentScene;
use yiwang_domain::AccountId;
use yiwang_infra::live::Delivery;

use self::attachments::AttachmentView;
use crate::auth::Worker;
use crate::error::{ApiError, Problem};
use crate::idempotency::{self, Pending};
use crate::moderation;
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn, WorkerOnly};
use crate::state::AppState;

/// Most messages one page answers.
pub const MAX_PAGE: u32 = 200;

/// A consultation as its participants and officials see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationView {
    /// Id.
    pub id: String,
    /// Category code.
    pub category: String,
    /// Title.
    pub title: String,
    /// The employer the question is about, as written.
    pub employer: Option<String>,
    /// The employer's unified social credit code, when given.
    pub employer_credit_code: Option<String>,
    /// `held`, `waiting`, `open`, `pending`, `resolved` or `closed` (a resolution left alone
    /// for 7 days reads `closed`).
    pub status: &'static str,
    /// The state in Chinese.
    pub status_zh: &'static str,
    /// The lawyer the worker picked.
    pub chosen_lawyer_id: Option<String>,
    /// Until when only the chosen lawyer may accept (UTC).
    pub reserved_until: Option<DateTime<Utc>>,
    /// The lawyer who has it.
    pub lawyer_id: Option<String>,
    /// The first answer is due by then (UTC).
    pub first_response_due: Option<DateTime<Utc>>,
    /// When the lawyer first answered (UTC).
    pub first_response_at: Option<DateTime<Utc>>,
    /// The resolution is due by then (UTC); absent while the clock stands (pending: see
    /// `resolution_left_seconds`).
    pub resolution_due: Option<DateTime<Utc>>,
    /// While pending: seconds the resolution clock had left (negative: overdue).
    pub resolution_left_seconds: Option<i64>,
    /// A deadline passed unmet.
    pub overdue: bool,
    /// When it was resolved (UTC).
    pub resolved_at: Option<DateTime<Utc>>,
    /// The worker's rating, 1–5.
    pub rating: Option<u8>,
    /// The rating's comment.
    pub rating_comment: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

impl ConsultationView {
    /// `c` as it stands at `now`.
    pub fn new(c: &Consultation, now: DateTime<Utc>) -> Self {
        let status = c.status_at(now);
        Self {
            id: c.id.to_string(),
            category: c.category.to_string(),
            title: c.title.clone(),
            employer: c.employer.clone(),
            employer_credit_code: c
                .employer_credit_code
                .as_ref()
                .map(|e| e.as_str().to_owned()),
            status: status.as_str(),
            status_zh: status.zh(),
            chosen_lawyer_id: c.chosen_lawyer.map(|l| l.to_string()),
            reserved_until: c.reserved_until,
            lawyer_id: c.lawyer.map(|l| l.to_string()),
            first_response_due: c.first_response_due,
            first_response_at: c.first_response_at,
            resolution_due: c.resolution_due,
            resolution_left_seconds: c.resolution_left_seconds,
            overdue: c.breached_at(now),
            resolved_at: c.resolved_at,
            rating: c.rating.as_ref().map(|r| r.stars),
            rating_comment: c.rating.as_ref().and_then(|r| r.comment.clone()),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }

    /// The view as a `reader` may read it: a lawyer reads the rating but not its comment (the
    /// comment is for the officials, and no content check has read it).
    pub fn for_reader(mut self, reader: Author) -> Self {
        if reader == Author::Lawyer {
            self.rating_comment = None;
        }
        self
    }
}

/// Consultations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationList {
    /// The rows.
    pub items: Vec<ConsultationView>,
}

/// A message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// Id (UUIDv7: pass the last one as `after` to poll for newer ones).
    pub id: String,
    /// `worker`, `lawyer`, `official` or `system`.
    pub author: &'static str,
    /// The author's account (absent for the system).
    pub author_id: Option<String>,
    /// The text (`[图片]` or `[语音]` for an attachment).
    pub body: String,
    /// An image or voice recording: read it through
    /// `POST …/messages/{message_id}/link`.
    pub attachment: Option<AttachmentView>,
    /// Held by the content check: shown to its author and officials only.
    pub held: bool,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            author: m.author.as_str(),
            author_id: m.author_id.map(|a| a.to_string()),
            body: m.body.clone(),
            attachment: m.attachment.as_ref().map(AttachmentView::from),
            held: m.held,
            created_at: m.created_at,
        }
    }
}

/// How far a participant has read the thread (已读).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadMarkView {
    /// `worker` or `lawyer`.
    pub reader: &'static str,
    /// The reader's account.
    pub account_id: String,
    /// The newest message they have read: every message up to it is read.
    pub message_id: String,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

impl From<&ReadMark> for ReadMarkView {
    fn from(m: &ReadMark) -> Self {
        Self {
            reader: m.reader.as_str(),
            account_id: m.account_id.to_string(),
            message_id: m.message_id.to_string(),
            at: m.at,
        }
    }
}

/// Messages, oldest first, and how far each participant has read.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    /// The rows.
    pub items: Vec<MessageView>,
    /// The participants' read marks.
    pub read_marks: Vec<ReadMarkView>,
}

/// Which messages.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    /// Only messages after this message id (for clients that poll).
    pub after: Option<String>,
    /// At most this many, 1–200 (default 50).
    pub limit: Option<u32>,
}

/// The page `query` asks for, visible to `viewer` (`viewer_kind`).
pub async fn message_page(
    state: &AppState,
    id: ConsultationId,
    query: &MessageQuery,
    viewer_kind: Author,
    viewer: AccountId,
) -> Result<MessageList, ApiError> {
    let after = match query.after.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(MessageId::parse(raw).ok_or_else(|| {
            ApiError::invalid_field(
                "after",
                "invalid",
                "after 须为消息 id",
                "after must be a message id",
            )
        })?),
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "out_of_range",
            format!("limit 须为 1 到 {MAX_PAGE}"),
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let items = state
        .consultations
        .messages(id, after, limit)
        .await?
        .iter()
        .filter(|m| m.visible_to(viewer_kind, viewer))
        .map(MessageView::from)
        .collect();
    let marks = state.consultations.read_marks(id).await?;
    Ok(MessageList {
        items,
        read_marks: marks.iter().map(ReadMarkView::from).collect(),
    })
}

/// The audit row and outbox event of a step: `consultation.<action>` with the states before
/// and after.
pub fn step_change(
    base: Change,
    action: &'static str,
) -> Box<dyn for<'o> FnOnce(&'o Outcome) -> Change + Send + 'static> {
    Box::new(move |o: &Outcome| {
        let c = &o.consultation;
        let detail = json!({ "from": o.from.as_str(), "to": c.status.as_str(),
                             "lawyer_id": c.lawyer });
        let mut change = base;
        change.audit.action = format!("consultation.{action}");
        change.audit.detail = detail.clone();
        change.event = Some(OutboxEvent {
            topic: format!("consultation.{action}"),
            payload: json!({ "id": c.id, "account_id": c.account_id, "org_id": c.org_id,
                             "category": c.category.as_str(), "transition": detail }),
        });
        change
    })
}

/// Runs `command` by `actor` (and `message`) on consultation `id` now, writing `base` as the
/// step `action`; with `pending`, the answer `view` of the outcome is stored for the key.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    state: &AppState,
    id: ConsultationId,
    actor: Actor,
    command: Command,
    message: Option<Message>,
    base: Change,
    action: &'static str,
    pending: Option<Pending>,
) -> Result<(StatusCode, Value), ApiError> {
    let at = clock::now();
    let reader = actor.author();
    let answer_reader = reader;
    let act = Act {
        actor,
        command,
        message,
        calendar: state.calendar.clone(),
        at,
    };
    let step = step_change(base, action);
    let step = state
        .consultations
        .act(
            id,
            act,
            Box::new(move |o: &Outcome| {
                let mut change = step(o);
                change.answer = pending.and_then(|p| {
                    let view = ConsultationView::new(&o.consultation, at).for_reader(answer_reader);
                    let body = serde_json::to_value(view);
                    body.ok().map(|b| p.answer(StatusCode::OK, &b, at))
                });
                change
            }),
        )
        .await?;
    let c = &step.outcome.consultation;
    let pooled = [step.outcome.from, c.status].contains(&ConsultationStatus::Waiting);
    push(state, c, &step.messages, at, pooled).await;
    let body = serde_json::to_value(ConsultationView::new(c, at).for_reader(reader))
        .map_err(|e| ApiError::internal(&e))?;
    Ok((StatusCode::OK, body))
}

/// A frame of the live socket (`GET /api/v1/ws`) about a consultation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type")]
pub enum ConsultationFrame {
    /// A message the reader may read was added to the thread.
    #[serde(rename = "consultation.message")]
    Message {
        /// The consultation.
        consultation_id: String,
        /// The message.
        message: MessageView,
    },
    /// The consultation changed (state, lawyer, deadlines, rating).
    #[serde(rename = "consultation.updated")]
    Updated {
        /// The consultation as it is now.
        consultation: ConsultationView,
    },
    /// A participant read the thread up to a message.
    #[serde(rename = "consultation.read")]
    Read {
        /// The consultation.
        consultation_id: String,
        /// The mark.
        mark: ReadMarkView,
    },
}

/// Who hears a consultation's frames: the worker, the lawyer who has it and, while it waits,
/// a lawyer the worker picked.
fn participants(c: &Consultation) -> Vec<(Author, AccountId)> {
    let mut readers = vec![(Author::Worker, c.account_id)];
    match (c.lawyer, c.chosen_lawyer) {
        (Some(lawyer), _) => readers.push((Author::Lawyer, lawyer)),
        (None, Some(chosen)) if c.status == ConsultationStatus::Waiting => {
            readers.push((Author::Lawyer, chosen));
        }
        _ => {}
    }
    readers
}

/// Sends each frame to its account's sockets; a failure is logged (the store is the record).
async fn send(state: &AppState, c: &Consultation, frames: Vec<(AccountId, ConsultationFrame)>) {
    let mut deliveries = Vec::with_capacity(frames.len());
    for (account, frame) in frames {
        match serde_json::to_string(&frame) {
            Ok(frame) => deliveries.push(Delivery { account, frame }),
            Err(e) => tracing::error!(error = %e, "live: cannot encode a frame"),
        }
    }
    if let Err(e) = state.live.publish(&deliveries).await {
        tracing::warn!(consultation = %c.id, error = %e, "live: frames not sent");
    }
}

/// Tells the participants' sockets that `mark`'s reader read the thread up to its message.
pub async fn push_read(state: &AppState, c: &Consultation, mark: &ReadMark) {
    let frames = participants(c)
        .into_iter()
        .map(|(_, account)| {
            let frame = ConsultationFrame::Read {
                consultation_id: c.id.to_string(),
                mark: ReadMarkView::from(mark),
            };
            (account, frame)
        })
        .collect();
    send(state, c, frames).await;
}

/// The on-duty lawyers of `c`'s category, other than the one who has it: the pool that may
/// accept a waiting consultation (none while a picked lawyer's minutes run).
async fn pool(state: &AppState, c: &Consultation, at: DateTime<Utc>) -> Vec<AccountId> {
    if c.reserved_until.is_some_and(|until| until > at) {
        return Vec::new();
    }
    let filter = LawyerFilter {
        category: Some(c.category.clone()),
        scope: None,
    };
    let page = PageRequest {
        after: None,
        limit: 200,
    };
    match state.roster.lawyers(&filter, &page).await {
        Ok(lawyers) => lawyers
            .items
            .into_iter()
            .take_while(|l| l.on_duty)
            .map(|l| l.account_id)
            .filter(|a| c.lawyer != Some(*a) && c.chosen_lawyer != Some(*a))
            .collect(),
        Err(e) => {
            tracing::warn!(consultation = %c.id, error = %e, "live: the pool is not told");
            Vec::new()
        }
    }
}

/// Tells the participants' open sockets ([`participants`]), in whichever process they are,
/// what a step did: each new message they may read, then the consultation as it is now. When
/// the step put the consultation in the pool or took it out (`pooled`), the pool's lawyers
/// ([`pool`]) hear the consultation too, so their lists follow. Sent after the commit and at
/// most once: a failure is logged, and clients that missed a frame catch up with
/// `GET …/messages?after=`.
pub async fn push(
    state: &AppState,
    c: &Consultation,
    written: &[Message],
    at: DateTime<Utc>,
    pooled: bool,
) {
    let mut frames = Vec::new();
    for (kind, account) in participants(c) {
        for m in written.iter().filter(|m| m.visible_to(kind, account)) {
            let frame = ConsultationFrame::Message {
                consultation_id: c.id.to_string(),
                message: MessageView::from(m),
            };
            frames.push((account, frame));
        }
        let consultation = ConsultationView::new(c, at).for_reader(kind);
        frames.push((account, ConsultationFrame::Updated { consultation }));
    }
    if pooled {
        for account in pool(state, c, at).await {
            let consultation = ConsultationView::new(c, at).for_reader(Author::Lawyer);
            frames.push((account, ConsultationFrame::Updated { consultation }));
        }
    }
    send(state, c, frames).await;
}

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
    pub category: Option<String>,
    /// Title, 1–50 characters.
    pub title: Option<String>,
    /// The question, 1–2,000 characters.
    pub message: Option<String>,
    /// The employer it is about, at most 100 characters.
    pub employer: Option<String>,
    /// The employer's unified social credit code (统一社会信用代码, GB 32100-2015), when the
    /// worker knows it: the early warning then recognises the employer by it.
    pub employer_credit_code: Option<String>,
    /// A lawyer picked from `GET /api/v1/lawyers` (点单): they have the category's accept
    /// minutes to take it before the pool may.
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
    form: web::Json<QuestionForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let request = serde_json::to_vec(&form).map_err(|e| ApiError::internal(&e))?;
    let account = worker.0.account_id();
    let route = "POST /api/v1/consultations".to_owned();
    idempotency::once(&state, &req, account, route, &request, |pending| async {
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
        if !problems.is_empty() {
            return Err(problems.into());
        }
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
            employer,
            employer_credit_code,
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
    let items = state
        .consultations
        .consultations_of(worker.0.account_id())
        .await?
        .iter()
        .map(|c| ConsultationView::new(c, now))
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
    Ok(web::Json(ConsultationView::new(&c, clock::now())))
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
    query: web::Query<MessageQuery>,
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
    form: web::Json<MessageForm>,
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
    form: web::Json<RatingForm>,
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
            "message_id 须为本咨询中的消息",
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
    form: web::Json<ReadForm>,
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
