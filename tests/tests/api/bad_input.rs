//! Bad input gets a clear error in the one envelope and changes nothing: malformed JSON, a body
//! too large, unknown and missing fields, wrong types, a body that is not JSON, unknown paths,
//! and the language of `detail`.

use diesel::prelude::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use yiwang_infra::db::schema::workers;
use yiwang_tests::{assert_problem, both_shapes, token, Shape, TestApp};

both_shapes!(
    a_stalled_body_is_answered_408_and_the_socket_lives_on,
    malformed_json_names_line_and_column,
    a_body_over_64_kib_is_413,
    unknown_fields_are_refused,
    a_missing_field_is_named,
    a_wrong_type_is_invalid_body,
    a_body_that_is_not_json_is_415,
    an_unknown_path_is_a_problem,
    detail_follows_accept_language,
    a_blank_code_is_validation_failed,
    refused_logins_write_nothing,
    unknown_query_parameters_are_named_not_ignored,
);

const LOGIN: &str = "/api/v1/auth/wechat/login";

/// Sends `body` as is, with an optional content type, `Accept-Language` and bearer token.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
    lang: Option<&str>,
    token: Option<&str>,
) -> Response {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.base))
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(l) = lang {
        req = req.header("accept-language", l);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// POSTs a JSON text (`Content-Type: application/json`) to the worker login.
async fn login_raw(app: &TestApp, body: &str) -> Response {
    send(
        app,
        Method::POST,
        LOGIN,
        Some("application/json"),
        body.to_owned(),
        None,
        None,
    )
    .await
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// `assert_problem` plus: RFC 9457 `type` and `title`, and a Chinese `detail` (the default).
async fn problem_zh(resp: Response, status: StatusCode, code: &str) -> Value {
    let body = assert_problem(resp, status, code).await;
    assert_eq!(
        body["type"],
        format!("https://yiwang.dev/problems/{code}"),
        "{body}"
    );
    assert_eq!(body["title"], status.canonical_reason().unwrap(), "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.chars().any(is_cjk), "detail not Chinese: {body}");
    body
}

/// `assert_problem` plus an English (ASCII) `detail` and field details.
async fn problem_en(resp: Response, status: StatusCode, code: &str) -> Value {
    let body = assert_problem(resp, status, code).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.is_ascii(), "detail not English: {body}");
    for e in body["errors"].as_array().into_iter().flatten() {
        assert!(e["detail"].as_str().unwrap().is_ascii(), "{body}");
    }
    body
}

async fn worker_count(app: &TestApp) -> i64 {
    let url = app.database_url();
    tokio::task::spawn_blocking(move || {
        let mut c = yiwang_infra::db::connect_once(&url).unwrap();
        workers::table.count().get_result::<i64>(&mut c).unwrap()
    })
    .await
    .unwrap()
}

async fn malformed_json_names_line_and_column(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let body = problem_zh(
        login_raw(&app, r#"{"code":"#).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("第 1 行第 8 列"), "{detail}");

    // Further down a longer text: the line and column move with it.
    let text = "{\n  \"code\": \"a.1\",\n  oops\n}";
    let body = problem_zh(
        login_raw(&app, text).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("第 3 行第 3 列"), "{detail}");

    // In English, serde's own words with line and column.
    let body = problem_en(
        send(
            &app,
            Method::POST,
            LOGIN,
            Some("application/json"),
            r#"{"code":"#,
            Some("en"),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("line 1 column 8"), "{detail}");

    // An empty body; a trailing comma, on an admin route.
    problem_zh(
        login_raw(&app, "").await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    let (tok, _) = app.root_admin().await;
    problem_zh(
        send(
            &app,
            Method::POST,
            "/api/v1/admin/orgs",
            Some("application/json"),
            r#"{"parent_id":"x","name":"郑州市",}"#,
            None,
            Some(&tok),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
}

async fn a_body_over_64_kib_is_413(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let code = "a".repeat(70_000);
    let resp = app.post(LOGIN, &json!({ "code": code }), None).await;
    problem_zh(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // On an admin route too, however valid the JSON.
    let (tok, root) = app.root_admin().await;
    let name = "工".repeat(30_000);
    let resp = app
        .post(
            "/api/v1/admin/orgs",
            &json!({ "parent_id": root, "name": name, "kind": "city_federation" }),
            Some(&tok),
        )
        .await;
    problem_zh(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Just under the limit is read (and then refused for what it says, not for its size).
    let code = "a".repeat(60_000);
    let body = problem_zh(
        app.post(LOGIN, &json!({ "code": code }), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "code");
    assert_eq!(worker_count(&app).await, 0);
}

async fn unknown_fields_are_refused(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let body = problem_zh(
        app.post(LOGIN, &json!({ "code": "a.1", "extra": 1 }), None)
            .await,
        StatusCode::BAD_REQUEST,
        "unknown_field",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "extra", "{body}");
    assert_eq!(body["errors"][0]["code"], "unknown_field", "{body}");
    // The worker reads Chinese words; the identifier is in `field`.
    assert!(
        !body["detail"].as_str().unwrap().contains("extra"),
        "{body}"
    );
    // The code was never sent to WeChat: it still logs in.
    app.login_worker("a.1").await;

    // An admin route: nothing is created.
    let (tok, root) = app.root_admin().await;
    let body = problem_zh(
        app.post(
            "/api/v1/admin/orgs",
            &json!({
                "parent_id": root, "name": "郑州市", "kind": "city_federation", "secret": true,
            }),
            Some(&tok),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unknown_field",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "secret", "{body}");
    let list: Value = app
        .get("/api/v1/admin/orgs", Some(&tok))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

    // Officials and PATCH refuse them as well.
    let body = problem_zh(
        app.post(
            "/api/v1/admin/officials",
            &json!({
                "username": "li-si", "password": "correct horse battery staple",
                "display_name": "李四", "org_id": root, "role": "reviewer", "is_admin": true,
            }),
            Some(&tok),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unknown_field",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "is_admin", "{body}");
    let body = problem_zh(
        app.request(
            Method::PATCH,
            &format!("/api/v1/admin/orgs/{root}"),
            Some(&json!({ "name": "全总", "path": "/" })),
            Some(&tok),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unknown_field",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "path", "{body}");
    let root_now: Value = app
        .get(&format!("/api/v1/admin/orgs/{root}"), Some(&tok))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(root_now["name"], "总工会");
}

async fn a_missing_field_is_named(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let body = problem_zh(
        app.post(LOGIN, &json!({}), None).await,
        StatusCode::BAD_REQUEST,
        "missing_field",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "code", "{body}");
    assert_eq!(body["errors"][0]["code"], "required", "{body}");
    assert!(!body["detail"].as_str().unwrap().contains("code"), "{body}");

    let body = problem_zh(
        app.post(
            "/api/v1/admin/auth/login",
            &json!({ "username": "root-admin" }),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "missing_field",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "password", "{body}");
}

async fn a_wrong_type_is_invalid_body(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    for (wrong, field) in [
        (json!({ "code": 5 }), "code"),
        (json!({ "code": null }), "code"),
        (json!({ "code": ["a.1"] }), "code"),
        (json!("a.1"), ""),
    ] {
        let body = problem_zh(
            app.post(LOGIN, &wrong, None).await,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        )
        .await;
        // The field that is wrong is named (issue 19), the whole body when it is the body.
        let named = body["errors"][0]["field"].as_str().unwrap_or("");
        assert_eq!(named, field, "{body}");
    }
    let (tok, root) = app.root_admin().await;
    problem_zh(
        app.post(
            "/api/v1/admin/orgs",
            &json!({
                "parent_id": root, "name": "郑州市", "kind": "city_federation",
                "accepts_individuals": "yes",
            }),
            Some(&tok),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    // Deep in a list, the path says where: a claim line's hospital as a number.
    let body = problem_zh(
        app.post(
            "/api/v1/mutual-aid/claims",
            &json!({ "enrollment_id": uuid::Uuid::now_v7(),
                     "lines": [{ "hospital": "郑州市第一人民医院" }, { "hospital": 5 }] }),
            Some(&token(&app.login_worker("typed.1").await)),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "lines.1.hospital", "{body}");
}

async fn a_body_that_is_not_json_is_415(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let resp = send(
            &app,
            Method::POST,
            LOGIN,
            ct,
            r#"{"code":"a.1"}"#,
            None,
            None,
        )
        .await;
        problem_zh(
            resp,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
    // The code was never used.
    app.login_worker("a.1").await;
}

async fn an_unknown_path_is_a_problem(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v2/me",
        "/api/v1/admin/orgs/x/y",
    ] {
        problem_zh(
            app.get(path, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    problem_zh(
        app.post("/api/v1/nope", &json!({}), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn detail_follows_accept_language(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    for lang in ["en", "en-US,en;q=0.9", "EN-gb"] {
        let resp = send(&app, Method::GET, "/nope", None, "", Some(lang), None).await;
        let body = problem_en(resp, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(body["detail"], "No such record", "{lang}");
    }
    // Chinese unless English comes first.
    for lang in [
        None,
        Some("zh-CN"),
        Some("zh-CN,zh;q=0.9,en;q=0.8"),
        Some("fr"),
    ] {
        let resp = send(&app, Method::GET, "/nope", None, "", lang, None).await;
        let body = problem_zh(resp, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(body["detail"], "未找到该记录", "{lang:?}");
    }
    // Field details follow the language too; the codes never change.
    let resp = send(
        &app,
        Method::POST,
        LOGIN,
        Some("application/json"),
        r#"{"code":"  "}"#,
        Some("en"),
        None,
    )
    .await;
    let en = problem_en(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let zh = problem_zh(
        login_raw(&app, r#"{"code":"  "}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(en["errors"][0]["field"], zh["errors"][0]["field"]);
    assert_eq!(en["errors"][0]["code"], zh["errors"][0]["code"]);
    assert!(
        zh["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .chars()
            .any(is_cjk),
        "{zh}"
    );
    let resp = send(
        &app,
        Method::POST,
        LOGIN,
        Some("text/plain"),
        "x",
        Some("en"),
        None,
    )
    .await;
    problem_en(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

async fn a_blank_code_is_validation_failed(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    for code in ["  ", "", &"a".repeat(129)] {
        let body = problem_zh(
            app.post(LOGIN, &json!({ "code": code }), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "code", "{body}");
    }
}

async fn refused_logins_write_nothing(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let refusals = [
        (r#"{"code":"#, StatusCode::BAD_REQUEST, "invalid_json"),
        (r#"{"code":"w.1""#, StatusCode::BAD_REQUEST, "invalid_json"),
        (
            r#"{"code":"w.1","extra":1}"#,
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (r#"{"code":5}"#, StatusCode::BAD_REQUEST, "invalid_body"),
        (r#"{}"#, StatusCode::BAD_REQUEST, "missing_field"),
        (
            r#"{"code":"  "}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ];
    for (text, status, code) in refusals {
        problem_zh(login_raw(&app, text).await, status, code).await;
    }
    problem_zh(
        send(
            &app,
            Method::POST,
            LOGIN,
            Some("text/plain"),
            r#"{"code":"w.1"}"#,
            None,
            None,
        )
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert_eq!(worker_count(&app).await, 0);

    // The count does see a worker once a login succeeds.
    app.login_worker("w.1").await;
    assert_eq!(worker_count(&app).await, 1);
}

/// Issue 18, item 22: a body that stops arriving is given up on after the idle timeout (1 s
/// here) with 408 `body_timeout`, instead of holding the connection; the live socket, whose
/// frames are its body, is not cut by it.
async fn a_stalled_body_is_answered_408_and_the_socket_lives_on(shape: Shape) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(shape, |s| s.body_idle_timeout_secs = 1).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/admin/auth/login HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"username\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("no answer within 5 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A live socket quiet for longer than that stays open.
    let login = app.login_worker("quiet").await;
    let mut socket = app.socket(Some(&yiwang_tests::token(&login))).await;
    assert!(matches!(
        socket.hear(2_000).await,
        yiwang_tests::Heard::Frame(_)
    ));
    assert_eq!(socket.hear(2_500).await, yiwang_tests::Heard::Nothing);
}

/// Issue 19: a query parameter the route does not take is refused and named, not ignored —
/// `?status=` on the enrolment list (whose filter is `paid`) answered the whole list as if
/// filtered.
async fn unknown_query_parameters_are_named_not_ignored(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (root, _) = app.root_admin().await;
    let resp = app
        .get(
            "/api/v1/admin/mutual-aid/enrollments?status=paid&limit=5",
            Some(&root),
        )
        .await;
    let body = problem_zh(resp, StatusCode::BAD_REQUEST, "unknown_parameter").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["errors"][0]["field"], "status", "{body}");
    assert!(
        !body["detail"].as_str().unwrap().contains("status"),
        "{body}"
    );
    // Every unknown one at once; the documented ones pass.
    let resp = app.get("/api/v1/orgs?cityy=%E9%83%91&x=1", None).await;
    let body = problem_zh(resp, StatusCode::BAD_REQUEST, "unknown_parameter").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["cityy", "x"], "{body}");
    let resp = app
        .get(
            "/api/v1/admin/mutual-aid/enrollments?paid=true&limit=5",
            Some(&root),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/orgs?city=%E9%83%91", None).await.status(),
        StatusCode::OK
    );
}
