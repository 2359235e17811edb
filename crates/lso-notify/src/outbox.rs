//! The outbox as the Seller's operators see it: every delivery with its state, the dead letters
//! among them, and a dead letter put back in the queue.

use lso_model::EntityError;
use lso_store::Store;
use std::sync::Arc;
use tokio::sync::Notify;

pub use lso_store::{DeliveryCounts, DeliveryInfo};

/// The deliveries of the notifications the process wrote.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    /// Woken when a delivery is due again, so the dispatcher sends it.
    dispatcher: Arc<Notify>,
}

impl Outbox {
    /// The outbox in `store`, whose dispatcher waits on `dispatcher`.
    pub fn new(store: Store, dispatcher: Arc<Notify>) -> Self {
        Outbox { store, dispatcher }
    }

    /// Deliveries, newest first, `limit` at most; only those in `state` when given.
    pub async fn deliveries(&self, state: Option<&str>, limit: u64) -> Result<Vec<DeliveryInfo>, EntityError> {
        Ok(self.store.list_deliveries(state, limit).await?)
    }

    /// How many deliveries are pending, delivered and dead.
    pub async fn counts(&self) -> Result<DeliveryCounts, EntityError> {
        Ok(self.store.delivery_counts().await?)
    }

    /// Puts dead letter `id` back in the queue, to be sent at `now`.
    pub async fn redeliver(&self, id: i64, now: i64) -> Result<(), EntityError> {
        match self.store.redeliver(id, now).await {
            Ok(()) => {
                self.dispatcher.notify_waiters();
                Ok(())
            }
            Err(lso_store::StoreError::NotFound) => Err(EntityError::NotFound(format!("no dead delivery {id}"))),
            Err(other) => Err(other.into()),
        }
    }
}
