//! A topology built for real on this machine: an Open vSwitch element per topology element, a
//! veth per link, and a customer host behind a customer edge switch at every UNI. The topology
//! it returns says how to reach each element, so `lso` configures them for real.

use lso_ecm::lab::{Host, Lab, LabElement, LabError};
use lso_icm::{InterfaceKind, Management, Topology};
use std::collections::BTreeMap;

/// The lab, the topology with each element's management settings, and the host at each UNI.
pub struct NetworkLab {
    /// Owns every namespace and process; dropping it removes them.
    pub lab: Lab,
    /// The topology, each element reached over OVSDB and OpenFlow.
    pub topology: Topology,
    /// The customer host at each UNI, by interface name.
    pub hosts: BTreeMap<String, Host>,
    /// The elements, by name.
    pub elements: BTreeMap<String, LabElement>,
}

impl NetworkLab {
    /// Builds `topology` with names starting with `tag`; every host sits behind a CE switch
    /// sending on `ce_vlan`, or sends untagged frames when `None`. The host at the n-th UNI
    /// has address 10.66.0.n.
    pub fn build(topology: &Topology, tag: &str, ce_vlan: Option<u16>) -> Result<Self, LabError> {
        let mut lab = Lab::new(tag)?;
        let mut elements = BTreeMap::new();
        for (name, _) in &topology.elements {
            elements.insert(name.clone(), lab.element(name)?);
        }
        for link in &topology.links {
            lab.wire(&elements[&link.a.element], &link.a.port, &elements[&link.z.element], &link.z.port)?;
        }
        let mut hosts = BTreeMap::new();
        if topology.interfaces.len() > 250 {
            return Err(LabError::new("a lab has room for 250 UNIs (one /24)"));
        }
        let unis = topology.interfaces.iter().filter(|i| i.kind == InterfaceKind::Uni);
        for (n, interface) in unis.enumerate() {
            let element = &elements[&interface.port.element];
            let host = lab.host(
                &format!("h{}", n + 1),
                element,
                &interface.port.port,
                &format!("10.66.0.{}", n + 1),
                ce_vlan,
            )?;
            hosts.insert(interface.name.clone(), host);
        }
        // The partner behind each ENNI: its end of the link, so the port exists (its traffic,
        // S-tagged over C-tagged, is not checked: the kernel here cannot untag it).
        let ennis = topology.interfaces.iter().filter(|i| i.kind == InterfaceKind::Enni);
        for (n, interface) in ennis.enumerate() {
            let element = &elements[&interface.port.element];
            lab.host(&format!("p{}", n + 1), element, &interface.port.port, &format!("10.67.0.{}", n + 1), None)?;
        }
        let management = elements
            .iter()
            .map(|(name, e)| {
                (
                    name.clone(),
                    Management { ovsdb: e.ovsdb.clone(), openflow: e.openflow.clone(), bridge: e.bridge.clone() },
                )
            })
            .collect();
        let topology = Topology::parse(&topology.to_toml(&management)).map_err(|e| LabError::new(e.to_string()))?;
        Ok(NetworkLab { lab, topology, hosts, elements })
    }
}
