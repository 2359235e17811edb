//! How a cross-connect becomes OpenFlow flows on one element, and how an element forwards a
//! frame through such flows (used by the simulated element and to test the compilation).
//!
//! A frame enters the service at an endpoint: at a UNI when its outer VLAN is one of the
//! endpoint's CE-VLANs (any frame for all-to-one bundling), on a tagged port (a link or an
//! ENNI) when its outer tag carries the endpoint's S-VLAN, which is then removed. It leaves at
//! every other endpoint of the service on the element: as it came from the customer at a UNI,
//! with an 802.1ad S-tag pushed on a tagged port. A UNI's ingress may pass a meter first.
//!
//! In a rooted-multipoint service (E-Tree) a frame leaves only where its origin may reach:
//! what a leaf sends goes to roots, and between elements on the links' leaf S-VLAN; what a root
//! sends goes everywhere, on the links' root S-VLAN (see [`crate::Role`]).
//!
//! A service with three endpoints or more on an element learns where MAC addresses are (as a
//! bridge does): a frame for an address seen before leaves at that address's port only; one
//! for an unknown address, or a broadcast, floods as above. Frames pass three tables: the
//! ingress table (0) matches the frame to its service's endpoint, marks it with the service's
//! key (registers 0 and 1) and its origin (register 3: 1 from a leaf), learns its source address
//! and looks up its destination in the learned table (1), which loads the port of a known
//! address into register 2; the egress table (2) sends it out by service, port and origin.
//! Learned flows are the switch's own state: they carry the service's cookie (so they go with
//! it) but are not part of the configuration read back.
//!
//! CE-VLAN translation happens where a frame enters: at a UNI with a `carried` CE-VLAN (the
//! one the service's other UNIs use) the frame takes it before it goes anywhere, so it leaves
//! every other UNI with that UNI's own CE-VLAN. (Rewriting the C-tag where the frame leaves
//! would need the S-tag popped first, after which OpenFlow cannot tell that a tag is left.)

use crate::{Action, Endpoint, Flow, Learn};
use crate::{Attachment, CrossConnect};
use std::collections::{BTreeMap, BTreeSet};

/// The EtherType of the S-tag pushed on links and ENNIs (IEEE 802.1ad).
pub const S_TAG: u16 = 0x88a8;
/// Priority of flows matching a VLAN.
const TAGGED_PRIORITY: u16 = 200;
/// Priority of an all-to-one UNI's flow, below any VLAN-specific flow.
const PORT_PRIORITY: u16 = 100;
/// Priority of the flows of the learned and egress tables.
const LEARNING_PRIORITY: u16 = 100;

/// The table frames enter.
pub const INGRESS_TABLE: u8 = 0;
/// The table of learned MAC addresses.
pub const LEARNED_TABLE: u8 = 1;
/// The table sending frames of learning services out.
pub const EGRESS_TABLE: u8 = 2;
/// The registers holding the service's key (high and low half of its cookie).
const KEY: [u8; 2] = [0, 1];
/// The register the learned table loads a known destination's port into (0: unknown).
const LEARNED_PORT: u8 = 2;
/// The register saying where the frame came from (1: a leaf).
const ORIGIN: u8 = 3;
/// How long an address is remembered without frames from it, in seconds.
pub const LEARNED_IDLE_SECONDS: u16 = 300;
/// How many switched endpoints a service has on an element for it to learn addresses there.
const LEARNING_ENDPOINTS: usize = 3;

/// The cookie marking a service's flows: FNV-1a of its id.
pub fn cookie(service: &str) -> u64 {
    service.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// Whether the endpoint is switched (not routed).
fn switched(endpoint: &Endpoint) -> bool {
    !matches!(endpoint.attachment, Attachment::Routed(_))
}

/// The actions sending a frame out of `endpoints`: as it is at a UNI, with an S-tag pushed on
/// a tagged port.
fn egress<'a>(
    endpoints: impl Iterator<Item = &'a Endpoint> + Clone,
    port_number: &impl Fn(&str) -> u32,
) -> Vec<Action> {
    let mut actions = Vec::new();
    for egress in endpoints.clone().filter(|e| matches!(e.attachment, Attachment::Uni { .. })) {
        actions.push(Action::Output(port_number(&egress.port)));
    }
    for egress in endpoints {
        if let Attachment::Tagged { s_vlan } = egress.attachment {
            actions.extend([
                Action::PushVlan(S_TAG),
                Action::SetVlan(s_vlan),
                Action::Output(port_number(&egress.port)),
                Action::PopVlan,
            ]);
        }
    }
    if actions.last() == Some(&Action::PopVlan) {
        actions.pop();
    }
    actions
}

/// The flows of `connect`, given each port's OpenFlow number and the meter of each metered
/// UNI endpoint (by endpoint index).
pub fn compile(
    connect: &CrossConnect,
    port_number: impl Fn(&str) -> u32,
    meter: impl Fn(usize) -> Option<u32>,
) -> Vec<Flow> {
    let cookie = cookie(&connect.service);
    let key = [(cookie >> 32) as u32, cookie as u32];
    let learning = connect.endpoints.iter().filter(|e| switched(e)).count() >= LEARNING_ENDPOINTS;
    let mut flows = Vec::new();
    for (index, ingress) in connect.endpoints.iter().enumerate() {
        let (vlans, priority): (Vec<Option<u16>>, u16) = match &ingress.attachment {
            Attachment::Uni { ce_vlans, .. } if ce_vlans.is_empty() => (vec![None], PORT_PRIORITY),
            Attachment::Uni { ce_vlans, .. } => (ce_vlans.iter().copied().map(Some).collect(), TAGGED_PRIORITY),
            Attachment::Tagged { s_vlan } => (vec![Some(*s_vlan)], TAGGED_PRIORITY),
            // Routed on a router, not switched.
            Attachment::Routed(_) => continue,
        };
        let mut actions = Vec::new();
        match ingress.attachment {
            Attachment::Tagged { .. } => actions.push(Action::PopVlan),
            Attachment::Uni { carried: Some(vlan), .. } => actions.push(Action::SetVlan(vlan)),
            _ => {}
        }
        let from_leaf = ingress.role.from_leaf();
        if learning {
            actions.extend([Action::SetRegister(KEY[0], key[0]), Action::SetRegister(KEY[1], key[1])]);
            if from_leaf {
                actions.push(Action::SetRegister(ORIGIN, 1));
            }
            let learn =
                Learn { table: LEARNED_TABLE, priority: LEARNING_PRIORITY, idle_timeout: LEARNED_IDLE_SECONDS, cookie };
            actions.extend([Action::Learn(learn), Action::Resubmit(LEARNED_TABLE), Action::Resubmit(EGRESS_TABLE)]);
        } else {
            let others = connect.endpoints.iter().enumerate().filter(|(i, e)| *i != index && e.role.passes(from_leaf));
            actions.extend(egress(others.map(|(_, e)| e), &port_number));
        }
        let (meter, in_port) = (meter(index), Some(port_number(&ingress.port)));
        for vlan in vlans {
            let actions = actions.clone();
            flows.push(Flow {
                cookie,
                table: INGRESS_TABLE,
                priority,
                in_port,
                vlan,
                registers: vec![],
                meter,
                actions,
            });
        }
    }
    if learning {
        flows.extend(egress_table(connect, cookie, key, &port_number));
    }
    flows
}

/// The egress table of a learning service: for each origin (roots, and leaves if it has any),
/// a flow flooding a frame for an unknown address to every endpoint it may reach, and one per
/// port sending a frame for an address learned there out of that port.
fn egress_table(connect: &CrossConnect, cookie: u64, key: [u32; 2], port_number: &impl Fn(&str) -> u32) -> Vec<Flow> {
    let switched: Vec<&Endpoint> = connect.endpoints.iter().filter(|e| switched(e)).collect();
    let ports: BTreeSet<u32> = switched.iter().map(|e| port_number(&e.port)).collect();
    let leaves = switched.iter().any(|e| e.role.from_leaf());
    let mut flows = Vec::new();
    for from_leaf in [false, true].into_iter().filter(|leaf| !leaf || leaves) {
        let reach = switched.iter().copied().filter(|e| e.role.passes(from_leaf));
        let registers =
            |port: u32| vec![(KEY[0], key[0]), (KEY[1], key[1]), (LEARNED_PORT, port), (ORIGIN, u32::from(from_leaf))];
        let flow = |port: u32, actions: Vec<Action>| Flow {
            cookie,
            table: EGRESS_TABLE,
            priority: LEARNING_PRIORITY,
            in_port: None,
            vlan: None,
            registers: registers(port),
            meter: None,
            actions,
        };
        flows.push(flow(0, egress(reach.clone(), port_number)));
        for &port in &ports {
            let actions = egress(reach.clone().filter(|e| port_number(&e.port) == port), port_number);
            if !actions.is_empty() {
                flows.push(flow(port, actions));
            }
        }
    }
    flows
}

/// A frame as the simulation sees it: the port it is on, its VLAN tags, outer first, and its
/// MAC addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Frame {
    /// The OpenFlow port number.
    pub port: u32,
    /// (EtherType, VLAN id) of each tag, outer first.
    pub tags: Vec<(u16, u16)>,
    /// Its source MAC address.
    pub source: u64,
    /// Its destination MAC address.
    pub destination: u64,
}

impl Frame {
    /// A broadcast frame from address 0 on `port` with `tags`.
    pub fn at(port: u32, tags: Vec<(u16, u16)>) -> Self {
        Frame { port, tags, source: 0, destination: 0xffff_ffff_ffff }
    }
}

/// The addresses an element learned: for each service key and address, its port.
pub type Learned = BTreeMap<([u32; 2], u64), u32>;

/// Where `flows` send a frame arriving as `frame`, as an element that learned nothing and
/// forgets what it learns.
pub fn forward(flows: &[Flow], frame: &Frame) -> Vec<Frame> {
    forward_learning(flows, &mut Learned::new(), frame)
}

/// Where `flows` send a frame arriving as `frame`, on an element that learned `learned` (and
/// learns from this frame): each table's highest-priority matching flow is run, the learned
/// table looked up in `learned`. A frame never leaves by the port it came in on; no match drops
/// it.
pub fn forward_learning(flows: &[Flow], learned: &mut Learned, frame: &Frame) -> Vec<Frame> {
    let mut state = Walk { tags: frame.tags.clone(), registers: [0; 8], out: Vec::new() };
    state.run(flows, learned, frame, INGRESS_TABLE, 0);
    state.out
}

/// A frame on its way through an element's tables.
struct Walk {
    tags: Vec<(u16, u16)>,
    registers: [u32; 8],
    out: Vec<Frame>,
}

impl Walk {
    fn run(&mut self, flows: &[Flow], learned: &mut Learned, frame: &Frame, table: u8, depth: usize) {
        if depth > 8 {
            return;
        }
        if table == LEARNED_TABLE {
            let key = [self.registers[usize::from(KEY[0])], self.registers[usize::from(KEY[1])]];
            if let Some(port) = learned.get(&(key, frame.destination)) {
                self.registers[usize::from(LEARNED_PORT)] = *port;
            }
            return;
        }
        let matching = flows
            .iter()
            .filter(|f| f.table == table && f.in_port.is_none_or(|p| p == frame.port))
            .filter(|f| f.vlan.is_none_or(|v| self.tags.first().map(|t| t.1) == Some(v)))
            .filter(|f| f.registers.iter().all(|(r, v)| self.registers.get(usize::from(*r)) == Some(v)))
            .max_by_key(|f| f.priority);
        let Some(flow) = matching else { return };
        for action in &flow.actions {
            match *action {
                Action::PushVlan(ethertype) => self.tags.insert(0, (ethertype, 0)),
                Action::PopVlan => {
                    if !self.tags.is_empty() {
                        self.tags.remove(0);
                    }
                }
                Action::SetVlan(vlan) => {
                    if let Some(outer) = self.tags.first_mut() {
                        outer.1 = vlan;
                    }
                }
                Action::Output(port) if port != frame.port => {
                    self.out.push(Frame { port, tags: self.tags.clone(), ..frame.clone() });
                }
                Action::Output(_) => {}
                Action::SetRegister(register, value) => {
                    if let Some(slot) = self.registers.get_mut(usize::from(register)) {
                        *slot = value;
                    }
                }
                Action::Learn(_) => {
                    let key = [self.registers[usize::from(KEY[0])], self.registers[usize::from(KEY[1])]];
                    learned.insert((key, frame.source), frame.port);
                }
                Action::Resubmit(next) => self.run(flows, learned, frame, next, depth + 1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Endpoint, Role};

    fn uni(port: &str, ce_vlans: &[u16]) -> Endpoint {
        Endpoint {
            port: port.into(),
            attachment: Attachment::Uni { ce_vlans: ce_vlans.to_vec(), carried: None },
            ingress_cir_kbps: None,
            role: Role::Root,
        }
    }

    fn tagged(port: &str, s_vlan: u16) -> Endpoint {
        Endpoint {
            port: port.into(),
            attachment: Attachment::Tagged { s_vlan },
            ingress_cir_kbps: None,
            role: Role::Root,
        }
    }

    fn with_role(endpoint: Endpoint, role: Role) -> Endpoint {
        Endpoint { role, ..endpoint }
    }

    fn number(port: &str) -> u32 {
        match port {
            "uni1" => 1,
            "uni2" => 2,
            "west" => 3,
            _ => 4,
        }
    }

    #[test]
    fn an_evpl_endpoint_passes_only_its_ce_vlan_and_adds_the_s_tag() {
        let connect = CrossConnect { service: "evc-1".into(), endpoints: vec![uni("uni1", &[100]), tagged("west", 7)] };
        let flows = compile(&connect, number, |_| Some(9));
        assert!(flows.iter().all(|f| f.cookie == cookie("evc-1")));
        let from_customer = forward(&flows, &Frame::at(1, vec![(0x8100, 100)]));
        assert_eq!(from_customer, [Frame::at(3, vec![(S_TAG, 7), (0x8100, 100)])]);
        assert!(forward(&flows, &Frame::at(1, vec![(0x8100, 101)])).is_empty(), "another CE-VLAN");
        assert!(forward(&flows, &Frame::at(1, vec![])).is_empty(), "untagged");
        let from_link = forward(&flows, &Frame::at(3, vec![(S_TAG, 7), (0x8100, 100)]));
        assert_eq!(from_link, [Frame::at(1, vec![(0x8100, 100)])]);
        assert!(forward(&flows, &Frame::at(3, vec![(S_TAG, 8)])).is_empty(), "another S-VLAN");
        assert_eq!(flows.iter().filter_map(|f| f.meter).collect::<Vec<_>>(), [9, 9]);
    }

    #[test]
    fn a_transit_element_translates_s_vlans_and_an_e_lan_floods_to_every_other_endpoint() {
        let transit = CrossConnect { service: "t".into(), endpoints: vec![tagged("west", 7), tagged("east", 9)] };
        let flows = compile(&transit, number, |_| None);
        assert_eq!(
            forward(&flows, &Frame::at(3, vec![(S_TAG, 7), (0x8100, 5)])),
            [Frame::at(4, vec![(S_TAG, 9), (0x8100, 5)])]
        );
        let lan = CrossConnect {
            service: "lan".into(),
            endpoints: vec![uni("uni1", &[]), uni("uni2", &[]), tagged("west", 7)],
        };
        let flows = compile(&lan, number, |_| None);
        let mut out = forward(&flows, &Frame::at(1, vec![]));
        out.sort();
        assert_eq!(out, [Frame::at(2, vec![]), Frame::at(3, vec![(S_TAG, 7)])]);
        let mut out = forward(&flows, &Frame::at(3, vec![(S_TAG, 7), (0x8100, 3)]));
        out.sort();
        assert_eq!(out, [Frame::at(1, vec![(0x8100, 3)]), Frame::at(2, vec![(0x8100, 3)])]);
        assert_eq!(forward(&flows, &Frame::at(1, vec![(0x8100, 42)])).len(), 2, "all-to-one takes every frame");
    }

    #[test]
    fn a_uni_with_a_carried_ce_vlan_translates_where_its_frames_enter() {
        // CE-VLAN 100 at uni1 and 200 at uni2 on this element, a link on S-VLAN 7 to more UNIs
        // on 200: uni1's frames take 200 at once, and uni2's and the link's leave uni1 on 100.
        let mut one = uni("uni1", &[100]);
        one.attachment = Attachment::Uni { ce_vlans: vec![100], carried: Some(200) };
        let mut two = uni("uni2", &[200]);
        two.attachment = Attachment::Uni { ce_vlans: vec![200], carried: Some(100) };
        let evpl = CrossConnect { service: "x".into(), endpoints: vec![one, two, tagged("west", 7)] };
        let flows = compile(&evpl, number, |_| None);
        let mut out = forward(&flows, &Frame::at(1, vec![(0x8100, 100)]));
        out.sort();
        assert_eq!(out, [Frame::at(2, vec![(0x8100, 200)]), Frame::at(3, vec![(S_TAG, 7), (0x8100, 200)])]);
        let mut back = forward(&flows, &Frame::at(2, vec![(0x8100, 200)]));
        back.sort();
        assert_eq!(back, [Frame::at(1, vec![(0x8100, 100)]), Frame::at(3, vec![(S_TAG, 7), (0x8100, 100)])]);
        assert!(forward(&flows, &Frame::at(1, vec![(0x8100, 200)])).is_empty(), "uni1 takes only 100");
    }

    #[test]
    fn in_an_e_tree_roots_reach_every_endpoint_and_leaves_reach_roots_only() {
        // uni1 a root, uni2 a leaf, and the link `west` carrying what roots send on S-VLAN 7
        // and what leaves send on S-VLAN 8, towards more roots and leaves.
        let tree = CrossConnect {
            service: "tree".into(),
            endpoints: vec![
                uni("uni1", &[]),
                with_role(uni("uni2", &[]), Role::Leaf),
                with_role(tagged("west", 7), Role::RootTrunk),
                with_role(tagged("west", 8), Role::LeafTrunk),
            ],
        };
        let flows = compile(&tree, number, |_| None);
        let mut from_root = forward(&flows, &Frame::at(1, vec![]));
        from_root.sort();
        assert_eq!(from_root, [Frame::at(2, vec![]), Frame::at(3, vec![(S_TAG, 7)])]);
        let mut from_leaf = forward(&flows, &Frame::at(2, vec![]));
        from_leaf.sort();
        assert_eq!(from_leaf, [Frame::at(1, vec![]), Frame::at(3, vec![(S_TAG, 8)])]);
        let mut from_remote_root = forward(&flows, &Frame::at(3, vec![(S_TAG, 7)]));
        from_remote_root.sort();
        assert_eq!(from_remote_root, [Frame::at(1, vec![]), Frame::at(2, vec![])]);
        let from_remote_leaf = forward(&flows, &Frame::at(3, vec![(S_TAG, 8)]));
        assert_eq!(from_remote_leaf, [Frame::at(1, vec![])], "a remote leaf reaches the root only");
    }

    #[test]
    fn a_service_with_three_endpoints_learns_addresses_and_sends_a_known_one_out_of_its_port_only() {
        let lan = CrossConnect {
            service: "lan".into(),
            endpoints: vec![uni("uni1", &[100]), uni("uni2", &[100]), tagged("west", 7)],
        };
        let flows = compile(&lan, number, |_| None);
        assert!(flows.iter().any(|f| f.table == EGRESS_TABLE), "{flows:#?}");
        let mut learned = Learned::new();
        let frame =
            |port: u32, tags: Vec<(u16, u16)>, source: u64, destination: u64| Frame { port, tags, source, destination };
        let (a, b) = (0xa, 0xb);
        // Unknown yet: a's frame for b floods, and the element learns a at uni1.
        let mut out = forward_learning(&flows, &mut learned, &frame(1, vec![(0x8100, 100)], a, b));
        out.sort();
        assert_eq!(out.iter().map(|f| f.port).collect::<Vec<_>>(), [2, 3]);
        // b answers from behind the link: straight to uni1, with the S-tag gone.
        let out = forward_learning(&flows, &mut learned, &frame(3, vec![(S_TAG, 7), (0x8100, 100)], b, a));
        assert_eq!(out, [frame(1, vec![(0x8100, 100)], b, a)]);
        // Now both are known: a's next frame goes onto the link only, S-tagged.
        let out = forward_learning(&flows, &mut learned, &frame(1, vec![(0x8100, 100)], a, b));
        assert_eq!(out, [frame(3, vec![(S_TAG, 7), (0x8100, 100)], a, b)]);
        // A frame for an address at the port it came in on goes nowhere.
        assert!(forward_learning(&flows, &mut learned, &frame(3, vec![(S_TAG, 7), (0x8100, 100)], 0xc, b)).is_empty());
    }

    #[test]
    fn in_a_learning_e_tree_a_leaf_cannot_reach_a_learned_leaf() {
        let tree = CrossConnect {
            service: "tree".into(),
            endpoints: vec![
                uni("uni1", &[]),
                with_role(uni("uni2", &[]), Role::Leaf),
                with_role(uni("east", &[]), Role::Leaf),
            ],
        };
        let flows = compile(&tree, number, |_| None);
        let mut learned = Learned::new();
        let frame = |port: u32, source: u64, destination: u64| Frame { port, tags: vec![], source, destination };
        // The leaf at port 4 speaks (to the root, which it may), so the element knows it...
        assert_eq!(forward_learning(&flows, &mut learned, &frame(4, 0x4, 0x1)), [frame(1, 0x4, 0x1)]);
        // ...yet the other leaf's frame for it goes nowhere, and the root's reaches it.
        assert!(forward_learning(&flows, &mut learned, &frame(2, 0x2, 0x4)).is_empty());
        assert_eq!(forward_learning(&flows, &mut learned, &frame(1, 0x1, 0x4)), [frame(4, 0x1, 0x4)]);
    }
}
