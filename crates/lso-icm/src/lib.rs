//! Infrastructure control (ICM): the network as loaded from a topology file, and the
//! allocation of services on it (paths honouring capacity, S-VLANs per link, bandwidth).
//!
//! `Network` is pure and in memory; `Icm` keeps its reservations in the store.

mod durable;
mod network;
mod topology;

pub use durable::{Icm, IcmError};
pub use network::{AllocationError, Hop, Network, Request, Reservation, S_VLANS};
pub use topology::{Interface, InterfaceKind, Link, PortRef, Topology, TopologyError};

/// The network of `lso demo`, used when no topology file is configured.
pub const DEMO_TOPOLOGY: &str = include_str!("../topologies/demo.toml");

#[cfg(test)]
mod tests;
