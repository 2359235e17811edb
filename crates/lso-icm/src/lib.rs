//! Infrastructure control (ICM): the network as loaded from a topology file, and the
//! allocation of services on it (paths honouring capacity, S-VLANs per link, bandwidth).
//!
//! `Network` is pure and in memory; `Icm` keeps its reservations in the store.

mod connectivity;
mod durable;
mod network;
mod presto;
mod topology;

pub use connectivity::{ConnectivityService, cross_connects};
pub use durable::{Icm, IcmError};
pub use lso_presto::InterfaceKind;
pub use network::{AllocationError, Hop, Network, Request, Reservation, S_VLANS, VlanClaims};
pub use topology::{Interface, Link, Management, PortRef, Topology, TopologyError};

/// The network of `lso demo`, used when no topology file is configured.
pub const DEMO_TOPOLOGY: &str = include_str!("../topologies/demo.toml");

#[cfg(test)]
mod tests;
