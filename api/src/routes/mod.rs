//! HTTP routes, one folder per feature (ARCHITECTURE.md item 18): each holds that feature's
//! views, forms, worker and admin handlers, and a `routes` function registering them. That
//! one registration is both what the server serves and what the OpenAPI document describes
//! (utoipa-actix-web collects each handler's `#[utoipa::path]` as it is registered); every
//! error is an [`ApiError`](crate::error::ApiError) envelope. What several features share is in
//! [`shared`].

pub mod account;
pub mod consultations;
pub mod health;
pub mod legal_aid;
pub mod mailbox;
pub mod membership;
pub mod mutual_aid;
pub mod notifications;
pub mod officials;
pub mod orgs;
pub mod service_points;
pub mod shared;
pub mod vocabularies;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub use shared::no_route;

/// Registers every route: the operations endpoints at the root, the API under `/api/v1`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.configure(health::routes).service(
        scope::scope("/api/v1")
            .configure(account::routes)
            .configure(orgs::routes)
            .configure(membership::routes)
            .configure(mutual_aid::routes)
            .configure(service_points::routes)
            .configure(consultations::routes)
            .configure(legal_aid::routes)
            .configure(mailbox::routes)
            .configure(notifications::routes)
            .configure(officials::routes)
            .configure(vocabularies::routes),
    );
}
