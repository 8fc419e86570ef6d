//! Health, readiness, request ids.

use reqwest::StatusCode;
use serde_json::Value;
use yiwang_tests::{both_shapes, Shape, TestApp};

both_shapes!(readyz_names_the_backends, request_ids_are_echoed_or_made);

async fn readyz_names_the_backends(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let resp = app.get("/healthz", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app.get("/readyz", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    let (db, sessions) = match shape {
        Shape::Embedded => ("sqlite", "in_process"),
        Shape::Production => ("postgres", "redis"),
    };
    assert_eq!(v["status"], "ok");
    assert_eq!(v["database"]["backend"], db);
    assert_eq!(v["database"]["ok"], true);
    assert_eq!(v["sessions"]["backend"], sessions);
    assert_eq!(v["wechat"], "configured");
}

async fn request_ids_are_echoed_or_made(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let made = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(made, "bad id with spaces");
    assert!(uuid::Uuid::parse_str(&made).is_ok());
}
