//! The error answers many routes share, described once (ARCHITECTURE.md item 12): a route
//! lists these types in its `#[utoipa::path(responses(...))]` beside the answers of its own.
//! Each is an RFC 9457 problem ([`Problem`]) as `application/problem+json`.

use utoipa::IntoResponses;

use crate::error::Problem;

/// A JSON request body the server could not take: malformed (400: bad JSON, an unknown or
/// missing field, a value of the wrong type), over 64 KiB (413), or not JSON (415).
#[derive(IntoResponses)]
pub enum JsonBodyErrors {
    /// 400.
    #[response(
        status = 400,
        description = "Malformed body",
        content_type = "application/problem+json"
    )]
    Malformed(Problem),
    /// 408.
    #[response(
        status = 408,
        description = "`body_timeout`: the body stopped arriving (no byte for `YIWANG_BODY_IDLE_TIMEOUT_SECS`)",
        content_type = "application/problem+json"
    )]
    BodyTimeout(Problem),
    /// 413.
    #[response(
        status = 413,
        description = "Body too large",
        content_type = "application/problem+json"
    )]
    TooLarge(Problem),
    /// 415.
    #[response(
        status = 415,
        description = "Not JSON",
        content_type = "application/problem+json"
    )]
    NotJson(Problem),
}

/// A body over the route's limit (413) or not JSON (415), where the route says more about
/// what a malformed body is.
#[derive(IntoResponses)]
pub enum BodyLimitErrors {
    /// 413.
    #[response(
        status = 413,
        description = "Body too large",
        content_type = "application/problem+json"
    )]
    TooLarge(Problem),
    /// 415.
    #[response(
        status = 415,
        description = "Not JSON",
        content_type = "application/problem+json"
    )]
    NotJson(Problem),
}

/// 400: a query parameter of the wrong form.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "`unknown_parameter` (a query parameter this route does not take) or \
                   `invalid_query` (one of the wrong form), each named in `errors[].field`",
    content_type = "application/problem+json"
)]
pub struct MalformedQuery(pub Problem);

/// 401 `unauthenticated` (no access token, one that is not ours, or its session has ended:
/// log in again) or `token_expired` (refresh it, then try again).
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "Not logged in: `unauthenticated` (log in again) or `token_expired` (refresh the access token, then try again)",
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"yiwang\"`; with `error=\"invalid_token\"` when the token expired (RFC 6750 §3)"))
)]
pub struct NotLoggedIn(pub Problem);

/// 403 `wrong_account_kind`: an official's token on a worker's route.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "An official's token",
    content_type = "application/problem+json"
)]
pub struct WorkerOnly(pub Problem);

/// 503 `upstream_unavailable`: the session store did not answer.
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "Session store unreachable",
    content_type = "application/problem+json"
)]
pub struct SessionStoreDown(pub Problem);
