//! Infrastructure control (ICM): the network as loaded from a topology file, and the
//! allocation of services on it (paths honouring capacity, S-VLANs per link, bandwidth).
//!
//! Pure and in memory: persistence and the Presto API sit on top of it.

mod network;
mod topology;

pub use network::{AllocationError, Hop, Network, Request, Reservation, S_VLANS};
pub use topology::{Interface, InterfaceKind, Link, PortRef, Topology, TopologyError};

#[cfg(test)]
mod tests;
