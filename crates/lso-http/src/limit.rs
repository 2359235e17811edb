//! Rate limiting per client: a token bucket for each (the OAuth 2.0 client, or the token's
//! subject), filled at `rate` per second up to `burst`. A request over the limit is refused
//! with 429 and `Retry-After`; other clients are not affected.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle ones are forgotten.
const FORGET_OVER: usize = 10_000;

/// The rate limits of one server.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `rate` requests per second per client, `burst` at once.
    pub fn new(rate: f64, burst: f64) -> Self {
        RateLimiter { rate, burst: burst.max(1.0), buckets: Mutex::default() }
    }

    /// Takes a request of `client` from its bucket; 429 (with how long to wait) if it is empty.
    pub fn admit(&self, client: &str) -> Result<(), crate::ApiError> {
        self.take(client).map_err(|wait| crate::ApiError::TooManyRequests(wait.as_secs_f64().ceil().max(1.0) as u64))
    }

    /// Takes a request of `client` from its bucket; how long to wait if it is empty.
    pub fn take(&self, client: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > FORGET_OVER {
            // A bucket full again is no different from a new one.
            let full_after = Duration::from_secs_f64(self.burst / self.rate);
            buckets.retain(|_, (_, at)| now.duration_since(*at) < full_after);
        }
        let (tokens, at) = buckets.entry(client.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_burst_waits_and_others_do_not() {
        let limiter = RateLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(limiter.take("a").is_ok());
        }
        let wait = limiter.take("a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.take("b").is_ok());
    }
}
