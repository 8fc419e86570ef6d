//! Per-client-address limits: public lookups (issue #4: "lookup needs no login; it is
//! rate-limited per client address") — the service points and the public lists of
//! organisations and mailbox letters — and WeChat logins (issue 18, item 9: each is an upstream
//! code2Session call against the AppID's quota). `per_minute` requests a minute per address.
//!
//! Two checks, both must pass:
//! - a GCRA token bucket from `governor` in this process (burst of `per_minute`), which answers
//!   without a round trip and holds even when the shared store is away;
//! - in the production shape, a count per address and clock minute in the shared session store
//!   (Redis), so N replicas behind one balancer still allow `per_minute` a minute in all, not N
//!   times that. A fixed window: at a minute's turn a client can get up to twice the limit.
//!   When the store cannot be reached the local bucket alone decides (logged), so a Redis
//!   outage does not close the public lookups.
//!
//! The client address is the connection's peer, unless the peer is one of the configured
//! trusted proxies (`YIWANG_TRUSTED_PROXIES`): then it is the right-most address of
//! `X-Forwarded-For` that is not a trusted proxy. `X-Forwarded-For` from anyone else is
//! ignored, so a client cannot choose its own bucket.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use yiwang_domain::session::SessionStore;

use crate::error::ApiError;
use crate::state::AppState;

/// Buckets per client address.
pub struct AddressLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    per_minute: u32,
    shared: Option<Arc<dyn SessionStore>>,
    trusted: Vec<IpNet>,
    what_zh: &'static str,
    what_en: &'static str,
}

impl AddressLimiter {
    /// `per_minute` requests a minute per address (at least 1), burst of the same size;
    /// `shared` is the store whose counts every replica sees (`None` in the embedded shape,
    /// where this process is the only one); `trusted` are the proxies whose `X-Forwarded-For`
    /// is believed; `what_zh`/`what_en` name what is limited in the refusal ("查询", "lookups")
    /// and, in English, the shared counter.
    pub fn new(
        per_minute: u32,
        shared: Option<Arc<dyn SessionStore>>,
        trusted: Vec<IpNet>,
        what_zh: &'static str,
        what_en: &'static str,
    ) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)),
            per_minute: n.get(),
            shared,
            trusted,
            what_zh,
            what_en,
        }
    }

    /// The address `req` comes from: its peer, or behind a trusted proxy the right-most
    /// untrusted `X-Forwarded-For` entry. `None` without a peer (a test request).
    pub fn client(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        Some(client_address(peer, &forwarded, &self.trusted))
    }

    /// Takes one request from `ip`'s bucket and, in the production shape, from its shared count
    /// of this minute; 429 `rate_limited` with `Retry-After` when either is spent.
    pub async fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        if let Err(not_until) = self.limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(self.refusal(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)));
        }
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let now = chrono::Utc::now().timestamp();
        let minute = now.div_euclid(60);
        let key = format!("rate:{}:{ip}:{minute}", self.what_en);
        match shared.count(&key, 60).await {
            Ok(n) if n > self.per_minute => {
                let left = 60 - now.rem_euclid(60);
                Err(self.refusal(u64::try_from(left).unwrap_or(60)))
            }
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, limit = self.what_en, "shared rate count unavailable; the local bucket decides");
                Ok(())
            }
        }
    }

    /// 429 `rate_limited`: try again in `secs` seconds.
    fn refusal(&self, secs: u64) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{}过于频繁，请 {secs} 秒后再试", self.what_zh),
            format!(
                "Too many {} from this address; try again in {secs} s",
                self.what_en
            ),
        )
        .retry_after(secs)
    }

    /// Takes one request of `req`'s client (nothing without a peer).
    pub async fn check_request(&self, req: &HttpRequest) -> Result<(), ApiError> {
        match self.client(req) {
            Some(ip) => self.check(ip).await,
            None => Ok(()),
        }
    }

    /// Drops the buckets of addresses that are full again, so memory follows active clients.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The client behind `peer`: `peer` itself unless it is in `trusted`; then the right-most
/// entry of `forwarded` (an `X-Forwarded-For` value, comma-separated) that is not in `trusted`
/// (the left-most when all are), skipping what does not parse as an address. RFC 7239 §5.2's
/// advice for `for=`, applied to the common header.
pub fn client_address(peer: IpAddr, forwarded: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = forwarded
        .split(',')
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// Extracting this takes one request from the caller's lookup bucket (429 when it is empty).
#[derive(Debug)]
pub struct Lookup;

impl FromRequest for Lookup {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(state) = req.app_data::<web::Data<AppState>>() {
                state.lookup_limiter.check_request(&req).await?;
            }
            Ok(Lookup)
        })
    }
}

/// Extracting this takes one request from the caller's WeChat-login bucket (429 when empty).
#[derive(Debug)]
pub struct LoginAttempt;

impl FromRequest for LoginAttempt {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(state) = req.app_data::<web::Data<AppState>>() {
                state.login_limiter.check_request(&req).await?;
            }
            Ok(LoginAttempt)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let chain = "203.0.113.9, 198.51.100.7, 10.0.0.3";
        // From anyone else, the header is the client's own words.
        assert_eq!(
            client_address(ip("198.51.100.1"), chain, &trusted),
            ip("198.51.100.1")
        );
        // Behind the proxy: the right-most hop the proxies did not add.
        assert_eq!(
            client_address(ip("10.0.0.2"), chain, &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_address(ip("10.0.0.2"), "", &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_address(ip("10.0.0.2"), "junk, 10.1.1.1", &trusted),
            ip("10.1.1.1")
        );
        assert_eq!(client_address(ip("10.0.0.2"), chain, &[]), ip("10.0.0.2"));
    }
}
