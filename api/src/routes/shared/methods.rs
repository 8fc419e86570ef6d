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
    routes: Vec<(ResourceDef, Vec<&'static str>)>,
    queries: Vec<(ResourceDef, (Method, Vec<String>))>,
}

/// How many of `def`'s segments are templated: of the patterns a path matches, those with the
/// fewest are the path's own — `/admin/service-points/export` is the export's, not an `{id}`
/// (OpenAPI 3.1 §4.8.8: concrete paths match before templated ones).
fn templated(def: &ResourceDef) -> usize {
    def.pattern().map_or(0, |p| p.matches('{').count())
}

/// The entries of `table` whose pattern is `path`'s own (see [`templated`]).
fn own<'a, T>(table: &'a [(ResourceDef, T)], path: &str) -> Vec<&'a T> {
    let matching: Vec<&(ResourceDef, T)> =
        table.iter().filter(|(def, _)| def.is_match(path)).collect();
    let fewest = matching.iter().map(|(def, _)| templated(def)).min();
    matching
        .into_iter()
        .filter(|(def, _)| Some(templated(def)) == fewest)
        .map(|(_, entry)| entry)
        .collect()
}

impl Methods {
    /// The table of `doc`'s paths.
    pub fn of(doc: &OpenApi) -> Self {
        let routes = doc
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
                (ResourceDef::new(pattern.as_str()), methods)
            })
            .collect();
        let mut queries: Vec<(ResourceDef, (Method, Vec<String>))> = Vec::new();
        for (pattern, item) in &doc.paths.paths {
            for (method, operation) in [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ] {
                let Some(operation) = operation else { continue };
                let names = operation
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
                queries.push((ResourceDef::new(pattern.as_str()), (method, names)));
            }
        }
        Self { routes, queries }
    }

    /// The query parameters `method` on `path` documents, or `None` when no documented route
    /// takes it (then nothing is checked here).
    pub fn query_parameters(&self, method: &Method, path: &str) -> Option<Vec<&str>> {
        let mut found: Option<Vec<&str>> = None;
        for (m, names) in own(&self.queries, path) {
            if m == method {
                found
                    .get_or_insert_with(Vec::new)
                    .extend(names.iter().map(String::as_str));
            }
        }
        found
    }

    /// The methods `path` takes (with `HEAD` and `OPTIONS`), in the order of RFC 9110;
    /// empty when no route has the path. A path a concrete pattern names takes only that
    /// pattern's methods, though a templated one matches it too.
    pub fn allowed(&self, path: &str) -> Vec<&'static str> {
        let mut allowed: Vec<&'static str> = Vec::new();
        for methods in own(&self.routes, path) {
            for m in methods {
                if !allowed.contains(m) {
                    allowed.push(m);
                }
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
            .is_some_and(|m| m.allowed(path).contains(&"GET"))
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
        let allowed = methods.allowed(req.path());
        if !allowed.is_empty() && !allowed.contains(&req.method().as_str()) {
            let refusal = method_not_allowed(&allowed);
            return Ok(req.error_response(refusal).map_into_boxed_body());
        }
    }
    if !req.query_string().is_empty() {
        let known = req
            .app_data::<web::Data<Methods>>()
            .and_then(|m| m.query_parameters(req.method(), req.path()));
        if let Some(known) = known {
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
        .map(|m| m.allowed(req.path()))
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
        assert_eq!(methods.allowed("/healthz"), ["GET", "HEAD", "OPTIONS"]);
        let org = methods.allowed("/api/v1/admin/orgs/0190e7a1-0000-7000-8000-000000000000");
        assert!(org.contains(&"GET") && org.contains(&"PATCH"), "{org:?}");
        assert!(!org.contains(&"PUT"), "{org:?}");
        assert!(methods.allowed("/api/v1/nothing-here").is_empty());
        // A concrete path is its own resource, though `{id}` matches it too.
        assert_eq!(
            methods.allowed("/api/v1/admin/membership/applications/batch-approve"),
            ["POST", "OPTIONS"]
        );
        assert_eq!(
            methods.allowed("/api/v1/admin/service-points/export"),
            ["GET", "HEAD", "OPTIONS"]
        );
    }
}
