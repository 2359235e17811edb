//! The network ICM knows, as loaded from a topology file: elements and their ports, links
//! between ports with a capacity, and service interface points (UNIs, ENNIs) at ports.
//!
//! The file format is TOML (see `docs/topology.md`):
//!
//! ```toml
//! [[element]]
//! name = "pe1"
//! ports = ["p1", "p2"]
//!
//! [[link]]
//! a = "pe1:p2"
//! z = "pe2:p1"
//! capacity_mbps = 1000
//!
//! [[interface]]
//! name = "uni-ny-1"
//! port = "pe1:p1"
//! kind = "uni"
//! site = "site-ny"
//! capacity_mbps = 1000
//! ```

use lso_presto::InterfaceKind;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

/// Why a topology is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// The text is not a topology.
    #[error("the topology is not valid TOML for lso: {0}")]
    Syntax(String),
    /// Something in it contradicts something else.
    #[error("{0}")]
    Invalid(String),
}

/// A port of an element, written `element:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRef {
    /// The element's name.
    pub element: String,
    /// The port's name on it.
    pub port: String,
}

impl PortRef {
    fn parse(text: &str) -> Result<Self, TopologyError> {
        let (element, port) = text
            .split_once(':')
            .filter(|(e, p)| !e.is_empty() && !p.is_empty())
            .ok_or_else(|| TopologyError::Invalid(format!("`{text}` is not `element:port`")))?;
        Ok(PortRef { element: element.to_owned(), port: port.to_owned() })
    }
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.element, self.port)
    }
}

/// A link between two ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// One end.
    pub a: PortRef,
    /// The other end.
    pub z: PortRef,
    /// Capacity in each direction, in Mbit/s.
    pub capacity_mbps: u64,
}

/// A service interface point: where services start and end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Its name (e.g. the UNI identifier).
    pub name: String,
    /// The port it is on.
    pub port: PortRef,
    /// UNI or ENNI.
    pub kind: InterfaceKind,
    /// The site it serves, if known.
    pub site: Option<String>,
    /// Its capacity in each direction, in Mbit/s.
    pub capacity_mbps: u64,
}

/// How ECM reaches an element: an Open vSwitch at its `ovsdb-server` and OpenFlow socket, or
/// an FRRouting router by the network namespace its daemons run in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Management {
    /// An Open vSwitch.
    Ovs {
        /// Where its `ovsdb-server` listens (`host:port`).
        ovsdb: String,
        /// The path of its bridge's OpenFlow management socket.
        openflow: String,
        /// The bridge the services go on.
        #[serde(default = "default_bridge")]
        bridge: String,
    },
    /// An FRRouting router.
    Frr {
        /// The network namespace (and `vtysh -N` pathspace) of its daemons.
        frr: String,
    },
}

fn default_bridge() -> String {
    "br0".into()
}

/// A checked topology. Elements, links and interfaces keep the file's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Element names, each with its ports.
    pub elements: Vec<(String, Vec<String>)>,
    /// Links between ports.
    pub links: Vec<Link>,
    /// Service interface points.
    pub interfaces: Vec<Interface>,
    /// How each managed element is reached; an element left out is simulated.
    pub management: std::collections::BTreeMap<String, Management>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    element: Vec<ElementEntry>,
    #[serde(default)]
    link: Vec<LinkEntry>,
    #[serde(default)]
    interface: Vec<InterfaceEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ElementEntry {
    name: String,
    ports: Vec<String>,
    management: Option<Management>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkEntry {
    a: String,
    z: String,
    capacity_mbps: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterfaceEntry {
    name: String,
    port: String,
    kind: InterfaceKind,
    site: Option<String>,
    capacity_mbps: u64,
}

impl Topology {
    /// Parses and checks a topology file's text.
    pub fn parse(text: &str) -> Result<Self, TopologyError> {
        let file: File = toml::from_str(text).map_err(|e| TopologyError::Syntax(e.to_string()))?;
        let mut ports: HashSet<PortRef> = HashSet::new();
        let mut elements = Vec::new();
        let mut management = std::collections::BTreeMap::new();
        for element in file.element {
            if elements.iter().any(|(name, _)| name == &element.name) {
                return Err(TopologyError::Invalid(format!("element `{}` is defined twice", element.name)));
            }
            for port in &element.ports {
                if !ports.insert(PortRef { element: element.name.clone(), port: port.clone() }) {
                    return Err(TopologyError::Invalid(format!("port `{}:{port}` is defined twice", element.name)));
                }
            }
            if let Some(reached) = element.management {
                management.insert(element.name.clone(), reached);
            }
            elements.push((element.name, element.ports));
        }
        let mut used: HashMap<PortRef, String> = HashMap::new();
        let mut claim = |port: &PortRef, by: String| -> Result<(), TopologyError> {
            if !ports.contains(port) {
                return Err(TopologyError::Invalid(format!("{by} names port `{port}`, which no element has")));
            }
            if let Some(other) = used.insert(port.clone(), by.clone()) {
                return Err(TopologyError::Invalid(format!("port `{port}` is used by both {other} and {by}")));
            }
            Ok(())
        };
        let mut links = Vec::new();
        for entry in file.link {
            let (a, z) = (PortRef::parse(&entry.a)?, PortRef::parse(&entry.z)?);
            if a.element == z.element {
                return Err(TopologyError::Invalid(format!("link {a} – {z} loops back to its element")));
            }
            if entry.capacity_mbps == 0 {
                return Err(TopologyError::Invalid(format!("link {a} – {z} has no capacity")));
            }
            claim(&a, format!("link {a} – {z}"))?;
            claim(&z, format!("link {a} – {z}"))?;
            links.push(Link { a, z, capacity_mbps: entry.capacity_mbps });
        }
        let mut interfaces: Vec<Interface> = Vec::new();
        for entry in file.interface {
            let port = PortRef::parse(&entry.port)?;
            if interfaces.iter().any(|i| i.name == entry.name) {
                return Err(TopologyError::Invalid(format!("interface `{}` is defined twice", entry.name)));
            }
            claim(&port, format!("interface `{}`", entry.name))?;
            interfaces.push(Interface {
                name: entry.name,
                port,
                kind: entry.kind,
                site: entry.site,
                capacity_mbps: entry.capacity_mbps,
            });
        }
        Ok(Topology { elements, links, interfaces, management })
    }

    /// The interface named `name`.
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }
}

impl Topology {
    /// The topology as a topology file, with `management` for the elements it names (the
    /// topology's own management settings otherwise).
    pub fn to_toml(&self, management: &std::collections::BTreeMap<String, Management>) -> String {
        let quote = |text: &str| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
        let mut text = String::new();
        for (name, ports) in &self.elements {
            let ports: Vec<String> = ports.iter().map(|p| quote(p)).collect();
            text.push_str(&format!("[[element]]\nname = {}\nports = [{}]\n", quote(name), ports.join(", ")));
            match management.get(name).or_else(|| self.management.get(name)) {
                Some(Management::Ovs { ovsdb, openflow, bridge }) => text.push_str(&format!(
                    "management = {{ ovsdb = {}, openflow = {}, bridge = {} }}\n",
                    quote(ovsdb),
                    quote(openflow),
                    quote(bridge)
                )),
                Some(Management::Frr { frr }) => text.push_str(&format!("management = {{ frr = {} }}\n", quote(frr))),
                None => {}
            }
            text.push('\n');
        }
        for link in &self.links {
            text.push_str(&format!(
                "[[link]]\na = {}\nz = {}\ncapacity_mbps = {}\n\n",
                quote(&link.a.to_string()),
                quote(&link.z.to_string()),
                link.capacity_mbps
            ));
        }
        for interface in &self.interfaces {
            let kind = match interface.kind {
                InterfaceKind::Uni => "uni",
                InterfaceKind::Enni => "enni",
                InterfaceKind::IpUni => "ip-uni",
            };
            text.push_str(&format!(
                "[[interface]]\nname = {}\nport = {}\nkind = \"{kind}\"\n",
                quote(&interface.name),
                quote(&interface.port.to_string())
            ));
            if let Some(site) = &interface.site {
                text.push_str(&format!("site = {}\n", quote(site)));
            }
            text.push_str(&format!("capacity_mbps = {}\n\n", interface.capacity_mbps));
        }
        text
    }
}
