//! Quote Management over both reference points on the demo network: firm quotes checked on
//! the network, an order on a quote, the Buyer's cancel and decline, and every answer and event
//! valid against the official files.

use crate::support::*;
use lso_server::config::FulfilmentMode;
use serde_json::{Value, json};

const UNI: &str = "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all";

fn offering(spec: &str) -> String {
    lso_spec::Catalog::built_in().unwrap().get(spec).unwrap().offering_id()
}

pub(crate) fn uni_at(id: &str, site: &str) -> Value {
    json!({"id": id, "action": "add", "product": {"productOffering": {"id": offering(UNI)}, "productConfiguration": example(UNI),
           "place": [{"@type": "GeographicSiteRef", "id": site, "role": "INSTALL_LOCATION"}]},
           "relatedContactInformation": [contact("quoteItemTechnicalContact"), contact("quoteItemLocationContact")]})
}

pub(crate) fn evpl_between(id: &str, a: &str, z: &str, cir: u64) -> Value {
    let mut configuration = example(EVPL);
    for end in ["evcEndPointA", "evcEndPointZ"] {
        configuration[end]["ingressBandwidthProfilePerClassOfServiceName"][0]["bwpFlow"][0]["cir"]["irValue"] =
            json!(cir);
    }
    json!({"id": id, "action": "add", "product": {"productOffering": {"id": offering(EVPL)}, "productConfiguration": configuration},
           "relatedContactInformation": [contact("quoteItemTechnicalContact")],
           "quoteItemRelationship": [{"id": a, "relationshipType": "CONNECTS_TO_UNI_A"}, {"id": z, "relationshipType": "CONNECTS_TO_UNI_Z"}]})
}

pub(crate) fn quote(instant: bool, items: Vec<Value>) -> Value {
    json!({"buyerRequestedQuoteLevel": "firm", "instantSyncQuote": instant, "requestedQuoteCompletionDate": days_from_now(2),
           "relatedContactInformation": [contact("buyerContactInformation")], "quoteItem": items})
}

/// An order of everything `quote` quoted, each item referencing its quote item.
pub(crate) fn order_on(quote: &Value) -> Value {
    let mut order = order_of(&example(UNI), None);
    let template = order["productOrderItem"][0].clone();
    let items: Vec<Value> = quote["quoteItem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|quoted| {
            let mut item = template.clone();
            item["id"] = quoted["id"].clone();
            item["product"] = quoted["product"].clone();
            item["quoteItem"] = json!({"id": quoted["id"], "quoteId": quote["id"]});
            if let Some(relations) = quoted.get("quoteItemRelationship") {
                item["productOrderItemRelationship"] = relations.clone();
            }
            item
        })
        .collect();
    order["productOrderItem"] = json!(items);
    order
}

#[tokio::test]
async fn firm_quotes_come_from_the_network_an_order_accepts_its_quote_and_every_answer_meets_the_contract() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app_with(|c| {
            c.fulfilment.by = FulfilmentMode::Network;
            c.quotes.answer_seconds = 3600; // deferred quotes stay in progress to be cancelled
        })
        .await;
        let contract = Contract::load(&format!("{irp}/productApi/quote/quoteManagement.api.yaml"));
        let events = Contract::load(&format!("{irp}/productApi/quote/quoteNotification.api.yaml"));
        let point: lso_model::Irp = irp.to_lowercase().parse().unwrap();
        let base = lso_mef_product::quote_base(point);
        let (receiver, hub) = app.listening_at(&base).await;
        Contract::assert_valid(&contract.response("/hub", "post", 201), &hub, "the hub");
        let ask = async |path: &str, body: Value, status: u16| {
            let answer = app.call("POST", &format!("{base}{path}"), Some(&body)).await;
            assert_eq!(answer.status, status, "{path}: {:#}", answer.body);
            Contract::assert_valid(&contract.response(path, "post", status), &answer.body, path);
            answer.body
        };

        let items = vec![uni_at("1", "site-boston"), uni_at("2", "site-new-york"), evpl_between("3", "1", "2", 20)];
        let firm = ask("/quote", quote(true, items), 201).await;
        assert_eq!(firm["state"], "approved.orderable", "{firm:#}");
        assert_eq!(firm["quoteLevel"], "firm", "the network was asked: nothing is subject to a check");
        let unable =
            ask("/quote", quote(true, vec![uni_at("1", "site-nowhere"), uni_at("2", "site-boston")]), 201).await;
        assert_eq!(unable["state"], "unableToProvide");
        assert_eq!(unable["quoteItem"][0]["terminationError"][0]["propertyPath"], "/quoteItem/0/product/place");
        let items = vec![uni_at("1", "site-boston"), uni_at("2", "site-new-york"), evpl_between("3", "1", "2", 5000)];
        let too_fast = ask("/quote", quote(true, items), 201).await;
        assert_eq!(too_fast["quoteItem"][2]["state"], "unableToProvide");
        assert!(too_fast["quoteItem"][2]["terminationError"][0]["value"].as_str().unwrap().contains("5000"));

        let ordering = lso_mef_product::ordering_base(point);
        app.order_completed(&ordering, &order_on(&firm)).await;
        let firm_id = firm["id"].as_str().unwrap();
        let accepted = app.call("GET", &format!("{base}/quote/{firm_id}"), None).await;
        Contract::assert_valid(&contract.response("/quote/{id}", "get", 200), &accepted.body, "a quote");
        assert_eq!(accepted.body["state"], "accepted");
        let again = app.call("POST", &format!("{ordering}/productOrder"), Some(&order_on(&firm))).await;
        assert_eq!(again.status, 422, "an accepted quote is not ordered twice: {:#}", again.body);

        let declined = ask("/quote", quote(true, vec![uni_at("1", "site-boston")]), 201).await;
        let id = declined["id"].as_str().unwrap();
        let echoed = ask("/rejectQuote", json!({"quoteId": id, "reason": "too dear"}), 200).await;
        assert_eq!(echoed, json!({"quoteId": id, "reason": "too dear"}));
        ask("/cancelQuote", json!({"quoteId": id}), 422).await;
        let declined_again = app.call("POST", &format!("{base}/declineQuote"), Some(&json!({"quoteId": id}))).await;
        assert_eq!(declined_again.status, 422, "the guide's name for rejectQuote: {:#}", declined_again.body);

        let deferred = ask("/quote", quote(false, vec![uni_at("1", "site-boston")]), 201).await;
        assert_eq!(deferred["state"], "acknowledged");
        let id = deferred["id"].as_str().unwrap();
        app.wait_until(&format!("{base}/quote/{id}"), |q| q["state"] == "inProgress").await;
        ask("/cancelQuote", json!({"quoteId": id}), 200).await;

        let listed = app.call("GET", &format!("{base}/quote?state=accepted&quoteLevel=firm"), None).await;
        Contract::assert_valid(&contract.response("/quote", "get", 200), &listed.body, "the list");
        let ids: Vec<&Value> = listed.body.as_array().unwrap().iter().map(|q| &q["id"]).collect();
        assert_eq!(ids, [&firm["id"]]);
        let refused = ask("/quote", json!({"instantSyncQuote": true, "quoteItem": []}), 422).await;
        assert_eq!(refused.as_array().unwrap().len(), 2, "{refused:#}");
        assert_eq!(app.call("GET", &format!("{base}/quote/nothing"), None).await.status, 404);

        app.wait_for_deliveries_to(&receiver).await;
        let mut seen = Vec::new();
        let under = format!("/quoteNotification/{}", base.rsplit('/').next().unwrap());
        for (kind, event) in receiver.checked(&under, |_| &events) {
            assert_eq!(event["event"].get("quoteItemId").is_some(), kind == "quoteItemStateChangeEvent");
            seen.push((event["event"]["id"].as_str().unwrap().to_owned(), kind));
        }
        let count = |id: &str, kind: &str| seen.iter().filter(|(i, k)| i == id && k == kind).count();
        assert_eq!(
            count(firm_id, "quoteStateChangeEvent"),
            1,
            "instant quotes announce only leaving an orderable state (CR3)"
        );
        assert_eq!(count(declined["id"].as_str().unwrap(), "quoteStateChangeEvent"), 1);
        assert_eq!(count(id, "quoteStateChangeEvent"), 2, "inProgress, cancelled");
        assert_eq!(count(id, "quoteItemStateChangeEvent"), 2, "inProgress, abandoned");
    }
}
