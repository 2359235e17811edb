//! Legato on the wire: the MEF 99 guide's example service orders are accepted and realised,
//! and every response and notification is valid against the official Legato API files.

use crate::support::*;
use serde_json::{Value, json};

const ORDERING: &str = "/mefApi/legato/serviceOrderingManagement/v5";
const INVENTORY: &str = "/mefApi/legato/serviceInventory/v5";

/// The JSON examples of the MEF 99 developer guide, with the guide's `<< … >>` remarks taken out.
fn guide_examples() -> Vec<Value> {
    let guide = shared_mef().join(
        "Legato/documentation/serviceApi/order/MEF 99 - LSO Service Ordering Management API - Developer Guide.md",
    );
    let text = std::fs::read_to_string(guide).unwrap();
    text.split("```json\n")
        .skip(1)
        .filter_map(|block| {
            let block = block.split("```").next()?;
            let mut clean = String::new();
            let mut rest = block;
            while let Some(start) = rest.find("<<") {
                clean.push_str(&rest[..start]);
                rest = rest[start..].find(">>").map_or("", |end| &rest[start + end + 2..]);
            }
            clean.push_str(rest);
            serde_json::from_str(&clean).ok()
        })
        .collect()
}

fn request_with_action(action: &str) -> Value {
    guide_examples()
        .into_iter()
        .find(|e| e.get("id").is_none() && e["serviceOrderItem"][0]["action"] == action)
        .unwrap_or_else(|| panic!("no `{action}` request in the guide"))
}

impl App {
    /// Reads service order `id` after every commit of the SOF until it has ended.
    async fn wait_for_service_order(&self, id: &str) -> Value {
        let ended =
            |order: &Value| matches!(order["state"].as_str(), Some("completed" | "failed" | "partial" | "rejected"));
        self.wait_until_as(&self.admin, &format!("{ORDERING}/serviceOrder/{id}"), ended).await
    }
}

#[tokio::test]
async fn the_mef_99_examples_are_realised_and_every_response_and_event_meets_the_contract() {
    let app = spawn_app().await;
    let ordering = Contract::load("Legato/serviceApi/order/serviceOrderingManagement.api.yaml");
    let inventory = Contract::load("Legato/serviceApi/inventory/serviceInventoryManagement.api.yaml");
    let events = Contract::load("Legato/serviceApi/order/serviceOrderingNotification.api.yaml");
    let inventory_events = Contract::load("Legato/serviceApi/inventory/serviceInventoryNotification.api.yaml");
    let receiver = Receiver::default();
    let listener = receiver.start().await;
    let subscription = json!({"callback": format!("http://{listener}")});
    let hub = app.call_as(&app.admin, "POST", &format!("{ORDERING}/hub"), Some(&subscription)).await;
    assert_eq!(hub.status, 201, "{:#}", hub.body);
    Contract::assert_valid(&ordering.response("/hub", "post", 201), &hub.body, "the hub");
    let hub = app.call_as(&app.admin, "POST", &format!("{INVENTORY}/hub"), Some(&subscription)).await;
    assert_eq!(hub.status, 201, "{:#}", hub.body);
    Contract::assert_valid(&inventory.response("/hub", "post", 201), &hub.body, "the inventory hub");

    let request = request_with_action("add");
    let created = app.call_as(&app.admin, "POST", &format!("{ORDERING}/serviceOrder"), Some(&request)).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    Contract::assert_valid(&ordering.response("/serviceOrder", "post", 201), &created.body, "the create response");
    assert_eq!(created.body["state"], "acknowledged");
    for key in ["externalId", "note", "relatedContactInformation", "requestedStartDate", "description"] {
        assert_eq!(created.body[key], request[key], "`{key}` is echoed (MEF 99 R12)");
    }
    let items = created.body["serviceOrderItem"].as_array().unwrap();
    assert!(items.iter().all(|i| i["service"]["id"].is_string()), "every added service has its id (R33)");
    assert_eq!(
        items[1]["serviceOrderItemRelationship"],
        request["serviceOrderItem"][1]["serviceOrderItemRelationship"]
    );

    let id = created.body["id"].as_str().unwrap();
    let done = app.wait_for_service_order(id).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    let read = app.call_as(&app.admin, "GET", &format!("{ORDERING}/serviceOrder/{id}"), None).await;
    Contract::assert_valid(&ordering.response("/serviceOrder/{id}", "get", 200), &read.body, "a service order");
    let listed = app
        .call_as(&app.admin, "GET", &format!("{ORDERING}/serviceOrder?state=completed&externalId=busOrder-101"), None)
        .await;
    Contract::assert_valid(&ordering.response("/serviceOrder", "get", 200), &listed.body, "the service order list");
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.headers["x-total-count"], "1");

    let ipvc = done["serviceOrderItem"][0]["service"]["id"].as_str().unwrap().to_owned();
    let endpoint = done["serviceOrderItem"][1]["service"]["id"].as_str().unwrap().to_owned();
    for (id, state) in [(&ipvc, "feasibilityChecked"), (&endpoint, "active")] {
        let service = app.call_as(&app.admin, "GET", &format!("{INVENTORY}/service/{id}"), None).await;
        assert_eq!(service.status, 200, "{:#}", service.body);
        Contract::assert_valid(&inventory.response("/service/{id}", "get", 200), &service.body, "a service");
        assert_eq!(service.body["state"], state, "the state the item asked for (active when it asks none)");
    }
    let by_order = app.call_as(&app.admin, "GET", &format!("{INVENTORY}/service?serviceOrder.id={id}"), None).await;
    Contract::assert_valid(&inventory.response("/service", "get", 200), &by_order.body, "the service list");
    assert_eq!(by_order.body.as_array().unwrap().len(), 2);

    // The guide's modify and delete examples name their own service ids: each is pointed at
    // one just made. The delete takes the IP service away: terminated, and out of the
    // inventory's running services for good.
    for (action, service) in [("modify", &endpoint), ("delete", &ipvc)] {
        let mut request = request_with_action(action);
        request["serviceOrderItem"][0]["service"]["id"] = json!(service);
        let accepted = app.call_as(&app.admin, "POST", &format!("{ORDERING}/serviceOrder"), Some(&request)).await;
        assert_eq!(accepted.status, 201, "{action}: {:#}", accepted.body);
        let done = app.wait_for_service_order(accepted.body["id"].as_str().unwrap()).await;
        assert_eq!(done["state"], "completed", "{action}: {done:#}");
    }
    let gone = app.call_as(&app.admin, "GET", &format!("{INVENTORY}/service/{ipvc}"), None).await.body;
    assert_eq!(gone["state"], "terminated");

    // An order asked to start tomorrow waits, acknowledged; one whose item depends on its item
    // is pending, and the BUS is told what it waits for.
    let mut later = request_with_action("add");
    later["requestedStartDate"] = json!(days_from_now(1));
    later["externalId"] = json!("busOrder-later");
    let later = app.call_as(&app.admin, "POST", &format!("{ORDERING}/serviceOrder"), Some(&later)).await.body;
    let later_id = later["id"].as_str().unwrap();
    let mut after = request_with_action("add");
    after["externalId"] = json!("busOrder-after");
    after["serviceOrderItem"][0]["serviceOrderItemRelationship"] = json!([{"orderItem": {"itemId": later["serviceOrderItem"][1]["id"], "serviceOrderId": later_id}, "relationshipType": "reliesOn"}]);
    let after = app.call_as(&app.admin, "POST", &format!("{ORDERING}/serviceOrder"), Some(&after)).await;
    assert_eq!(after.status, 201, "{:#}", after.body);
    let after_path = format!("{ORDERING}/serviceOrder/{}", after.body["id"].as_str().unwrap());
    let pending = app.wait_until_as(&app.admin, &after_path, |o| o["state"] == "pending").await;
    Contract::assert_valid(&ordering.response("/serviceOrder/{id}", "get", 200), &pending, "a pending order");
    assert!(pending["serviceOrderItem"][0]["note"][0]["text"].as_str().unwrap().contains(later_id), "{pending:#}");
    let waiting = app.call_as(&app.admin, "GET", &format!("{ORDERING}/serviceOrder/{later_id}"), None).await.body;
    assert_eq!(waiting["state"], "acknowledged");

    // Notifications reach the listener at the Legato listener paths and meet their contract.
    app.wait_for_deliveries_to(&receiver).await;
    let received = receiver.events.lock().unwrap().clone();
    for (path, event) in &received {
        let name = path.rsplit('/').next().unwrap();
        let contract = if path.contains("serviceInventoryNotification") { &inventory_events } else { &events };
        let api = if path.contains("serviceInventoryNotification") {
            "serviceInventoryNotification"
        } else {
            "serviceOrderingNotification"
        };
        assert_eq!(format!("/{path}"), format!("/mefApi/legato/{api}/v5/listener/{name}"));
        Contract::assert_valid(&contract.request_body(&format!("/listener/{name}"), "post"), event, name);
    }
    let names: Vec<&str> = received.iter().map(|(p, _)| p.rsplit('/').next().unwrap()).collect();
    for expected in [
        "serviceOrderCreateEvent",
        "serviceOrderItemStateChangeEvent",
        "serviceOrderInformationRequiredEvent",
        "serviceCreateEvent",
        "serviceAttributeValueChangeEvent",
        "serviceStateChangeEvent",
        "serviceDeleteEvent",
    ] {
        assert!(names.contains(&expected), "no {expected} among {names:?}");
    }
}

#[tokio::test]
async fn legato_refuses_buyers_unknown_resources_and_bad_orders_with_mef_errors() {
    let app = spawn_app().await;
    let ordering = Contract::load("Legato/serviceApi/order/serviceOrderingManagement.api.yaml");
    let as_buyer = app.call("GET", &format!("{ORDERING}/serviceOrder"), None).await;
    assert_eq!(as_buyer.status, 403);
    Contract::assert_valid(&ordering.response("/serviceOrder", "get", 403), &as_buyer.body, "403");
    let missing = app.call_as(&app.admin, "GET", &format!("{ORDERING}/serviceOrder/nope"), None).await;
    assert_eq!(missing.status, 404);
    Contract::assert_valid(&ordering.response("/serviceOrder/{id}", "get", 404), &missing.body, "404");
    let bad = json!({"requestedStartDate": "2026-01-01T00:00:00Z", "serviceOrderItem": [{"id": "1", "action": "delete", "service": {"id": "nope"}}]});
    let refused = app.call_as(&app.admin, "POST", &format!("{ORDERING}/serviceOrder"), Some(&bad)).await;
    assert_eq!(refused.status, 422, "{:#}", refused.body);
    Contract::assert_valid(&ordering.response("/serviceOrder", "post", 422), &refused.body, "422");
    let paths = property_paths(&refused.body);
    assert_eq!(paths, ["/requestedCompletionDate", "/serviceOrderItem/0/service/id"]);
    let filter = app.call_as(&app.admin, "GET", &format!("{INVENTORY}/service?state=sleeping"), None).await;
    assert_eq!(filter.status, 400);
    let syntax = app
        .client
        .post(app.url(&format!("{ORDERING}/serviceOrder")))
        .bearer_auth(&app.admin)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(syntax.status(), 400);
}

#[tokio::test]
async fn the_service_catalog_lists_what_the_sof_realises_with_the_schema_of_each_configuration() {
    let app = spawn_app().await;
    let catalog = Contract::load("Legato/serviceApi/catalog/serviceCatalogApi.openapi.yaml");
    const CATALOG: &str = "/mefApi/legato/serviceCatalog/v4";
    let listed = app.call_as(&app.admin, "GET", &format!("{CATALOG}/serviceSpecification"), None).await;
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    Contract::assert_valid(&catalog.response("/serviceSpecification", "get", 200), &listed.body, "the catalog");
    assert_eq!(listed.body.as_array().unwrap().len(), 7);
    let ethernet = app
        .call_as(
            &app.admin,
            "GET",
            &format!("{CATALOG}/serviceSpecification?category=carrierEthernet&lifecycleStatus=ACTIVE&fields=name"),
            None,
        )
        .await;
    assert_eq!(ethernet.body.as_array().unwrap().len(), 5);
    let first = json!({"@type": "ServiceSpecification", "id": "carrier-ethernet-subscriber-uni", "name": "Carrier Ethernet Subscriber UNI"});
    assert_eq!(ethernet.body[0], first);
    let evc =
        app.call_as(&app.admin, "GET", &format!("{CATALOG}/serviceSpecification/carrier-ethernet-evc"), None).await;
    Contract::assert_valid(&catalog.response("/serviceSpecification/{id}", "get", 200), &evc.body, "a specification");
    assert_eq!(evc.body["targetServiceSchema"]["@type"], lso_sof::services::EVC);

    // The schema a specification names accepts what the SOF accepts and refuses what it refuses.
    let schema = app
        .call_as(&app.admin, "GET", &format!("{CATALOG}/serviceSpecification/carrier-ethernet-evc/schema"), None)
        .await
        .body;
    let validator = jsonschema::validator_for(&schema).unwrap();
    let good = json!({"@type": lso_sof::services::EVC, "endPoints": [{"interface": "uni-new-york-1", "vlans": [5]}, {"interface": "uni-boston-1", "vlans": [5]}], "cirMbps": 10});
    assert!(validator.is_valid(&good));
    assert!(!validator.is_valid(&json!({"@type": lso_sof::services::EVC, "endPoints": [{"vlans": [5000]}]})));
    let order = json!({"requestedStartDate": days_from_now(0), "requestedCompletionDate": days_from_now(1),
        "serviceOrderItem": [{"id": "1", "action": "add", "service": {"serviceConfiguration": good}}]});
    let accepted =
        app.call_as(&app.admin, "POST", "/mefApi/legato/serviceOrderingManagement/v5/serviceOrder", Some(&order)).await;
    assert_eq!(accepted.status, 201, "{:#}", accepted.body);

    assert_eq!(app.call_as(&app.admin, "GET", &format!("{CATALOG}/serviceSpecification/nope"), None).await.status, 404);
    assert_eq!(
        app.call_as(&app.admin, "GET", &format!("{CATALOG}/serviceSpecification?lifecycleStatus=GONE"), None)
            .await
            .status,
        400
    );
    let input =
        json!({"callback": "http://buyer.example/cb", "query": "eventType=serviceSpecificationChangeNotification"});
    let hub = app.call_as(&app.admin, "POST", &format!("{CATALOG}/hub"), Some(&input)).await;
    assert_eq!(hub.status, 201, "{:#}", hub.body);
    Contract::assert_valid(&catalog.response("/hub", "post", 201), &hub.body, "the hub");
}

#[tokio::test]
async fn a_bus_sends_its_service_orders_to_a_sof_in_another_lso_over_legato() {
    let sof_side = spawn_app().await;
    let (url, token) = (format!("http://{}", sof_side.seller.addr), sof_side.admin.clone());
    let bus_side = spawn_app_with(|c| {
        c.fulfilment.by = lso_server::config::FulfilmentMode::Network;
        c.fulfilment.legato_url = url;
        c.fulfilment.legato_token = lso_server::config::Secret(token);
    })
    .await;
    const CANTATA: &str = "/mefApi/cantata/productOrderingManagement/v5";
    let order = crate::network::evpl_order(&["site-new-york", "site-boston"], 100, 20);
    let done = bus_side.order_completed(CANTATA, &order).await;

    let evpl = done["productOrderItem"][2]["product"]["id"].as_str().unwrap();
    let services =
        sof_side.call_as(&sof_side.admin, "GET", &format!("{INVENTORY}/service?externalId={evpl}"), None).await;
    assert_eq!(services.body.as_array().unwrap().len(), 1, "the other lso's SOF realised it");
    assert_eq!(services.body[0]["state"], "active");
    assert_eq!(sof_side.seller.icm.read(|n| n.reservations().len()).await, 1, "on the other lso's network");
    assert!(bus_side.seller.icm.read(lso_icm::Network::is_empty).await, "and not on this one's");
}

#[tokio::test]
async fn operators_move_a_service_specification_along_its_lifecycle_and_every_bus_with_a_catalog_hub_hears_of_it() {
    let app = spawn_app().await;
    let catalog = Contract::load("Legato/serviceApi/catalog/serviceCatalogApi.openapi.yaml");
    let events = Contract::load("Legato/serviceApi/catalog/serviceCatalogNotificationApi.openapi.yaml");
    const CATALOG: &str = "/mefApi/legato/serviceCatalog/v4";
    let receiver = Receiver::default();
    let listener = receiver.start().await;
    let hub = json!({"callback": format!("http://{listener}"), "query": ""});
    assert_eq!(app.call_as(&app.admin, "POST", &format!("{CATALOG}/hub"), Some(&hub)).await.status, 201);
    let evc = format!("{CATALOG}/serviceSpecification/carrier-ethernet-evc");
    let operate = "/lso/admin/v1/legato/serviceSpecification/carrier-ethernet-evc";
    let order = json!({"requestedStartDate": days_from_now(0), "requestedCompletionDate": days_from_now(1),
        "serviceOrderItem": [{"id": "1", "action": "add", "service": {"serviceConfiguration": {"@type": lso_sof::services::EVC,
            "endPoints": [{"interface": "uni-new-york-1", "vlans": [5]}, {"interface": "uni-boston-1", "vlans": [5]}], "cirMbps": 10}}}]});
    let place = async || app.call_as(&app.admin, "POST", &format!("{ORDERING}/serviceOrder"), Some(&order)).await;

    let refused = app.call("PUT", operate, Some(&json!({"lifecycleStatus": "RETIRED"}))).await;
    assert_eq!(refused.status, 403, "a Buyer's token does not change the catalog");
    let retired = app.call_as(&app.admin, "PUT", operate, Some(&json!({"lifecycleStatus": "RETIRED"}))).await;
    assert_eq!(
        (retired.status, retired.body["lifecycleStatus"].clone()),
        (200, json!("RETIRED")),
        "{:#}",
        retired.body
    );
    let read = app.call_as(&app.admin, "GET", &evc, None).await.body;
    Contract::assert_valid(&catalog.response("/serviceSpecification/{id}", "get", 200), &read, "a retired one");
    assert_eq!(read["lifecycleStatus"], "RETIRED");
    let no_new = place().await;
    assert_eq!(no_new.status, 422, "a retired specification takes no new services: {:#}", no_new.body);
    assert_eq!(property_paths(&no_new.body), ["/serviceOrderItem/0/service/serviceConfiguration/@type"]);
    let unknown = app.call_as(&app.admin, "PUT", operate, Some(&json!({"lifecycleStatus": "GONE"}))).await;
    assert_eq!((unknown.status, property_paths(&unknown.body)), (422, vec!["/lifecycleStatus"]));

    assert_eq!(app.call_as(&app.admin, "DELETE", operate, None).await.status, 204);
    assert_eq!(app.call_as(&app.admin, "GET", &evc, None).await.status, 404, "withdrawn");
    let listed = app.call_as(&app.admin, "GET", &format!("{CATALOG}/serviceSpecification"), None).await.body;
    assert_eq!(listed.as_array().unwrap().len(), 6);
    assert_eq!(app.call_as(&app.admin, "DELETE", operate, None).await.status, 404, "withdrawn already");

    let again = app.call_as(&app.admin, "PUT", operate, Some(&json!({"lifecycleStatus": "ACTIVE"}))).await;
    assert_eq!(again.status, 200, "{:#}", again.body);
    assert_eq!(place().await.status, 201, "published again, it takes new services");

    app.wait_for_deliveries_to(&receiver).await;
    let received = receiver.checked("/serviceCatalog/v4", |_| &events);
    let kinds: Vec<&str> = received.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "serviceSpecificationChangeNotification",
            "serviceSpecificationDeleteNotification",
            "serviceSpecificationCreateNotification"
        ]
    );
    let statuses: Vec<&Value> =
        received.iter().map(|(_, e)| &e["event"]["serviceSpecification"]["lifecycleStatus"]).collect();
    assert_eq!(statuses, [&json!("RETIRED"), &json!("RETIRED"), &json!("ACTIVE")]);
}
