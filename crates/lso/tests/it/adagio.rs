//! Adagio on the wire and element alarms up the stack, on the demo network with simulated
//! elements: cross-connects applied, read back and removed over HTTP, answers valid against
//! `docs/adagio.openapi.json`, ICM driving a remote ECM through `AdagioClient`, and an element
//! going down raised as an alarm, shown by Presto and noted on the Legato service.

use crate::support::*;
use lso_adagio::Adagio;
use serde_json::{Value, json};

const ADAGIO: &str = "/lso/adagio/v1";

fn contract() -> Contract {
    Contract::from_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/adagio.openapi.json"),
        "adagio",
    )
}

fn evpl_cross_connect(vlan: u16) -> Value {
    json!({"endpoints": [
        {"port": "uni1", "uni": {"ceVlans": [vlan]}, "ingressCirKbps": 10000},
        {"port": "to-pe3", "tagged": {"sVlan": 7}}
    ]})
}

#[tokio::test]
async fn cross_connects_are_applied_read_back_and_removed_and_every_answer_meets_the_adagio_file() {
    let app = spawn_app().await;
    let adagio = contract();
    let path = format!("{ADAGIO}/element/pe1/crossConnect/svc-1");
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let app = &app;
        async move { app.call_as(&app.admin, method, &path, body.as_ref()).await }
    };

    let elements = call("GET", format!("{ADAGIO}/element"), None).await;
    Contract::assert_valid(&adagio.response("/element", "get", 200), &elements.body, "elements");
    assert_eq!(elements.body.as_array().unwrap().len(), 4, "three switches and an access router");
    let applied = call("PUT", path.clone(), Some(evpl_cross_connect(100))).await;
    assert_eq!(applied.status, 200, "{:#}", applied.body);
    Contract::assert_valid(
        &adagio.response("/element/{name}/crossConnect/{service}", "put", 200),
        &applied.body,
        "applied",
    );
    let read = call("GET", path.clone(), None).await;
    Contract::assert_valid(
        &adagio.response("/element/{name}/crossConnect/{service}", "get", 200),
        &read.body,
        "read back",
    );
    assert_eq!(read.body["flows"].as_array().unwrap().len(), 2, "one flow per ingress endpoint");
    assert_eq!(read.body["flows"][0]["vlan"], 100);
    let check = |vlan| call("POST", format!("{path}/check"), Some(evpl_cross_connect(vlan)));
    assert_eq!(check(100).await.body, json!({"runsAsGiven": true}));
    assert_eq!(check(101).await.body, json!({"runsAsGiven": false}));
    let ports = call("GET", format!("{ADAGIO}/element/pe1/port"), None).await;
    Contract::assert_valid(&adagio.response("/element/{name}/port", "get", 200), &ports.body, "ports");

    let both = json!({"endpoints": [{"port": "uni1", "uni": {}, "tagged": {"sVlan": 2}}]});
    let refused = call("PUT", path.clone(), Some(both)).await;
    assert_eq!(refused.status, 422, "{:#}", refused.body);
    assert_eq!(refused.body[0]["propertyPath"], "/endpoints/0");
    let bad_vlan = call("PUT", path.clone(), Some(evpl_cross_connect(5000))).await;
    assert_eq!(bad_vlan.status, 422, "{:#}", bad_vlan.body);
    let no_port = json!({"endpoints": [{"port": "nowhere", "tagged": {"sVlan": 2}}]});
    assert_eq!(call("PUT", path.clone(), Some(no_port)).await.status, 422);
    assert_eq!(call("GET", format!("{ADAGIO}/element/nope/port"), None).await.status, 404);
    assert_eq!(app.call("GET", &format!("{ADAGIO}/element"), None).await.status, 403);

    assert_eq!(call("DELETE", path.clone(), None).await.status, 204);
    assert_eq!(call("DELETE", path.clone(), None).await.status, 204, "removing nothing is no error");
    assert_eq!(call("GET", path, None).await.status, 404);

    let served = app.client.get(app.url(&format!("{ADAGIO}/openapi.json"))).send().await.unwrap();
    let served: Value = served.json().await.unwrap();
    assert_eq!(served["info"]["title"], "lso Adagio (ICM ↔ ECM)");
}

#[tokio::test]
async fn icm_drives_a_remote_ecm_through_the_adagio_client() {
    let app = spawn_app().await;
    let client = lso_api_adagio::AdagioClient::connect(
        &app.url(ADAGIO),
        lso_transport::Credentials::bearer(&app.admin),
        reqwest::Client::new(),
    )
    .await
    .unwrap();
    assert_eq!(client.elements().len(), 4);
    let dir = tempfile::tempdir().unwrap();
    let store = lso_store::Store::open(&dir.path().join("icm.db")).unwrap();
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY).unwrap();
    let icm = lso_icm::Icm::open(topology, store, std::sync::Arc::new(client)).await.unwrap();
    let endpoint = |interface: &str| lso_presto::ServiceEndpoint {
        interface: interface.into(),
        vlans: vec![100],
        routed: None,
        leaf: false,
    };
    let request = lso_presto::ConnectivityRequest {
        uuid: "remote-1".into(),
        endpoints: vec![endpoint("uni-new-york-1"), endpoint("uni-boston-1")],
        cir_mbps: 10,
    };
    icm.create_connectivity(&request).await.unwrap();
    assert!(icm.check_connectivity("remote-1").await.unwrap(), "read back over the wire");
    let remote = app.seller.ecm.simulated("pe1").unwrap();
    assert_eq!(remote.all_flows().len(), 2, "the remote element runs it");
    assert_eq!(icm.adagio().flows("pe1", "remote-1").await.unwrap(), remote.all_flows());
    assert!(icm.delete_connectivity("remote-1").await.unwrap());
    assert!(remote.all_flows().is_empty());
}

#[tokio::test]
async fn an_element_going_down_is_an_alarm_presto_shows_and_the_sof_notes_on_the_service() {
    // The monitor polls once at start; the test polls itself from then on.
    let app = spawn_app_with(|c| c.network.alarm_poll_millis = 3_600_000).await;
    let ordering = "/mefApi/legato/serviceOrderingManagement/v5";
    let uni = |item: &str, site: &str| {
        json!({"id": item, "action": "add", "service": {"serviceConfiguration": {"@type": lso_sof::services::SUBSCRIBER_UNI},
            "place": [{"@type": "GeographicSiteRef", "id": site, "role": "INSTALL_LOCATION"}]}})
    };
    let order = |items: Vec<Value>| json!({"requestedStartDate": days_from_now(0), "requestedCompletionDate": days_from_now(1), "serviceOrderItem": items});
    let wait = async |id: &str| {
        let path = format!("{ordering}/serviceOrder/{id}");
        app.wait_until_as(&app.admin, &path, |read| read["state"] == "completed").await
    };
    let placed = app
        .call_as(
            &app.admin,
            "POST",
            &format!("{ordering}/serviceOrder"),
            Some(&order(vec![uni("1", "site-new-york"), uni("2", "site-washington")])),
        )
        .await;
    let unis = wait(placed.body["id"].as_str().unwrap()).await;
    let (a, z) =
        (unis["serviceOrderItem"][0]["service"]["id"].clone(), unis["serviceOrderItem"][1]["service"]["id"].clone());
    let evc = json!({"id": "1", "action": "add", "service": {"serviceConfiguration": {"@type": lso_sof::services::EVC,
        "endPoints": [{"service": a, "vlans": [100]}, {"service": z, "vlans": [100]}], "cirMbps": 10}}});
    let placed = app.call_as(&app.admin, "POST", &format!("{ordering}/serviceOrder"), Some(&order(vec![evc]))).await;
    let done = wait(placed.body["id"].as_str().unwrap()).await;
    let service = done["serviceOrderItem"][0]["service"]["id"].as_str().unwrap().to_owned();
    let details = async || {
        let body = json!({"input": {"service-id-or-name": service}});
        app.call_as(&app.admin, "POST", "/restconf/operations/get-connectivity-service-details/", Some(&body))
            .await
            .body["output"]["service"]["operational-state"]
            .clone()
    };
    assert_eq!(details().await, "ENABLED");

    let poll = async || app.seller.check_alarms().await;
    app.seller.ecm.simulated("pe2").unwrap().set_down(true);
    assert_eq!(poll().await, 1);
    assert_eq!(poll().await, 0, "an alarm is raised once");
    let alarms = app.call_as(&app.admin, "GET", &format!("{ADAGIO}/alarm"), None).await;
    Contract::assert_valid(&contract().response("/alarm", "get", 200), &alarms.body, "alarms");
    assert_eq!(alarms.body[0]["element"], "pe2");
    assert_eq!(alarms.body[0]["kind"], "elementUnreachable");
    assert_eq!(details().await, "DISABLED", "Presto shows the service down");
    let noted = app
        .call_as(&app.admin, "GET", &format!("/mefApi/legato/serviceInventory/v5/service/{service}"), None)
        .await
        .body;
    let text = noted["note"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("fault raised: elementUnreachable at pe2"), "{text}");
    assert_eq!(noted["note"][0]["source"], "sof");

    app.seller.ecm.simulated("pe2").unwrap().set_down(false);
    assert_eq!(poll().await, 1);
    assert_eq!(app.call_as(&app.admin, "GET", &format!("{ADAGIO}/alarm"), None).await.body, json!([]));
    assert_eq!(details().await, "ENABLED");
    let noted = app
        .call_as(&app.admin, "GET", &format!("/mefApi/legato/serviceInventory/v5/service/{service}"), None)
        .await
        .body;
    assert!(noted["note"][1]["text"].as_str().unwrap().starts_with("fault cleared"), "{noted:#}");
}
