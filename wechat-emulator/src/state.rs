//! The emulator's memory, shared by the handlers.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::codec;
use crate::EmulatorConfig;

/// How long an access token lives.
pub(crate) const TOKEN_LIFETIME: Duration = Duration::from_secs(7200);
/// stable_token in normal mode hands out a new token once less than this is left.
const TOKEN_RENEW_BEFORE: Duration = Duration::from_secs(300);
/// Length of an access token.
const TOKEN_LEN: usize = 136;

/// Configuration plus mutable state.
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    state: Mutex<State>,
}

/// Everything the emulator remembers.
#[derive(Default)]
pub(crate) struct State {
    /// `js_code`s that logged in successfully.
    pub(crate) used_login_codes: HashSet<String>,
    /// `busy-once.*` codes that already answered -1.
    pub(crate) busy_seen: HashSet<String>,
    /// Phone codes that answered successfully.
    pub(crate) used_phone_codes: HashSet<String>,
    /// Every issued access token and when it expires.
    tokens: HashMap<String, Instant>,
    /// The token stable_token hands out in normal mode.
    current_token: Option<String>,
    /// openid → user name, filled by jscode2session.
    pub(crate) users: HashMap<String, String>,
    /// Requests per path.
    calls: HashMap<String, usize>,
    /// Last msgid handed out by subscribe send.
    pub(crate) last_msgid: u64,
    /// The body of every subscribe message sent successfully, in order.
    pub(crate) sent: Vec<serde_json::Value>,
    /// How many more subscribe sends answer `-1 system error` (set by tests).
    pub(crate) failing_sends: u32,
}

/// The outcome of checking an access token.
pub(crate) enum TokenCheck {
    Valid,
    Invalid,
    Expired,
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State {
                last_msgid: 2_048_000_000_000_000,
                ..State::default()
            }),
        }
    }

    /// Locks the state; a handler that panicked cannot leave it inconsistent in a way that
    /// matters to an emulator, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn count_call(&self, path: &str) {
        *self.lock().calls.entry(path.to_owned()).or_default() += 1;
    }

    pub(crate) fn calls(&self, path: &str) -> usize {
        self.lock().calls.get(path).copied().unwrap_or(0)
    }

    pub(crate) fn expire_tokens(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        for expiry in state.tokens.values_mut() {
            *expiry = now;
        }
        state.current_token = None;
    }

    pub(crate) fn register_user(&self, user: &str) -> String {
        let openid = codec::openid_for(user);
        self.lock().users.insert(openid.clone(), user.to_owned());
        openid
    }
}

impl State {
    /// The token for stable_token and its remaining lifetime in whole seconds (rounded up).
    pub(crate) fn stable_token(&mut self, force_refresh: bool) -> (String, u64) {
        let now = Instant::now();
        if !force_refresh {
            if let Some(token) = &self.current_token {
                if let Some(expiry) = self.tokens.get(token) {
                    let left = expiry.saturating_duration_since(now);
                    if left > TOKEN_RENEW_BEFORE {
                        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                        return (token.clone(), secs);
                    }
                }
            }
        }
        let token = codec::random_token(TOKEN_LEN);
        self.tokens.insert(token.clone(), now + TOKEN_LIFETIME);
        self.current_token = Some(token.clone());
        (token, TOKEN_LIFETIME.as_secs())
    }

    /// Checks an `access_token` query parameter.
    pub(crate) fn check_token(&self, token: Option<&str>) -> TokenCheck {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return TokenCheck::Invalid;
        };
        if token == "expired-token" {
            return TokenCheck::Expired;
        }
        match self.tokens.get(token) {
            Some(expiry) if *expiry > Instant::now() => TokenCheck::Valid,
            Some(_) => TokenCheck::Expired,
            None => TokenCheck::Invalid,
        }
    }

    /// The user name behind an openid, if a login told us.
    pub(crate) fn user_of(&self, openid: &str) -> Option<&str> {
        self.users.get(openid).map(String::as_str)
    }
}
