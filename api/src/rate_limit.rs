//! The per-client-address limit on public lookups (issue #4: "lookup needs no login; it is
//! rate-limited per client address"), a GCRA token bucket from `governor`: `per_minute`
//! requests a minute, as many again in a burst. Each process keeps its own buckets, so with
//! N processes behind one address balancer a client gets at most N times the limit.
//!
//! The client address is the connection's peer; behind a reverse proxy every client shares the
//! proxy's address, so the proxy should do its own limiting.

use std::future::{ready, Ready};
use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;
use crate::state::AppState;

/// Buckets per client address.
pub struct LookupLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl LookupLimiter {
    /// `per_minute` requests a minute per address (at least 1), burst of the same size.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)),
        }
    }

    /// Takes one request from `ip`'s bucket; 429 `rate_limited` with `Retry-After` when empty.
    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("查询过于频繁，请 {secs} 秒后再试"),
                format!("Too many lookups from this address; try again in {secs} s"),
            )
            .retry_after(secs)
        })
    }

    /// Drops the buckets of addresses that are full again, so memory follows active clients.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Extracting this takes one request from the caller's bucket (429 when it is empty).
#[derive(Debug)]
pub struct Lookup;

impl FromRequest for Lookup {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (Some(state), Some(peer)) = (req.app_data::<web::Data<AppState>>(), req.peer_addr())
        else {
            return ready(Ok(Lookup));
        };
        ready(state.lookup_limiter.check(peer.ip()).map(|()| Lookup))
    }
}
