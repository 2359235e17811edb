//! The job worker: claims due jobs, runs their step, and commits the step's writes together
//! with finishing or rescheduling the job, so a job's effects happen exactly once. Jobs of
//! other entities of the process (the SOF's) go to their [`JobHandler`].

use crate::charges::EXPIRE_CHARGE;
use crate::engine::Step;
use crate::ordering::ADVANCE_ORDER;
use crate::qualification::ADVANCE_POQ;
use crate::quote::{ADVANCE_QUOTE, EXPIRE_QUOTE};
use crate::tasks::{ADVANCE_CANCEL, ADVANCE_MODIFY};
use crate::ticket::ADVANCE_TICKET;
use crate::workforce::ADVANCE_VISIT;
use crate::{Bus, BusError};
use lso_store::{Job, JobFailure, JobHandler, WriteOp};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What one round of the worker did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ran this many jobs.
    Done(usize),
    /// Nothing was due.
    Empty,
}

/// Runs the BUS's background jobs.
#[derive(Clone)]
pub struct Worker {
    bus: Arc<Bus>,
    handlers: Vec<Arc<dyn JobHandler>>,
    batch: usize,
}

const LEASE_MILLIS: i64 = 60_000;

impl Worker {
    /// A worker for `bus`.
    pub fn new(bus: Arc<Bus>) -> Self {
        Worker { bus, handlers: Vec::new(), batch: 128 }
    }

    /// Also runs the jobs `handler` handles.
    pub fn with_handler(mut self, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.push(handler);
        self
    }

    /// Runs every job due now, each committed on its own.
    pub async fn try_execute_next(&self) -> Result<Outcome, BusError> {
        let now = self.bus.clock.now_millis();
        let jobs = self.bus.store.claim_jobs(now, LEASE_MILLIS, self.batch).await?;
        if jobs.is_empty() {
            return Ok(Outcome::Empty);
        }
        let count = jobs.len();
        let mut running = JoinSet::new();
        for job in jobs {
            let bus = self.bus.clone();
            let handler = self.handlers.iter().find(|h| h.handles(&job.kind)).cloned();
            running.spawn(async move { run_job(&bus, handler.as_deref(), job).await });
        }
        while let Some(joined) = running.join_next().await {
            if let Err(err) = joined {
                tracing::error!(error = %err, "a job panicked");
            }
        }
        Ok(Outcome::Done(count))
    }

    /// Works until `shutdown` turns true, sleeping until the next job is due or new work is
    /// committed.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let wake = self.bus.wake();
        let handler_wakes: Vec<_> = self.handlers.iter().map(|h| h.wake()).collect();
        while !*shutdown.borrow() {
            let pause = match self.try_execute_next().await {
                Ok(Outcome::Done(_)) => continue,
                Ok(Outcome::Empty) => {
                    let next = self.bus.store.next_job_time().await.ok().flatten();
                    let now = self.bus.clock.now_millis();
                    Duration::from_millis(next.map_or(60_000, |at| (at - now).clamp(1, 60_000)) as u64)
                }
                Err(err) => {
                    tracing::error!(error = %err, "the worker could not claim jobs");
                    Duration::from_secs(1)
                }
            };
            let handler_woke = async {
                let waits = handler_wakes.iter().map(|w| Box::pin(w.notified()));
                if handler_wakes.is_empty() {
                    std::future::pending::<()>().await;
                } else {
                    futures_select_all(waits.collect()).await;
                }
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = handler_woke => {}
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Resolves when the first of `waits` does.
async fn futures_select_all<F: std::future::Future<Output = ()> + Unpin>(waits: Vec<F>) {
    let mut waits = waits;
    std::future::poll_fn(move |cx| {
        for wait in waits.iter_mut() {
            if std::pin::Pin::new(wait).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await
}

async fn bus_step(bus: &Bus, job: &Job) -> Result<(Vec<WriteOp>, Step), BusError> {
    match job.kind.as_str() {
        ADVANCE_ORDER => bus.advance_order(&job.key).await,
        ADVANCE_CANCEL => bus.advance_cancel(&job.key).await,
        ADVANCE_MODIFY => bus.advance_modify(&job.key).await,
        EXPIRE_CHARGE => bus.expire_charge(&job.key).await,
        ADVANCE_QUOTE => bus.advance_quote(&job.key).await,
        ADVANCE_POQ => bus.advance_poq(&job.key).await,
        EXPIRE_QUOTE => bus.expire_quote(&job.key).await,
        ADVANCE_TICKET => bus.advance_ticket(&job.key).await,
        ADVANCE_VISIT => bus.advance_visit(&job.key).await,
        other => Err(BusError::Corrupt(format!("unknown job kind {other}"))),
    }
}

async fn run_job(bus: &Bus, handler: Option<&dyn JobHandler>, job: Job) {
    let result = match handler {
        Some(handler) => handler.run(&job).await,
        None => bus_step(bus, &job)
            .await
            .map_err(|err| JobFailure { retry_now: matches!(err, BusError::Conflict(_)), message: err.to_string() }),
    };
    let now = bus.clock.now_millis();
    let outcome = match result {
        Ok((mut ops, step)) => {
            ops.push(match step {
                Step::Done => WriteOp::FinishJob { id: job.id, generation: job.generation },
                Step::Again { at } => {
                    WriteOp::RetryJob { id: job.id, generation: job.generation, run_at: at, error: String::new() }
                }
            });
            bus.commit(ops)
                .await
                .map_err(|err| JobFailure { retry_now: matches!(err, BusError::Conflict(_)), message: err.to_string() })
        }
        Err(failure) => Err(failure),
    };
    if let Err(failure) = outcome {
        // A conflict means the resource changed meanwhile: look again at once. Anything else
        // is retried with a growing delay.
        let delay = if failure.retry_now { 0 } else { 1000 * 2i64.pow(job.attempts.clamp(0, 10) as u32) };
        tracing::warn!(job = %job.kind, key = %job.key, attempts = job.attempts, error = %failure.message, "job step failed");
        let retry =
            WriteOp::RetryJob { id: job.id, generation: job.generation, run_at: now + delay, error: failure.message };
        if let Err(err) = bus.commit(vec![retry]).await {
            tracing::error!(error = %err, "could not reschedule a job; its lease will expire");
        }
    }
}
