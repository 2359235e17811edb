//! The worker on a SQLite store: handlers by kind, exactly-once commits, retries, and waiting
//! for commits.

use super::*;
use lso_model::FixedClock;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Counts its jobs' steps: each `count` job writes a record per step and asks again once.
struct Counter {
    steps: AtomicUsize,
    failures_left: AtomicUsize,
    wake: Arc<Notify>,
    seen: Mutex<Vec<String>>,
}

impl JobHandler for Counter {
    fn handles(&self, kind: &str) -> bool {
        kind == "count"
    }

    fn run<'a>(&'a self, job: &'a Job) -> Pin<Box<dyn Future<Output = StepResult> + Send + 'a>> {
        Box::pin(async move {
            if self.failures_left.load(Ordering::SeqCst) > 0 {
                self.failures_left.fetch_sub(1, Ordering::SeqCst);
                return Err(JobFailure { retry_now: true, message: "not yet".into() });
            }
            let step = self.steps.fetch_add(1, Ordering::SeqCst);
            self.seen.lock().unwrap().push(job.key.clone());
            let record = lso_store::Record {
                kind: "counted".into(),
                id: format!("{}-{step}", job.key),
                tenant: String::new(),
                version: 1,
                doc: "{}".into(),
            };
            let write = WriteOp::Insert { record, index: Vec::new() };
            Ok((vec![write], if step == 0 { Step::Again { at: 0 } } else { Step::Done }))
        })
    }

    fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

fn counter(failures: usize) -> Arc<Counter> {
    Arc::new(Counter {
        steps: AtomicUsize::new(0),
        failures_left: AtomicUsize::new(failures),
        wake: Arc::new(Notify::new()),
        seen: Mutex::new(Vec::new()),
    })
}

/// A worker on a fixed clock at one second and a fresh store, with a counter failing its first
/// `failures` steps.
fn at_one_second(failures: usize) -> (tempfile::TempDir, Store, Arc<Counter>, Worker) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lso.db")).unwrap();
    let handler = counter(failures);
    let worker = Worker::new(store.clone(), Arc::new(FixedClock::at(1_000))).with_handler(handler.clone());
    (dir, store, handler, worker)
}

fn enqueue(kind: &str, key: &str) -> WriteOp {
    WriteOp::Enqueue { kind: kind.into(), key: key.into(), payload: String::new(), run_at: 0 }
}

async fn counted(store: &Store) -> u64 {
    let query = lso_store::ListQuery { kind: "counted".into(), tenant: None, filters: Vec::new(), offset: 0, limit: 1 };
    store.list(query).await.unwrap().total.at_least()
}

#[tokio::test]
async fn each_kind_goes_to_its_handler_and_each_step_commits_once() {
    let (_dir, store, handler, worker) = at_one_second(0);
    store.apply(vec![enqueue("count", "a")]).await.unwrap();
    assert_eq!(worker.try_execute_next().await.unwrap(), Outcome::Done(1));
    assert_eq!(worker.try_execute_next().await.unwrap(), Outcome::Done(1), "asked again at once");
    assert_eq!(worker.try_execute_next().await.unwrap(), Outcome::Empty);
    assert_eq!((counted(&store).await, handler.seen.lock().unwrap().clone()), (2, vec!["a".into(), "a".into()]));
}

#[tokio::test]
async fn a_failed_step_is_tried_again_and_a_kind_without_handler_waits() {
    let (_dir, store, _, worker) = at_one_second(1);
    store.apply(vec![enqueue("count", "a"), enqueue("unknown", "b")]).await.unwrap();
    assert_eq!(worker.try_execute_next().await.unwrap(), Outcome::Done(2));
    // The conflict is retried at once; the unknown kind after a delay (2 s after its first try, doubling), so not now.
    assert_eq!(worker.try_execute_next().await.unwrap(), Outcome::Done(1));
    assert_eq!(worker.try_execute_next().await.unwrap(), Outcome::Done(1));
    assert_eq!(worker.try_execute_next().await.unwrap(), Outcome::Empty);
    assert_eq!(counted(&store).await, 2);
    assert_eq!(
        store.next_job_time().await.unwrap(),
        Some(3_000),
        "the unknown kind waits two seconds after its first try"
    );
}

#[tokio::test]
async fn a_worker_yielding_to_requests_waits_for_them_a_bounded_time_only() {
    let (_dir, store, _, worker) = at_one_second(0);
    let foreground = Foreground::default();
    let worker = worker.yielding_to(foreground.clone());
    store.apply(vec![enqueue("count", "a")]).await.unwrap();
    let _endless = foreground.answering();
    let start = std::time::Instant::now();
    assert_eq!(worker.try_execute_next().await.unwrap(), Outcome::Done(1), "a request in flight slows it, no more");
    assert!(start.elapsed() >= YIELD_AT_MOST, "it gave way to the request first");
    assert_eq!(counted(&store).await, 1);
}

#[tokio::test]
async fn a_waiter_sees_what_a_running_worker_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lso.db")).unwrap();
    let handler = counter(0);
    let worker = Worker::new(store.clone(), Arc::new(lso_model::SystemClock)).with_handler(handler.clone());
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(worker.run(stopped));
    store.apply(vec![enqueue("count", "a")]).await.unwrap();
    handler.wake.notify_waiters();
    let done =
        until_committed(&handler.wake, Duration::from_secs(60), async || (counted(&store).await == 2).then_some(()))
            .await;
    assert_eq!(done, Some(()));
    let never = until_committed(&handler.wake, Duration::from_millis(10), async || None::<()>).await;
    assert_eq!(never, None);
    stop.send(true).unwrap();
    running.await.unwrap();
}
