//! # yiwang-domain
//!
//! The business of yiwang (一网), free of web, database and network code: the union organisation
//! tree, officials and their roles, workers, sessions, the audit log and outbox records, and the
//! ports (traits) through which the outside world is reached. `yiwang-infra` implements the
//! ports; `yiwang-api` drives them. Nothing here imports actix, diesel, reqwest or redis.
//!
//! Terms follow the glossary in `shared/design/DOMAIN.md`.

pub mod id;

pub mod account;
pub mod audit;
pub mod calendar;
pub mod clock;
pub mod consultation;
pub mod documents;
pub mod idempotency;
pub mod legal_aid;
pub mod mailbox;
pub mod membership;
pub mod money;
pub mod mutual_aid;
pub mod notification;
pub mod org;
pub mod outbox;
pub mod problem;
pub mod refusal;
pub mod service_point;
pub mod session;
pub mod store;
pub mod text;
pub mod vocabulary;
pub mod wechat;

pub use account::{AccountId, AccountKind, Official, Role, Username, Worker};
pub use audit::{Actor, AuditEntry, Change, OutboxEvent};
pub use org::{OrgId, OrgKind, OrgName, OrgPath, Organisation};
pub use refusal::{Explain, Refusal, RefusalKind};
pub use store::{Page, PageRequest, RepoError};
