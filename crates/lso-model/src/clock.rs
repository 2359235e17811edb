//! Injected sources of time and identifiers, so tests are reproducible.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// Now, in milliseconds since 1970-01-01T00:00:00Z.
    fn now_millis(&self) -> i64;

    /// Now, in whole seconds since 1970-01-01T00:00:00Z.
    fn now_seconds(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods, reason = "the one read of the wall clock; everything else asks a Clock")]
    fn now_millis(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as i64
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct FixedClock(Mutex<i64>);

impl FixedClock {
    /// A clock standing at `millis`.
    pub fn at(millis: i64) -> Self {
        FixedClock(Mutex::new(millis))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += by.as_millis() as i64;
    }
}

impl Clock for FixedClock {
    fn now_millis(&self) -> i64 {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A source of unique resource identifiers.
pub trait IdGen: Send + Sync + 'static {
    /// A new identifier, never returned before.
    fn next_id(&self) -> String;
}

/// Identifiers `{prefix}-1`, `{prefix}-2`, … for tests.
#[derive(Debug)]
pub struct SequentialIds {
    prefix: String,
    next: AtomicU64,
}

impl SequentialIds {
    /// Identifiers starting at `{prefix}-1`.
    pub fn new(prefix: &str) -> Self {
        SequentialIds { prefix: prefix.to_owned(), next: AtomicU64::new(1) }
    }
}

impl IdGen for SequentialIds {
    fn next_id(&self) -> String {
        format!("{}-{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed))
    }
}
