//! A topology built for real on this machine: an Open vSwitch element per topology element (an
//! FRRouting router per element with IP UNIs, with an Internet host upstream), a veth per link,
//! a customer host behind a customer edge switch at every UNI and an unaddressed customer host
//! at every IP UNI (the test gives it the address its order was given). The topology it returns
//! says how to reach each element, so `lso` configures them for real.

use lso_ecm::lab::{Host, Lab, LabElement, LabError, LabRouter};
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
    /// The routers, by name, each with the Internet host beyond it.
    pub routers: BTreeMap<String, (LabRouter, Host)>,
}

/// The autonomous system of the lab's provider routers.
pub const PROVIDER_AS: u32 = 64500;

impl NetworkLab {
    /// Builds `topology` with names starting with `tag`; every host sits behind a CE switch
    /// sending on `ce_vlan`, or sends untagged frames when `None`. The host at the n-th UNI
    /// has address 10.66.0.n.
    pub fn build(topology: &Topology, tag: &str, ce_vlan: Option<u16>) -> Result<Self, LabError> {
        let mut lab = Lab::new(tag)?;
        let domain = Domain::build(&mut lab, topology, "", 1, ce_vlan, None)?;
        Ok(NetworkLab {
            lab,
            topology: domain.topology,
            hosts: domain.hosts,
            elements: domain.elements,
            routers: domain.routers,
        })
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
    /// The routers, by name, each with the Internet host beyond it.
    pub routers: BTreeMap<String, (LabRouter, Host)>,
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
        let mut routers = BTreeMap::new();
        for (name, _) in &topology.elements {
            let routes = topology.interfaces.iter().any(|i| i.kind == InterfaceKind::IpUni && &i.port.element == name);
            if routes {
                routers.insert(name.clone(), lab.router(&format!("{prefix}{name}"), PROVIDER_AS)?);
            } else {
                elements.insert(name.clone(), lab.element(&format!("{prefix}{name}"))?);
            }
        }
        if let Some(link) =
            topology.links.iter().find(|l| routers.contains_key(&l.a.element) || routers.contains_key(&l.z.element))
        {
            return Err(LabError::new(format!("the lab links no router ({} – {})", link.a, link.z)));
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
        let ip_unis = topology.interfaces.iter().filter(|i| i.kind == InterfaceKind::IpUni);
        for (n, interface) in ip_unis.enumerate() {
            let (router, _) = &routers[&interface.port.element];
            let host = lab.routed_host(&format!("{prefix}r{}", n + 1), router, &interface.port.port)?;
            hosts.insert(interface.name.clone(), host);
        }
        let switches = elements.iter().map(|(name, e)| {
            let reached =
                Management::Ovs { ovsdb: e.ovsdb.clone(), openflow: e.openflow.clone(), bridge: e.bridge.clone() };
            (name.clone(), reached)
        });
        let routed = routers.iter().map(|(name, (r, _))| (name.clone(), Management::Frr { frr: r.namespace.clone() }));
        let management = switches.chain(routed).collect();
        let topology = Topology::parse(&topology.to_toml(&management)).map_err(|e| LabError::new(e.to_string()))?;
        Ok(Domain { topology, hosts, elements, routers })
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
