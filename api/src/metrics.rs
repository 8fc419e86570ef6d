//! Where the Prometheus metrics are served (issue 18, item 8). The middleware counts every
//! request (labels bounded: see [`crate::context`]); the text exposition is served
//!
//! - on the main address only to a caller with `Authorization: Bearer <YIWANG_METRICS_TOKEN>`
//!   (compared in constant time), and
//! - on `YIWANG_METRICS_LISTEN`, a second address that serves nothing else, without a token.
//!
//! With neither set, metrics are counted but served nowhere (`GET /metrics` is 404).

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use prometheus::{Encoder as _, Registry, TextEncoder};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;

use crate::error::ApiError;

/// Shortest token accepted for `YIWANG_METRICS_TOKEN`, characters.
pub const MIN_TOKEN_CHARS: usize = 16;

/// What `GET /metrics` on the main address reads: the registry and the token that opens it.
pub struct Exposition {
    /// The metrics.
    pub registry: Registry,
    /// The bearer token, when one is configured.
    pub token: Option<SecretString>,
}

impl Exposition {
    /// Whether `req` carries the configured token (never, when there is none).
    pub fn admits(&self, req: &HttpRequest) -> bool {
        let Some(token) = &self.token else {
            return false;
        };
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        presented
            .as_bytes()
            .ct_eq(token.expose_secret().as_bytes())
            .into()
    }
}

/// The text exposition of `registry` (`text/plain; version=0.0.4`).
pub fn render(registry: &Registry) -> Result<HttpResponse, ApiError> {
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    encoder
        .encode(&registry.gather(), &mut body)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .content_type(encoder.format_type())
        .body(body))
}

/// The server on the metrics address: `GET /metrics` and nothing else, one worker.
///
/// # Errors
/// When the address cannot be bound.
pub fn separate(listener: TcpListener, registry: Registry) -> std::io::Result<Server> {
    let registry = web::Data::new(registry);
    Ok(HttpServer::new(move || {
        App::new().app_data(registry.clone()).route(
            "/metrics",
            web::get().to(|registry: web::Data<Registry>| async move { render(&registry) }),
        )
    })
    .listen(listener)?
    .workers(1)
    .shutdown_timeout(1)
    .disable_signals()
    .run())
}
