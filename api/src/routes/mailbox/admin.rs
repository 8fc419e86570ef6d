//! The chairman mailbox, the officials' side: the letters to their organisation and those
//! below it (the writer's name always shown, anonymous or not), replying once, and closing an
//! answered letter.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::audit::OutboxEvent;
use yiwang_domain::clock;
use yiwang_domain::consultation::message;
use yiwang_domain::mailbox::{Command, LetterId, LetterStatus};

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::idempotency;
use crate::routes::mailbox::LetterView;
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::Json;
use crate::routes::shared::Query;
use crate::routes::shared::{status_filter, PageQuery, Paged};
use crate::state::AppState;

/// Which letters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LetterQuery {
    /// Only these states, comma-separated; all when absent.
    #[param(value_type = Option<Vec<crate::routes::vocabularies::LetterStatus>>, style = Form, explode = false)]
    pub status: Option<String>,
}

/// Letters to organisations in the caller's subtree, oldest first.
#[utoipa::path(get, tag = "admin: mailbox", security(("bearer" = [])),
    params(LetterQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<LetterView>),
        (status = 403, description = "Role may not read the mailbox, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown state, bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/mailbox/letters")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    query: Query<LetterQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<LetterView>>, ApiError> {
    admin.authorize(Permission::ReadMailbox, &admin.org_path)?;
    let page = page.request()?;
    let statuses = status_filter(
        query.status.as_deref(),
        LetterStatus::parse,
        &LetterStatus::ALL.map(LetterStatus::as_str),
    )?;
    let rows = state
        .mailbox
        .letters(&admin.org_path, &statuses, false, &page)
        .await?;
    Ok(web::Json(Paged::of(rows, |l| LetterView::from(&l))))
}

/// One letter of the caller's subtree, with the writer's name (anonymous or not).
#[utoipa::path(get, tag = "admin: mailbox", security(("bearer" = [])),
    params(("id" = String, Path, description = "Letter id")),
    responses(
        (status = 200, description = "The letter", body = LetterView),
        (status = 403, description = "Role may not read the mailbox, or a worker token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[get("/admin/mailbox/letters/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<LetterView>, ApiError> {
    let id = LetterId::parse(&id).ok_or_else(ApiError::not_found)?;
    let letter = state.mailbox.letter(id).await?;
    admin.authorize(Permission::ReadMailbox, &letter.org_path)?;
    Ok(web::Json(LetterView::from(&letter)))
}

/// The reply.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyForm {
    /// 1–2,000 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 2000, pattern = "\\S")]
    pub text: Option<String>,
}

/// Runs `command` on letter `id` of the caller's subtree, audited as `mailbox.letter.<action>`;
/// with `Idempotency-Key`, a retry of the same step answers the first one instead of 409.
async fn answer(
    state: &AppState,
    admin: &Admin,
    req: &HttpRequest,
    id: &str,
    command: Command,
    action: &'static str,
) -> Result<HttpResponse, ApiError> {
    let id = LetterId::parse(id).ok_or_else(ApiError::not_found)?;
    let letter = state.mailbox.letter(id).await?;
    admin.authorize(Permission::AnswerMailbox, &letter.org_path)?;
    let by = admin.principal.account_id();
    let asked = command.clone();
    idempotency::step(state, req, by, &asked, |pending| async move {
        let change = admin.principal.change(
            &format!("mailbox.letter.{action}"),
            "mailbox_letter",
            id,
            json!({ "from": letter.status.as_str() }),
            Some(OutboxEvent {
                topic: format!("mailbox.letter.{action}"),
                payload: json!({ "id": id, "account_id": letter.account_id, "org_id": letter.org_id }),
            }),
        );
        let at = clock::now();
        let answer =
            idempotency::answer_of(pending, StatusCode::OK, at, |after| LetterView::from(after));
        let after = state
            .mailbox
            .answer_letter(id, by, command, at, change, answer)
            .await?;
        Ok(LetterView::from(&after))
    })
    .await
}

/// Replies to a letter, once.
#[utoipa::path(post, tag = "admin: mailbox", security(("bearer" = [])),
    params(("id" = String, Path, description = "Letter id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first reply")),
    request_body = ReplyForm,
    responses(
        (status = 200, description = "Replied", body = LetterView),
        (status = 403, description = "Role may not answer the mailbox", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_replied`, or `withdrawn` by its writer", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or over 2,000 characters", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/admin/mailbox/letters/{id}/reply")]
pub async fn reply(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
    form: Json<ReplyForm>,
) -> Result<HttpResponse, ApiError> {
    let text = message::text("text", form.text.as_deref()).map_err(|p| vec![p])?;
    answer(&state, &admin, &req, &id, Command::Reply(text), "reply").await
}

/// Closes an answered letter.
#[utoipa::path(post, tag = "admin: mailbox", security(("bearer" = [])),
    params(("id" = String, Path, description = "Letter id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–100 visible ASCII characters; a retry with the same key and body answers the first reply")),
    responses(
        (status = 200, description = "Closed", body = LetterView),
        (status = 403, description = "Role may not answer the mailbox", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not in the caller's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_replied`, or `withdrawn` by its writer", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/mailbox/letters/{id}/close")]
pub async fn close(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    answer(&state, &admin, &req, &id, Command::Close, "close").await
}
