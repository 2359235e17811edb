//! Availability and Pricing Discovery (MEF W160) without a network: the request rules, the
//! identifier's validity, and prices from the specification's rule.

use super::*;
use std::time::Duration;

fn availability_of(spec: &str) -> Value {
    json!({"action": "add", "productSpecification": {"id": spec}})
}

fn pricing_of(identifier: &str) -> Value {
    json!({"action": "add", "productConfigurationIdentifier": identifier})
}

fn configurations(answer: &Value) -> &Vec<Value> {
    answer["availableProductOfferingConfigurations"].as_array().unwrap()
}

fn amounts(terms: &Value, name: &str) -> Vec<f64> {
    let mut found = Vec::new();
    for term in terms["pricingAndTerms"].as_array().unwrap() {
        for price in term["price"].as_array().unwrap().iter().filter(|p| p["name"] == name) {
            found.push(price["price"]["dutyFreeAmount"]["value"].as_f64().unwrap());
        }
    }
    found
}

#[tokio::test]
async fn w160_an_evc_is_offered_at_each_rate_and_priced_by_its_rate_and_term() {
    let h = harness();
    let offered = h.bus.availability(&h.tenant, availability_of(EVPL)).await.unwrap();
    assert_eq!(offered["action"], "add", "the request is echoed (R16)");
    let rates: Vec<u64> =
        configurations(&offered).iter().map(|c| crate::pricing::committed_rate(&c["productConfiguration"])).collect();
    assert_eq!(rates, [10, 50, 100, 500, 1000]);
    let ids: std::collections::HashSet<&str> =
        configurations(&offered).iter().map(|c| c["productConfigurationIdentifier"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 5, "each configuration has its own identifier (R21)");

    let hundred = configurations(&offered)[2]["productConfigurationIdentifier"].as_str().unwrap();
    let priced = h.bus.pricing(&h.tenant, pricing_of(hundred)).await.unwrap();
    assert_eq!(priced["productConfigurationIdentifier"], hundred, "the request is echoed (R30)");
    // evpl.json: 60 a month and 1.5 per Mbit/s; 10 % off for 24 months, 20 % for 36.
    assert_eq!(amounts(&priced, "Monthly charge"), [210.0, 189.0, 168.0]);
    assert_eq!(amounts(&priced, "Installation"), [300.0, 150.0], "no installation charge for 36 months");
    for term in priced["pricingAndTerms"].as_array().unwrap() {
        assert_eq!(term["term"]["endOfTermAction"], "autoRenew");
        assert!(term["term"].get("rollInterval").is_none(), "R37");
        for price in term["price"].as_array().unwrap() {
            assert_eq!(price.get("recurringChargePeriod").is_some(), price["priceType"] == "recurring", "R41");
        }
    }
    let again = h.bus.pricing(&h.tenant, pricing_of(hundred)).await.unwrap();
    assert_eq!(again, priced, "the same configuration is priced the same (R38)");
}

#[tokio::test]
async fn w160_r22_r29_an_identifier_can_be_priced_for_an_hour_then_it_expires() {
    let h = harness();
    let offered = h.bus.availability(&h.tenant, availability_of(EVPL)).await.unwrap();
    let id = configurations(&offered)[0]["productConfigurationIdentifier"].as_str().unwrap().to_owned();
    h.clock.advance(Duration::from_secs(59 * 60));
    assert!(h.bus.pricing(&h.tenant, pricing_of(&id)).await.is_ok(), "valid after 59 minutes (R22: ≥ 15)");
    h.clock.advance(Duration::from_secs(2 * 60));
    assert_eq!(
        problems(h.bus.pricing(&h.tenant, pricing_of(&id)).await),
        [(ViolationCode::InvalidValue, "/productConfigurationIdentifier".into())]
    );
}

#[tokio::test]
async fn w160_request_rules_are_each_reported_with_their_property() {
    let h = harness();
    let cases = [
        (json!({"action": "remove"}), vec![(ViolationCode::InvalidValue, "/action")]),
        (json!({"action": "add"}), vec![(ViolationCode::MissingProperty, "/productSpecification")]),
        (
            json!({"action": "add", "productSpecification": {"id": EVPL}, "productRef": {"id": "p"}}),
            vec![(ViolationCode::UnexpectedProperty, "/productRef")],
        ),
        (json!({"action": "modify"}), vec![(ViolationCode::MissingProperty, "/productRef")]),
        (
            json!({"action": "modify", "productRef": {"id": "p"}, "place": [], "productSpecification": {"id": EVPL}}),
            vec![
                (ViolationCode::UnexpectedProperty, "/place"),
                (ViolationCode::UnexpectedProperty, "/productSpecification"),
            ],
        ),
        (
            json!({"action": "modify", "productRef": {"id": "nothing"}}),
            vec![(ViolationCode::ReferenceNotFound, "/productRef/id")],
        ),
        (
            json!({"action": "add", "productSpecification": {"id": "urn:nothing"}}),
            vec![(ViolationCode::ReferenceNotFound, "/productSpecification/id")],
        ),
        (availability_of(UNI), vec![(ViolationCode::MissingProperty, "/place")]),
        (
            json!({"action": "add", "productSpecification": {"id": EVPL}, "productRelationship": [{"id": "gone", "relationshipType": "CONNECTS_TO_UNI_A"}]}),
            vec![(ViolationCode::ReferenceNotFound, "/productRelationship/0/id")],
        ),
    ];
    for (request, expected) in cases {
        let expected: Vec<(ViolationCode, String)> = expected.into_iter().map(|(c, p)| (c, p.to_owned())).collect();
        assert_eq!(problems(h.bus.availability(&h.tenant, request.clone()).await), expected, "{request}");
    }
    assert_eq!(
        problems(h.bus.pricing(&h.tenant, json!({"action": "add"})).await),
        [(ViolationCode::MissingProperty, "/productConfigurationIdentifier".into())]
    );
    assert_eq!(
        problems(h.bus.pricing(&h.tenant, pricing_of("never-offered")).await),
        [(ViolationCode::ReferenceNotFound, "/productConfigurationIdentifier".into())]
    );
}

#[tokio::test]
async fn w160_r25_r28_pricing_is_for_the_delivery_context_and_buyer_it_was_offered_to() {
    let h = harness();
    let uni = active_product(&h, UNI).await;
    let modify = json!({"action": "modify", "productRef": {"id": uni}});
    let offered = h.bus.availability(&h.tenant, modify).await.unwrap();
    assert_eq!(configurations(&offered).len(), 1, "a UNI is offered as it is");
    let id = configurations(&offered)[0]["productConfigurationIdentifier"].as_str().unwrap().to_owned();
    let priced = h.bus.pricing(
        &h.tenant,
        json!({"action": "modify", "productConfigurationIdentifier": id, "productRef": {"id": uni}}),
    );
    assert_eq!(priced.await.unwrap()["pricingAndTerms"].as_array().unwrap().len(), 3);
    let other = json!({"action": "modify", "productConfigurationIdentifier": id, "productRef": {"id": "another"}});
    assert_eq!(
        problems(h.bus.pricing(&h.tenant, other).await),
        [(ViolationCode::InvalidValue, "/productRef/id".into())]
    );
    let as_added = json!({"action": "add", "productConfigurationIdentifier": id});
    assert_eq!(problems(h.bus.pricing(&h.tenant, as_added).await), [(ViolationCode::InvalidValue, "/action".into())]);
    let site = |id: &str| json!([{"@type": "GeographicSiteRef", "id": id, "role": "INSTALL_LOCATION"}]);
    let mut at_site = availability_of(UNI);
    at_site["place"] = site("site-1");
    let offered = h.bus.availability(&h.tenant, at_site).await.unwrap();
    let id = configurations(&offered)[0]["productConfigurationIdentifier"].as_str().unwrap().to_owned();
    let mut elsewhere = pricing_of(&id);
    elsewhere["place"] = site("site-2");
    assert_eq!(
        problems(h.bus.pricing(&h.tenant, elsewhere.clone()).await),
        [(ViolationCode::InvalidValue, "/place".into())]
    );
    elsewhere["place"] = site("site-1");
    assert!(h.bus.pricing(&h.tenant, elsewhere).await.is_ok(), "priced where it was offered");
    let stranger = Tenant::new(Irp::Sonata, "LSO", "GLOBEX");
    assert_eq!(
        problems(h.bus.pricing(&stranger, pricing_of(&id)).await),
        [(ViolationCode::ReferenceNotFound, "/productConfigurationIdentifier".into())],
        "another Buyer cannot price it"
    );
}
