//! Quote Management (MEF 115) without a network: instant and deferred answers, prices and
//! terms, the Buyer's cancel and decline, expiry, and product orders that reference a quote.

use super::*;
use lso_model::DateTime;
use lso_model::quote::QuoteEvent;
use std::time::Duration;

fn offering(spec: &str) -> String {
    Catalog::built_in().unwrap().get(spec).unwrap().offering_id()
}

fn quote_item(id: &str, spec: &str, months: Option<i64>) -> Value {
    let catalog = Catalog::built_in().unwrap();
    let mut product =
        json!({"productOffering": {"id": offering(spec)}, "productConfiguration": catalog.get(spec).unwrap().example});
    if spec == UNI {
        product["place"] = json!([{"@type": "GeographicSiteRef", "id": "site-1", "role": "INSTALL_LOCATION"}]);
    }
    let mut item = json!({"id": id, "action": "add", "product": product,
        "relatedContactInformation": [contact("quoteItemTechnicalContact"), contact("quoteItemLocationContact")]});
    if let Some(months) = months {
        item["requestedQuoteItemTerm"] = json!({"name": "t", "duration": {"amount": months, "units": "calendarMonths"}, "endOfTermAction": "autoRenew"});
    }
    item
}

fn quote(level: &str, instant: bool, items: Vec<Value>) -> Value {
    json!({"buyerRequestedQuoteLevel": level, "instantSyncQuote": instant, "externalId": "q-1",
           "requestedQuoteCompletionDate": "2030-01-01T00:00:00Z",
           "relatedContactInformation": [contact("buyerContactInformation")], "quoteItem": items})
}

fn monthly(item: &Value) -> f64 {
    item["quoteItemPrice"][0]["price"]["dutyFreeAmount"]["value"].as_f64().unwrap()
}

impl Harness {
    async fn quote_state(&self, id: &str) -> Value {
        self.bus.quote(Some(&self.tenant.key()), id).await.unwrap()
    }
}

#[tokio::test]
async fn mef115_an_instant_firm_quote_is_priced_for_the_closest_term_and_valid_for_30_days() {
    let h = harness();
    let answered = h
        .bus
        .create_quote(&h.tenant, quote("firm", true, vec![quote_item("1", EVPL, Some(24)), quote_item("2", UNI, None)]))
        .await
        .unwrap();
    assert_eq!(answered["state"], "approved.orderable", "{answered:#}");
    assert_eq!(answered["quoteLevel"], "firmSubjectToFeasibilityCheck", "no network was asked (R34, R35)");
    let items = answered["quoteItem"].as_array().unwrap();
    assert!(items.iter().all(|i| i["subjectToFeasibilityCheck"] == true && i["state"] == "approved.orderable"));
    assert_eq!(items[0]["quoteItemTerm"][0]["duration"]["amount"], 24);
    // evpl.json: 60 + 1.5 × 50 Mbit/s (its example) a month, 10 % off for 24 months.
    assert_eq!(monthly(&items[0]), 121.5);
    assert_eq!(items[1]["quoteItemTerm"][0]["duration"]["amount"], 12, "no term asked: the shortest");
    assert_eq!(items[1]["quoteItemInstallationInterval"], json!({"amount": 5, "units": "businessDays"}));
    assert_eq!(answered["validFor"]["endDateTime"], DateTime::from_millis(NOW + 30 * 86_400_000).as_str());
    assert_eq!(answered["stateChange"].as_array().unwrap().len(), 1);
    assert!(
        answered["relatedContactInformation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["role"] == "sellerContactInformation")
    );
    assert_eq!(h.quote_state(answered["id"].as_str().unwrap()).await, answered, "stored as answered");
}

#[tokio::test]
async fn mef115_r41_r33_a_shorter_term_is_an_alternate_and_a_budgetary_quote_is_answered() {
    let h = harness();
    let alternate =
        h.bus.create_quote(&h.tenant, quote("firm", true, vec![quote_item("1", EVPL, Some(60))])).await.unwrap();
    assert_eq!(alternate["state"], "approved.orderableAlternate");
    assert_eq!(alternate["quoteItem"][0]["state"], "approved.orderableAlternate");
    assert_eq!(alternate["quoteItem"][0]["quoteItemTerm"][0]["duration"]["amount"], 36);
    let budgetary =
        h.bus.create_quote(&h.tenant, quote("budgetary", true, vec![quote_item("1", EVPL, None)])).await.unwrap();
    assert_eq!(budgetary["state"], "answered");
    assert_eq!(budgetary["quoteLevel"], "budgetary");
    assert!(budgetary["quoteItem"][0].get("subjectToFeasibilityCheck").is_none(), "not used for budgetary");
    assert_eq!(monthly(&budgetary["quoteItem"][0]), 135.0);
}

#[tokio::test]
async fn mef115_a_deferred_quote_is_acknowledged_taken_in_progress_answered_and_expires() {
    let h = harness();
    let created = h.bus.create_quote(&h.tenant, quote("firm", false, vec![quote_item("1", EVPL, None)])).await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["state"], "acknowledged");
    assert_eq!(created["quoteItem"][0]["state"], "acknowledged");
    assert_eq!(created["expectedQuoteCompletionDate"], DateTime::from_millis(NOW + 2_000).as_str());
    h.settle().await;
    assert_eq!(h.quote_state(id).await["state"], "inProgress");
    h.clock.advance(Duration::from_secs(2));
    h.settle().await;
    let answered = h.quote_state(id).await;
    assert_eq!(answered["state"], "approved.orderable");
    let states: Vec<&str> =
        answered["stateChange"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["acknowledged", "inProgress", "approved.orderable"]);
    assert_eq!(answered["effectiveQuoteCompletionDate"], DateTime::from_millis(NOW + 2_000).as_str());
    h.clock.advance(Duration::from_secs(30 * 86_400));
    h.settle().await;
    assert_eq!(h.quote_state(id).await["state"], "expired");
}

#[tokio::test]
async fn mef115_r53_r54_the_buyer_cancels_a_quote_in_progress_and_declines_an_approved_one() {
    let h = harness();
    let deferred =
        h.bus.create_quote(&h.tenant, quote("firm", false, vec![quote_item("1", EVPL, None)])).await.unwrap();
    let id = deferred["id"].as_str().unwrap();
    let end = |id: &str, event| h.bus.end_quote(&h.tenant, json!({"quoteId": id, "reason": "changed plans"}), event);
    h.settle().await;
    assert_eq!(problems(end(id, QuoteEvent::Decline).await), [(ViolationCode::InvalidValue, "/quoteId".into())], "R54");
    let echoed = end(id, QuoteEvent::Cancel).await.unwrap();
    assert_eq!(echoed, json!({"quoteId": id, "reason": "changed plans"}));
    let cancelled = h.quote_state(id).await;
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(cancelled["quoteItem"][0]["state"], "abandoned");
    h.clock.advance(Duration::from_secs(5));
    h.settle().await;
    assert_eq!(h.quote_state(id).await["state"], "cancelled", "the answer job finds it cancelled");

    let approved = h.bus.create_quote(&h.tenant, quote("firm", true, vec![quote_item("1", EVPL, None)])).await.unwrap();
    let id = approved["id"].as_str().unwrap();
    assert_eq!(problems(end(id, QuoteEvent::Cancel).await), [(ViolationCode::InvalidValue, "/quoteId".into())], "R53");
    end(id, QuoteEvent::Decline).await.unwrap();
    assert_eq!(h.quote_state(id).await["state"], "declined");
    assert_eq!(
        problems(end("nothing", QuoteEvent::Cancel).await),
        [(ViolationCode::ReferenceNotFound, "/quoteId".into())]
    );
    let stranger = Tenant::new(Irp::Sonata, "LSO", "GLOBEX");
    assert!(matches!(h.bus.quote(Some(&stranger.key()), id).await, Err(BusError::NotFound(_))));
}

#[tokio::test]
async fn mef115_request_rules_are_each_reported_with_their_property() {
    let h = harness();
    let mut no_level = quote("firm", false, vec![]);
    no_level.as_object_mut().unwrap().remove("buyerRequestedQuoteLevel");
    no_level.as_object_mut().unwrap().remove("requestedQuoteCompletionDate");
    no_level["relatedContactInformation"] = json!([]);
    assert_eq!(
        problems(h.bus.create_quote(&h.tenant, no_level).await),
        [
            (ViolationCode::MissingProperty, "/buyerRequestedQuoteLevel".into()),
            (ViolationCode::MissingProperty, "/relatedContactInformation".into()),
            (ViolationCode::MissingProperty, "/requestedQuoteCompletionDate".into()),
            (ViolationCode::MissingProperty, "/quoteItem".into()),
        ]
    );
    let mut bad = quote_item("1", UNI, None);
    bad["relatedContactInformation"] = json!([]);
    bad["product"]["id"] = json!("p-1");
    bad["product"]["productConfiguration"]["listOfPhyLinks"] = json!("many");
    let delete = json!({"id": "2", "action": "delete", "product": {"id": "missing", "productOffering": {"id": "x"}},
                        "quoteItemRelationship": [{"id": "9", "relationshipType": "RELIES_ON"}],
                        "relatedContactInformation": [contact("quoteItemTechnicalContact")]});
    let found = problems(h.bus.create_quote(&h.tenant, quote("firm", false, vec![bad, delete])).await);
    assert_eq!(
        found,
        [
            (ViolationCode::MissingProperty, "/quoteItem/0/relatedContactInformation".into()),
            (ViolationCode::UnexpectedProperty, "/quoteItem/0/product/id".into()),
            (ViolationCode::InvalidValue, "/quoteItem/0/product/productConfiguration/listOfPhyLinks".into()),
            (ViolationCode::MissingProperty, "/quoteItem/0/relatedContactInformation".into()),
            (ViolationCode::ReferenceNotFound, "/quoteItem/1/quoteItemRelationship/0/id".into()),
            (ViolationCode::ReferenceNotFound, "/quoteItem/1/product/id".into()),
            (ViolationCode::UnexpectedProperty, "/quoteItem/1/product/productOffering".into()),
        ]
    );
    let mut poq = quote_item("1", EVPL, None);
    poq["productOfferingQualificationItem"] = json!({"id": "1", "productOfferingQualificationId": "nothing"});
    assert_eq!(
        problems(h.bus.create_quote(&h.tenant, quote("firm", true, vec![poq])).await),
        [(
            ViolationCode::ReferenceNotFound,
            "/quoteItem/0/productOfferingQualificationItem/productOfferingQualificationId".into()
        )]
    );
}

/// An order of the product quoted as item "1" of `quote`, for `months`.
fn order_on_quote(quote: &Value, months: i64) -> Value {
    let mut item = item("1", "add", quote["quoteItem"][0]["product"].clone());
    item["quoteItem"] = json!({"id": "1", "quoteId": quote["id"]});
    item["requestedItemTerm"]["duration"]["amount"] = json!(months);
    order(vec![item])
}

#[tokio::test]
async fn mef123_an_order_on_a_quote_must_match_it_and_accepts_it() {
    let h = harness();
    let quoted =
        h.bus.create_quote(&h.tenant, quote("firm", true, vec![quote_item("1", EVPL, Some(24))])).await.unwrap();
    let id = quoted["id"].as_str().unwrap();

    let mut other = order_on_quote(&quoted, 24);
    other["productOrderItem"][0]["product"]["productConfiguration"]["maximumFrameSize"] = json!(2000);
    assert_eq!(
        problems(h.create(other).await),
        [(ViolationCode::InvalidValue, "/productOrderItem/0/product/productConfiguration".into())]
    );
    let mut unknown = order_on_quote(&quoted, 24);
    unknown["productOrderItem"][0]["quoteItem"]["id"] = json!("7");
    assert_eq!(
        problems(h.create(unknown).await),
        [(ViolationCode::ReferenceNotFound, "/productOrderItem/0/quoteItem/id".into())]
    );

    let wrong_term = h.create(order_on_quote(&quoted, 12)).await.unwrap();
    h.settle().await;
    let rejected = h.order(wrong_term["id"].as_str().unwrap()).await;
    assert_eq!(rejected.state, OrderState::Rejected, "MEF 123 R38");
    let error = &rejected.product_order_item[0].termination_error.as_ref().unwrap()[0];
    assert_eq!(error.property_path.as_deref(), Some("/productOrderItem/0/requestedItemTerm"));
    assert_eq!(h.quote_state(id).await["state"], "approved.orderable", "a rejected order accepts nothing");

    let ordered = h.create(order_on_quote(&quoted, 24)).await.unwrap();
    h.settle().await;
    assert_eq!(h.order(ordered["id"].as_str().unwrap()).await.state, OrderState::Completed);
    let accepted = h.quote_state(id).await;
    assert_eq!(accepted["state"], "accepted");
    assert_eq!(
        accepted["stateChange"].as_array().unwrap().last().unwrap()["changeReason"],
        format!("ordered by product order {}", ordered["id"].as_str().unwrap())
    );
    assert_eq!(
        problems(h.create(order_on_quote(&quoted, 24)).await),
        [(ViolationCode::InvalidValue, "/productOrderItem/0/quoteItem/quoteId".into())],
        "a quote is ordered once"
    );
}

#[tokio::test]
async fn a_buyers_price_agreement_takes_its_discount_off_the_quoted_prices_of_what_it_covers() {
    let list = harness();
    let agreed = harness_configured(|config| {
        config.agreements = vec![
            crate::PriceAgreement { buyer: "ACME".into(), specifications: vec![EVPL.into()], discount_percent: 20.0 },
            crate::PriceAgreement { buyer: "OTHER".into(), specifications: Vec::new(), discount_percent: 50.0 },
        ]
    });
    let items = || vec![quote_item("1", EVPL, Some(12)), quote_item("2", UNI, None)];
    let at_list = list.bus.create_quote(&list.tenant, quote("firm", true, items())).await.unwrap();
    let at_agreed = agreed.bus.create_quote(&agreed.tenant, quote("firm", true, items())).await.unwrap();
    let (list_items, agreed_items) = (&at_list["quoteItem"], &at_agreed["quoteItem"]);
    // evpl.json: 60 + 1.5 × 50 Mbit/s a month, and 300 to install; 20 % off for ACME.
    assert_eq!((monthly(&list_items[0]), monthly(&agreed_items[0])), (135.0, 108.0));
    let installation = |item: &Value| item["quoteItemPrice"][1]["price"]["dutyFreeAmount"]["value"].as_f64().unwrap();
    assert_eq!((installation(&list_items[0]), installation(&agreed_items[0])), (300.0, 240.0));
    assert_eq!(agreed_items[0]["quoteItemPrice"][0]["name"], "Monthly charge, 20% off by agreement");
    assert_eq!(
        monthly(&agreed_items[1]),
        monthly(&list_items[1]),
        "the UNI is not covered; OTHER's agreement is not ACME's"
    );
}
