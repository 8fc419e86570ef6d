//! The WeChat server APIs the backend calls (`shared/design/WECHAT.md`), as a port.

use async_trait::async_trait;

use crate::notification::template::SubscribeMessage;

/// What code2Session gives for a `wx.login()` code. `session_key` is deliberately absent:
/// it never leaves the adapter (WECHAT.md, "session_key never leaves the server").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxIdentity {
    /// The user's id within this mini-program.
    pub openid: String,
    /// The user's id across the Open Platform account, when the app is bound to one.
    pub unionid: Option<String>,
}

/// A phone number from getuserphonenumber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxPhone {
    /// The number without country code (`purePhoneNumber`).
    pub pure_phone_number: String,
    /// Country calling code (`countryCode`), e.g. `86`; WeChat sends it as text or number.
    pub country_code: String,
}

/// Why a WeChat call failed, mapped from `errcode` (WECHAT.md tables).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeChatError {
    /// 40029: the code is used, expired or not ours; the client should get a new one.
    #[error("invalid code (40029)")]
    InvalidCode,
    /// -1 answered twice (the adapter retries once): WeChat is busy.
    #[error("wechat busy (-1)")]
    Busy,
    /// 45011: rate limited (100 calls per user per minute).
    #[error("rate limited (45011)")]
    RateLimited,
    /// 40226: high-risk user, login blocked by WeChat.
    #[error("user blocked by wechat (40226)")]
    Blocked,
    /// No answer within the timeout (2 s), connection refused, or an answer that is not JSON.
    #[error("wechat unreachable: {0}")]
    Unavailable(String),
    /// The phone number's watermark names another app.
    #[error("watermark appid mismatch")]
    WatermarkMismatch,
    /// Any other errcode.
    #[error("wechat error {errcode}: {errmsg}")]
    Other {
        /// WeChat's errcode.
        errcode: i64,
        /// WeChat's errmsg.
        errmsg: String,
    },
}

/// Where user text is shown, msgSecCheck's `scene` (WECHAT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentScene {
    /// 1: a profile.
    Profile = 1,
    /// 2: a comment (reviews).
    Comment = 2,
    /// 3: a forum post (consultations, letters).
    Forum = 3,
    /// 4: a social log.
    SocialLog = 4,
}

/// msgSecCheck's verdict, `result.suggest` (WECHAT.md): `errcode` 0 only means the call worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentVerdict {
    /// `pass`: may be shown.
    Pass,
    /// `review`: hold for a person.
    Review,
    /// `risky`: refuse.
    Risky,
}

/// What msgSecCheck said about one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentCheck {
    /// The verdict.
    pub verdict: ContentVerdict,
    /// `result.label`: 100 normal, 20001 politics, 20006 illegal, … (WECHAT.md).
    pub label: i64,
    /// WeChat's `trace_id`, kept with the text.
    pub trace_id: String,
}

/// The WeChat server APIs.
#[async_trait]
pub trait WeChatApi: Send + Sync {
    /// code2Session (`GET /sns/jscode2session`): exchanges a `wx.login()` code.
    async fn code_to_session(&self, js_code: &str) -> Result<WxIdentity, WeChatError>;
    /// getuserphonenumber: exchanges a `getPhoneNumber` button code, with the cached
    /// stable_token; checks `watermark.appid`.
    async fn phone_number(&self, code: &str) -> Result<WxPhone, WeChatError>;
    /// msgSecCheck v2 (`POST /wxa/msg_sec_check`): checks user text before anyone else sees
    /// it. `openid` is the author's; they must have opened the mini-program in the last two
    /// hours (else WeChat answers 61010, an `Other` error). At most 2,500 characters.
    async fn check_text(
        &self,
        openid: &str,
        scene: ContentScene,
        content: &str,
    ) -> Result<ContentCheck, WeChatError>;
    /// subscribeMessage.send (`POST /cgi-bin/message/subscribe/send`): one message to the
    /// worker `openid`, spending one of their one-time subscriptions on WeChat's side.
    /// `miniprogram_state` is `developer`, `trial` or `formal`; `lang` `zh_CN` and the like.
    /// 43101 (nothing left), 47003 (bad data), 40037 (bad template) and 41030 (bad page) come
    /// back as `Other` with their errcode.
    async fn send_subscribe_message(
        &self,
        openid: &str,
        message: &SubscribeMessage,
        miniprogram_state: &str,
        lang: &str,
    ) -> Result<(), WeChatError>;
    /// `"emulated"` when pointed at the built-in emulator, else `"configured"`.
    fn mode(&self) -> &'static str;
}
