//! Orders down to the network: a Seller on the demo topology built for real (Open vSwitch
//! elements in network namespaces, customer hosts behind CE switches), fulfilling through the
//! SOF, ICM and ECM. The service is proved with traffic and removed by a delete order. Needs
//! root and the packages `scripts/test` installs.

use crate::support::{App, EVPL, days_from_now, example, order_of, spawn_app_with};
use lso::config::FulfilmentMode;
use lso::lab::NetworkLab;
use serde_json::{Value, json};

const CANTATA: &str = "/mefApi/cantata/productOrderingManagement/v5";
const SUBSCRIBER_UNI: &str = "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all";

/// A Seller on `lab`'s network.
async fn seller_on(lab: &NetworkLab) -> (App, tempfile::TempDir) {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("topology.toml");
    std::fs::write(&path, lab.topology.to_toml(&Default::default())).unwrap();
    let app = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.network.topology = path.display().to_string();
    })
    .await;
    (app, files)
}

/// An order for a UNI at each of `sites` and an EVPL between the first two on `ce_vlan`
/// with `cir_mbps`.
fn evpl_order(sites: &[&str], ce_vlan: u16, cir_mbps: u64) -> Value {
    let mut order = order_of(&example(SUBSCRIBER_UNI), Some("INSTALL_LOCATION"));
    let template = order["productOrderItem"][0].clone();
    let mut items = Vec::new();
    for (n, site) in sites.iter().enumerate() {
        let mut item = template.clone();
        item["id"] = json!((n + 1).to_string());
        item["product"]["place"][0]["id"] = json!(site);
        items.push(item);
    }
    let mut evpl = template.clone();
    let mut configuration = example(EVPL);
    for end in ["evcEndPointA", "evcEndPointZ"] {
        configuration[end]["evcEndPointMap"]["vlanId"] = json!([ce_vlan]);
        configuration[end]["ingressBandwidthProfilePerClassOfServiceName"][0]["bwpFlow"][0]["cir"]["irValue"] =
            json!(cir_mbps);
    }
    evpl["id"] = json!("evpl");
    evpl["product"] = json!({"productOffering": {"id": "offering-1"}, "productConfiguration": configuration});
    evpl["productOrderItemRelationship"] = json!([{"id": "1", "relationshipType": "CONNECTS_TO_UNI_A"}, {"id": "2", "relationshipType": "CONNECTS_TO_UNI_Z"}]);
    items.push(evpl);
    order["productOrderItem"] = json!(items);
    order
}

fn delete_order(product: &str) -> Value {
    let contacts = ["buyerProductOrderItemContact", "buyerImplementationContact", "buyerTechnicalContact"]
        .map(crate::support::contact);
    json!({
        "productOrderItem": [{"id": "1", "action": "delete", "product": {"id": product},
            "requestedCompletionDate": days_from_now(1),
            "relatedContactInformation": contacts}],
        "relatedContactInformation": [crate::support::contact("productOrderContact")],
    })
}

#[tokio::test]
async fn a_cantata_evpl_order_ends_as_open_vswitch_flows_that_carry_its_traffic_and_a_delete_order_removes_it() {
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY).unwrap();
    let network = NetworkLab::build(&topology, "nt", 100).unwrap();
    let (app, _files) = seller_on(&network).await;
    let host = |interface: &str| &network.hosts[interface];
    let (new_york, boston, washington) = (host("uni-new-york-1"), host("uni-boston-1"), host("uni-washington-1"));
    assert!(!network.lab.reaches(new_york, boston), "no service, no traffic");

    let created = app
        .call("POST", &format!("{CANTATA}/productOrder"), Some(&evpl_order(&["site-new-york", "site-boston"], 100, 20)))
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let order = app.wait_until_final(CANTATA, created.body["id"].as_str().unwrap()).await;
    assert_eq!(order["state"], "completed", "{order:#}");

    assert!(network.lab.reaches(new_york, boston), "the EVPL carries traffic between its UNIs");
    assert!(!network.lab.reaches(new_york, washington), "a UNI outside the EVPL is not reached");
    network.lab.set_ce_vlan(new_york, 101).unwrap();
    assert!(!network.lab.reaches(new_york, boston), "only the ordered CE-VLAN passes");
    network.lab.set_ce_vlan(new_york, 100).unwrap();
    let measured = network.lab.throughput_mbps(new_york, boston, 3).unwrap();
    assert!((measured - 20.0).abs() <= 3.0, "{measured} Mbit/s measured for a CIR of 20 Mbit/s");

    let evpl = order["productOrderItem"][2]["product"]["id"].as_str().unwrap().to_owned();
    let deleted = app.call("POST", &format!("{CANTATA}/productOrder"), Some(&delete_order(&evpl))).await;
    assert_eq!(deleted.status, 201, "{:#}", deleted.body);
    let done = app.wait_until_final(CANTATA, deleted.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert!(!network.lab.reaches(new_york, boston), "deleted, the hosts no longer reach each other");
    app.stop().await;
}
