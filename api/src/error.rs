//! One error type, one JSON envelope: RFC 9457 problem details (`application/problem+json`)
//! with `type`, `title`, `status`, `detail`, a stable English `code`, the field `errors` and
//! the `request_id` (ARCHITECTURE.md item 5). `detail` is Chinese unless the request asked for
//! English with `Accept-Language: en`. Unexpected failures answer 500 with a generic text; the
//! cause chain goes to the log only.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;
use yiwang_domain::problem::FieldProblem;
use yiwang_domain::refusal::{Refusal, RefusalKind};
use yiwang_domain::session::SessionStoreError;
use yiwang_domain::store::RepoError;
use yiwang_domain::wechat::WeChatError;

use crate::context;

/// One problem with one request field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as a JSON pointer-like dotted path (`username`, `items.0.name`).
    pub field: String,
    /// Stable English code, e.g. `required`, `too_long`, `not_allowed`.
    pub code: String,
    /// Human-readable text in the request's language.
    pub detail: String,
}

/// The error envelope (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `https://yiwang.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short English summary of the type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, in Chinese by default, English with `Accept-Language: en`.
    pub detail: String,
    /// Stable machine-readable code, e.g. `invalid_credentials`.
    pub code: String,
    /// Field-level problems, when the request body or query was at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id, also in the `X-Request-Id` header.
    pub request_id: String,
}

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    zh: String,
    en: String,
    errors: Vec<FieldProblem>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.en)
    }
}

impl From<Vec<FieldProblem>> for ApiError {
    /// The domain's field problems (a failed validation) as one 422 `validation_failed`
    /// listing every problem; the `detail` repeats the first.
    fn from(problems: Vec<FieldProblem>) -> Self {
        let (zh, en) = match problems.first() {
            Some(first) => (first.zh.as_str(), first.en.as_str()),
            None => ("请求内容有误", "The request is not valid"),
        };
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("请求内容有误：{zh}"),
            format!("The request is not valid: {en}"),
        );
        error.errors = problems;
        error
    }
}

impl From<Refusal> for ApiError {
    /// The one mapping of the domain's "no": not found 404, forbidden 403, conflict 409,
    /// invalid 422; the refusal's code and texts, and the fields at fault in `errors`.
    fn from(refusal: Refusal) -> Self {
        let status = match refusal.kind {
            RefusalKind::NotFound => StatusCode::NOT_FOUND,
            RefusalKind::Forbidden => StatusCode::FORBIDDEN,
            RefusalKind::Conflict => StatusCode::CONFLICT,
            RefusalKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let mut error = ApiError::new(status, refusal.code, refusal.zh, refusal.en);
        error.errors = refusal.fields;
        error
    }
}

impl ApiError {
    /// An error with a status, a stable code and its Chinese and English texts.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            zh: zh.into(),
            en: en.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds a field-level problem.
    pub fn field(
        mut self,
        field: impl Into<String>,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        self.errors.push(FieldProblem::new(field, code, zh, en));
        self
    }

    /// Adds a `Retry-After` header (seconds).
    pub fn retry_after(self, secs: u64) -> Self {
        self.with_header(header::RETRY_AFTER, HeaderValue::from(secs))
    }

    /// Adds a header to the answer (`Allow` on 405, `WWW-Authenticate` on 401).
    #[must_use]
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Whether this is the server's (or an upstream's) failure rather than the request's.
    pub fn is_server_error(&self) -> bool {
        self.status.is_server_error()
    }

    /// 422 for one invalid field.
    pub fn invalid_field(
        field: &str,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        let (zh, en) = (zh.into(), en.into());
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("请求内容有误：{zh}"),
            format!("The request is not valid: {en}"),
        )
        .field(field, code, zh, en)
    }

    /// 422 for a field whose value is not one of `allowed`; the texts list them.
    pub fn not_one_of(field: &str, allowed: &[&str]) -> Self {
        let list = allowed.join(", ");
        Self::invalid_field(
            field,
            "not_allowed",
            format!(
                "{}不在可选范围内，请重新选择",
                yiwang_domain::problem::label(field)
            ),
            format!("{field} must be one of: {list}"),
        )
    }

    /// 401 `unauthenticated`: no access token, a token that is not ours, or its session has
    /// ended — the client logs in again.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "未登录或登录已失效，请重新登录",
            "Missing or invalid access token, or the session has ended; log in again",
        )
    }

    /// 401 `token_expired`: a genuine access token past its expiry — the client refreshes it
    /// (`POST /api/v1/auth/refresh`) and tries again. RFC 6750 §3.1 `invalid_token`.
    pub fn token_expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "登录凭证已过期，请刷新后重试",
            "The access token has expired; refresh it and try again",
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"yiwang\", error=\"invalid_token\", error_description=\"The access token expired\"",
            ),
        )
    }

    /// 403: the role may not do this.
    pub fn forbidden() -> Self {
        Refusal::forbidden().into()
    }

    /// 403: a worker token on an admin route or the reverse.
    pub fn wrong_account_kind() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "wrong_account_kind",
            "此接口不对当前账号类型开放（职工与工会干部接口分开）",
            "This route is not open to this kind of account (workers and officials use separate routes)",
        )
    }

    /// 404: no such record, or not in the caller's data scope (the two are not told apart).
    pub fn not_found() -> Self {
        Refusal::not_found().into()
    }

    /// 500 for a failure the client cannot fix; `cause` is logged, never sent.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(cause = %chain, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "服务器内部错误，请稍后再试",
            "Internal server error; please try again later",
        )
    }

    /// 503: a service we depend on did not answer.
    pub fn upstream_unavailable(what: &str) -> Self {
        tracing::warn!(upstream = what, "upstream unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            "依赖的服务暂时不可用，请稍后再试",
            "A service we depend on is unavailable; please try again later",
        )
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    /// The envelope for the current request's language.
    pub fn problem(&self) -> Problem {
        let ctx = context::current();
        let en = ctx.english;
        Problem {
            type_: format!("https://yiwang.dev/problems/{}", self.code),
            title: self.title().to_owned(),
            status: self.status.as_u16(),
            detail: if en { self.en.clone() } else { self.zh.clone() },
            code: self.code.to_owned(),
            errors: self
                .errors
                .iter()
                .map(|p| FieldError {
                    field: p.field.clone(),
                    code: p.code.to_owned(),
                    detail: if en { p.en.clone() } else { p.zh.clone() },
                })
                .collect(),
            request_id: ctx.request_id,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        resp.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        for (name, value) in &self.headers {
            resp.insert_header((name.clone(), value.clone()));
        }
        // RFC 9110 §11.6.1: every 401 says how to authenticate.
        if self.status == StatusCode::UNAUTHORIZED
            && !self
                .headers
                .iter()
                .any(|(n, _)| n == header::WWW_AUTHENTICATE)
        {
            resp.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(BEARER)));
        }
        // The detail is in the language `Accept-Language` chose.
        let english = context::current().english;
        resp.insert_header((
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(if english { "en" } else { "zh-CN" }),
        ));
        resp.append_header((header::VARY, HeaderValue::from_static("Accept-Language")));
        resp.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

/// The challenge of a 401 (RFC 6750 §3).
const BEARER: &str = "Bearer realm=\"yiwang\"";

/// `Retry-After` of a `database_unavailable` answer, seconds: the time the store refuses
/// calls at once after finding the database down.
pub const DATABASE_RETRY_AFTER_SECS: u64 = 5;

impl From<RepoError> for ApiError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => ApiError::not_found(),
            RepoError::Refused(refusal) => refusal.into(),
            RepoError::Unexpected(cause) => ApiError::internal(cause.as_ref()),
            RepoError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "数据库暂时无法访问，请稍后再试",
                    "The database is unavailable; please try again shortly",
                )
                .retry_after(DATABASE_RETRY_AFTER_SECS)
            }
            RepoError::StorageFull(cause) => {
                tracing::error!(cause = %cause, "storage full: a write was refused");
                ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "storage_full",
                    "服务器存储空间已满，本次提交未保存，请稍后再试",
                    "The server's storage is full; nothing was saved; please try again later",
                )
                .retry_after(STORAGE_FULL_RETRY_AFTER_SECS)
            }
        }
    }
}

/// `Retry-After` of a `storage_full` answer, seconds: freeing disk space takes an operator.
pub const STORAGE_FULL_RETRY_AFTER_SECS: u64 = 60;

impl From<SessionStoreError> for ApiError {
    fn from(e: SessionStoreError) -> Self {
        tracing::error!(cause = %e, "session store failure");
        ApiError::upstream_unavailable("session_store")
    }
}

impl From<WeChatError> for ApiError {
    fn from(e: WeChatError) -> Self {
        match e {
            WeChatError::InvalidCode => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wechat_code_invalid",
                "微信登录凭证无效或已过期，请重新调用 wx.login 获取",
                "The WeChat code is invalid, used or expired; call wx.login again",
            ),
            WeChatError::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_unavailable",
                "微信服务繁忙，请稍后再试",
                "WeChat is busy; please try again later",
            ),
            WeChatError::RateLimited => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "wechat_rate_limited",
                "操作过于频繁，请一分钟后再试",
                "Too many WeChat logins; try again in a minute",
            )
            .retry_after(60),
            WeChatError::Blocked => ApiError::new(
                StatusCode::FORBIDDEN,
                "wechat_user_blocked",
                "微信判定该账号存在风险，暂时无法登录",
                "WeChat has blocked this user's login as high-risk",
            ),
            WeChatError::Unavailable(why) => {
                tracing::warn!(%why, "wechat unavailable");
                ApiError::upstream_unavailable("wechat")
            }
            WeChatError::WatermarkMismatch => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wechat_phone_code_invalid",
                "手机号凭证不属于本小程序",
                "The phone number code was issued for another mini-program",
            ),
            WeChatError::Other { errcode, errmsg } => {
                tracing::warn!(errcode, %errmsg, "wechat error");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "wechat_error",
                    format!("微信接口返回错误（{errcode}）"),
                    format!("WeChat answered with error {errcode}"),
                )
            }
        }
    }
}
