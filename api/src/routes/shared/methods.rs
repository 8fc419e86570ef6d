//! Which methods each path takes, read from the one route registration (the OpenAPI document),
//! for the answers no handler gives: 405 `method_not_allowed` with `Allow` to a method a path
//! does not take (RFC 9110 §15.5.6), and 204 with `Allow` to `OPTIONS` (§9.3.7). `HEAD` is
//! taken wherever `GET` is (the request context answers it as `GET` without the body). The
//! same table tells where a created record can be read, for the `Location` of a 201
//! ([`locate_created`]).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, ALLOW, LOCATION};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::{OpenApi, RefOr};

use crate::error::ApiError;

/// Every documented path pattern with the methods it takes and, per method, the query
/// parameters it documents.
pub struct Methods {
    paths: Vec<(ResourceDef, PathEntry)>,
}

/// One documented path: the methods it takes (with `HEAD` and `OPTIONS`) and, per method, the
/// query parameters it documents.
struct PathEntry {
    methods: Vec<&'static str>,
    queries: Vec<(Method, Vec<String>)>,
}

/// The documented paths a request path is: those of the patterns it matches with the fewest
/// templated segments — `/admin/service-points/export` is the export's, not an `{id}`
/// (OpenAPI 3.1 §4.8.8: concrete paths match before templated ones). Empty when no route has
/// the path.
pub struct Route<'a>(Vec<&'a PathEntry>);

/// How many of `def`'s segments are templated.
fn templated(def: &ResourceDef) -> usize {
    def.pattern().map_or(0, |p| p.matches('{').count())
}

impl Methods {
    /// The table of `doc`'s paths.
    pub fn of(doc: &OpenApi) -> Self {
        let paths = doc
            .paths
            .paths
            .iter()
            .map(|(pattern, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("HEAD", item.get.is_some() || item.head.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, taken)| taken.then_some(m))
                .chain(["OPTIONS"])
                .collect();
                let queries = [
                    (Method::GET, &item.get),
                    (Method::POST, &item.post),
                    (Method::PUT, &item.put),
                    (Method::PATCH, &item.patch),
                    (Method::DELETE, &item.delete),
                ]
                .into_iter()
                .filter_map(|(method, operation)| {
                    let names = operation
                        .as_ref()?
                        .parameters
                        .iter()
                        .chain(item.parameters.iter())
                        .flatten()
                        .filter_map(|p| match p {
                            RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query) => {
                                Some(p.name.clone())
                            }
                            _ => None,
                        })
                        .collect();
                    Some((method, names))
                })
                .collect();
                let entry = PathEntry { methods, queries };
                (ResourceDef::new(pattern.as_str()), entry)
            })
            .collect();
        Self { paths }
    }

    /// What `path` is (see [`Route`]), in one pass over the table.
    pub fn route(&self, path: &str) -> Route<'_> {
        let matching: Vec<&(ResourceDef, PathEntry)> = self
            .paths
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .collect();
        let fewest = matching.iter().map(|(def, _)| templated(def)).min();
        Route(
            matching
                .into_iter()
                .filter(|(def, _)| Some(templated(def)) == fewest)
                .map(|(_, entry)| entry)
                .collect(),
        )
    }
}

impl Route<'_> {
    /// The query parameters `method` documents here, or `None` when no documented route
    /// takes it (then nothing is checked here).
    pub fn query_parameters(&self, method: &Method) -> Option<Vec<&str>> {
        let mut found: Option<Vec<&str>> = None;
        for (m, names) in self.0.iter().flat_map(|entry| &entry.queries) {
            if m == method {
                found
                    .get_or_insert_with(Vec::new)
                    .extend(names.iter().map(String::as_str));
            }
        }
        found
    }

    /// The methods taken here (with `HEAD` and `OPTIONS`), in the order of RFC 9110; empty
    /// when no route has the path.
    pub fn allowed(&self) -> Vec<&'static str> {
        let mut allowed: Vec<&'static str> = Vec::new();
        for m in self.0.iter().flat_map(|entry| &entry.methods) {
            if !allowed.contains(m) {
                allowed.push(m);
            }
        }
        const ORDER: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        allowed.sort_by_key(|m| ORDER.iter().position(|o| o == m));
        allowed
    }
}

/// Longest 201 body read for its `id`, bytes (the created records' views are far smaller;
/// a longer one is a bug, answered 500).
const MAX_CREATED_BODY: usize = 4 * 1024 * 1024;

/// Middleware: a 201 whose JSON body has an `id` gets `Location: {path}/{id}` (RFC 9110
/// §15.3.2) when a `GET` route reads that path — the same for a replayed idempotent answer.
/// A 201 that creates something not read at its own path (a check-in, a rating) keeps none.
pub async fn locate_created(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    if res.status() != StatusCode::CREATED || res.headers().contains_key(LOCATION) {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut res, body) = res.into_parts();
    let Ok(bytes) = actix_web::body::to_bytes_limited(body, MAX_CREATED_BODY).await else {
        tracing::error!(route = ?req.match_pattern(), "a 201 body over the Location limit");
        return Ok(ServiceResponse::new(
            req,
            HttpResponse::InternalServerError().finish(),
        ));
    };
    let Ok(bytes) = bytes else {
        return Ok(ServiceResponse::new(
            req,
            HttpResponse::InternalServerError().finish(),
        ));
    };
    let id = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned));
    let readable = |path: &str| {
        req.app_data::<web::Data<Methods>>()
            .is_some_and(|m| m.route(path).allowed().contains(&"GET"))
    };
    if let Some(id) = id.filter(|id| id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
        let location = format!("{}/{id}", req.path().trim_end_matches('/'));
        if readable(&location) {
            if let Ok(value) = HeaderValue::from_str(&location) {
                res.headers_mut().insert(LOCATION, value);
            }
        }
    }
    Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(bytes))))
}

/// Middleware: a method the path does not take is refused — 405 with `Allow` — before any
/// handler of a templated path that also matches sees it (`PUT …/service-points/export` is not
/// an update of the point `export`); a query parameter the route does not document is refused
/// — 400 `unknown_parameter` naming it — instead of being silently ignored (`?status=` on a
/// list whose filter is `paid` would otherwise answer as if unfiltered).
pub async fn refuse_undocumented(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(methods) = req.app_data::<web::Data<Methods>>() {
        let route = methods.route(req.path());
        let allowed = route.allowed();
        if !allowed.is_empty() && !allowed.contains(&req.method().as_str()) {
            let refusal = method_not_allowed(&allowed);
            return Ok(req.error_response(refusal).map_into_boxed_body());
        }
        let known = route.query_parameters(req.method());
        if let (false, Some(known)) = (req.query_string().is_empty(), known) {
            let unknown: Vec<String> = form_urlencoded::parse(req.query_string().as_bytes())
                .map(|(name, _)| name.into_owned())
                .filter(|name| !known.contains(&name.as_str()))
                .collect();
            if !unknown.is_empty() {
                let mut error = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_parameter",
                    "查询参数中有本接口不认识的参数",
                    format!("Unknown query parameter(s): {}", unknown.join(", ")),
                );
                for name in unknown {
                    error = error.field(
                        name,
                        "unknown_parameter",
                        "不认识的参数",
                        "unknown parameter",
                    );
                }
                return Ok(req.error_response(error).map_into_boxed_body());
            }
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The answer for a request no route takes: 404 for a path no route has; for a path that
/// exists, 204 with `Allow` to `OPTIONS` and 405 `method_not_allowed` with `Allow` to any
/// other method.
pub async fn no_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = req
        .app_data::<web::Data<Methods>>()
        .map(|m| m.route(req.path()).allowed())
        .unwrap_or_default();
    if allowed.is_empty() {
        return Err(ApiError::not_found());
    }
    if req.method() == Method::OPTIONS {
        return Ok(HttpResponse::NoContent()
            .insert_header((ALLOW, allow_header(&allowed)))
            .finish());
    }
    Err(method_not_allowed(&allowed))
}

fn allow_header(allowed: &[&str]) -> HeaderValue {
    HeaderValue::from_str(&allowed.join(", ")).unwrap_or(HeaderValue::from_static("GET"))
}

/// 405 `method_not_allowed` with `Allow: {allowed}` (RFC 9110 §15.5.6).
fn method_not_allowed(allowed: &[&str]) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("该地址不支持此请求方法，可用的方法：{}", allowed.join("、")),
        format!(
            "This path does not take that method; it takes {}",
            allowed.join(", ")
        ),
    )
    .with_header(ALLOW, allow_header(allowed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_path_takes_what_its_routes_take() {
        let methods = Methods::of(&crate::openapi::document());
        let allowed = |path: &str| methods.route(path).allowed();
        assert_eq!(allowed("/healthz"), ["GET", "HEAD", "OPTIONS"]);
        let org = allowed("/api/v1/admin/orgs/0190e7a1-0000-7000-8000-000000000000");
        assert!(org.contains(&"GET") && org.contains(&"PATCH"), "{org:?}");
        assert!(!org.contains(&"PUT"), "{org:?}");
        assert!(allowed("/api/v1/nothing-here").is_empty());
        // A concrete path is its own resource, though `{id}` matches it too.
        assert_eq!(
            allowed("/api/v1/admin/membership/applications/batch-approve"),
            ["POST", "OPTIONS"]
        );
        assert_eq!(
            allowed("/api/v1/admin/service-points/export"),
            ["GET", "HEAD", "OPTIONS"]
        );
    }
}
