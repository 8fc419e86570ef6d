//! # yiwang-infra
//!
//! Adapters behind the ports of `yiwang-domain`: the relational store on PostgreSQL or SQLite
//! ([`db`]), sessions in Redis or in process ([`sessions`]), the WeChat client ([`wechat`]),
//! and password hashing ([`password`]).

pub mod db;
pub mod password;
pub mod personal_data;
pub mod sessions;
pub mod wechat;
