//! # yiwang-api
//!
//! The HTTP face of yiwang (一网): actix-web routes, authentication, the error envelope,
//! OpenAPI, and [`startup::Application`], which wires the ports of `yiwang-domain` to the
//! adapters of `yiwang-infra`. The `yiwang` binary (`src/main.rs`) is its command line.

pub mod auth;
pub mod body_timeout;
pub mod cli;
pub mod config;
pub mod context;
pub mod cors;
pub mod demo;
pub mod error;
pub mod idempotency;
pub mod metrics;
pub mod moderation;
pub mod openapi;
pub mod rate_limit;
pub mod relay;
pub mod retention;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod upload;
