//! Conformance: the MEF example requests are accepted, and every response and notification
//! `lso` sends is valid against the official API files (loaded from `../shared/mef`).

use crate::support::*;
use lso_model::{Clock, SystemClock};
use serde_json::{Value, json};

const ORDERING: &str = "productApi/order/productOrderManagement.api.yaml";
const NOTIFICATION: &str = "productApi/order/productOrderNotification.api.yaml";
const INVENTORY: &str = "productApi/inventory/productInventoryManagement.api.yaml";

fn contract(irp: &str, file: &str) -> Contract {
    Contract::load(&format!("{irp}/{file}"))
}

fn base(irp: &str) -> String {
    lso_mef_product::ordering_base(irp.to_lowercase().parse().unwrap())
}

fn inventory_base(irp: &str) -> String {
    lso_mef_product::inventory_base(irp.to_lowercase().parse().unwrap())
}

/// The JSON examples of the MEF 123 developer guide that are whole JSON documents.
fn guide_examples(irp: &str) -> Vec<Value> {
    let guide = shared_mef().join(irp).join(
        "documentation/productApi/order/MEF 123 - LSO Cantata and LSO Sonata Product Order Management API - Developer Guide.md",
    );
    let text = std::fs::read_to_string(guide).unwrap();
    text.split("```json\n").skip(1).filter_map(|block| serde_json::from_str(block.split("```").next()?).ok()).collect()
}

fn guide_example(irp: &str, keys: &[&str], without: &str) -> Value {
    guide_examples(irp)
        .into_iter()
        .find(|e| keys.iter().all(|k| e.get(k).is_some()) && e.get(without).is_none())
        .unwrap_or_else(|| panic!("no example with {keys:?}"))
}

/// The MEF 125 "Use Case 5 Product Order - new EPL" request, with its 2021 dates moved into the
/// future (a Seller refuses requested completion dates in the past).
fn use_case_5(irp: &str) -> Value {
    let file = shared_mef().join(irp).join(
        "documentation/productSchema/carrierEthernet/subscriberEthernet/MEF 125.0.1 resources/requests/Use Case 5 Product Order - new EPL.json",
    );
    let mut order: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    for item in order["productOrderItem"].as_array_mut().unwrap() {
        item["requestedCompletionDate"] = json!(days_from_now(60));
    }
    order
}

#[tokio::test]
async fn the_mef_125_order_example_completes_and_every_response_and_event_meets_the_contract() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app().await;
        let ordering = contract(irp, ORDERING);
        let events = contract(irp, NOTIFICATION);
        let inventory = contract(irp, INVENTORY);
        let (receiver, hub) = app.listening_at(&base(irp)).await;
        Contract::assert_valid(&ordering.response("/hub", "post", 201), &hub, "registerListener 201");

        let request = use_case_5(irp);
        let created = app.call("POST", &format!("{}/productOrder", base(irp)), Some(&request)).await;
        assert_eq!(created.status, 201, "{irp}: {:#}", created.body);
        Contract::assert_valid(
            &ordering.response("/productOrder", "post", 201),
            &created.body,
            "createProductOrder 201",
        );
        assert_eq!(
            created.body["productOrderItem"][0]["product"]["productConfiguration"],
            request["productOrderItem"][0]["product"]["productConfiguration"]
        );
        let id = created.body["id"].as_str().unwrap().to_owned();

        let done = app.wait_until_final(&base(irp), &id).await;
        assert_eq!(done["state"], "completed", "{done:#}");
        Contract::assert_valid(&ordering.response("/productOrder/{id}", "get", 200), &done, "retrieveProductOrder 200");
        let list = app.call("GET", &format!("{}/productOrder?state=completed", base(irp)), None).await;
        Contract::assert_valid(&ordering.response("/productOrder", "get", 200), &list.body, "listProductOrder 200");
        assert_eq!(list.headers["x-total-count"], "1");

        let products = app.call("GET", &format!("{}/product?productOrderId={id}", inventory_base(irp)), None).await;
        Contract::assert_valid(&inventory.response("/product", "get", 200), &products.body, "listProduct 200");
        assert_eq!(products.body.as_array().unwrap().len(), 3);
        let product_id = products.body[0]["id"].as_str().unwrap();
        let product = app.call("GET", &format!("{}/product/{product_id}", inventory_base(irp)), None).await;
        Contract::assert_valid(&inventory.response("/product/{id}", "get", 200), &product.body, "retrieveProduct 200");
        assert_eq!(product.body["status"], "active");

        app.wait_for_deliveries_to(&receiver).await;
        let received = receiver.by_resource().remove(&id).unwrap();
        for (path, event) in &received {
            let event_type = event["eventType"].as_str().unwrap();
            assert!(path.ends_with(&format!("/listener/{event_type}")), "{path}");
            let schema = events.request_body(&format!("/listener/{event_type}"), "post");
            Contract::assert_valid(&schema, event, event_type);
        }
        let types: Vec<&str> = received.iter().map(|(_, e)| e["eventType"].as_str().unwrap()).collect();
        for expected in [
            "productOrderItemStateChangeEvent",
            "productOrderItemExpectedCompletionDateSet",
            "productSpecificProductOrderItemMilestoneEvent",
            "productOrderStateChangeEvent",
        ] {
            assert!(types.contains(&expected), "{expected} in {types:?}");
        }
        assert_eq!(
            types.iter().filter(|t| **t == "productOrderStateChangeEvent").count(),
            2,
            "inProgress and completed, none for acknowledged"
        );
        app.seller.stop().await;
    }
}

#[tokio::test]
async fn the_mef_123_guide_requests_are_accepted_and_answered_by_the_contract() {
    for irp in ["Sonata", "Cantata"] {
        guide_requests_at(irp).await;
    }
}

/// Orders in progress, a modified delivery date, a cancellation and a charge answered at
/// `irp`, with the events each sends.
async fn guide_requests_at(irp: &str) {
    let app = spawn_app_with(|c| c.fulfilment.time_scale = 3600.0).await;
    let ordering = contract(irp, ORDERING);
    let (receiver, _) = app.listening_at(&base(irp)).await;
    let order = |n: &str| {
        let mut o = order_of(&example(EVPL), None);
        o["externalId"] = json!(n);
        o
    };
    let first = app.call("POST", &format!("{}/productOrder", base(irp)), Some(&order("a"))).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = app.call("POST", &format!("{}/productOrder", base(irp)), Some(&order("b"))).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for id in [&first, &second] {
        for _ in 0..200 {
            let state = app.call("GET", &format!("{}/productOrder/{id}", base(irp)), None).await.body["state"].clone();
            if state == "inProgress" {
                break;
            }
            let wake = app.seller.bus.wake();
            let _ = tokio::time::timeout(std::time::Duration::from_millis(200), wake.notified()).await;
        }
    }

    let mut modify = guide_example(irp, &["expediteIndicator", "requestedCompletionDate", "productOrderItem"], "id");
    modify["productOrderItem"] = json!({"productOrderId": first, "productOrderItemId": "1"});
    modify["requestedCompletionDate"] = json!(days_from_now(90));
    let created =
        app.call("POST", &format!("{}/modifyProductOrderItemRequestedDeliveryDate", base(irp)), Some(&modify)).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    Contract::assert_valid(
        &ordering.response("/modifyProductOrderItemRequestedDeliveryDate", "post", 201),
        &created.body,
        "modify 201",
    );

    let mut cancel = guide_example(irp, &["cancellationReasonType", "productOrder", "relatedContactInformation"], "id");
    cancel["productOrder"]["id"] = json!(first);
    let created = app.call("POST", &format!("{}/cancelProductOrder", base(irp)), Some(&cancel)).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    Contract::assert_valid(&ordering.response("/cancelProductOrder", "post", 201), &created.body, "cancel 201");
    assert_eq!(created.body["note"], cancel["note"], "MEF 123 R16");

    let raise = json!({"productOrderId": second, "productOrderItemId": "1", "amount": {"unit": "USD", "value": 50}});
    let raised = format!("/lso/admin/v1/{}/charge?buyerId=ACME", irp.to_lowercase());
    let charge = app.call_as(&app.admin, "POST", &raised, Some(&raise)).await;
    assert_eq!(charge.status, 201, "{:#}", charge.body);
    let charge_id = charge.body["id"].as_str().unwrap();
    let retrieved = app.call("GET", &format!("{}/charge/{charge_id}", base(irp)), None).await;
    Contract::assert_valid(&ordering.response("/charge/{id}", "get", 200), &retrieved.body, "retrieveCharge 200");
    let mut answer = guide_example(irp, &["chargeItem"], "id");
    answer["chargeItem"][0]["id"] = json!("1");
    let patched = app.call("PATCH", &format!("{}/charge/{charge_id}", base(irp)), Some(&answer)).await;
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    Contract::assert_valid(&ordering.response("/charge/{id}", "patch", 200), &patched.body, "patchCharge 200");

    for listing in ["/cancelProductOrder", "/modifyProductOrderItemRequestedDeliveryDate", "/charge"] {
        let list = app.call("GET", &format!("{}{listing}", base(irp)), None).await;
        assert_eq!(list.status, 200);
        assert_eq!(list.body.as_array().unwrap().len(), 1, "{listing}");
        Contract::assert_valid(&ordering.response(listing, "get", 200), &list.body, listing);
    }

    for keys in [&["callback", "query"][..], &["callback"][..]] {
        let hub = guide_examples(irp)
            .into_iter()
            .find(|e| e.as_object().is_some_and(|m| m.len() == keys.len() && keys.iter().all(|k| m.contains_key(*k))))
            .unwrap();
        let created = app.call("POST", &format!("{}/hub", base(irp)), Some(&hub)).await;
        assert_eq!(created.status, 201, "{:#}", created.body);
        Contract::assert_valid(&ordering.response("/hub", "post", 201), &created.body, "registerListener 201");
        let id = created.body["id"].as_str().unwrap();
        let read = app.call("GET", &format!("{}/hub/{id}", base(irp)), None).await;
        Contract::assert_valid(&ordering.response("/hub/{id}", "get", 200), &read.body, "retrieveHub 200");
    }

    let patch = app
        .call("PATCH", &format!("{}/productOrder/{second}", base(irp)), Some(&json!({"projectId": "renamed"})))
        .await;
    assert_eq!(patch.status, 200);
    Contract::assert_valid(
        &ordering.response("/productOrder/{id}", "patch", 200),
        &patch.body,
        "patchProductOrder 200",
    );
    // The requests' state changes are steps of their own: looked for after each arrival.
    let events = contract(irp, NOTIFICATION);
    let expected = [
        "modifyProductOrderItemRequestedDeliveryDateStateChangeEvent",
        "cancelProductOrderStateChangeEvent",
        "chargeCreateEvent",
        "chargeStateChangeEvent",
    ];
    let kinds = || receiver.checked("", |_| &events).into_iter().map(|(kind, _)| kind).collect::<Vec<_>>();
    let all = lso_jobs::until_committed(&receiver.arrived, std::time::Duration::from_secs(300), async || {
        Some(()).filter(|_| expected.iter().all(|e| kinds().iter().any(|k| k == e)))
    })
    .await;
    assert!(all.is_some(), "{irp}: {expected:?} in {:?}", kinds());
    app.wait_for_deliveries_to(&receiver).await;
    app.seller.stop().await;
}

#[tokio::test]
async fn a_charge_the_buyer_does_not_answer_in_time_times_out_and_the_buyer_hears_of_it() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app_with(|c| {
            c.fulfilment.time_scale = 3600.0;
            c.charges.response_window_seconds = 1;
        })
        .await;
        let (receiver, _) = app.listening_at(&base(irp)).await;
        let order = order_of(&example(EVPL), None);
        let created = app.call("POST", &format!("{}/productOrder", base(irp)), Some(&order)).await;
        let id = created.body["id"].as_str().unwrap().to_owned();
        app.wait_until(&format!("{}/productOrder/{id}", base(irp)), |o| o["state"] == "inProgress").await;
        let raise = json!({"productOrderId": id, "productOrderItemId": "1", "amount": {"unit": "USD", "value": 50}});
        let raised = format!("/lso/admin/v1/{}/charge?buyerId=ACME", irp.to_lowercase());
        let charge = app.call_as(&app.admin, "POST", &raised, Some(&raise)).await;
        assert_eq!(charge.status, 201, "{:#}", charge.body);
        let path = format!("{}/charge/{}", base(irp), charge.body["id"].as_str().unwrap());
        let ended = app.wait_until(&path, |c| c["state"] != "awaitingResponse").await;
        assert_eq!(ended["state"], "timeout", "R96: {ended:#}");
        app.wait_for_deliveries_to(&receiver).await;
        let events = contract(irp, NOTIFICATION);
        let kinds: Vec<String> = receiver.checked("", |_| &events).into_iter().map(|(kind, _)| kind).collect();
        assert!(kinds.iter().any(|k| k == "chargeTimeoutEvent"), "{irp}: {kinds:?}");
        app.seller.stop().await;
    }
}

#[tokio::test]
async fn error_answers_meet_the_contract() {
    let app = spawn_app().await;
    let ordering = contract("Sonata", ORDERING);
    let orders = format!("{}/productOrder", base("Sonata"));
    let unauthenticated = app.client.get(app.url(&orders)).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let body: Value = unauthenticated.json().await.unwrap();
    Contract::assert_valid(&ordering.response("/productOrder", "get", 401), &body, "401");
    let missing = app.call("GET", &format!("{orders}/nope"), None).await;
    assert_eq!(missing.status, 404);
    Contract::assert_valid(&ordering.response("/productOrder/{id}", "get", 404), &missing.body, "404");
    let bad_query = app.call("GET", &format!("{orders}?limit=-1"), None).await;
    assert_eq!(bad_query.status, 400);
    Contract::assert_valid(&ordering.response("/productOrder", "get", 400), &bad_query.body, "400");
    let mut invalid = order_of(&example(EVPL), None);
    invalid["productOrderItem"][0]["product"]["productConfiguration"]["maximumFrameSize"] = json!("big");
    let unprocessable = app.call("POST", &orders, Some(&invalid)).await;
    assert_eq!(unprocessable.status, 422);
    Contract::assert_valid(&ordering.response("/productOrder", "post", 422), &unprocessable.body, "422");
    assert_eq!(
        unprocessable.body[0]["propertyPath"],
        "/productOrderItem/0/product/productConfiguration/maximumFrameSize"
    );
    let other = app.seller.auth.mint(
        &lso_http::Principal::buyer("x", vec!["A".into(), "B".into()]),
        SystemClock.now_seconds(),
        60,
    );
    let forbidden = app.call_as(&other, "GET", &format!("{orders}?buyerId=C"), None).await;
    assert_eq!(forbidden.status, 403);
    Contract::assert_valid(&ordering.response("/productOrder", "get", 403), &forbidden.body, "403");
    app.seller.stop().await;
}

/// A request of the MEF 125 Appendix A Postman collection, by the start of its name, with its
/// 2021 requested completion dates moved into the future.
fn appendix_a(name: &str) -> Value {
    let file = shared_mef().join(
        "Sonata/documentation/productSchema/carrierEthernet/subscriberEthernet/MEF 125.0.1 Appendix A.postman_collection.json",
    );
    let collection: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let request =
        collection["item"].as_array().unwrap().iter().find(|i| i["name"].as_str().unwrap().starts_with(name)).unwrap();
    let mut body: Value = serde_json::from_str(request["request"]["body"]["raw"].as_str().unwrap()).unwrap();
    for item in body["productOrderItem"].as_array_mut().unwrap() {
        item["requestedCompletionDate"] = json!(days_from_now(60));
    }
    body
}

fn violations(answer: &Answer) -> Vec<(String, String)> {
    let entries = answer.body.as_array().cloned().unwrap_or_default();
    let mut found: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e["code"].as_str().unwrap().to_owned(), e["propertyPath"].as_str().unwrap().to_owned()))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The MEF 125 change and decommission examples (Use Cases 9 and 12) leave out attributes that
/// MEF 123 makes mandatory (R42 `requestedItemTerm` on `modify`, R14 item contacts): `lso`
/// names exactly those, and accepts and completes the requests once they are added.
#[tokio::test]
async fn the_mef_125_change_and_decommission_examples_are_held_to_mef_123() {
    let app = spawn_app().await;
    let orders = base("Sonata");
    let created = app.call("POST", &format!("{orders}/productOrder"), Some(&use_case_5("Sonata"))).await;
    let done = app.wait_until_final(&orders, created.body["id"].as_str().unwrap()).await;
    let product = |item: usize| done["productOrderItem"][item]["product"]["id"].as_str().unwrap().to_owned();
    let (epl, new_york, washington) = (product(0), product(1), product(2));

    // An EVPL like the one Use Case 9 changes: same offering, related to the New York UNI.
    let mut change = appendix_a("Use Case 9");
    let item = &change["productOrderItem"][0];
    let mut evpl = order_of(&item["product"]["productConfiguration"], None);
    evpl["productOrderItem"][0]["product"]["productOffering"] = item["product"]["productOffering"].clone();
    evpl["productOrderItem"][0]["product"]["productRelationship"] =
        json!([{"relationshipType": "CONNECTS_TO_UNI_A", "id": new_york}]);
    let evpl = app.call("POST", &format!("{orders}/productOrder"), Some(&evpl)).await;
    assert_eq!(evpl.status, 201, "{:#}", evpl.body);
    let evpl = app.wait_until_final(&orders, evpl.body["id"].as_str().unwrap()).await;
    let evpl_id = evpl["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned();

    change["productOrderItem"][0]["product"]["id"] = json!(evpl_id);
    change["productOrderItem"][0]["product"]["productRelationship"][0]["id"] = json!(new_york);
    let refused = app.call("POST", &format!("{orders}/productOrder"), Some(&change)).await;
    assert_eq!(refused.status, 422);
    assert_eq!(
        violations(&refused),
        [("missingProperty".to_owned(), "/productOrderItem/0/requestedItemTerm".to_owned())]
    );
    change["productOrderItem"][0]["requestedItemTerm"] = evpl["productOrderItem"][0]["requestedItemTerm"].clone();
    let accepted = app.call("POST", &format!("{orders}/productOrder"), Some(&change)).await;
    assert_eq!(accepted.status, 201, "{:#}", accepted.body);
    assert_eq!(app.wait_until_final(&orders, accepted.body["id"].as_str().unwrap()).await["state"], "completed");
    let changed = app.call("GET", &format!("{}/product/{evpl_id}", inventory_base("Sonata")), None).await;
    assert_eq!(changed.body["productConfiguration"], change["productOrderItem"][0]["product"]["productConfiguration"]);

    let mut decommission = appendix_a("Use Case 12");
    for (item, id) in
        decommission["productOrderItem"].as_array_mut().unwrap().iter_mut().zip([&epl, &new_york, &washington])
    {
        item["product"]["id"] = json!(id);
    }
    let refused = app.call("POST", &format!("{orders}/productOrder"), Some(&decommission)).await;
    assert_eq!(refused.status, 422);
    let expected: Vec<(String, String)> = (0..3)
        .map(|i| ("missingProperty".to_owned(), format!("/productOrderItem/{i}/relatedContactInformation")))
        .collect();
    assert_eq!(violations(&refused), expected);
    for item in decommission["productOrderItem"].as_array_mut().unwrap() {
        item["relatedContactInformation"] = json!([
            contact("buyerProductOrderItemContact"),
            contact("buyerImplementationContact"),
            contact("buyerTechnicalContact")
        ]);
    }
    let accepted = app.call("POST", &format!("{orders}/productOrder"), Some(&decommission)).await;
    assert_eq!(accepted.status, 201, "{:#}", accepted.body);
    assert_eq!(app.wait_until_final(&orders, accepted.body["id"].as_str().unwrap()).await["state"], "completed");
    for id in [&epl, &new_york, &washington] {
        let product = app.call("GET", &format!("{}/product/{id}", inventory_base("Sonata")), None).await;
        assert_eq!(product.body["status"], "terminated", "{id}");
    }
    app.seller.stop().await;
}

/// Every MEF 125 pre-order request (address validation, the POQs of Use Cases 2–7, the quote of
/// Use Case 4) is accepted on both reference points and answered by the contract. They name
/// addresses and offerings of an example Seller, so the answers say what this Seller cannot
/// provide, in the shape MEF defines. The address validation example asks for no alternatives,
/// which MEF 121 R12 forbids: it is refused for exactly that, and answered once it asks.
#[tokio::test]
async fn the_mef_125_pre_order_requests_are_answered_by_the_contract() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app().await;
        let point: lso_model::Irp = irp.to_lowercase().parse().unwrap();
        let requests = shared_mef()
            .join(irp)
            .join("documentation/productSchema/carrierEthernet/subscriberEthernet/MEF 125.0.1 resources/requests");
        let mut files: Vec<_> = std::fs::read_dir(requests).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut answered = 0;
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let (base, api, path, status) = if name.contains("Address Validation Request") {
                (
                    lso_mef_product::address_base(point),
                    "serviceability/address/geographicAddressManagement",
                    "/geographicAddressValidation",
                    200,
                )
            } else if name.contains(" POQ ") {
                (
                    lso_mef_product::poq_base(point),
                    "serviceability/offeringQualification/productOfferingQualificationManagement",
                    "/productOfferingQualification",
                    201,
                )
            } else if name.contains(" Quote ") {
                (lso_mef_product::quote_base(point), "quote/quoteManagement", "/quote", 201)
            } else {
                continue; // responses, and the order (its own test above)
            };
            let mut request: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            if path == "/geographicAddressValidation" && request["provideAlternative"] == false {
                let refused = app.call("POST", &format!("{base}{path}"), Some(&request)).await;
                assert_eq!(violations(&refused), [("invalidValue".to_owned(), "/provideAlternative".to_owned())]);
                request["provideAlternative"] = json!(true);
            }
            let answer = app.call("POST", &format!("{base}{path}"), Some(&request)).await;
            assert_eq!(answer.status, status, "{irp} {name}: {:#}", answer.body);
            let contract = Contract::load(&format!("{irp}/productApi/{api}.api.yaml"));
            Contract::assert_valid(&contract.response(path, "post", status), &answer.body, &name);
            answered += 1;
        }
        assert_eq!(answered, 11, "{irp}: one address validation, nine POQs and one quote");
    }
}
