//! Legato on the wire (BUS → SOF): Service Ordering Management 5.0.0, Service Inventory 5.0.0,
//! Service Catalog 4.0.0-RC and Performance Monitoring 2.0.0-RC, with their notification hubs, under `/mefApi/legato/…`. The caller is the Seller's
//! own business applications, so an operator's token is required; every operator acts as the
//! BUS of this `lso`. [`LegatoClient`] is the BUS's side over HTTP, for a SOF in another process.

mod catalog;
mod client;
pub mod pm;
mod routes;
pub mod streaming;

pub use catalog::CATALOG_BASE;
pub use client::LegatoClient;
pub use routes::{Client, Operators, SofAudience, SofState, hub_router, hub_routes};

use axum::Router;
use axum::http::StatusCode;
use lso_http::filters::Known;
use lso_sof::LegatoApi;
use routes::{creator, lister, retriever};

/// The Service Ordering base path.
pub const ORDERING_BASE: &str = "/mefApi/legato/serviceOrderingManagement/v5";
/// The Service Inventory base path.
pub const INVENTORY_BASE: &str = "/mefApi/legato/serviceInventory/v5";

const ORDER_STATES: [&str; 8] =
    ["acknowledged", "rejected", "pending", "held", "inProgress", "completed", "failed", "partial"];
const SERVICE_STATES: [&str; 6] = ["feasibilityChecked", "designed", "reserved", "inactive", "active", "terminated"];

/// The Legato APIs, for the Seller's operators (`SofState::operators`).
pub fn router(state: SofState) -> Router {
    let ordering = Router::new()
        // `createServiceOrder` (MEF 99), `listServiceOrder`, `retrieveServiceOrder`.
        .route(
            "/serviceOrder",
            creator(StatusCode::CREATED, |state, client, order| {
                Box::pin(async move { state.sof.accept_order(&client.id, order).await.map_err(lso_http::api_error) })
            })
            .merge(lister(lso_sof::SERVICE_ORDER, &ORDER_FILTERS)),
        )
        .route("/serviceOrder/{id}", retriever(lso_sof::SERVICE_ORDER));
    let inventory = Router::new()
        // `listService` (MEF 135 R9), `retrieveService`.
        .route("/service", lister(lso_sof::SERVICE, &SERVICE_FILTERS))
        .route("/service/{id}", retriever(lso_sof::SERVICE));
    Router::new()
        .nest(ORDERING_BASE, ordering.with_state(state.clone()))
        .nest(INVENTORY_BASE, inventory.with_state(state.clone()))
        .nest(CATALOG_BASE, catalog::router().with_state(state.clone()))
        .nest("/lso/admin/v1/legato", catalog::operations().with_state(state.clone()))
        .merge(hub_router(state.clone(), ORDERING_BASE, LegatoApi::Ordering))
        .merge(hub_router(state.clone(), INVENTORY_BASE, LegatoApi::Inventory))
        .merge(hub_router(state.clone(), CATALOG_BASE, LegatoApi::Catalog))
        .merge(pm::router(state, lso_sof::pm::PM_BASE))
}

const ORDER_FILTERS: Known = Known {
    choices: &[("state", &ORDER_STATES)],
    text: &["externalId"],
    dates: &["orderDate", "completionDate", "expectedCompletionDate", "startDate"],
};

const SERVICE_FILTERS: Known = Known {
    choices: &[("state", &SERVICE_STATES)],
    text: &[
        "serviceOrder.id",
        "serviceOrderItem.id",
        "externalId",
        "geographicSite.id",
        "geographicAddress.id",
        "serviceType",
        "startMode",
    ],
    dates: &["serviceDate", "startDate", "endDate"],
};

#[cfg(test)]
mod tests;
