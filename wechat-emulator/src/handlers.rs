//! The HTTP endpoints.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::codec;
use crate::state::{Shared, TokenCheck};
use crate::validate;

/// How long a `slow*` login code makes jscode2session wait.
const SLOW_DELAY: Duration = Duration::from_secs(3);

/// The watermark appid of `phone-otherapp-*` codes.
const OTHER_APPID: &str = "wx-some-other-app";

/// Registers every endpoint; unknown paths answer 404.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sns/jscode2session")
            .route(web::get().to(jscode2session))
            .default_service(web::to(require_get)),
    )
    .service(post_only("/cgi-bin/stable_token").route(web::post().to(stable_token)))
    .service(
        post_only("/wxa/business/getuserphonenumber").route(web::post().to(get_user_phone_number)),
    )
    .service(post_only("/cgi-bin/message/subscribe/send").route(web::post().to(subscribe_send)))
    .service(post_only("/wxa/msg_sec_check").route(web::post().to(msg_sec_check)))
    .default_service(web::to(not_found));
}

fn post_only(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(require_post))
}

async fn require_get() -> HttpResponse {
    respond(Err(WxError::code(43001)))
}

async fn require_post() -> HttpResponse {
    respond(Err(WxError::code(43002)))
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().body("404 page not found")
}

/// The errmsg WeChat gives with an errcode.
pub(crate) fn errmsg(errcode: i64) -> String {
    let known = match errcode {
        -1 => "system error",
        0 => "ok",
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40003 => "invalid openid",
        40013 => "invalid appid",
        40014 => "invalid access_token",
        40029 => "invalid code",
        40037 => "invalid template_id",
        40097 => "invalid args",
        40125 => "invalid appsecret",
        40163 => "code been used",
        40226 => "user is blocked: high risk user",
        41008 => "missing code",
        41030 => "invalid page",
        42001 => "access_token expired",
        43001 => "require GET method",
        43002 => "require POST method",
        43101 => "user refuse to accept the msg",
        45009 => "reach max api daily quota limit",
        45011 => "freq limit",
        47001 => "data format error",
        47003 => "argument invalid!",
        61010 => "user has not opened the mini-program in the last 2 hours",
        other => return format!("emulated error {other}"),
    };
    known.to_owned()
}

/// A WeChat error answer: HTTP 200 with `{"errcode", "errmsg"}`.
pub(crate) struct WxError {
    errcode: i64,
    errmsg: String,
}

impl WxError {
    /// An error with the usual errmsg of `errcode`.
    fn code(errcode: i64) -> Self {
        Self {
            errcode,
            errmsg: errmsg(errcode),
        }
    }

    /// An error with its own errmsg.
    fn with_msg(errcode: i64, errmsg: impl Into<String>) -> Self {
        Self {
            errcode,
            errmsg: errmsg.into(),
        }
    }
}

/// Turns a handler's outcome into the HTTP answer; WeChat answers errors with HTTP 200 too.
fn respond(outcome: Result<Value, WxError>) -> HttpResponse {
    match outcome {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(WxError { errcode, errmsg }) => {
            HttpResponse::Ok().json(json!({ "errcode": errcode, "errmsg": errmsg }))
        }
    }
}

/// `err-N` → `N`.
fn magic_errcode(code: &str) -> Option<i64> {
    code.strip_prefix("err-")?.parse().ok()
}

/// Fails with errcode `N` for a code `err-N`.
fn check_magic_error(code: &str) -> Result<(), WxError> {
    match magic_errcode(code) {
        Some(errcode) => Err(WxError::code(errcode)),
        None => Ok(()),
    }
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default()
}

/// The body as a JSON object, or 47001.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, WxError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(WxError::code(47001)),
    }
}

fn str_field<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

/// The access-token check shared by the endpoints that take `?access_token=`.
fn check_token(shared: &Shared, query: &HashMap<String, String>) -> Result<(), WxError> {
    let check = shared
        .lock()
        .check_token(query.get("access_token").map(String::as_str));
    match check {
        TokenCheck::Valid => Ok(()),
        TokenCheck::Invalid => Err(WxError::code(40001)),
        TokenCheck::Expired => Err(WxError::code(42001)),
    }
}

/// Fails with `errcode` unless `ok`.
fn ensure(ok: bool, errcode: i64) -> Result<(), WxError> {
    if ok {
        Ok(())
    } else {
        Err(WxError::code(errcode))
    }
}

/// `GET /sns/jscode2session`
async fn jscode2session(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    respond(login(&query(&req), &shared).await)
}

async fn login(q: &HashMap<String, String>, shared: &Shared) -> Result<Value, WxError> {
    let get = |key: &str| q.get(key).map(String::as_str);
    ensure(get("appid") == Some(shared.config.appid.as_str()), 40013)?;
    ensure(get("secret") == Some(shared.config.secret.as_str()), 40125)?;
    let code = get("js_code")
        .filter(|c| !c.is_empty())
        .ok_or(WxError::code(41008))?;
    ensure(get("grant_type") == Some("authorization_code"), 40002)?;
    check_magic_error(code)?;
    let user = code.split('.').next().unwrap_or(code);
    if user == "busy-once" && shared.lock().busy_seen.insert(code.to_owned()) {
        return Err(WxError::code(-1));
    }
    if code.starts_with("slow") {
        tokio::time::sleep(SLOW_DELAY).await;
    }
    let openid = codec::openid_for(user);
    {
        let mut state = shared.lock();
        ensure(state.used_login_codes.insert(code.to_owned()), 40029)?;
        state.users.insert(openid.clone(), user.to_owned());
    }
    let mut answer = json!({
        "openid": openid,
        "session_key": codec::random_session_key(),
    });
    if user.starts_with("u_") {
        answer["unionid"] = json!(codec::unionid_for(user));
    }
    Ok(answer)
}

/// `POST /cgi-bin/stable_token`
async fn stable_token(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    respond(issue_token(&shared, &body))
}

fn issue_token(shared: &Shared, body: &[u8]) -> Result<Value, WxError> {
    let body = json_object(body)?;
    let force_refresh = match body.get("force_refresh") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(force)) => *force,
        Some(_) => return Err(WxError::code(47001)),
    };
    ensure(
        str_field(&body, "appid") == Some(shared.config.appid.as_str()),
        40013,
    )?;
    ensure(
        str_field(&body, "secret") == Some(shared.config.secret.as_str()),
        40125,
    )?;
    ensure(
        str_field(&body, "grant_type") == Some("client_credential"),
        40002,
    )?;
    let (token, expires_in) = shared.lock().stable_token(force_refresh);
    Ok(json!({ "access_token": token, "expires_in": expires_in }))
}

/// `POST /wxa/business/getuserphonenumber`
async fn get_user_phone_number(
    req: HttpRequest,
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> HttpResponse {
    respond(phone_number(&query(&req), &shared, &body))
}

fn phone_number(
    q: &HashMap<String, String>,
    shared: &Shared,
    body: &[u8],
) -> Result<Value, WxError> {
    check_token(shared, q)?;
    let body = json_object(body)?;
    let code = str_field(&body, "code")
        .filter(|c| !c.is_empty())
        .ok_or(WxError::code(41008))?;
    check_magic_error(code)?;
    ensure(
        shared.lock().used_phone_codes.insert(code.to_owned()),
        40029,
    )?;
    let digits = |rest: &str| {
        Some(rest.to_owned()).filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
    };
    let mut country_code = json!("86");
    let mut appid = shared.config.appid.clone();
    let number = if let Some(number) = code.strip_prefix("phone-numcc-").and_then(digits) {
        country_code = json!(86);
        number
    } else if let Some(number) = code.strip_prefix("phone-otherapp-").and_then(digits) {
        OTHER_APPID.clone_into(&mut appid);
        number
    } else if let Some(number) = code.strip_prefix("phone-").and_then(digits) {
        number
    } else {
        codec::phone_for_code(code)
    };
    Ok(json!({
        "errcode": 0,
        "errmsg": "ok",
        "phone_info": {
            "phoneNumber": format!("+86{number}"),
            "purePhoneNumber": number,
            "countryCode": country_code,
            "watermark": {
                "timestamp": chrono::Utc::now().timestamp(),
                "appid": appid,
            },
        },
    }))
}

/// `POST /cgi-bin/message/subscribe/send`
async fn subscribe_send(
    req: HttpRequest,
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> HttpResponse {
    respond(send_message(&query(&req), &shared, &body))
}

fn send_message(
    q: &HashMap<String, String>,
    shared: &Shared,
    body: &[u8],
) -> Result<Value, WxError> {
    check_token(shared, q)?;
    let body = json_object(body)?;
    let touser = str_field(&body, "touser")
        .filter(|t| t.starts_with('o'))
        .ok_or(WxError::code(40003))?;
    let template_id = str_field(&body, "template_id").unwrap_or_default();
    ensure(
        !template_id.is_empty() && !template_id.starts_with("bad"),
        40037,
    )?;
    match body.get("page") {
        None | Some(Value::Null) => {}
        Some(Value::String(page)) if !page.starts_with("bad") => {}
        Some(_) => return Err(WxError::code(41030)),
    }
    validate::check_data(body.get("data"))
        .map_err(|problem| WxError::with_msg(47003, problem.to_string()))?;
    check_enum(
        &body,
        "miniprogram_state",
        &["developer", "trial", "formal"],
    )?;
    check_enum(&body, "lang", &["zh_CN", "en_US", "zh_HK", "zh_TW"])?;
    let mut state = shared.lock();
    if state.failing_sends > 0 {
        state.failing_sends -= 1;
        return Err(WxError::code(-1));
    }
    let refuses = state.user_of(touser).is_some_and(|u| u.contains("nosub"));
    ensure(!refuses, 43101)?;
    state.last_msgid += 1;
    state.sent.push(Value::Object(body));
    Ok(json!({ "errcode": 0, "errmsg": "ok", "msgid": state.last_msgid }))
}

/// An optional string field that must be one of `allowed`; else 47003 naming it.
fn check_enum(body: &Map<String, Value>, key: &str, allowed: &[&str]) -> Result<(), WxError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(_) => Err(WxError::with_msg(
            47003,
            format!("argument invalid! {key} is invalid"),
        )),
    }
}

/// `POST /wxa/msg_sec_check`
async fn msg_sec_check(
    req: HttpRequest,
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> HttpResponse {
    respond(check_content(&query(&req), &shared, &body))
}

fn check_content(
    q: &HashMap<String, String>,
    shared: &Shared,
    body: &[u8],
) -> Result<Value, WxError> {
    let body = json_object(body)?;
    ensure(
        !body.contains_key("access_token") || q.contains_key("access_token"),
        47001,
    )?;
    check_token(shared, q)?;
    let version_ok = body.get("version").and_then(Value::as_i64) == Some(2);
    let scene_ok = body
        .get("scene")
        .and_then(Value::as_i64)
        .is_some_and(|s| (1..=4).contains(&s));
    let content = str_field(&body, "content")
        .filter(|c| c.chars().count() <= 2500)
        .filter(|_| version_ok && scene_ok)
        .ok_or(WxError::code(40097))?;
    let openid = str_field(&body, "openid")
        .filter(|o| o.starts_with('o'))
        .ok_or(WxError::code(40003))?;
    let stale = shared
        .lock()
        .user_of(openid)
        .is_some_and(|u| u.contains("stale"));
    ensure(!stale, 61010)?;
    let (suggest, label) = if content.contains("风险") || content.contains("risky") {
        ("risky", 20006)
    } else if content.contains("待审") || content.contains("review") {
        ("review", 21000)
    } else {
        ("pass", 100)
    };
    let trace_id = format!(
        "{}-{}-{}",
        codec::random_hex(8),
        codec::random_hex(8),
        codec::random_hex(8)
    );
    Ok(json!({
        "errcode": 0,
        "errmsg": "ok",
        "trace_id": trace_id,
        "result": { "suggest": suggest, "label": label },
        "detail": [{
            "strategy": "content_model",
            "errcode": 0,
            "suggest": suggest,
            "label": label,
            "prob": 90,
        }],
    }))
}
