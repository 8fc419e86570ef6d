//! The installation's side of notifications (`super_admin` only): which WeChat template each
//! event sends — data, checked against WeChat's field rules when saved — and the outbox
//! deliveries that failed for good, with a way to try one again.

use std::collections::BTreeMap;

use actix_web::{delete, get, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use yiwang_domain::notification::template::SubscribeTemplate;
use yiwang_domain::notification::{FACTS, TOPICS};
use yiwang_domain::outbox::ParkedDelivery;

use crate::auth::{Admin, Permission};
use crate::error::{ApiError, Problem};
use crate::routes::shared::responses::{JsonBodyErrors, MalformedQuery, NotLoggedIn};
use crate::routes::shared::{Json, PageQuery, Paged, Query};
use crate::state::AppState;

/// The event types that can send a subscribe message (the catalogue's topics), as a schema.
pub struct NotificationTopic;

impl utoipa::PartialSchema for NotificationTopic {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(TOPICS.iter().map(|(topic, _)| *topic)))
            .description(Some(format!(
                "An event that can send a subscribe message: {}.",
                TOPICS
                    .iter()
                    .map(|(topic, label)| format!("`{topic}` {label}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )))
            .into()
    }
}

impl ToSchema for NotificationTopic {}

/// A template as saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscribeTemplateView {
    /// WeChat's template id.
    pub template_id: String,
    /// The page a tap opens; `{id}` is the record's id.
    pub page: String,
    /// Data key → value pattern.
    pub data: BTreeMap<String, String>,
}

impl From<&SubscribeTemplate> for SubscribeTemplateView {
    fn from(t: &SubscribeTemplate) -> Self {
        Self {
            template_id: t.template_id.clone(),
            page: t.page.clone(),
            data: t.data.clone(),
        }
    }
}

/// One event that can send a subscribe message.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationTopicView {
    /// The event type.
    #[schema(value_type = NotificationTopic)]
    pub topic: &'static str,
    /// What happened, in Chinese.
    pub label: &'static str,
    /// The template it sends; absent when it sends none (the inbox still gets it).
    pub template: Option<SubscribeTemplateView>,
}

/// A fact a template's value pattern may quote as `{name}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactView {
    /// The placeholder's name.
    pub name: &'static str,
    /// What it says.
    pub description: &'static str,
}

/// Every event that can send a subscribe message, and the facts a pattern may quote.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscribeTemplateCatalogue {
    /// The events, in the order of the worker's journey.
    pub topics: Vec<NotificationTopicView>,
    /// The placeholders.
    pub facts: Vec<FactView>,
}

/// Every event that can send a subscribe message, with its template if it has one.
#[utoipa::path(get, tag = "admin: notifications", security(("bearer" = [])),
    responses(
        (status = 200, description = "The events and the facts", body = SubscribeTemplateCatalogue),
        (status = 403, description = "Not a super_admin", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[get("/admin/notification-templates")]
pub async fn templates(
    state: web::Data<AppState>,
    admin: Admin,
) -> Result<web::Json<SubscribeTemplateCatalogue>, ApiError> {
    admin.authorize(Permission::ManageDelivery, &admin.org_path)?;
    let saved = state.notifications.templates().await?;
    Ok(web::Json(SubscribeTemplateCatalogue {
        topics: TOPICS
            .iter()
            .map(|(topic, label)| NotificationTopicView {
                topic,
                label,
                template: saved
                    .iter()
                    .find(|t| t.topic == *topic)
                    .map(SubscribeTemplateView::from),
            })
            .collect(),
        facts: FACTS
            .iter()
            .map(|(name, description)| FactView { name, description })
            .collect(),
    }))
}

/// A template as a `super_admin` writes it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeTemplateForm {
    /// WeChat's template id (小程序后台 → 订阅消息), 1–128 letters, digits, `-`, `_`.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_-]+$")]
    pub template_id: Option<String>,
    /// The page a tap opens, relative (`pages/claim/detail?id={id}`); `{id}` is the only
    /// placeholder.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 512)]
    pub page: Option<String>,
    /// Data key (a WeChat value type and number: `thing1`, `amount2`, `time3`, `phrase4`) →
    /// value pattern, 1–10 keys; patterns quote facts as `{title}`, `{item}`, `{status}`,
    /// `{amount}`, `{reason}`, `{time}`; `amount…` keys take exactly `{amount}`, `time…` and
    /// `date…` keys exactly `{time}`. Values are cut to WeChat's limits with "…" when sent.
    #[schema(required = true, schema_with = template_data)]
    pub data: Option<BTreeMap<String, String>>,
}

/// `data`: 1–10 keys, each a WeChat value type and a 1–3 digit number, to a pattern.
fn template_data() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .property_names(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .pattern(Some(
                    "^(thing|number|letter|symbol|character_string|time|date|amount|phone_number|car_number|name|phrase)[0-9]{1,3}$",
                )),
        ))
        .additional_properties(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .min_length(Some(1))
                .max_length(Some(yiwang_domain::notification::template::MAX_PATTERN)),
        ))
        .min_properties(Some(1))
        .max_properties(Some(yiwang_domain::notification::template::MAX_FIELDS))
        .build()
}

/// Sets the template an event sends. Every broken rule is reported at once.
#[utoipa::path(put, tag = "admin: notifications", security(("bearer" = [])),
    params(("topic" = NotificationTopic, Path, description = "The event type, one of the catalogue's")),
    request_body = SubscribeTemplateForm,
    responses(
        (status = 200, description = "Saved", body = SubscribeTemplateView),
        (status = 403, description = "Not a super_admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule of WeChat's or ours broken, every field listed", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, NotLoggedIn,
    ))]
#[put("/admin/notification-templates/{topic}")]
pub async fn save_template(
    state: web::Data<AppState>,
    admin: Admin,
    topic: web::Path<String>,
    form: Json<SubscribeTemplateForm>,
) -> Result<web::Json<SubscribeTemplateView>, ApiError> {
    admin.authorize(Permission::ManageDelivery, &admin.org_path)?;
    let form = form.into_inner();
    let template = SubscribeTemplate {
        topic: topic.into_inner(),
        template_id: form.template_id.unwrap_or_default().trim().to_owned(),
        page: form.page.unwrap_or_default().trim().to_owned(),
        data: form.data.unwrap_or_default(),
    };
    template.check()?;
    let change = admin.principal.change(
        "notification.template.save",
        "subscribe_template",
        &template.topic,
        json!({ "template_id": template.template_id, "page": template.page, "data": template.data }),
        None,
    );
    state
        .notifications
        .save_template(&template, &change)
        .await?;
    Ok(web::Json(SubscribeTemplateView::from(&template)))
}

/// Stops an event sending a template (its notifications still reach the inbox).
#[utoipa::path(delete, tag = "admin: notifications", security(("bearer" = [])),
    params(("topic" = NotificationTopic, Path, description = "The event type")),
    responses(
        (status = 204, description = "It sends none now"),
        (status = 403, description = "Not a super_admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "It sent none", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[delete("/admin/notification-templates/{topic}")]
pub async fn remove_template(
    state: web::Data<AppState>,
    admin: Admin,
    topic: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin.authorize(Permission::ManageDelivery, &admin.org_path)?;
    let change = admin.principal.change(
        "notification.template.remove",
        "subscribe_template",
        topic.as_str(),
        Value::Null,
        None,
    );
    state.notifications.remove_template(&topic, &change).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An outbox delivery that failed for good.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxFailureView {
    /// The event's id.
    pub event_id: String,
    /// The event type.
    pub topic: String,
    /// When the event happened (UTC).
    pub created_at: DateTime<Utc>,
    /// The consumer that gave up: `notifications`.
    pub consumer: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed (WeChat's errcode and errmsg, a timeout …).
    pub last_error: String,
    /// When it was parked (UTC).
    pub parked_at: DateTime<Utc>,
}

impl From<&ParkedDelivery> for OutboxFailureView {
    fn from(p: &ParkedDelivery) -> Self {
        Self {
            event_id: p.event.id.clone(),
            topic: p.event.topic.clone(),
            created_at: p.event.created_at,
            consumer: p.consumer.clone(),
            attempts: p.attempts,
            last_error: p.last_error.clone(),
            parked_at: p.parked_at,
        }
    }
}

/// Outbox deliveries parked after their last attempt, most recent first. The payload is not
/// shown: it is the record's to read, through its own route.
#[utoipa::path(get, tag = "admin: notifications", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<OutboxFailureView>),
        (status = 403, description = "Not a super_admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, NotLoggedIn,
    ))]
#[get("/admin/outbox/failures")]
pub async fn failures(
    state: web::Data<AppState>,
    admin: Admin,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<OutboxFailureView>>, ApiError> {
    admin.authorize(Permission::ManageDelivery, &admin.org_path)?;
    let page = page.request()?;
    let rows = state.outbox.parked(&page).await?;
    Ok(web::Json(Paged::of(rows, |p| OutboxFailureView::from(&p))))
}

/// Tries a parked delivery again at once, with fresh attempts (after its cause was fixed: a
/// template corrected, WeChat back).
#[utoipa::path(post, tag = "admin: notifications", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "The event's id"),
        ("consumer" = String, Path, description = "The consumer that gave up")),
    responses(
        (status = 202, description = "Queued; the relay takes it within its poll interval"),
        (status = 403, description = "Not a super_admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such parked delivery", body = Problem, content_type = "application/problem+json"),
        NotLoggedIn,
    ))]
#[post("/admin/outbox/failures/{event_id}/{consumer}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    admin.authorize(Permission::ManageDelivery, &admin.org_path)?;
    let (event_id, consumer) = path.into_inner();
    let change = admin.principal.change(
        "outbox.delivery.retry",
        "outbox_event",
        &event_id,
        json!({ "consumer": consumer }),
        None,
    );
    state
        .outbox
        .retry_parked(&event_id, &consumer, &change)
        .await?;
    Ok(HttpResponse::Accepted().finish())
}
