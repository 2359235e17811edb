//! The job runtime of one `lso` process. Background work is durable rows in the store; each
//! entity (the BUS, the SOF, the partners) registers a [`JobHandler`] for its own job kinds,
//! and one [`Worker`] claims the due jobs of every kind with a lease (renewed while a step runs,
//! [`lease`]), runs each step through
//! its handler, and commits the step's writes together with finishing or rescheduling the job,
//! so a step takes effect exactly once however often it runs.
//!
//! [`until_committed`] is how anything outside (a test, the demo, a benchmark) waits for work
//! to happen: it looks again after each commit, never on a timer alone.

mod foreground;
mod handler;
pub mod lease;
mod serve;
mod wait;

pub use foreground::{Answering, Foreground};
pub use handler::{JobFailure, JobHandler, Step, StepResult};
pub use serve::{Outcome, Runner, serve};
pub use wait::until_committed;

use lso_model::Clock;
use lso_store::{Job, Leased, Store, StoreError, WriteOp};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

/// Runs the due jobs of every registered kind.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    clock: Arc<dyn Clock>,
    handlers: Vec<Arc<dyn JobHandler>>,
    batch: usize,
    foreground: Option<Foreground>,
}

/// The longest a batch of steps waits for the requests in flight to be answered.
pub const YIELD_AT_MOST: Duration = Duration::from_millis(250);

impl Worker {
    /// A worker over `store`, telling time by `clock`, with no handler yet.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Worker { store, clock, handlers: Vec::new(), batch: 128, foreground: None }
    }

    /// Lets the requests of `foreground` go first: each batch of steps waits for a moment with
    /// none in flight, at most [`YIELD_AT_MOST`].
    pub fn yielding_to(mut self, foreground: Foreground) -> Self {
        self.foreground = Some(foreground);
        self
    }

    /// Also runs the jobs `handler` handles.
    pub fn with_handler(mut self, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.push(handler);
        self
    }

    /// Runs every job due now, each committed on its own.
    pub async fn try_execute_next(&self) -> Result<Outcome, StoreError> {
        let mut batch = self.batch;
        if let Some(foreground) = &self.foreground
            && !foreground.quiet(YIELD_AT_MOST).await
        {
            // Still answering: a smaller batch, so the steps hold up fewer answers.
            batch /= 4;
        }
        let now = self.clock.now_millis();
        let jobs = self.store.claim_jobs(now, lease::LEASE_MILLIS, batch).await?;
        if jobs.is_empty() {
            return Ok(Outcome::Empty);
        }
        let count = jobs.len();
        let held = jobs.iter().map(|j| j.id).collect();
        let mut running = JoinSet::new();
        for job in jobs {
            let worker = self.clone();
            running.spawn(async move {
                let id = job.id;
                worker.run_job(job).await;
                (id, ())
            });
        }
        lease::join_renewing(&self.store, &*self.clock, Leased::Jobs, held, &mut running).await;
        Ok(Outcome::Done(count))
    }

    /// Works until `shutdown` turns true, waiting until the next job is due or a handler
    /// commits new work.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let wakes: Vec<Arc<Notify>> = self.handlers.iter().map(|h| h.wake()).collect();
        serve(&self, &wakes, shutdown).await
    }

    /// Runs one step of `job` in a span that continues the trace of the work that enqueued it
    /// (unrecorded, for routine work).
    async fn run_job(&self, job: Job) {
        let span = tracing::info_span!(
            "job",
            otel.name = %job.kind,
            job.key = %job.key,
            job.attempt = job.attempts,
            trace_id = tracing::field::Empty,
        );
        let handler = self.handlers.iter().find(|h| h.handles(&job.kind));
        if handler.is_some_and(|h| !h.traced(&job.kind)) {
            lso_transport::trace::unrecorded(&span);
        } else {
            lso_transport::trace::continue_trace(&span, job.trace.as_deref());
        }
        self.step(job, handler).instrument(span).await
    }

    /// Runs one step of `job` and commits its writes with the job's next state; a step that
    /// fails is tried again later, at once if the resource changed meanwhile.
    async fn step(&self, job: Job, handler: Option<&Arc<dyn JobHandler>>) {
        let result = match handler {
            Some(handler) => handler.run(&job).await,
            None => Err(JobFailure { retry_now: false, message: format!("no handler runs jobs of kind {}", job.kind) }),
        };
        let outcome = match result {
            Ok((mut ops, step)) => {
                ops.push(match step {
                    Step::Done => WriteOp::FinishJob { id: job.id, generation: job.generation },
                    Step::Again { at } => {
                        WriteOp::RetryJob { id: job.id, generation: job.generation, run_at: at, error: String::new() }
                    }
                });
                let committed = self.commit(handler, ops).await.map_err(|err| JobFailure {
                    retry_now: matches!(err, StoreError::Conflict(_)),
                    message: err.to_string(),
                });
                if let (Ok(()), Some(handler)) = (&committed, handler) {
                    handler.committed(&job);
                }
                committed
            }
            Err(failure) => Err(failure),
        };
        if let Err(failure) = outcome {
            // A conflict means the resource changed meanwhile: look again at once. Anything else
            // is retried with a growing delay.
            let delay = if failure.retry_now { 0 } else { 1000 * 2i64.pow(job.attempts.clamp(0, 10) as u32) };
            tracing::warn!(job = %job.kind, key = %job.key, attempts = job.attempts, error = %failure.message, "job step failed");
            let run_at = self.clock.now_millis() + delay;
            let retry = WriteOp::RetryJob { id: job.id, generation: job.generation, run_at, error: failure.message };
            if let Err(err) = self.commit(handler, vec![retry]).await {
                tracing::error!(error = %err, "could not reschedule a job; its lease will expire");
            }
        }
    }

    /// Commits `ops`, then wakes whoever waits on `handler`'s commits.
    async fn commit(&self, handler: Option<&Arc<dyn JobHandler>>, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.store.apply(ops).await?;
        if let Some(handler) = handler {
            handler.wake().notify_waiters();
        }
        Ok(())
    }
}

impl Runner for Worker {
    const NAME: &'static str = "worker";
    const FLOOR_MILLIS: i64 = 1;

    async fn try_next(&self) -> Result<Outcome, StoreError> {
        self.try_execute_next().await
    }

    async fn next_due(&self) -> Option<i64> {
        self.store.next_job_time().await.ok().flatten()
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }
}

#[cfg(test)]
mod tests;
