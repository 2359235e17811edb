//! What an entity registers with the worker: the job kinds it handles and how it runs a step.

use lso_store::{Job, WriteOp};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::Notify;

/// What to do with a job after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing more to do.
    Done,
    /// Look again at this time (milliseconds since the epoch).
    Again { at: i64 },
}

/// Why a step did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// Try again at once (the resource changed meanwhile) rather than after a growing delay.
    pub retry_now: bool,
    /// What went wrong, kept with the job.
    pub message: String,
}

/// The outcome of one step: the writes to commit with it, and what follows.
pub type StepResult = Result<(Vec<WriteOp>, Step), JobFailure>;

/// Runs the steps of some job kinds.
pub trait JobHandler: Send + Sync {
    /// Whether jobs of `kind` are this handler's.
    fn handles(&self, kind: &str) -> bool;
    /// Runs the next step of `job`. Must be idempotent: a step whose writes were not committed
    /// runs again.
    fn run<'a>(&'a self, job: &'a Job) -> Pin<Box<dyn Future<Output = StepResult> + Send + 'a>>;
    /// Notified when the handler commits new work.
    fn wake(&self) -> Arc<Notify>;
    /// Whether the steps of jobs of `kind` are recorded in the trace of the work that enqueued
    /// them; routine work that runs again and again (a measurement every few seconds) is not,
    /// or it would fill that trace.
    fn traced(&self, kind: &str) -> bool {
        let _ = kind;
        true
    }
    /// Told that a step of `job` was committed (its writes are readable now).
    fn committed(&self, job: &Job) {
        let _ = job;
    }
}
