//! Helpers for the black-box suite: [`TestApp`] starts the whole server on port 0 in one of the
//! two shapes, with its own WeChat emulator, a fresh database (a temp SQLite file, or a new
//! PostgreSQL database) and, for Redis, its own key prefix.
//!
//! Services: `YIWANG_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and
//! `YIWANG_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). When they cannot be reached
//! the tests fail; they never skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod cpu;
pub mod hostile;
pub mod proxy;
pub mod views;
pub mod world;

use std::sync::Arc;

use actix_web::dev::ServerHandle;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use yiwang_api::config::{LogFormat, Settings};
use yiwang_api::startup::Application;
pub use yiwang_wechat_emulator::{Emulator, EmulatorConfig};

/// Which deployment shape a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// SQLite file + in-process sessions.
    Embedded,
    /// PostgreSQL + Redis.
    Production,
}

/// The PostgreSQL server URL the suite creates its databases on.
pub fn pg_admin_url() -> String {
    std::env::var("YIWANG_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The Redis URL the suite uses.
pub fn redis_url() -> String {
    std::env::var("YIWANG_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A fresh PostgreSQL database; dropped (with FORCE) when this value is dropped.
pub struct PgDatabase {
    /// Its URL.
    pub url: String,
    name: String,
}

impl PgDatabase {
    /// Creates `yiwang_t_<random>` on the test server. Panics with a clear message when the
    /// server cannot be reached.
    pub fn create() -> PgDatabase {
        let admin = pg_admin_url();
        let mut conn = diesel::PgConnection::establish(&admin).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin} ({e}); start it (scripts/ensure-services)"
            )
        });
        let name = format!("yiwang_t_{}", uuid::Uuid::new_v4().simple());
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = diesel::PgConnection::establish(&pg_admin_url()) {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A running server plus what a test needs to poke at it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// This app's own WeChat emulator.
    pub emulator: Arc<Emulator>,
    /// The settings the app was built with.
    pub settings: Settings,
    /// The shape.
    pub shape: Shape,
    /// `http://127.0.0.1:<port>` of the metrics address, when `metrics_listen` is set.
    pub metrics_base: Option<String>,
    handle: ServerHandle,
    stopper: yiwang_api::startup::Stopper,
    _dir: Option<TempDir>,
    _pg: Option<PgDatabase>,
}

/// Password of every official the helpers create.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// Starts an app of `shape` with default settings.
    pub async fn spawn(shape: Shape) -> TestApp {
        Self::spawn_with(shape, |_| {}).await
    }

    /// Starts an app of `shape`; `tweak` may change the settings before the build.
    pub async fn spawn_with(shape: Shape, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let mut settings = Settings {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().to_path_buf(),
            database_pool_size: 4,
            wechat_appid: Some(emulator.appid().to_owned()),
            wechat_secret: Some(emulator.secret().to_owned().into()),
            wechat_base_url: emulator.base_url(),
            log_format: LogFormat::Pretty,
            http_workers: Some(2),
            // Every request of a test comes from 127.0.0.1: the login limit is tested on its
            // own (auth::wechat_logins_are_throttled_per_address_and_account).
            wechat_login_rate_per_minute: 100_000,
            ..Settings::default()
        };
        let pg = match shape {
            Shape::Embedded => None,
            Shape::Production => {
                let db = PgDatabase::create();
                settings.database_url = Some(db.url.clone());
                settings.redis_url = Some(redis_url());
                settings.redis_prefix = format!("yiwang-test:{}:", uuid::Uuid::new_v4().simple());
                Some(db)
            }
        };
        tweak(&mut settings);
        let mut app = Self::start(settings, shape, Arc::new(emulator)).await;
        app._dir = Some(dir);
        app._pg = pg;
        app
    }

    /// Builds and serves an app of `settings` (its folder and database owned elsewhere).
    async fn start(settings: Settings, shape: Shape, emulator: Arc<Emulator>) -> TestApp {
        let app = Application::build(settings.clone())
            .await
            .unwrap_or_else(|e| panic!("the app did not start ({shape:?}): {e}"));
        let base = format!("http://127.0.0.1:{}", app.port());
        let metrics_base = app
            .metrics_port()
            .map(|port| format!("http://127.0.0.1:{port}"));
        let handle = app.handle();
        let stopper = app.stopper();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base,
            client: reqwest::Client::new(),
            emulator,
            settings,
            shape,
            metrics_base,
            handle,
            stopper,
            _dir: None,
            _pg: None,
        }
    }

    /// A second API process beside this one: the same settings (database, Redis and its
    /// prefix, keys, WeChat) on its own port, as a second replica behind a load balancer
    /// (the production shape only: the embedded one is a single process by design).
    /// It shares nothing in memory with this one: what reaches it from this one went through
    /// the database or Redis. Lives no longer than this app's database and folder.
    pub async fn replica(&self) -> TestApp {
        assert_eq!(
            self.shape,
            Shape::Production,
            "replicas share PostgreSQL and Redis"
        );
        Self::start(
            self.settings.clone(),
            self.shape,
            Arc::clone(&self.emulator),
        )
        .await
    }

    /// Opens the live socket `/api/v1/ws` with `token` as `Authorization: Bearer`.
    pub async fn socket(&self, token: Option<&str>) -> Socket {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/api/v1/ws", self.base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        if let Some(t) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Socket {
            stream,
            notifications: std::collections::VecDeque::new(),
        }
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.settings.database_url()
    }

    /// Breaks the store under the running server: renames `table` away, so every query that
    /// reads it fails as an outage would (a missing relation, not a missing row).
    pub async fn break_table(&self, table: &str) {
        self.execute(format!("ALTER TABLE {table} RENAME TO {table}_broken"))
            .await;
    }

    /// Makes every insert and update of `tables` fail as a full disk does, with the database's
    /// own words for it (PostgreSQL: `53100 disk_full`, "No space left on device", the hint
    /// "Check free disk space."; SQLite: "database or disk is full") — a test double for
    /// a disk this machine cannot fill. [`TestApp::free_disk`] takes it away.
    pub async fn fill_disk(&self, tables: &[&str]) {
        let sql = match self.shape {
            Shape::Production => {
                let mut sql = String::from(
                    "CREATE OR REPLACE FUNCTION test_disk_full() RETURNS trigger \
                     LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION \
                     'could not extend file \"base/16384/16385\": No space left on device' \
                     USING ERRCODE = 'disk_full', HINT = 'Check free disk space.'; END $$;",
                );
                for t in tables {
                    sql.push_str(&format!(
                        "CREATE TRIGGER disk_full_{t} BEFORE INSERT OR UPDATE ON {t} \
                         FOR EACH ROW EXECUTE FUNCTION test_disk_full();"
                    ));
                }
                sql
            }
            Shape::Embedded => tables
                .iter()
                .flat_map(|t| {
                    ["INSERT", "UPDATE"].map(|op| {
                        format!(
                            "CREATE TRIGGER disk_full_{t}_{op} BEFORE {op} ON {t} \
                             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;"
                        )
                    })
                })
                .collect(),
        };
        self.execute(sql).await;
    }

    /// Frees the disk [`TestApp::fill_disk`] filled.
    pub async fn free_disk(&self, tables: &[&str]) {
        let sql = match self.shape {
            Shape::Production => tables
                .iter()
                .map(|t| format!("DROP TRIGGER disk_full_{t} ON {t};"))
                .collect(),
            Shape::Embedded => tables
                .iter()
                .flat_map(|t| {
                    ["INSERT", "UPDATE"].map(|op| format!("DROP TRIGGER disk_full_{t}_{op};"))
                })
                .collect::<String>(),
        };
        self.execute(sql).await;
    }

    /// Runs `sql` on the store under the running server, on a connection of its own.
    async fn execute(&self, sql: String) {
        let url = self.database_url();
        tokio::task::spawn_blocking(move || {
            let mut c = yiwang_infra::db::connect_once(&url).unwrap();
            c.batch_execute(&sql).unwrap();
        })
        .await
        .unwrap();
    }

    /// Sends a request with an optional JSON body and bearer token.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Response {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, None, token).await
    }

    /// POST JSON with a token.
    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.request(Method::POST, path, Some(body), token).await
    }

    /// POSTs `body` as `token`, with `Idempotency-Key: key` when given.
    pub async fn post_keyed(
        &self,
        path: &str,
        body: &Value,
        token: &str,
        key: Option<&str>,
    ) -> Response {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        req.send().await.unwrap()
    }

    /// Logs a worker in through the emulator with `code`; returns the login answer.
    pub async fn login_worker(&self, code: &str) -> Value {
        let resp = self
            .post("/api/v1/auth/wechat/login", &json!({ "code": code }), None)
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "worker login with {code}");
        resp.json().await.unwrap()
    }

    /// Creates the root organisation `name` (if the tree is empty) and an official in it, as
    /// `yiwang admin create` does; returns nothing.
    pub async fn create_official_cli(&self, username: &str, org: &str, role: &str) {
        yiwang_api::cli::create_official(
            &self.settings,
            username,
            org,
            role,
            None,
            "city_federation",
            PASSWORD,
        )
        .await
        .unwrap();
    }

    /// Logs an official in; returns the login answer.
    pub async fn login_admin(&self, username: &str) -> Value {
        let resp = self
            .post(
                "/api/v1/admin/auth/login",
                &json!({ "username": username, "password": PASSWORD }),
                None,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "admin login of {username}");
        resp.json().await.unwrap()
    }

    /// A super_admin of a fresh root organisation `总工会`: `(access token, root org id)`.
    pub async fn root_admin(&self) -> (String, String) {
        self.create_official_cli("root-admin", "总工会", "super_admin")
            .await;
        let login = self.login_admin("root-admin").await;
        (
            token(&login),
            login["account"]["org"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates a child organisation with the given token; returns its id.
    pub async fn create_org(&self, token: &str, parent_id: &str, name: &str) -> String {
        let resp = self
            .post(
                "/api/v1/admin/orgs",
                &json!({ "parent_id": parent_id, "name": name, "kind": "county_federation" }),
                Some(token),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "create org {name}");
        let v: Value = resp.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }

    /// Creates an official through the API with the given token; returns their id.
    pub async fn create_official(
        &self,
        token: &str,
        username: &str,
        org_id: &str,
        role: &str,
    ) -> String {
        let resp = self
            .post(
                "/api/v1/admin/officials",
                &json!({ "username": username, "password": PASSWORD, "display_name": username, "org_id": org_id, "role": role }),
                Some(token),
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "create official {username}"
        );
        let v: Value = resp.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }
}

impl TestApp {
    /// Stops the app as SIGTERM does ([`yiwang_api::startup::Stopper`]); returns when stopped.
    pub async fn stop_gracefully(&self) {
        self.stopper.stop().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stop accepting at once; the runtime ends with the test.
        drop(handle.stop(false));
    }
}

/// A resident ID number: `prefix17` plus its GB 11643-1999 check character.
pub fn id_number(prefix17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    assert_eq!(prefix17.len(), 17, "{prefix17}");
    let sum: u32 = prefix17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = char::from(b"10X98765432"[(sum % 11) as usize]);
    format!("{prefix17}{check}")
}

/// The access token of a login or refresh answer.
pub fn token(v: &Value) -> String {
    v["access_token"].as_str().unwrap().to_owned()
}

/// Asserts an error envelope: status, `code`, a non-empty `detail`, a `request_id` equal to
/// the `X-Request-Id` header and the problem+json media type; returns the body.
pub async fn assert_problem(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status for expected code {code}");
    let header_id = resp
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .expect("x-request-id header");
    let ct = resp
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(!body["detail"].as_str().unwrap().is_empty());
    assert_eq!(body["request_id"], header_id.as_str());
    body
}

/// A `multipart/form-data` body: the text `fields`, then a `file` named `file_name`;
/// `(content type, body)`.
pub fn multipart(fields: &[(&str, &str)], file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "yiwang-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A client of the live socket. Notification frames (`{"type":"notification"}`, issue 20)
/// come from the outbox relay on their own schedule: [`Socket::hear`] sets them aside, and
/// [`Socket::notification`] reads them.
pub struct Socket {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    notifications: std::collections::VecDeque<Value>,
}

/// What a socket read within its wait.
#[derive(Debug, PartialEq)]
pub enum Heard {
    /// A text frame, as JSON.
    Frame(Value),
    /// The server closed the socket with this code.
    Closed(u16),
    /// Nothing.
    Nothing,
}

impl Socket {
    /// The next text frame or close within `ms` milliseconds (pings are answered by the
    /// client library and skipped).
    pub async fn hear(&mut self, ms: u64) -> Heard {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(ms);
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Heard::Nothing,
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    if frame["type"] == "notification" {
                        self.notifications.push_back(frame);
                        continue;
                    }
                    return Heard::Frame(frame);
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Heard::Closed(frame.map_or(1005, |f| u16::from(f.code)))
                }
                Ok(Some(Ok(_))) => {}
                Ok(None) | Ok(Some(Err(_))) => return Heard::Closed(1006),
            }
        }
    }

    /// The next text frame (within 5 s), else a panic naming what came instead.
    pub async fn frame(&mut self) -> Value {
        match self.hear(5_000).await {
            Heard::Frame(f) => f,
            other => panic!("expected a frame, heard {other:?}"),
        }
    }

    /// The next notification frame (within 5 s), set aside by [`Socket::hear`] or read now;
    /// other frames read meanwhile are dropped.
    pub async fn notification(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            if let Some(frame) = self.notifications.pop_front() {
                return frame;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(!left.is_zero(), "no notification frame within 5 s");
            let ms = u64::try_from(left.as_millis()).unwrap_or(0).max(1);
            if let Heard::Closed(code) = self.hear(ms).await {
                panic!("closed with {code} while waiting for a notification");
            }
        }
    }

    /// Frames until one of `kind` (within 5 s each); returns it.
    pub async fn frame_of(&mut self, kind: &str) -> Value {
        loop {
            let f = self.frame().await;
            if f["type"] == kind {
                return f;
            }
        }
    }

    /// Sends a close frame (1000); the server's answer is then [`Socket::hear`]d.
    pub async fn close(&mut self) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Close(None))
            .await
            .unwrap();
    }

    /// Sends a text frame.
    pub async fn send(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .unwrap();
    }
}

/// Runs an `async fn(Shape)` test on both shapes: `both_shapes!(name);` makes
/// `name::sqlite` and `name::postgres_redis`.
#[macro_export]
macro_rules! both_shapes {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Shape::Embedded).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_redis() {
                    super::$name($crate::Shape::Production).await
                }
            }
        )*
    };
}
