//! Product Offering Qualification over both reference points: answers computed from the
//! network (free UNI ports at a site, a path with the bandwidth between UNIs), the MEF 87 checks,
//! and every answer and event valid against the official files.

use crate::support::*;
use serde_json::{Value, json};

const UNI: &str = "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all";

fn item(id: &str, configuration: Value, place: Option<Value>) -> Value {
    let mut product = json!({"productOffering": {"id": lso_spec::Catalog::built_in().unwrap().get(configuration["@type"].as_str().unwrap()).unwrap().offering_id()},
                             "productConfiguration": configuration});
    if let Some(place) = place {
        product["place"] = json!([place]);
    }
    json!({"id": id, "action": "add", "product": product})
}

fn poq(items: Vec<Value>) -> Value {
    json!({"instantSyncQualification": true, "provideAlternative": false,
           "relatedContactInformation": [contact("buyerContactInformation")], "productOfferingQualificationItem": items})
}

fn evpl(id: &str, cir: u64, unis: &[&str]) -> Value {
    let mut configuration = example(EVPL);
    for end in ["evcEndPointA", "evcEndPointZ"] {
        configuration[end]["ingressBandwidthProfilePerClassOfServiceName"][0]["bwpFlow"][0]["cir"]["irValue"] =
            json!(cir);
    }
    let mut evpl = item(id, configuration, None);
    evpl["qualificationItemRelationship"] =
        unis.iter().map(|u| json!({"id": u, "relationshipType": "CONNECTS_TO_UNI"})).collect();
    evpl
}

/// A Seller with a Buyer listening to its POQ events over `irp`, and the API's official files.
struct Qualifying {
    app: App,
    contract: Contract,
    events: Contract,
    base: String,
    receiver: Receiver,
}

impl Qualifying {
    async fn start(irp: &str) -> Self {
        let app = spawn_app().await;
        let api = format!("{irp}/productApi/serviceability/offeringQualification/productOfferingQualification");
        let contract = Contract::load(&format!("{api}Management.api.yaml"));
        let events = Contract::load(&format!("{api}Notification.api.yaml"));
        let base = lso_mef_product::poq_base(irp.to_lowercase().parse().unwrap());
        let (receiver, _) = app.listening_at(&base).await;
        Qualifying { app, contract, events, base, receiver }
    }
}

/// Asks for a qualification: created (201) and valid against the official file.
async fn ask(app: &App, contract: &Contract, base: &str, body: &Value) -> Value {
    let answer = app.call("POST", &format!("{base}/productOfferingQualification"), Some(body)).await;
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    Contract::assert_valid(&contract.response("/productOfferingQualification", "post", 201), &answer.body, "a POQ");
    answer.body
}

#[tokio::test]
async fn qualifications_come_from_the_network_and_every_answer_meets_the_contract() {
    for irp in ["Sonata", "Cantata"] {
        let Qualifying { app, contract, events, base, receiver } = Qualifying::start(irp).await;
        let ask = async |body: Value| ask(&app, &contract, &base, &body).await;
        let at_site = json!({"@type": "GeographicSiteRef", "id": "site-boston", "role": "INSTALL_LOCATION"});
        let at_address = json!({"@type": "GeographicAddressRef", "id": "addr-ny-1", "role": "INSTALL_LOCATION"});
        let ready = ask(poq(vec![
            item("1", example(UNI), Some(at_site.clone())),
            item("2", example(UNI), Some(at_address)),
            evpl("3", 20, &["1", "2"]),
            evpl("4", 5000, &["1", "2"]),
        ]))
        .await;
        assert_eq!(ready["state"], "done.ready");
        let confidence = each(&ready, "productOfferingQualificationItem", "serviceabilityConfidence");
        assert_eq!(confidence, ["green", "green", "green", "red"], "{ready:#}");
        let why = ready["productOfferingQualificationItem"][3]["serviceabilityConfidenceReason"].as_str().unwrap();
        assert!(why.contains("5000"), "the reason names the bandwidth: {why}");
        assert!(
            ready["productOfferingQualificationItem"][3].get("installationInterval").is_none(),
            "red has no interval"
        );
        assert!(
            ready["relatedContactInformation"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["role"] == "sellerContactInformation")
        );

        let nowhere = json!({"@type": "GeographicSiteRef", "id": "site-nowhere", "role": "INSTALL_LOCATION"});
        let failed =
            ask(poq(vec![item("1", example(UNI), Some(at_site)), item("2", example(UNI), Some(nowhere))])).await;
        assert_eq!(failed["state"], "terminatedWithError");
        assert_eq!(failed["productOfferingQualificationItem"][0]["state"], "done.abandoned");
        assert_eq!(
            failed["productOfferingQualificationItem"][1]["terminationError"][0]["propertyPath"],
            "/productOfferingQualificationItem/1/product/place"
        );

        let id = ready["id"].as_str().unwrap();
        let read = app.call("GET", &format!("{base}/productOfferingQualification/{id}"), None).await;
        Contract::assert_valid(
            &contract.response("/productOfferingQualification/{id}", "get", 200),
            &read.body,
            "a POQ read",
        );
        let listed = app.call("GET", &format!("{base}/productOfferingQualification?state=done.ready"), None).await;
        Contract::assert_valid(
            &contract.response("/productOfferingQualification", "get", 200),
            &listed.body,
            "the list",
        );
        assert_eq!(listed.body.as_array().unwrap().len(), 1);

        let refused = app
            .call(
                "POST",
                &format!("{base}/productOfferingQualification"),
                Some(&json!({"instantSyncQualification": false, "productOfferingQualificationItem": []})),
            )
            .await;
        assert_eq!(refused.status, 422, "{:#}", refused.body);
        Contract::assert_valid(&contract.response("/productOfferingQualification", "post", 422), &refused.body, "422");
        let paths = property_paths(&refused.body);
        assert_eq!(
            paths,
            ["/productOfferingQualificationItem", "/requestedPOQCompletionDate", "/relatedContactInformation"]
        );

        app.wait_for_deliveries_to(&receiver).await;
        let delivered = receiver.events.lock().unwrap().clone();
        assert_eq!(delivered.len(), 2, "one poqCreateEvent per POQ (MEF 87 R45)");
        for (path, event) in &delivered {
            assert!(path.ends_with("/listener/poqCreateEvent"), "{path}");
            Contract::assert_valid(&events.request_body("/listener/poqCreateEvent", "post"), event, "poqCreateEvent");
        }
    }
}

#[tokio::test]
async fn a_deferred_qualification_is_answered_by_a_job_with_every_step_announced_and_alternates_proposed() {
    for irp in ["Sonata", "Cantata"] {
        let Qualifying { app, contract, events, base, receiver } = Qualifying::start(irp).await;

        let at = |site: &str| json!({"@type": "GeographicSiteRef", "id": site, "role": "INSTALL_LOCATION"});
        let mut request = poq(vec![
            item("1", example(UNI), Some(at("site-boston"))),
            item("2", example(UNI), Some(at("site-new-york"))),
            evpl("3", 5000, &["1", "2"]),
        ]);
        request["instantSyncQualification"] = json!(false);
        request["provideAlternative"] = json!(true);
        request["requestedPOQCompletionDate"] = json!(days_from_now(2));
        let created = ask(&app, &contract, &base, &request).await;
        assert_eq!(created["state"], "acknowledged");
        let id = created["id"].as_str().unwrap();
        let path = format!("{base}/productOfferingQualification/{id}");
        let done = app.wait_until(&path, |p| p["state"] == "done.ready").await;
        Contract::assert_valid(
            &contract.response("/productOfferingQualification/{id}", "get", 200),
            &done,
            "the answer",
        );
        let states: Vec<&str> =
            done["stateChange"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()).collect();
        assert_eq!(states, ["acknowledged", "inProgress", "done.ready"]);
        let evpl = &done["productOfferingQualificationItem"][2];
        assert_eq!(evpl["serviceabilityConfidence"], "red");
        let proposal = &evpl["alternateProductOfferingProposal"][0]["alternateProduct"]["productConfiguration"];
        assert_eq!(
            proposal["evcEndPointA"]["ingressBandwidthProfilePerClassOfServiceName"][0]["bwpFlow"][0]["cir"]["irValue"],
            1000,
            "the fastest rate the 1,000 Mbit/s links have room for"
        );

        app.wait_for_deliveries_to(&receiver).await;
        let mut seen = Vec::new();
        for (kind, event) in receiver.checked("", |_| &events) {
            assert_eq!(event["event"].get("poqItemId").is_some(), kind == "poqItemStateChangeEvent", "{event}");
            seen.push(kind);
        }
        let count = |kind: &str| seen.iter().filter(|k| *k == kind).count();
        assert_eq!(
            (count("poqCreateEvent"), count("poqStateChangeEvent"), count("poqItemStateChangeEvent")),
            (1, 2, 6),
            "created; inProgress and done.ready; each of three items twice (R45, R46)"
        );
    }
}

#[tokio::test]
async fn internet_access_qualifies_from_free_ip_unis_and_the_address_pool() {
    const INTERNET: &str = "urn:mef:lso:spec:cantata-sonata:basic-internet-access:v1.0.0:all";
    // Orders are realised on the (simulated) demo network, so what they take is taken.
    let app = spawn_app_with(|c| c.fulfilment.by = lso_server::config::FulfilmentMode::Network).await;
    let contract = Contract::load(
        "Sonata/productApi/serviceability/offeringQualification/productOfferingQualificationManagement.api.yaml",
    );
    let base = lso_mef_product::poq_base(lso_model::Irp::Sonata);
    let at = |site: &str| json!({"@type": "GeographicSiteRef", "id": site, "role": "INSTALL_LOCATION"});
    let answered = ask(
        &app,
        &contract,
        &base,
        &poq(vec![
            item("1", example(INTERNET), Some(at("site-washington"))),
            item("2", example(INTERNET), Some(at("site-nowhere"))),
        ]),
    )
    .await;
    assert_eq!(each(&answered, "productOfferingQualificationItem", "serviceabilityConfidence"), ["green", "red"]);
    let why = |answer: &Value, n: usize| {
        answer["productOfferingQualificationItem"][n]["serviceabilityConfidenceReason"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        why(&answered, 0),
        "IP UNI ipuni-washington-1 (1000 Mbit/s) is free at site site-washington; a /30 is free in the address pool (100.64.0.0/30)"
    );
    assert_eq!(why(&answered, 1), "the Seller has no IP UNI at site site-nowhere");

    // Once Washington's only IP UNI is taken, it is red there, and the pool's next subnet is named.
    let mut order = order_of(&example(INTERNET), Some("INSTALL_LOCATION"));
    order["productOrderItem"][0]["product"]["place"][0]["id"] = json!("site-washington");
    app.order_completed("/mefApi/sonata/productOrderingManagement/v10", &order).await;
    let taken =
        ask(&app, &contract, &base, &poq(vec![item("1", example(INTERNET), Some(at("site-washington")))])).await;
    assert_eq!(why(&taken, 0), "no IP UNI at site site-washington with 100 Mbit/s is free");
    let elsewhere =
        ask(&app, &contract, &base, &poq(vec![item("1", example(INTERNET), Some(at("site-boston")))])).await;
    assert!(
        why(&elsewhere, 0).ends_with("a /30 is free in the address pool (100.64.0.4/30)"),
        "{}",
        why(&elsewhere, 0)
    );
    app.stop().await;
}
