//! Element control (ECM): drivers that configure network elements and read their
//! configuration back. What a driver is told is a [`CrossConnect`]: the endpoints one service
//! has on one element (UNIs with their CE-VLANs, tagged links or ENNIs with their S-VLANs) and
//! the rate each UNI may send. The driver applies it, confirms it by reading the element back,
//! and reports what the element says went wrong.
//!
//! [`OvsDriver`] drives an Open vSwitch (OVSDB for ports, OpenFlow 1.3 for flows and meters);
//! [`SimulatedDriver`] keeps the same flows in memory, for unit tests and machines without Open
//! vSwitch. [`lab`] builds Open vSwitch elements and customer hosts in network namespaces.

mod adagio;
mod alarms;
pub mod flows;
mod frr;
pub mod lab;
pub mod openflow;
mod ovs;
mod ovsdb;

pub use adagio::{Ecm, Element};
pub use alarms::Alarms;
pub use frr::{FrrDriver, Neighbour, RoutedPort, RouterService, Running};
pub use lso_adagio::{
    Action, Adagio, AdagioError, Alarm, AlarmChange, AlarmKind, Attachment, Bgp, BoxFuture, CrossConnect, DriverError,
    Endpoint, Flow, Learn, PortCounters, PortState, Role, Routed,
};
pub use ovs::OvsDriver;
pub use ovsdb::{OvsdbClient, OvsdbError};

use openflow::Meter;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

impl From<OvsdbError> for DriverError {
    fn from(err: OvsdbError) -> Self {
        DriverError::Unreachable(err.to_string())
    }
}

impl From<openflow::OpenFlowError> for DriverError {
    fn from(err: openflow::OpenFlowError) -> Self {
        match err {
            refused @ openflow::OpenFlowError::Refused { .. } => {
                DriverError::NotApplied { port: "*".into(), reason: refused.to_string() }
            }
            other => DriverError::Unreachable(other.to_string()),
        }
    }
}

/// Configures one network element. Every operation is idempotent.
pub trait ElementDriver: Send + Sync {
    /// Applies `connect`, replacing what the element had for its service, and confirms it by
    /// reading the element back.
    fn apply(&self, connect: &CrossConnect) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Removes everything the element has for `service`; nothing to remove is not an error.
    fn remove(&self, service: &str) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Whether the element runs `connect` exactly (the read-back).
    fn check(&self, connect: &CrossConnect) -> impl Future<Output = Result<bool, DriverError>> + Send;
    /// The element's ports as it reports them.
    fn ports(&self) -> impl Future<Output = Result<Vec<PortState>, DriverError>> + Send;
    /// The flows the element holds for `service`, as it reports them.
    fn flows(&self, service: &str) -> impl Future<Output = Result<Vec<Flow>, DriverError>> + Send;
}

/// Checks the VLAN identifiers of a cross-connect.
pub(crate) fn check_vlans(connect: &CrossConnect) -> Result<(), DriverError> {
    let bad = connect.endpoints.iter().find_map(|e| {
        let vlans = match &e.attachment {
            Attachment::Uni { ce_vlans, carried } => {
                if let Some(bad) = carried.filter(|v| !(1..=4094).contains(v)) {
                    return Some(bad);
                }
                ce_vlans.as_slice()
            }
            Attachment::Tagged { s_vlan } => std::slice::from_ref(s_vlan),
            Attachment::Routed(_) => &[],
        };
        vlans.iter().copied().find(|v| !(1..=4094).contains(v))
    });
    bad.map_or(Ok(()), |v| Err(DriverError::InvalidVlan(v)))
}

/// Refuses a routed endpoint on a switch, then checks the VLAN identifiers.
pub(crate) fn check_switched(connect: &CrossConnect) -> Result<(), DriverError> {
    if let Some(routed) = connect.endpoints.iter().find(|e| matches!(e.attachment, Attachment::Routed(_))) {
        let reason = "an Open vSwitch switches frames; an IP UNI needs a router".into();
        return Err(DriverError::NotApplied { port: routed.port.clone(), reason });
    }
    check_vlans(connect)
}

/// The burst a meter allows for `rate_kbps`: half a second of the rate, which lets TCP reach
/// the rate on Open vSwitch's userspace datapath (measured in `shared/notes`).
pub fn burst_for(rate_kbps: u32) -> u32 {
    (rate_kbps / 2).max(100)
}

/// An element kept in memory: the same flows and meters an Open vSwitch would get, applied and
/// read back at once. It can be taken down to simulate an element fault.
#[derive(Debug)]
pub struct SimulatedDriver {
    ports: Vec<String>,
    state: Mutex<Simulated>,
}

#[derive(Debug, Default)]
struct Simulated {
    down: bool,
    counters: BTreeMap<String, PortCounters>,
    flows: BTreeMap<String, Vec<Flow>>,
    meters: BTreeMap<String, Vec<Meter>>,
    routes: BTreeMap<String, RouterService>,
    /// How many times a service was removed from it.
    removals: usize,
}

/// What a simulated element holds for one service.
type Compiled = (Vec<Flow>, Vec<Meter>, RouterService);

impl SimulatedDriver {
    /// An element with `ports`, numbered from 1 in this order.
    pub fn new(ports: Vec<String>) -> Self {
        SimulatedDriver { ports, state: Mutex::default() }
    }

    /// Takes the element down (every request fails as unreachable) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Counts traffic on `port`, as a frame generator on a real element would make it count.
    pub fn count(&self, port: &str, traffic: PortCounters) {
        let mut state = self.lock();
        let counters = state.counters.entry(port.to_owned()).or_default();
        counters.rx_packets += traffic.rx_packets;
        counters.rx_bytes += traffic.rx_bytes;
        counters.rx_dropped += traffic.rx_dropped;
        counters.tx_packets += traffic.tx_packets;
        counters.tx_bytes += traffic.tx_bytes;
        counters.tx_dropped += traffic.tx_dropped;
    }

    /// How many times a service was removed from the element (a change made in place removes
    /// nothing).
    pub fn removals(&self) -> usize {
        self.lock().removals
    }

    /// The rate of each meter the element has for `service`, in kbit/s.
    pub fn meter_rates(&self, service: &str) -> Vec<u32> {
        self.lock().meters.get(service).map(|m| m.iter().map(|m| m.rate_kbps).collect()).unwrap_or_default()
    }

    /// Every flow the element has.
    pub fn all_flows(&self) -> Vec<Flow> {
        self.lock().flows.values().flatten().cloned().collect()
    }

    /// The OpenFlow number of `port`.
    pub fn port_number(&self, port: &str) -> Option<u32> {
        self.ports.iter().position(|p| p == port).map(|i| i as u32 + 1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Simulated> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn compiled(&self, connect: &CrossConnect) -> Result<Compiled, DriverError> {
        check_vlans(connect)?;
        if let Some(missing) = connect.endpoints.iter().find(|e| self.port_number(&e.port).is_none()) {
            return Err(DriverError::NotApplied { port: missing.port.clone(), reason: "no such port".into() });
        }
        let meters: Vec<Meter> = connect
            .endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| !matches!(e.attachment, Attachment::Routed(_)))
            .filter_map(|(i, e)| {
                e.ingress_cir_kbps.map(|rate| Meter { id: i as u32 + 1, rate_kbps: rate, burst_kbits: burst_for(rate) })
            })
            .collect();
        let number = |port: &str| self.port_number(port).unwrap_or(0);
        let flows = flows::compile(connect, number, |i| connect.endpoints[i].ingress_cir_kbps.map(|_| i as u32 + 1));
        let routed = connect.endpoints.iter().filter(|e| matches!(e.attachment, Attachment::Routed(_)));
        let routes = RouterService::wanted(&CrossConnect {
            service: connect.service.clone(),
            endpoints: routed.cloned().collect(),
        })?;
        Ok((flows, meters, routes))
    }

    fn reachable(&self) -> Result<std::sync::MutexGuard<'_, Simulated>, DriverError> {
        let state = self.lock();
        if state.down {
            return Err(DriverError::Unreachable("the simulated element is down".into()));
        }
        Ok(state)
    }
}

impl ElementDriver for SimulatedDriver {
    async fn apply(&self, connect: &CrossConnect) -> Result<(), DriverError> {
        let (flows, meters, routes) = self.compiled(connect)?;
        let mut state = self.reachable()?;
        state.flows.insert(connect.service.clone(), flows);
        state.meters.insert(connect.service.clone(), meters);
        state.routes.insert(connect.service.clone(), routes);
        Ok(())
    }

    async fn remove(&self, service: &str) -> Result<(), DriverError> {
        let mut state = self.reachable()?;
        state.flows.remove(service);
        state.meters.remove(service);
        state.routes.remove(service);
        state.removals += 1;
        Ok(())
    }

    async fn check(&self, connect: &CrossConnect) -> Result<bool, DriverError> {
        let (flows, meters, routes) = self.compiled(connect)?;
        let state = self.reachable()?;
        Ok(state.flows.get(&connect.service) == Some(&flows)
            && state.meters.get(&connect.service) == Some(&meters)
            && state.routes.get(&connect.service) == Some(&routes))
    }

    async fn flows(&self, service: &str) -> Result<Vec<Flow>, DriverError> {
        Ok(self.reachable()?.flows.get(service).cloned().unwrap_or_default())
    }

    async fn ports(&self) -> Result<Vec<PortState>, DriverError> {
        let state = self.reachable()?;
        Ok(self
            .ports
            .iter()
            .map(|p| PortState {
                port: p.clone(),
                link_up: true,
                error: None,
                counters: state.counters.get(p).copied().unwrap_or_default(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evpl(service: &str, ce_vlan: u16) -> CrossConnect {
        CrossConnect {
            service: service.into(),
            endpoints: vec![
                Endpoint {
                    port: "uni1".into(),
                    attachment: Attachment::Uni { ce_vlans: vec![ce_vlan], carried: None },
                    ingress_cir_kbps: Some(10_000),
                    role: Role::Root,
                },
                Endpoint {
                    port: "nni".into(),
                    attachment: Attachment::Tagged { s_vlan: 5 },
                    ingress_cir_kbps: None,
                    role: Role::Root,
                },
            ],
        }
    }

    #[tokio::test]
    async fn the_simulated_element_runs_what_it_is_told_until_it_goes_down() {
        let element = SimulatedDriver::new(vec!["uni1".into(), "nni".into()]);
        let connect = evpl("a", 100);
        assert!(!element.check(&connect).await.unwrap());
        element.apply(&connect).await.unwrap();
        element.apply(&connect).await.unwrap();
        assert!(element.check(&connect).await.unwrap());
        assert_eq!(element.all_flows().len(), 2, "applying twice adds nothing");
        assert!(!element.check(&evpl("a", 101)).await.unwrap(), "a different CE-VLAN is not what runs");
        element.remove("a").await.unwrap();
        element.remove("a").await.unwrap();
        assert!(element.all_flows().is_empty());

        let mut bad = evpl("b", 4095);
        assert!(matches!(element.apply(&bad).await, Err(DriverError::InvalidVlan(4095))));
        bad.endpoints[0].attachment = Attachment::Uni { ce_vlans: vec![5], carried: None };
        bad.endpoints[1].port = "nope".into();
        assert!(matches!(element.apply(&bad).await, Err(DriverError::NotApplied { port, .. }) if port == "nope"));

        element.set_down(true);
        assert!(matches!(element.apply(&connect).await, Err(DriverError::Unreachable(_))));
        assert!(matches!(element.ports().await, Err(DriverError::Unreachable(_))));
        element.set_down(false);
        assert_eq!(element.ports().await.unwrap().len(), 2);
    }
}
