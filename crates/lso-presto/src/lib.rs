//! Presto (SOF ↔ ICM) as both sides see it: the [`Presto`] trait the SOF asks infrastructure
//! control through, and what passes over it: the network's service interface points ([`Sip`]),
//! the connectivity services asked for ([`ConnectivityRequest`]), and the traffic counters of an
//! interface, for performance monitoring.
//!
//! `lso_icm::Icm` implements it in-process; `lso_api_presto::PrestoClient` over the NRP API.

use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;

pub use lso_adagio::{Alarm, AlarmChange, AlarmKind, Bgp, PortCounters, Routed};

/// What a service interface point is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterfaceKind {
    /// A UNI towards a customer.
    Uni,
    /// An ENNI towards a partner operator.
    Enni,
    /// An IP UNI towards a customer: a routed port of a provider-edge router.
    #[serde(rename = "ip-uni")]
    IpUni,
}

/// Where a connectivity service starts or ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEndpoint {
    /// The service interface point (UNI or ENNI) by name.
    pub interface: String,
    /// At a UNI, the CE-VLANs of the service (none: every frame, all-to-one bundling); at an
    /// ENNI, the S-VLAN the partner uses for it (exactly one).
    pub vlans: Vec<u16>,
    /// At an IP UNI, the access link's addressing and routing (and the rate towards the
    /// customer); the IP UNI is then the service's only endpoint.
    pub routed: Option<Routed>,
    /// A leaf of a rooted-multipoint service (E-Tree): it reaches the service's roots only.
    pub leaf: bool,
}

/// The TAPI `service-type` of a service joining `endpoints` interfaces, `rooted` when some of
/// them are leaves.
pub fn service_type(endpoints: usize, rooted: bool) -> &'static str {
    match (rooted, endpoints) {
        (true, _) => "ROOTED_MULTIPOINT_CONNECTIVITY",
        (false, 0..=2) => "POINT_TO_POINT_CONNECTIVITY",
        (false, _) => "MULTIPOINT_CONNECTIVITY",
    }
}

/// A connectivity service to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectivityRequest {
    /// Its id; creating the same request again returns the same service.
    pub uuid: String,
    /// Its endpoints (two for a line, more for a LAN).
    pub endpoints: Vec<ServiceEndpoint>,
    /// The committed rate at each UNI's ingress and reserved on each link, in Mbit/s (0: none).
    pub cir_mbps: u64,
}

/// A boxed future, so that [`Presto`] can be used as `dyn Presto`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A service interface point as the SOF sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sip {
    /// Its name (the interface's).
    pub name: String,
    /// UNI or ENNI.
    pub kind: InterfaceKind,
    /// The site it serves, if known.
    pub site: Option<String>,
    /// Its capacity, in Mbit/s.
    pub capacity_mbps: u64,
}

/// Why ICM did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PrestoError {
    /// The network cannot carry it, or the request cannot be right; nothing was kept.
    #[error("{0}")]
    Refused(String),
    /// An element failed; what could not be undone is still reserved.
    #[error("the network could not configure the service: {0}")]
    Element(String),
    /// ICM could not be asked, or failed inside; try again.
    #[error("infrastructure control is unavailable: {0}")]
    Unavailable(String),
}

/// Infrastructure control as the SOF uses it. Every operation is idempotent.
pub trait Presto: Send + Sync {
    /// The service interface points of the network.
    fn service_interface_points(&self) -> BoxFuture<'_, Result<Vec<Sip>, PrestoError>>;
    /// Creates `request` on the network (reserved, configured, read back).
    fn create_connectivity<'a>(&'a self, request: &'a ConnectivityRequest) -> BoxFuture<'a, Result<(), PrestoError>>;
    /// Changes connectivity service `request.uuid` to `request`: in place when only its rate
    /// (or an IP UNI's addressing) changes, else rebuilt; the old one stays when the network
    /// cannot carry the new.
    fn update_connectivity<'a>(&'a self, request: &'a ConnectivityRequest) -> BoxFuture<'a, Result<(), PrestoError>>;
    /// Removes connectivity service `uuid`; `false` if there was none.
    fn delete_connectivity<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<bool, PrestoError>>;
    /// Whether connectivity service `uuid` is held.
    fn connectivity_exists<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<bool, PrestoError>>;
    /// What interface `name` has received and sent, as its element counts it; `None` if the
    /// network has no such interface.
    fn interface_counters<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<PortCounters>, PrestoError>>;
}
