//! The WeChat server API client (`shared/design/WECHAT.md`), with `reqwest` and a 2 s timeout.
//!
//! - code2Session: errcode -1 is retried once after 200 ms; 40029, 45011, 40226 map to the
//!   [`WeChatError`] variants the API turns into 401, 429 and 403.
//! - stable_token: one token per app in the shared session store under
//!   `wechat:stable_token:{appid}` with TTL `expires_in − 300` s, fetched under a single-flight
//!   lock; on 40001 / 40014 / 42001 from a call, fetched once more and the call retried once.
//! - `session_key` is dropped on arrival: it is never stored, returned or logged.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{instrument, warn};
use yiwang_domain::notification::template::SubscribeMessage;
use yiwang_domain::session::SessionStore;
use yiwang_domain::wechat::{
    ContentCheck, ContentScene, ContentVerdict, WeChatApi, WeChatError, WxIdentity, WxPhone,
};

/// Timeout of every WeChat call (issue #2: "slow past 2 s → 503").
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Where and who we are on WeChat.
#[derive(Debug, Clone)]
pub struct WeChatConfig {
    /// Base URL, `https://api.weixin.qq.com` in production, the emulator's in development.
    pub base_url: String,
    /// The mini-program's AppID.
    pub appid: String,
    /// The mini-program's AppSecret.
    pub secret: SecretString,
    /// `"emulated"` or `"configured"`, reported by `/readyz`.
    pub mode: &'static str,
}

/// The client.
pub struct WeChatClient {
    http: reqwest::Client,
    config: WeChatConfig,
    cache: Arc<dyn SessionStore>,
}

#[derive(Deserialize)]
struct ErrorPart {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

#[derive(Deserialize)]
struct Code2Session {
    openid: String,
    #[serde(default)]
    unionid: Option<String>,
}

#[derive(Deserialize)]
struct StableToken {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneInfo {
    pure_phone_number: String,
    country_code: Value,
    watermark: Watermark,
}

#[derive(Deserialize)]
struct Watermark {
    appid: String,
}

#[derive(Deserialize)]
struct SecCheckResult {
    suggest: String,
    #[serde(default)]
    label: i64,
}

#[derive(Deserialize)]
struct SecCheckAnswer {
    #[serde(default)]
    trace_id: String,
    result: SecCheckResult,
}

#[derive(Deserialize)]
struct PhoneAnswer {
    phone_info: PhoneInfo,
}

fn map_errcode(errcode: i64, errmsg: String) -> WeChatError {
    match errcode {
        -1 => WeChatError::Busy,
        40029 => WeChatError::InvalidCode,
        45011 => WeChatError::RateLimited,
        40226 => WeChatError::Blocked,
        _ => WeChatError::Other { errcode, errmsg },
    }
}

fn unavailable(e: reqwest::Error) -> WeChatError {
    // The URL holds the AppSecret or the access token: never let it into a message.
    WeChatError::Unavailable(e.without_url().to_string())
}

/// Errcodes after which the access token is refetched and the call retried once.
const TOKEN_EXPIRED: [i64; 3] = [40001, 40014, 42001];

impl WeChatClient {
    /// A client; `cache` holds the shared stable_token. Errs when the TLS backend cannot start.
    pub fn new(config: WeChatConfig, cache: Arc<dyn SessionStore>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .build()?;
        Ok(Self {
            http,
            config,
            cache,
        })
    }

    /// Parses an answer: an `errcode` other than 0 is an error, else the body as `T`.
    async fn parse<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, WeChatError> {
        let body: Value = resp.json().await.map_err(unavailable)?;
        let head = ErrorPart::deserialize(&body)
            .map_err(|e| WeChatError::Unavailable(format!("unreadable answer: {e}")))?;
        if head.errcode != 0 {
            return Err(map_errcode(head.errcode, head.errmsg));
        }
        serde_json::from_value(body)
            .map_err(|e| WeChatError::Unavailable(format!("unexpected answer shape: {e}")))
    }

    async fn code_to_session_once(&self, js_code: &str) -> Result<WxIdentity, WeChatError> {
        let url = format!("{}/sns/jscode2session", self.config.base_url);
        let resp = self
            .http
            .get(url)
            .query(&[
                ("appid", self.config.appid.as_str()),
                ("secret", self.config.secret.expose_secret()),
                ("js_code", js_code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .map_err(unavailable)?;
        let s: Code2Session = Self::parse(resp).await?;
        Ok(WxIdentity {
            openid: s.openid,
            unionid: s.unionid.filter(|u| !u.is_empty()),
        })
    }

    fn token_key(&self) -> String {
        format!("wechat:stable_token:{}", self.config.appid)
    }

    /// The shared access token: from the cache, or fetched under a single-flight lock.
    async fn access_token(&self, refetch: bool) -> Result<String, WeChatError> {
        let key = self.token_key();
        let cache_err = |e: yiwang_domain::session::SessionStoreError| {
            WeChatError::Unavailable(format!("token cache: {e}"))
        };
        if !refetch {
            if let Some(t) = self.cache.cache_get(&key).await.map_err(cache_err)? {
                return Ok(t);
            }
        }
        // Single flight: one process fetches, the others wait for its result (≤ 2 s).
        for _ in 0..20 {
            if self.cache.try_lock(&key, 5).await.map_err(cache_err)? {
                let fetched = self.fetch_stable_token().await;
                if let Ok((token, expires_in)) = &fetched {
                    let ttl = expires_in.saturating_sub(300).max(60);
                    self.cache
                        .cache_set(&key, token, ttl)
                        .await
                        .map_err(cache_err)?;
                }
                self.cache.unlock(&key).await.map_err(cache_err)?;
                return fetched.map(|(t, _)| t);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(t) = self.cache.cache_get(&key).await.map_err(cache_err)? {
                return Ok(t);
            }
        }
        Err(WeChatError::Unavailable(
            "waited too long for the access token".into(),
        ))
    }

    async fn fetch_stable_token(&self) -> Result<(String, u64), WeChatError> {
        let url = format!("{}/cgi-bin/stable_token", self.config.base_url);
        let resp = self
            .http
            .post(url)
            .json(&json!({
                "grant_type": "client_credential",
                "appid": self.config.appid,
                "secret": self.config.secret.expose_secret(),
                "force_refresh": false,
            }))
            .send()
            .await
            .map_err(unavailable)?;
        let t: StableToken = Self::parse(resp).await?;
        Ok((t.access_token, t.expires_in))
    }

    /// POSTs `body` to `path?access_token=…`, refetching the token and retrying once when
    /// WeChat says it expired.
    async fn call_with_token<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, WeChatError> {
        let url = format!("{}{path}", self.config.base_url);
        let mut refetch = false;
        loop {
            let token = self.access_token(refetch).await?;
            let resp = self
                .http
                .post(&url)
                .query(&[("access_token", token.as_str())])
                .json(body)
                .send()
                .await
                .map_err(unavailable)?;
            match Self::parse(resp).await {
                Err(WeChatError::Other { errcode, .. })
                    if !refetch && TOKEN_EXPIRED.contains(&errcode) =>
                {
                    warn!(errcode, "wechat access token rejected; fetching a new one");
                    refetch = true;
                }
                other => return other,
            }
        }
    }
}

#[async_trait]
impl WeChatApi for WeChatClient {
    #[instrument(skip_all)]
    async fn code_to_session(&self, js_code: &str) -> Result<WxIdentity, WeChatError> {
        match self.code_to_session_once(js_code).await {
            Err(WeChatError::Busy) => {
                warn!("code2Session answered -1 (busy); retrying once");
                tokio::time::sleep(Duration::from_millis(200)).await;
                self.code_to_session_once(js_code).await
            }
            other => other,
        }
    }

    #[instrument(skip_all)]
    async fn phone_number(&self, code: &str) -> Result<WxPhone, WeChatError> {
        let answer: PhoneAnswer = self
            .call_with_token("/wxa/business/getuserphonenumber", &json!({ "code": code }))
            .await?;
        let info = answer.phone_info;
        if info.watermark.appid != self.config.appid {
            return Err(WeChatError::WatermarkMismatch);
        }
        let country_code = match info.country_code {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => return Err(WeChatError::Unavailable(format!("countryCode {other}"))),
        };
        Ok(WxPhone {
            pure_phone_number: info.pure_phone_number,
            country_code,
        })
    }

    #[instrument(skip_all)]
    async fn check_text(
        &self,
        openid: &str,
        scene: ContentScene,
        content: &str,
    ) -> Result<ContentCheck, WeChatError> {
        let body = json!({
            "content": content,
            "version": 2,
            "scene": scene as i64,
            "openid": openid,
        });
        let answer: SecCheckAnswer = self.call_with_token("/wxa/msg_sec_check", &body).await?;
        let verdict = match answer.result.suggest.as_str() {
            "pass" => ContentVerdict::Pass,
            "review" => ContentVerdict::Review,
            "risky" => ContentVerdict::Risky,
            other => {
                return Err(WeChatError::Unavailable(format!(
                    "msgSecCheck suggest {other:?}"
                )))
            }
        };
        Ok(ContentCheck {
            verdict,
            label: answer.result.label,
            trace_id: answer.trace_id,
        })
    }

    #[instrument(skip_all)]
    async fn send_subscribe_message(
        &self,
        openid: &str,
        message: &SubscribeMessage,
        miniprogram_state: &str,
        lang: &str,
    ) -> Result<(), WeChatError> {
        let data: serde_json::Map<String, Value> = message
            .data
            .iter()
            .map(|(key, value)| (key.clone(), json!({ "value": value })))
            .collect();
        let body = json!({
            "touser": openid,
            "template_id": message.template_id,
            "page": message.page,
            "data": data,
            "miniprogram_state": miniprogram_state,
            "lang": lang,
        });
        let _: Value = self
            .call_with_token("/cgi-bin/message/subscribe/send", &body)
            .await?;
        Ok(())
    }

    fn mode(&self) -> &'static str {
        self.config.mode
    }
}
