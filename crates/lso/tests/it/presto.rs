//! Presto on the wire: the NRP tutorial's connectivity service request is served on the demo
//! network (simulated elements), and every answer is valid against `presto-nrp.yaml`.

use crate::support::*;
use serde_json::{Value, json};

const BASE: &str = "/restconf";

/// The Presto tutorial's create-connectivity-service request, on two UNIs of our network.
fn tutorial_request(a: &str, z: &str) -> Value {
    let script = std::fs::read_to_string(shared_mef().join("Presto/documentation/tutorial/tutorial.sh")).unwrap();
    let start = script.find("create-connectivity-service").unwrap();
    let body = &script[start..];
    let body = &body[body.find("<<EOF").unwrap() + 5..body.find("\nEOF").unwrap()];
    let mut request: Value = serde_json::from_str(body.trim()).unwrap();
    for (end_point, sip) in request["input"]["end-point"].as_array_mut().unwrap().iter_mut().zip([a, z]) {
        end_point["service-interface-point"]["service-interface-point-id"] = json!(sip);
    }
    request
}

#[tokio::test]
async fn the_tutorial_request_creates_a_connectivity_service_and_every_answer_meets_the_nrp_file() {
    let app = spawn_app().await;
    let nrp = Contract::load("Presto/api/swagger/presto-nrp.yaml");
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let app = &app;
        async move { app.call_as(&app.admin, method, &format!("{BASE}{path}"), body.as_ref()).await }
    };
    let check = |path: &str, method: &str, answer: &Answer| {
        assert_eq!(answer.status, 200, "{method} {path}: {:#}", answer.body);
        Contract::assert_valid(&nrp.swagger_response(path, method, 200), &answer.body, path);
    };

    let validator = nrp.swagger_response("/operations/create-connectivity-service/", "post", 200);
    assert!(
        !validator.is_valid(&json!({"output": {"service": {"direction": "SIDEWAYS"}}})),
        "the contract is not vacuous"
    );
    let created = call(
        "POST",
        "/operations/create-connectivity-service/".into(),
        Some(tutorial_request("uni-new-york-1", "uni-boston-1")),
    )
    .await;
    check("/operations/create-connectivity-service/", "post", &created);
    let service = &created.body["output"]["service"];
    let uuid = service["uuid"].as_str().unwrap().to_owned();
    assert_eq!(
        service["end-point"][0]["nrp-carrier-eth-connectivity-end-point-resource"]["ce-vlan-id-list-and-untag"]["vlan-id"],
        json!([{"vlan-id": 301}])
    );
    assert_eq!(service["operational-state"], "ENABLED", "the elements read back as configured");

    let context = call("GET", "/data/context/".into(), None).await;
    check("/data/context/", "get", &context);
    assert_eq!(context.body["service-interface-point"].as_array().unwrap().len(), 7);
    assert_eq!(context.body["topology"][0]["node"].as_array().unwrap().len(), 3);
    assert_eq!(context.body["connectivity-service"][0]["uuid"], json!(uuid));
    let link = context.body["topology"][0]["link"][2]["uuid"].as_str().unwrap().to_owned();
    assert_eq!(
        context.body["topology"][0]["link"][2]["available-capacity"]["total-size"]["value"], 1000,
        "no bandwidth was asked"
    );

    for (path, template) in [
        (format!("/data/context/connectivity-service={uuid}/"), "/data/context/connectivity-service={uuid}/"),
        ("/data/context/topology=lso-network/".into(), "/data/context/topology={uuid}/"),
        ("/data/context/topology=lso-network/node=pe1/".into(), "/data/context/topology={uuid}/node={node-uuid}/"),
        (format!("/data/context/topology=lso-network/link={link}/"), "/data/context/topology={uuid}/link={link-uuid}/"),
        (
            "/data/context/service-interface-point=enni-partner-1/".into(),
            "/data/context/service-interface-point={uuid}/",
        ),
    ] {
        check(template, "get", &call("GET", path, None).await);
    }
    let rpc = [
        ("get-connectivity-service-list", json!({})),
        ("get-connectivity-service-details", json!({"input": {"service-id-or-name": uuid}})),
        ("get-service-interface-point-list", json!({})),
        ("get-service-interface-point-details", json!({"input": {"sip-id-or-name": "uni-boston-1"}})),
        ("get-topology-list", json!({})),
        ("get-topology-details", json!({"input": {"topology-id-or-name": "lso-network"}})),
        ("get-node-details", json!({"input": {"topology-id-or-name": "lso-network", "node-id-or-name": "pe3"}})),
        ("get-link-details", json!({"input": {"topology-id-or-name": "lso-network", "link-id-or-name": link}})),
    ];
    for (operation, body) in rpc {
        let path = format!("/operations/{operation}/");
        check(&path, "post", &call("POST", path.clone(), Some(body)).await);
    }

    let clash = call(
        "POST",
        "/operations/create-connectivity-service/".into(),
        Some(tutorial_request("uni-new-york-1", "uni-washington-1")),
    )
    .await;
    assert_eq!(clash.status, 422, "CE-VLAN 301 at uni-new-york-1 is taken: {:#}", clash.body);
    let unknown = call("GET", "/data/context/service-interface-point=nowhere/".into(), None).await;
    assert_eq!(unknown.status, 404);
    let as_buyer = app.call("GET", &format!("{BASE}/data/context/"), None).await;
    assert_eq!(as_buyer.status, 403);

    let deleted = call(
        "POST",
        "/operations/delete-connectivity-service/".into(),
        Some(json!({"input": {"service-id-or-name": uuid}})),
    )
    .await;
    check("/operations/delete-connectivity-service/", "post", &deleted);
    let gone = call(
        "POST",
        "/operations/get-connectivity-service-details/".into(),
        Some(json!({"input": {"service-id-or-name": uuid}})),
    )
    .await;
    assert_eq!(gone.status, 404);
    assert!(app.seller.icm.read(lso_icm::Network::is_empty).await, "everything released");
}

#[tokio::test]
async fn a_sof_realises_its_connections_on_an_icm_in_another_lso_over_presto() {
    let network_side = spawn_app().await;
    let (url, token) = (format!("http://{}", network_side.seller.addr), network_side.admin.clone());
    let sof_side = spawn_app_with(|c| {
        c.network.presto_url = url;
        c.network.presto_token = lso::config::Secret(token);
    })
    .await;
    const ORDERING: &str = "/mefApi/legato/serviceOrderingManagement/v5";
    let evc = json!({"@type": lso_sof::services::EVC, "cirMbps": 20,
        "endPoints": [{"interface": "uni-new-york-1", "vlans": [7]}, {"interface": "enni-partner-1", "vlans": [700]}]});
    let order = json!({"requestedStartDate": days_from_now(0), "requestedCompletionDate": days_from_now(1),
        "serviceOrderItem": [{"id": "1", "action": "add", "service": {"serviceConfiguration": evc}}]});
    let created = sof_side.call_as(&sof_side.admin, "POST", &format!("{ORDERING}/serviceOrder"), Some(&order)).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let wake = lso_store::JobHandler::wake(&*sof_side.seller.sof);
    let mut done = Value::Null;
    for _ in 0..100 {
        let committed = wake.notified();
        tokio::pin!(committed);
        committed.as_mut().enable();
        done = sof_side.call_as(&sof_side.admin, "GET", &format!("{ORDERING}/serviceOrder/{id}"), None).await.body;
        if done["state"] != "acknowledged" && done["state"] != "inProgress" {
            break;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), committed).await;
    }
    assert_eq!(done["state"], "completed", "{done:#}");
    let service = done["serviceOrderItem"][0]["service"]["id"].as_str().unwrap();
    assert!(network_side.seller.icm.connectivity(service).await.is_some(), "the other lso's ICM holds it");
    assert!(network_side.seller.icm.check_connectivity(service).await.unwrap(), "on its elements");
    assert!(sof_side.seller.icm.read(lso_icm::Network::is_empty).await, "this lso's network is untouched");
    let policy = sof_side.seller.sof.policy_of(service).await.unwrap();
    assert_eq!(policy["changeable"]["cirMbps"], json!({"min": 1, "max": 1000}), "from the other ICM's capacities");
}
