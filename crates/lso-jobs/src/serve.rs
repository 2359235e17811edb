//! The loop of a background runner of the process (the job worker, the notification
//! dispatcher): do what is due, then wait until the next is due or new work is committed.

use lso_store::StoreError;
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

/// A background runner: does what is due, and knows when the next item will be.
pub trait Runner: Sync {
    /// What it is, in its log lines.
    const NAME: &'static str;
    /// The least it waits before it looks again, in milliseconds.
    const FLOOR_MILLIS: i64;
    /// Does what is due now.
    fn try_next(&self) -> impl Future<Output = Result<Outcome, StoreError>> + Send;
    /// When the next item is due, if any is waiting.
    fn next_due(&self) -> impl Future<Output = Option<i64>> + Send;
    /// Now, by its clock, in milliseconds.
    fn now(&self) -> i64;
}

/// Runs `runner` until `shutdown` turns true: again at once after it did some work; else once
/// the next item is due (at most a minute on), or sooner when one of `wakes` is notified. It
/// listens before it looks, so work committed while it looks still wakes it.
pub async fn serve<R: Runner>(runner: &R, wakes: &[Arc<Notify>], mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        let mut woken: Vec<_> = wakes.iter().map(|w| Box::pin(w.notified())).collect();
        for wait in &mut woken {
            wait.as_mut().enable();
        }
        let pause = match runner.try_next().await {
            Ok(Outcome::Done(_)) => continue,
            Ok(Outcome::Empty) => {
                let wait =
                    runner.next_due().await.map_or(60_000, |at| (at - runner.now()).clamp(R::FLOOR_MILLIS, 60_000));
                Duration::from_millis(wait as u64)
            }
            Err(err) => {
                tracing::error!(error = %err, "the {} could not look for due work", R::NAME);
                Duration::from_secs(1)
            }
        };
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
