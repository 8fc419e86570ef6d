//! The black-box API suite: every test runs on SQLite + in-process sessions and on
//! PostgreSQL + Redis (`both_shapes!`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account_deletion;
mod admin;
mod auth;
mod bad_input;
mod consultation_attachments;
mod consultations;
mod early_warnings;
mod faults;
mod health;
mod lawyers;
mod legal_aid;
mod live;
mod mailbox;
mod member_export;
mod membership;
mod migrations;
mod mutual_aid;
mod notifications;
mod openapi;
mod service_points;
mod storage_failures;
mod transfers;
mod vocabularies;
