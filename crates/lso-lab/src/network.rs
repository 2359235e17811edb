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
        let domain = Domain::build(&mut lab, topology, "", 1, ce_vlan, None)?;
        Ok(NetworkLab { lab, topology: domain.topology, hosts: domain.hosts, elements: domain.elements })
    }
}

/// One provider's network in a [`PartnerLab`].
pub struct Domain {
    /// The topology, each element reached over OVSDB and OpenFlow.
    pub topology: Topology,
    /// The customer host at each UNI, by interface name.
    pub hosts: BTreeMap<String, Host>,
    /// The elements, by name.
    pub elements: BTreeMap<String, LabElement>,
}

impl Domain {
    /// Builds `topology` in `lab`, its elements' names prefixed with `prefix`, its hosts from
    /// 10.66.0.`first_host`; a partner host stands behind each ENNI but `joined`.
    fn build(
        lab: &mut Lab,
        topology: &Topology,
        prefix: &str,
        first_host: usize,
        ce_vlan: Option<u16>,
        joined: Option<&str>,
    ) -> Result<Self, LabError> {
        let mut elements = BTreeMap::new();
        for (name, _) in &topology.elements {
            elements.insert(name.clone(), lab.element(&format!("{prefix}{name}"))?);
        }
        for link in &topology.links {
            lab.wire(&elements[&link.a.element], &link.a.port, &elements[&link.z.element], &link.z.port)?;
        }
        let mut hosts = BTreeMap::new();
        let unis: Vec<_> = topology.interfaces.iter().filter(|i| i.kind == InterfaceKind::Uni).collect();
        if first_host + unis.len() > 254 {
            return Err(LabError::new("a lab has room for 253 UNIs (one /24)"));
        }
        for (n, interface) in unis.into_iter().enumerate() {
            let element = &elements[&interface.port.element];
            let address = format!("10.66.0.{}", first_host + n);
            let host = lab.host(&format!("{prefix}h{}", n + 1), element, &interface.port.port, &address, ce_vlan)?;
            hosts.insert(interface.name.clone(), host);
        }
        // The partner behind each ENNI: its end of the link, so the port exists (its traffic,
        // S-tagged over C-tagged, is not checked: the kernel here cannot untag it).
        let ennis =
            topology.interfaces.iter().filter(|i| i.kind == InterfaceKind::Enni && Some(i.name.as_str()) != joined);
        for (n, interface) in ennis.enumerate() {
            let element = &elements[&interface.port.element];
            let address = format!("10.67.{}.{}", first_host, n + 1);
            lab.host(&format!("{prefix}p{}", n + 1), element, &interface.port.port, &address, None)?;
        }
        let management = elements
            .iter()
            .map(|(name, e)| {
                (
                    name.clone(),
                    Management::Ovs { ovsdb: e.ovsdb.clone(), openflow: e.openflow.clone(), bridge: e.bridge.clone() },
                )
            })
            .collect();
        let topology = Topology::parse(&topology.to_toml(&management)).map_err(|e| LabError::new(e.to_string()))?;
        Ok(Domain { topology, hosts, elements })
    }
}

/// Two providers' networks on this machine, joined by a link between an ENNI of each: the
/// first's hosts from 10.66.0.1, the second's from 10.66.0.101, in one subnet so an EVC
/// across both carries traffic between them.
pub struct PartnerLab {
    /// Owns every namespace and process of both; dropping it removes them.
    pub lab: Lab,
    /// The first provider's network, then the second's.
    pub domains: [Domain; 2],
}

impl PartnerLab {
    /// Builds `a` and `b`, joining `a`'s ENNI `a_enni` to `b`'s `b_enni`.
    pub fn build(
        (a, a_enni): (&Topology, &str),
        (b, b_enni): (&Topology, &str),
        tag: &str,
        ce_vlan: Option<u16>,
    ) -> Result<Self, LabError> {
        let mut lab = Lab::new(tag)?;
        let first = Domain::build(&mut lab, a, "a", 1, ce_vlan, Some(a_enni))?;
        let second = Domain::build(&mut lab, b, "b", 101, ce_vlan, Some(b_enni))?;
        let port = |domain: &Domain, enni: &str| {
            let interface = domain.topology.interface(enni).ok_or_else(|| LabError::new(format!("no ENNI {enni}")))?;
            Ok::<_, LabError>((domain.elements[&interface.port.element].clone(), interface.port.port.clone()))
        };
        let ((a_element, a_port), (b_element, b_port)) = (port(&first, a_enni)?, port(&second, b_enni)?);
        lab.wire(&a_element, &a_port, &b_element, &b_port)?;
        Ok(PartnerLab { lab, domains: [first, second] })
    }
}
