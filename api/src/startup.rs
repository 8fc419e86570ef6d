//! A testable start (ARCHITECTURE.md item 6): [`Application::build`] opens the store, the
//! session store and the WeChat client from [`Settings`], binds the listener (port 0 works) and
//! returns before serving; [`Application::run_until_stopped`] serves until SIGTERM/SIGINT (a
//! graceful stop: live sockets are closed with 1001, in-flight requests finish, up to 10 s) or a
//! [`Stopper`].

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::Registry;
use secrecy::{ExposeSecret, SecretString};
use utoipa_actix_web::AppExt;
use yiwang_domain::calendar::WorkingCalendar;
use yiwang_domain::documents::DocumentStore as _;
use yiwang_domain::service_point::store::{ChangeFeed, NearbyIndex, ServicePointRepository};
use yiwang_domain::session::{SessionStore, SessionStoreError};
use yiwang_domain::store::RepoError;
use yiwang_infra::db::{Backend, ConnectError, Database};
use yiwang_infra::documents::{DocumentStoreError, SealedDocuments};
use yiwang_infra::live::{Live, LiveError};
use yiwang_infra::nearby::{spawn_follower, ServicePointIndex};
use yiwang_infra::personal_data::{KeyringError, PersonalDataKeys};
use yiwang_infra::sessions::{InProcessSessions, RedisSessions};
use yiwang_infra::wechat::{WeChatClient, WeChatConfig};
use yiwang_wechat_emulator::{Emulator, EmulatorConfig};

use crate::auth::tokens::{SigningKeyError, TokenKeys};
use crate::config::Settings;
use crate::context::RequestContextMiddleware;
use crate::metrics::Exposition;
use crate::rate_limit::AddressLimiter;
use crate::routes;
use crate::state::AppState;
use ipnet::IpNet;

/// A built, bound, not yet serving application.
pub struct Application {
    port: u16,
    server: Server,
    relay: Option<tokio::task::JoinHandle<()>>,
    going_away: Arc<tokio::sync::watch::Sender<bool>>,
    metrics_server: Option<(u16, Server)>,
    emulator: Option<Emulator>,
    description: String,
}

/// Why the server (or a command that opens what it uses) cannot start. Bilingual where the
/// cause is a setting the operator must change; never holding a secret.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("配置有误 (configuration error): {0}")]
    Config(Box<figment::Error>),
    #[error(transparent)]
    Database(#[from] ConnectError),
    #[error(
        "不支持的 Redis 地址 `{0}`：只接受 redis:// 或 rediss:// (unsupported YIWANG_REDIS_URL scheme)"
    )]
    RedisScheme(String),
    #[error("无法连接 Redis (cannot reach Redis at the configured URL): {0}")]
    Redis(SessionStoreError),
    #[error("无法订阅 Redis (cannot subscribe to Redis for live delivery): {0}")]
    Live(LiveError),
    #[error(
        "YIWANG_PERSONAL_DATA_KEYS 与 YIWANG_PERSONAL_DATA_INDEX_KEY 须同时配置 (set both personal-data settings, or neither)"
    )]
    HalfPersonalData,
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    SigningKey(#[from] SigningKeyError),
    #[error(transparent)]
    Documents(#[from] DocumentStoreError),
    #[error(
        "YIWANG_WECHAT_APPID 已设置但为空：请填写小程序 AppID，或删除该变量以使用开发用的微信模拟器 (YIWANG_WECHAT_APPID is set but empty)"
    )]
    EmptyAppId,
    #[error(
        "YIWANG_WECHAT_APPID 已配置但缺少 YIWANG_WECHAT_SECRET (the AppSecret is required with an AppID)"
    )]
    NoAppSecret,
    #[error("cannot start the WeChat emulator: {0}")]
    Emulator(std::io::Error),
    #[error("cannot set up the WeChat client: {0}")]
    WeChat(Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot load the service points: {0}")]
    ServicePoints(RepoError),
    #[error("cannot set up metrics: {0}")]
    Metrics(Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "YIWANG_METRICS_TOKEN 太短：至少 16 个字符 (the metrics token needs at least 16 characters)"
    )]
    ShortMetricsToken,
    #[error("YIWANG_TRUSTED_PROXIES 中的 `{0}` 不是 IP 地址或网段 (not an address or CIDR block)")]
    TrustedProxy(String),
    #[error(
        "YIWANG_CORS_ALLOWED_ORIGINS 中的 `{0}` 不是来源 scheme://host[:port] (not an origin)"
    )]
    CorsOrigin(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("the database thread stopped: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Opens the store named by the settings (running migrations) off the async threads.
pub async fn open_database(settings: &Settings) -> Result<Database, StartupError> {
    let url = settings.database_url();
    let size = settings.database_pool_size;
    let deadline = std::time::Duration::from_millis(settings.database_timeout_ms);
    let db = tokio::task::spawn_blocking(move || Database::connect(&url, size)).await??;
    Ok(db.with_deadline(deadline))
}

/// Opens the session store: Redis when a URL is set (an unknown scheme is refused), else the
/// in-process store.
pub async fn open_sessions(settings: &Settings) -> Result<Arc<dyn SessionStore>, StartupError> {
    match &settings.redis_url {
        Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
            let store = RedisSessions::connect(url, &settings.redis_prefix)
                .await
                .map_err(StartupError::Redis)?;
            Ok(Arc::new(store))
        }
        Some(url) => {
            let scheme = url.split("://").next().unwrap_or(url);
            Err(StartupError::RedisScheme(scheme.to_owned()))
        }
        None => Ok(Arc::new(InProcessSessions::new())),
    }
}

/// Live delivery: through Redis when a URL is set (so every API process hears every frame),
/// else in process. The URL was checked by [`open_sessions`].
pub async fn open_live(settings: &Settings) -> Result<Live, StartupError> {
    match &settings.redis_url {
        Some(url) => Live::redis(url, &settings.redis_prefix)
            .await
            .map_err(StartupError::Live),
        None => Ok(Live::in_process()),
    }
}

/// The personal-data keyring: from configuration, or generated under the data folder for the
/// embedded default. Half a configuration (keys without index key or the reverse) is refused.
fn open_personal_data(settings: &Settings) -> Result<PersonalDataKeys, StartupError> {
    let keys = match (
        &settings.personal_data_keys,
        &settings.personal_data_index_key,
    ) {
        (Some(keys), Some(index)) => PersonalDataKeys::from_config(
            keys.expose_secret(),
            settings.personal_data_active_key.as_deref(),
            index.expose_secret(),
        )?,
        (None, None) => {
            PersonalDataKeys::load_or_generate(&settings.data_dir.join("personal-data.keys"))?
        }
        _ => return Err(StartupError::HalfPersonalData),
    };
    Ok(keys)
}

impl Application {
    /// Builds everything the settings describe and binds the listener.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let db = Arc::new(open_database(&settings).await?);
        let sessions = open_sessions(&settings).await?;
        let live = Arc::new(open_live(&settings).await?);

        let (wechat_config, emulator) = wechat_config(&settings).await?;
        let wechat_mode = wechat_config.mode;
        let wechat = Arc::new(
            WeChatClient::new(wechat_config, Arc::clone(&sessions))
                .map_err(|e| StartupError::WeChat(Box::new(e)))?,
        );

        let generate = settings.jwt_private_key_file.is_none();
        let key_path = settings
            .jwt_private_key_file
            .clone()
            .unwrap_or_else(|| settings.data_dir.join("jwt-ed25519.pem"));
        let tokens = TokenKeys::load_or_generate(
            &key_path,
            generate,
            &settings.jwt_issuer,
            &settings.jwt_audience,
            settings.access_token_ttl_secs,
        )?;

        let personal_data = Arc::new(open_personal_data(&settings)?);
        let documents = SealedDocuments::open(
            settings.document_store_url.as_deref(),
            &settings.data_dir,
            Arc::clone(&personal_data),
        )?;

        let description = format!(
            "database: {}, sessions: {}, live: {}, wechat: {}, documents: {}",
            match db.backend_kind() {
                Backend::Postgres => "postgres",
                Backend::Sqlite => "sqlite",
            },
            sessions.backend(),
            live.backend(),
            wechat_mode,
            documents.backend()
        );
        let catalogue: Arc<dyn ServicePointRepository> = db.clone();
        let nearby = nearest_points(&settings, db.clone()).await?;
        let shared = settings.redis_url.is_some().then(|| Arc::clone(&sessions));
        let (lookup_limiter, login_limiter) = limiters(&settings, shared)?;
        let (going_away, going_away_rx) = tokio::sync::watch::channel(false);
        let state = web::Data::new(AppState {
            going_away: going_away_rx,
            service_points: catalogue,
            nearby,
            lookup_limiter,
            login_limiter,
            orgs: db.clone(),
            officials: db.clone(),
            workers: db.clone(),
            membership: db.clone(),
            transfers: db.clone(),
            mutual_aid: db.clone(),
            roster: db.clone(),
            consultations: db.clone(),
            early_warning: db.clone(),
            legal_aid: db.clone(),
            mailbox: db.clone(),
            notifications: db.clone(),
            outbox: db.clone(),
            relay: Arc::new(crate::relay::RelayStatus::default()),
            idempotency: db.clone(),
            documents: Arc::new(documents),
            audit: db.clone(),
            store: db,
            personal_data,
            calendar: WorkingCalendar {
                holidays: settings.holidays.iter().copied().collect(),
                working_weekends: settings.working_weekends.iter().copied().collect(),
            },
            privacy_notice_version: settings.privacy_notice_version.clone(),
            sessions,
            live,
            wechat,
            tokens: Arc::new(tokens),
            worker_session_ttl_secs: settings.worker_session_ttl_secs,
            admin_session_ttl_secs: settings.admin_session_ttl_secs,
        });
        crate::retention::spawn(
            Arc::clone(&state.membership),
            Arc::clone(&state.idempotency),
            settings.personal_data_retention_days,
        );
        // Every label is bounded (issue 18, item 8): a path no route matches is counted as
        // one `unmatched` endpoint, and a made-up method as `OTHER` (RequestContextMiddleware).
        let metrics = PrometheusMetricsBuilder::new("yiwang")
            .mask_unmatched_patterns("unmatched")
            .build()
            .map_err(StartupError::Metrics)?;
        let metrics_server = match &settings.metrics_listen {
            Some(address) => Some(metrics_server(address, metrics.registry.clone())?),
            None => None,
        };
        if settings.metrics_token.is_none() && metrics_server.is_none() {
            tracing::info!(
                "metrics are counted but not served: set YIWANG_METRICS_LISTEN or YIWANG_METRICS_TOKEN"
            );
        }
        let notifier = crate::routes::notifications::deliver::Notifier::new(
            state.clone().into_inner(),
            settings.wechat_miniprogram_state.as_str(),
            settings.wechat_lang.as_str(),
        );
        let relay = crate::relay::Relay::new(
            Arc::clone(&state.outbox),
            vec![Arc::new(notifier)],
            crate::relay::RelayConfig::of(&settings),
            &metrics.registry,
            Arc::clone(&state.relay),
        )
        .map_err(|e| StartupError::Metrics(Box::new(e)))?
        .spawn(state.going_away.clone());
        let exposition = web::Data::new(Exposition {
            registry: metrics.registry.clone(),
            token: metrics_token(&settings)?,
        });

        let (port, server) = serve(&settings, state, metrics, exposition)?;
        Ok(Application {
            port,
            server,
            relay: Some(relay),
            going_away: Arc::new(going_away),
            metrics_server,
            emulator,
            description,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics address's bound port, when `metrics_listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    /// Which backends are in use, for the start-up line.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// A handle that can stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// What stops the server as SIGTERM does: live sockets are told to go away first.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            server: self.server.handle(),
            going_away: Arc::clone(&self.going_away),
        }
    }

    /// Serves until SIGTERM, SIGINT or a [`Stopper`], then stops the in-process emulator if
    /// there is one.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stopper = self.stopper();
        tokio::spawn(async move {
            stop_signal().await;
            tracing::info!("stop signal: closing live sockets, finishing requests in flight");
            stopper.stop().await;
        });
        let metrics = self.metrics_server.map(|(_, server)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let result = self.server.await;
        // The relay stops with the server: it finishes and settles the batch in hand.
        self.going_away.send_replace(true);
        if let Some(relay) = self.relay {
            if let Err(error) = relay.await {
                tracing::error!(%error, "the outbox relay failed");
            }
        }
        if let Some(metrics) = metrics {
            metrics.stop(true).await;
        }
        if let Some(emulator) = self.emulator {
            emulator.stop().await;
        }
        result
    }
}

/// Stops the server gracefully: first every live socket is closed with 1001 ("going away",
/// RFC 6455 §7.4.1) so its client reconnects to another replica at once; then requests in
/// flight finish (up to 10 s) and the server ends.
#[derive(Clone)]
pub struct Stopper {
    server: ServerHandle,
    going_away: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Stopper {
    /// Stops as described above; returns when the server has stopped.
    pub async fn stop(&self) {
        self.going_away.send_replace(true);
        self.server.stop(true).await;
    }
}

/// SIGTERM or SIGINT (Ctrl-C); never returns when neither can be listened for.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The WeChat the server talks to: the configured mini-program, or the in-process emulator
/// (development only) when no AppID is set; an AppID without its secret stops the start.
async fn wechat_config(
    settings: &Settings,
) -> Result<(WeChatConfig, Option<Emulator>), StartupError> {
    let chosen = match &settings.wechat_appid {
        Some(appid) if appid.trim().is_empty() => return Err(StartupError::EmptyAppId),
        Some(appid) => {
            let secret = settings
                .wechat_secret
                .clone()
                .ok_or(StartupError::NoAppSecret)?;
            let config = WeChatConfig {
                base_url: settings.wechat_base_url.trim_end_matches('/').to_owned(),
                appid: appid.clone(),
                secret,
                mode: "configured",
            };
            (config, None)
        }
        None => {
            let emulator = Emulator::start(EmulatorConfig::default())
                .await
                .map_err(StartupError::Emulator)?;
            tracing::warn!(
                base_url = %emulator.base_url(),
                "no YIWANG_WECHAT_APPID configured: WeChat is EMULATED (development only)"
            );
            let config = WeChatConfig {
                base_url: emulator.base_url(),
                appid: emulator.appid().to_owned(),
                secret: SecretString::from(emulator.secret().to_owned()),
                mode: "emulated",
            };
            (config, Some(emulator))
        }
    };
    Ok(chosen)
}

/// The nearest-point index, loaded and followed by a background task.
async fn nearest_points(
    settings: &Settings,
    feed: Arc<dyn ChangeFeed>,
) -> Result<Arc<ServicePointIndex>, StartupError> {
    let nearby = Arc::new(ServicePointIndex::new(feed));
    nearby.sync().await.map_err(StartupError::ServicePoints)?;
    spawn_follower(
        Arc::clone(&nearby),
        std::time::Duration::from_millis(settings.service_point_sync_ms.max(10)),
    );
    Ok(nearby)
}

/// The per-address limiters of public lookups and of WeChat logins, behind the configured
/// trusted proxies, counting in `shared` too when replicas share a store, with their idle sweep.
fn limiters(
    settings: &Settings,
    shared: Option<Arc<dyn SessionStore>>,
) -> Result<(Arc<AddressLimiter>, Arc<AddressLimiter>), StartupError> {
    let trusted = settings
        .trusted_proxies
        .iter()
        .map(|text| {
            let text = text.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| StartupError::TrustedProxy(text.to_owned()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let lookups = Arc::new(AddressLimiter::new(
        settings.lookup_rate_per_minute,
        shared.clone(),
        trusted.clone(),
        "查询",
        "lookups",
    ));
    let logins = Arc::new(AddressLimiter::new(
        settings.wechat_login_rate_per_minute,
        shared,
        trusted,
        "登录",
        "logins",
    ));
    for limiter in [Arc::clone(&lookups), Arc::clone(&logins)] {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                limiter.forget_idle();
            }
        });
    }
    Ok((lookups, logins))
}

/// The metrics token, when set: at least [`crate::metrics::MIN_TOKEN_CHARS`] characters.
fn metrics_token(settings: &Settings) -> Result<Option<SecretString>, StartupError> {
    match &settings.metrics_token {
        Some(token) if token.expose_secret().chars().count() < crate::metrics::MIN_TOKEN_CHARS => {
            Err(StartupError::ShortMetricsToken)
        }
        token => Ok(token.clone()),
    }
}

/// Binds the metrics address and builds its server (not yet awaited).
fn metrics_server(address: &str, registry: Registry) -> Result<(u16, Server), StartupError> {
    let cannot_listen = |source| StartupError::Listen {
        address: address.to_owned(),
        source,
    };
    let listener = TcpListener::bind(address).map_err(cannot_listen)?;
    let port = listener.local_addr().map_err(cannot_listen)?.port();
    let server = crate::metrics::separate(listener, registry).map_err(cannot_listen)?;
    Ok((port, server))
}

/// Binds the listener and starts the HTTP server on `state` (not yet awaited): the one route
/// registration, the request context, the body limits and the metrics.
fn serve(
    settings: &Settings,
    state: web::Data<AppState>,
    metrics: PrometheusMetrics,
    exposition: web::Data<Exposition>,
) -> Result<(u16, Server), StartupError> {
    let cannot_listen = |source| StartupError::Listen {
        address: settings.listen.clone(),
        source,
    };
    let listener = TcpListener::bind(&settings.listen).map_err(cannot_listen)?;
    let port = listener.local_addr().map_err(cannot_listen)?.port();
    let workers = settings.http_workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let settings_body_idle = settings.body_idle_timeout_secs;
    let origins =
        crate::cors::origins(&settings.cors_allowed_origins).map_err(StartupError::CorsOrigin)?;
    let methods = web::Data::new(routes::shared::methods::Methods::of(
        &crate::openapi::document(),
    ));
    let server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(
                routes::shared::methods::refuse_undocumented,
            ))
            .wrap(actix_web::middleware::from_fn(
                routes::shared::methods::locate_created,
            ))
            .wrap(crate::cors::policy(&origins))
            .wrap(metrics.clone())
            .wrap(RequestContextMiddleware {
                body_idle: std::time::Duration::from_secs(settings_body_idle.max(1)),
            })
            .wrap(actix_web::middleware::Compress::default())
            .app_data(state.clone())
            .app_data(exposition.clone())
            .app_data(methods.clone())
            .app_data(web::PayloadConfig::new(
                yiwang_infra::spreadsheet::MAX_FILE_BYTES + 1,
            ))
            .into_utoipa_app()
            .configure(routes::configure)
            .into_app()
            .default_service(web::to(routes::no_route))
    })
    .listen(listener)
    .map_err(cannot_listen)?
    .workers(workers.max(1))
    .shutdown_timeout(10)
    .disable_signals()
    .run();
    Ok((port, server))
}
