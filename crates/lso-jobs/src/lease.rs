//! Claims that run out: a node claims jobs and deliveries for [`LEASE_MILLIS`] and renews the
//! claims it is still working on every [`HEARTBEAT`], so a node that dies (SIGKILL, a lost
//! machine) loses its claims within seconds and another node takes the work over. Nodes are
//! equal; no one decides for the others.

use lso_model::Clock;
use lso_store::{Leased, Store};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::task::JoinSet;

/// How long a claim lasts unless its node renews it.
pub const LEASE_MILLIS: i64 = 5_000;

/// How often a node renews the claims it is working on.
pub const HEARTBEAT: Duration = Duration::from_millis(1_500);

/// Joins every task of `running` (each yielding the id of the claim it works on and its
/// output), renewing the leases in `leased` of the claims still at work every heartbeat; the
/// outputs, in the order the tasks ended.
pub async fn join_renewing<T: Send + 'static>(
    store: &Store,
    clock: &dyn Clock,
    leased: Leased,
    mut held: BTreeSet<i64>,
    running: &mut JoinSet<(i64, T)>,
) -> Vec<T> {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await; // at once: the claims were just made
    let mut ended = Vec::with_capacity(held.len());
    loop {
        tokio::select! {
            joined = running.join_next() => match joined {
                None => return ended,
                Some(Ok((id, output))) => {
                    held.remove(&id);
                    ended.push(output);
                }
                Some(Err(err)) => tracing::error!(error = %err, "a task panicked; its claim runs out"),
            },
            _ = heartbeat.tick() => {
                let until = clock.now_millis() + LEASE_MILLIS;
                if let Err(err) = store.renew_leases(leased, held.iter().copied().collect(), until).await {
                    tracing::warn!(error = %err, "could not renew the claims this node works on");
                }
            }
        }
    }
}
