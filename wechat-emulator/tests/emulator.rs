//! Starts the emulator and checks each endpoint answers as WECHAT.md documents.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{json, Value};
use yiwang_wechat_emulator::{openid_for, unionid_for, Emulator, EmulatorConfig};

struct Fixture {
    emulator: Emulator,
    http: reqwest::Client,
}

impl Fixture {
    async fn new() -> Self {
        Self {
            emulator: Emulator::start(EmulatorConfig::default()).await.unwrap(),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }

    async fn login_with(&self, appid: &str, secret: &str, code: &str, grant: &str) -> Value {
        let response = self
            .http
            .get(self.url("/sns/jscode2session"))
            .query(&[
                ("appid", appid),
                ("secret", secret),
                ("js_code", code),
                ("grant_type", grant),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn login(&self, code: &str) -> Value {
        let (appid, secret) = (self.emulator.appid(), self.emulator.secret());
        self.login_with(appid, secret, code, "authorization_code")
            .await
    }

    async fn post(&self, path_and_query: &str, body: &Value) -> Value {
        let response = self
            .http
            .post(self.url(path_and_query))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn stable_token(&self, force_refresh: bool) -> Value {
        let body = json!({
            "grant_type": "client_credential",
            "appid": self.emulator.appid(),
            "secret": self.emulator.secret(),
            "force_refresh": force_refresh,
        });
        self.post("/cgi-bin/stable_token", &body).await
    }

    async fn token(&self) -> String {
        let answer = self.stable_token(false).await;
        answer["access_token"].as_str().unwrap().to_owned()
    }

    async fn phone(&self, token: &str, code: &str) -> Value {
        let path = format!("/wxa/business/getuserphonenumber?access_token={token}");
        self.post(&path, &json!({ "code": code })).await
    }

    async fn send(&self, token: &str, body: &Value) -> Value {
        let path = format!("/cgi-bin/message/subscribe/send?access_token={token}");
        self.post(&path, body).await
    }

    async fn sec_check(&self, token: &str, body: &Value) -> Value {
        let path = format!("/wxa/msg_sec_check?access_token={token}");
        self.post(&path, body).await
    }
}

fn errcode(answer: &Value) -> i64 {
    answer["errcode"].as_i64().unwrap()
}

#[tokio::test]
async fn start_reports_its_address_and_credentials_and_stops() {
    let f = Fixture::new().await;
    let base = f.emulator.base_url();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert!(!base.ends_with('/'));
    assert_eq!(f.emulator.appid(), "wx-emulated-appid");
    assert_eq!(f.emulator.secret(), "emulated-secret");
    f.emulator.stop().await;
    assert!(f
        .http
        .get(format!("{base}/sns/jscode2session"))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn custom_credentials_are_used() {
    let config = EmulatorConfig {
        appid: "wx-custom".to_owned(),
        secret: "s3cret".to_owned(),
    };
    let emulator = Emulator::start(config).await.unwrap();
    let url = format!("{}/sns/jscode2session", emulator.base_url());
    let answer: Value = reqwest::Client::new()
        .get(url)
        .query(&[
            ("appid", "wx-custom"),
            ("secret", "s3cret"),
            ("js_code", "carol"),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["openid"], openid_for("carol"));
    emulator.stop().await;
}

#[tokio::test]
async fn login_succeeds_once_per_code() {
    let f = Fixture::new().await;
    let first = f.login("alice.1").await;
    let openid = first["openid"].as_str().unwrap();
    assert_eq!(openid, openid_for("alice"));
    assert_eq!(openid.len(), 28);
    assert!(openid.starts_with('o'));
    assert_eq!(first["session_key"].as_str().unwrap().len(), 24);
    assert!(first.get("errcode").is_none());
    assert!(first.get("unionid").is_none());

    let second_code = f.login("alice.2").await;
    assert_eq!(second_code["openid"], openid);
    assert_ne!(second_code["session_key"], first["session_key"]);

    let reused = f.login("alice.1").await;
    assert_eq!(reused, json!({"errcode": 40029, "errmsg": "invalid code"}));

    let bob = f.login("bob").await;
    assert_ne!(bob["openid"], openid);
    assert_eq!(f.emulator.calls("/sns/jscode2session"), 4);
    assert_eq!(f.emulator.calls("/cgi-bin/stable_token"), 0);
}

#[tokio::test]
async fn unionid_only_for_u_names() {
    let f = Fixture::new().await;
    let answer = f.login("u_dave.1").await;
    assert_eq!(answer["unionid"], unionid_for("u_dave"));
    assert!(answer["unionid"].as_str().unwrap().starts_with('u'));
    assert!(f.login("dave.1").await.get("unionid").is_none());
}

#[tokio::test]
async fn login_checks_parameters() {
    let f = Fixture::new().await;
    let (appid, secret) = ("wx-emulated-appid", "emulated-secret");
    let grant = "authorization_code";
    let answer = f.login_with("wx-other", secret, "a", grant).await;
    assert_eq!(answer, json!({"errcode": 40013, "errmsg": "invalid appid"}));
    let answer = f.login_with(appid, "wrong", "a", grant).await;
    assert_eq!(
        answer,
        json!({"errcode": 40125, "errmsg": "invalid appsecret"})
    );
    let answer = f.login_with(appid, secret, "", grant).await;
    assert_eq!(answer, json!({"errcode": 41008, "errmsg": "missing code"}));
    let answer = f.login_with(appid, secret, "a", "password").await;
    assert_eq!(errcode(&answer), 40002);
}

#[tokio::test]
async fn err_codes_answer_their_errcode() {
    let f = Fixture::new().await;
    for (code, expected, errmsg) in [
        ("err--1", -1, "system error"),
        ("err-40029", 40029, "invalid code"),
        ("err-45011", 45011, "freq limit"),
    ] {
        let answer = f.login(code).await;
        assert_eq!(answer, json!({"errcode": expected, "errmsg": errmsg}));
    }
    let blocked = f.login("err-40226").await;
    assert_eq!(errcode(&blocked), 40226);
    assert!(blocked["errmsg"].as_str().unwrap().contains("blocked"));
    // Not single-use: asking again gives the same error.
    assert_eq!(errcode(&f.login("err--1").await), -1);
}

#[tokio::test]
async fn busy_once_fails_then_succeeds() {
    let f = Fixture::new().await;
    let first = f.login("busy-once.1").await;
    assert_eq!(first, json!({"errcode": -1, "errmsg": "system error"}));
    let retry = f.login("busy-once.1").await;
    assert_eq!(retry["openid"], openid_for("busy-once"));
    assert_eq!(errcode(&f.login("busy-once.1").await), 40029);
    // Another busy-once code fails once again.
    assert_eq!(errcode(&f.login("busy-once.2").await), -1);
    assert_eq!(f.emulator.calls("/sns/jscode2session"), 4);
}

#[tokio::test]
async fn slow_codes_outlast_a_short_timeout() {
    let f = Fixture::new().await;
    let result = f
        .http
        .get(f.url("/sns/jscode2session"))
        .query(&[
            ("appid", "wx-emulated-appid"),
            ("secret", "emulated-secret"),
            ("js_code", "slow.1"),
            ("grant_type", "authorization_code"),
        ])
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    // Dropping (rather than a graceful stop) does not wait for the sleeping request.
    drop(f);
}

#[tokio::test]
async fn stable_token_is_stable_until_forced() {
    let f = Fixture::new().await;
    let first = f.stable_token(false).await;
    let token = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 136);
    assert!(token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    assert_eq!(first["expires_in"], 7200);
    assert!(first.get("errcode").is_none());

    let again = f.stable_token(false).await;
    assert_eq!(again["access_token"], token.as_str());

    let forced = f.stable_token(true).await;
    let new_token = forced["access_token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    assert_eq!(forced["expires_in"], 7200);
    assert_eq!(
        f.stable_token(false).await["access_token"],
        new_token.as_str()
    );

    // The old token stays valid until it expires.
    assert_eq!(errcode(&f.phone(&token, "phone-13800138000").await), 0);
    assert_eq!(f.emulator.calls("/cgi-bin/stable_token"), 4);
}

#[tokio::test]
async fn stable_token_checks_its_body() {
    let f = Fixture::new().await;
    let path = "/cgi-bin/stable_token";
    let good = json!({
        "grant_type": "client_credential",
        "appid": "wx-emulated-appid",
        "secret": "emulated-secret",
        "force_refresh": false,
    });
    let mut wrong_appid = good.clone();
    wrong_appid["appid"] = json!("wx-other");
    assert_eq!(
        f.post(path, &wrong_appid).await,
        json!({"errcode": 40013, "errmsg": "invalid appid"})
    );
    let mut wrong_secret = good.clone();
    wrong_secret["secret"] = json!("nope");
    assert_eq!(errcode(&f.post(path, &wrong_secret).await), 40125);
    let mut wrong_grant = good.clone();
    wrong_grant["grant_type"] = json!("authorization_code");
    assert_eq!(errcode(&f.post(path, &wrong_grant).await), 40002);

    let malformed: Value = f
        .http
        .post(f.url(path))
        .body("{not json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        malformed,
        json!({"errcode": 47001, "errmsg": "data format error"})
    );
}

#[tokio::test]
async fn tokens_are_checked() {
    let f = Fixture::new().await;
    let invalid = json!({
        "errcode": 40001,
        "errmsg": "invalid credential, access_token is invalid or not latest",
    });
    let answer = f
        .post("/wxa/business/getuserphonenumber", &json!({"code": "x"}))
        .await;
    assert_eq!(answer, invalid);
    assert_eq!(f.phone("never-issued", "x").await, invalid);
    assert_eq!(
        f.phone("expired-token", "x").await,
        json!({"errcode": 42001, "errmsg": "access_token expired"})
    );
    let touser = openid_for("alice");
    let send = json!({"touser": touser, "template_id": "tpl", "data": {}});
    assert_eq!(errcode(&f.send("expired-token", &send).await), 42001);
    assert_eq!(f.send("nope", &send).await, invalid);

    let token = f.token().await;
    f.emulator.expire_access_tokens();
    assert_eq!(errcode(&f.phone(&token, "x").await), 42001);
    let fresh = f.token().await;
    assert_ne!(fresh, token);
    assert_eq!(errcode(&f.phone(&fresh, "x").await), 0);
}

#[tokio::test]
async fn phone_numbers() {
    let f = Fixture::new().await;
    let token = f.token().await;
    let before = unix_now();
    let answer = f.phone(&token, "phone-13800138000").await;
    let timestamp = answer["phone_info"]["watermark"]["timestamp"]
        .as_i64()
        .unwrap();
    assert!(timestamp >= before && timestamp <= unix_now());
    assert_eq!(
        answer,
        json!({
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": "+8613800138000",
                "purePhoneNumber": "13800138000",
                "countryCode": "86",
                "watermark": {"timestamp": timestamp, "appid": "wx-emulated-appid"},
            },
        })
    );
    // Single-use.
    assert_eq!(
        f.phone(&token, "phone-13800138000").await,
        json!({"errcode": 40029, "errmsg": "invalid code"})
    );

    let numeric = f.phone(&token, "phone-numcc-13900139000").await;
    assert_eq!(numeric["phone_info"]["countryCode"], json!(86));
    assert_eq!(numeric["phone_info"]["purePhoneNumber"], "13900139000");

    let other = f.phone(&token, "phone-otherapp-13700137000").await;
    assert_eq!(
        other["phone_info"]["watermark"]["appid"],
        "wx-some-other-app"
    );
    assert_eq!(other["phone_info"]["phoneNumber"], "+8613700137000");

    let derived = f.phone(&token, "some-button-code").await;
    let pure = derived["phone_info"]["purePhoneNumber"].as_str().unwrap();
    assert_eq!(
        pure,
        yiwang_wechat_emulator::phone_for_code("some-button-code")
    );
    assert_eq!(pure.len(), 11);
    assert!(pure.starts_with('1'));
    assert_eq!(derived["phone_info"]["phoneNumber"], format!("+86{pure}"));

    assert_eq!(
        f.phone(&token, "err-40029").await,
        json!({"errcode": 40029, "errmsg": "invalid code"})
    );
    assert_eq!(errcode(&f.phone(&token, "err--1").await), -1);
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn subscribe_send_succeeds_and_reports_errors() {
    let f = Fixture::new().await;
    let token = f.token().await;
    let alice = f.login("alice.1").await["openid"]
        .as_str()
        .unwrap()
        .to_owned();
    let good = json!({
        "touser": alice,
        "template_id": "tpl-claim",
        "page": "pages/claim/detail?id=1",
        "data": {"thing1": {"value": "医疗互助申请已通过"}, "amount2": {"value": "¥300.00"}},
        "miniprogram_state": "formal",
        "lang": "zh_CN",
    });
    let answer = f.send(&token, &good).await;
    assert_eq!(errcode(&answer), 0);
    assert_eq!(answer["errmsg"], "ok");
    let msgid = answer["msgid"].as_u64().unwrap();
    let next = f.send(&token, &good).await["msgid"].as_u64().unwrap();
    assert_ne!(msgid, next);

    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("touser", json!("xyz")), 40003, "invalid openid"),
        (with("template_id", json!("")), 40037, "invalid template_id"),
        (
            with("template_id", json!("bad-tpl")),
            40037,
            "invalid template_id",
        ),
        (with("page", json!("bad/page")), 41030, "invalid page"),
    ];
    for (body, expected, errmsg) in cases {
        assert_eq!(
            f.send(&token, &body).await,
            json!({"errcode": expected, "errmsg": errmsg})
        );
    }

    let too_long = with(
        "data",
        json!({"thing1": {"value": "这是一段超过二十个字符的说明文字，一定会被拒绝的"}}),
    );
    let answer = f.send(&token, &too_long).await;
    assert_eq!(errcode(&answer), 47003);
    assert!(answer["errmsg"]
        .as_str()
        .unwrap()
        .contains("data.thing1.value"));
    for (key, value) in [
        ("number3", "1".repeat(33)),
        ("character_string4", "a".repeat(33)),
        ("phrase5", "六个汉字六个".to_owned()),
        ("name6", "一二三四五六七八九十一".to_owned()),
        ("phone_number7", "1".repeat(18)),
        ("amount8", "¥12345678901".to_owned()),
    ] {
        let body = with("data", json!({ key: {"value": value} }));
        let answer = f.send(&token, &body).await;
        assert_eq!(errcode(&answer), 47003, "{key}");
        assert!(answer["errmsg"].as_str().unwrap().contains(key), "{answer}");
    }

    let refuser = f.login("nosub_eve").await["openid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        f.send(&token, &with("touser", json!(refuser))).await,
        json!({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
    );
    let registered = f.emulator.register_user("frank_nosub");
    assert_eq!(
        errcode(&f.send(&token, &with("touser", json!(registered))).await),
        43101
    );
}

#[tokio::test]
async fn msg_sec_check_verdicts() {
    let f = Fixture::new().await;
    let token = f.token().await;
    let openid = openid_for("alice");
    let check =
        |content: &str| json!({"content": content, "version": 2, "scene": 2, "openid": openid});

    let answer = f.sec_check(&token, &check("今天天气很好")).await;
    assert_eq!(errcode(&answer), 0);
    assert_eq!(answer["errmsg"], "ok");
    assert!(!answer["trace_id"].as_str().unwrap().is_empty());
    assert_eq!(answer["result"], json!({"suggest": "pass", "label": 100}));
    assert_eq!(
        answer["detail"],
        json!([{"strategy": "content_model", "errcode": 0, "suggest": "pass", "label": 100, "prob": 90}])
    );

    for (content, suggest, label) in [
        ("这里有风险", "risky", 20006),
        ("a risky text", "risky", 20006),
        ("内容待审", "review", 21000),
        ("please review", "review", 21000),
    ] {
        let answer = f.sec_check(&token, &check(content)).await;
        assert_eq!(
            answer["result"],
            json!({"suggest": suggest, "label": label}),
            "{content}"
        );
        assert_eq!(answer["detail"][0]["suggest"], suggest);
    }
}

#[tokio::test]
async fn msg_sec_check_errors() {
    let f = Fixture::new().await;
    let token = f.token().await;
    let openid = openid_for("alice");
    let good = json!({"content": "hello", "version": 2, "scene": 1, "openid": openid});
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };

    let mut in_body = good.clone();
    in_body["access_token"] = json!(token);
    assert_eq!(
        f.post("/wxa/msg_sec_check", &in_body).await,
        json!({"errcode": 47001, "errmsg": "data format error"})
    );
    assert_eq!(errcode(&f.sec_check("expired-token", &good).await), 42001);
    assert_eq!(errcode(&f.sec_check("", &good).await), 40001);

    let invalid = json!({"errcode": 40097, "errmsg": "invalid args"});
    assert_eq!(
        f.sec_check(&token, &with("version", json!(1))).await,
        invalid
    );
    assert_eq!(f.sec_check(&token, &with("scene", json!(0))).await, invalid);
    assert_eq!(f.sec_check(&token, &with("scene", json!(5))).await, invalid);
    let long = "字".repeat(2501);
    assert_eq!(
        f.sec_check(&token, &with("content", json!(long))).await,
        invalid
    );
    let longest = "字".repeat(2500);
    let answer = f.sec_check(&token, &with("content", json!(longest))).await;
    assert_eq!(errcode(&answer), 0);

    let stale = f.login("stale_gina").await["openid"].clone();
    assert_eq!(
        errcode(&f.sec_check(&token, &with("openid", stale)).await),
        61010
    );
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let f = Fixture::new().await;
    let response = f.http.get(f.url("/cgi-bin/token")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(f.emulator.calls("/cgi-bin/token"), 1);

    let answer: Value = f
        .http
        .get(f.url("/cgi-bin/stable_token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&answer), 43002);
    let answer: Value = f
        .http
        .post(f.url("/sns/jscode2session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&answer), 43001);
}

#[tokio::test]
async fn sent_messages_are_kept_and_sends_can_be_made_busy() {
    let f = Fixture::new().await;
    let token = f.token().await;
    let alice = f.login("alice.1").await["openid"]
        .as_str()
        .unwrap()
        .to_owned();
    let message = |n: u32| {
        json!({
            "touser": alice,
            "template_id": "tpl-claim",
            "page": format!("pages/claim/detail?id={n}"),
            "data": {"thing1": {"value": "互助金已支付"}},
        })
    };
    assert!(f.emulator.sent_messages().is_empty());
    f.emulator.fail_next_sends(2);
    for _ in 0..2 {
        assert_eq!(
            f.send(&token, &message(1)).await,
            json!({"errcode": -1, "errmsg": "system error"})
        );
    }
    assert!(
        f.emulator.sent_messages().is_empty(),
        "failed sends are not kept"
    );
    assert_eq!(errcode(&f.send(&token, &message(1)).await), 0);
    assert_eq!(errcode(&f.send(&token, &message(2)).await), 0);
    // Refused ones are not kept either.
    assert_eq!(
        errcode(&f.send(&token, &json!({"touser": "x"})).await),
        40003
    );
    assert_eq!(f.emulator.sent_messages(), [message(1), message(2)]);
}
