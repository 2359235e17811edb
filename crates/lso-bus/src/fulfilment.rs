//! How an accepted order item gets realised. The BUS asks its [`Fulfilment`] about each item in
//! progress until it answers completed or failed; the service orchestration (SOF) implements it
//! in a later issue. Until then [`InventoryFulfilment`] provisions by time alone, and the BUS
//! records the result in the Product Inventory.

use lso_model::Tenant;
use lso_model::order::ItemAction;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// One order item to realise.
#[derive(Debug, Clone, Copy)]
pub struct FulfilmentRequest<'a> {
    /// The Buyer and Seller.
    pub tenant: &'a Tenant,
    /// The product order.
    pub order_id: &'a str,
    /// The item within it.
    pub item_id: &'a str,
    /// What to do to the product.
    pub action: ItemAction,
    /// The product in inventory.
    pub product_id: &'a str,
    /// The product specification (`@type`).
    pub specification: &'a str,
    /// The desired configuration (`add`, `modify`).
    pub configuration: Option<&'a Value>,
    /// The products it relates to, as (relationship type, product id): its own product
    /// relationships and those of the items of the same order it relates to.
    pub related: &'a [(String, String)],
    /// Its places, as (role, place id).
    pub places: &'a [(String, String)],
    /// When the item went `inProgress` (milliseconds since the epoch).
    pub started_at: i64,
    /// Now.
    pub now: i64,
}

/// Where the realisation of an item stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FulfilmentStatus {
    /// Done; the product can be activated (or changed, or terminated).
    Completed,
    /// Still working; ask again at `check_at` (milliseconds since the epoch).
    InProgress { check_at: i64 },
    /// It cannot be done; the reason is shown to the Buyer.
    Failed { reason: String },
}

/// Realises order items. Must be idempotent: it is asked again after every restart.
pub trait Fulfilment: Send + Sync + 'static {
    /// The status of `request`, starting the work the first time it is asked.
    fn progress<'a>(
        &'a self,
        request: FulfilmentRequest<'a>,
    ) -> Pin<Box<dyn Future<Output = FulfilmentStatus> + Send + 'a>>;

    /// What the provider assigned when it realised `request` (an access link's addresses, for
    /// one), merged into the product's configuration; asked once the item completed.
    fn assigned<'a>(
        &'a self,
        request: FulfilmentRequest<'a>,
    ) -> Pin<Box<dyn Future<Output = Option<Value>> + Send + 'a>> {
        let _ = request;
        Box::pin(async { None })
    }

    /// The product-specific milestones `request` has reached so far, in order (MEF 123 CR7).
    fn milestones(&self, request: &FulfilmentRequest<'_>) -> Vec<String> {
        let _ = request;
        Vec::new()
    }

    /// Whether [`Fulfilment::progress`] only looks (it starts no work anywhere): then the step
    /// that starts an order's items asks it at once and commits what it answers with the
    /// start, since a step repeated after a crash repeats nothing elsewhere. A fulfilment that
    /// starts work must see the items started (their products named) committed first.
    fn only_looks(&self) -> bool {
        false
    }
}

/// Provisions each item in the time its specification states, scaled by `time_scale`
/// (0 completes at once).
pub struct InventoryFulfilment {
    catalog: crate::CatalogHandle,
    time_scale: f64,
}

impl InventoryFulfilment {
    /// Fulfilment taking `time_scale` × the specification's provisioning time.
    pub fn new(catalog: impl Into<crate::CatalogHandle>, time_scale: f64) -> Self {
        InventoryFulfilment { catalog: catalog.into(), time_scale }
    }
}

impl InventoryFulfilment {
    fn done_at(&self, request: &FulfilmentRequest<'_>) -> i64 {
        let seconds = self.catalog.current().get(request.specification).map_or(0, |s| s.provisioning_seconds);
        request.started_at + (seconds as f64 * 1000.0 * self.time_scale) as i64
    }
}

/// The milestone [`InventoryFulfilment`] reports when it starts on an item.
pub const PROVISIONING_STARTED: &str = "provisioningStarted";

impl Fulfilment for InventoryFulfilment {
    fn milestones(&self, _request: &FulfilmentRequest<'_>) -> Vec<String> {
        vec![PROVISIONING_STARTED.to_owned()]
    }

    fn only_looks(&self) -> bool {
        true
    }

    fn progress<'a>(
        &'a self,
        request: FulfilmentRequest<'a>,
    ) -> Pin<Box<dyn Future<Output = FulfilmentStatus> + Send + 'a>> {
        let done_at = self.done_at(&request);
        let status = if request.now >= done_at {
            FulfilmentStatus::Completed
        } else {
            FulfilmentStatus::InProgress { check_at: done_at }
        };
        Box::pin(std::future::ready(status))
    }
}
