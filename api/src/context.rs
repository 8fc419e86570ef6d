//! Per-request context: the request id and the language of answers, set by the outermost
//! middleware and read wherever an error envelope or a log line is made.
//!
//! The request id is taken from a well-formed incoming `X-Request-Id` (1–64 characters of
//! `[A-Za-z0-9._-]`) or made fresh (UUIDv7); it is echoed in the `X-Request-Id` response
//! header, the error envelope and every log line of the request (as a span field).

use std::future::{ready, Ready};
use std::rc::Rc;
use std::time::Instant;

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::{Error, HttpMessage as _};
use futures_util::future::LocalBoxFuture;
use tracing::Instrument;

/// The methods of RFC 9110 §9; any other is answered and counted as `OTHER`.
const STANDARD_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

/// The response header carrying the request id.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// What the current request carries.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The request id.
    pub request_id: String,
    /// True when the client asked for English (`Accept-Language` starting with `en`).
    pub english: bool,
    /// The client address (peer address).
    pub ip: Option<String>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The current request's context (empty outside a request).
pub fn current() -> RequestContext {
    CONTEXT.try_with(Clone::clone).unwrap_or_default()
}

/// Whether `Accept-Language` (RFC 9110 §12.5.4, with its q-values) prefers English to Chinese:
/// the first of the ranked ranges that names `en` or `zh` decides; `*`, nothing usable or no
/// header at all means Chinese, the language of the field.
fn wants_english(req: &ServiceRequest) -> bool {
    use actix_web::http::header::{AcceptLanguage, Header as _, Preference};
    let Ok(accept) = AcceptLanguage::parse(req) else {
        return false;
    };
    for range in accept.ranked() {
        match range {
            Preference::Any => return false,
            Preference::Specific(tag) => match tag.primary_language().to_ascii_lowercase().as_str()
            {
                "en" => return true,
                "zh" => return false,
                _ => {}
            },
        }
    }
    false
}

fn incoming_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(&REQUEST_ID_HEADER)?.to_str().ok()?;
    let ok = (1..=64).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then(|| v.to_owned())
}

/// The middleware.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContextMiddleware {
    /// How long a request body may send nothing before reading it fails
    /// ([`crate::body_timeout`]).
    pub body_idle: std::time::Duration,
}

impl<S, B> Transform<S, ServiceRequest> for RequestContextMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestContextService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestContextService {
            service: Rc::new(service),
            body_idle: self.body_idle,
        }))
    }
}

/// The service made by [`RequestContextMiddleware`].
pub struct RequestContextService<S> {
    service: Rc<S>,
    body_idle: std::time::Duration,
}

impl<S, B> Service<ServiceRequest> for RequestContextService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        // A made-up method would become a new metrics label on every request; it is answered
        // (404, like any method no route takes) and counted as `OTHER`.
        if !STANDARD_METHODS.contains(req.method()) {
            req.head_mut().method = Method::from_bytes(b"OTHER").unwrap_or(Method::GET);
        }
        // HEAD is GET without the body (RFC 9110 §9.3.2): the GET route answers, and the
        // connection, which saw HEAD, sends the headers only.
        if req.method() == Method::HEAD {
            req.head_mut().method = Method::GET;
        }
        // A WebSocket's frames come through the payload and may rightly pause for longer
        // (the live socket has its own keep-alive); every other body is bounded.
        let upgrade = req
            .headers()
            .get(actix_web::http::header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
        if !upgrade {
            let payload = req.take_payload();
            req.set_payload(crate::body_timeout::limited(payload, self.body_idle));
        }
        let request_id = incoming_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let ctx = RequestContext {
            request_id: request_id.clone(),
            english: wants_english(&req),
            ip: req.peer_addr().map(|a| a.ip().to_string()),
        };
        // The route's pattern, never the path itself: a path can hold a signed token
        // (document links) or an id, and logs are kept longer than tokens live.
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %req.method(),
            route = tracing::field::Empty,
        );
        let service = Rc::clone(&self.service);
        let started = Instant::now();
        Box::pin(
            CONTEXT
                .scope(ctx, async move {
                    let mut res = service.call(req).await?;
                    let route = res.request().match_pattern();
                    tracing::Span::current()
                        .record("route", route.as_deref().unwrap_or("(no route)"));
                    if let Ok(v) = HeaderValue::from_str(&request_id) {
                        res.headers_mut().insert(REQUEST_ID_HEADER.clone(), v);
                    }
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                        "request finished"
                    );
                    Ok(res)
                })
                .instrument(span),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::{test, web, App, HttpResponse};

    use super::RequestContextMiddleware;

    /// Log lines, gathered in memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 18, item 11: a signed token in a path never reaches the log; the route's
    /// pattern does.
    #[actix_web::test]
    async fn the_log_names_the_route_not_the_path() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let middleware = RequestContextMiddleware {
            body_idle: std::time::Duration::from_secs(30),
        };
        let app = test::init_service(App::new().wrap(middleware).route(
            "/api/v1/mutual-aid/documents/{token}",
            web::get().to(HttpResponse::Ok),
        ))
        .await;
        let secret = "eyJhbGciOiJFZERTQSJ9.c2VjcmV0.c2lnbmF0dXJl";
        let req = test::TestRequest::get()
            .uri(&format!("/api/v1/mutual-aid/documents/{secret}"))
            .to_request();
        assert!(test::call_service(&app, req).await.status().is_success());
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("request finished"), "{text}");
        assert!(
            text.contains("/api/v1/mutual-aid/documents/{token}"),
            "{text}"
        );
        assert!(!text.contains(secret), "{text}");
    }
}
