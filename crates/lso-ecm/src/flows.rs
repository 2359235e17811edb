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
//! CE-VLAN translation happens where a frame enters: at a UNI with a `carried` CE-VLAN (the
//! one the service's other UNIs use) the frame takes it before it goes anywhere, so it leaves
//! every other UNI with that UNI's own CE-VLAN. (Rewriting the C-tag where the frame leaves
//! would need the S-tag popped first, after which OpenFlow cannot tell that a tag is left.)

use crate::{Action, Flow};
use crate::{Attachment, CrossConnect};

/// The EtherType of the S-tag pushed on links and ENNIs (IEEE 802.1ad).
pub const S_TAG: u16 = 0x88a8;
/// Priority of flows matching a VLAN.
const TAGGED_PRIORITY: u16 = 200;
/// Priority of an all-to-one UNI's flow, below any VLAN-specific flow.
const PORT_PRIORITY: u16 = 100;

/// The cookie marking a service's flows: FNV-1a of its id.
pub fn cookie(service: &str) -> u64 {
    service.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The flows of `connect`, given each port's OpenFlow number and the meter of each metered
/// UNI endpoint (by endpoint index).
pub fn compile(
    connect: &CrossConnect,
    port_number: impl Fn(&str) -> u32,
    meter: impl Fn(usize) -> Option<u32>,
) -> Vec<Flow> {
    let cookie = cookie(&connect.service);
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
        let others = || {
            connect
                .endpoints
                .iter()
                .enumerate()
                .filter(move |(i, e)| *i != index && e.role.passes(from_leaf))
                .map(|(_, e)| e)
        };
        for egress in others().filter(|e| matches!(e.attachment, Attachment::Uni { .. })) {
            actions.push(Action::Output(port_number(&egress.port)));
        }
        for egress in others() {
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
        let meter = meter(index);
        let in_port = port_number(&ingress.port);
        for vlan in vlans {
            flows.push(Flow { cookie, priority, in_port, vlan, meter, actions: actions.clone() });
        }
    }
    flows
}

/// A frame as the simulation sees it: the port it is on and its VLAN tags, outer first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Frame {
    /// The OpenFlow port number.
    pub port: u32,
    /// (EtherType, VLAN id) of each tag, outer first.
    pub tags: Vec<(u16, u16)>,
}

/// Where `flows` send a frame arriving as `frame`: the highest-priority matching flow's
/// outputs, each with the tags the frame has when it leaves. No match drops the frame.
pub fn forward(flows: &[Flow], frame: &Frame) -> Vec<Frame> {
    let matching = flows
        .iter()
        .filter(|f| f.in_port == frame.port && f.vlan.is_none_or(|v| frame.tags.first().map(|t| t.1) == Some(v)))
        .max_by_key(|f| f.priority);
    let Some(flow) = matching else { return Vec::new() };
    let mut tags = frame.tags.clone();
    let mut out = Vec::new();
    for action in &flow.actions {
        match *action {
            Action::PushVlan(ethertype) => tags.insert(0, (ethertype, 0)),
            Action::PopVlan => {
                if !tags.is_empty() {
                    tags.remove(0);
                }
            }
            Action::SetVlan(vlan) => {
                if let Some(outer) = tags.first_mut() {
                    outer.1 = vlan;
                }
            }
            Action::Output(port) => out.push(Frame { port, tags: tags.clone() }),
        }
    }
    out
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
        let from_customer = forward(&flows, &Frame { port: 1, tags: vec![(0x8100, 100)] });
        assert_eq!(from_customer, [Frame { port: 3, tags: vec![(S_TAG, 7), (0x8100, 100)] }]);
        assert!(forward(&flows, &Frame { port: 1, tags: vec![(0x8100, 101)] }).is_empty(), "another CE-VLAN");
        assert!(forward(&flows, &Frame { port: 1, tags: vec![] }).is_empty(), "untagged");
        let from_link = forward(&flows, &Frame { port: 3, tags: vec![(S_TAG, 7), (0x8100, 100)] });
        assert_eq!(from_link, [Frame { port: 1, tags: vec![(0x8100, 100)] }]);
        assert!(forward(&flows, &Frame { port: 3, tags: vec![(S_TAG, 8)] }).is_empty(), "another S-VLAN");
        assert_eq!(flows.iter().filter_map(|f| f.meter).collect::<Vec<_>>(), [9, 9]);
    }

    #[test]
    fn a_transit_element_translates_s_vlans_and_an_e_lan_floods_to_every_other_endpoint() {
        let transit = CrossConnect { service: "t".into(), endpoints: vec![tagged("west", 7), tagged("east", 9)] };
        let flows = compile(&transit, number, |_| None);
        assert_eq!(
            forward(&flows, &Frame { port: 3, tags: vec![(S_TAG, 7), (0x8100, 5)] }),
            [Frame { port: 4, tags: vec![(S_TAG, 9), (0x8100, 5)] }]
        );
        let lan = CrossConnect {
            service: "lan".into(),
            endpoints: vec![uni("uni1", &[]), uni("uni2", &[]), tagged("west", 7)],
        };
        let flows = compile(&lan, number, |_| None);
        let mut out = forward(&flows, &Frame { port: 1, tags: vec![] });
        out.sort();
        assert_eq!(out, [Frame { port: 2, tags: vec![] }, Frame { port: 3, tags: vec![(S_TAG, 7)] }]);
        let mut out = forward(&flows, &Frame { port: 3, tags: vec![(S_TAG, 7), (0x8100, 3)] });
        out.sort();
        assert_eq!(out, [Frame { port: 1, tags: vec![(0x8100, 3)] }, Frame { port: 2, tags: vec![(0x8100, 3)] }]);
        assert_eq!(
            forward(&flows, &Frame { port: 1, tags: vec![(0x8100, 42)] }).len(),
            2,
            "all-to-one takes every frame"
        );
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
        let mut out = forward(&flows, &Frame { port: 1, tags: vec![(0x8100, 100)] });
        out.sort();
        assert_eq!(
            out,
            [Frame { port: 2, tags: vec![(0x8100, 200)] }, Frame { port: 3, tags: vec![(S_TAG, 7), (0x8100, 200)] }]
        );
        let mut back = forward(&flows, &Frame { port: 2, tags: vec![(0x8100, 200)] });
        back.sort();
        assert_eq!(
            back,
            [Frame { port: 1, tags: vec![(0x8100, 100)] }, Frame { port: 3, tags: vec![(S_TAG, 7), (0x8100, 100)] }]
        );
        assert!(forward(&flows, &Frame { port: 1, tags: vec![(0x8100, 200)] }).is_empty(), "uni1 takes only 100");
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
        let mut from_root = forward(&flows, &Frame { port: 1, tags: vec![] });
        from_root.sort();
        assert_eq!(from_root, [Frame { port: 2, tags: vec![] }, Frame { port: 3, tags: vec![(S_TAG, 7)] }]);
        let mut from_leaf = forward(&flows, &Frame { port: 2, tags: vec![] });
        from_leaf.sort();
        assert_eq!(from_leaf, [Frame { port: 1, tags: vec![] }, Frame { port: 3, tags: vec![(S_TAG, 8)] }]);
        let mut from_remote_root = forward(&flows, &Frame { port: 3, tags: vec![(S_TAG, 7)] });
        from_remote_root.sort();
        assert_eq!(from_remote_root, [Frame { port: 1, tags: vec![] }, Frame { port: 2, tags: vec![] }]);
        let from_remote_leaf = forward(&flows, &Frame { port: 3, tags: vec![(S_TAG, 8)] });
        assert_eq!(from_remote_leaf, [Frame { port: 1, tags: vec![] }], "a remote leaf reaches the root only");
    }
}
