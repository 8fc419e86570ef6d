//! Typed, layered configuration (ARCHITECTURE.md item 7): built-in defaults → an optional TOML
//! file (`yiwang.toml` in the working directory, or the file named by `YIWANG_CONFIG`) →
//! environment variables `YIWANG_<FIELD>` (e.g. `YIWANG_DATABASE_URL`). Secrets are
//! [`SecretString`]s and never printed.

use std::path::PathBuf;

use chrono::NaiveDate;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::startup::StartupError;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when standard error is not a terminal, human-readable when it is.
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// Everything the server can be told. See the README's configuration table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on, `host:port`. Default `127.0.0.1:8080`.
    pub listen: String,
    /// Folder for the embedded database and the generated signing key. Default `./data`.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://<path>`. Default: SQLite file `<data_dir>/yiwang.db`.
    pub database_url: Option<String>,
    /// Database connections in the pool. Default 10.
    pub database_pool_size: u32,
    /// Longest a database call may take before the request is answered 503
    /// `database_unavailable`, milliseconds. Default 10000.
    pub database_timeout_ms: u64,
    /// `redis://…`; unset means sessions live in this process (single instance only).
    pub redis_url: Option<String>,
    /// Prefix of every Redis key. Default `yiwang:`.
    pub redis_prefix: String,
    /// The mini-program's AppID; unset means the built-in WeChat emulator is used.
    pub wechat_appid: Option<String>,
    /// The mini-program's AppSecret (required with an AppID).
    #[serde(skip_serializing)]
    pub wechat_secret: Option<SecretString>,
    /// WeChat API base URL. Default `https://api.weixin.qq.com`.
    pub wechat_base_url: String,
    /// PKCS#8 PEM file with the Ed25519 key that signs access tokens. Default:
    /// `<data_dir>/jwt-ed25519.pem`, generated on first start if missing.
    pub jwt_private_key_file: Option<PathBuf>,
    /// The `iss` claim. Default `yiwang`.
    pub jwt_issuer: String,
    /// The `aud` claim. Default `yiwang-api`.
    pub jwt_audience: String,
    /// Access token lifetime in seconds. Default 900 (15 minutes).
    pub access_token_ttl_secs: u64,
    /// Worker session lifetime in seconds (refresh token validity). Default 30 days.
    pub worker_session_ttl_secs: u64,
    /// Official session lifetime in seconds. Default 12 hours.
    pub admin_session_ttl_secs: u64,
    /// AES-256-GCM keys that seal ID numbers at rest: `kid:BASE64,kid2:BASE64` (32-byte keys).
    /// Unset (with `personal_data_index_key` unset too): `<data_dir>/personal-data.keys`,
    /// generated on first start. Every API replica must share the same keys.
    #[serde(skip_serializing)]
    pub personal_data_keys: Option<SecretString>,
    /// Which of `personal_data_keys` seals new data. Default: the last listed.
    pub personal_data_active_key: Option<String>,
    /// HMAC-SHA256 key (base64, ≥ 32 bytes) of the blind index that finds an ID number
    /// without decrypting it. Must never change.
    #[serde(skip_serializing)]
    pub personal_data_index_key: Option<SecretString>,
    /// Days personal data of rejected or withdrawn applications and ended memberships is
    /// kept before it is erased. Default 365.
    pub personal_data_retention_days: u32,
    /// Version of the privacy notice applicants consent to. Default `2026-11-20`.
    pub privacy_notice_version: String,
    /// Public holidays on weekdays, `YYYY-MM-DD` (the State Council's yearly list), for the
    /// 15-working-day contact rule. Default none.
    pub holidays: Vec<NaiveDate>,
    /// Weekend days that are working days (调休), `YYYY-MM-DD`. Default none.
    pub working_weekends: Vec<NaiveDate>,
    /// Log format. Default `auto`.
    pub log_format: LogFormat,
    /// Worker threads for HTTP. Default: the number of CPUs.
    pub http_workers: Option<usize>,
    /// Public lookups (service points, the public lists of organisations and letters) one
    /// client address may make per minute, across every replica when Redis is set. Default 120.
    pub lookup_rate_per_minute: u32,
    /// How often each process reads service-point changes other processes wrote into its
    /// nearest-point index, milliseconds. Default 1000.
    pub service_point_sync_ms: u64,
    /// Where claim documents are kept (encrypted with the personal-data keys):
    /// `file:///absolute/folder`, or `s3://bucket[/prefix]` for S3-compatible storage (MinIO,
    /// OSS, COS) configured by the standard `AWS_*` variables (`AWS_ENDPOINT`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`). Default: the folder
    /// `<data_dir>/documents`.
    pub document_store_url: Option<String>,
    /// A second address, `host:port`, that serves only `GET /metrics` (no token: keep it on
    /// a network only the scraper reaches). Default: none.
    pub metrics_listen: Option<String>,
    /// A bearer token that opens `GET /metrics` on the main address
    /// (`Authorization: Bearer <token>`, at least 16 characters). Default: none — with
    /// neither this nor `metrics_listen`, metrics are not served at all.
    #[serde(skip_serializing)]
    pub metrics_token: Option<SecretString>,
    /// Reverse proxies (addresses or CIDR blocks, `[10.0.0.0/8,192.0.2.7]`) whose
    /// `X-Forwarded-For` names the client for the per-address limits. Default none: the
    /// connection's peer is the client, and the header is ignored.
    pub trusted_proxies: Vec<String>,
    /// Browser origins allowed to call the API from another origin (CORS),
    /// `[https://console.example.org,http://localhost:5173]`: `scheme://host[:port]` each.
    /// Default none: no page on another origin can read an answer.
    pub cors_allowed_origins: Vec<String>,
    /// WeChat logins one client address may start per minute, across every replica when Redis
    /// is set. Default 20.
    pub wechat_login_rate_per_minute: u32,
    /// Seconds a request body may send nothing before the request is answered 408
    /// `body_timeout`. Default 30.
    pub body_idle_timeout_secs: u64,
    /// The `miniprogram_state` of every subscribe message — which version of the
    /// mini-program a tap on it opens: `developer`, `trial` or `formal` (default).
    pub wechat_miniprogram_state: MiniprogramState,
    /// The `lang` of every subscribe message: `zh_CN` (default), `en_US`, `zh_HK`, `zh_TW`.
    pub wechat_lang: WeChatLang,
    /// Outbox relay: events claimed at once. Default 100.
    pub outbox_batch: u32,
    /// Outbox relay: milliseconds it waits before looking again after finding nothing to do.
    /// Default 100.
    pub outbox_poll_ms: u64,
    /// Outbox relay: attempts per consumer before a delivery is parked for a `super_admin`.
    /// Default 10 (with the default backoff, about 34 minutes of retries).
    pub outbox_max_attempts: u32,
    /// Outbox relay: milliseconds before the first retry of a failed delivery; doubled at
    /// each attempt up to an hour, with jitter. Default 2000.
    pub outbox_retry_base_ms: u64,
    /// Outbox relay: seconds a claim holds its events; a relay that died holding them
    /// leaves them to the others after this. Default 60.
    pub outbox_lease_secs: u64,
}

/// `miniprogram_state` of subscribe messages (WECHAT.md, "Subscribe messages").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MiniprogramState {
    /// 开发版.
    Developer,
    /// 体验版.
    Trial,
    /// 正式版.
    Formal,
}

impl MiniprogramState {
    /// The word WeChat takes.
    pub fn as_str(self) -> &'static str {
        match self {
            MiniprogramState::Developer => "developer",
            MiniprogramState::Trial => "trial",
            MiniprogramState::Formal => "formal",
        }
    }
}

/// `lang` of subscribe messages (WECHAT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeChatLang {
    /// Simplified Chinese.
    #[serde(rename = "zh_CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en_US")]
    EnUs,
    /// Traditional Chinese (Hong Kong).
    #[serde(rename = "zh_HK")]
    ZhHk,
    /// Traditional Chinese (Taiwan).
    #[serde(rename = "zh_TW")]
    ZhTw,
}

impl WeChatLang {
    /// The word WeChat takes.
    pub fn as_str(self) -> &'static str {
        match self {
            WeChatLang::ZhCn => "zh_CN",
            WeChatLang::EnUs => "en_US",
            WeChatLang::ZhHk => "zh_HK",
            WeChatLang::ZhTw => "zh_TW",
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_pool_size: 10,
            database_timeout_ms: 10_000,
            redis_url: None,
            redis_prefix: "yiwang:".into(),
            wechat_appid: None,
            wechat_secret: None,
            wechat_base_url: "https://api.weixin.qq.com".into(),
            jwt_private_key_file: None,
            jwt_issuer: "yiwang".into(),
            jwt_audience: "yiwang-api".into(),
            access_token_ttl_secs: 900,
            worker_session_ttl_secs: 30 * 24 * 3600,
            admin_session_ttl_secs: 12 * 3600,
            personal_data_keys: None,
            personal_data_active_key: None,
            personal_data_index_key: None,
            personal_data_retention_days: 365,
            privacy_notice_version: "2026-11-20".into(),
            holidays: Vec::new(),
            working_weekends: Vec::new(),
            log_format: LogFormat::Auto,
            http_workers: None,
            lookup_rate_per_minute: 120,
            service_point_sync_ms: 1000,
            document_store_url: None,
            metrics_listen: None,
            metrics_token: None,
            trusted_proxies: Vec::new(),
            cors_allowed_origins: Vec::new(),
            wechat_login_rate_per_minute: 20,
            body_idle_timeout_secs: 30,
            wechat_miniprogram_state: MiniprogramState::Formal,
            wechat_lang: WeChatLang::ZhCn,
            outbox_batch: 100,
            outbox_poll_ms: 100,
            outbox_max_attempts: 10,
            outbox_retry_base_ms: 2000,
            outbox_lease_secs: 60,
        }
    }
}

impl Settings {
    /// Loads defaults, then the TOML file, then `YIWANG_*` variables.
    pub fn load() -> Result<Settings, StartupError> {
        let file = std::env::var("YIWANG_CONFIG").unwrap_or_else(|_| "yiwang.toml".into());
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("YIWANG_").ignore(&["CONFIG"]))
            .extract()
            .map_err(|e| StartupError::Config(Box::new(e)))
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| yiwang_infra::db::default_sqlite_url(&self.data_dir))
    }
}
