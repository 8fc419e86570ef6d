//! [`SessionStore`](yiwang_domain::session::SessionStore) adapters: Redis for the production
//! shape (shared by every API process), an in-process map for the embedded default.

mod memory;
mod redis_store;

pub use memory::InProcessSessions;
pub use redis_store::RedisSessions;
