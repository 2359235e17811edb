//! The job worker: claims due jobs, runs their step, and commits the step's writes together
//! with finishing or rescheduling the job, so a job's effects happen exactly once.

use crate::charges::EXPIRE_CHARGE;
use crate::engine::Step;
use crate::ordering::ADVANCE_ORDER;
use crate::tasks::{ADVANCE_CANCEL, ADVANCE_MODIFY};
use crate::{Bus, BusError};
use lso_store::{Job, WriteOp};
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
    batch: usize,
}

const LEASE_MILLIS: i64 = 60_000;

impl Worker {
    /// A worker for `bus`.
    pub fn new(bus: Arc<Bus>) -> Self {
        Worker { bus, batch: 128 }
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
            running.spawn(async move { run_job(&bus, job).await });
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
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

async fn run_job(bus: &Bus, job: Job) {
    let result = match job.kind.as_str() {
        ADVANCE_ORDER => bus.advance_order(&job.key).await,
        ADVANCE_CANCEL => bus.advance_cancel(&job.key).await,
        ADVANCE_MODIFY => bus.advance_modify(&job.key).await,
        EXPIRE_CHARGE => bus.expire_charge(&job.key).await,
        other => Err(BusError::Corrupt(format!("unknown job kind {other}"))),
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
            bus.commit(ops).await
        }
        Err(err) => Err(err),
    };
    if let Err(err) = outcome {
        // A conflict means the resource changed meanwhile: look again at once. Anything else
        // is retried with a growing delay.
        let delay = match err {
            BusError::Conflict(_) => 0,
            _ => 1000 * 2i64.pow(job.attempts.clamp(0, 10) as u32),
        };
        tracing::warn!(job = %job.kind, key = %job.key, attempts = job.attempts, error = %err, "job step failed");
        let retry =
            WriteOp::RetryJob { id: job.id, generation: job.generation, run_at: now + delay, error: err.to_string() };
        if let Err(err) = bus.commit(vec![retry]).await {
            tracing::error!(error = %err, "could not reschedule a job; its lease will expire");
        }
    }
}
