//! Router tests: Presto through `router().oneshot(…)` over ICM with simulated elements, and
//! `PrestoClient` against the same routes served on loopback.

use super::*;
use lso_adagio::PortCounters;
use lso_ecm::Ecm;

struct Lab {
    icm: Arc<Icm>,
    ecm: Arc<Ecm>,
    router: Router,
    admin: String,
    buyer: String,
    _dir: tempfile::TempDir,
}

async fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY).unwrap();
    let ecm = Arc::new(Ecm::simulated_elements(topology.elements.clone()));
    let store = lso_store::Store::open(&dir.path().join("lso.db")).unwrap();
    let icm = Arc::new(Icm::open(topology, store, ecm.clone()).await.unwrap());
    let lso_http::TestCallers { auth, admin, buyer } = lso_http::TestCallers::default();
    let router = router(PrestoState::new(icm.clone(), Arc::new(lso_ecm::Alarms::default()), auth));
    Lab { icm, ecm, router, admin, buyer, _dir: dir }
}

impl Lab {
    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let answer = lso_http::oneshot(&self.router, token, method, &format!("{BASE}{path}"), body.as_ref()).await;
        (answer.status, answer.body)
    }

    async fn rpc(&self, operation: &str, input: Value) -> (u16, Value) {
        self.call(&self.admin, "POST", &format!("/operations/{operation}/"), Some(json!({"input": input}))).await
    }
}

fn evpl(uuid: &str, a: &str, z: &str) -> Value {
    let end = |sip: &str| {
        json!({"service-interface-point": {"service-interface-point-id": sip}, "layer-protocol-name": "ETH",
               "direction": "BIDIRECTIONAL", "nrp-carrier-eth-connectivity-end-point-resource":
               {"ce-vlan-id-list-and-untag": {"vlan-id": [{"vlan-id": 100}]}, "ingress-bwp-flow": {"cir": 20_000_000}}})
    };
    json!({"uuid": uuid, "end-point": [end(a), end(z)], "conn-constraint": {"service-type": "POINT_TO_POINT_CONNECTIVITY"}})
}

#[tokio::test]
async fn only_operators_call_presto_and_every_part_of_the_context_is_read() {
    let lab = lab().await;
    assert_eq!(lab.call("", "GET", "/data/context/", None).await.0, 401);
    assert_eq!(lab.call(&lab.buyer, "GET", "/data/context/", None).await.0, 403);
    let (status, context) = lab.call(&lab.admin, "GET", "/data/context/", None).await;
    assert_eq!(status, 200);
    let topology = &context["topology"][0];
    let link = topology["link"][0]["uuid"].as_str().unwrap().to_owned();
    for (path, uuid) in [
        (format!("/data/context/topology={TOPOLOGY}/"), TOPOLOGY.to_owned()),
        (format!("/data/context/topology={TOPOLOGY}/node=pe1/"), "pe1".to_owned()),
        (format!("/data/context/topology={TOPOLOGY}/link={link}/"), link.clone()),
        (format!("/data/context/topology={TOPOLOGY}/node=pe1/owned-node-edge-point=pe1:uni1/"), "pe1:uni1".to_owned()),
        ("/data/context/service-interface-point=uni-boston-1/".to_owned(), "uni-boston-1".to_owned()),
    ] {
        let (status, found) = lab.call(&lab.admin, "GET", &path, None).await;
        assert_eq!((status, found["uuid"].as_str()), (200, Some(uuid.as_str())), "{path}: {found:#}");
    }
    for missing in [
        "/data/context/topology=elsewhere/".to_owned(),
        format!("/data/context/topology={TOPOLOGY}/node=pe9/"),
        "/data/context/service-interface-point=uni-mars-1/".to_owned(),
        "/data/context/connectivity-service=none/".to_owned(),
    ] {
        assert_eq!(lab.call(&lab.admin, "GET", &missing, None).await.0, 404, "{missing}");
    }
}

#[tokio::test]
async fn a_connectivity_service_is_created_read_and_deleted_on_the_elements() {
    let lab = lab().await;
    let (status, created) =
        lab.rpc("create-connectivity-service", evpl("evpl-1", "uni-new-york-1", "uni-boston-1")).await;
    assert_eq!(status, 200, "{created:#}");
    assert!(lab.icm.check_connectivity("evpl-1").await.unwrap(), "configured and read back");
    let (status, details) = lab.rpc("get-connectivity-service-details", json!({"service-id-or-name": "evpl-1"})).await;
    assert_eq!((status, &details["output"]["service"]["operational-state"]), (200, &json!("ENABLED")));
    let (_, listed) = lab.rpc("get-connectivity-service-list", json!({})).await;
    assert_eq!(listed["output"]["service"].as_array().map(Vec::len), Some(1));
    let (status, refused) =
        lab.rpc("create-connectivity-service", evpl("evpl-2", "uni-new-york-1", "uni-mars-1")).await;
    assert_eq!(status, 422, "an interface the network has not: {refused:#}");
    assert_eq!(lab.rpc("delete-connectivity-service", json!({"service-id-or-name": "evpl-1"})).await.0, 200);
    assert!(lab.icm.read(lso_icm::Network::is_empty).await);
    assert_eq!(lab.rpc("delete-connectivity-service", json!({"service-id-or-name": "evpl-1"})).await.0, 404);
}

#[tokio::test]
async fn an_interface_counts_what_its_element_counted_on_its_port() {
    let lab = lab().await;
    let traffic =
        PortCounters { rx_packets: 10, rx_bytes: 15_000, tx_packets: 7, tx_bytes: 9_000, ..Default::default() };
    lab.ecm.simulated("pe1").unwrap().count("uni1", traffic);
    let (status, answer) =
        lab.rpc("get-service-interface-point-counters", json!({"sip-id-or-name": "uni-new-york-1"})).await;
    assert_eq!(status, 200, "{answer:#}");
    let counters = &answer["output"]["counters"];
    assert_eq!(
        (&counters["rx-packets"], &counters["rx-bytes"], &counters["tx-bytes"]),
        (&json!(10), &json!(15_000), &json!(9_000))
    );
    let (status, _) = lab.rpc("get-service-interface-point-counters", json!({"sip-id-or-name": "uni-mars-1"})).await;
    assert_eq!(status, 404);
    let (status, refused) = lab.rpc("get-service-interface-point-counters", json!({})).await;
    assert_eq!((status, refused[0]["propertyPath"].as_str()), (422, Some("/input/sip-id-or-name")));
}

#[tokio::test]
async fn the_client_is_the_sofs_presto_over_http() {
    let lab = lab().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let router = lab.router.clone();
    let served = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = PrestoClient::new(&root, lso_transport::Credentials::bearer(&lab.admin), reqwest::Client::new());
    let sips = client.service_interface_points().await.unwrap();
    let enni = sips.iter().find(|s| s.name == "enni-partner-1").unwrap();
    assert_eq!(enni.kind, InterfaceKind::Enni);
    let boston = sips.iter().find(|s| s.name == "uni-boston-1").unwrap();
    assert_eq!((boston.site.as_deref(), boston.capacity_mbps), (Some("site-boston"), 1000));
    let endpoint =
        |interface: &str| ServiceEndpoint { interface: interface.into(), vlans: vec![300], routed: None, leaf: false };
    let request = ConnectivityRequest {
        uuid: "ovc-1".into(),
        endpoints: vec![endpoint("uni-boston-1"), ServiceEndpoint { vlans: vec![3000], ..endpoint("enni-partner-1") }],
        cir_mbps: 30,
    };
    client.create_connectivity(&request).await.unwrap();
    assert!(client.connectivity_exists("ovc-1").await.unwrap());
    assert!(lab.icm.check_connectivity("ovc-1").await.unwrap());
    lab.ecm.simulated("pe2").unwrap().count("uni1", PortCounters { rx_packets: 3, ..Default::default() });
    let counted = client.interface_counters("uni-boston-1").await.unwrap().expect("a known interface");
    assert_eq!(counted, lab.icm.interface_counters("uni-boston-1").await.unwrap().unwrap());
    assert_eq!(client.interface_counters("uni-mars-1").await.unwrap(), None);
    assert!(client.delete_connectivity("ovc-1").await.unwrap());
    assert!(!client.delete_connectivity("ovc-1").await.unwrap());
    assert!(!client.connectivity_exists("ovc-1").await.unwrap());

    // A rooted-multipoint service: its leaves pass as LEAF end points, and ICM reserves a leaf
    // S-VLAN on each link.
    let leaf = |interface: &str| ServiceEndpoint { leaf: true, ..endpoint(interface) };
    let tree = ConnectivityRequest {
        uuid: "tree-1".into(),
        endpoints: vec![endpoint("uni-new-york-1"), leaf("uni-boston-1"), leaf("uni-washington-1")],
        cir_mbps: 10,
    };
    client.create_connectivity(&tree).await.unwrap();
    let reserved = lab.icm.connectivity("tree-1").await.unwrap().reservation;
    assert_eq!(reserved.request.leaves, ["uni-boston-1".to_owned(), "uni-washington-1".to_owned()].into());
    assert!(reserved.hops.iter().all(|h| h.leaf_s_vlan.is_some()), "{:?}", reserved.hops);
    assert!(client.delete_connectivity("tree-1").await.unwrap());
    served.abort();
}
