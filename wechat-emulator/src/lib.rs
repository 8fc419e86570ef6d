//! A local HTTP server that answers the WeChat server APIs yiwang calls, exactly as
//! `shared/design/WECHAT.md` documents them (same paths, query parameters, JSON field names and
//! errcodes).
//!
//! It is used by the real server in its development mode (started in-process) and by the
//! black-box tests. Start it with [`Emulator::start`], point the backend's WeChat base URL at
//! [`Emulator::base_url`], and ask for each behaviour with the magic values below.
//!
//! Like WeChat, every error is answered with HTTP 200 and a body `{"errcode": N, "errmsg": "..."}`.
//! Only unknown paths answer HTTP 404. A known path called with the wrong method answers
//! 43001 `require GET method` / 43002 `require POST method`, as WeChat does.
//!
//! # How to ask for each behaviour
//!
//! ## `GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`
//!
//! Checked in this order:
//!
//! | request | answer |
//! |---|---|
//! | `appid` missing or not the configured one | `40013 invalid appid` |
//! | `secret` missing or not the configured one | `40125 invalid appsecret` |
//! | `js_code` missing or empty | `41008 missing code` |
//! | `grant_type` not `authorization_code` | `40002 invalid grant_type` |
//! | `js_code=err-N` (N an integer, may be negative: `err--1`, `err-40029`, `err-45011`, `err-40226`) | errcode `N` with its documented meaning (see [the errmsg table](#errmsg-table)) |
//! | `js_code=busy-once.<anything>` | the first request with that exact code answers `-1 system error`; the next one succeeds as user `busy-once` (then the code is used up like any other) |
//! | `js_code` starting with `slow` | waits 3 seconds, then answers like a normal code (tests a client's timeout) |
//! | any other `js_code` | success; the part before the first `.` names the user (`alice.1` and `alice.2` are two codes of user `alice`; a code without `.` is its own user) |
//! | a code already used once successfully | `40029 invalid code` (codes are single-use) |
//!
//! Success: `{"openid": ..., "session_key": ...}` plus `"unionid"` **only** when the user name
//! starts with `u_`. There is no `errcode` on success. The openid is [`openid_for`]`(user)`
//! (`o` + 27 characters, deterministic), the unionid is [`unionid_for`]`(user)` (`u` + 27
//! characters, deterministic), the `session_key` is base64 of 16 random bytes.
//!
//! ## `POST /cgi-bin/stable_token` with `{"grant_type", "appid", "secret", "force_refresh"}`
//!
//! | request | answer |
//! |---|---|
//! | body not a JSON object, or `force_refresh` present but not a boolean | `47001 data format error` |
//! | `appid` missing or wrong | `40013 invalid appid` |
//! | `secret` missing or wrong | `40125 invalid appsecret` |
//! | `grant_type` not `client_credential` | `40002 invalid grant_type` |
//! | `force_refresh` false or absent | the current token while more than 300 s of its life are left (as WeChat: the same token until about five minutes before expiry), otherwise a new one |
//! | `force_refresh: true` | a new token; earlier tokens stay valid until they expire |
//!
//! Success: `{"access_token": <136 characters of [A-Za-z0-9_-]>, "expires_in": <seconds left>}`;
//! `expires_in` is 7200 for a fresh token and counts down when the same token is returned again.
//! Tokens expire after 7200 s real time; [`Emulator::expire_access_tokens`] expires them at once.
//!
//! ## Access token checks (getuserphonenumber, subscribe send, msg_sec_check)
//!
//! | `access_token` query parameter | answer |
//! |---|---|
//! | missing, empty or never issued | `40001 invalid credential, access_token is invalid or not latest` |
//! | `expired-token`, or an issued token past its expiry | `42001 access_token expired` |
//!
//! ## `POST /wxa/business/getuserphonenumber?access_token=TOKEN` with `{"code"}`
//!
//! | request | answer |
//! |---|---|
//! | token problems | see above |
//! | body not a JSON object | `47001 data format error` |
//! | `code` missing or empty | `41008 missing code` |
//! | `code=err-N` | errcode `N` (e.g. `40029 invalid code`, `-1 system error`) |
//! | a code already used once successfully | `40029 invalid code` (codes are single-use) |
//! | `code=phone-<digits>` (e.g. `phone-13800138000`) | success with that number |
//! | `code=phone-numcc-<digits>` | success with that number and `"countryCode": 86` as a JSON **number** |
//! | `code=phone-otherapp-<digits>` | success with that number and watermark appid `wx-some-other-app` |
//! | any other code | success with [`phone_for_code`]`(code)`, a deterministic 11-digit mobile number starting with `1` |
//!
//! Success: `{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"+8613800138000",
//! "purePhoneNumber":"13800138000","countryCode":"86","watermark":{"timestamp":<unix seconds>,
//! "appid":<configured appid>}}}`.
//!
//! ## `POST /cgi-bin/message/subscribe/send?access_token=TOKEN`
//!
//! Body `{"touser", "template_id", "page"?, "data", "miniprogram_state"?, "lang"?}`, checked in
//! this order:
//!
//! | request | answer |
//! |---|---|
//! | token problems | see above |
//! | body not a JSON object | `47001 data format error` |
//! | `touser` missing or not starting with `o` | `40003 invalid openid` |
//! | `template_id` missing, empty or starting with `bad` | `40037 invalid template_id` |
//! | `page` starting with `bad` | `41030 invalid page` |
//! | `data` missing or not an object, an entry without a string `value`, an empty value, or a value over its limit | `47003 argument invalid! data.<key>.value ...` naming the field |
//! | `miniprogram_state` not `developer`/`trial`/`formal`, or `lang` not `zh_CN`/`en_US`/`zh_HK`/`zh_TW` | `47003 argument invalid! ...` |
//! | [`Emulator::fail_next_sends`] asked for failures and some are left | `-1 system error` |
//! | `touser` is the openid of a user whose name contains `nosub` | `43101 user refuse to accept the msg` |
//! | otherwise | `{"errcode":0,"errmsg":"ok","msgid":<u64>}`; the body is kept for [`Emulator::sent_messages`] |
//!
//! Value limits, chosen by the key without its trailing digits (`thing1` → `thing`), counted in
//! characters: `thing` ≤ 20; `number` ≤ 32 digits (one decimal point allowed); `character_string`
//! ≤ 32; `phrase` ≤ 5; `name` ≤ 10; `phone_number` ≤ 17; `amount` = an optional single currency
//! sign (`¥ ￥ $ € £`), ≤ 10 digits with an optional decimal point, and an optional trailing `元`.
//! Other kinds (`time`, `date`, ...) are only checked to be non-empty.
//! The name behind an openid is known from earlier `jscode2session` calls (or from
//! [`Emulator::register_user`]).
//!
//! ## `POST /wxa/msg_sec_check?access_token=TOKEN` with `{"content", "version": 2, "scene", "openid"}`
//!
//! | request | answer |
//! |---|---|
//! | body not a JSON object | `47001 data format error` |
//! | `access_token` in the body and not in the query | `47001 data format error` |
//! | token problems | see above |
//! | `version` not 2, `scene` not 1..=4, `content` missing or longer than 2500 characters | `40097 invalid args` |
//! | `openid` missing or not starting with `o` | `40003 invalid openid` |
//! | `openid` of a user whose name contains `stale` | `61010 user has not opened the mini-program in the last 2 hours` |
//! | `content` containing `风险` or `risky` | verdict `risky`, label 20006 |
//! | `content` containing `待审` or `review` | verdict `review`, label 21000 |
//! | otherwise | verdict `pass`, label 100 |
//!
//! Success: `{"errcode":0,"errmsg":"ok","trace_id":<random>,"result":{"suggest":..,"label":..},
//! "detail":[{"strategy":"content_model","errcode":0,"suggest":..,"label":..,"prob":90}]}`.
//!
//! ## errmsg table
//!
//! `err-N` codes answer with these messages (any other N answers `emulated error N`):
//!
//! | errcode | errmsg |
//! |---|---|
//! | -1 | `system error` |
//! | 40001 | `invalid credential, access_token is invalid or not latest` |
//! | 40002 | `invalid grant_type` |
//! | 40003 | `invalid openid` |
//! | 40013 | `invalid appid` |
//! | 40014 | `invalid access_token` |
//! | 40029 | `invalid code` |
//! | 40037 | `invalid template_id` |
//! | 40097 | `invalid args` |
//! | 40125 | `invalid appsecret` |
//! | 40163 | `code been used` |
//! | 40226 | `user is blocked: high risk user` |
//! | 41008 | `missing code` |
//! | 41030 | `invalid page` |
//! | 42001 | `access_token expired` |
//! | 43101 | `user refuse to accept the msg` |
//! | 45009 | `reach max api daily quota limit` |
//! | 45011 | `freq limit` |
//! | 47001 | `data format error` |
//! | 47003 | `argument invalid!` |
//! | 61010 | `user has not opened the mini-program in the last 2 hours` |
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use yiwang_wechat_emulator::{Emulator, EmulatorConfig};
//! let emulator = Emulator::start(EmulatorConfig::default()).await?;
//! let base = emulator.base_url(); // "http://127.0.0.1:PORT"
//! // ... point the backend at `base`, log in with js_code "alice.1" ...
//! assert_eq!(emulator.calls("/sns/jscode2session"), 0);
//! emulator.stop().await;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod codec;
mod handlers;
mod state;
mod validate;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{ServerHandle, Service};
use actix_web::{web, App, HttpServer};

pub use codec::{openid_for, phone_for_code, unionid_for};
use state::Shared;

/// The app credentials the emulator accepts.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// The mini-program's appid; also the `watermark.appid` of phone numbers.
    pub appid: String,
    /// The app secret.
    pub secret: String,
}

impl Default for EmulatorConfig {
    /// appid `wx-emulated-appid`, secret `emulated-secret`.
    fn default() -> Self {
        Self {
            appid: "wx-emulated-appid".to_owned(),
            secret: "emulated-secret".to_owned(),
        }
    }
}

/// A running WeChat emulator. Dropping it stops the server without waiting; prefer
/// [`Emulator::stop`].
pub struct Emulator {
    base_url: String,
    shared: Arc<Shared>,
    handle: ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url)
            .field("appid", &self.shared.config.appid)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Binds 127.0.0.1:0 (one worker), spawns the server on the current tokio runtime and
    /// returns at once. Must be called inside a tokio runtime.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::new(config));
        let for_server = Arc::clone(&shared);
        let server = HttpServer::new(move || {
            let counter = Arc::clone(&for_server);
            App::new()
                .app_data(web::Data::from(Arc::clone(&for_server)))
                .wrap_fn(move |req, srv| {
                    counter.count_call(req.path());
                    srv.call(req)
                })
                .configure(handlers::routes)
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        tracing::info!(port, "WeChat emulator listening");
        Ok(Emulator {
            base_url: format!("http://127.0.0.1:{port}"),
            shared,
            handle,
            task: Some(task),
        })
    }

    /// The base URL to use instead of `https://api.weixin.qq.com`: `http://127.0.0.1:PORT`,
    /// without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The appid the emulator accepts.
    pub fn appid(&self) -> &str {
        &self.shared.config.appid
    }

    /// The app secret the emulator accepts.
    pub fn secret(&self) -> &str {
        &self.shared.config.secret
    }

    /// How many requests reached the given path so far (e.g. `"/sns/jscode2session"`), whatever
    /// their answer; for tests that check retries and caching.
    pub fn calls(&self, path: &str) -> usize {
        self.shared.calls(path)
    }

    /// Makes every access token issued so far expired: using one answers 42001, and the next
    /// `stable_token` call issues a new one. Lets a client's refresh-and-retry be tested.
    pub fn expire_access_tokens(&self) {
        self.shared.expire_tokens();
    }

    /// Records the user name behind an openid as `jscode2session` does, without a login: the
    /// returned openid is [`openid_for`]`(user)`. Names containing `nosub` or `stale` then trigger
    /// 43101 and 61010 for that openid.
    pub fn register_user(&self, user: &str) -> String {
        self.shared.register_user(user)
    }

    /// The body of every subscribe message sent successfully so far, in order (`touser`,
    /// `template_id`, `page`, `data`, `miniprogram_state`, `lang` as the client sent them).
    pub fn sent_messages(&self) -> Vec<serde_json::Value> {
        self.shared.lock().sent.clone()
    }

    /// Makes the next `n` subscribe sends (that pass the token check) answer `-1 system
    /// error`, as WeChat does when it is busy; lets a sender's retries be tested.
    pub fn fail_next_sends(&self, n: u32) {
        self.shared.lock().failing_sends = n;
    }

    /// Stops the server gracefully and waits until it has stopped.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            if let Err(error) = task.await {
                tracing::warn!(%error, "WeChat emulator task failed");
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if self.task.is_some() {
            // The stop command is sent when `stop` is called; the returned future only waits.
            drop(self.handle.stop(false));
        }
    }
}
