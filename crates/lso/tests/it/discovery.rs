//! Availability and Pricing Discovery over both reference points on the demo network: the
//! configurations offered are those the network can deliver, and every answer meets the
//! official file.

use crate::support::*;
use lso_model::{Clock, SystemClock};
use lso_server::config::FulfilmentMode;
use serde_json::{Value, json};

const UNI: &str = "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all";

fn rates(answer: &Value) -> Vec<u64> {
    let configurations = answer["availableProductOfferingConfigurations"].as_array().unwrap();
    configurations
        .iter()
        .map(|c| c["productConfiguration"]["evcEndPointA"]["ingressBandwidthProfilePerClassOfServiceName"][0]["bwpFlow"][0]["cir"]["irValue"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_configurations_offered_are_those_the_network_can_deliver_and_every_answer_meets_the_contract() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
        let contract = Contract::load(&format!(
            "{irp}/productApi/availabilityAndPricingDiscovery/productOfferingAvailabilityAndPricingDiscovery.api.yaml"
        ));
        let point: lso_model::Irp = irp.to_lowercase().parse().unwrap();
        let base = lso_mef_product::discovery_base(point);
        let ask = async |path: &str, body: Value, status: u16| {
            let answer = app.call("POST", &format!("{base}{path}"), Some(&body)).await;
            assert_eq!(answer.status, status, "{path}: {:#}", answer.body);
            Contract::assert_valid(&contract.response(path, "post", status), &answer.body, path);
            answer.body
        };

        let ordering = lso_mef_product::ordering_base(point);
        let order = crate::network::evpl_order(&["site-new-york", "site-boston"], 100, 20);
        let done = app.order_completed(&ordering, &order).await;
        let product = |item: usize| done["productOrderItem"][item]["product"]["id"].as_str().unwrap().to_owned();

        let site = |id: &str| json!([{"@type": "GeographicSiteRef", "id": id, "role": "INSTALL_LOCATION"}]);
        let uni = json!({"action": "add", "productSpecification": {"id": UNI}, "place": site("site-boston")});
        let at_boston = ask("/productOfferingAvailability", uni.clone(), 200).await;
        let offered = at_boston["availableProductOfferingConfigurations"].as_array().unwrap();
        assert_eq!(offered.len(), 1, "a UNI port is free at Boston: {at_boston:#}");
        assert_eq!(offered[0]["productConfiguration"]["@type"], UNI);
        let mut nowhere = uni.clone();
        nowhere["place"] = site("site-nowhere");
        let at_nowhere = ask("/productOfferingAvailability", nowhere, 200).await;
        assert_eq!(at_nowhere["availableProductOfferingConfigurations"], json!([]), "no UNI there");

        // The EVPL of the order holds 20 of the 1,000 Mbit/s between the two UNIs.
        let relationships = json!([{"id": product(0), "relationshipType": "CONNECTS_TO_UNI_A"},
                                   {"id": product(1), "relationshipType": "CONNECTS_TO_UNI_Z"}]);
        let evpl = json!({"action": "add", "productSpecification": {"id": EVPL}, "productRelationship": relationships});
        let another = ask("/productOfferingAvailability", evpl.clone(), 200).await;
        assert_eq!(rates(&another), [10, 50, 100, 500], "1,000 Mbit/s no longer fits: {another:#}");
        let modify = json!({"action": "modify", "productRef": {"id": product(2)}});
        let faster = ask("/productOfferingAvailability", modify, 200).await;
        assert_eq!(rates(&faster), [10, 50, 100, 500, 1000], "the EVPL's own 20 Mbit/s can be raised to 1,000");

        let hundred = another["availableProductOfferingConfigurations"][2]["productConfigurationIdentifier"].clone();
        let pricing =
            json!({"action": "add", "productConfigurationIdentifier": hundred, "productRelationship": relationships});
        let priced = ask("/pricingDiscovery", pricing.clone(), 200).await;
        let terms: Vec<i64> = priced["pricingAndTerms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["term"]["duration"]["amount"].as_i64().unwrap())
            .collect();
        assert_eq!(terms, [12, 24, 36]);
        assert_eq!(priced["pricingAndTerms"][0]["price"][0]["price"]["dutyFreeAmount"]["value"], 210.0);

        let mut elsewhere = pricing.clone();
        elsewhere["productRelationship"] = json!([]);
        let refused = ask("/pricingDiscovery", elsewhere, 422).await;
        assert_eq!(refused[0]["propertyPath"], "/productRelationship");
        let refused = ask("/productOfferingAvailability", json!({"action": "add"}), 422).await;
        assert_eq!(refused[0]["propertyPath"], "/productSpecification");
        let malformed = app.call("POST", &format!("{base}/pricingDiscovery"), None).await;
        assert_eq!(malformed.status, 400, "{:#}", malformed.body);

        let stranger = app.seller.auth.mint(
            &lso_http::Principal::buyer("globex", vec!["GLOBEX".into()]),
            SystemClock.now_seconds(),
            3600,
        );
        let theirs = app.call_as(&stranger, "POST", &format!("{base}/pricingDiscovery"), Some(&pricing)).await;
        assert_eq!(theirs.status, 422, "{:#}", theirs.body);
        assert_eq!(theirs.body[0]["code"], "referenceNotFound", "another Buyer cannot price it");
    }
}

/// The requests of the W160 guide name an example Seller's products and configuration; with
/// this Seller's (an ENNI, an Operator UNI ordered at a site) in their place they are answered
/// by the contract, the guide's `CONNECTS_TO_ENNI` taken for MEF 123's `ENNI_REFERENCE`.
#[tokio::test]
async fn the_w160_guide_requests_are_answered_by_the_contract() {
    let app = spawn_app().await;
    let contract = Contract::load(
        "Sonata/productApi/availabilityAndPricingDiscovery/productOfferingAvailabilityAndPricingDiscovery.api.yaml",
    );
    let guides = shared_mef().join("Sonata/documentation/productApi/availabilityAndPricingDiscovery");
    let guide = std::fs::read_dir(guides)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "md"))
        .unwrap();
    let text = std::fs::read_to_string(guide).unwrap();
    let requests: Vec<Value> = text
        .split("```json\n")
        .skip(1)
        .filter_map(|block| serde_json::from_str::<Value>(block.split("```").next()?).ok())
        .filter(|e| e.get("availableProductOfferingConfigurations").is_none() && e.get("pricingAndTerms").is_none())
        .collect();
    assert_eq!(requests.len(), 4, "three availability requests and a pricing request");

    let enni_spec =
        lso_spec::Catalog::built_in().unwrap().specs().iter().find(|s| !s.orderable).unwrap().example.clone();
    let enni = app
        .call_as(
            &app.admin,
            "POST",
            "/lso/admin/v1/sonata/product?buyerId=ACME",
            Some(&json!({"productConfiguration": enni_spec})),
        )
        .await;
    assert_eq!(enni.status, 201, "{:#}", enni.body);
    let enni = enni.body["id"].as_str().unwrap().to_owned();
    let ordering = lso_mef_product::ordering_base(lso_model::Irp::Sonata);
    let operator_uni = "urn:mef:lso:spec:sonata:carrier-ethernet-operator-uni:v5.0.0:all";
    let placed = app
        .call(
            "POST",
            &format!("{ordering}/productOrder"),
            Some(&order_of(&example(operator_uni), Some("INSTALL_LOCATION"))),
        )
        .await;
    let done = app.wait_until_final(&ordering, placed.body["id"].as_str().unwrap()).await;
    let uni = done["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned();

    let base = lso_mef_product::discovery_base(lso_model::Irp::Sonata);
    let ask = async |path: &str, body: &Value, status: u16| {
        let answer = app.call("POST", &format!("{base}{path}"), Some(body)).await;
        assert_eq!(answer.status, status, "{path} {body:#}: {:#}", answer.body);
        Contract::assert_valid(&contract.response(path, "post", status), &answer.body, path);
        answer.body
    };
    let ours = |request: &Value| {
        let mut request = request.clone();
        for (index, relation) in
            request.get_mut("productRelationship").and_then(Value::as_array_mut).into_iter().flatten().enumerate()
        {
            relation["id"] = json!(if index == 0 { &uni } else { &enni });
        }
        for place in request.get_mut("place").and_then(Value::as_array_mut).into_iter().flatten() {
            place["id"] = json!("addr-ny-1");
        }
        request
    };
    let mut identifier = None;
    for request in &requests[..3] {
        let request = ours(request);
        let offered = ask("/productOfferingAvailability", &request, 200).await;
        let configurations = offered["availableProductOfferingConfigurations"].as_array().unwrap();
        assert!(!configurations.is_empty(), "{offered:#}");
        if request["productRelationship"].is_array() {
            identifier = configurations[0]["productConfigurationIdentifier"].as_str().map(str::to_owned);
        }
    }
    let mut pricing = ours(&requests[3]);
    pricing["productConfigurationIdentifier"] = json!(identifier.unwrap());
    assert!(
        pricing["productRelationship"].as_array().unwrap().iter().any(|r| r["relationshipType"] == "CONNECTS_TO_ENNI")
    );
    let priced = ask("/pricingDiscovery", &pricing, 200).await;
    assert_eq!(priced["pricingAndTerms"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn internet_access_is_offered_where_an_ip_uni_and_a_subnet_are_free() {
    const INTERNET: &str = "urn:mef:lso:spec:cantata-sonata:basic-internet-access:v1.0.0:all";
    const IP_UNI: &str = "urn:mef:lso:spec:cantata-sonata:ip-uni:v1.0.0:all";
    let app = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let base = lso_mef_product::discovery_base(lso_model::Irp::Sonata);
    let offered = async |spec: &str, site: &str| {
        let place = json!([{"@type": "GeographicSiteRef", "id": site, "role": "INSTALL_LOCATION"}]);
        let body = json!({"action": "add", "productSpecification": {"id": spec}, "place": place});
        let answer = app.call("POST", &format!("{base}/productOfferingAvailability"), Some(&body)).await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        answer.body["availableProductOfferingConfigurations"].as_array().unwrap().len()
    };
    assert_eq!(offered(INTERNET, "site-washington").await, 1, "its one IP UNI is free");
    assert_eq!(offered(IP_UNI, "site-washington").await, 1);
    assert_eq!(offered(INTERNET, "site-nowhere").await, 0, "no IP UNI there");
    let mut order = order_of(&example(INTERNET), Some("INSTALL_LOCATION"));
    order["productOrderItem"][0]["product"]["place"][0]["id"] = json!("site-washington");
    app.order_completed(&lso_mef_product::ordering_base(lso_model::Irp::Sonata), &order).await;
    assert_eq!(offered(INTERNET, "site-washington").await, 0, "taken by the order");
    assert_eq!(offered(IP_UNI, "site-washington").await, 0);
    assert_eq!(offered(INTERNET, "site-boston").await, 1, "Boston's are free");
    app.stop().await;
}
