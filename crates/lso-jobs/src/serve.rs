//! The loop of a background runner of the process (the job worker, the notification
//! dispatcher): do what is due, then wait until the next is due or new work is committed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::futures::Notified;
use tokio::sync::{Notify, watch};

/// What one look for due work did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Did this many (jobs run, deliveries attempted).
    Done(usize),
    /// Nothing was due.
    Empty,
}

/// How long to wait for the next item due at `next` (if any) at `now`: at least `floor` ms,
/// at most a minute, so that a runner also looks again now and then.
pub fn until_due(next: Option<i64>, now: i64, floor: i64) -> Duration {
    Duration::from_millis(next.map_or(60_000, |at| (at - now).clamp(floor, 60_000)) as u64)
}

/// Runs `look` until `shutdown` turns true. `look` does the work due now and says when to look
/// again: `None` at once (it did some), `Some(pause)` after `pause`, or sooner when one of
/// `wakes` is notified. It listens before it looks, so work committed while it looks still
/// wakes it.
pub async fn serve<F>(wakes: &[Arc<Notify>], mut shutdown: watch::Receiver<bool>, mut look: impl FnMut() -> F)
where
    F: Future<Output = Option<Duration>>,
{
    while !*shutdown.borrow() {
        let mut woken: Vec<_> = wakes.iter().map(|w| Box::pin(w.notified())).collect();
        for wait in &mut woken {
            wait.as_mut().enable();
        }
        let Some(pause) = look().await else { continue };
        tokio::select! {
            _ = any_notified(woken) => {}
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Until one of `waits` is notified (never, if there is none).
async fn any_notified(mut waits: Vec<Pin<Box<Notified<'_>>>>) {
    if waits.is_empty() {
        return std::future::pending().await;
    }
    std::future::poll_fn(move |cx| {
        for wait in waits.iter_mut() {
            if wait.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await
}
