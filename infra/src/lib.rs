//! # yiwang-infra
//!
//! Adapters behind the ports of `yiwang-domain`: the relational store on PostgreSQL or SQLite
//! ([`db`]), sessions in Redis or in process ([`sessions`]), the WeChat client ([`wechat`]),
//! password hashing ([`password`]), encryption of personal data ([`personal_data`]), the key
//! files of the embedded default ([`key_file`]), uploaded documents sealed in an object store
//! ([`documents`]), spreadsheets read for imports
//! ([`spreadsheet`]), the in-memory nearest-point index ([`nearby`]) and live delivery to
//! WebSocket connections across processes ([`live`]), both
//! on Redis connected one way ([`redis_link`]).

pub mod db;
pub mod documents;
pub mod key_file;
pub mod live;
pub mod nearby;
pub mod password;
pub mod personal_data;
pub mod redis_link;
pub mod sessions;
pub mod spreadsheet;
pub mod storage_full;
pub mod wechat;
