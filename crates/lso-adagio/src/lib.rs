//! Adagio (ICM ↔ ECM) as both sides see it: the [`Adagio`] trait infrastructure control asks
//! element control through, and what passes over it: the [`CrossConnect`] one service needs on
//! one element, the element's ports with their counters ([`PortState`]), the flows it holds
//! for a service ([`Flow`]), and the alarms raised on elements ([`Alarm`]).
//!
//! `lso_ecm::Ecm` implements it in-process; `lso_api_adagio::AdagioClient` over HTTP.

use std::future::Future;
use std::pin::Pin;

/// How a service uses a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attachment {
    /// A UNI: frames whose outer VLAN is one of `ce_vlans` belong to the service, or every
    /// frame when `ce_vlans` is empty (all-to-one bundling). They leave as they came, unless
    /// `carried` names the CE-VLAN the service's other UNIs use (CE-VLAN translation): a frame
    /// entering here then takes that CE-VLAN at once.
    Uni { ce_vlans: Vec<u16>, carried: Option<u16> },
    /// A link or an ENNI: the service's frames carry an S-tag with `s_vlan`.
    Tagged { s_vlan: u16 },
    /// An IP UNI access link on a router: the port is addressed, and the customer's traffic is
    /// routed to and from the provider's network.
    Routed(Routed),
}

/// What a router holds for one IP UNI access link (MEF 61.1): its addressing, the routing
/// towards the customer, and the rate towards the customer (the rate from the customer is the
/// endpoint's `ingress_cir_kbps`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Routed {
    /// The provider's address on the link with the link's prefix length, e.g. `100.64.0.1/30`.
    pub provider: String,
    /// The customer's address on the link, e.g. `100.64.0.2`.
    pub customer: String,
    /// Prefixes of the customer's network routed statically to the customer's address.
    #[serde(default)]
    pub static_routes: Vec<String>,
    /// BGP with the customer's router, when the customer asked for it.
    #[serde(default)]
    pub bgp: Option<Bgp>,
    /// The rate traffic towards the customer is held to, in kbit/s.
    #[serde(default)]
    pub egress_kbps: Option<u32>,
}

/// A BGP session with a customer's router on its access link: the provider announces a default
/// route and takes the customer's prefixes within `accept`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bgp {
    /// The customer's autonomous system.
    pub customer_as: u32,
    /// The prefixes (and any longer ones within them) the customer may announce.
    pub accept: Vec<String>,
}

/// One port of a service on an element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The port's name on the element.
    pub port: String,
    /// How the service uses it.
    pub attachment: Attachment,
    /// The rate frames entering the service here are held to (the CIR), in kbit/s.
    pub ingress_cir_kbps: Option<u32>,
    /// Where it stands in a rooted-multipoint service (E-Tree); `Root` in any other.
    pub role: Role,
}

/// Where an endpoint stands in a rooted-multipoint service (MEF 10.4 E-Tree): roots reach
/// every endpoint, leaves reach roots only. Between elements, a tree carries what roots send
/// and what leaves send on two S-VLANs of each link, each a trunk endpoint of its own, so an
/// element the frame reaches still knows where it came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// Sends to and receives from every endpoint: every endpoint of an E-Line or an E-LAN.
    #[default]
    Root,
    /// Sends to and receives from roots only.
    Leaf,
    /// A link's S-VLAN carrying what roots send.
    RootTrunk,
    /// A link's S-VLAN carrying what leaves send.
    LeafTrunk,
}

impl Role {
    /// Whether frames entering here come from a leaf.
    pub fn from_leaf(self) -> bool {
        matches!(self, Role::Leaf | Role::LeafTrunk)
    }

    /// Whether a frame that came from a leaf (`from_leaf`), or else from a root, leaves here.
    pub fn passes(self, from_leaf: bool) -> bool {
        match self {
            Role::Root => true,
            Role::Leaf | Role::RootTrunk => !from_leaf,
            Role::LeafTrunk => from_leaf,
        }
    }
}

/// Everything one service needs from one element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CrossConnect {
    /// The service's id.
    pub service: String,
    /// Its endpoints on the element.
    pub endpoints: Vec<Endpoint>,
}

/// A port as the element reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortState {
    /// The port's name.
    pub port: String,
    /// Whether the link is up.
    pub link_up: bool,
    /// What the element reports as wrong with it, if anything.
    pub error: Option<String>,
    /// What it has received and sent since it was made.
    pub counters: PortCounters,
}

/// The traffic counters of a port, as the element keeps them (and as Adagio carries them,
/// in camelCase).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortCounters {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames received and dropped (e.g. over a meter's rate).
    pub rx_dropped: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames that could not be sent.
    pub tx_dropped: u64,
}

/// What can go wrong talking to an element.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The element cannot be reached, or broke the conversation.
    #[error("element unreachable: {0}")]
    Unreachable(String),
    /// The element refused the change, or does not run it as asked.
    #[error("port {port} is not working: {reason}")]
    NotApplied { port: String, reason: String },
    /// A VLAN identifier outside 1–4094.
    #[error("VLAN {0} is outside 1-4094")]
    InvalidVlan(u16),
}

/// One action of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Send the frame out of a port (never back out of the port it came in on).
    Output(u32),
    /// Push a VLAN tag with this EtherType (0x8100 C-tag, 0x88a8 S-tag).
    PushVlan(u16),
    /// Remove the outer VLAN tag.
    PopVlan,
    /// Set the VLAN identifier of the outer tag.
    SetVlan(u16),
    /// Load a value into a register (0-7) the frame carries through the element's tables.
    SetRegister(u8, u32),
    /// Learn where the frame's source MAC address is (see [`Learn`]).
    Learn(Learn),
    /// Look the frame up in another table, then go on with the next action.
    Resubmit(u8),
}

/// MAC learning (Open vSwitch's `learn` action): a frame entering a service adds, or refreshes,
/// a flow in `table` that matches frames of the same service (registers 0 and 1, the service's
/// key) sent to the frame's source MAC address, and loads the port the frame came in on into
/// register 2: where later frames for that address go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Learn {
    /// The table learned flows go to.
    pub table: u8,
    /// Their priority.
    pub priority: u16,
    /// Seconds without a frame from the address after which it is forgotten.
    pub idle_timeout: u16,
    /// Their cookie: the service's, so they go with it.
    pub cookie: u64,
}

/// A flow of an element.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    /// Marks the flows of one service, so they can be found and removed together.
    #[serde(skip)]
    pub cookie: u64,
    /// The table it is in (0 first).
    #[serde(default)]
    pub table: u8,
    /// Higher matches first.
    pub priority: u16,
    /// The OpenFlow port frames arrive on, or any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_port: Option<u32>,
    /// The VLAN identifier of the outer tag, or any frame when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// The values registers must hold: (register, value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registers: Vec<(u8, u32)>,
    /// The meter frames pass first, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter: Option<u32>,
    /// What to do with a frame.
    pub actions: Vec<Action>,
}

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlarmKind {
    /// The element does not answer.
    ElementUnreachable,
    /// A port's link is down.
    PortDown,
    /// The element reports an error on a port.
    PortError,
}

impl AlarmKind {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::ElementUnreachable => "elementUnreachable",
            AlarmKind::PortDown => "portDown",
            AlarmKind::PortError => "portError",
        }
    }
}

/// An alarm: what is wrong, where, since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    /// The element.
    pub element: String,
    /// The port, for a port alarm.
    pub port: Option<String>,
    /// What is wrong.
    pub kind: AlarmKind,
    /// What the element said.
    pub detail: String,
    /// When it was raised (milliseconds since the epoch).
    pub raised_at: i64,
}

/// A change of the alarms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmChange {
    /// Newly wrong.
    Raised(Alarm),
    /// Right again.
    Cleared(Alarm),
}

impl AlarmChange {
    /// The alarm raised or cleared.
    pub fn alarm(&self) -> &Alarm {
        match self {
            AlarmChange::Raised(alarm) | AlarmChange::Cleared(alarm) => alarm,
        }
    }
}

/// A boxed future, so that [`Adagio`] can be used as `dyn Adagio`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What can go wrong asking ECM.
#[derive(Debug, thiserror::Error)]
pub enum AdagioError {
    /// ECM manages no element of that name.
    #[error("no element `{0}`")]
    UnknownElement(String),
    /// The element's driver failed.
    #[error("element `{element}`: {error}")]
    Driver {
        element: String,
        #[source]
        error: DriverError,
    },
}

/// Element control as infrastructure control sees it. Every operation is idempotent.
pub trait Adagio: Send + Sync {
    /// The elements ECM manages, each with whether it is simulated.
    fn elements(&self) -> Vec<(String, bool)>;
    /// Applies `connect` on `element` and confirms it by reading back.
    fn apply<'a>(&'a self, element: &'a str, connect: &'a CrossConnect) -> BoxFuture<'a, Result<(), AdagioError>>;
    /// Removes what `element` has for `service`.
    fn remove<'a>(&'a self, element: &'a str, service: &'a str) -> BoxFuture<'a, Result<(), AdagioError>>;
    /// Whether `element` runs `connect` exactly.
    fn check<'a>(&'a self, element: &'a str, connect: &'a CrossConnect) -> BoxFuture<'a, Result<bool, AdagioError>>;
    /// The ports of `element` as it reports them.
    fn ports<'a>(&'a self, element: &'a str) -> BoxFuture<'a, Result<Vec<PortState>, AdagioError>>;
    /// The flows `element` holds for `service` (the read-back).
    fn flows<'a>(&'a self, element: &'a str, service: &'a str) -> BoxFuture<'a, Result<Vec<Flow>, AdagioError>>;
}
