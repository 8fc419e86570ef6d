//! Health, readiness, request ids.

use reqwest::StatusCode;
use serde_json::Value;
use yiwang_tests::{both_shapes, Shape, TestApp};

both_shapes!(
    readyz_names_the_backends,
    request_ids_are_echoed_or_made,
    junk_requests_add_no_metrics_labels,
    metrics_are_served_only_where_configured,
    methods_a_path_does_not_take_answer_405_with_allow,
    only_listed_origins_may_call_from_a_browser,
    answers_follow_the_http_conventions,
);

/// A metrics token the tests configure.
const METRICS_TOKEN: &str = "metrics-token-of-the-tests";

/// The metrics text, read with the token.
async fn metrics_text(app: &TestApp) -> String {
    let resp = app
        .client
        .get(format!("{}/metrics", app.base))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

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

/// Issue 18, item 8: paths no route matches and made-up methods are counted under one label
/// each, so junk requests cannot grow `/metrics` without bound.
async fn junk_requests_add_no_metrics_labels(shape: Shape) {
    let app = TestApp::spawn_with(shape, |s| {
        s.metrics_token = Some(METRICS_TOKEN.to_owned().into());
    })
    .await;
    let junk = |round: usize| {
        let app = &app;
        async move {
            for i in 0..30 {
                let resp = app.get(&format!("/junk-{round}-{i}"), None).await;
                assert_eq!(resp.status(), StatusCode::NOT_FOUND);
                let method =
                    reqwest::Method::from_bytes(format!("JUNK{round}X{i}").as_bytes()).unwrap();
                let resp = app
                    .client
                    .request(method, format!("{}/healthz", app.base))
                    .send()
                    .await
                    .unwrap();
                assert!(resp.status().is_client_error(), "{}", resp.status());
            }
        }
    };
    let series = || async {
        let text = metrics_text(&app).await;
        assert!(!text.contains("junk-") && !text.contains("JUNK"), "{text}");
        text.lines().filter(|l| !l.starts_with('#')).count()
    };
    series().await; // /metrics counts itself from its first read on
    junk(1).await;
    let after_one = series().await;
    junk(2).await;
    assert_eq!(
        series().await,
        after_one,
        "the second batch added no series"
    );
    let text = metrics_text(&app).await;
    assert!(text.contains(r#"endpoint="unmatched""#), "{text}");
    assert!(text.contains(r#"method="OTHER""#), "{text}");
}

/// Issue 18, item 8: no one reads the metrics without being let in — by default they are
/// served nowhere; with a token, only to its holder; with their own address, there and not
/// on the public one.
async fn metrics_are_served_only_where_configured(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    assert_eq!(
        app.get("/metrics", None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(app.metrics_base.is_none());

    let app = TestApp::spawn_with(shape, |s| {
        s.metrics_token = Some(METRICS_TOKEN.to_owned().into());
    })
    .await;
    assert_eq!(
        app.get("/metrics", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let wrong = app
        .get("/metrics", Some("metrics-token-of-the-testz"))
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(metrics_text(&app)
        .await
        .contains("yiwang_http_requests_total"));

    let app = TestApp::spawn_with(shape, |s| s.metrics_listen = Some("127.0.0.1:0".into())).await;
    app.get("/healthz", None).await;
    assert_eq!(
        app.get("/metrics", None).await.status(),
        StatusCode::NOT_FOUND
    );
    let base = app.metrics_base.clone().unwrap();
    let resp = app
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(text.contains(r#"endpoint="/healthz""#), "{text}");
    let other = app
        .client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::NOT_FOUND,
        "the metrics address serves nothing else"
    );
}

/// Issue 19: a method a path does not take is 405 with `Allow` (RFC 9110 §15.5.6), not "not
/// found"; `OPTIONS` lists the methods; `HEAD` answers wherever `GET` does, without the body.
async fn methods_a_path_does_not_take_answer_405_with_allow(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let send = |method: &str, path: &str| {
        app.client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", app.base),
            )
            .send()
    };

    let resp = send("DELETE", "/healthz").await.unwrap();
    assert_eq!(resp.headers()["allow"], "GET, HEAD, OPTIONS");
    let problem = yiwang_tests::world::assert_problem_zh(
        resp,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("GET"),
        "{problem}"
    );

    let org = format!("/api/v1/admin/orgs/{}", uuid::Uuid::now_v7());
    let resp = send("PUT", &org).await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = resp.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
    assert!(!allow.contains("PUT"), "{allow}");
    let resp = send("FROB", "/api/v1/orgs").await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);

    let resp = send("OPTIONS", "/api/v1/orgs").await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(resp.headers()["allow"], "GET, HEAD, OPTIONS");

    // A concrete path is its own resource though a templated one matches it too (OpenAPI:
    // concrete paths match first): `PUT …/service-points/export` is no update of a point
    // called `export`, and `batch-approve` is no application to read.
    let resp = send("PUT", "/api/v1/admin/service-points/export?format=csv")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET, HEAD, OPTIONS");
    let batch = "/api/v1/admin/membership/applications/batch-approve";
    let resp = send("OPTIONS", batch).await.unwrap();
    assert_eq!(resp.headers()["allow"], "POST, OPTIONS");
    let resp = send("GET", batch).await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);

    for path in ["/healthz", "/api/v1/orgs"] {
        let resp = send("HEAD", path).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(resp.headers().contains_key("x-request-id"), "{path}");
        assert!(resp.bytes().await.unwrap().is_empty(), "{path}");
    }

    // A path no route has is still not found, whatever the method.
    for method in ["GET", "DELETE", "OPTIONS"] {
        let resp = send(method, "/api/v1/nothing-here").await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method}");
    }
}

/// Issue 19: a browser page on a listed origin may call the API (CORS); any other origin's page
/// cannot read the answers, and without a list no origin can. curl, which sends no `Origin`,
/// is served as ever.
async fn only_listed_origins_may_call_from_a_browser(shape: Shape) {
    const CONSOLE: &str = "https://console.example.org";
    let preflight = |app: &TestApp, origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/admin/orgs", app.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,idempotency-key",
            )
            .send()
    };
    let from = |app: &TestApp, origin: &'static str| {
        app.client
            .get(format!("{}/api/v1/orgs", app.base))
            .header("origin", origin)
            .send()
    };
    let app = TestApp::spawn_with(shape, |s| {
        s.cors_allowed_origins = vec![format!("{CONSOLE}/")];
    })
    .await;

    let resp = preflight(&app, CONSOLE).await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], CONSOLE);
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("idempotency-key") && allowed.contains("authorization"),
        "{allowed}"
    );
    assert_eq!(h["access-control-max-age"], "3600");
    assert!(!h.contains_key("access-control-allow-credentials"));

    let resp = from(&app, CONSOLE).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["access-control-allow-origin"], CONSOLE);
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("retry-after"),
        "{exposed}"
    );
    assert!(resp.headers()["vary"]
        .to_str()
        .unwrap()
        .to_lowercase()
        .contains("origin"));

    // Another origin: answered, but with nothing that lets its page read the answer.
    let resp = from(&app, "https://evil.example.com").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    let resp = preflight(&app, "https://evil.example.com").await.unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));

    // No list: no origin at all; curl and OPTIONS without CORS are served as ever.
    let app = TestApp::spawn(shape).await;
    let resp = preflight(&app, CONSOLE).await.unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    let resp = from(&app, CONSOLE).await.unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    assert_eq!(app.get("/api/v1/orgs", None).await.status(), StatusCode::OK);
    let resp = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/orgs", app.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

/// Issue 19: the language follows `Accept-Language` with its q-values and says so
/// (`Content-Language`, `Vary`); answers are compressed for a client that asks; a 201 says
/// where the new record is read (`Location`).
async fn answers_follow_the_http_conventions(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let problem_in = |accept: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .client
                .get(format!("{}/api/v1/me", app.base))
                .header("accept-language", accept)
                .send()
                .await
                .unwrap();
            let language = resp.headers()["content-language"]
                .to_str()
                .unwrap()
                .to_owned();
            let vary = resp.headers()["vary"].to_str().unwrap().to_lowercase();
            assert!(vary.contains("accept-language"), "{vary}");
            let body: serde_json::Value = resp.json().await.unwrap();
            (language, body["detail"].as_str().unwrap().to_owned())
        }
    };
    for (accept, language) in [
        ("fr, en;q=0.8", "en"),
        ("en-GB", "en"),
        ("en;q=0.5, zh-CN", "zh-CN"),
        ("zh-TW, en;q=0.9", "zh-CN"),
        ("*", "zh-CN"),
        ("fr", "zh-CN"),
    ] {
        let (got, detail) = problem_in(accept).await;
        assert_eq!(got, language, "{accept}");
        assert_eq!(detail.is_ascii(), language == "en", "{accept}: {detail}");
    }

    // Compressed when asked (a long enough answer), plain when not.
    let (root, root_org) = app.root_admin().await;
    let path = "/api/v1/admin/orgs";
    let plain = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert!(!plain.headers().contains_key("content-encoding"));
    let gzip = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(&root)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.status(), StatusCode::OK);
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    let packed = gzip.bytes().await.unwrap();
    assert_eq!(&packed[..2], [0x1f, 0x8b], "a gzip stream");

    // 201 with Location, which reads the record back.
    let created = app
        .post(
            "/api/v1/admin/orgs",
            &serde_json::json!({ "parent_id": root_org, "name": "郑州市总工会",
                                 "kind": "city_federation", "accepts_individuals": false,
                                 "city": "郑州市" }),
            Some(&root),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body: serde_json::Value = created.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/admin/orgs/{}", body["id"].as_str().unwrap())
    );
    let read: serde_json::Value = app.get(&location, Some(&root)).await.json().await.unwrap();
    assert_eq!(read["name"], "郑州市总工会");
}
