//! Logging in and out: workers through WeChat (the emulator), officials with a password;
//! access tokens, refresh rotation, logout, kind separation, `/api/v1/me` and phone binding.

use std::time::{Duration, Instant};
use yiwang_tests::views::assert_view;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::StatusCode;
use serde_json::{json, Value};
use yiwang_tests::{assert_problem, both_shapes, token, Shape, TestApp, PASSWORD};

both_shapes!(
    wechat_logins_are_throttled_per_address_and_account,
    sessions_are_capped_listed_and_ended,
    public_lists_share_the_lookup_limit,
    token_answers_are_never_cached,
    worker_login_finds_or_creates_the_worker,
    wechat_failures_map_to_clear_errors,
    wechat_unreachable_is_503,
    wechat_slow_past_two_seconds_is_503,
    phone_binding_masks_and_caches_the_stable_token,
    phone_binding_errors,
    tampered_and_forged_tokens_are_rejected,
    jwks_publishes_the_verifying_key,
    refresh_rotates_and_reuse_revokes_the_session,
    logout_ends_the_session_at_once,
    account_kinds_are_kept_apart,
    official_login_and_wrong_credentials,
    official_lockout_after_five_failures,
    unknown_username_is_locked_out_the_same_way,
    disabled_official_cannot_log_in,
    error_detail_follows_accept_language,
);

const LOGIN: &str = "/api/v1/auth/wechat/login";
const ADMIN_LOGIN: &str = "/api/v1/admin/auth/login";
const REFRESH: &str = "/api/v1/auth/refresh";
const LOGOUT: &str = "/api/v1/auth/logout";
const ME: &str = "/api/v1/me";
const PHONE: &str = "/api/v1/me/phone";
const CODE2SESSION: &str = "/sns/jscode2session";
const STABLE_TOKEN: &str = "/cgi-bin/stable_token";

// ---------------------------------------------------------------------------------------------
// helpers

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// `(header, claims, signature)` segments of a compact JWT.
fn segments(jwt: &str) -> (String, String, String) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three segments: {jwt}");
    (
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    )
}

pub(crate) fn header_of(jwt: &str) -> Value {
    serde_json::from_slice(&unb64(&segments(jwt).0)).unwrap()
}

pub(crate) fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(&unb64(&segments(jwt).1)).unwrap()
}

fn refresh_of(v: &Value) -> String {
    v["refresh_token"].as_str().unwrap().to_owned()
}

/// The app's own signing key (the embedded default generates it under the data dir).
fn app_signing_key(app: &TestApp) -> EncodingKey {
    let pem = std::fs::read(app.settings.data_dir.join("jwt-ed25519.pem")).unwrap();
    EncodingKey::from_ed_pem(&pem).unwrap()
}

pub(crate) fn sign_eddsa(app: &TestApp, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &app_signing_key(app)).unwrap()
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.get(ME, Some(token)).await.status()
}

async fn assert_unauthenticated(app: &TestApp, token: &str, what: &str) {
    let resp = app.get(ME, Some(token)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{what}");
    assert_eq!(
        resp.headers()["www-authenticate"],
        r#"Bearer realm="yiwang""#,
        "{what}"
    );
    assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn refresh(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    app.post(REFRESH, &json!({ "refresh_token": refresh_token }), None)
        .await
}

async fn admin_login_raw(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post(
        ADMIN_LOGIN,
        &json!({ "username": username, "password": password }),
        None,
    )
    .await
}

fn without_request_id(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("request_id");
    v
}

/// Issue 18, item 12: an answer holding tokens says `Cache-Control: no-store` (RFC 6749 §5.1).
async fn token_answers_are_never_cached(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let login = app
        .post(LOGIN, &json!({ "code": "no-store.1" }), None)
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(login.headers()["cache-control"], "no-store");
    let tokens: Value = login.json().await.unwrap();
    let rotated = refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    app.create_official_cli("cache-admin", "总工会", "super_admin")
        .await;
    let admin = admin_login_raw(&app, "cache-admin", PASSWORD).await;
    assert_eq!(admin.status(), StatusCode::OK);
    assert_eq!(admin.headers()["cache-control"], "no-store");
}

// ---------------------------------------------------------------------------------------------
// worker login

async fn worker_login_finds_or_creates_the_worker(shape: Shape) {
    let app = TestApp::spawn(shape).await;

    let resp = app.post(LOGIN, &json!({ "code": "alice.1" }), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let raw = resp.text().await.unwrap();
    assert!(
        !raw.contains("session_key"),
        "login answer leaks session_key: {raw}"
    );
    let first: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 900);
    assert!(!refresh_of(&first).is_empty());
    assert_eq!(first["account"]["kind"], "worker");
    assert_eq!(first["account"]["has_unionid"], false);
    assert!(first["account"]["phone"].is_null());
    let id = first["account"]["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "account id {id}");

    // The access token carries the documented claims.
    let claims = claims_of(&token(&first));
    assert_eq!(claims["iss"], "yiwang");
    assert_eq!(claims["aud"], "yiwang-api");
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["kind"], "worker");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(header_of(&token(&first))["alg"], "EdDSA");

    // Another code of the same WeChat user: the same account, another session.
    let second = app.login_worker("alice.2").await;
    assert_eq!(second["account"]["id"], id.as_str());
    assert_ne!(token(&second), token(&first));

    // A different user gets a different account.
    let carol = app.login_worker("carol.1").await;
    assert_eq!(carol["account"]["has_unionid"], false);
    assert_ne!(carol["account"]["id"], id.as_str());
    let bob = app.login_worker("u_bob.1").await;
    assert_eq!(bob["account"]["has_unionid"], true);
    assert_eq!(bob["account"]["kind"], "worker");

    // /me with the token is the same worker; no session_key there either.
    let resp = app.get(ME, Some(&token(&first))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let raw = resp.text().await.unwrap();
    assert!(!raw.contains("session_key"), "/me leaks session_key: {raw}");
    let me: Value = serde_json::from_str(&raw).unwrap();
    assert_view("worker_me", &me);
    assert_eq!(me["kind"], "worker");
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["has_unionid"], false);
    let me_bob: Value = app.get(ME, Some(&token(&bob))).await.json().await.unwrap();
    assert_eq!(me_bob["id"], bob["account"]["id"]);
    assert_eq!(me_bob["has_unionid"], true);

    // Each call went to code2Session once.
    assert_eq!(app.emulator.calls(CODE2SESSION), 4);
}

async fn wechat_failures_map_to_clear_errors(shape: Shape) {
    let app = TestApp::spawn(shape).await;

    let resp = app.post(LOGIN, &json!({ "code": "err-40029" }), None).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "wechat_code_invalid").await;

    // A code that already logged someone in is used up.
    app.login_worker("dave.1").await;
    let resp = app.post(LOGIN, &json!({ "code": "dave.1" }), None).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "wechat_code_invalid").await;

    // -1 (busy): one retry, then 503.
    let before = app.emulator.calls(CODE2SESSION);
    let resp = app.post(LOGIN, &json!({ "code": "err--1" }), None).await;
    assert_problem(
        resp,
        StatusCode::SERVICE_UNAVAILABLE,
        "upstream_unavailable",
    )
    .await;
    assert_eq!(
        app.emulator.calls(CODE2SESSION) - before,
        2,
        "exactly one retry"
    );

    // Busy once, then fine: the retry logs the user in.
    let before = app.emulator.calls(CODE2SESSION);
    let resp = app
        .post(LOGIN, &json!({ "code": "busy-once.z" }), None)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["account"]["kind"], "worker");
    assert_eq!(me_status(&app, &token(&v)).await, StatusCode::OK);
    assert_eq!(app.emulator.calls(CODE2SESSION) - before, 2);

    // 45011: rate limited, with a hint when to come back.
    let resp = app.post(LOGIN, &json!({ "code": "err-45011" }), None).await;
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "wechat_rate_limited").await;

    // 40226: blocked as high-risk.
    let resp = app.post(LOGIN, &json!({ "code": "err-40226" }), None).await;
    assert_problem(resp, StatusCode::FORBIDDEN, "wechat_user_blocked").await;

    // Only -1 (busy) is retried: an invalid code is asked once.
    let before = app.emulator.calls(CODE2SESSION);
    let resp = app.post(LOGIN, &json!({ "code": "err-40029" }), None).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "wechat_code_invalid").await;
    assert_eq!(app.emulator.calls(CODE2SESSION) - before, 1);
}

async fn wechat_unreachable_is_503(shape: Shape) {
    let app = TestApp::spawn_with(shape, |s| s.wechat_base_url = "http://127.0.0.1:1".into()).await;
    let resp = app.post(LOGIN, &json!({ "code": "alice.1" }), None).await;
    assert_problem(
        resp,
        StatusCode::SERVICE_UNAVAILABLE,
        "upstream_unavailable",
    )
    .await;
    assert_eq!(app.emulator.calls(CODE2SESSION), 0);
}

async fn wechat_slow_past_two_seconds_is_503(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let started = Instant::now();
    let resp = app.post(LOGIN, &json!({ "code": "slow.1" }), None).await;
    let took = started.elapsed();
    assert_problem(
        resp,
        StatusCode::SERVICE_UNAVAILABLE,
        "upstream_unavailable",
    )
    .await;
    assert!(
        took >= Duration::from_millis(1900),
        "gave up before the 2 s timeout: {took:?}"
    );
    assert!(
        took < Duration::from_secs(4),
        "the 2 s timeout was not applied: {took:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// phone binding

async fn phone_binding_masks_and_caches_the_stable_token(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let worker = app.login_worker("alice.1").await;
    let t = token(&worker);
    // Read /me first, so a stale view would be there to be served after the binding.
    let me: Value = app.get(ME, Some(&t)).await.json().await.unwrap();
    assert_eq!(me["phone"], Value::Null);

    let resp = app
        .post(PHONE, &json!({ "code": "phone-13800138000" }), Some(&t))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let raw = resp.text().await.unwrap();
    assert!(
        !raw.contains("13800138000"),
        "full number in the answer: {raw}"
    );
    let v: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["kind"], "worker");
    assert_eq!(v["id"], worker["account"]["id"]);
    assert_eq!(v["phone"], "138****8000");
    assert_eq!(app.emulator.calls(STABLE_TOKEN), 1);

    let resp = app.get(ME, Some(&t)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let raw = resp.text().await.unwrap();
    assert!(!raw.contains("13800138000"), "full number in /me: {raw}");
    let me: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(me["phone"], "138****8000");

    // A second binding uses the cached access token: stable_token is not fetched again.
    let resp = app
        .post(PHONE, &json!({ "code": "phone-13700137000" }), Some(&t))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["phone"], "137****7000");
    let me: Value = app.get(ME, Some(&t)).await.json().await.unwrap();
    assert_eq!(me["phone"], "137****7000", "/me shows the newest binding");
    assert_eq!(
        app.emulator.calls(STABLE_TOKEN),
        1,
        "stable_token is cached"
    );
    assert_eq!(app.emulator.calls("/wxa/business/getuserphonenumber"), 2);

    // WeChat expires the token: the client notices (42001), fetches a new one and retries.
    app.emulator.expire_access_tokens();
    let resp = app
        .post(PHONE, &json!({ "code": "phone-13600136000" }), Some(&t))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["phone"], "136****6000");
    assert_eq!(
        app.emulator.calls(STABLE_TOKEN),
        2,
        "stable_token fetched once more"
    );

    // ... and the new token is cached in turn.
    let resp = app
        .post(PHONE, &json!({ "code": "phone-13500135000" }), Some(&t))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.emulator.calls(STABLE_TOKEN), 2);
    let me: Value = app.get(ME, Some(&t)).await.json().await.unwrap();
    assert_eq!(me["phone"], "135****5000");
}

async fn phone_binding_errors(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let worker = app.login_worker("alice.1").await;
    let t = token(&worker);

    // What WeChat sends is checked as a typed number is (issue 18, item 17): 60 digits are
    // not a mobile number, and nothing is stored.
    for junk in ["1".repeat(60), "12345".to_owned()] {
        let resp = app
            .post(PHONE, &json!({ "code": format!("phone-{junk}") }), Some(&t))
            .await;
        let body =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "phone_unsupported").await;
        assert!(!body.to_string().contains(&junk), "{body}");
    }
    let me: Value = app.get(ME, Some(&t)).await.json().await.unwrap();
    assert_eq!(me["phone"], Value::Null);

    let resp = app
        .post(
            PHONE,
            &json!({ "code": "phone-otherapp-13900139000" }),
            Some(&t),
        )
        .await;
    let body = assert_problem(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "wechat_phone_code_invalid",
    )
    .await;
    assert!(!body.to_string().contains("13900139000"));

    let resp = app
        .post(PHONE, &json!({ "code": "err-40029" }), Some(&t))
        .await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "wechat_code_invalid").await;

    // Nothing was bound by the failures.
    let me: Value = app.get(ME, Some(&t)).await.json().await.unwrap();
    assert!(me["phone"].is_null(), "{me}");

    // Officials have no WeChat phone.
    let (admin, _) = app.root_admin().await;
    let resp = app
        .post(PHONE, &json!({ "code": "phone-13800138000" }), Some(&admin))
        .await;
    assert_problem(resp, StatusCode::FORBIDDEN, "wrong_account_kind").await;

    let resp = app
        .post(PHONE, &json!({ "code": "phone-13800138000" }), None)
        .await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // The rejected requests did not use up the code: the worker can still bind with it.
    let resp = app
        .post(PHONE, &json!({ "code": "phone-13800138000" }), Some(&t))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["phone"], "138****8000");
}

// ---------------------------------------------------------------------------------------------
// access tokens

async fn tampered_and_forged_tokens_are_rejected(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let alice = app.login_worker("alice.1").await;
    let bob = app.login_worker("bob.1").await;
    let real = token(&alice);
    assert_eq!(me_status(&app, &real).await, StatusCode::OK);
    let (h, p, s) = segments(&real);
    let real_claims = claims_of(&real);
    let kid = header_of(&real)["kid"].as_str().unwrap().to_owned();

    // One character of the signature changed.
    let mut sig: Vec<char> = s.chars().collect();
    sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
    let tampered_sig: String = sig.into_iter().collect();
    assert_unauthenticated(
        &app,
        &format!("{h}.{p}.{tampered_sig}"),
        "signature changed",
    )
    .await;

    // The payload altered (another sub), the original signature kept.
    let mut altered = real_claims.clone();
    altered["sub"] = bob["account"]["id"].clone();
    let altered_payload = b64(altered.to_string().as_bytes());
    assert_unauthenticated(
        &app,
        &format!("{h}.{altered_payload}.{s}"),
        "payload altered",
    )
    .await;

    // alg: none with valid claims and an empty signature.
    let none_header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    assert_unauthenticated(&app, &format!("{none_header}.{p}."), "alg none").await;

    // HS256 signed with the public key as the HMAC secret (algorithm confusion).
    let jwks: Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    for secret in [unb64(&x), x.clone().into_bytes()] {
        let forged = jsonwebtoken::encode(
            &hs,
            &real_claims,
            &EncodingKey::from_secret(&secret).unwrap(),
        )
        .unwrap();
        assert_unauthenticated(&app, &forged, "HS256 with the public key").await;
    }

    // Tokens really signed with the app's key: the control is accepted ...
    let t = now();
    let mut valid = real_claims.clone();
    valid["iat"] = json!(t);
    valid["exp"] = json!(t + 600);
    let control = sign_eddsa(&app, &kid, &valid);
    assert_eq!(
        me_status(&app, &control).await,
        StatusCode::OK,
        "a correctly signed token with valid claims must be accepted"
    );

    // ... but not with another audience,
    let mut other_aud = valid.clone();
    other_aud["aud"] = json!("someone-else");
    assert_unauthenticated(&app, &sign_eddsa(&app, &kid, &other_aud), "wrong aud").await;

    // another issuer,
    let mut other_iss = valid.clone();
    other_iss["iss"] = json!("someone-else");
    assert_unauthenticated(&app, &sign_eddsa(&app, &kid, &other_iss), "wrong iss").await;

    // or expired an hour ago.
    let mut expired = valid.clone();
    expired["iat"] = json!(t - 3600 - 900);
    expired["exp"] = json!(t - 3600);
    // Expired is its own answer, so the app refreshes instead of sending the worker to log
    // in again (RFC 6750 §3.1 invalid_token).
    let resp = app.get(ME, Some(&sign_eddsa(&app, &kid, &expired))).await;
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    yiwang_tests::world::assert_problem_zh(resp, StatusCode::UNAUTHORIZED, "token_expired").await;
    // Expired and forged: the forgery decides.
    let forged_expired = sign_eddsa(&app, &kid, &expired);
    let (head, rest) = forged_expired.split_once('.').unwrap();
    let (body, _) = rest.split_once('.').unwrap();
    assert_unauthenticated(
        &app,
        &format!("{head}.{body}.{s}"),
        "expired, bad signature",
    )
    .await;

    // A valid signature does not let one session speak for another account.
    let mut other_sub = valid.clone();
    other_sub["sub"] = bob["account"]["id"].clone();
    assert_unauthenticated(
        &app,
        &sign_eddsa(&app, &kid, &other_sub),
        "sid of another account",
    )
    .await;

    // Garbage and wrong schemes.
    assert_unauthenticated(&app, "not-a-jwt", "garbage").await;
    let resp = app
        .client
        .get(format!("{}{ME}", app.base))
        .header("authorization", format!("Basic {real}"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // After all that the real token still works.
    assert_eq!(me_status(&app, &real).await, StatusCode::OK);
}

async fn jwks_publishes_the_verifying_key(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let worker = app.login_worker("alice.1").await;
    let (admin, _) = app.root_admin().await;

    let resp = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let jwks: Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    let key = &keys[0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    let x = key["x"].as_str().unwrap();
    assert_eq!(unb64(x).len(), 32, "an Ed25519 public key is 32 bytes");
    assert!(
        key.get("d").is_none(),
        "the private part must not be published"
    );

    let decoding = DecodingKey::from_ed_components(x).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["yiwang"]);
    validation.set_audience(&["yiwang-api"]);
    for t in [token(&worker), admin] {
        assert_eq!(header_of(&t)["kid"], key["kid"]);
        let data = jsonwebtoken::decode::<Value>(&t, &decoding, &validation)
            .unwrap_or_else(|e| panic!("the access token does not verify with the JWKS key: {e}"));
        assert!(data.claims["sid"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let admin_claims = claims_of(&token(&app.login_admin("root-admin").await));
    assert_eq!(admin_claims["kind"], "admin");
    assert_eq!(admin_claims["roles"], json!(["super_admin"]));
}

// ---------------------------------------------------------------------------------------------
// refresh and logout

async fn refresh_rotates_and_reuse_revokes_the_session(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let login = app.login_worker("alice.1").await;
    let other = app.login_worker("alice.2").await;
    let id = login["account"]["id"].as_str().unwrap().to_owned();
    let r0 = refresh_of(&login);

    let resp = refresh(&app, &r0).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let p1: Value = resp.json().await.unwrap();
    assert_eq!(p1["token_type"], "Bearer");
    assert_eq!(p1["expires_in"], 900);
    let (a1, r1) = (token(&p1), refresh_of(&p1));
    assert_ne!(r1, r0, "the refresh token rotates");
    assert_eq!(claims_of(&a1)["sid"], claims_of(&token(&login))["sid"]);
    let me: Value = app.get(ME, Some(&a1)).await.json().await.unwrap();
    assert_eq!(me["id"], id.as_str());

    // Rotating again with the newest works too.
    let resp = refresh(&app, &r1).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let p2: Value = resp.json().await.unwrap();
    let (a2, r2) = (token(&p2), refresh_of(&p2));
    assert_ne!(r2, r1);
    assert_eq!(me_status(&app, &a2).await, StatusCode::OK);

    // The old refresh token again: theft assumed, the whole session ends.
    let resp = refresh(&app, &r0).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    assert_unauthenticated(&app, &a2, "newest access token after reuse").await;
    assert_unauthenticated(&app, &a1, "older access token after reuse").await;
    assert_unauthenticated(&app, &token(&login), "first access token after reuse").await;
    let resp = refresh(&app, &r2).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "refresh_token_invalid").await;

    // The worker's other session is untouched.
    let me: Value = app
        .get(ME, Some(&token(&other)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], id.as_str());
    let resp = refresh(&app, &refresh_of(&other)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(me_status(&app, &token(&p)).await, StatusCode::OK);

    // Garbage refresh tokens.
    for bad in ["garbage", "", "no-dot-here", "abc.def", ".x", "x."] {
        let resp = refresh(&app, bad).await;
        assert_problem(resp, StatusCode::UNAUTHORIZED, "refresh_token_invalid").await;
    }
    // A refresh token is not an access token, nor the reverse.
    assert_unauthenticated(&app, &refresh_of(&p), "refresh token as bearer").await;
    let resp = refresh(&app, &token(&p)).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "refresh_token_invalid").await;
    // The right session id with a made-up secret is not accepted and does not end it.
    let sid = refresh_of(&p).split_once('.').unwrap().0.to_owned();
    let resp = refresh(&app, &format!("{sid}.made-up-secret")).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "refresh_token_invalid").await;
    assert_eq!(me_status(&app, &token(&p)).await, StatusCode::OK);
}

async fn logout_ends_the_session_at_once(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let login = app.login_worker("alice.1").await;
    let other = app.login_worker("alice.2").await;
    let t = token(&login);
    assert_eq!(me_status(&app, &t).await, StatusCode::OK);

    let resp = app.post(LOGOUT, &json!({}), Some(&t)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.text().await.unwrap().is_empty());

    assert_unauthenticated(&app, &t, "access token after logout").await;
    let resp = refresh(&app, &refresh_of(&login)).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "refresh_token_invalid").await;
    // Logging out again with the dead token is refused too.
    let resp = app.post(LOGOUT, &json!({}), Some(&t)).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let resp = app.post(LOGOUT, &json!({}), None).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // Only that session ended.
    assert_eq!(me_status(&app, &token(&other)).await, StatusCode::OK);

    // Officials log out the same way.
    let (admin, _) = app.root_admin().await;
    let resp = app.post(LOGOUT, &json!({}), Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_unauthenticated(&app, &admin, "official after logout").await;
    let resp = app.get("/api/v1/admin/orgs", Some(&admin)).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

// ---------------------------------------------------------------------------------------------
// kinds

async fn account_kinds_are_kept_apart(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let worker = app.login_worker("alice.1").await;
    let wt = token(&worker);
    let (admin, root_id) = app.root_admin().await;

    let resp = app.get("/api/v1/admin/orgs", Some(&wt)).await;
    assert_problem(resp, StatusCode::FORBIDDEN, "wrong_account_kind").await;
    let resp = app.get("/api/v1/admin/officials", Some(&wt)).await;
    assert_problem(resp, StatusCode::FORBIDDEN, "wrong_account_kind").await;
    let resp = app.get("/api/v1/admin/orgs", Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = app
        .post(PHONE, &json!({ "code": "phone-13800138000" }), Some(&admin))
        .await;
    assert_problem(resp, StatusCode::FORBIDDEN, "wrong_account_kind").await;

    let me: Value = app.get(ME, Some(&wt)).await.json().await.unwrap();
    assert_eq!(me["kind"], "worker");
    assert_eq!(me["id"], worker["account"]["id"]);
    assert!(me.get("role").is_none());

    let resp = app.get(ME, Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["kind"], "admin");
    assert_eq!(me["username"], "root-admin");
    assert_eq!(me["role"], "super_admin");
    assert_eq!(me["org"]["id"], root_id.as_str());
    assert_eq!(me["org"]["name"], "总工会");
    assert!(me.get("phone").is_none());
    assert!(me.get("password_hash").is_none() && !me.to_string().contains("argon2"));
}

// ---------------------------------------------------------------------------------------------
// official login

async fn official_login_and_wrong_credentials(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    app.create_official_cli("root-admin", "总工会", "super_admin")
        .await;

    let resp = admin_login_raw(&app, "root-admin", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let raw = resp.text().await.unwrap();
    assert!(!raw.contains("argon2") && !raw.contains(PASSWORD), "{raw}");
    let v: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 900);
    assert_eq!(v["account"]["kind"], "admin");
    assert_eq!(v["account"]["role"], "super_admin");
    assert_eq!(v["account"]["org"]["name"], "总工会");
    assert_eq!(me_status(&app, &token(&v)).await, StatusCode::OK);

    // Case-insensitive username.
    let upper = app.login_admin("ROOT-ADMIN").await;
    assert_eq!(upper["account"]["id"], v["account"]["id"]);
    assert_eq!(upper["account"]["username"], "root-admin");

    // Wrong password and unknown user: the same answer, request id aside.
    let resp = admin_login_raw(&app, "root-admin", "wrong password, clearly").await;
    let wrong = assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let resp = admin_login_raw(&app, "nobody-here", "wrong password, clearly").await;
    let unknown = assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(
        without_request_id(wrong.clone()),
        without_request_id(unknown)
    );
    // An invalid username (not even well-formed) answers the same too.
    let resp = admin_login_raw(&app, "x", "wrong password, clearly").await;
    let malformed = assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(without_request_id(wrong), without_request_id(malformed));

    // The wrong password attempt did not lock anything: the right one still works.
    app.login_admin("root-admin").await;
}

async fn official_lockout_after_five_failures(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    app.create_official_cli("root-admin", "总工会", "super_admin")
        .await;
    // Another official, to show that the lock is per username.
    app.create_official_cli("second-admin", "总工会", "super_admin")
        .await;

    for i in 1..=5 {
        let resp = admin_login_raw(&app, "root-admin", &format!("wrong password #{i}")).await;
        assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let resp = admin_login_raw(&app, "root-admin", PASSWORD).await;
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After on a lockout")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        retry_after > 0 && retry_after <= 900,
        "Retry-After {retry_after}"
    );
    let locked = assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
    // Another spelling of the same username is locked as well.
    let resp = admin_login_raw(&app, "Root-Admin", PASSWORD).await;
    let again = assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
    assert_eq!(without_request_id(locked), without_request_id(again));

    // Other officials are not affected.
    app.login_admin("second-admin").await;
}

async fn unknown_username_is_locked_out_the_same_way(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    app.create_official_cli("root-admin", "总工会", "super_admin")
        .await;

    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 1..=5 {
        let password = format!("wrong password #{i}");
        let resp = admin_login_raw(&app, "root-admin", &password).await;
        known.push(assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await);
        let resp = admin_login_raw(&app, "ghost-admin", &password).await;
        unknown.push(assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await);
    }
    for (k, u) in known.into_iter().zip(unknown) {
        assert_eq!(without_request_id(k), without_request_id(u));
    }

    let resp = admin_login_raw(&app, "root-admin", PASSWORD).await;
    let known_secs = resp.headers()["retry-after"].to_str().unwrap().to_owned();
    let known_locked = assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
    let resp = admin_login_raw(&app, "ghost-admin", PASSWORD).await;
    let unknown_secs: u64 = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After on a lockout of an unknown username")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let unknown_locked =
        assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
    assert!(unknown_secs > 0);
    let known_secs: u64 = known_secs.parse().unwrap();
    assert!(
        known_secs.abs_diff(unknown_secs) <= 2,
        "{known_secs} vs {unknown_secs}"
    );
    assert_eq!(
        without_request_id(known_locked),
        without_request_id(unknown_locked)
    );
}

async fn disabled_official_cannot_log_in(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (root, root_id) = app.root_admin().await;
    let clerk_id = app
        .create_official(&root, "clerk", &root_id, "org_admin")
        .await;
    let clerk = app.login_admin("clerk").await;
    let clerk_token = token(&clerk);
    let clerk_refresh = refresh_of(&clerk);
    assert_eq!(me_status(&app, &clerk_token).await, StatusCode::OK);

    let resp = app
        .post(
            &format!("/api/v1/admin/officials/{clerk_id}/disable"),
            &json!({}),
            Some(&root),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert!(!v["disabled_at"].is_null(), "{v}");

    // The live session ended at once ...
    assert_unauthenticated(&app, &clerk_token, "disabled official's token").await;
    let resp = refresh(&app, &clerk_refresh).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "refresh_token_invalid").await;

    // ... and the right password no longer logs in, with the same answer as a wrong one.
    let resp = admin_login_raw(&app, "clerk", PASSWORD).await;
    let disabled = assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let resp = admin_login_raw(&app, "clerk", "wrong password, clearly").await;
    let wrong = assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(without_request_id(disabled), without_request_id(wrong));

    // The root admin is unaffected.
    assert_eq!(me_status(&app, &root).await, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// language

async fn error_detail_follows_accept_language(shape: Shape) {
    let app = TestApp::spawn(shape).await;

    let resp = app
        .client
        .get(format!("{}{ME}", app.base))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let en = assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let detail = en["detail"].as_str().unwrap();
    assert!(detail.is_ascii(), "English detail expected: {detail}");

    let resp = app
        .client
        .get(format!("{}{ME}", app.base))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    let en_us = assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(en_us["detail"], en["detail"]);

    let resp = app.get(ME, None).await;
    let zh = assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let detail = zh["detail"].as_str().unwrap();
    assert!(
        detail
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "Chinese detail expected by default: {detail}"
    );

    // A WeChat error in English too.
    let resp = app
        .client
        .post(format!("{}{LOGIN}", app.base))
        .header("accept-language", "en")
        .json(&json!({ "code": "err-40029" }))
        .send()
        .await
        .unwrap();
    let v = assert_problem(resp, StatusCode::UNAUTHORIZED, "wechat_code_invalid").await;
    assert!(v["detail"].as_str().unwrap().is_ascii());
}

// ---------------------------------------------------------------------------------------------
// the embedded default: WeChat emulated in-process

async fn embedded_default_emulates_wechat(shape: Shape) {
    let app = TestApp::spawn_with(shape, |s| {
        s.wechat_appid = None;
        s.wechat_secret = None;
    })
    .await;
    let resp = app.get("/readyz", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["wechat"], "emulated");
    assert_eq!(v["status"], "ok");

    let login = app.login_worker("any-code-at-all").await;
    assert_eq!(login["account"]["kind"], "worker");
    assert_eq!(me_status(&app, &token(&login)).await, StatusCode::OK);
    // The emulator answers the documented magic codes as well.
    let resp = app.post(LOGIN, &json!({ "code": "err-40029" }), None).await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "wechat_code_invalid").await;
    let resp = app
        .post(
            PHONE,
            &json!({ "code": "phone-13800138000" }),
            Some(&token(&login)),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["phone"], "138****8000");

    // It went to the server's own emulator, not the test's.
    assert_eq!(app.emulator.calls(CODE2SESSION), 0);
    assert_eq!(app.emulator.calls(STABLE_TOKEN), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_default_emulates_wechat_sqlite() {
    embedded_default_emulates_wechat(Shape::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_default_emulates_wechat_postgres_redis() {
    embedded_default_emulates_wechat(Shape::Production).await;
}

/// A WeChat login with `code`, with `X-Forwarded-For: forwarded` when given.
async fn wechat_login(app: &TestApp, code: &str, forwarded: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}/api/v1/auth/wechat/login", app.base))
        .json(&json!({ "code": code }));
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.unwrap()
}

/// Issue 18, item 9: each WeChat login is an upstream call; one address (and one account)
/// cannot make them without bound, and a forwarded address counts only from a trusted proxy.
async fn wechat_logins_are_throttled_per_address_and_account(shape: Shape) {
    let app = TestApp::spawn_with(shape, |s| s.wechat_login_rate_per_minute = 3).await;
    for i in 0..3 {
        let resp = wechat_login(&app, &format!("w{i}.a"), Some(&format!("198.51.100.{i}"))).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // The header is the client's own word from an untrusted peer: still the same bucket.
    let resp = wechat_login(&app, "w9.a", Some("198.51.100.99")).await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Behind a trusted proxy, each forwarded client has its own bucket.
    let app = TestApp::spawn_with(shape, |s| {
        s.wechat_login_rate_per_minute = 3;
        s.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    for i in 0..5 {
        let resp = wechat_login(&app, &format!("v{i}.a"), Some(&format!("198.51.100.{i}"))).await;
        assert_eq!(resp.status(), StatusCode::OK, "client {i}");
    }
    for i in 0..3 {
        let resp = wechat_login(&app, &format!("v9.{i}"), Some("203.0.113.5, 127.0.0.1")).await;
        assert_eq!(resp.status(), StatusCode::OK, "login {i}");
    }
    let resp = wechat_login(&app, "v9.x", Some("203.0.113.5")).await;
    assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // One account: at most 30 logins an hour, whatever the address.
    let app = TestApp::spawn(shape).await;
    for i in 0..30 {
        let resp = wechat_login(&app, &format!("busy.{i}"), None).await;
        assert_eq!(resp.status(), StatusCode::OK, "login {i}");
    }
    let resp = wechat_login(&app, "busy.30", None).await;
    assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "too_many_logins").await;
}

/// Issue 18, item 9: a worker keeps at most 10 live sessions (the oldest end first), sees
/// them, and ends one or every other one.
async fn sessions_are_capped_listed_and_ended(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let mut logins = Vec::new();
    for i in 0..12 {
        logins.push(token(&app.login_worker(&format!("many.{i}")).await));
    }
    for old in &logins[..2] {
        assert_problem(
            app.get("/api/v1/me", Some(old)).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
    }
    let newest = &logins[11];
    let list = app.get("/api/v1/me/sessions", Some(newest)).await;
    assert_eq!(list.status(), StatusCode::OK);
    let list: Value = list.json().await.unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 10, "{list}");
    assert_eq!(items[9]["current"], true, "newest last: {list}");
    assert!(items[..9].iter().all(|s| s["current"] == false));

    // End the oldest live one (the third login).
    let oldest = items[0]["id"].as_str().unwrap();
    let resp = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/me/sessions/{oldest}"),
            None,
            Some(newest),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", Some(&logins[2])).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/me", Some(&logins[3])).await.status(),
        StatusCode::OK
    );
    let again = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/me/sessions/{oldest}"),
            None,
            Some(newest),
        )
        .await;
    assert_problem(again, StatusCode::NOT_FOUND, "not_found").await;

    // Every other session ends; this one goes on.
    let resp = app
        .request(
            reqwest::Method::DELETE,
            "/api/v1/me/sessions",
            None,
            Some(newest),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for other in &logins[3..11] {
        assert_eq!(
            app.get("/api/v1/me", Some(other)).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let list: Value = app
        .get("/api/v1/me/sessions", Some(newest))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}

/// Issue 18, item 9: the public lists of organisations and letters take from the same
/// per-address lookup limit as the service-point lookups.
async fn public_lists_share_the_lookup_limit(shape: Shape) {
    let app = TestApp::spawn_with(shape, |s| s.lookup_rate_per_minute = 2).await;
    assert_eq!(app.get("/api/v1/orgs", None).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/orgs?city=x", None).await.status(),
        StatusCode::OK
    );
    assert_problem(
        app.get("/api/v1/orgs", None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    let org = uuid::Uuid::new_v4();
    assert_problem(
        app.get(&format!("/api/v1/mailbox/public?org_id={org}"), None)
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
}
