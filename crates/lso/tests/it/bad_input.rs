//! Bad input over real HTTP: each case gets its MEF error, never a 5xx, and nothing is stored.

use crate::support::*;
use lso_model::{Clock, SystemClock};
use serde_json::{Value, json};

const ORDERS: &str = "/mefApi/sonata/productOrderingManagement/v10";

async fn raw_post(app: &App, path: &str, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_kind_of_bad_request_gets_its_mef_error_and_stores_nothing() {
    let app = spawn_app().await;
    let create = format!("{ORDERS}/productOrder");
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", b"{\"productOrderItem\": [".to_vec(), 400, "invalidBody"),
        ("invalid UTF-8", b"{\"externalId\": \"\xc3\x28\"}".to_vec(), 400, "invalidBody"),
        ("deep nesting", "[".repeat(100_000).into_bytes(), 400, "invalidBody"),
        ("empty body", Vec::new(), 400, "invalidBody"),
        ("oversized body", format!("{{\"externalId\": \"{}\"}}", "x".repeat(2 << 20)).into_bytes(), 413, "invalidBody"),
        ("wrong type", br#"{"productOrderItem": "many"}"#.to_vec(), 422, "invalidValue"),
        ("missing mandatory fields", br#"{"productOrderItem": [{"action": "add"}]}"#.to_vec(), 422, "missingProperty"),
        ("unknown action", br#"{"productOrderItem": [{"id": "1", "action": "rent"}]}"#.to_vec(), 422, "invalidValue"),
    ];
    for (name, body, status, code) in cases {
        let (got, error) = raw_post(&app, &create, body).await;
        assert_eq!(got, status, "{name}: {error:#}");
        let first = error.as_array().and_then(|a| a.first().cloned()).unwrap_or(error.clone());
        assert_eq!(first["code"], code, "{name}: {error:#}");
        assert!(first["reason"].as_str().is_some_and(|r| !r.is_empty() && r.chars().count() <= 255), "{name}");
    }

    for (query, code) in [
        ("colour=blue", "invalidQuery"),
        ("limit=-1", "invalidQuery"),
        ("state=bogus", "invalidQuery"),
        ("orderDate.gt=yesterday", "invalidQuery"),
        ("state=", "missingQueryValue"),
    ] {
        let answer = app.call("GET", &format!("{create}?{query}"), None).await;
        assert_eq!((answer.status, answer.body["code"].as_str()), (400, Some(code)), "{query}");
    }
    let wrong_order = "orderDate.gt=2030-01-01T00:00:00Z&orderDate.lt=2029-01-01T00:00:00Z";
    assert_eq!(app.call("GET", &format!("{create}?{wrong_order}"), None).await.status, 400, "dates in the wrong order");

    for callback in [
        "ftp://buyer.example/x",
        "not a url",
        &format!("http://{}", app.seller.addr),
        &format!("http://localhost:{}/cb", app.seller.addr.port()),
    ] {
        let answer = app.call("POST", &format!("{ORDERS}/hub"), Some(&json!({"callback": callback}))).await;
        assert_eq!((answer.status, answer.body["code"].as_str()), (400, Some("invalidBody")), "{callback}");
        assert!(answer.body["reason"].as_str().unwrap().starts_with("/callback: "), "{:#}", answer.body);
    }
    let answer = app
        .call(
            "POST",
            &format!("{ORDERS}/hub"),
            Some(&json!({"callback": "http://127.0.0.1:9", "query": "eventType=nope"})),
        )
        .await;
    assert_eq!((answer.status, answer.body["code"].as_str()), (400, Some("invalidBody")));
    assert!(answer.body["reason"].as_str().unwrap().starts_with("/query: "), "{:#}", answer.body);

    let answer = app.call("PUT", &create, None).await;
    assert_eq!(answer.status, 405);
    assert!(answer.body["code"].is_string());

    let orders = app.call("GET", &create, None).await;
    assert_eq!(
        (orders.body.clone(), orders.headers["x-total-count"].to_str().unwrap()),
        (json!([]), "0"),
        "nothing was stored"
    );
    let hubs = app.call_as(&app.admin, "GET", "/lso/admin/v1/deliveries", None).await;
    assert_eq!(hubs.body["deliveries"], json!([]));
    app.seller.stop().await;
}

#[tokio::test]
async fn another_buyers_resources_do_not_exist_for_you() {
    let app = spawn_app().await;
    let created = app.call("POST", &format!("{ORDERS}/productOrder"), Some(&order_of(&example(EVPL), None))).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let done = app.wait_until_final(ORDERS, &id).await;
    let product = done["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned();
    let hub = app.call("POST", &format!("{ORDERS}/hub"), Some(&json!({"callback": "http://127.0.0.1:9/x"}))).await;
    let hub = hub.body["id"].as_str().unwrap().to_owned();
    let now = SystemClock.now_seconds();
    let other = app.seller.auth.mint(&lso_http::Principal::buyer("o", vec!["OTHER".into()]), now, 600);

    for path in [
        format!("{ORDERS}/productOrder/{id}"),
        format!("{ORDERS}/hub/{hub}"),
        format!("/mefApi/sonata/productInventory/v7/product/{product}"),
    ] {
        let answer = app.call_as(&other, "GET", &path, None).await;
        assert_eq!((answer.status, answer.body["code"].as_str()), (404, Some("notFound")), "{path}");
    }
    let patch =
        app.call_as(&other, "PATCH", &format!("{ORDERS}/productOrder/{id}"), Some(&json!({"projectId": "x"}))).await;
    assert_eq!(patch.status, 404);
    let delete_hub = app.call_as(&other, "DELETE", &format!("{ORDERS}/hub/{hub}"), None).await;
    assert_eq!(delete_hub.status, 404);
    let cancel = json!({"productOrder": {"productOrderId": id}, "relatedContactInformation": [contact("cancelProductOrderContact")]});
    let cancel = app.call_as(&other, "POST", &format!("{ORDERS}/cancelProductOrder"), Some(&cancel)).await;
    assert_eq!((cancel.status, cancel.body[0]["code"].as_str()), (422, Some("referenceNotFound")));
    let delete = json!({"relatedContactInformation": [contact("productOrderContact")], "productOrderItem": [{
        "id": "1", "action": "delete", "requestedCompletionDate": days_from_now(10), "product": {"id": product},
        "relatedContactInformation": [contact("buyerProductOrderItemContact"), contact("buyerImplementationContact"), contact("buyerTechnicalContact")]
    }]});
    let refused = app.call_as(&other, "POST", &format!("{ORDERS}/productOrder"), Some(&delete)).await;
    assert_eq!(
        (refused.status, refused.body[0]["propertyPath"].as_str()),
        (422, Some("/productOrderItem/0/product/id"))
    );
    for list in [format!("{ORDERS}/productOrder"), "/mefApi/sonata/productInventory/v7/product".to_owned()] {
        let answer = app.call_as(&other, "GET", &list, None).await;
        assert_eq!(answer.body, json!([]), "{list}");
    }
    let cantata =
        app.call("GET", &format!("/mefApi/cantata/productOrderingManagement/v5/productOrder/{id}"), None).await;
    assert_eq!(cantata.status, 404, "Sonata orders are not Cantata orders");
    assert!(created.headers.contains_key("x-request-id"), "responses carry a request id");
    app.seller.stop().await;
}

#[tokio::test]
async fn specifications_imported_from_the_mef_tree_become_orderable() {
    let dir = tempfile::tempdir().unwrap();
    let tree = shared_mef().join("Sonata/productSchema");
    let report =
        lso_cli(&["catalog", "import", tree.to_str().unwrap(), "--data-dir", dir.path().to_str().unwrap()]).await;
    assert!(report.contains("20 specifications compiled, 0 failed"), "{report}");
    let app = spawn_app_in(dir, |_| {}).await;
    let ep_tree = json!({"@type": "urn:mef:lso:spec:cantata-sonata:eptree-evc:v1.0.0:all"});
    let created = app.call("POST", &format!("{ORDERS}/productOrder"), Some(&order_of(&ep_tree, None))).await;
    assert_eq!(created.status, 201, "an imported specification is orderable: {:#}", created.body);
    let mut invalid = ep_tree.clone();
    invalid["maximumFrameSize"] = json!("big");
    let refused = app.call("POST", &format!("{ORDERS}/productOrder"), Some(&order_of(&invalid, None))).await;
    assert_eq!(refused.status, 422, "and its official schema applies");
    assert!(
        refused.body[0]["propertyPath"]
            .as_str()
            .unwrap()
            .starts_with("/productOrderItem/0/product/productConfiguration")
    );
    app.seller.stop().await;
}

#[tokio::test]
async fn lists_page_with_offset_and_limit_and_say_how_many_there_are() {
    let app = spawn_app().await;
    app.place_orders(ORDERS, 12).await;
    let page = app.call("GET", &format!("{ORDERS}/productOrder?offset=5&limit=5"), None).await;
    assert_eq!(page.body.as_array().unwrap().len(), 5);
    assert_eq!(
        (page.headers["x-result-count"].to_str().unwrap(), page.headers["x-total-count"].to_str().unwrap()),
        ("5", "12")
    );
    let tail = app.call("GET", &format!("{ORDERS}/productOrder?offset=10&limit=5"), None).await;
    assert_eq!(tail.headers["x-result-count"], "2");
    let beyond = app.call("GET", &format!("{ORDERS}/productOrder?offset=50"), None).await;
    assert_eq!(beyond.body, json!([]), "MEF 123 R60: no match is an empty list");
    let newest_first: Vec<String> = app
        .call("GET", &format!("{ORDERS}/productOrder?limit=12"), None)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = newest_first.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(newest_first, sorted, "time-ordered ids come newest first");
    app.seller.stop().await;
}

#[tokio::test]
async fn a_stop_waits_for_the_requests_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let body = serde_json::to_vec(&order_of(&example(EVPL), None)).unwrap();
    let mut socket = tokio::net::TcpStream::connect(app.seller.addr).await.unwrap();
    let head = format!(
        "POST {ORDERS}/productOrder HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.token,
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body[..body.len() / 2]).await.unwrap();
    // Ask for a stop while the request is half sent; the server must wait for it.
    let stopping = tokio::spawn(async move { app.stop().await });
    tokio::task::yield_now().await;
    socket.write_all(&body[body.len() / 2..]).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let dir = stopping.await.unwrap();
    // And the order it accepted is there after a restart.
    let app = spawn_app_in(dir, |_| {}).await;
    let orders = app.call("GET", &format!("{ORDERS}/productOrder"), None).await;
    assert_eq!(orders.body.as_array().unwrap().len(), 1);
    app.seller.stop().await;
}

#[tokio::test]
async fn operators_see_the_network_infrastructure_control_knows() {
    let app = spawn_app().await;
    let network = app.call_as(&app.admin, "GET", "/lso/admin/v1/topology", None).await;
    assert_eq!(network.status, 200);
    assert_eq!(network.body["elements"].as_array().unwrap().len(), 4, "the demo network by default");
    assert_eq!(network.body["links"][0]["reservedMbps"], 0);
    let enni = network.body["interfaces"].as_array().unwrap().iter().find(|i| i["kind"] == "enni").unwrap().clone();
    assert_eq!(enni["name"], "enni-partner-1");
    assert_eq!(app.call("GET", "/lso/admin/v1/topology", None).await.status, 403, "not for Buyers");
    let shown = app.cli(&["topology"]).await;
    assert!(shown.contains("pe1:to-pe2 – pe2:to-pe1") && shown.contains("0 services reserved"), "{shown}");

    let endpoint = |interface: &str, vlans: Vec<u16>| lso_presto::ServiceEndpoint {
        interface: interface.into(),
        vlans,
        routed: None,
        leaf: false,
    };
    let request = lso_presto::ConnectivityRequest {
        uuid: "evpl-1".into(),
        endpoints: vec![endpoint("uni-new-york-1", vec![100, 200]), endpoint("uni-washington-1", vec![])],
        cir_mbps: 30,
    };
    app.seller.icm.create_connectivity(&request).await.unwrap();
    let network = app.call_as(&app.admin, "GET", "/lso/admin/v1/topology", None).await.body;
    let at = |name: &str| network["interfaces"].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap().clone();
    assert_eq!(at("uni-new-york-1")["vlans"], serde_json::json!([{"service": "evpl-1", "vlans": [100, 200]}]));
    assert_eq!(at("uni-washington-1")["reservedMbps"], 30);
    assert_eq!(network["elements"][0]["driver"], "simulated");
    let shown = app.cli(&["topology"]).await;
    assert!(
        shown.contains("100,200") && shown.contains("all (one service)") && shown.contains("1 services reserved"),
        "{shown}"
    );
    app.seller.stop().await;
}
