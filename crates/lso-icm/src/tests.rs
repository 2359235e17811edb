//! Topology checks, path computation, S-VLAN allocation and release, with property tests of
//! the allocation invariants.

use super::*;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

/// A square of four elements (a–b–c–d–a) with a UNI on each and a short cut a–c of little
/// capacity.
const SQUARE: &str = r#"
[[element]]
name = "a"
ports = ["uni", "ab", "ad", "ac"]
[[element]]
name = "b"
ports = ["uni", "ba", "bc"]
[[element]]
name = "c"
ports = ["uni", "cb", "cd", "ca"]
[[element]]
name = "d"
ports = ["uni", "dc", "da"]

[[link]]
a = "a:ab"
z = "b:ba"
capacity_mbps = 1000
[[link]]
a = "b:bc"
z = "c:cb"
capacity_mbps = 1000
[[link]]
a = "c:cd"
z = "d:dc"
capacity_mbps = 1000
[[link]]
a = "d:da"
z = "a:ad"
capacity_mbps = 1000
[[link]]
a = "a:ac"
z = "c:ca"
capacity_mbps = 100

[[interface]]
name = "uni-a"
port = "a:uni"
kind = "uni"
site = "site-a"
capacity_mbps = 1000
[[interface]]
name = "uni-b"
port = "b:uni"
kind = "uni"
capacity_mbps = 1000
[[interface]]
name = "uni-c"
port = "c:uni"
kind = "uni"
capacity_mbps = 1000
[[interface]]
name = "enni-d"
port = "d:uni"
kind = "enni"
capacity_mbps = 10000
"#;

fn square() -> Network {
    Network::new(Topology::parse(SQUARE).unwrap())
}

fn request(service: &str, interfaces: &[&str], bandwidth_mbps: u64) -> Request {
    let interfaces = interfaces.iter().map(|s| s.to_string()).collect();
    Request {
        service: service.into(),
        interfaces,
        bandwidth_mbps,
        vlans: Default::default(),
        routed: Default::default(),
        leaves: Default::default(),
    }
}

fn link_names(network: &Network, reservation: &Reservation) -> Vec<String> {
    reservation
        .hops
        .iter()
        .map(|h| {
            let link = &network.topology().links[h.link];
            format!("{}-{}", link.a.element, link.z.element)
        })
        .collect()
}

#[test]
fn topologies_with_contradictions_are_refused_with_a_reason() {
    for (text, expected) in [
        ("[[element]]\nname = \"a\"\nports = [\"p\", \"p\"]", "defined twice"),
        (
            "[[element]]\nname = \"a\"\nports = [\"p\"]\n[[link]]\na = \"a:p\"\nz = \"b:q\"\ncapacity_mbps = 1",
            "no element has",
        ),
        (
            "[[element]]\nname = \"a\"\nports = [\"p\", \"q\"]\n[[link]]\na = \"a:p\"\nz = \"a:q\"\ncapacity_mbps = 1",
            "loops back",
        ),
        ("[[elemnt]]\nname = \"a\"", "not valid TOML"),
    ] {
        let err = Topology::parse(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
    let shared = "[[element]]\nname = \"a\"\nports = [\"p\"]\n[[element]]\nname = \"b\"\nports = [\"q\"]\n\
                  [[link]]\na = \"a:p\"\nz = \"b:q\"\ncapacity_mbps = 1\n\
                  [[interface]]\nname = \"u\"\nport = \"a:p\"\nkind = \"uni\"\ncapacity_mbps = 1";
    assert!(Topology::parse(shared).unwrap_err().to_string().contains("used by both"));
}

#[test]
fn the_shortest_path_with_enough_capacity_is_taken() {
    let mut network = square();
    let narrow = network.reserve(&request("s1", &["uni-a", "uni-c"], 50)).unwrap();
    assert_eq!(link_names(&network, &narrow), ["a-c"], "one hop over the short cut");
    let wide = network.reserve(&request("s2", &["uni-a", "uni-c"], 500)).unwrap();
    assert_eq!(wide.hops.len(), 2, "the short cut has 50 Mbit/s left, so two hops round the square");
    assert_eq!(network.link_reserved(4), 50);
    // Whichever way s2 went round the square, no route from b to d has 600 Mbit/s to spare.
    let err = network.reserve(&request("s3", &["uni-b", "enni-d"], 600)).unwrap_err();
    assert_eq!(err, AllocationError::NoPath { interface: "enni-d".into(), bandwidth_mbps: 600 });
    let err = network.reserve(&request("s4", &["uni-a", "uni-c"], 600)).unwrap_err();
    assert_eq!(err, AllocationError::InterfaceFull { interface: "uni-a".into(), available: 450, requested: 600 });
}

#[test]
fn services_sharing_a_link_get_different_s_vlans() {
    let mut network = square();
    let first = network.reserve(&request("s1", &["uni-a", "uni-b"], 10)).unwrap();
    let second = network.reserve(&request("s2", &["uni-a", "uni-b"], 10)).unwrap();
    assert_eq!((first.hops[0].s_vlan, second.hops[0].s_vlan), (2, 3));
    assert_eq!(network.link_vlans(first.hops[0].link), [2, 3]);
}

#[test]
fn a_multipoint_service_is_a_tree_joining_every_interface() {
    let mut network = square();
    let lan = network.reserve(&request("lan", &["uni-a", "uni-b", "uni-c", "enni-d"], 10)).unwrap();
    assert_eq!(lan.hops.len(), 3, "four elements joined by three links");
    let vlans: HashSet<u16> = lan.hops.iter().map(|h| h.s_vlan).collect();
    assert_eq!(vlans.len(), 1, "one S-VLAN everywhere when one is free everywhere");
}

#[test]
fn a_tree_with_leaves_holds_a_second_s_vlan_on_every_link_and_gives_both_back() {
    let mut network = square();
    let mut asked = request("tree", &["uni-a", "uni-b", "uni-c"], 10);
    asked.leaves = ["uni-b".to_owned(), "uni-c".to_owned()].into();
    let tree = network.reserve(&asked).unwrap();
    assert!(!tree.hops.is_empty());
    for hop in &tree.hops {
        let leaf = hop.leaf_s_vlan.expect("a leaf S-VLAN on every link");
        assert_ne!(leaf, hop.s_vlan);
        assert_eq!(network.link_vlans(hop.link), [hop.s_vlan.min(leaf), hop.s_vlan.max(leaf)]);
    }
    let lan = network.reserve(&request("lan", &["uni-a", "uni-b"], 10)).unwrap();
    assert!(lan.hops.iter().all(|h| h.leaf_s_vlan.is_none()), "no leaves, one S-VLAN");
    network.release("lan");
    network.release("tree");
    assert!(network.is_empty());

    asked.leaves = ["uni-a".to_owned(), "uni-b".to_owned(), "uni-c".to_owned()].into();
    assert_eq!(network.reserve(&asked), Err(AllocationError::BadTree), "a tree needs a root");
    asked.leaves = ["uni-x".to_owned()].into();
    assert_eq!(network.reserve(&asked), Err(AllocationError::BadTree), "a leaf outside the tree");
}

#[test]
fn reserving_again_returns_the_same_and_other_parameters_conflict() {
    let mut network = square();
    let first = network.reserve(&request("s1", &["uni-a", "uni-b"], 10)).unwrap();
    assert_eq!(network.reserve(&request("s1", &["uni-a", "uni-b"], 10)).unwrap(), first);
    assert_eq!(network.link_reserved(first.hops[0].link), 10, "reserved once");
    assert_eq!(network.reserve(&request("s1", &["uni-a", "uni-b"], 20)), Err(AllocationError::Conflict("s1".into())));
}

#[test]
fn interfaces_are_checked_before_anything_is_reserved() {
    let mut network = square();
    assert_eq!(
        network.reserve(&request("s", &["uni-a", "uni-x"], 1)),
        Err(AllocationError::UnknownInterface("uni-x".into()))
    );
    assert_eq!(network.reserve(&request("s", &["uni-a", "uni-a"], 1)), Err(AllocationError::TooFewInterfaces));
    network.reserve(&request("big", &["uni-a", "enni-d"], 900)).unwrap();
    let err = network.reserve(&request("s", &["uni-b", "uni-a"], 200)).unwrap_err();
    assert_eq!(err, AllocationError::InterfaceFull { interface: "uni-a".into(), available: 100, requested: 200 });
    assert_eq!(network.reservations().len(), 1);
}

#[test]
fn release_gives_everything_back() {
    let mut network = square();
    network.reserve(&request("s1", &["uni-a", "uni-c"], 50)).unwrap();
    network.reserve(&request("s2", &["uni-b", "enni-d"], 500)).unwrap();
    assert!(network.release("s1").is_some());
    assert!(network.release("s1").is_none(), "released once");
    network.release("s2").unwrap();
    assert!(network.is_empty());
}

/// A random connected topology: a chain of `n` elements plus `extra` random links, each element
/// with one UNI.
fn random_topology(n: usize, extra: &[(usize, usize, u64)], capacities: &[u64]) -> Topology {
    let mut ports: Vec<Vec<String>> = (0..n).map(|_| vec!["uni".to_owned()]).collect();
    let mut links = String::new();
    let mut add = |a: usize, z: usize, capacity: u64, ports: &mut Vec<Vec<String>>| {
        let (pa, pz) = (format!("l{}", ports[a].len()), format!("l{}", ports[z].len()));
        ports[a].push(pa.clone());
        ports[z].push(pz.clone());
        links.push_str(&format!("[[link]]\na = \"e{a}:{pa}\"\nz = \"e{z}:{pz}\"\ncapacity_mbps = {capacity}\n"));
    };
    for i in 1..n {
        add(i - 1, i, capacities[i % capacities.len()], &mut ports);
    }
    for &(a, z, capacity) in extra {
        if a % n != z % n {
            add(a % n, z % n, capacity, &mut ports);
        }
    }
    let mut text = String::new();
    for (i, element_ports) in ports.iter().enumerate() {
        text.push_str(&format!("[[element]]\nname = \"e{i}\"\nports = {element_ports:?}\n"));
        text.push_str(&format!(
            "[[interface]]\nname = \"u{i}\"\nport = \"e{i}:uni\"\nkind = \"uni\"\ncapacity_mbps = 1000\n"
        ));
    }
    Topology::parse(&(text + &links)).unwrap()
}

/// What the reservations say must be on each link, checked against the network's own books.
fn check_invariants(network: &Network) -> Result<(), TestCaseError> {
    let mut bandwidth: HashMap<usize, u64> = HashMap::new();
    let mut vlans: HashMap<usize, Vec<u16>> = HashMap::new();
    for reservation in network.reservations().values() {
        for hop in &reservation.hops {
            *bandwidth.entry(hop.link).or_default() += reservation.request.bandwidth_mbps;
            vlans.entry(hop.link).or_default().push(hop.s_vlan);
        }
    }
    for (index, link) in network.topology().links.iter().enumerate() {
        let reserved = bandwidth.get(&index).copied().unwrap_or(0);
        prop_assert_eq!(network.link_reserved(index), reserved);
        prop_assert!(reserved <= link.capacity_mbps, "link {} over capacity", index);
        let mut used = vlans.remove(&index).unwrap_or_default();
        used.sort_unstable();
        let before = used.len();
        used.dedup();
        prop_assert_eq!(used.len(), before, "two services share an S-VLAN on link {}", index);
        prop_assert_eq!(network.link_vlans(index), used);
    }
    for interface in &network.topology().interfaces {
        prop_assert!(network.interface_reserved(&interface.name) <= interface.capacity_mbps);
        // At an interface, a whole-port claim stands alone, and no VLAN is claimed twice.
        let claims: Vec<&Vec<u16>> =
            network.reservations().values().filter_map(|r| r.request.vlans.get(&interface.name)).collect();
        if claims.iter().any(|c| c.is_empty()) {
            prop_assert_eq!(claims.len(), 1, "a whole-port claim shares {}", interface.name);
        }
        let mut claimed: Vec<u16> = claims.iter().flat_map(|c| c.iter().copied()).collect();
        claimed.sort_unstable();
        let before = claimed.len();
        claimed.dedup();
        prop_assert_eq!(claimed.len(), before, "a VLAN is claimed twice at {}", interface.name);
        prop_assert_eq!(network.interface_vlans(&interface.name).len(), claims.len());
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Step {
    /// A service, its interfaces, its bandwidth, and the VLANs it claims at each interface
    /// (from a few, so claims collide; an empty list claims the whole port).
    Reserve(usize, Vec<(usize, Vec<u16>)>, u64),
    Release(usize),
}

fn steps() -> impl Strategy<Value = Step> {
    let interface = (0..8usize, prop::collection::vec(1..6u16, 0..3));
    prop_oneof![
        3 => (0..12usize, prop::collection::vec(interface, 2..4), 1..400u64).prop_map(|(s, i, b)| Step::Reserve(s, i, b)),
        1 => (0..12usize).prop_map(Step::Release),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    /// No two services share an S-VLAN on a link, reserved bandwidth never exceeds capacity,
    /// and releasing everything returns the network to its initial state.
    #[test]
    fn allocation_keeps_its_invariants_and_release_restores_the_start(
        n in 2..8usize,
        extra in prop::collection::vec((0..8usize, 0..8usize, 100..1000u64), 0..8),
        capacities in prop::collection::vec(100..1000u64, 1..4),
        script in prop::collection::vec(steps(), 1..40),
    ) {
        let mut network = Network::new(random_topology(n, &extra, &capacities));
        for step in script {
            match step {
                Step::Reserve(service, interfaces, bandwidth) => {
                    let names: Vec<String> = interfaces.iter().map(|(i, _)| format!("u{}", i % n)).collect();
                    let mut vlans = VlanClaims::new();
                    for ((i, claim), name) in interfaces.iter().zip(&names) {
                        if i % 2 == 0 {
                            let mut claim = claim.clone();
                            claim.sort_unstable();
                            claim.dedup();
                            vlans.insert(name.clone(), claim);
                        }
                    }
                    let asked = Request {
                        service: format!("s{service}"),
                        interfaces: names,
                        bandwidth_mbps: bandwidth,
                        vlans,
                        routed: Default::default(),
                        leaves: Default::default(),
                    };
                    let before = network.reservations().len();
                    match network.reserve(&asked) {
                        Ok(reservation) => {
                            // The tree joins every interface it was asked to.
                            let mut joined: HashSet<&str> = HashSet::new();
                            let first = network.topology().interface(&asked.interfaces[0]).unwrap().port.element.as_str();
                            joined.insert(first);
                            let mut grew = true;
                            while grew {
                                grew = false;
                                for hop in &reservation.hops {
                                    let link = &network.topology().links[hop.link];
                                    let (a, z) = (link.a.element.as_str(), link.z.element.as_str());
                                    if joined.contains(a) != joined.contains(z) {
                                        joined.insert(a);
                                        joined.insert(z);
                                        grew = true;
                                    }
                                }
                            }
                            for name in &asked.interfaces {
                                let element = network.topology().interface(name).unwrap().port.element.as_str();
                                prop_assert!(joined.contains(element), "{} not joined", name);
                            }
                        }
                        Err(_) => prop_assert_eq!(network.reservations().len(), before, "a refused request reserves nothing"),
                    }
                }
                Step::Release(service) => {
                    network.release(&format!("s{service}"));
                }
            }
            check_invariants(&network)?;
        }
        let services: Vec<String> = network.reservations().keys().cloned().collect();
        for service in services {
            network.release(&service);
        }
        prop_assert!(network.is_empty());
    }
}

#[test]
fn the_demo_topology_loads_and_carries_an_evpl_and_an_access_e_line() {
    let text = DEMO_TOPOLOGY;
    let mut network = Network::new(Topology::parse(text).unwrap());
    let evpl = network.reserve(&request("evpl", &["uni-new-york-1", "uni-washington-1"], 100)).unwrap();
    assert_eq!(evpl.hops.len(), 1);
    let access = network.reserve(&request("access", &["uni-new-york-2", "enni-partner-1"], 50)).unwrap();
    assert_eq!(access.hops.len(), 1);
    assert_eq!(network.topology().interfaces.iter().filter(|i| i.kind == InterfaceKind::Enni).count(), 1);
}

fn simulated() -> std::sync::Arc<dyn lso_adagio::Adagio> {
    std::sync::Arc::new(lso_ecm::Ecm::simulated_elements(Topology::parse(DEMO_TOPOLOGY).unwrap().elements))
}

#[tokio::test]
async fn reservations_survive_a_restart_exactly_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lso.db");
    let topology = || Topology::parse(DEMO_TOPOLOGY).unwrap();
    let first = {
        let icm = Icm::open(topology(), lso_store::Store::open(&path).unwrap(), simulated()).await.unwrap();
        icm.set_locked("uni-boston-2", true).await.unwrap();
        icm.set_locked("uni-boston-2", true).await.unwrap();
        let evpl = icm.reserve(&request("evpl", &["uni-new-york-1", "uni-boston-1"], 100)).await.unwrap();
        icm.reserve(&request("lan", &["uni-new-york-2", "uni-washington-1", "enni-partner-1"], 10)).await.unwrap();
        assert_eq!(icm.reserve(&request("evpl", &["uni-new-york-1", "uni-boston-1"], 100)).await.unwrap(), evpl);
        icm.read(|n| n.reservations().clone()).await
    };
    let icm = Icm::open(topology(), lso_store::Store::open(&path).unwrap(), simulated()).await.unwrap();
    assert_eq!(icm.read(|n| n.reservations().clone()).await, first, "the same services, links and S-VLANs");
    assert!(icm.read(|n| n.is_locked("uni-boston-2")).await, "a lock survives too");
    let locked = icm.reserve(&request("locked", &["uni-boston-2", "uni-new-york-1"], 1)).await.unwrap_err();
    assert_eq!(locked.to_string(), "`uni-boston-2` is locked: it takes no new service");
    icm.set_locked("uni-boston-2", false).await.unwrap();
    let next = icm.reserve(&request("next", &["uni-new-york-1", "uni-boston-1"], 100)).await.unwrap();
    assert_ne!(next.hops[0].s_vlan, first["evpl"].hops[0].s_vlan, "restored S-VLANs stay taken");
    assert!(icm.release("evpl").await.unwrap().is_some());
    assert!(icm.release("evpl").await.unwrap().is_none());
    let icm = Icm::open(topology(), lso_store::Store::open(&path).unwrap(), simulated()).await.unwrap();
    assert_eq!(icm.read(|n| n.reservations().keys().cloned().collect::<Vec<_>>()).await, ["lan", "next"]);
    for service in ["lan", "next"] {
        icm.release(service).await.unwrap();
    }
    assert!(icm.read(Network::is_empty).await);
}

#[test]
fn a_topology_written_out_reads_back_the_same_with_its_management() {
    let topology = Topology::parse(DEMO_TOPOLOGY).unwrap();
    let mut management = std::collections::BTreeMap::new();
    let reached =
        Management::Ovs { ovsdb: "127.0.0.1:6641".into(), openflow: "/run/pe1/br0.mgmt".into(), bridge: "br0".into() };
    management.insert("pe1".to_owned(), reached);
    management.insert("pe2".to_owned(), Management::Frr { frr: "ns-pe2".into() });
    let again = Topology::parse(&topology.to_toml(&management)).unwrap();
    assert_eq!(again.management, management);
    assert_eq!(Topology { management: Default::default(), ..again }, topology);
}

#[tokio::test]
async fn nodes_on_one_store_share_the_network_and_never_give_an_s_vlan_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = lso_store::Store::open(&dir.path().join("lso.db")).unwrap();
    let open = || Icm::open(Topology::parse(DEMO_TOPOLOGY).unwrap(), store.clone(), simulated());
    let nodes = [open().await.unwrap(), open().await.unwrap(), open().await.unwrap()].map(std::sync::Arc::new);
    // Each node reserves 20 services at once with the others, all over the same link.
    let mut runs = tokio::task::JoinSet::new();
    for (k, node) in nodes.iter().enumerate() {
        for n in 0..20 {
            let (node, request) =
                (node.clone(), request(&format!("s{}", k * 20 + n), &["uni-new-york-1", "uni-boston-1"], 1));
            runs.spawn(async move { node.reserve(&request).await.unwrap() });
        }
    }
    let made = runs.join_all().await;
    let s_vlans: std::collections::BTreeSet<u16> = made.iter().map(|r| r.hops[0].s_vlan).collect();
    assert_eq!(s_vlans.len(), 60, "60 services, 60 S-VLANs on their link");
    nodes[1].release("s7").await.unwrap();
    nodes[2].resize(&request("s8", &["uni-new-york-1", "uni-boston-1"], 5)).await.unwrap();
    nodes[0].set_locked("uni-boston-2", true).await.unwrap();
    let first = seen(&nodes[0]).await;
    assert_eq!(first.0.len(), 59);
    assert_eq!(first.1.iter().sum::<u64>(), 58 + 5, "s7 gone, s8 at 5 Mbit/s");
    assert!(first.2);
    for node in &nodes[1..] {
        assert_eq!(seen(node).await, first, "every node sees the same network");
    }
    assert_eq!(seen(&open().await.unwrap()).await, first, "and so does a node started now");
    // A node that had not seen the release decides on the network as it is now.
    assert!(nodes[2].release("s7").await.unwrap().is_none());
}

/// What a node sees of the network: its reservations, the bandwidth on each link, and whether
/// `uni-boston-2` is locked.
async fn seen(node: &Icm) -> (std::collections::BTreeMap<String, Reservation>, Vec<u64>, bool) {
    node.read(|n| {
        let links = (0..n.topology().links.len()).map(|l| n.link_reserved(l)).collect();
        (n.reservations().clone(), links, n.is_locked("uni-boston-2"))
    })
    .await
}

#[tokio::test]
async fn only_the_last_changes_are_kept_and_a_node_further_behind_reads_the_network_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = lso_store::Store::open(&dir.path().join("lso.db")).unwrap();
    let open = async || Icm::open(Topology::parse(DEMO_TOPOLOGY).unwrap(), store.clone(), simulated()).await.unwrap();
    let (busy, behind) = (open().await.keeping(5), open().await.keeping(5));
    let path = ["uni-new-york-1", "uni-boston-1"];
    for n in 0..12 {
        busy.reserve(&request(&format!("s{n}"), &path, 1)).await.unwrap();
    }
    busy.release("s3").await.unwrap();
    let changes = lso_store::ListQuery {
        kind: "icmChange".into(),
        tenant: Some("icm".into()),
        filters: Vec::new(),
        offset: 0,
        limit: 100,
    };
    let kept = store.list(changes).await.unwrap().records;
    let mut versions: Vec<i64> = kept.iter().map(|r| r.id.parse().unwrap()).collect();
    versions.sort_unstable();
    assert_eq!(versions, [10, 11, 12, 13, 14], "the last five changes of the thirteen");
    // Thirteen changes behind, with five kept: it reads the network again.
    assert_eq!(seen(&behind).await, seen(&busy).await);
    let made = behind.reserve(&request("late", &path, 1)).await.unwrap();
    let taken: Vec<u16> =
        seen(&busy).await.0.values().filter(|r| r.request.service != "late").map(|r| r.hops[0].s_vlan).collect();
    assert!(!taken.contains(&made.hops[0].s_vlan), "{} is already given", made.hops[0].s_vlan);
    assert_eq!(seen(&busy).await.0.len(), 12, "eleven kept and the late one, on every node");
}
