//! Infrastructure control (ICM): the network as loaded from a topology file, and the
//! allocation of services on it (paths honouring capacity, S-VLANs per link, bandwidth).
//!
//! `Network` is pure and in memory; `Icm` keeps its reservations in the store.

mod connectivity;
mod durable;
mod network;
mod presto;
mod topology;

pub use connectivity::{ConnectivityRequest, ConnectivityService, ServiceEndpoint, cross_connects};
pub use durable::{Icm, IcmError};
pub use network::{AllocationError, Hop, Network, Request, Reservation, S_VLANS, VlanClaims};
pub use presto::{BoxFuture, Presto, PrestoError, Sip};
pub use topology::{Interface, InterfaceKind, Link, Management, PortRef, Topology, TopologyError};

/// The network of `lso demo`, used when no topology file is configured.
pub const DEMO_TOPOLOGY: &str = include_str!("../topologies/demo.toml");

#[cfg(test)]
mod tests;

/// Element control for `topology`: an Open vSwitch driver for each element with management
/// settings, a simulated element for every other.
pub fn element_control(topology: &Topology) -> lso_ecm::Ecm {
    lso_ecm::Ecm::new(topology.elements.iter().map(|(name, ports)| {
        let element = match topology.management.get(name) {
            Some(m) => lso_ecm::Element::Ovs(Box::new(lso_ecm::OvsDriver::new(&m.ovsdb, &m.openflow, &m.bridge))),
            None => lso_ecm::Element::Simulated(lso_ecm::SimulatedDriver::new(ports.clone())),
        };
        (name.clone(), element)
    }))
}
