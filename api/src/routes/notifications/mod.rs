//! Telling people what happened (issue 20): the in-app inbox of every worker and official,
//! the WeChat subscriptions a worker reports, the kinds of message a worker switches off, and
//! — for a `super_admin` — the subscribe templates and the outbox deliveries that failed.
//! [`deliver`] is the outbox consumer that fills the inbox and sends the messages.
//!
//! **The subscription flow, for the mini-program's developers**
//! 1. `GET /api/v1/me/subscriptions` lists the templates the server sends, each with the
//!    events it tells of and how many one-time subscriptions the worker has left.
//! 2. When the worker does something that will be answered later (submits an application, a
//!    claim, a question), the mini-program calls `wx.requestSubscribeMessage({tmplIds})` with
//!    those template ids (up to 3 at once, from a tap: WeChat's rule).
//! 3. It posts the result object as it is to `POST /api/v1/me/subscriptions`
//!    (`{"<template id>": "accept" | "reject" | "ban" | "filter", "errMsg": …}`): each
//!    `accept` counts one more subscription.
//! 4. Each message sent spends one; WeChat's 43101 (none left) sets the count to zero. Every
//!    event lands in the inbox (`GET /api/v1/me/notifications`) and on the live socket
//!    (`{"type":"notification"}` frames) whether or not a message could be sent.

pub mod admin;
pub mod deliver;

use std::collections::BTreeMap;

use actix_web::{get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use yiwang_domain::clock;
use yiwang_domain::notification::store::ReadMark;
use yiwang_domain::notification::{Notification, NotificationKind, TOPICS};
use yiwang_domain::problem::FieldProblem;

use crate::auth::{Principal, Worker};
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn, WorkerOnly};
use crate::routes::shared::{Json, PageQuery, Paged, Query};
use crate::state::AppState;

/// One notification in an inbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    /// Its id.
    pub id: String,
    /// The kind of message.
    #[schema(value_type = crate::routes::vocabularies::NotificationKind)]
    pub kind: &'static str,
    /// The kind's Chinese name.
    pub kind_label: &'static str,
    /// Title.
    pub title: String,
    /// One or two sentences.
    pub body: String,
    /// The record it is about: `membership_application`, `membership_transfer`,
    /// `mutual_aid_enrollment`, `mutual_aid_claim`, `consultation`, `legal_aid_application`,
    /// `mailbox_letter`.
    pub record_type: String,
    /// Its id, for the record's detail page.
    pub record_id: String,
    /// When it happened (UTC).
    pub created_at: DateTime<Utc>,
    /// When it was read; absent while unread.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        Self {
            id: n.id.clone(),
            kind: n.kind.as_str(),
            kind_label: n.kind.zh(),
            title: n.title.clone(),
            body: n.body.clone(),
            record_type: n.record_type.clone(),
            record_id: n.record_id.clone(),
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

/// One page of an inbox, with the count of unread notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct Inbox {
    /// Newest first.
    pub items: Vec<NotificationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// How many notifications are unread, on every page.
    pub unread: u64,
}

/// The caller's notifications, newest first: workers and officials alike.
#[utoipa::path(get, tag = "notifications", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page and the unread count", body = Inbox),
        (status = 422, description = "A bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/me/notifications")]
pub async fn inbox(
    state: web::Data<AppState>,
    principal: Principal,
    page: Query<PageQuery>,
) -> Result<web::Json<Inbox>, ApiError> {
    let page = page.request()?;
    let me = principal.account_id();
    let rows = state.notifications.inbox(me, &page).await?;
    let unread = state.notifications.unread(me).await?;
    let paged = Paged::of(rows, |n| NotificationView::from(&n));
    Ok(web::Json(Inbox {
        items: paged.items,
        next_cursor: paged.next_cursor,
        unread,
    }))
}

/// Which notifications to mark read: exactly one of `id` and `up_to`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1, max_properties = 1)]
pub struct NotificationReadForm {
    /// This one.
    #[schema(format = Uuid, nullable = false)]
    pub id: Option<String>,
    /// This one and every older one (the newest on screen, to mark all read).
    #[schema(format = Uuid, nullable = false)]
    pub up_to: Option<String>,
}

/// How many notifications are unread.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    /// The count.
    pub unread: u64,
}

/// Marks one notification read, or one and every older one.
#[utoipa::path(post, tag = "notifications", security(("bearer" = [])),
    request_body = NotificationReadForm,
    responses(
        (status = 200, description = "Marked; the unread count now", body = UnreadCount),
        (status = 404, description = "Not one of the caller's notifications", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both of `id` and `up_to`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[post("/me/notifications/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    principal: Principal,
    form: Json<NotificationReadForm>,
) -> Result<web::Json<UnreadCount>, ApiError> {
    let form = form.into_inner();
    let uuid = |field: &str, id: String| {
        uuid::Uuid::parse_str(&id).map(|_| id).map_err(|_| {
            ApiError::invalid_field(
                field,
                "invalid",
                "通知编号格式不正确",
                format!("{field} is not a notification id"),
            )
        })
    };
    let mark = match (form.id, form.up_to) {
        (Some(id), None) => ReadMark::One(uuid("id", id)?),
        (None, Some(id)) => ReadMark::UpTo(uuid("up_to", id)?),
        _ => {
            return Err(ApiError::invalid_field(
                "id",
                "one_of",
                "请只指定一条通知，或「截至」的一条通知",
                "give exactly one of id and up_to",
            ))
        }
    };
    let unread = state
        .notifications
        .mark_read(principal.account_id(), &mark, clock::now())
        .await?;
    Ok(web::Json(UnreadCount { unread }))
}

/// One template the server sends, with what it tells of and what the worker has left.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// WeChat's template id: pass it to `wx.requestSubscribeMessage` in `tmplIds`.
    pub template_id: String,
    /// The events it tells of, in Chinese (`理赔申请核准`, …).
    pub events: Vec<String>,
    /// One-time subscriptions the worker has left for it.
    pub remaining: u32,
}

/// The templates the server sends and the worker's subscriptions to them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Subscriptions {
    /// By template id.
    pub items: Vec<SubscriptionView>,
}

async fn subscriptions_of(state: &AppState, worker: &Worker) -> Result<Subscriptions, ApiError> {
    let templates = state.notifications.templates().await?;
    let left: BTreeMap<String, u32> = state
        .notifications
        .subscriptions(worker.0.account_id())
        .await?
        .into_iter()
        .collect();
    // Events in the order of the worker's journey.
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (topic, label) in TOPICS {
        if let Some(t) = templates.iter().find(|t| t.topic == topic) {
            by_id
                .entry(t.template_id.clone())
                .or_default()
                .push(label.to_owned());
        }
    }
    Ok(Subscriptions {
        items: by_id
            .into_iter()
            .map(|(template_id, events)| SubscriptionView {
                remaining: left.get(&template_id).copied().unwrap_or(0),
                template_id,
                events,
            })
            .collect(),
    })
}

/// The templates the server sends and how many subscriptions the worker has left for each.
#[utoipa::path(get, tag = "notifications", security(("bearer" = [])),
    responses(
        (status = 200, description = "The templates", body = Subscriptions),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/me/subscriptions")]
pub async fn subscriptions(
    state: web::Data<AppState>,
    worker: Worker,
) -> Result<web::Json<Subscriptions>, ApiError> {
    Ok(web::Json(subscriptions_of(&state, &worker).await?))
}

/// What `wx.requestSubscribeMessage` answered, posted as it is: template id → `accept`,
/// `reject`, `ban` or `filter`; its `errMsg` is ignored. At most 20 templates.
#[derive(Debug, Deserialize, Serialize)]
pub struct SubscribeResult(pub BTreeMap<String, Value>);

impl utoipa::PartialSchema for SubscribeResult {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::Type;
        use utoipa::openapi::ObjectBuilder;
        ObjectBuilder::new()
            .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
            .max_properties(Some(MAX_REPORTED + 1))
            .description(Some(
                "`wx.requestSubscribeMessage`'s result as it is: template id → `accept`, \
                 `reject`, `ban` or `filter`; `errMsg` is ignored.",
            ))
            .examples([serde_json::json!({
                "errMsg": "requestSubscribeMessage:ok",
                "Xr5z0U-claim-paid": "accept"
            })])
            .into()
    }
}

impl ToSchema for SubscribeResult {}

/// Most templates one report may name.
pub const MAX_REPORTED: usize = 20;

/// Counts the one-time subscriptions the worker accepted: one more for each template
/// answered `accept`. Templates the server does not send are refused, each named.
#[utoipa::path(post, tag = "notifications", security(("bearer" = [])),
    request_body = SubscribeResult,
    responses(
        (status = 200, description = "Counted; every template and what is left now", body = Subscriptions),
        (status = 422, description = "A template the server does not send, or an answer that is not one of WeChat's", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[post("/me/subscriptions")]
pub async fn subscribe(
    state: web::Data<AppState>,
    worker: Worker,
    form: Json<SubscribeResult>,
) -> Result<web::Json<Subscriptions>, ApiError> {
    let reported = form.into_inner().0;
    let known: Vec<String> = state
        .notifications
        .templates()
        .await?
        .into_iter()
        .map(|t| t.template_id)
        .collect();
    let mut problems = Vec::new();
    let mut accepted = Vec::new();
    let answers = reported.iter().filter(|(key, _)| key.as_str() != "errMsg");
    if answers.clone().count() > MAX_REPORTED {
        problems.push(FieldProblem::new(
            "",
            "too_many",
            format!("一次最多报告 {MAX_REPORTED} 个模板"),
            format!("at most {MAX_REPORTED} templates at once"),
        ));
    }
    for (template, answer) in answers.take(MAX_REPORTED) {
        let answer = answer.as_str().unwrap_or_default();
        if !["accept", "reject", "ban", "filter"].contains(&answer) {
            problems.push(FieldProblem::new(
                template.clone(),
                "not_allowed",
                "订阅结果应为 accept、reject、ban 或 filter",
                "the answer must be accept, reject, ban or filter",
            ));
        } else if !known.contains(template) {
            problems.push(FieldProblem::new(
                template.clone(),
                "unknown_template",
                "服务器不发送这个订阅消息模板",
                "the server sends no such template",
            ));
        } else if answer == "accept" {
            accepted.push(template.clone());
        }
    }
    if !problems.is_empty() {
        return Err(problems.into());
    }
    state
        .notifications
        .subscribe(worker.0.account_id(), &accepted, clock::now())
        .await?;
    Ok(web::Json(subscriptions_of(&state, &worker).await?))
}

/// One kind of message and whether the worker gets it on WeChat.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindSetting {
    /// The kind.
    #[schema(value_type = crate::routes::vocabularies::NotificationKind)]
    pub kind: &'static str,
    /// Its Chinese name.
    pub label: &'static str,
    /// Whether WeChat messages of this kind are sent (the inbox keeps every kind).
    pub wechat: bool,
}

/// A worker's message settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationSettings {
    /// Every kind.
    pub kinds: Vec<KindSetting>,
}

/// The kinds a worker switches off.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettingsForm {
    /// Kinds whose WeChat messages are not sent (the others are); `[]` switches all on.
    #[schema(value_type = Vec<crate::routes::vocabularies::NotificationKind>, required = true)]
    pub muted: Option<Vec<String>>,
}

async fn settings_of(state: &AppState, worker: &Worker) -> Result<NotificationSettings, ApiError> {
    let muted = state.notifications.muted(worker.0.account_id()).await?;
    Ok(NotificationSettings {
        kinds: NotificationKind::FOR_WORKERS
            .into_iter()
            .map(|k| KindSetting {
                kind: k.as_str(),
                label: k.zh(),
                wechat: !muted.contains(&k),
            })
            .collect(),
    })
}

/// Which kinds of WeChat message the worker gets.
#[utoipa::path(get, tag = "notifications", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every kind", body = NotificationSettings),
        NotLoggedIn, WorkerOnly,
    ))]
#[get("/me/notification-settings")]
pub async fn settings(
    state: web::Data<AppState>,
    worker: Worker,
) -> Result<web::Json<NotificationSettings>, ApiError> {
    Ok(web::Json(settings_of(&state, &worker).await?))
}

/// Switches kinds of WeChat message off (those listed) and on (the others).
#[utoipa::path(put, tag = "notifications", security(("bearer" = [])),
    request_body = NotificationSettingsForm,
    responses(
        (status = 200, description = "Saved; every kind", body = NotificationSettings),
        (status = 422, description = "An unknown kind", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn, WorkerOnly,
    ))]
#[put("/me/notification-settings")]
pub async fn save_settings(
    state: web::Data<AppState>,
    worker: Worker,
    form: Json<NotificationSettingsForm>,
) -> Result<web::Json<NotificationSettings>, ApiError> {
    let Some(muted) = form.into_inner().muted else {
        return Err(vec![FieldProblem::required("muted")].into());
    };
    let all = NotificationKind::FOR_WORKERS.map(NotificationKind::as_str);
    let mut kinds = Vec::new();
    let mut problems = Vec::new();
    for (i, word) in muted.iter().enumerate() {
        match NotificationKind::parse(word) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            Some(_) => {}
            None => problems.push(FieldProblem::not_one_of(&format!("muted.{i}"), word, &all)),
        }
    }
    if !problems.is_empty() {
        return Err(problems.into());
    }
    state
        .notifications
        .set_muted(worker.0.account_id(), &kinds)
        .await?;
    Ok(web::Json(settings_of(&state, &worker).await?))
}

/// Registers this feature's routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(inbox)
        .service(mark_read)
        .service(subscriptions)
        .service(subscribe)
        .service(settings)
        .service(save_settings)
        .service(admin::templates)
        .service(admin::save_template)
        .service(admin::remove_template)
        .service(admin::failures)
        .service(admin::retry);
}
