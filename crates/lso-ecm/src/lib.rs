//! Element control (ECM): drivers that configure network elements and read their
//! configuration back. A driver is told the VLAN mode of each port it manages (an access port
//! carrying one VLAN untagged, or a trunk carrying a set of VLANs tagged); it applies the change,
//! confirms it by reading the element, and reports what the element says went wrong.
//!
//! [`OvsDriver`] drives an Open vSwitch over OVSDB (RFC 7047); [`SimulatedDriver`] keeps the
//! configuration in memory, for unit tests and machines without Open vSwitch.

mod ovs;
mod ovsdb;

pub use ovs::OvsDriver;
pub use ovsdb::{OvsdbClient, OvsdbError};

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

/// How a port handles VLANs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortMode {
    /// Frames arrive untagged and are carried on `vlan` inside the element.
    Access { vlan: u16 },
    /// Frames carry their VLAN tag; only `vlans` pass.
    Trunk { vlans: Vec<u16> },
}

/// The desired configuration of one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// The port's name on the element.
    pub port: String,
    /// Its VLAN mode.
    pub mode: PortMode,
}

/// A port as the element reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortState {
    /// The port's name.
    pub port: String,
    /// Its VLAN mode, if the driver configured one.
    pub mode: Option<PortMode>,
    /// Whether the link is up.
    pub link_up: bool,
    /// What the element reports as wrong with it, if anything.
    pub error: Option<String>,
}

/// What can go wrong talking to an element.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The element cannot be reached or refused the request.
    #[error("element unreachable: {0}")]
    Unreachable(#[from] OvsdbError),
    /// The element took the change but does not run it.
    #[error("port {port} is not working: {reason}")]
    NotApplied { port: String, reason: String },
    /// A VLAN identifier outside 1–4094.
    #[error("VLAN {0} is outside 1-4094")]
    InvalidVlan(u16),
}

/// Configures one network element. Every operation is idempotent.
pub trait ElementDriver: Send + Sync {
    /// Applies `ports` (adding ports not yet configured) and confirms them by reading back.
    fn configure(&self, ports: &[PortConfig]) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Removes the configuration of `ports`; ports not configured are ignored.
    fn remove(&self, ports: &[String]) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// The configured ports as the element reports them.
    fn ports(&self) -> impl Future<Output = Result<Vec<PortState>, DriverError>> + Send;
}

/// Checks the VLAN identifiers of a mode.
pub(crate) fn check_vlans(mode: &PortMode) -> Result<(), DriverError> {
    let vlans = match mode {
        PortMode::Access { vlan } => std::slice::from_ref(vlan),
        PortMode::Trunk { vlans } => vlans.as_slice(),
    };
    match vlans.iter().find(|v| !(1..=4094).contains(*v)) {
        Some(v) => Err(DriverError::InvalidVlan(*v)),
        None => Ok(()),
    }
}

/// An element kept in memory: configuration is applied and read back at once.
#[derive(Debug, Default)]
pub struct SimulatedDriver {
    ports: Mutex<BTreeMap<String, PortMode>>,
}

impl ElementDriver for SimulatedDriver {
    async fn configure(&self, ports: &[PortConfig]) -> Result<(), DriverError> {
        ports.iter().try_for_each(|p| check_vlans(&p.mode))?;
        let mut configured = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        for port in ports {
            configured.insert(port.port.clone(), port.mode.clone());
        }
        Ok(())
    }

    async fn remove(&self, ports: &[String]) -> Result<(), DriverError> {
        let mut configured = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        for port in ports {
            configured.remove(port);
        }
        Ok(())
    }

    async fn ports(&self) -> Result<Vec<PortState>, DriverError> {
        let configured = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        Ok(configured
            .iter()
            .map(|(port, mode)| PortState { port: port.clone(), mode: Some(mode.clone()), link_up: true, error: None })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_simulated_element_keeps_what_it_is_told_and_refuses_bad_vlans() {
        let element = SimulatedDriver::default();
        let access = PortConfig { port: "p1".into(), mode: PortMode::Access { vlan: 100 } };
        let trunk = PortConfig { port: "t1".into(), mode: PortMode::Trunk { vlans: vec![100, 200] } };
        element.configure(&[access.clone(), trunk.clone()]).await.unwrap();
        element.configure(std::slice::from_ref(&access)).await.unwrap();
        let ports = element.ports().await.unwrap();
        assert_eq!(ports.iter().map(|p| p.mode.clone().unwrap()).collect::<Vec<_>>(), [access.mode, trunk.mode]);
        element.remove(&["p1".into(), "nope".into()]).await.unwrap();
        assert_eq!(element.ports().await.unwrap().len(), 1);
        let bad = PortConfig { port: "p2".into(), mode: PortMode::Access { vlan: 4095 } };
        assert!(matches!(element.configure(&[bad]).await, Err(DriverError::InvalidVlan(4095))));
    }
}
