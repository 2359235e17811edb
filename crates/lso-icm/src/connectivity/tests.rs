//! Connectivity services on the demo network with simulated elements: frames are followed
//! through the flows each element got, so a test sees where a customer's frame arrives.

use super::*;
use crate::{DEMO_TOPOLOGY, Topology};
use lso_adagio::Adagio;
use lso_ecm::Ecm;
use lso_ecm::flows::{Frame, forward};
use lso_presto::ServiceEndpoint;
use std::sync::Arc;

struct Lab {
    icm: Icm,
    ecm: Arc<Ecm>,
    _dir: tempfile::TempDir,
}

async fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let topology = Topology::parse(DEMO_TOPOLOGY).unwrap();
    let ecm = Arc::new(Ecm::simulated_elements(topology.elements.clone()));
    let store = lso_store::Store::open(&dir.path().join("lso.db")).unwrap();
    let icm = Icm::open(topology, store, ecm.clone()).await.unwrap();
    Lab { icm, ecm, _dir: dir }
}

fn endpoint(interface: &str, vlans: &[u16]) -> ServiceEndpoint {
    ServiceEndpoint { interface: interface.into(), vlans: vlans.to_vec(), routed: None, leaf: false }
}

fn request(uuid: &str, endpoints: Vec<ServiceEndpoint>, cir_mbps: u64) -> ConnectivityRequest {
    ConnectivityRequest { uuid: uuid.into(), endpoints, cir_mbps }
}

impl Lab {
    /// Where a frame sent into `interface` with `tags` leaves the network: (interface, tags).
    async fn deliveries(&self, interface: &str, tags: Vec<(u16, u16)>) -> Vec<(String, Vec<(u16, u16)>)> {
        let topology = self.icm.read(|n| n.topology().clone()).await;
        let start = topology.interface(interface).unwrap().port.clone();
        let mut pending = vec![(start, tags)];
        let mut out = Vec::new();
        for _ in 0..100 {
            let Some((at, tags)) = pending.pop() else { break };
            let element = self.ecm.simulated(&at.element).unwrap();
            let frame = Frame::at(element.port_number(&at.port).unwrap(), tags);
            for sent in forward(&element.all_flows(), &frame) {
                let (_, ports) = topology.elements.iter().find(|(n, _)| *n == at.element).unwrap();
                let port = crate::PortRef { element: at.element.clone(), port: ports[sent.port as usize - 1].clone() };
                if let Some(interface) = topology.interfaces.iter().find(|i| i.port == port) {
                    out.push((interface.name.clone(), sent.tags));
                } else if let Some(link) = topology.links.iter().find(|l| l.a == port || l.z == port) {
                    pending.push((if link.a == port { link.z.clone() } else { link.a.clone() }, sent.tags));
                }
            }
        }
        out.sort();
        out
    }
}

const C: u16 = 0x8100;

#[tokio::test]
async fn an_evpl_carries_its_ce_vlan_between_its_unis_and_nowhere_else() {
    let lab = lab().await;
    let evpl = request("evpl", vec![endpoint("uni-new-york-1", &[100]), endpoint("uni-washington-1", &[100])], 50);
    let service = lab.icm.create_connectivity(&evpl).await.unwrap();
    assert_eq!(service.cross_connects.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(), ["pe1", "pe2"]);
    assert_eq!(lab.icm.create_connectivity(&evpl).await.unwrap(), service, "creating again changes nothing");
    assert!(lab.icm.check_connectivity("evpl").await.unwrap());

    assert_eq!(lab.deliveries("uni-new-york-1", vec![(C, 100)]).await, [("uni-washington-1".into(), vec![(C, 100)])]);
    assert_eq!(lab.deliveries("uni-washington-1", vec![(C, 100)]).await, [("uni-new-york-1".into(), vec![(C, 100)])]);
    assert!(lab.deliveries("uni-new-york-1", vec![(C, 101)]).await.is_empty(), "another CE-VLAN is dropped");
    assert!(lab.deliveries("uni-new-york-1", vec![]).await.is_empty(), "untagged frames are dropped");

    let clash = request("other", vec![endpoint("uni-new-york-1", &[100, 200]), endpoint("uni-boston-1", &[])], 10);
    let refused = lab.icm.create_connectivity(&clash).await.unwrap_err();
    assert_eq!(refused.to_string(), "VLAN 100 at `uni-new-york-1` is used by service `evpl`");

    assert!(lab.icm.delete_connectivity("evpl").await.unwrap());
    assert!(!lab.icm.delete_connectivity("evpl").await.unwrap());
    assert!(lab.deliveries("uni-new-york-1", vec![(C, 100)]).await.is_empty(), "deleted, nothing passes");
    assert!(lab.icm.read(Network::is_empty).await);
}

#[tokio::test]
async fn an_e_lan_reaches_every_site_and_an_access_e_line_hands_off_on_the_partners_s_vlan() {
    let lab = lab().await;
    let sites = ["uni-new-york-1", "uni-washington-1", "uni-boston-1"];
    let lan = request("lan", sites.iter().map(|s| endpoint(s, &[])).collect(), 0);
    lab.icm.create_connectivity(&lan).await.unwrap();
    for from in sites {
        let reached: Vec<String> = lab.deliveries(from, vec![(C, 7)]).await.into_iter().map(|(i, _)| i).collect();
        let mut others: Vec<&str> = sites.iter().copied().filter(|s| *s != from).collect();
        others.sort();
        assert_eq!(reached, others, "from {from}");
    }
    let access = request("access", vec![endpoint("uni-new-york-2", &[30]), endpoint("enni-partner-1", &[3000])], 20);
    lab.icm.create_connectivity(&access).await.unwrap();
    assert_eq!(
        lab.deliveries("uni-new-york-2", vec![(C, 30)]).await,
        [("enni-partner-1".into(), vec![(lso_ecm::flows::S_TAG, 3000), (C, 30)])]
    );
    assert_eq!(
        lab.deliveries("enni-partner-1", vec![(lso_ecm::flows::S_TAG, 3000), (C, 30)]).await,
        [("uni-new-york-2".into(), vec![(C, 30)])]
    );
    let no_s_vlan = request("bad", vec![endpoint("uni-boston-1", &[5]), endpoint("enni-partner-1", &[])], 1);
    assert!(matches!(lab.icm.create_connectivity(&no_s_vlan).await, Err(IcmError::Invalid(_))));
}

#[tokio::test]
async fn in_an_e_tree_the_root_reaches_every_leaf_and_leaves_do_not_reach_each_other_across_elements() {
    let lab = lab().await;
    let (root, leaves) = ("uni-new-york-1", ["uni-washington-1", "uni-boston-1"]);
    let leaf = |interface: &str| ServiceEndpoint { leaf: true, ..endpoint(interface, &[]) };
    let tree = request("tree", vec![endpoint(root, &[]), leaf(leaves[0]), leaf(leaves[1])], 10);
    let service = lab.icm.create_connectivity(&tree).await.unwrap();
    assert!(service.cross_connects.len() >= 2, "the tree spans elements: {:?}", service.cross_connects);
    let reached = async |from: &str| -> Vec<String> {
        lab.deliveries(from, vec![(C, 7)]).await.into_iter().map(|(i, _)| i).collect()
    };
    assert_eq!(reached(root).await, ["uni-boston-1", "uni-washington-1"]);
    for leaf in leaves {
        assert_eq!(reached(leaf).await, [root], "from {leaf}");
    }

    // The leaf S-VLANs are stored: another ICM on the same store holds the same reservation.
    let store = lso_store::Store::open(&lab._dir.path().join("lso.db")).unwrap();
    let topology = lab.icm.read(|n| n.topology().clone()).await;
    let again = Icm::open(topology, store, lab.ecm.clone()).await.unwrap();
    assert_eq!(again.connectivity("tree").await.unwrap().reservation, service.reservation);
    assert!(lab.icm.delete_connectivity("tree").await.unwrap());
    assert!(lab.icm.read(Network::is_empty).await);
}

#[tokio::test]
async fn an_element_failure_rolls_everything_back_and_a_later_delete_finishes_what_could_not_be_undone() {
    let lab = lab().await;
    let evpl = || request("evpl", vec![endpoint("uni-new-york-1", &[100]), endpoint("uni-washington-1", &[100])], 50);
    lab.ecm.simulated("pe2").unwrap().set_down(true);
    let failed = lab.icm.create_connectivity(&evpl()).await.unwrap_err();
    assert!(failed.to_string().contains("pe2"), "{failed}");
    assert!(lab.ecm.simulated("pe1").unwrap().all_flows().is_empty(), "what pe1 got is removed again");
    // pe2 cannot be cleaned while it is down, so the reservation stays until it can.
    assert!(lab.icm.connectivity("evpl").await.is_some());
    lab.ecm.simulated("pe2").unwrap().set_down(false);
    assert!(lab.icm.delete_connectivity("evpl").await.unwrap());
    assert!(lab.icm.read(Network::is_empty).await);
    assert!(lab.ecm.simulated("pe1").unwrap().all_flows().is_empty());
    assert_eq!(lab.ecm.elements().len(), 4, "three switches and the access router");
}

#[tokio::test]
async fn an_evpl_between_two_ce_vlans_translates_where_frames_enter_and_a_lan_of_several_is_refused() {
    let lab = lab().await;
    let evpl = request("x", vec![endpoint("uni-new-york-1", &[100]), endpoint("uni-washington-1", &[200])], 10);
    lab.icm.create_connectivity(&evpl).await.unwrap();
    assert_eq!(lab.deliveries("uni-new-york-1", vec![(C, 100)]).await, [("uni-washington-1".into(), vec![(C, 200)])]);
    assert_eq!(lab.deliveries("uni-washington-1", vec![(C, 200)]).await, [("uni-new-york-1".into(), vec![(C, 100)])]);
    let lan = request(
        "lan",
        vec![endpoint("uni-new-york-2", &[100]), endpoint("uni-boston-1", &[200]), endpoint("uni-boston-2", &[300])],
        10,
    );
    let refused = lab.icm.create_connectivity(&lan).await.unwrap_err();
    assert!(matches!(refused, IcmError::Invalid(ref why) if why.contains("CE-VLAN translation")), "{refused}");
}

#[tokio::test]
async fn a_change_of_rate_alone_is_made_in_place_and_one_the_network_cannot_carry_leaves_the_old() {
    let lab = lab().await;
    let evpl =
        |cir| request("evpl", vec![endpoint("uni-new-york-1", &[100]), endpoint("uni-washington-1", &[100])], cir);
    let before = lab.icm.create_connectivity(&evpl(50)).await.unwrap();
    let flows = lab.ecm.simulated("pe1").unwrap().all_flows();
    let after = lab.icm.update_connectivity(&evpl(80)).await.unwrap();
    assert_eq!(after.reservation.hops, before.reservation.hops, "the same links and S-VLANs");
    for element in ["pe1", "pe2"] {
        let simulated = lab.ecm.simulated(element).unwrap();
        assert_eq!(simulated.removals(), 0, "{element}: nothing removed (make before break)");
        assert_eq!(simulated.meter_rates("evpl"), [80_000], "{element}: the meter runs the new rate");
    }
    assert_eq!(lab.ecm.simulated("pe1").unwrap().all_flows(), flows, "the flows are untouched");
    let link = after.reservation.hops[0].link;
    assert_eq!(lab.icm.read(|n| n.link_reserved(link)).await, 80);

    let refused = lab.icm.update_connectivity(&evpl(5000)).await.unwrap_err();
    assert!(matches!(refused, IcmError::Allocation(_)), "{refused}");
    assert_eq!(lab.icm.read(|n| n.link_reserved(link)).await, 80, "the old rate stays reserved");
    assert_eq!(lab.ecm.simulated("pe1").unwrap().meter_rates("evpl"), [80_000], "and configured");
    assert!(lab.icm.check_connectivity("evpl").await.unwrap());
}
