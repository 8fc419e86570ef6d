//! HTTP routes, one file per feature. Every handler is annotated for OpenAPI
//! ([`crate::openapi`]); every error is an [`ApiError`] envelope.

pub mod admin;
pub mod auth;
pub mod consultations;
pub mod health;
pub mod lawyers;
pub mod legal_aid;
pub mod mailbox;
pub mod me;
pub mod membership;
pub mod mutual_aid;
pub mod orgs;
pub mod service_points;
pub mod ws;

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::repo::{Page, PageRequest};

use crate::error::ApiError;

/// JSON request bodies: at most 64 KiB, `application/json` required; errors become the
/// envelope: malformed JSON or an unknown field → 400, too large → 413, wrong type → 415.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|err, _req| json_error(err).into())
}

/// Query strings: a value of the wrong form → 400 naming it.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| query_error(err).into())
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "请求体超过 64 KiB 上限",
                "The request body exceeds the 64 KiB limit",
            )
        }
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请求体须为 JSON（Content-Type: application/json）",
            "The request body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(e) => body_error(&e),
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "无法读取请求体",
            format!("Cannot read the request body: {other}"),
        ),
    }
}

fn backticked(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_owned())
}

/// A serde_json error as 400: syntax errors name line and column, unknown and missing fields
/// name the field.
pub fn body_error(e: &serde_json::Error) -> ApiError {
    let msg = e.to_string();
    let (line, col) = (e.line(), e.column());
    if e.is_syntax() || e.is_eof() {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("JSON 格式错误（第 {line} 行第 {col} 列）"),
            format!("Malformed JSON: {msg}"),
        );
    }
    let field = backticked(&msg).unwrap_or_default();
    if msg.starts_with("unknown field") {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_field",
            format!("请求体含有不认识的字段 `{field}`"),
            format!("Unknown field `{field}` in the request body"),
        )
        .field(field, "unknown_field", "不认识的字段", "unknown field");
    }
    if msg.starts_with("missing field") {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_field",
            format!("请求体缺少字段 `{field}`"),
            format!("Missing field `{field}` in the request body"),
        )
        .field(field, "required", "必填", "required");
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_body",
        "请求体字段类型或取值不正确",
        format!("A request body field has the wrong type or value: {msg}"),
    )
}

fn query_error(err: QueryPayloadError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        "查询参数格式不正确",
        format!("Invalid query string: {err}"),
    )
}

/// A trimmed optional filter text (`q`, `city`): absent or blank is `None`; longer than `max`
/// characters is 422 `too_long` naming `field`.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(ApiError::invalid_field(
            field,
            "too_long",
            format!("{field} 最多 {max} 个字符"),
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(Some(v.to_owned()))
}

/// 404 for any path no route answers.
pub async fn no_route(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// Keyset paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows per page, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Checks the limit and decodes the cursor's base64 (422 when either is wrong); what the
    /// cursor says is the listing store's to read ([`PageRequest::invalid_cursor`]).
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                "out_of_range",
                "limit 须在 1 到 100 之间",
                "limit must be between 1 and 100",
            ));
        }
        let after = match &self.cursor {
            None => None,
            Some(c) => Some(
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| ApiError::from(PageRequest::invalid_cursor()))?,
            ),
        };
        Ok(PageRequest { after, limit })
    }
}

/// The states a `status` query names, comma-separated (none: every state); an unknown one
/// is a 422 listing `all`.
pub fn status_filter<T>(
    raw: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    all: &[&str],
) -> Result<Vec<T>, ApiError> {
    raw.into_iter()
        .flat_map(|s| s.split(','))
        .map(|code| parse(code.trim()).ok_or_else(|| ApiError::not_one_of("status", all)))
        .collect()
}

/// One page of results.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T: ToSchema> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Paged<T> {
    /// A store's page with each row shown as `view`; the store's next cursor goes out in
    /// base64.
    pub fn of<R>(page: Page<R>, mut view: impl FnMut(R) -> T) -> Self {
        Self::of_some(page, |row| Some(view(row)))
    }

    /// As [`Paged::of`], leaving out the rows `view` has nothing to show for (the cursor
    /// still goes on from the store's last row).
    pub fn of_some<R>(page: Page<R>, view: impl FnMut(R) -> Option<T>) -> Self {
        Paged {
            items: page.items.into_iter().filter_map(view).collect(),
            next_cursor: page.next.map(|cursor| URL_SAFE_NO_PAD.encode(cursor)),
        }
    }
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::jwks)
        .service(
            web::scope("/api/v1")
                .service(auth::wechat_login)
                .service(auth::admin_login)
                .service(auth::refresh)
                .service(auth::logout)
                .service(me::me)
                .service(me::bind_phone)
                .service(me::delete_account)
                .service(orgs::search)
                .service(membership::privacy_notice)
                .service(membership::apply)
                .service(membership::my_applications)
                .service(membership::my_application)
                .service(membership::resubmit)
                .service(membership::withdraw)
                .service(membership::member_card)
                .service(membership::leave)
                .service(membership::verify_card)
                .service(membership::transfers::request)
                .service(membership::transfers::list)
                .service(membership::transfers::withdraw)
                .service(membership::transfers::history)
                .service(admin::membership::batch_approve)
                .service(admin::membership::queue)
                .service(admin::membership::application)
                .service(admin::membership::approve)
                .service(admin::membership::reject)
                .service(admin::membership::return_application)
                .service(admin::membership::members)
                .service(admin::membership::export::export)
                .service(admin::membership::reveal_id)
                .service(admin::membership::transfers::queue)
                .service(admin::membership::transfers::show)
                .service(admin::membership::transfers::approve)
                .service(admin::membership::transfers::reject)
                .service(mutual_aid::plans)
                .service(mutual_aid::enrol)
                .service(mutual_aid::my_enrollments)
                .service(mutual_aid::claims::create)
                .service(mutual_aid::claims::list)
                .service(mutual_aid::claims::show)
                .service(mutual_aid::claims::update)
                .service(mutual_aid::claims::preview)
                .service(mutual_aid::claims::submit)
                .service(mutual_aid::documents::upload)
                .service(mutual_aid::documents::remove)
                .service(mutual_aid::documents::own_link)
                .service(mutual_aid::documents::download)
                .service(service_points::nearby)
                .service(service_points::list)
                .service(service_points::show)
                .service(service_points::visits::check_in)
                .service(service_points::reviews::review)
                .service(service_points::reviews::list)
                .service(admin::service_points::import::import)
                .service(admin::service_points::export::export)
                .service(admin::service_points::visits::counts)
                .service(admin::service_points::create)
                .service(admin::service_points::list)
                .service(admin::service_points::show)
                .service(admin::service_points::update)
                .service(admin::service_points::remove)
                .service(admin::service_points::reviews::list)
                .service(admin::service_points::reviews::approve)
                .service(admin::service_points::reviews::refuse)
                .service(admin::mutual_aid::create)
                .service(admin::mutual_aid::list)
                .service(admin::mutual_aid::show)
                .service(admin::mutual_aid::update)
                .service(admin::mutual_aid::enrollments::list)
                .service(admin::mutual_aid::enrollments::record_payments)
                .service(admin::mutual_aid::payouts::payment_list)
                .service(admin::mutual_aid::claims::queue)
                .service(admin::mutual_aid::claims::show)
                .service(admin::mutual_aid::claims::document_link)
                .service(admin::mutual_aid::claims::take)
                .service(admin::mutual_aid::claims::approve)
                .service(admin::mutual_aid::claims::return_claim)
                .service(admin::mutual_aid::claims::reject)
                .service(admin::mutual_aid::payouts::mark_paid)
                .service(ws::socket)
                .service(consultations::ask)
                .service(consultations::list)
                .service(consultations::show)
                .service(consultations::messages)
                .service(consultations::write)
                .service(consultations::rate)
                .service(consultations::read)
                .service(consultations::attachments::send)
                .service(consultations::attachments::own_link)
                .service(consultations::attachments::download)
                .service(admin::consultations::queue)
                .service(admin::consultations::show)
                .service(admin::consultations::messages)
                .service(admin::consultations::accept)
                .service(admin::consultations::answer)
                .service(admin::consultations::resolve)
                .service(admin::consultations::release)
                .service(admin::consultations::refuse)
                .service(admin::consultations::assign)
                .service(admin::consultations::read)
                .service(admin::consultations::attach)
                .service(admin::consultations::link)
                .service(admin::early_warnings::list)
                .service(admin::early_warnings::show_rule)
                .service(admin::early_warnings::save_rule)
                .service(admin::early_warnings::acknowledge)
                .service(legal_aid::apply)
                .service(legal_aid::list)
                .service(legal_aid::show)
                .service(admin::legal_aid::queue)
                .service(admin::legal_aid::show)
                .service(admin::legal_aid::accept)
                .service(admin::legal_aid::reject)
                .service(admin::legal_aid::close)
                .service(mailbox::write)
                .service(mailbox::mine)
                .service(mailbox::public)
                .service(admin::mailbox::list)
                .service(admin::mailbox::reply)
                .service(admin::mailbox::close)
                .service(lawyers::categories)
                .service(lawyers::list)
                .service(lawyers::show)
                .service(admin::consultation_categories::list)
                .service(admin::consultation_categories::save)
                .service(admin::lawyers::list)
                .service(admin::lawyers::duty)
                .service(admin::lawyers::save)
                .service(admin::orgs::create)
                .service(admin::orgs::list)
                .service(admin::orgs::get)
                .service(admin::orgs::update)
                .service(admin::officials::create)
                .service(admin::officials::list)
                .service(admin::officials::get)
                .service(admin::officials::disable),
        );
}
