//! Product Catalog over both reference points: the offerings, specifications and categories
//! come from the Seller's catalog, filters select them, and every answer is valid against the
//! official Product Catalog file.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn the_catalog_offers_what_the_seller_sells_and_every_answer_meets_the_contract() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app().await;
        let contract = Contract::load(&format!("{irp}/productApi/catalog/productCatalog.api.yaml"));
        let base = lso_mef_product::catalog_base(irp.to_lowercase().parse().unwrap());
        let get = async |path: &str, template: &str| {
            let answer = app.call("GET", &format!("{base}{path}"), None).await;
            assert_eq!(answer.status, 200, "{path}: {:#}", answer.body);
            Contract::assert_valid(&contract.response(template, "get", 200), &answer.body, path);
            answer.body
        };
        let offerings = get("/productOffering", "/productOffering").await;
        let catalog = lso_spec::Catalog::built_in().unwrap();
        let on = irp.to_lowercase();
        let expected = catalog.specs().iter().filter(|s| s.orderable && s.interfaces.contains(&on)).count();
        assert!(expected >= 7);
        assert_eq!(offerings.as_array().unwrap().len(), expected, "one offering per orderable specification of {irp}");
        let evpl =
            offerings.as_array().unwrap().iter().find(|o| o["productSpecification"]["id"] == EVPL).unwrap().clone();
        let id = evpl["id"].as_str().unwrap();
        assert_eq!(
            get(&format!("/productOffering/{id}"), "/productOffering/{id}").await["category"][0]["id"],
            "carrier-ethernet"
        );

        let ethernet =
            get("/productOffering?category.id=carrier-ethernet&lifecycleStatus=orderable", "/productOffering").await;
        let internet = get("/productOffering?category.id=internet-access", "/productOffering").await;
        assert_eq!(ethernet.as_array().unwrap().len() + internet.as_array().unwrap().len(), expected);
        let either =
            get("/productOffering?category.id=carrier-ethernet&category.id=internet-access", "/productOffering").await;
        assert_eq!(either.as_array().unwrap().len(), expected, "several values are alternatives (W142 R53)");
        let one = get(&format!("/productOffering?productSpecification.id={EVPL}"), "/productOffering").await;
        assert_eq!(one.as_array().unwrap().len(), 1);
        assert_eq!(get("/productOffering?lastUpdate.gt=2099-01-01T00:00:00Z", "/productOffering").await, json!([]));

        let specs = get("/productSpecification", "/productSpecification").await;
        assert!(specs.as_array().unwrap().iter().any(|s| s["id"] == EVPL));
        let spec = get(&format!("/productSpecification/{EVPL}"), "/productSpecification/{id}").await;
        let schema: serde_json::Value = serde_json::from_str(spec["sourceSchema"]["schema"].as_str().unwrap()).unwrap();
        assert_eq!(schema["$id"], EVPL, "the specification carries its schema");

        let categories = get("/category", "/category").await;
        let mut filled: Vec<&str> = catalog
            .specs()
            .iter()
            .filter(|s| s.orderable && s.interfaces.contains(&on))
            .map(|s| s.category())
            .collect();
        filled.sort_unstable();
        filled.dedup();
        let mut listed: Vec<&str> = categories.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        listed.sort_unstable();
        assert_eq!(listed, filled, "the categories with offerings at {irp}");
        let category = get("/category/carrier-ethernet", "/category/{id}").await;
        assert!(category["productOffering"].as_array().unwrap().iter().any(|o| o["id"] == id));

        let missing = app.call("GET", &format!("{base}/productOffering/nope"), None).await;
        assert_eq!(missing.status, 404);
        Contract::assert_valid(&contract.response("/productOffering/{id}", "get", 404), &missing.body, "404");
        assert_eq!(app.call("GET", &format!("{base}/productOffering?colour=red"), None).await.status, 400);
        let hub = app.call("POST", &format!("{base}/hub"), Some(&json!({"callback": "http://buyer.example/cb"}))).await;
        assert_eq!(hub.status, 201, "{:#}", hub.body);
        Contract::assert_valid(&contract.response("/hub", "post", 201), &hub.body, "the hub");
    }
}

#[tokio::test]
async fn an_operator_moves_an_offering_along_its_lifecycle_and_every_buyer_with_a_catalog_hub_hears_of_it() {
    for irp in [lso_model::Irp::Sonata, lso_model::Irp::Cantata] {
        let app = spawn_app().await;
        let base = lso_mef_product::catalog_base(irp);
        let point = if irp == lso_model::Irp::Sonata { "Sonata" } else { "Cantata" };
        let contract = Contract::load(&format!("{point}/productApi/catalog/productCatalog.api.yaml"));
        let events = Contract::load(&format!("{point}/productApi/catalog/productCatalogNotification.api.yaml"));
        let (receiver, _) = app.listening_at(&base).await;
        let offering = lso_spec::Catalog::built_in().unwrap().get(EVPL).unwrap().offering_id();

        app.cli(&["catalog", "lifecycle", &offering, "endOfSale", "--reason", "replaced by EVPL v2"]).await;

        let read = app.call("GET", &format!("{base}/productOffering/{offering}"), None).await.body;
        Contract::assert_valid(&contract.response("/productOffering/{id}", "get", 200), &read, "an offering");
        assert_eq!(
            (read["lifecycleStatus"].clone(), read["statusReason"].clone()),
            (json!("endOfSale"), json!("replaced by EVPL v2"))
        );
        assert_eq!(read["statusTransition"][0]["transitionLifecycleStatus"], "endOfSale");
        let at_end = app.call("GET", &format!("{base}/productOffering?lifecycleStatus=endOfSale"), None).await.body;
        assert_eq!(at_end.as_array().unwrap().len(), 1);

        let back = json!({"lifecycleStatus": "orderable", "statusReason": "changed our mind"});
        let refused = app
            .call_as(&app.admin, "POST", &format!("/lso/admin/v1/catalog/offering/{offering}/lifecycle"), Some(&back))
            .await;
        assert_eq!(refused.status, 422, "no way back from endOfSale (W142 R51): {:#}", refused.body);
        let unknown =
            app.call_as(&app.admin, "POST", "/lso/admin/v1/catalog/offering/nope/lifecycle", Some(&back)).await;
        assert_eq!(unknown.status, 404);

        let outbox = app.wait_for_deliveries_to(&receiver).await;
        assert_eq!(outbox["dead"], 0);
        let delivered = receiver.events.lock().unwrap().clone();
        let (path, event) = delivered
            .iter()
            .find(|(p, _)| p.ends_with("productOfferingStatusChangeEvent"))
            .expect("the Buyer heard of it");
        let listeners = lso_mef_product::catalog_notification_base(irp);
        assert_eq!(format!("/{path}"), format!("{listeners}/listener/productOfferingStatusChangeEvent"));
        assert_eq!(event["event"]["id"], json!(offering));
        Contract::assert_valid(
            &events.request_body("/listener/productOfferingStatusChangeEvent", "post"),
            event,
            "the event",
        );
    }
}

#[tokio::test]
async fn an_operator_adds_changes_and_removes_offerings_of_a_running_seller_and_buyers_with_a_catalog_hub_hear_of_each()
{
    for irp in [lso_model::Irp::Sonata, lso_model::Irp::Cantata] {
        let point = if irp == lso_model::Irp::Sonata { "Sonata" } else { "Cantata" };
        catalog_changes_are_announced(irp, point).await;
    }
}

/// An imported tree added to, changed in and taken from a running Seller's catalog, as a Buyer
/// at `irp` hears of it.
async fn catalog_changes_are_announced(irp: lso_model::Irp, point: &str) {
    let app = spawn_app().await;
    let base = lso_mef_product::catalog_base(irp);
    let events = Contract::load(&format!("{point}/productApi/catalog/productCatalogNotification.api.yaml"));
    let contract = Contract::load(&format!("{point}/productApi/catalog/productCatalog.api.yaml"));
    let (receiver, _) = app.listening_at(&base).await;
    let ep_tree = "urn:mef:lso:spec:cantata-sonata:eptree-evc:v1.0.0:all";
    let listed = async || {
        let offerings =
            app.call("GET", &format!("{base}/productOffering?productSpecification.id={ep_tree}"), None).await;
        offerings.body.as_array().unwrap().len()
    };
    let categories = async || {
        let listed = app.call("GET", &format!("{base}/category"), None).await.body;
        let mut ids: Vec<String> =
            listed.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    };
    assert_eq!(listed().await, 0, "not sold before the import");
    let before = categories().await;
    assert!(!before.contains(&"other".to_owned()), "a category without offerings is not listed: {before:?}");

    let tree = shared_mef().join(format!("{point}/productSchema/carrierEthernet"));
    lso_cli(&["catalog", "import", tree.to_str().unwrap(), "--data-dir", app.dir.path().to_str().unwrap()]).await;
    assert_eq!(listed().await, 0, "an import alone does not change what a running Seller sells");
    let said = app.cli(&["catalog", "reload"]).await;
    let added: usize = said.split_whitespace().next().unwrap().parse().unwrap();
    assert!(added >= 3, "{said}");
    assert_eq!(listed().await, 1, "the imported specification is on offer at once");
    assert_eq!(categories().await, [before.clone(), vec!["other".to_owned()]].concat());
    let order = order_of(&json!({"@type": ep_tree}), None);
    let ordering = if irp == lso_model::Irp::Sonata {
        "/mefApi/sonata/productOrderingManagement/v10/productOrder"
    } else {
        "/mefApi/cantata/productOrderingManagement/v5/productOrder"
    };
    let created = app.call("POST", ordering, Some(&order)).await;
    assert_eq!(created.status, 201, "and orderable: {:#}", created.body);

    app.wait_for_deliveries_to(&receiver).await;
    let delivered = receiver.events.lock().unwrap().clone();
    let of = |listener: &str| -> Vec<serde_json::Value> {
        let delivered = receiver.events.lock().unwrap().clone();
        delivered
            .iter()
            .filter(|(p, _)| p.ends_with(&format!("/listener/{listener}")))
            .map(|(_, e)| e.clone())
            .collect()
    };
    let (specs, offerings) = (of("productSpecificationCreateEvent"), of("productOfferingCreateEvent"));
    assert_eq!((specs.len(), offerings.len()), (added, added), "one of each per offering added: {delivered:#?}");
    assert!(specs.iter().any(|e| e["event"]["id"] == ep_tree));
    // A category with offerings here for the first time is created; one that had some lists
    // more now.
    let ids = |events: &[serde_json::Value]| -> Vec<String> {
        events.iter().map(|e| e["event"]["id"].as_str().unwrap().to_owned()).collect()
    };
    // The EP-Tree and EVP-Tree EVCs are realised by EVC services; their end points are not.
    assert_eq!(ids(&of("categoryCreateEvent")), ["other"]);
    assert_eq!(ids(&of("categoryAttributeValueChangeEvent")), ["carrier-ethernet"]);
    let announced = |listener: &'static str| of(listener).into_iter().map(move |e| (listener, e));
    for (listener, event) in announced("productSpecificationCreateEvent")
        .chain(announced("productOfferingCreateEvent"))
        .chain(announced("categoryCreateEvent"))
        .chain(announced("categoryAttributeValueChangeEvent"))
    {
        Contract::assert_valid(&events.request_body(&format!("/listener/{listener}"), "post"), &event, listener);
        let href = event["event"]["href"].as_str().unwrap();
        let path = &href[href.find("/mefApi").unwrap()..];
        assert_eq!(app.call("GET", path, None).await.status, 200, "{href} names what was added");
    }

    let again = app.cli(&["catalog", "reload"]).await;
    assert!(again.starts_with("0 offerings added"), "{again}");
    app.wait_for_deliveries_to(&receiver).await;
    assert_eq!(receiver.events.lock().unwrap().len(), delivered.len(), "nothing announced twice");

    // The imported specification's schema changes: reloaded, its specification and offering
    // are announced as changed, once.
    let imported = app.dir.path().join("catalog/productSchema-carrierEthernet");
    let saved = imported.join("subscriberEthernet/eptree/ethernetPrivateTreeEvc.yaml");
    let mut schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    schema["description"] = json!("EP-TREE EVC, as this Seller sells it");
    std::fs::write(&saved, schema.to_string()).unwrap();
    let changed = app.cli(&["catalog", "reload"]).await;
    assert!(changed.starts_with("0 offerings added"), "{changed}");
    app.wait_for_deliveries_to(&receiver).await;
    for listener in ["productSpecificationAttributeValueChangeEvent", "productOfferingAttributeValueChangeEvent"] {
        let told = of(listener);
        assert_eq!(told.len(), 1, "{listener}: {told:#?}");
        Contract::assert_valid(&events.request_body(&format!("/listener/{listener}"), "post"), &told[0], listener);
        let href = told[0]["event"]["href"].as_str().unwrap();
        assert!(href.contains("eptree-evc"), "{href}");
        assert_eq!(app.call("GET", &href[href.find("/mefApi").unwrap()..], None).await.status, 200);
    }

    // The tree is taken away: its specifications stay listed as obsolete, their offerings are
    // no longer sold, and the category only they filled is withdrawn.
    std::fs::remove_dir_all(&imported).unwrap();
    app.cli(&["catalog", "reload"]).await;
    app.wait_for_deliveries_to(&receiver).await;
    let obsolete = of("productSpecificationStatusChangeEvent");
    assert_eq!(obsolete.len(), added, "one per specification taken away: {obsolete:#?}");
    for event in &obsolete {
        let listener = "/listener/productSpecificationStatusChangeEvent";
        Contract::assert_valid(&events.request_body(listener, "post"), event, listener);
    }
    let read = app.call("GET", &format!("{base}/productSpecification/{ep_tree}"), None).await;
    assert_eq!(read.status, 200, "{:#}", read.body);
    Contract::assert_valid(&contract.response("/productSpecification/{id}", "get", 200), &read.body, "obsolete");
    assert_eq!(read.body["lifecycleStatus"], "obsolete");
    let obsolete_ones = app.call("GET", &format!("{base}/productSpecification?lifecycleStatus=obsolete"), None).await;
    assert_eq!(obsolete_ones.body.as_array().unwrap().len(), added);
    assert_eq!(listed().await, 0, "no longer sold");
    let withdrawn = of("categoryStatusChangeEvent");
    assert_eq!(ids(&withdrawn), ["other"]);
    Contract::assert_valid(
        &events.request_body("/listener/categoryStatusChangeEvent", "post"),
        &withdrawn[0],
        "withdrawn",
    );
    assert_eq!(categories().await, before);
    assert_eq!(app.call("GET", &format!("{base}/category/other"), None).await.status, 404);

    // Imported again, it is published once more.
    lso_cli(&["catalog", "import", tree.to_str().unwrap(), "--data-dir", app.dir.path().to_str().unwrap()]).await;
    app.cli(&["catalog", "reload"]).await;
    let read = app.call("GET", &format!("{base}/productSpecification/{ep_tree}"), None).await;
    assert_eq!(read.body["lifecycleStatus"], "published");
    let obsolete_ones = app.call("GET", &format!("{base}/productSpecification?lifecycleStatus=obsolete"), None).await;
    assert_eq!(obsolete_ones.body, json!([]));
}
