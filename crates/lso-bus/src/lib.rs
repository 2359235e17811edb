//! The business applications (BUS) of `lso` as Seller: Product Ordering and Product Inventory
//! for Sonata and Cantata Buyers, with their notification hubs.
//!
//! Orders are stored as the Buyer sent them, with the Seller's attributes added, so that every
//! attribute is echoed unchanged (MEF 123 R16). After the synchronous checks an order is
//! advanced by a durable job: each step reads the order, applies pure transitions, and commits
//! the new state, the inventory changes, the notifications and the next step together.

pub mod audit;
mod billing;
mod catalog;
mod change;
mod charges;
mod discovery;
mod doc;
mod engine;
mod events;
pub mod fulfilment;
mod hubs;
pub mod identity;
pub mod internet;
mod inventory;
mod legato;
mod ordering;
mod pricing;
pub mod qualification;
mod quote;
mod tasks;
mod ticket;
mod tracked;
mod validate;
mod worker;
mod workforce;

pub use billing::{BillingPolicy, BillingReport};
pub use catalog::{OFFERING_STATUSES, ObsoleteSpecification, OfferingState, offered_on};
pub use engine::Step;
pub use fulfilment::{Fulfilment, FulfilmentRequest, FulfilmentStatus, InventoryFulfilment, PROVISIONING_STARTED};
pub use hubs::{HubApi, INVENTORY_EVENT_TYPES, ORDERING_EVENT_TYPES, TICKET_EVENT_TYPES};
pub use inventory::product_index;
pub use legato::{LEGATO_CLIENT, LegatoFulfilment, ce_vlans, cir_mbps, evc_ends, ingress_profile};
pub use ordering::Listing;
pub use pricing::PriceAgreement;
pub use qualification::Serviceability;
pub use quote::QuotePolicy;
pub use ticket::{Fault, IMPACTS, INCIDENT_TYPES, PRIORITIES, SEVERITIES, SellerMove, TICKET_TYPES, TicketAction};

pub use workforce::WorkforcePolicy;

use lso_model::{Clock, IdGen};
use lso_notify::SelfAddresses;
use lso_spec::Catalog;
use lso_store::Store;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::Notify;

/// What the BUS can answer instead of a result: the family every entity shares.
pub type BusError = lso_model::EntityError;

/// How strictly the Seller holds Buyers to MEF's Buyer-side requirements (see
/// `docs/conformance.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conformance {
    /// A request that breaks a Buyer-side MUST is refused (422, naming the requirement).
    #[default]
    Strict,
    /// A request that breaks a Buyer-side MUST whose absence loses nothing the Seller needs
    /// is accepted: the Seller's default is filled in, and a note says so.
    Interop,
}

impl Conformance {
    /// The note recorded when interop mode lets `requirement` go: what was missing and what
    /// the Seller did instead.
    pub fn note(requirement: &str, what: &str) -> String {
        format!("{requirement} (accepted in interop mode): {what}")
    }
}

/// Settings of the Seller.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// The contact the Seller adds to every order (`role: sellerContact`, MEF 123 R17).
    pub seller_contact: Value,
    /// The addresses this server listens on; hub callbacks must not point at them.
    pub self_addresses: SelfAddresses,
    /// The charges the Seller raises for cancellations and expedites.
    pub charges: ChargePolicy,
    /// How the Seller answers quotes.
    pub quotes: QuotePolicy,
    /// The technicians' calendar.
    pub workforce: WorkforcePolicy,
    /// How the Seller bills.
    pub billing: BillingPolicy,
    /// The prices agreed with Buyers, off the price rules.
    pub agreements: Vec<PriceAgreement>,
    /// How strictly Buyer-side requirements are held.
    pub conformance: Conformance,
}

impl BusConfig {
    /// A Seller reached at `seller_contact`, with the default policies, no agreed prices and no
    /// addresses of its own.
    pub fn new(seller_contact: Value) -> Self {
        BusConfig {
            seller_contact,
            self_addresses: SelfAddresses::default(),
            charges: ChargePolicy::default(),
            quotes: QuotePolicy::default(),
            workforce: WorkforcePolicy::default(),
            billing: BillingPolicy::default(),
            agreements: Vec::new(),
            conformance: Conformance::Strict,
        }
    }
}

/// What the Seller charges for, and how long a Buyer has to answer (MEF 123 UC11).
#[derive(Debug, Clone, Default)]
pub struct ChargePolicy {
    /// A blocking non-recurring charge raised when a Buyer cancels an order in progress.
    pub cancellation: Option<lso_mef_product::Money>,
    /// A blocking non-recurring charge raised when a Buyer asks to expedite an item.
    pub expedite: Option<lso_mef_product::Money>,
    /// The time a Buyer has to answer a charge before it times out (declined, MEF 123 R96).
    pub response_window_millis: i64,
}

/// Generates time-ordered UUIDs (version 7).
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidIds;

impl IdGen for UuidIds {
    fn next_id(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

/// The catalog the Seller sells from, shared by the BUS and its fulfilment, and replaced whole
/// when the operators add specifications to a running Seller.
#[derive(Clone)]
pub struct CatalogHandle(Arc<std::sync::RwLock<Arc<Catalog>>>);

impl CatalogHandle {
    /// The catalog as it is now.
    pub fn current(&self) -> Arc<Catalog> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace(&self, catalog: Arc<Catalog>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = catalog;
    }
}

impl From<Arc<Catalog>> for CatalogHandle {
    fn from(catalog: Arc<Catalog>) -> Self {
        CatalogHandle(Arc::new(std::sync::RwLock::new(catalog)))
    }
}

/// The Seller's business applications.
pub struct Bus {
    store: Store,
    catalogs: CatalogHandle,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    fulfilment: Arc<dyn Fulfilment>,
    config: BusConfig,
    wake: Arc<Notify>,
    serviceability: Option<Arc<dyn Serviceability>>,
    ticket_follow_up: Option<&'static str>,
}

impl Bus {
    /// How strictly Buyer-side requirements are held.
    pub fn conformance(&self) -> Conformance {
        self.config.conformance
    }

    /// A BUS over `store` selling what `catalog` holds.
    pub fn new(
        store: Store,
        catalog: impl Into<CatalogHandle>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
        fulfilment: Arc<dyn Fulfilment>,
        config: BusConfig,
    ) -> Self {
        let catalogs = catalog.into();
        Bus {
            store,
            catalogs,
            clock,
            ids,
            fulfilment,
            config,
            wake: Arc::new(Notify::new()),
            serviceability: None,
            ticket_follow_up: None,
        }
    }

    /// Shares `wake` with other parts of the process that commit work (the SOF), so the workers
    /// and the notification dispatcher waiting on it hear of their commits too.
    pub fn with_wake(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    /// Qualifies product offerings (MEF 87) on what `network` says it can do; without it,
    /// items are `yellow`: the Seller cannot tell.
    pub fn with_serviceability(mut self, network: Arc<dyn Serviceability>) -> Self {
        self.serviceability = Some(network);
        self
    }

    /// Each ticket the Seller takes in progress with no incident on its own network to explain
    /// it is followed up by a job of kind `job` (keyed by the ticket id, with the tenant's key as
    /// its payload), which another part of the process handles: asking a partner, say.
    pub fn with_ticket_follow_up(mut self, job: &'static str) -> Self {
        self.ticket_follow_up = Some(job);
        self
    }

    /// Notified whenever new background work (jobs or notifications) was committed.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The store it runs on.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The product catalog as it is now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalogs.current()
    }

    /// The specification with `id` (or alias) in the catalog as it is now.
    fn spec(&self, id: &str) -> Option<Arc<lso_spec::ProductSpec>> {
        self.catalogs.current().get(id).cloned()
    }

    /// The clock it runs on.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// Runs `change` again while it loses a race with another writer of the same resource
    /// (a job of the Seller's, say), at most a few times.
    async fn retrying<T, F: Future<Output = Result<T, BusError>>>(
        &self,
        change: impl Fn() -> F,
    ) -> Result<T, BusError> {
        let mut attempts = 0;
        loop {
            match change().await {
                Err(BusError::Conflict(_)) if attempts < 5 => attempts += 1,
                other => return other,
            }
        }
    }

    async fn commit(&self, ops: Vec<lso_store::WriteOp>) -> Result<(), BusError> {
        self.store.apply(ops).await?;
        self.wake.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
