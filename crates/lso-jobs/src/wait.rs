//! Waiting for work to happen: look, and look again after each commit.

use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Calls `look` until it gives an answer, again after each time `committed` is notified (and
/// at least every second, in case a commit came between a look and the wait that follows it),
/// for `within` at most; the answer, or `None` if there was none by then.
pub async fn until_committed<T>(
    committed: &Notify,
    within: Duration,
    mut look: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        let next = committed.notified();
        tokio::pin!(next);
        next.as_mut().enable();
        if let Some(answer) = look().await {
            return Some(answer);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        let _ = tokio::time::timeout((deadline - now).min(Duration::from_secs(1)), next).await;
    }
}
