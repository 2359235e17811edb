//! The conformance mode: the requests Buyers copy from MEF's published examples that break a
//! Buyer-side MUST whose absence loses the Seller nothing are refused in strict mode (422,
//! naming the requirement) and accepted in interop mode, with the Seller's default filled in
//! (and a note, on a resource that has notes).

use crate::support::*;
use lso_model::Irp;
use serde_json::json;

const UNI: &str = "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all";

/// The three deviating requests, answered by a Seller in `mode`: address validation without
/// alternatives, a deferred POQ without a completion date, and a delete item without a date or
/// item contacts.
async fn deviating_requests(mode: lso_bus::Conformance) -> (App, [crate::support::Answer; 3]) {
    let app = spawn_app_with(|c| c.conformance.mode = mode).await;
    let address = json!({"provideAlternative": false, "submittedGeographicAddress": {"@type": "FieldedAddress",
        "streetNr": "100", "streetName": "Main", "streetType": "Street", "city": "Boston", "country": "US"}});
    let validated = app
        .call(
            "POST",
            &format!("{}/geographicAddressValidation", lso_mef_product::address_base(Irp::Sonata)),
            Some(&address),
        )
        .await;
    let mut poq = json!({"instantSyncQualification": false, "relatedContactInformation": [contact("buyerContactInformation")],
        "productOfferingQualificationItem": [{"id": "1", "action": "add", "product": {"productConfiguration": example(UNI),
            "place": [{"@type": "GeographicSiteRef", "id": "site-boston", "role": "INSTALL_LOCATION"}]}}]});
    poq["productOfferingQualificationItem"][0]["product"]["productOffering"] =
        json!({"id": lso_spec::Catalog::built_in().unwrap().get(UNI).unwrap().offering_id()});
    let qualified = app
        .call("POST", &format!("{}/productOfferingQualification", lso_mef_product::poq_base(Irp::Sonata)), Some(&poq))
        .await;
    let orders = lso_mef_product::ordering_base(Irp::Sonata);
    let placed = app.order_completed(&orders, &order_of(&example(UNI), Some("INSTALL_LOCATION"))).await;
    let product = placed["productOrderItem"][0]["product"]["id"].as_str().unwrap();
    let delete = json!({"relatedContactInformation": [contact("productOrderContact")],
        "productOrderItem": [{"id": "1", "action": "delete", "product": {"id": product}}]});
    let deleted = app.call("POST", &format!("{orders}/productOrder"), Some(&delete)).await;
    (app, [validated, qualified, deleted])
}

fn reasons(answer: &crate::support::Answer) -> String {
    answer.body.to_string()
}

#[tokio::test]
async fn strict_mode_refuses_what_a_buyer_must_send_naming_the_requirement() {
    let (app, [validated, qualified, deleted]) = deviating_requests(lso_bus::Conformance::Strict).await;
    for (answer, requirement) in [(&validated, "MEF 121 R12"), (&qualified, "MEF 87 R19"), (&deleted, "MEF 123 R14")] {
        assert_eq!(answer.status, 422, "{:#}", answer.body);
        assert!(reasons(answer).contains(requirement), "{requirement} named: {:#}", answer.body);
    }
    let paths = property_paths(&deleted.body);
    assert!(paths.contains(&"/productOrderItem/0/requestedCompletionDate"), "{paths:?}");
    app.stop().await;
}

#[tokio::test]
async fn interop_mode_accepts_it_with_the_sellers_default_and_a_note() {
    let (app, [validated, qualified, deleted]) = deviating_requests(lso_bus::Conformance::Interop).await;
    assert_eq!(validated.status, 200, "{:#}", validated.body);
    assert_eq!(validated.body["provideAlternative"], false, "echoed as asked");
    assert_eq!(validated.body["alternateGeographicAddress"], json!([]), "no alternates, as asked");
    assert_eq!(qualified.status, 201, "{:#}", qualified.body);
    let due = qualified.body["requestedPOQCompletionDate"].as_str().expect("the Seller's date is filled in");
    assert!(lso_model::DateTime::parse(due).is_ok(), "{due}");
    assert_eq!(deleted.status, 201, "{:#}", deleted.body);
    assert!(deleted.body["productOrderItem"][0]["requestedCompletionDate"].is_string(), "{:#}", deleted.body);
    let notes: Vec<&str> =
        deleted.body["note"].as_array().unwrap().iter().filter_map(|n| n["text"].as_str()).collect::<Vec<_>>();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("MEF 123 R14 (accepted in interop mode): item 1 had no requestedCompletionDate")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("names no buyerProductOrderItemContact")), "{notes:?}");
    let done =
        app.wait_until_final(&lso_mef_product::ordering_base(Irp::Sonata), deleted.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "and the delete is carried out: {done:#}");
    app.stop().await;
}
