//! Per-client-address limits, each a GCRA token bucket from `governor`: public lookups
//! (issue #4: "lookup needs no login; it is rate-limited per client address") — the service
//! points and the public lists of organisations and mailbox letters — and WeChat logins (issue
//! 18, item 9: each is an upstream code2Session call against the AppID's quota). `per_minute`
//! requests a minute, as many again in a burst. Each process keeps its own buckets, so with N
//! processes behind one balancer a client gets at most N times the limit.
//!
//! The client address is the connection's peer, unless the peer is one of the configured
//! trusted proxies (`YIWANG_TRUSTED_PROXIES`): then it is the right-most address of
//! `X-Forwarded-For` that is not a trusted proxy. `X-Forwarded-For` from anyone else is
//! ignored, so a client cannot choose its own bucket.

use std::future::{ready, Ready};
use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::error::ApiError;
use crate::state::AppState;

/// Buckets per client address.
pub struct AddressLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    trusted: Vec<IpNet>,
    what_zh: &'static str,
    what_en: &'static str,
}

impl AddressLimiter {
    /// `per_minute` requests a minute per address (at least 1), burst of the same size;
    /// `trusted` are the proxies whose `X-Forwarded-For` is believed; `what_zh`/`what_en`
    /// name what is limited in the refusal ("查询", "lookups").
    pub fn new(
        per_minute: u32,
        trusted: Vec<IpNet>,
        what_zh: &'static str,
        what_en: &'static str,
    ) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)),
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

    /// Takes one request from `ip`'s bucket; 429 `rate_limited` with `Retry-After` when empty.
    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
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
        })
    }

    /// Takes one request of `req`'s client (nothing without a peer).
    pub fn check_request(&self, req: &HttpRequest) -> Result<(), ApiError> {
        self.client(req).map_or(Ok(()), |ip| self.check(ip))
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
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Ok(Lookup));
        };
        ready(state.lookup_limiter.check_request(req).map(|()| Lookup))
    }
}

/// Extracting this takes one request from the caller's WeChat-login bucket (429 when empty).
#[derive(Debug)]
pub struct LoginAttempt;

impl FromRequest for LoginAttempt {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Ok(LoginAttempt));
        };
        ready(
            state
                .login_limiter
                .check_request(req)
                .map(|()| LoginAttempt),
        )
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
