//! The BUS's job kinds, run by the process's worker (`lso_jobs::Worker`) through
//! [`JobHandler`].

use crate::charges::EXPIRE_CHARGE;
use crate::engine::Step;
use crate::ordering::ADVANCE_ORDER;
use crate::qualification::ADVANCE_POQ;
use crate::quote::{ADVANCE_QUOTE, EXPIRE_QUOTE};
use crate::tasks::{ADVANCE_CANCEL, ADVANCE_MODIFY};
use crate::ticket::ADVANCE_TICKET;
use crate::workforce::ADVANCE_VISIT;
use crate::{Bus, BusError};
use lso_jobs::{JobFailure, JobHandler, StepResult};
use lso_store::{Job, WriteOp};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::Notify;

/// The job kinds of the BUS.
const KINDS: &[&str] = &[
    ADVANCE_ORDER,
    ADVANCE_CANCEL,
    ADVANCE_MODIFY,
    EXPIRE_CHARGE,
    ADVANCE_QUOTE,
    ADVANCE_POQ,
    EXPIRE_QUOTE,
    ADVANCE_TICKET,
    ADVANCE_VISIT,
];

impl JobHandler for Bus {
    fn handles(&self, kind: &str) -> bool {
        KINDS.contains(&kind)
    }

    fn run<'a>(&'a self, job: &'a Job) -> Pin<Box<dyn Future<Output = StepResult> + Send + 'a>> {
        Box::pin(async move {
            bus_step(self, job)
                .await
                .map_err(|err| JobFailure { retry_now: matches!(err, BusError::Conflict(_)), message: err.to_string() })
        })
    }

    fn wake(&self) -> Arc<Notify> {
        Bus::wake(self)
    }
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
