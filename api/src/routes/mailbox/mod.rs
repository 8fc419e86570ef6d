//! The chairman mailbox (主席信箱), the worker's and the public's side: write to an
//! organisation's chairman, follow one's letters, and read the public letters with their
//! replies (names masked, anonymous ones unnamed). The subject and body go through
//! msgSecCheck: `risky` is refused; `review` or an unreachable check keeps the letter off the
//! public list (the officials still read and answer it).

pub mod admin;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::consultation::message;
use yiwang_domain::mailbox::{Command, Letter, LetterId, LetterStatus};
use yiwang_domain::org::OrgId;
use yiwang_domain::problem::{text, FieldProblem};
use yiwang_domain::store::Found;
use yiwang_domain::wechat::ContentScene;

use crate::auth::Worker;
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::moderation;
use crate::rate_limit::Lookup;
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn, WorkerOnly};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{PageQuery, Paged};
use crate::state::AppState;

/// A letter as its writer and the officials see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LetterView {
    /// Id.
    pub id: String,
    /// The organisation it is addressed to.
    pub org_id: String,
    /// The name the worker signed with.
    pub name: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Listed publicly once replied.
    pub public: bool,
    /// Shown to the public without a name.
    pub anonymous: bool,
    /// Held by the content check: never listed publicly.
    pub held: bool,
    /// `received`, `replied`, `closed` or `withdrawn`.
    #[schema(value_type = crate::routes::vocabularies::LetterStatus)]
    pub status: &'static str,
    /// The state in Chinese.
    pub status_label: &'static str,
    /// The reply.
    pub reply: Option<String>,
    /// When it was replied (UTC).
    pub replied_at: Option<DateTime<Utc>>,
    /// Written (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<&Letter> for LetterView {
    fn from(l: &Letter) -> Self {
        Self {
            id: l.id.to_string(),
            org_id: l.org_id.to_string(),
            name: l.name.clone(),
            subject: l.subject.clone(),
            body: l.body.clone(),
            public: l.public,
            anonymous: l.anonymous,
            held: l.held,
            status: l.status.as_str(),
            status_label: l.status.zh(),
            reply: l.reply.clone(),
            replied_at: l.replied_at,
            created_at: l.created_at,
        }
    }
}

/// A public letter as anyone reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicLetter {
    /// Id.
    pub id: String,
    /// The signature: the name masked (`王**`), or `匿名职工`.
    pub name: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// The reply.
    pub reply: Option<String>,
    /// When it was replied (UTC).
    pub replied_at: Option<DateTime<Utc>>,
    /// Written (UTC).
    pub created_at: DateTime<Utc>,
}

/// Letters.
#[derive(Debug, Serialize, ToSchema)]
pub struct LetterList {
    /// Newest first.
    pub items: Vec<LetterView>,
}

/// A letter as the worker writes it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterForm {
    /// The organisation whose chairman it is for.
    #[schema(required = true, value_type = String, format = Uuid)]
    pub org_id: Option<String>,
    /// The name signed with, 1–20 characters (the officials always see it).
    #[schema(required = true, value_type = String, min_length = 1, max_length = 20, pattern = "\\S")]
    pub name: Option<String>,
    /// Subject, 1–50 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 50, pattern = "\\S")]
    pub subject: Option<String>,
    /// Body, 1–2,000 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 2000, pattern = "\\S")]
    pub body: Option<String>,
    /// List it publicly once replied (default false).
    #[serde(default)]
    pub public: bool,
    /// Show it to the public without a name (default false).
    #[serde(default)]
    pub anonymous: bool,
}

/// Writes to a chairman. With `Idempotency-Key`, a retry answers the first letter.
#[utoipa::path(post, tag = "mailbox", security(("bearer" = [])),
    request_body = LetterForm,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first letter")),
    responses(
        (status = 201, description = "Received", body = LetterView),
        (status = 422, description = "Bad fields (an unknown organisation too), every one listed; `content_risky`, `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[post("/mailbox/letters")]
pub async fn write(
    state: web::Data<AppState>,
    worker: Worker,
    req: HttpRequest,
    form: Json<LetterForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let request = serde_json::to_vec(&form).map_err(|e| ApiError::internal(&e))?;
    let account = worker.0.account_id();
    let route = "POST /api/v1/mailbox/letters".to_owned();
    idempotency::once(&state, &req, account, route, &request, |pending| async {
        let mut problems = Vec::new();
        let org = match form.org_id.as_deref().map(str::trim) {
            None | Some("") => {
                problems.push(FieldProblem::required("org_id"));
                None
            }
            Some(raw) => {
                let org = match OrgId::parse(raw) {
                    Some(id) => state.orgs.get(id).await.found()?,
                    None => None,
                };
                if org.is_none() {
                    problems.push(FieldProblem::new(
                        "org_id",
                        "not_allowed",
                        "没有这个工会组织",
                        "no such organisation",
                    ));
                }
                org
            }
        };
        let name = text(&mut problems, "name", form.name, 20, true);
        let subject = text(&mut problems, "subject", form.subject, 50, true);
        let body = message::text("body", form.body.as_deref())
            .map_err(|p| problems.push(p))
            .ok();
        let (Some(org), Some(name), Some(subject), Some(body)) = (org, name, subject, body) else {
            return Err(problems.into());
        };
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let whole = format!("{subject}\n{body}");
        let checked =
            moderation::check(&state, account, ContentScene::Forum, "body", &whole).await?;
        let at = clock::now();
        let letter = Letter {
            id: LetterId::new(),
            account_id: account,
            org_id: org.id,
            org_path: org.path.clone(),
            name,
            subject,
            body,
            public: form.public,
            anonymous: form.anonymous,
            held: checked.held,
            status: LetterStatus::Received,
            reply: None,
            replied_by: None,
            replied_at: None,
            created_at: at,
            updated_at: at,
        };
        let view =
            serde_json::to_value(LetterView::from(&letter)).map_err(|e| ApiError::internal(&e))?;
        let mut change = worker.0.change(
            "mailbox.letter.write",
            "mailbox_letter",
            letter.id,
            json!({ "org_id": org.id, "public": letter.public, "held": letter.held }),
            Some(OutboxEvent {
                topic: "mailbox.letter.received".into(),
                payload: json!({ "id": letter.id, "org_id": org.id }),
            }),
        );
        change.answer = pending.map(|p| p.answer(StatusCode::CREATED, &view, at));
        state.mailbox.post_letter(&letter, &change).await?;
        Ok((StatusCode::CREATED, view))
    })
    .await
}

/// The worker's letters, newest first.
#[utoipa::path(get, tag = "mailbox", security(("bearer" = [])),
    responses(
        (status = 200, description = "The letters", body = LetterList),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/mailbox/letters")]
pub async fn mine(
    state: web::Data<AppState>,
    worker: Worker,
) -> Result<web::Json<LetterList>, ApiError> {
    let items = state
        .mailbox
        .letters_of(worker.0.account_id())
        .await?
        .iter()
        .map(LetterView::from)
        .collect();
    Ok(web::Json(LetterList { items }))
}

/// The writer withdraws a letter that has no reply yet: `withdrawn` (已撤回); officials can
/// no longer reply to it.
#[utoipa::path(post, tag = "mailbox", security(("bearer" = [])),
    params(("id" = String, Path, description = "Letter id")),
    responses(
        (status = 200, description = "Withdrawn", body = LetterView),
        (status = 404, description = "No such letter of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_withdrawable`: replied, closed or withdrawn already", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn, WorkerOnly,
    ))]
#[post("/mailbox/letters/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    worker: Worker,
    id: web::Path<String>,
) -> Result<web::Json<LetterView>, ApiError> {
    let id = LetterId::parse(&id).ok_or_else(ApiError::not_found)?;
    let account = worker.0.account_id();
    let letter = state.mailbox.letter(id).await?;
    if letter.account_id != account {
        return Err(ApiError::not_found());
    }
    let change = worker.0.change(
        "mailbox.letter.withdraw",
        "mailbox_letter",
        id,
        json!({ "from": letter.status.as_str() }),
        Some(OutboxEvent {
            topic: "mailbox.letter.withdraw".into(),
            payload: json!({ "id": id, "account_id": account, "org_id": letter.org_id }),
        }),
    );
    let after = state
        .mailbox
        .answer_letter(
            id,
            account,
            Command::Withdraw,
            clock::now(),
            change,
            Box::new(|_| None),
        )
        .await?;
    Ok(web::Json(LetterView::from(&after)))
}

/// Whose public letters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicQuery {
    /// The organisation (its letters and those to organisations below it).
    pub org_id: String,
}

/// Public letters to an organisation (and those below it) with their replies, oldest first:
/// names masked, anonymous ones unnamed. No login needed.
#[utoipa::path(get, tag = "mailbox",
    params(PublicQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<PublicLetter>),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many lookups from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
        MalformedQuery,
    ))]
#[get("/mailbox/public")]
pub async fn public(
    state: web::Data<AppState>,
    _limit: Lookup,
    query: Query<PublicQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<PublicLetter>>, ApiError> {
    let id = OrgId::parse(query.org_id.trim()).ok_or_else(ApiError::not_found)?;
    let org = state.orgs.get(id).await?;
    let page = page.request()?;
    let rows = state.mailbox.letters(&org.path, &[], true, &page).await?;
    Ok(web::Json(Paged::of(rows, |l| PublicLetter {
        id: l.id.to_string(),
        name: l.public_name(),
        subject: l.subject.clone(),
        body: l.body.clone(),
        reply: l.reply.clone(),
        replied_at: l.replied_at,
        created_at: l.created_at,
    })))
}

/// Registers this feature's routes with their OpenAPI paths, in the order actix matches
/// them (fixed paths before `{id}`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(write)
        .service(mine)
        .service(withdraw)
        .service(public)
        .service(admin::list)
        .service(admin::show)
        .service(admin::reply)
        .service(admin::close);
}
