//! The tenant isolation matrix: for every resource type of the product APIs, another Buyer of
//! the same Seller gets 404 when it reads it, never sees it in a list, gets 404 when it changes
//! it, and gets 404 for the first Buyer's hubs.

use crate::quote::{evpl_between, order_on, quote, uni_at};
use crate::support::*;
use lso_model::Irp;
use lso_model::{Clock, SystemClock};
use lso_server::config::FulfilmentMode;
use serde_json::{Value, json};

#[tokio::test]
async fn another_buyer_gets_404_for_every_resource_and_hub_of_the_first() {
    for irp in [Irp::Sonata, Irp::Cantata] {
        let app = spawn_app_with(|c| {
            c.fulfilment.by = FulfilmentMode::Network;
            c.network.alarm_poll_millis = 3_600_000;
        })
        .await;
        let stranger = app.seller.auth.mint(
            &lso_http::Principal::buyer("globex", vec!["GLOBEX".into()]),
            SystemClock.now_seconds(),
            3600,
        );
        let post = async |path: String, body: Value| {
            let answer = app.call("POST", &path, Some(&body)).await;
            assert!(answer.status < 300, "{path}: {:#}", answer.body);
            answer.body
        };
        let id = |v: &Value| v["id"].as_str().unwrap().to_owned();

        // Everything the first Buyer has: (list path, id, a change the API allows).
        let mut owned: Vec<(String, String, Option<Value>)> = Vec::new();
        let poq_base = lso_mef_product::poq_base(irp);
        let poq = json!({"instantSyncQualification": true, "relatedContactInformation": [contact("buyerContactInformation")],
            "productOfferingQualificationItem": [{"id": "1", "action": "add", "product": uni_at("1", "site-boston")["product"]}]});
        let poq = post(format!("{poq_base}/productOfferingQualification"), poq).await;
        owned.push((format!("{poq_base}/productOfferingQualification"), id(&poq), None));
        let quote_base = lso_mef_product::quote_base(irp);
        let items = vec![uni_at("1", "site-new-york"), uni_at("2", "site-boston"), evpl_between("3", "1", "2", 20)];
        let quoted = post(format!("{quote_base}/quote"), quote(true, items)).await;
        owned.push((format!("{quote_base}/quote"), id(&quoted), None));
        let ordering = lso_mef_product::ordering_base(irp);
        let order = post(format!("{ordering}/productOrder"), order_on(&quoted)).await;
        let done = app.wait_until_final(&ordering, &id(&order)).await;
        owned.push((format!("{ordering}/productOrder"), id(&order), Some(json!({"externalId": "mine"}))));
        let inventory = lso_mef_product::inventory_base(irp);
        let uni = done["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned();
        let evpl = done["productOrderItem"][2]["product"]["id"].as_str().unwrap().to_owned();
        owned.push((format!("{inventory}/product"), evpl.clone(), None));

        let tickets = lso_mef_product::ticket_base(irp);
        let ticket = post(
            format!("{tickets}/troubleTicket"),
            json!({"description": "no light", "observedImpact": "down",
            "priority": "high", "severity": "moderate", "ticketType": "installation",
            "relatedEntity": [{"@referredType": "Product", "id": uni, "role": "affectedProduct"}],
            "relatedContactInformation": [contact("reporterContact")]}),
        )
        .await;
        let pending =
            app.wait_until(&format!("{tickets}/troubleTicket/{}", id(&ticket)), |t| t["status"] == "pending").await;
        owned.push((format!("{tickets}/troubleTicket"), id(&ticket), Some(json!({"externalId": "mine"}))));
        let work_order = pending["workOrder"][0]["id"].as_str().unwrap().to_owned();
        owned.push((format!("{}/workorder", lso_mef_product::work_order_base(irp)), work_order.clone(), None));
        let appointments = lso_mef_product::appointment_base(irp);
        let (now, week) = (days_from_now(0), days_from_now(7));
        let window = json!({"startDateTime": now, "endDateTime": week});
        let slots = post(
            format!("{appointments}/searchTimeSlot"),
            json!({"workOrder": {"id": work_order}, "requestedTimeSlot": [{"validFor": window}]}),
        )
        .await;
        let booked = post(
            format!("{appointments}/appointment"),
            json!({"workOrder": {"id": work_order}, "validFor": slots["availableTimeSlot"][0]["validFor"],
            "relatedContactInformation": [contact("buyerAppointmentContact"), contact("appointmentPlaceContact")]}),
        )
        .await;
        owned.push((format!("{appointments}/appointment"), id(&booked), Some(json!({"note": []}))));

        let element = crate::ticket::element_under(&app).await;
        app.seller.ecm.simulated(&element).unwrap().set_down(true);
        app.seller.check_alarms().await;
        let incidents = app.call("GET", &format!("{tickets}/incident?relatedEntityId={evpl}"), None).await.body;
        owned.push((format!("{tickets}/incident"), id(&incidents[0]), None));

        // The month the EVPL started in, as the Seller recorded it.
        let product = app.call("GET", &format!("{}/product/{evpl}", lso_mef_product::inventory_base(irp)), None).await;
        let month = product.body["startDate"].as_str().unwrap()[..7].to_owned();
        app.call_as(&app.admin, "POST", "/lso/admin/v1/billing/run", Some(&json!({"period": month}))).await;
        let billing = lso_mef_product::billing_base(irp);
        let bills = app.call("GET", &format!("{billing}/customerBill"), None).await.body;
        owned.push((format!("{billing}/customerBill"), id(&bills[0]), None));
        let bill = app.call("GET", &format!("{billing}/customerBill/{}", id(&bills[0])), None).await.body;
        let item = bill["customerBillItem"][0]["id"].as_str().unwrap().to_owned();

        for (list, resource, change) in &owned {
            let path = format!("{list}/{resource}");
            assert_eq!(app.call("GET", &path, None).await.status, 200, "the owner reads {path}");
            assert_eq!(app.call_as(&stranger, "GET", &path, None).await.status, 404, "read {path}");
            let listed = app.call_as(&stranger, "GET", list, None).await;
            assert_eq!((listed.status, listed.body.clone()), (200, json!([])), "list {list}");
            if let Some(change) = change {
                assert_eq!(app.call_as(&stranger, "PATCH", &path, Some(change)).await.status, 404, "update {path}");
            }
        }
        let item_path = format!("{billing}/customerBillItem/{item}");
        assert_eq!(app.call_as(&stranger, "GET", &item_path, None).await.status, 404, "read {item_path}");
        let actions = [
            (format!("{tickets}/troubleTicket/{}/cancel", id(&ticket)), None),
            (format!("{appointments}/appointment/{}/cancel", id(&booked)), None),
            (format!("{quote_base}/rejectQuote"), Some(json!({"quoteId": id(&quoted)}))),
        ];
        for (path, body) in &actions {
            let answer = app.call_as(&stranger, "POST", path, body.as_ref()).await;
            assert!(matches!(answer.status, 404 | 422), "{path}: {} {:#}", answer.status, answer.body);
            if answer.status == 422 {
                assert_eq!(answer.body[0]["code"], "referenceNotFound", "{path}");
            }
        }

        let bases = [
            ordering,
            inventory,
            poq_base,
            quote_base,
            tickets,
            appointments,
            lso_mef_product::work_order_base(irp),
            billing,
        ];
        for base in bases {
            let hub = post(format!("{base}/hub"), json!({"callback": "http://buyer.example/listener"})).await;
            let path = format!("{base}/hub/{}", id(&hub));
            assert_eq!(app.call_as(&stranger, "GET", &path, None).await.status, 404, "read {path}");
            assert_eq!(app.call_as(&stranger, "DELETE", &path, None).await.status, 404, "delete {path}");
            assert_eq!(app.call("DELETE", &path, None).await.status, 204, "the owner deletes {path}");
        }
    }
}
