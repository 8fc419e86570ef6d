//! The account: logging in and out ([`auth`]), the current account ([`me`]) and its sessions
//! ([`sessions`]).

pub mod auth;
pub mod me;
pub mod sessions;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers this feature's routes with their OpenAPI paths.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(auth::wechat_login)
        .service(auth::admin_login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(me::me)
        .service(sessions::list)
        .service(sessions::end_others)
        .service(sessions::end_one)
        .service(me::bind_phone)
        .service(me::delete_account);
}
