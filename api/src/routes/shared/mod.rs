//! What several features share: request-body and query configuration with their error
//! envelopes, keyset paging ([`PageQuery`], [`Paged`]), the status filter, optional filter
//! texts, and the spreadsheet writer ([`spreadsheet`]).

pub mod json;
pub mod methods;
pub mod query;
pub mod responses;
pub mod spreadsheet;

use actix_web::http::StatusCode;
use actix_web::web;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::store::{Page, PageRequest};

use crate::error::ApiError;

/// 408 `body_timeout`: the request body stopped arriving ([`crate::body_timeout`]).
pub fn body_timeout() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "body_timeout",
        "请求内容长时间未传完，请检查网络后重试",
        "The request body stopped arriving; check the connection and try again",
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
            format!("{}最多 {max} 个字", yiwang_domain::problem::label(field)),
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(Some(v.to_owned()))
}

pub use json::Json;
pub use methods::no_route;
pub use query::Query;

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
                "每页条数须在 1 到 100 之间",
                "limit must be between 1 and 100",
            ));
        }
        let after = match &self.cursor {
            // An empty cursor is the first page, as no cursor is.
            None => None,
            Some(c) if c.is_empty() => None,
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

/// The states a `status` query names, comma-separated (none: every state); an unknown one —
/// an empty `status=` too, which the contract's `minItems: 1` rules out — is a 422 listing
/// `all`.
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

/// `body` with `Cache-Control: no-store`: for answers holding a token or a full ID number,
/// which no cache or browser history may keep (RFC 6749 §5.1).
pub fn no_store<T: serde::Serialize>(body: T) -> actix_web::CustomizeResponder<web::Json<T>> {
    use actix_web::Responder;
    web::Json(body).customize().insert_header((
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    ))
}
