//! A job's step runs in the trace of the work that enqueued it, unless its kind is routine.
//! (A test binary of its own: it installs the process's one `tracing` subscriber.)

use lso_jobs::{JobHandler, Outcome, Step, StepResult, Worker};
use lso_model::FixedClock;
use lso_store::{Job, Store, WriteOp};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

/// Notes the trace context each step of its jobs runs in; `measure` jobs are routine.
#[derive(Default)]
struct Traces {
    wake: Arc<Notify>,
    seen: Mutex<Vec<(String, String)>>,
}

impl JobHandler for Traces {
    fn handles(&self, kind: &str) -> bool {
        kind == "order" || kind == "measure"
    }

    fn run<'a>(&'a self, job: &'a Job) -> Pin<Box<dyn Future<Output = StepResult> + Send + 'a>> {
        let context = lso_transport::trace::current().unwrap_or_default();
        self.seen.lock().unwrap().push((job.kind.clone(), context));
        Box::pin(async { Ok((Vec::new(), Step::Done)) })
    }

    fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    fn traced(&self, kind: &str) -> bool {
        kind != "measure"
    }
}

fn enqueue(kind: &str, key: &str) -> WriteOp {
    WriteOp::Enqueue { kind: kind.into(), key: key.into(), payload: String::new(), run_at: 0 }
}

#[tokio::test]
async fn a_step_continues_the_trace_of_its_enqueuer_unless_its_kind_is_routine() {
    let traces = lso_transport::trace::Tracing::local("test");
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(traces.layer())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lso.db")).unwrap();
    let handler = Arc::new(Traces::default());
    let worker = Worker::new(store.clone(), Arc::new(FixedClock::at(1_000))).with_handler(handler.clone());

    // Enqueued by a request a caller traces (a span of `lso`'s, as the layer records only those).
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let request = tracing::info_span!(target: "lso_server", "request", trace_id = tracing::field::Empty);
    lso_transport::trace::continue_trace(&request, Some(&format!("00-{trace}-b7ad6b7169203331-01")));
    store.apply(vec![enqueue("order", "o1"), enqueue("measure", "m1")]).instrument(request).await.unwrap();
    assert_eq!(worker.try_execute_next().await.unwrap(), Outcome::Done(2));

    let mut seen = handler.seen.lock().unwrap().clone();
    seen.sort();
    let parts = |context: &str| -> Vec<String> { context.split('-').map(str::to_owned).collect() };
    let (measure, order) = (parts(&seen[0].1), parts(&seen[1].1));
    assert_eq!((seen[1].0.as_str(), order[1].as_str(), order[3].as_str()), ("order", trace, "01"), "{seen:?}");
    assert_eq!(seen[0].0, "measure");
    assert!(measure[1] != trace && measure[3] == "00", "routine work is a trace of its own, unrecorded: {measure:?}");
}
