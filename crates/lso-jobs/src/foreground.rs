//! Requests come first. While the process is answering requests, background steps wait for a
//! moment with none in flight before they start, yet never longer than a bound: a burst of
//! requests slows the steps (they catch up once it has passed), it never starves them.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// The requests a process is answering, shared by what answers them and what waits for them.
#[derive(Clone, Default)]
pub struct Foreground(Arc<Counter>);

#[derive(Default)]
struct Counter {
    in_flight: AtomicUsize,
    /// Told of each request that arrives.
    arrival: Notify,
    /// Told when the last request in flight has been answered.
    quiet: Notify,
}

/// How long no request must come for the process to be quiet: under a steady load the count in
/// flight touches zero between one answer and the next request.
const GAP: Duration = Duration::from_millis(2);

/// One request being answered, until it is dropped.
pub struct Answering(Arc<Counter>);

impl Foreground {
    /// Counts a request as answered until the returned guard is dropped.
    pub fn answering(&self) -> Answering {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        self.0.arrival.notify_waiters();
        Answering(self.0.clone())
    }

    /// How many requests are being answered now.
    pub fn in_flight(&self) -> usize {
        self.0.in_flight.load(Ordering::SeqCst)
    }

    /// Resolves once no request has been in flight for a moment (true), or after `at_most`
    /// (false), whichever comes first.
    pub async fn quiet(&self, at_most: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + at_most;
        loop {
            // Listen before looking, so an answer or an arrival between the two still wakes it.
            let mut answered = pin!(self.0.quiet.notified());
            answered.as_mut().enable();
            let mut arrival = pin!(self.0.arrival.notified());
            arrival.as_mut().enable();
            if self.in_flight() == 0 {
                // Quiet when no request arrives within a gap; one that does makes it look again.
                let gap = deadline.min(tokio::time::Instant::now() + GAP);
                if tokio::time::timeout_at(gap, arrival).await.is_err() {
                    return true;
                }
            } else if tokio::time::timeout_at(deadline, answered).await.is_err() {
                return false;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
        }
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.quiet.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::{Context, Waker};

    const LONG: Duration = Duration::from_secs(3600);

    fn pending<F: Future>(future: std::pin::Pin<&mut F>) -> bool {
        future.poll(&mut Context::from_waker(Waker::noop())).is_pending()
    }

    #[tokio::test(start_paused = true)]
    async fn with_nothing_in_flight_it_does_not_wait() {
        let foreground = Foreground::default();
        let start = tokio::time::Instant::now();
        assert!(foreground.quiet(LONG).await);
        assert_eq!(start.elapsed(), GAP, "it waited only to see that no request comes");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_the_gap_makes_it_look_again() {
        let foreground = Foreground::default();
        let start = tokio::time::Instant::now();
        let mut quiet = pin!(foreground.quiet(LONG));
        assert!(pending(quiet.as_mut()), "it waits for the gap");
        tokio::time::advance(GAP / 2).await;
        drop(foreground.answering());
        assert!(quiet.await);
        assert_eq!(start.elapsed(), GAP / 2 + GAP, "a request came and went half-way through the first gap");
    }

    #[tokio::test(start_paused = true)]
    async fn it_waits_for_the_last_answer_in_flight() {
        let foreground = Foreground::default();
        let first = foreground.answering();
        let second = foreground.answering();
        assert_eq!(foreground.in_flight(), 2);
        let start = tokio::time::Instant::now();
        let mut quiet = pin!(foreground.quiet(LONG));
        assert!(pending(quiet.as_mut()), "two requests are in flight");
        drop(first);
        assert!(pending(quiet.as_mut()), "one request is still in flight");
        drop(second);
        assert!(quiet.await);
        assert_eq!(foreground.in_flight(), 0);
        assert_eq!(start.elapsed(), GAP, "it went on a gap after the last answer, not at the bound");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_never_ends_delays_it_by_the_bound_only() {
        let foreground = Foreground::default();
        let _endless = foreground.answering();
        let start = tokio::time::Instant::now();
        assert!(!foreground.quiet(Duration::from_millis(250)).await);
        assert_eq!(start.elapsed(), Duration::from_millis(250));
    }
}
