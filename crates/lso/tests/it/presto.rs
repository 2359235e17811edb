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
    assert_eq!(
        context.body["service-interface-point"].as_array().unwrap().len(),
        11,
        "six UNIs, an ENNI, four IP UNIs"
    );
    assert_eq!(context.body["topology"][0]["node"].as_array().unwrap().len(), 4);
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
        (
            "get-node-edge-point-details",
            json!({"input": {"topology-id-or-name": "lso-network", "node-id-or-name": "pe1", "ep-id-or-name": "pe1:uni1"}}),
        ),
        ("get-connection-details", json!({"input": {"connection-id-or-name": format!("{uuid}@pe1")}})),
    ];
    for (operation, body) in rpc {
        let path = format!("/operations/{operation}/");
        check(&path, "post", &call("POST", path.clone(), Some(body)).await);
    }

    // One end point changes CE-VLAN and the service its CIR; the elements follow.
    let mut update = json!({"input": {"service-id-or-name": uuid, "end-point": tutorial_request("uni-new-york-1", "uni-boston-1")["input"]["end-point"][0].clone()}});
    update["input"]["end-point"]["nrp-carrier-eth-connectivity-end-point-resource"] =
        json!({"ce-vlan-id-list-and-untag": {"vlan-id": [{"vlan-id": 302}]}, "ingress-bwp-flow": {"cir": 30_000_000}});
    let updated = call("POST", "/operations/update-connectivity-service/".into(), Some(update)).await;
    check("/operations/update-connectivity-service/", "post", &updated);
    let service = &updated.body["output"]["service"];
    assert_eq!(
        service["end-point"][0]["nrp-carrier-eth-connectivity-end-point-resource"]["ce-vlan-id-list-and-untag"]["vlan-id"],
        json!([{"vlan-id": 302}])
    );
    assert_eq!(service["requested-capacity"]["total-size"]["value"], 30);
    assert!(app.seller.icm.check_connectivity(&uuid).await.unwrap());

    // A path is computed without reserving anything, read back, and forgotten.
    let sep = json!({"input": {"sep": [{"local-id": "a", "service-interface-point": "uni-washington-1"}, {"local-id": "z", "service-interface-point": "uni-boston-1"}]}});
    let computed = call("POST", "/operations/compute-p-2-p-path/".into(), Some(sep.clone())).await;
    check("/operations/compute-p-2-p-path/", "post", &computed);
    let path_service = computed.body["output"]["service"]["uuid"].as_str().unwrap().to_owned();
    let path_id = computed.body["output"]["service"]["path"][0]["path-id"].as_str().unwrap().to_owned();
    let path = call("GET", format!("/data/context/path={path_id}/"), None).await;
    check("/data/context/path={uuid}/", "get", &path);
    assert_eq!(path.body["link"].as_array().unwrap().len(), 1, "pe2 – pe3 directly");
    check(
        "/data/context/path-comp-service={uuid}/",
        "get",
        &call("GET", format!("/data/context/path-comp-service={path_service}/"), None).await,
    );
    check(
        "/operations/optimize-p-2-p-path/",
        "post",
        &call("POST", "/operations/optimize-p-2-p-path/".into(), Some(sep)).await,
    );
    let forgotten = call(
        "POST",
        "/operations/delete-p-2-p-path/".into(),
        Some(json!({"input": {"service-id-or-name": path_service}})),
    )
    .await;
    check("/operations/delete-p-2-p-path/", "post", &forgotten);
    assert_eq!(call("GET", format!("/data/context/path={path_id}/"), None).await.status, 404);
    assert_eq!(app.seller.icm.read(|n| n.reservations().len()).await, 1, "computing paths reserved nothing");

    let clash = call(
        "POST",
        "/operations/create-connectivity-service/".into(),
        Some(tutorial_request("uni-new-york-1", "uni-washington-1")),
    )
    .await;
    assert_eq!(clash.status, 200, "CE-VLAN 301 at uni-new-york-1 is free again after the update: {:#}", clash.body);
    let again = call(
        "POST",
        "/operations/create-connectivity-service/".into(),
        Some(tutorial_request("uni-new-york-1", "uni-washington-2")),
    )
    .await;
    assert_eq!(again.status, 422, "now CE-VLAN 301 at uni-new-york-1 is taken: {:#}", again.body);
    // A locked service interface point takes no new service, and says so.
    let lock = |state: &str| json!({"input": {"sip-id-or-name": "uni-washington-2", "state": state}});
    assert_eq!(
        call("POST", "/operations/update-service-interface-point/".into(), Some(lock("LOCKED"))).await.status,
        201
    );
    let sip = call("GET", "/data/context/service-interface-point=uni-washington-2/".into(), None).await;
    assert_eq!(sip.body["administrative-state"], "LOCKED");
    let refused = call(
        "POST",
        "/operations/create-connectivity-service/".into(),
        Some(tutorial_request("uni-boston-2", "uni-washington-2")),
    )
    .await;
    assert_eq!(refused.status, 422, "{:#}", refused.body);
    assert_eq!(
        call("POST", "/operations/update-service-interface-point/".into(), Some(lock("UNLOCKED"))).await.status,
        201
    );
    let accepted = call(
        "POST",
        "/operations/create-connectivity-service/".into(),
        Some(tutorial_request("uni-boston-2", "uni-washington-2")),
    )
    .await;
    assert_eq!(accepted.status, 200, "{:#}", accepted.body);
    // pe1 carries both services now: each is a node rule group of its edge points, isolated from
    // the other's by an inter-rule group; each connection has its (unprotected) switch control.
    let node = call("GET", "/data/context/topology=lso-network/node=pe1/".into(), None).await;
    check("/data/context/topology={uuid}/node={node-uuid}/", "get", &node);
    let groups = node.body["node-rule-group"].as_array().unwrap().clone();
    let on_pe1: Vec<&str> = groups.iter().map(|g| g["uuid"].as_str().unwrap()).collect();
    assert_eq!(on_pe1.len(), 2, "{on_pe1:?}");
    for group in &groups {
        let id = group["uuid"].as_str().unwrap();
        let path = format!("/data/context/topology=lso-network/node=pe1/node-rule-group={id}/");
        let read = call("GET", path, None).await;
        check("/data/context/topology={uuid}/node={node-uuid}/node-rule-group={node-rule-group-uuid}/", "get", &read);
        assert_eq!(read.body["rule"][0]["forwarding-rule"], "MAY_FORWARD_ACROSS_GROUP");
        let connection = call("GET", format!("/data/context/connection={id}/"), None).await;
        let mut joined: Vec<String> = connection.body["connection-end-point"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["owned-node-edge-point-id"].as_str().unwrap().to_owned())
            .collect();
        joined.sort();
        joined.dedup();
        assert_eq!(read.body["node-edge-point"], json!(joined), "the edge points its connection joins");
        let inter = read.body["inter-rule-group"][0]["uuid"].as_str().unwrap();
        let isolation = call(
            "GET",
            format!("/data/context/topology=lso-network/node=pe1/node-rule-group={id}/inter-rule-group={inter}/"),
            None,
        )
        .await;
        check(
            "/data/context/topology={uuid}/node={node-uuid}/node-rule-group={node-rule-group-uuid}/inter-rule-group={inter-rule-group-uuid}/",
            "get",
            &isolation,
        );
        assert_eq!(isolation.body["rule"][0]["forwarding-rule"], "CANNOT_FORWARD_ACROSS_GROUP");
        let other = on_pe1.iter().find(|g| **g != id).unwrap();
        assert_eq!(isolation.body["associated-node-rule-group"][0]["node-rule-group-id"], json!(other));
        let control = connection.body["switch-control"][0]["uuid"].as_str().unwrap();
        let switch = call("GET", format!("/data/context/connection={id}/switch-control={control}/"), None).await;
        check("/data/context/connection={uuid}/switch-control={switch-control-uuid}/", "get", &switch);
        assert_eq!(switch.body["resilience-type"]["protection-type"], "NO_PROTECTON");
        assert_eq!(switch.body["switch"][0]["selected-connection-end-point"], connection.body["connection-end-point"]);
    }
    let none = "/data/context/topology=lso-network/node=pe1/node-rule-group=nothing@pe1/";
    assert_eq!(call("GET", none.into(), None).await.status, 404);

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
    assert_eq!(app.seller.icm.read(|n| n.reservations().len()).await, 2, "the services made after the first are left");
}

#[tokio::test]
async fn a_sof_realises_its_connections_on_an_icm_in_another_lso_over_presto() {
    let network_side = spawn_app().await;
    let (url, token) = (format!("http://{}", network_side.seller.addr), network_side.admin.clone());
    let sof_side = spawn_app_with(|c| {
        c.network.presto_url = url;
        c.network.presto_token = lso_server::config::Secret(token);
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
    let path = format!("{ORDERING}/serviceOrder/{id}");
    let done = sof_side
        .wait_until_as(&sof_side.admin, &path, |o| o["state"] != "acknowledged" && o["state"] != "inProgress")
        .await;
    assert_eq!(done["state"], "completed", "{done:#}");
    let service = done["serviceOrderItem"][0]["service"]["id"].as_str().unwrap();
    assert!(network_side.seller.icm.connectivity(service).await.is_some(), "the other lso's ICM holds it");
    assert!(network_side.seller.icm.check_connectivity(service).await.unwrap(), "on its elements");
    assert!(sof_side.seller.icm.read(lso_icm::Network::is_empty).await, "this lso's network is untouched");
    let policy = sof_side.seller.sof.policy_of(service).await.unwrap();
    assert_eq!(policy["changeable"]["cirMbps"], json!({"min": 1, "max": 1000}), "from the other ICM's capacities");
}
