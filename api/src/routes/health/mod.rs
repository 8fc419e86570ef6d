//! Liveness, readiness, the public signing key and the metrics.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use yiwang_domain::session::SessionStoreError;
use yiwang_domain::store::RepoError;

use crate::error::{ApiError, Problem};
use crate::metrics::Exposition;
use crate::state::AppState;

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Readiness of one dependency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dependency {
    /// Which backend is in use: `postgres` | `sqlite` for the database, `redis` |
    /// `in_process` for sessions, `local` | `s3` | `memory` for documents.
    pub backend: &'static str,
    /// Whether it answered just now (and, after a write found its storage full, took a write).
    pub ok: bool,
    /// Why not, when not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<DependencyProblem>,
}

/// Why a dependency is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependencyProblem {
    /// It did not answer, or not within the deadline.
    Unavailable,
    /// Its storage is full: writes fail (answered 507 `storage_full`) while reads work.
    StorageFull,
}

impl Dependency {
    fn of<E>(backend: &'static str, answer: &Result<(), E>, full: impl Fn(&E) -> bool) -> Self {
        Self {
            backend,
            ok: answer.is_ok(),
            problem: answer.as_ref().err().map(|e| {
                if full(e) {
                    DependencyProblem::StorageFull
                } else {
                    DependencyProblem::Unavailable
                }
            }),
        }
    }
}

/// How long `/readyz` waits for each dependency, milliseconds: a database or Redis that does
/// not answer in that time is reported down.
pub const READINESS_DEADLINE_MS: u64 = 2_000;

/// Readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` when every dependency answered, else `unavailable`.
    pub status: &'static str,
    /// The database.
    pub database: Dependency,
    /// The session store.
    pub sessions: Dependency,
    /// Where claim documents and attachments are kept.
    pub documents: Dependency,
    /// `emulated` (built-in WeChat emulator, development only) or `configured`.
    pub wechat: &'static str,
    /// Seconds since the oldest outbox event not yet handled by every consumer was written
    /// (0 when none is waiting), as this process's relay last measured it; absent before its
    /// first pass. A lag never makes the process unready: it is shown to be watched.
    pub outbox_lag_seconds: Option<f64>,
}

/// The process is up.
#[utoipa::path(get, tag = "operations",
    responses((status = 200, description = "The process is up", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// The database, the session store and the document store are reachable and, after a write
/// found a disk full, can write again; names the backends in use.
#[utoipa::path(get, tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency is unreachable or its storage full", body = Readiness),
    ))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let deadline = std::time::Duration::from_millis(READINESS_DEADLINE_MS);
    let late = || RepoError::Unavailable("no answer in time".into());
    let (db, sessions, documents) = tokio::join!(
        tokio::time::timeout(deadline, state.store.ping()),
        tokio::time::timeout(deadline, state.sessions.ping()),
        tokio::time::timeout(deadline, state.documents.ping()),
    );
    let db = db.unwrap_or_else(|_| Err(late()));
    let sessions = sessions.unwrap_or_else(|_| Err(SessionStoreError("no answer in time".into())));
    let documents = documents.unwrap_or_else(|_| Err(late()));
    let full = |e: &RepoError| matches!(e, RepoError::StorageFull(_));
    let body = Readiness {
        status: if db.is_ok() && sessions.is_ok() && documents.is_ok() {
            "ok"
        } else {
            "unavailable"
        },
        database: Dependency::of(state.store.backend(), &db, full),
        sessions: Dependency::of(state.sessions.backend(), &sessions, |_| false),
        documents: Dependency::of(state.documents.backend(), &documents, full),
        wechat: state.wechat.mode(),
        outbox_lag_seconds: state.relay.lag_seconds(),
    };
    if let Err(e) = &db {
        tracing::warn!(cause = %e, "readiness: database not ready");
    }
    if let Err(e) = &sessions {
        tracing::warn!(cause = %e, "readiness: session store unreachable");
    }
    if let Err(e) = &documents {
        tracing::warn!(cause = %e, "readiness: document store not ready");
    }
    if body.status == "ok" {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// A JSON Web Key (RFC 7517 / RFC 8037, Ed25519).
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// Key id, as in the tokens' `kid` header.
    pub kid: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// `EdDSA`.
    pub alg: String,
}

/// A JWK set.
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// The public key that verifies access tokens, as a JWK set.
#[utoipa::path(get, tag = "auth",
    responses((status = 200, description = "The public signing key", body = Jwks)))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.tokens.jwks())
}

/// Prometheus metrics in the text exposition format (request counts and latencies per route).
/// Served here only with `Authorization: Bearer <YIWANG_METRICS_TOKEN>`; without that setting
/// the route is absent (404) — metrics may instead be served on their own address
/// (`YIWANG_METRICS_LISTEN`), where no token is asked.
#[utoipa::path(get, tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        (status = 401, description = "`unauthenticated`: no or a wrong metrics token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No metrics token configured", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    exposition: web::Data<Exposition>,
) -> Result<HttpResponse, ApiError> {
    if exposition.token.is_none() {
        return Err(ApiError::not_found());
    }
    if !exposition.admits(&req) {
        return Err(ApiError::unauthenticated());
    }
    crate::metrics::render(&exposition.registry)
}

/// Registers this feature's routes with their OpenAPI paths, in the order actix matches
/// them (fixed paths before `{id}`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz)
        .service(readyz)
        .service(jwks)
        .service(metrics);
}
