//! A Buyer's whole journey on each reference point, on the demo network: its addresses
//! validated, its sites found, the services qualified and quoted, the quote ordered, the
//! products in its inventory and on the network, a trouble ticket, and the month's bill.

use crate::quote::{evpl_between, order_on, quote, uni_at};
use crate::support::*;
use lso_model::Irp;
use lso_server::config::FulfilmentMode;
use serde_json::{Value, json};

fn fielded(street_nr: &str, street: &str, kind: &str, city: &str, state: &str, postcode: &str) -> Value {
    json!({"provideAlternative": true, "submittedGeographicAddress": {"@type": "FieldedAddress", "streetNr": street_nr,
           "streetName": street, "streetType": kind, "city": city, "stateOrProvince": state, "postcode": postcode, "country": "US"}})
}

#[tokio::test]
async fn a_buyer_goes_from_an_address_to_a_bill_on_each_reference_point() {
    for irp in [Irp::Sonata, Irp::Cantata] {
        let app = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
        let post = async |base: String, path: &str, body: &Value, status: u16| {
            let answer = app.call("POST", &format!("{base}{path}"), Some(body)).await;
            assert_eq!(answer.status, status, "{irp} {path}: {:#}", answer.body);
            answer.body
        };

        // The Buyer's two offices, typed as people type them.
        let mut sites = Vec::new();
        for request in [
            fielded("350", "5th", "Ave", "new york", "NY", "10118"),
            fielded("100", "Sumer", "St", "Boston", "MA", "02110"),
        ] {
            let validated =
                post(lso_mef_product::address_base(irp), "/geographicAddressValidation", &request, 200).await;
            let address = validated["bestMatchGeographicAddress"]["id"].as_str().unwrap().to_owned();
            let path = format!("{}/geographicSite?geographicAddress.id={address}", lso_mef_product::site_base(irp));
            let found = app.call("GET", &path, None).await.body;
            sites.push(found[0]["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(sites, ["site-new-york", "site-boston"]);

        let items = vec![uni_at("1", &sites[0]), uni_at("2", &sites[1]), evpl_between("3", "1", "2", 20)];
        let mut poq_items = Vec::new();
        for item in &items {
            let mut poq_item = json!({"id": item["id"], "action": "add", "product": item["product"]});
            if let Some(relations) = item.get("quoteItemRelationship") {
                poq_item["qualificationItemRelationship"] = relations.clone();
            }
            poq_items.push(poq_item);
        }
        let poq = json!({"instantSyncQualification": true, "relatedContactInformation": [contact("buyerContactInformation")],
                         "productOfferingQualificationItem": poq_items});
        let qualified = post(lso_mef_product::poq_base(irp), "/productOfferingQualification", &poq, 201).await;
        assert_eq!(qualified["state"], "done.ready");
        let confidence = each(&qualified, "productOfferingQualificationItem", "serviceabilityConfidence");
        assert_eq!(confidence, ["green", "green", "green"]);

        let mut quoted_items = items.clone();
        for item in &mut quoted_items {
            item["productOfferingQualificationItem"] =
                json!({"id": item["id"], "productOfferingQualificationId": qualified["id"]});
        }
        let quoted = post(lso_mef_product::quote_base(irp), "/quote", &quote(true, quoted_items), 201).await;
        assert_eq!(
            (quoted["state"].as_str(), quoted["quoteLevel"].as_str()),
            (Some("approved.orderable"), Some("firm"))
        );

        let ordering = lso_mef_product::ordering_base(irp);
        let placed = post(ordering.clone(), "/productOrder", &order_on(&quoted), 201).await;
        let done = app.wait_until_final(&ordering, placed["id"].as_str().unwrap()).await;
        assert_eq!(done["state"], "completed", "{done:#}");
        let accepted = app
            .call(
                "GET",
                &format!("{}/quote/{}", lso_mef_product::quote_base(irp), quoted["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(accepted.body["state"], "accepted");

        let inventory = lso_mef_product::inventory_base(irp);
        let products = app
            .call(
                "GET",
                &format!("{inventory}/product?productOrderId={}&status=active", done["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(products.body.as_array().unwrap().len(), 3, "{:#}", products.body);
        let evpl = done["productOrderItem"][2]["product"]["id"].as_str().unwrap().to_owned();
        assert_eq!(app.seller.icm.read(|n| n.reservations().len()).await, 1, "the EVPL is on the network");

        let ticket = json!({"description": "slow", "observedImpact": "degraded", "priority": "medium", "severity": "minor",
            "ticketType": "assistance", "relatedEntity": [{"@referredType": "Product", "id": evpl, "role": "affectedProduct"}],
            "relatedContactInformation": [contact("reporterContact")]});
        let tickets = lso_mef_product::ticket_base(irp);
        let created = post(tickets.clone(), "/troubleTicket", &ticket, 201).await;
        app.wait_until(&format!("{tickets}/troubleTicket/{}", created["id"].as_str().unwrap()), |t| {
            t["status"] == "inProgress"
        })
        .await;

        // The month the first of the products started in, as the Seller recorded it (the three
        // start together, unless the order straddled the turn of a month).
        let started: Vec<String> = products
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["startDate"].as_str().unwrap()[..7].to_owned())
            .collect();
        let month = started.iter().min().unwrap().clone();
        let run = app.call_as(&app.admin, "POST", "/lso/admin/v1/billing/run", Some(&json!({"period": month}))).await;
        assert_eq!(run.body["bills"], 1, "{:#}", run.body);
        let billing = lso_mef_product::billing_base(irp);
        let bills = app.call("GET", &format!("{billing}/customerBill?billingAccount.id=ba-1"), None).await.body;
        let bill =
            app.call("GET", &format!("{billing}/customerBill/{}", bills[0]["id"].as_str().unwrap()), None).await.body;
        assert_eq!(
            bill["customerBillItem"].as_array().unwrap().len(),
            2 * started.iter().filter(|m| **m == month).count(),
            "a month's share and the installation of each product started in {month}"
        );
        assert!(bill["amountDue"]["value"].as_f64().unwrap() > 0.0);

        // Every POST, PATCH and DELETE of the journey is in the audit trail once, with its subject.
        let mut made: Vec<Change> = app.changes.lock().unwrap().clone();
        let audited = app
            .wait_until_as(&app.admin, "/lso/admin/v1/audit?limit=1000", |a| a.as_array().unwrap().len() >= made.len())
            .await;
        let mut recorded: Vec<Change> = audited
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let text = |name: &str| e[name].as_str().unwrap_or_default().to_owned();
                (text("method"), text("path"), e["status"].as_u64().unwrap() as u16, text("subject"))
            })
            .collect();
        made.sort();
        recorded.sort();
        assert!(made.len() > 5, "{made:?}");
        assert_eq!(recorded, made, "{irp}");
        app.seller.stop().await;
    }
}
