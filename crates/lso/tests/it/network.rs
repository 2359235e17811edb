//! Orders down to the network: a Seller on the demo topology built for real (Open vSwitch
//! elements in network namespaces, customer hosts behind CE switches), fulfilling through the
//! SOF, ICM and ECM. The service is proved with traffic and removed by a delete order. Needs
//! root and the packages `scripts/test` installs.

use crate::support::{App, EVPL, days_from_now, example, lso_cli, order_of, spawn_app_with};
use lso_lab::network::NetworkLab;
use lso_server::config::FulfilmentMode;
use serde_json::{Value, json};

const CANTATA: &str = "/mefApi/cantata/productOrderingManagement/v5";
const SUBSCRIBER_UNI: &str = "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all";

/// A Seller on `lab`'s network.
pub(crate) async fn seller_on(lab: &NetworkLab) -> (App, tempfile::TempDir) {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("topology.toml");
    std::fs::write(&path, lab.topology.to_toml(&Default::default())).unwrap();
    let app = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.network.topology = path.display().to_string();
        c.network.alarm_poll_millis = 3_600_000; // the tests poll for alarms themselves
    })
    .await;
    (app, files)
}

/// An order for a UNI at each of `sites` and an EVPL between the first two on `ce_vlan`
/// with `cir_mbps`.
/// Modifies the CIR of customer EVPL `evpl` at `app` to `cir` Mbit/s (a Cantata modify order)
/// and waits until the order completes.
pub(crate) async fn modify_cir(app: &App, evpl: &str, cir: u64) {
    let mut modify = evpl_order(&[], 100, cir);
    let item = &mut modify["productOrderItem"][0];
    item["action"] = json!("modify");
    item["product"]["id"] = json!(evpl);
    // MEF 123 R40: the relationships as the product in inventory has them.
    let stored = app.call("GET", &format!("/mefApi/cantata/productInventory/v1/product/{evpl}"), None).await.body;
    item["product"]["productRelationship"] = stored["productRelationship"].clone();
    item.as_object_mut().unwrap().remove("productOrderItemRelationship");
    app.order_completed(CANTATA, &modify).await;
}

pub(crate) fn evpl_order(sites: &[&str], ce_vlan: u16, cir_mbps: u64) -> Value {
    let mut order = order_of(&example(SUBSCRIBER_UNI), Some("INSTALL_LOCATION"));
    let template = order["productOrderItem"][0].clone();
    let mut items = Vec::new();
    for (n, site) in sites.iter().enumerate() {
        let mut item = template.clone();
        item["id"] = json!((n + 1).to_string());
        item["product"]["place"][0]["id"] = json!(site);
        items.push(item);
    }
    let mut evpl = template;
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

pub(crate) fn delete_order(product: &str) -> Value {
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
    let network = NetworkLab::build(&topology, "nt", Some(100)).unwrap();
    let (app, _files) = seller_on(&network).await;
    let host = |interface: &str| &network.hosts[interface];
    let (new_york, boston, washington) = (host("uni-new-york-1"), host("uni-boston-1"), host("uni-washington-1"));
    assert!(!network.lab.reaches(new_york, boston), "no service, no traffic");

    let order = app.order_completed(CANTATA, &evpl_order(&["site-new-york", "site-boston"], 100, 20)).await;

    assert!(network.lab.reaches(new_york, boston), "the EVPL carries traffic between its UNIs");
    assert!(!network.lab.reaches(new_york, washington), "a UNI outside the EVPL is not reached");
    network.lab.set_ce_vlan(new_york, 101).unwrap();
    assert!(!network.lab.reaches(new_york, boston), "only the ordered CE-VLAN passes");
    network.lab.set_ce_vlan(new_york, 100).unwrap();
    let measured = network.lab.throughput_mbps(new_york, boston, 3).unwrap();
    assert!((measured - 20.0).abs() <= 3.0, "{measured} Mbit/s measured for a CIR of 20 Mbit/s");

    // The customer raises the CIR over Allegro, without a product order: the meters change.
    let evpl = order["productOrderItem"][2]["product"]["id"].as_str().unwrap().to_owned();
    let allegro = "/mefApi/allegro/serviceControl/v1";
    let service = app.call("GET", &format!("{allegro}/service?productId={evpl}"), None).await.body;
    // Under continuous traffic: the change is made in place (make before break), so no second
    // of it passes without traffic.
    let traffic = network.lab.start_traffic(new_york, boston, 6).unwrap();
    let change = json!({"service": {"id": service[0]["id"]}, "cirMbps": 50});
    let accepted = app.call("POST", &format!("{allegro}/serviceChange"), Some(&change)).await;
    assert_eq!(accepted.status, 201, "{:#}", accepted.body);
    let path = format!("{allegro}/serviceChange/{}", accepted.body["id"].as_str().unwrap());
    let done = app.wait_until(&path, |c| c["state"] != "acknowledged" && c["state"] != "inProgress").await;
    assert_eq!(done["state"], "completed", "{done:#}");
    let seconds = tokio::task::spawn_blocking(move || traffic.per_second()).await.unwrap().unwrap();
    assert!(
        seconds.len() >= 5 && seconds.iter().all(|mbps| *mbps > 1.0),
        "Mbit/s each second of the change: {seconds:?}"
    );
    // The elements run the new rate exactly (read back), and traffic passes above the old one
    // and within the new: on two cores shared with other tests, the userspace datapath may not
    // reach 50 Mbit/s itself (issue 11: 42.5 was measured once), so the rate is the meters'.
    let id = service[0]["id"].as_str().unwrap();
    assert!(app.seller.icm.check_connectivity(id).await.unwrap(), "every element runs the change as asked");
    let reserved = app.seller.icm.connectivity(id).await.unwrap().reservation.request.bandwidth_mbps;
    assert_eq!(reserved, 50);
    let measured = network.lab.throughput_mbps(new_york, boston, 3).unwrap();
    assert!(
        measured > 20.0 + 3.0 && measured <= 50.0 + 7.5,
        "{measured} Mbit/s measured after the change to 50 Mbit/s"
    );

    // The customer's link going down is a port alarm on the element, noted on the service.
    // Open vSwitch learns of a link change from the kernel a moment later: poll until it shows.
    let changes = async || {
        let mut ticker = tokio::time::interval(std::time::Duration::from_millis(20));
        for _ in 0..250 {
            ticker.tick().await;
            let changes = app.seller.alarms.poll(&*app.seller.ecm, 1).await;
            if !changes.is_empty() {
                return changes;
            }
        }
        panic!("no alarm change within 5 s");
    };
    network.lab.set_host_link(new_york, false).unwrap();
    let expected = lso_adagio::Alarm {
        element: "pe1".into(),
        port: Some("uni1".into()),
        kind: lso_adagio::AlarmKind::PortDown,
        detail: "the link is down".into(),
        raised_at: 1,
    };
    assert_eq!(changes().await, [lso_adagio::AlarmChange::Raised(expected.clone())]);
    network.lab.set_host_link(new_york, true).unwrap();
    assert_eq!(changes().await, [lso_adagio::AlarmChange::Cleared(expected)], "cleared once the link is back");
    assert!(network.lab.reaches(new_york, boston));

    app.order_completed(CANTATA, &delete_order(&evpl)).await;
    assert!(!network.lab.reaches(new_york, boston), "deleted, the hosts no longer reach each other");
    app.stop().await;
}

/// The states of every product order of the Buyer, by id.
/// MEF 125's EP-TREE request (use case 2e): its items' product configurations by item id.
fn ep_tree_example() -> std::collections::HashMap<String, Value> {
    let file = crate::support::shared_mef().join(
        "Sonata/documentation/productSchema/carrierEthernet/subscriberEthernet/MEF 125.0.1 resources/requests/Use Case 2e POQ - new EP-TREE, new UNIs, new End Points.json",
    );
    let request: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let items = request["productOfferingQualificationItem"].as_array().unwrap();
    items.iter().map(|i| (i["id"].as_str().unwrap().to_owned(), i["product"]["productConfiguration"].clone())).collect()
}

#[tokio::test]
async fn an_ep_tree_ordered_as_mef_125_products_lets_its_root_reach_every_leaf_and_no_leaf_reach_another() {
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY).unwrap();
    let network = NetworkLab::build(&topology, "ne", Some(100)).unwrap();
    let (app, _files) = seller_on(&network).await;
    let tree = crate::support::shared_mef().join("Sonata/productSchema/carrierEthernet");
    lso_cli(&["catalog", "import", tree.to_str().unwrap(), "--data-dir", app.dir.path().to_str().unwrap()]).await;
    app.cli(&["catalog", "reload"]).await;

    // As MEF 125 orders it: three UNIs, the EVC, and an end point product for each UNI that
    // relates to the EVC (the root's as ROOT_ENDPOINT_OF_EVC, the leaves' as LEAF_...) and
    // to its UNI; the configurations are the use case's own.
    let example = ep_tree_example();
    let mut order = evpl_order(&["site-new-york", "site-boston", "site-washington"], 100, 0);
    let items = order["productOrderItem"].as_array_mut().unwrap();
    let template = items.pop().unwrap();
    let item = |id: &str, configuration: &Value, relations: Value| {
        let mut item = template.clone();
        item["id"] = json!(id);
        item["product"]["productConfiguration"] = configuration.clone();
        item["productOrderItemRelationship"] = relations;
        item
    };
    items.push(item("evc", &example["item-001"], json!([])));
    for (n, role) in [(1, "ROOT"), (2, "LEAF"), (3, "LEAF")] {
        let configuration = &example[if role == "ROOT" { "item-006" } else { "item-007" }];
        let relations = json!([{"id": "evc", "relationshipType": format!("{role}_ENDPOINT_OF_EVC")},
                               {"id": n.to_string(), "relationshipType": "CONNECTS_TO_UNI"}]);
        items.push(item(&format!("ep{n}"), configuration, relations));
    }
    let sonata = "/mefApi/sonata/productOrderingManagement/v10";
    let order = app.order_completed(sonata, &order).await;

    let host = |interface: &str| &network.hosts[interface];
    let (root, boston, washington) = (host("uni-new-york-1"), host("uni-boston-1"), host("uni-washington-1"));
    assert!(network.lab.reaches(root, boston), "the root reaches a leaf");
    assert!(network.lab.reaches(washington, root), "a leaf reaches the root");
    assert!(!network.lab.reaches(boston, washington), "a leaf does not reach another leaf");
    assert!(!network.lab.reaches(washington, boston));

    let evc = order["productOrderItem"][3]["product"]["id"].as_str().unwrap().to_owned();
    app.order_completed(sonata, &delete_order(&evc)).await;
    assert!(!network.lab.reaches(root, boston), "deleted, the root no longer reaches its leaves");
    app.stop().await;
}

async fn order_states(client: &reqwest::Client, token: &str, base: &str) -> std::collections::HashMap<String, String> {
    let url = format!("{base}{CANTATA}/productOrder?limit=1000");
    let (status, orders) = crate::crash::call(client, token, reqwest::Method::GET, url, None).await;
    assert_eq!(status, 200, "{orders:#}");
    let orders = orders.as_array().cloned().unwrap_or_default();
    orders.iter().map(|o| (o["id"].as_str().unwrap().to_owned(), o["state"].as_str().unwrap().to_owned())).collect()
}

/// Reads the orders after each wait of `step` until `done` holds for their states (two minutes
/// at most).
async fn poll_orders(
    client: &reqwest::Client,
    token: &str,
    base: &str,
    done: impl Fn(&std::collections::HashMap<String, String>) -> bool,
) -> std::collections::HashMap<String, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(20));
    loop {
        ticker.tick().await;
        let states = order_states(client, token, base).await;
        if done(&states) {
            return states;
        }
        assert!(std::time::Instant::now() < deadline, "the orders did not get there: {states:?}");
    }
}

#[tokio::test]
async fn a_seller_killed_while_provisioning_resumes_and_the_elements_end_exactly_as_ordered() {
    use crate::crash::{call, serve_with, token};
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY).unwrap();
    let network = NetworkLab::build(&topology, "nk", Some(1000)).unwrap();
    let files = tempfile::tempdir().unwrap();
    let (path, data) = (files.path().join("topology.toml"), files.path().join("data"));
    std::fs::write(&path, network.topology.to_toml(&Default::default())).unwrap();
    let settings = [("LSO_FULFILMENT__BY", "network"), ("LSO_NETWORK__TOPOLOGY", path.to_str().unwrap())];
    let (process, address) = serve_with(&data, &settings);
    let (client, token) = (reqwest::Client::new(), token(&data, &["--buyer", "ACME"]));
    let base = format!("http://{address}");
    let post = |order: Value| {
        let (client, token, url) = (client.clone(), token.clone(), format!("{base}{CANTATA}/productOrder"));
        async move { call(&client, &token, reqwest::Method::POST, url, Some(&order)).await }
    };

    let mut unis = evpl_order(&["site-new-york", "site-boston"], 1, 1);
    unis["productOrderItem"].as_array_mut().unwrap().truncate(2);
    let (status, placed) = post(unis).await;
    assert_eq!(status, 201, "{placed:#}");
    let unis_id = placed["id"].as_str().unwrap().to_owned();
    poll_orders(&client, &token, &base, |s| s.get(&unis_id).is_some_and(|s| s == "completed")).await;
    let (_, unis) =
        call(&client, &token, reqwest::Method::GET, format!("{base}{CANTATA}/productOrder/{unis_id}"), None).await;
    let (a, z) = (product_id(&unis, 0), product_id(&unis, 1));

    // pe3 hangs: every EVPL gets as far as pe1 and waits there for pe3.
    let pe3 = &network.elements["pe3"];
    network.lab.freeze(pe3, true).unwrap();
    const EVPLS: u16 = 30;
    for n in 0..EVPLS {
        let mut order = evpl_order(&[], 1000 + n, 5);
        let evpl = &mut order["productOrderItem"][0];
        evpl.as_object_mut().unwrap().remove("productOrderItemRelationship");
        evpl["product"]["productRelationship"] = json!([{"id": a, "relationshipType": "CONNECTS_TO_UNI_A"}, {"id": z, "relationshipType": "CONNECTS_TO_UNI_Z"}]);
        let (status, placed) = post(order).await;
        assert_eq!(status, 201, "{placed:#}");
    }
    // Killed once EVPLs are on pe1 (half-way through provisioning), then pe3 comes back.
    // (pe1's bridge, and its OpenFlow socket, exist once the first EVPL reaches it.)
    let on_pe1 = async || match lso_ecm::openflow::OpenFlowClient::connect(&network.elements["pe1"].openflow).await {
        Ok(pe1) => pe1.flows(None).await.unwrap().len(),
        Err(_) => 0,
    };
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(20));
    for _ in 0..500 {
        ticker.tick().await;
        if on_pe1().await > 0 {
            break;
        }
    }
    assert!(on_pe1().await > 0, "provisioning reached pe1");
    drop(process);
    network.lab.freeze(pe3, false).unwrap();

    let (_process, address) = serve_with(&data, &settings);
    let base = format!("http://{address}");
    let at_restart = order_states(&client, &token, &base).await;
    let unfinished = at_restart.values().filter(|s| *s != "completed").count();
    assert!(unfinished > 0, "the kill came after every order had finished: {at_restart:?}");
    let states =
        poll_orders(&client, &token, &base, |s| s.values().all(|s| matches!(s.as_str(), "completed" | "failed"))).await;
    assert!(states.values().all(|s| s == "completed"), "{states:?}");

    // Every EVPL is on pe1 and pe3 exactly once: two flows and one meter each per element,
    // nothing else.
    for (element, reached) in &network.topology.management {
        let lso_icm::Management::Ovs { openflow, .. } = reached else { continue };
        if element == "pe2" && !std::path::Path::new(openflow).exists() {
            continue; // never configured: its bridge was not even made
        }
        let switch = lso_ecm::openflow::OpenFlowClient::connect(openflow).await.unwrap();
        let flows = switch.flows(None).await.unwrap();
        let mut per_service: std::collections::HashMap<u64, usize> = Default::default();
        for flow in &flows {
            *per_service.entry(flow.cookie).or_default() += 1;
        }
        let meters = switch.meters().await.unwrap();
        if element == "pe2" {
            assert!(flows.is_empty() && meters.is_empty(), "pe2 carries none of them");
            continue;
        }
        assert_eq!(per_service.len(), usize::from(EVPLS), "{element}: one set of flows per EVPL");
        assert!(per_service.values().all(|n| *n == 2), "{element}: no duplicate flows {per_service:?}");
        assert_eq!(meters.len(), usize::from(EVPLS), "{element}: one meter per EVPL");
    }
    let (ny, boston) = (&network.hosts["uni-new-york-1"], &network.hosts["uni-boston-1"]);
    for vlan in [1000, 1000 + EVPLS / 2, 1000 + EVPLS - 1] {
        network.lab.set_ce_vlan(ny, vlan).unwrap();
        network.lab.set_ce_vlan(boston, vlan).unwrap();
        assert!(network.lab.reaches(ny, boston), "the EVPL on CE-VLAN {vlan} carries traffic");
    }
}

fn product_id(order: &Value, item: usize) -> String {
    order["productOrderItem"][item]["product"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_modify_order_changes_the_bandwidth_on_the_network_and_a_delete_gives_it_back() {
    // Simulated elements: the demo network as the Seller ships it.
    let app = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let order = app.order_completed(CANTATA, &evpl_order(&["site-new-york", "site-boston"], 100, 20)).await;
    let evpl = product_id(&order, 2);
    // The EVPL relates to the UNI products it was ordered with, and is found by them.
    let url = format!("/mefApi/cantata/productInventory/v1/product?relatedProductId={}", product_id(&order, 0));
    let related = app.call("GET", &url, None).await.body;
    assert_eq!(related.as_array().unwrap().iter().map(|p| p["id"].clone()).collect::<Vec<_>>(), [json!(evpl)]);
    let reserved = async || {
        app.seller.icm.read(|n| n.reservations().values().map(|r| r.request.bandwidth_mbps).collect::<Vec<_>>()).await
    };
    assert_eq!(reserved().await, [20]);

    modify_cir(&app, &evpl, 50).await;
    assert_eq!(reserved().await, [50], "the network carries the new CIR");
    // The operators see which services realise the product.
    let url = format!("/lso/admin/v1/cantata/product/{evpl}/service?buyerId=ACME");
    let service = app.call_as(&app.admin, "GET", &url, None).await.body;
    assert_eq!(service.as_array().unwrap().len(), 1, "{service:#}");
    let id = service[0]["id"].as_str().unwrap();
    assert!(app.seller.icm.check_connectivity(id).await.unwrap(), "read back from the elements");
    assert_eq!(service[0]["serviceConfiguration"]["cirMbps"], 50);

    let deleted = app.call("POST", &format!("{CANTATA}/productOrder"), Some(&delete_order(&evpl))).await;
    let done = app.wait_until_final(CANTATA, deleted.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert!(reserved().await.is_empty(), "bandwidth and S-VLANs given back");
}

#[tokio::test]
async fn a_performance_job_counts_the_frames_a_customer_sends_through_open_vswitch() {
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY).unwrap();
    let network = NetworkLab::build(&topology, "np", Some(100)).unwrap();
    let (app, _files) = seller_on(&network).await;
    let (new_york, boston) = (&network.hosts["uni-new-york-1"], &network.hosts["uni-boston-1"]);
    let created = app
        .call("POST", &format!("{CANTATA}/productOrder"), Some(&evpl_order(&["site-new-york", "site-boston"], 100, 50)))
        .await;
    let order = app.wait_until_final(CANTATA, created.body["id"].as_str().unwrap()).await;
    assert_eq!(order["state"], "completed", "{order:#}");

    let pm = "/mefApi/legato/performanceMonitoring/v2";
    let post = async |path: &str, body: Value| {
        let answer = app.call_as(&app.admin, "POST", &format!("{pm}{path}"), Some(&body)).await;
        assert_eq!(answer.status, 201, "{path}: {:#}", answer.body);
        answer.body
    };
    let profile = post(
        "/performanceProfile",
        json!({"jobType": "proactive", "outputFormat": "json", "resultFormat": "payload", "granularity": "1 second"}),
    )
    .await;
    let measured = json!({"@type": lso_sof::pm::CE_CONFIGURATION, "interface": "uni-new-york-1"});
    let job = post(
        "/performanceJob",
        json!({"performanceProfile": {"@type": "PerformanceProfileRef", "id": profile["id"]},
        "servicePayloadSpecificAttributes": measured}),
    )
    .await;
    let reports = format!("{pm}/performanceReport?performanceJobId={}", job["id"].as_str().unwrap());
    let made = async |count: usize| {
        app.wait_until_as(&app.admin, &reports, |r| r.as_array().is_some_and(|r| r.len() >= count))
            .await
            .as_array()
            .unwrap()
            .len()
    };
    made(1).await;
    let sent = network.lab.send_udp(new_york, boston, 10, 2, 1000).unwrap();
    // Two more intervals end after the last datagram arrived.
    let after = made(1).await;
    made(after + 2).await;

    let asked = json!({"reportingTimeframe": {"reportingStartDate": job["creationDate"], "reportingEndDate": days_from_now(1)},
        "performanceJob": {"@type": "PerformanceJobValue", "outputFormat": "json", "resultFormat": "payload", "granularity": "1 second",
                           "servicePayloadSpecificAttributes": measured}});
    let report = post("/performanceReport", asked).await;
    let counted: u64 = report["reportContent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["measurementDataPoints"][0]["rxEthIINum"].as_u64().unwrap())
        .sum();
    // Besides the datagrams, the host sends iperf3's control connection and ARP.
    let excess = counted as f64 / sent as f64 - 1.0;
    assert!((0.0..=0.05).contains(&excess), "{counted} frames counted at the UNI for {sent} datagrams sent");
    let highest = |name: &str| {
        report["reportContent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["measurementDataPoints"][0][name].as_f64().unwrap())
            .fold(0.0, f64::max)
    };
    // 10 Mbit/s on a UNI of 1000 Mbit/s is 1% while it lasts; the samples of a loaded machine
    // may be seconds apart, which spreads it over longer windows, so only its trace is asked
    // for, and that the peak of an interval is never below its average.
    let (peak, average) = (highest("peakUtilizationIn"), highest("utilizationIn"));
    assert!(
        peak > 0.1 && peak >= average,
        "10 Mbit/s on a UNI of {} Mbit/s: a peak of {peak}% for an average of {average}%",
        topology.interface("uni-new-york-1").unwrap().capacity_mbps
    );
    app.stop().await;
}

/// A Seller on `topology` (a domain of a lab), `adjust`ed.
async fn seller_with(
    topology: &lso_icm::Topology,
    adjust: impl FnOnce(&mut lso_server::config::Config),
) -> (App, tempfile::TempDir) {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("topology.toml");
    std::fs::write(&path, topology.to_toml(&Default::default())).unwrap();
    let app = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.network.topology = path.display().to_string();
        c.network.alarm_poll_millis = 3_600_000;
        adjust(c);
    })
    .await;
    (app, files)
}

#[tokio::test]
async fn an_evpl_across_two_providers_carries_traffic_between_their_customers_until_it_is_deleted() {
    let demo = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY).unwrap();
    const ENNI: &str = "enni-partner-1";
    let pair = lso_lab::network::PartnerLab::build((&demo, ENNI), (&demo, ENNI), "nx", Some(100)).unwrap();
    let [ours, theirs] = &pair.domains;
    let (partner, _partner_files) = seller_with(&theirs.topology, |_| {}).await;
    let (terms, _) = crate::partners::terms_with(&partner, |_| {}).await;
    let (provider, _files) = seller_with(&ours.topology, |c| c.partners = vec![terms]).await;
    let (new_york, washington) = (&ours.hosts["uni-new-york-1"], &theirs.hosts["uni-washington-1"]);
    assert!(!pair.lab.reaches(new_york, washington), "no service, no traffic");

    let order = crate::partners::order_off_net_evpl(&provider).await;
    assert!(pair.lab.reaches(new_york, washington), "the customer's hosts reach each other across both networks");
    let measured = pair.lab.throughput_mbps(new_york, washington, 3).unwrap();
    assert!((measured - 20.0).abs() <= 3.0, "{measured} Mbit/s across two providers for a CIR of 20");

    let evpl = product_id(&order, 2);
    let deleted = provider.call("POST", &format!("{CANTATA}/productOrder"), Some(&delete_order(&evpl))).await;
    let done = provider.wait_until_final(CANTATA, deleted.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert!(!pair.lab.reaches(new_york, washington), "deleted, the hosts no longer reach each other");
    provider.stop().await;
    partner.stop().await;
}

#[tokio::test]
async fn the_demo_runs_two_lso_processes_whose_networks_carry_an_evpl_bought_across_them() {
    let said = lso_cli(&["demo", "--partners", "1"]).await;
    assert!(said.contains("15 of 15 checks held."), "{said}");
    assert!(said.contains("9 of 9 checks held."), "{said}");
    assert!(said.contains("check (Open vSwitch, real frames)"), "real networks: {said}");
    assert_eq!(said.matches("lso serve, PID").count(), 2, "two processes: {said}");
    // Operator to operator: HTTPS with mutual TLS (the partner serves no client without a
    // certificate), the provider's tokens fetched at the partner's token endpoint.
    assert_eq!(said.matches(", https://127.0.0.1:").count(), 2, "both on HTTPS: {said}");
    assert!(said.contains("HTTPS with mutual TLS between them"), "{said}");
}
