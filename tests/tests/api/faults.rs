//! Faults of the production shape's PostgreSQL (issue 18, items 18–19), through a proxy the
//! test stops and pauses (never the machine's shared server). The embedded shape has no
//! network between the app and its SQLite file, so these run on the production shape only.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use yiwang_tests::proxy::{Mode, Proxy};
use yiwang_tests::{assert_problem, Shape, TestApp};

/// An app whose database is reached through a proxy, with calls bounded by 1.5 s.
async fn behind_proxy() -> (TestApp, Proxy) {
    let target = Proxy::target_of(&yiwang_tests::pg_admin_url());
    let proxy = Proxy::start(&target).await;
    let app = TestApp::spawn_with(Shape::Production, |s| {
        let url = s.database_url.clone().unwrap();
        s.database_url = Some(proxy.url_through(&url));
        s.database_timeout_ms = 1_500;
    })
    .await;
    (app, proxy)
}

/// `GET path` and how long it took.
async fn timed(app: &TestApp, path: &str) -> (reqwest::Response, Duration) {
    let started = Instant::now();
    let resp = app.get(path, None).await;
    (resp, started.elapsed())
}

/// The readiness answer, checked to come within 2.5 s.
async fn readiness(app: &TestApp) -> (StatusCode, Value) {
    let (resp, took) = timed(app, "/readyz").await;
    assert!(took < Duration::from_millis(2_500), "/readyz took {took:?}");
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

/// `GET /api/v1/orgs` answers 503 `database_unavailable` with `Retry-After: 5`, within
/// `limit`.
async fn unavailable_within(app: &TestApp, limit: Duration) {
    let (resp, took) = timed(app, "/api/v1/orgs").await;
    assert!(took < limit, "answered in {took:?}, over {limit:?}");
    assert_eq!(resp.headers()["retry-after"], "5");
    assert_problem(
        resp,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
}

/// Opens the proxy again: once the down window has passed, requests and `/readyz` succeed.
async fn recovers(app: &TestApp, proxy: &Proxy) {
    proxy.set(Mode::Open);
    tokio::time::sleep(yiwang_infra::db::DOWN_FOR).await;
    assert_eq!(app.get("/api/v1/orgs", None).await.status(), StatusCode::OK);
    assert_eq!(readiness(app).await.0, StatusCode::OK);
}

/// Database down: 503 `database_unavailable` with Retry-After, the first within the call
/// deadline and the next at once; `/readyz` says the database is the one down; back to normal
/// once it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_down_answers_503_quickly_and_recovers() {
    let (app, proxy) = behind_proxy().await;
    assert_eq!(app.get("/api/v1/orgs", None).await.status(), StatusCode::OK);

    proxy.set(Mode::Stopped);
    unavailable_within(&app, Duration::from_millis(2_500)).await;
    unavailable_within(&app, Duration::from_millis(300)).await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"]["ok"], false, "{body}");
    assert_eq!(body["sessions"]["ok"], true, "{body}");

    recovers(&app, &proxy).await;
}

/// Database paused (a partition looks the same): requests end at the call deadline with 503
/// instead of hanging for as long as the pause, and `/readyz` answers within its own deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_database_bounds_every_request() {
    let (app, proxy) = behind_proxy().await;
    assert_eq!(app.get("/api/v1/orgs", None).await.status(), StatusCode::OK);

    proxy.set(Mode::Paused);
    unavailable_within(&app, Duration::from_millis(2_500)).await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"]["ok"], false, "{body}");

    recovers(&app, &proxy).await;
}

/// Redis restarted (every connection dropped; item 21): the next session lookup reconnects
/// and retries once instead of answering 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_redis_connection_is_retried_once() {
    let target = Proxy::target_of(&yiwang_tests::redis_url());
    let proxy = Proxy::start(&target).await;
    let app = TestApp::spawn_with(Shape::Production, |s| {
        let url = s.redis_url.clone().unwrap();
        s.redis_url = Some(proxy.url_through(&url));
    })
    .await;
    let worker = yiwang_tests::token(&app.login_worker("restart.1").await);
    assert_eq!(
        app.get("/api/v1/me", Some(&worker)).await.status(),
        StatusCode::OK
    );

    proxy.set(Mode::Stopped);
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.set(Mode::Open);
    for round in 0..3 {
        let resp = app.get("/api/v1/me", Some(&worker)).await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "request {round} after the restart"
        );
    }
    assert_eq!(readiness(&app).await.0, StatusCode::OK);
}
