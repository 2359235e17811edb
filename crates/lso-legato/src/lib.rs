//! Legato (BUS ↔ SOF) as both sides see it: the [`Legato`] trait a BUS orders services
//! through (Service Ordering, MEF 99, and Service Inventory, MEF 135), and the kinds of service
//! a SOF realises ([`services`]). Orders and services pass as the JSON documents of the Legato
//! API; answers that are not results are the shared `EntityError`.
//!
//! `lso_sof::Sof` implements it in-process; `lso_api_legato::LegatoClient` over HTTP.

use lso_model::EntityError;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// The `@type`s of the service configurations a SOF realises (MEF service-schema URNs).
/// The client under which the SOF keeps what the Seller's own applications (the BUS, operator
/// tokens over Legato) do: their orders, jobs and hubs.
pub const OPERATORS: &str = "bus";

pub mod services {
    /// A Subscriber UNI service.
    pub const SUBSCRIBER_UNI: &str = "urn:mef:lso:spec:legato:carrier-ethernet-subscriber-uni:v0.0.1:all";
    /// An Operator UNI service.
    pub const OPERATOR_UNI: &str = "urn:mef:lso:spec:legato:carrier-ethernet-operator-uni:v0.0.1:all";
    /// An ENNI service.
    pub const ENNI: &str = "urn:mef:lso:spec:legato:carrier-ethernet-enni:v0.0.1:all";
    /// An EVC (E-Line, E-LAN).
    pub const EVC: &str = "urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all";
    /// An OVC (Access E-Line).
    pub const OVC: &str = "urn:mef:lso:spec:legato:carrier-ethernet-ovc:v0.0.1:all";
    /// An IP UNI service.
    pub const IP_UNI: &str = "urn:mef:lso:spec:legato:ip-uni:v0.0.4:all";
    /// An IP virtual connection.
    pub const IPVC: &str = "urn:mef:lso:spec:legato:ipvc:v0.0.4:all";
}

/// A service order whose processing moved on: a step of it was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOrderMove {
    /// The service order.
    pub id: String,
    /// The client that placed it.
    pub client: String,
    /// Its `externalId`, the client's own reference, when it gave one.
    pub external_id: Option<String>,
    /// The W3C `traceparent` of the work on the order, for whoever acts on the move to continue.
    pub trace: Option<String>,
}

/// A boxed future, so that [`Legato`] can be used as `dyn Legato`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Legato as a BUS uses it: Service Ordering and Service Inventory. `client` tells apart the
/// BUSes one SOF serves.
pub trait Legato: Send + Sync {
    /// `createServiceOrder`: accepts an order (201) or says why not.
    fn create_service_order<'a>(&'a self, client: &'a str, order: Value) -> BoxFuture<'a, Result<Value, EntityError>>;
    /// `retrieveServiceOrder`.
    fn service_order<'a>(&'a self, client: &'a str, id: &'a str) -> BoxFuture<'a, Result<Value, EntityError>>;
    /// `retrieveService`.
    fn service<'a>(&'a self, client: &'a str, id: &'a str) -> BoxFuture<'a, Result<Value, EntityError>>;
    /// The service order `client` created with `externalId` = `external_id`, if any.
    fn service_order_by_external_id<'a>(
        &'a self,
        client: &'a str,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, EntityError>>;
    /// The service orders whose processing moved on, each told once its step is committed
    /// (with the client's own reference, so nothing need be read to know whose it is), for a
    /// BUS to look at them at once rather than ask again and again; `None` when this Legato
    /// cannot tell (a SOF in another process).
    fn service_order_moves(&self) -> Option<tokio::sync::broadcast::Receiver<ServiceOrderMove>> {
        None
    }

    /// `listService` filtered by `externalId`: the services realising a BUS's product.
    fn services_by_external_id<'a>(
        &'a self,
        client: &'a str,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, EntityError>>;
}
