//! Rate limits answered by this service itself, as 429 `rate_limit` with `Retry-After`:
//! - the per-API-key limit on our callers (`RATE_LIMIT_PER_MINUTE`, `RATE_LIMIT_BURST`), a GCRA
//!   from `governor` keyed by the API key id, checked by the `Authenticated` extractor; answers
//!   carry the IETF draft's `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`;
//! - the refusal for an Ayrshare profile that is held off (see `crate::ayrshare::hold_off`).
//!
//! Both are per replica: state lives in this process's memory, so N replicas behind a load
//! balancer let a key through up to N times the configured rate.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::Map;
use uuid::Uuid;

use super::error::{ApiError, ErrorCode, error_body};
use crate::ayrshare::retry_after_secs;
use crate::telemetry::metrics::{self, RefusalKind};

/// How many checks between two sweeps of keys whose bucket is full again (memory bound).
const SWEEP_EVERY: u64 = 4096;

type Limiter = DefaultKeyedRateLimiter<Uuid, StateInformationMiddleware>;

/// The per-API-key limit. Cheap to share (`Arc`); off when built with 0 requests per minute.
pub struct KeyRateLimit {
    limiter: Option<Limiter>,
    checks: AtomicU64,
}

impl std::fmt::Debug for KeyRateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRateLimit")
            .field("enabled", &self.limiter.is_some())
            .finish()
    }
}

impl KeyRateLimit {
    /// `per_minute` requests a minute sustained, with up to `burst` at once; `per_minute == 0`
    /// turns the limit off (and so does `burst == 0`, which would refuse everything).
    pub fn new(per_minute: u32, burst: u32) -> KeyRateLimit {
        let limiter =
            NonZeroU32::new(per_minute)
                .zip(NonZeroU32::new(burst))
                .map(|(per_minute, burst)| {
                    RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
                        .with_middleware::<StateInformationMiddleware>()
                });
        KeyRateLimit {
            limiter,
            checks: AtomicU64::new(0),
        }
    }

    /// No limit.
    pub fn disabled() -> KeyRateLimit {
        KeyRateLimit::new(0, 0)
    }

    /// Counts one request of the key: `Ok` with the headers to send (none when the limit is
    /// off), or the refusal to answer.
    pub fn check(&self, api_key_id: Uuid) -> Result<Option<RateLimitStatus>, RateLimitRefusal> {
        let Some(limiter) = &self.limiter else {
            return Ok(None);
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        match limiter.check_key(&api_key_id) {
            Ok(snapshot) => {
                let quota = snapshot.quota();
                let limit = quota.burst_size().get();
                let remaining = snapshot.remaining_burst_capacity();
                // Every used cell comes back after one replenish interval.
                let refill = quota.replenish_interval() * (limit - remaining);
                Ok(Some(RateLimitStatus {
                    limit,
                    remaining,
                    reset_secs: retry_after_secs(refill),
                }))
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(limiter.clock().now());
                let retry_after = retry_after_secs(wait);
                Err(RateLimitRefusal {
                    detail: format!(
                        "this API key is over its rate limit of {} requests per minute \
                         (bursts of {}); retry after {retry_after} seconds",
                        per_minute(not_until.quota()),
                        not_until.quota().burst_size()
                    ),
                    retry_after_secs: retry_after,
                    status: Some(RateLimitStatus {
                        limit: not_until.quota().burst_size().get(),
                        remaining: 0,
                        reset_secs: retry_after,
                    }),
                })
            }
        }
    }
}

fn per_minute(quota: Quota) -> u64 {
    let nanos = quota.replenish_interval().as_nanos().max(1);
    (Duration::from_secs(60).as_nanos() / nanos) as u64
}

/// A key's standing, as the IETF draft's headers say it: `RateLimit-Limit` (the burst),
/// `RateLimit-Remaining` (requests that may follow at once), `RateLimit-Reset` (seconds until
/// the key is back to a full burst, or on a refusal until the next request may go).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
}

impl RateLimitStatus {
    /// Sets the three headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(self.reset_secs));
    }
}

/// A 429 `rate_limit` this service answers itself, without calling Ayrshare or writing a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct RateLimitRefusal {
    pub detail: String,
    /// Whole seconds, at least 1.
    pub retry_after_secs: u64,
    /// The per-key headers, for a refusal by the per-key limit.
    pub status: Option<RateLimitStatus>,
}

impl IntoResponse for RateLimitRefusal {
    fn into_response(self) -> Response {
        let mut response = error_body(
            ErrorCode::RateLimit.status(),
            ErrorCode::RateLimit.code(),
            &self.detail,
            Map::new(),
        );
        let headers = response.headers_mut();
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_secs),
        );
        if let Some(status) = self.status {
            status.apply(headers);
        }
        response
    }
}

/// Counts the authenticated request against its key's limit: refused over it, otherwise its
/// standing is left for `add_headers`. Called by the `Authenticated` extractor.
pub fn admit(
    limit: &KeyRateLimit,
    api_key_id: Uuid,
    parts: &axum::http::request::Parts,
) -> Result<(), ApiError> {
    match limit.check(api_key_id) {
        Ok(Some(status)) => {
            if let Some(slot) = parts.extensions.get::<StatusSlot>() {
                slot.set(status);
            }
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(refusal) => {
            metrics::rate_limit_refused(RefusalKind::ApiKey);
            tracing::info!(api_key_id = %api_key_id, retry_after_secs = refusal.retry_after_secs, "api key over its rate limit");
            Err(ApiError::RateLimited(refusal))
        }
    }
}

/// Where the `Authenticated` extractor leaves the key's standing for `add_headers` to put on the
/// response (an extractor cannot touch the response itself).
#[derive(Clone, Debug, Default)]
pub struct StatusSlot(Arc<Mutex<Option<RateLimitStatus>>>);

impl StatusSlot {
    /// Records the standing of the request's key.
    pub fn set(&self, status: RateLimitStatus) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
    }

    fn take(&self) -> Option<RateLimitStatus> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Middleware: puts the `RateLimit-*` headers of the request's key on its response (when the
/// request was authenticated and the limit is on). A refusal carries its own.
pub async fn add_headers(mut request: Request, next: Next) -> Response {
    let slot = StatusSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some(status) = slot.take() {
        status.apply(response.headers_mut());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_passes_then_the_key_is_refused_and_other_keys_are_not() {
        let limit = KeyRateLimit::new(1, 2);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = limit.check(a).unwrap().unwrap();
        assert_eq!((first.limit, first.remaining), (2, 1));
        assert_eq!(first.reset_secs, 60);
        let second = limit.check(a).unwrap().unwrap();
        assert_eq!((second.limit, second.remaining), (2, 0));
        assert!((119..=120).contains(&second.reset_secs), "{second:?}");

        let refusal = limit.check(a).unwrap_err();
        assert!((59..=60).contains(&refusal.retry_after_secs), "{refusal:?}");
        let status = refusal.status.unwrap();
        assert_eq!((status.limit, status.remaining), (2, 0));
        assert_eq!(status.reset_secs, refusal.retry_after_secs);
        assert!(
            refusal.detail.contains("1 requests per minute"),
            "{}",
            refusal.detail
        );

        assert!(limit.check(b).is_ok());
    }

    #[test]
    fn zero_per_minute_turns_the_limit_off() {
        let limit = KeyRateLimit::new(0, 60);
        let key = Uuid::new_v4();
        for _ in 0..1000 {
            assert_eq!(limit.check(key), Ok(None));
        }
        assert_eq!(KeyRateLimit::disabled().check(key), Ok(None));
    }

    #[test]
    fn keys_back_to_a_full_burst_are_swept_so_memory_stays_bounded() {
        // One request a millisecond: a key used once is back to a full burst 1 ms later.
        let limit = KeyRateLimit::new(60_000, 10);
        for _ in 0..SWEEP_EVERY - 1 {
            limit.check(Uuid::new_v4()).unwrap();
        }
        assert_eq!(
            limit.limiter.as_ref().unwrap().len() as u64,
            SWEEP_EVERY - 1
        );
        std::thread::sleep(Duration::from_millis(20));
        // This check sweeps first: only its own key is left.
        limit.check(Uuid::new_v4()).unwrap();
        assert_eq!(limit.limiter.as_ref().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_refusal_is_a_json_429_with_every_header() {
        let limit = KeyRateLimit::new(1, 1);
        let key = Uuid::new_v4();
        limit.check(key).unwrap();
        let response = limit.check(key).unwrap_err().into_response();
        assert_eq!(response.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "application/json");
        let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((59..=60).contains(&retry_after));
        assert_eq!(headers["ratelimit-limit"], "1");
        assert_eq!(headers["ratelimit-remaining"], "0");
        assert_eq!(headers["ratelimit-reset"], headers["retry-after"]);
        let body = axum::body::to_bytes(response.into_body(), 10_000)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "rate_limit");
        assert!(body["detail"].as_str().unwrap().contains("retry after"));
    }
}
