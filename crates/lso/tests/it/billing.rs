//! Customer bills over both reference points: an operator's billing run bills the month's
//! products, the Buyer reads its bills and their items, a payment settles a bill, and every
//! answer and event meets the official files. The Seller's clock stands at 15 May 2031, so the
//! month billed and its amounts are the same on every run.

use crate::support::*;
use lso_model::{Clock, SystemClock};
use serde_json::json;

const UNI: &str = "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all";
/// 2031-05-15T10:00:00Z.
const NOW: i64 = 1_936_605_600_000;

#[tokio::test]
async fn a_billing_run_bills_the_months_products_and_a_payment_settles_the_bill() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app_at(NOW, |_| {}).await;
        let point: lso_model::Irp = irp.to_lowercase().parse().unwrap();
        let contract = Contract::load(&format!("{irp}/productApi/billing/billingManagement.api.yaml"));
        let events = Contract::load(&format!("{irp}/productApi/billing/billingNotification.api.yaml"));
        let base = lso_mef_product::billing_base(point);
        let (receiver, hub) = app.listening_at(&base).await;
        Contract::assert_valid(&contract.response("/hub", "post", 201), &hub, "the hub");

        let ordering = lso_mef_product::ordering_base(point);
        let mut order = order_of(&example(UNI), Some("INSTALL_LOCATION"));
        order["productOrderItem"][0]["requestedCompletionDate"] = json!("2031-06-14T10:00:00Z");
        let placed = app.call("POST", &format!("{ordering}/productOrder"), Some(&order)).await;
        let done = app.wait_until_final(&ordering, placed.body["id"].as_str().unwrap()).await;
        let uni = done["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned();

        let month = "2031-05";
        let bad =
            app.call_as(&app.admin, "POST", "/lso/admin/v1/billing/run", Some(&json!({"period": "2026-13"}))).await;
        assert_eq!(bad.status, 422);
        let run = app.call_as(&app.admin, "POST", "/lso/admin/v1/billing/run", Some(&json!({"period": month}))).await;
        assert_eq!(run.status, 200, "{:#}", run.body);
        assert_eq!((run.body["bills"].as_u64(), run.body["items"].as_u64()), (Some(1), Some(2)), "{:#}", run.body);

        let listed =
            app.call("GET", &format!("{base}/customerBill?billingAccount.id=ba-1&state=generated"), None).await;
        Contract::assert_valid(&contract.response("/customerBill", "get", 200), &listed.body, "the bills");
        assert_eq!(listed.body.as_array().unwrap().len(), 1);
        let id = listed.body[0]["id"].as_str().unwrap().to_owned();
        // The file types one bill (and one item) as an array of them (mef-digest §0.3).
        let bill = app.call("GET", &format!("{base}/customerBill/{id}"), None).await.body;
        Contract::assert_valid(&contract.validator("/components/schemas/CustomerBill"), &bill, "a bill");
        let item_id = bill["customerBillItem"][0]["id"].as_str().unwrap();
        let item = app.call("GET", &format!("{base}/customerBillItem/{item_id}"), None).await.body;
        Contract::assert_valid(&contract.validator("/components/schemas/CustomerBillItem"), &item, "a bill item");
        assert_eq!(item["product"]["id"], uni.as_str());
        assert_eq!(item["productOrderItem"]["productOrderId"], done["id"]);

        // The bill's document is the printable bill, as a PDF reader shows it.
        let document = bill["billDocument"]["url"].as_str().unwrap();
        let printable = app.client.get(app.url(document)).bearer_auth(&app.token).send().await.unwrap();
        assert_eq!(printable.headers()["content-type"], "application/pdf");
        let pdf = app.dir.path().join(format!("{id}.pdf"));
        std::fs::write(&pdf, printable.bytes().await.unwrap()).unwrap();
        let read =
            std::process::Command::new("pdftotext").arg(&pdf).arg("-").output().expect("pdftotext (poppler-utils)");
        assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
        let text = String::from_utf8(read.stdout).unwrap();
        let total = format!("Total due: {:.2} USD", bill["amountDue"]["value"].as_f64().unwrap());
        for expected in [format!("Bill {}", bill["billNo"].as_str().unwrap()), total, uni.clone()] {
            assert!(text.contains(&expected), "{expected} in {text}");
        }

        let due = bill["amountDue"]["value"].as_f64().unwrap();
        let payment = format!("/lso/admin/v1/{}/customerBill/{id}/payment?buyerId=ACME", irp.to_lowercase());
        let paid = app
            .call_as(&app.admin, "POST", &payment, Some(&json!({"amount": due, "paymentMethod": "electronic"})))
            .await;
        assert_eq!(paid.status, 200, "{:#}", paid.body);
        assert_eq!(paid.body["state"], "settled");
        let again = app.call_as(&app.admin, "POST", "/lso/admin/v1/billing/run", Some(&json!({"period": month}))).await;
        assert_eq!((again.body["bills"].as_u64(), again.body["alreadyBilled"].as_u64()), (Some(0), Some(1)));

        let stranger = app.seller.auth.mint(
            &lso_http::Principal::buyer("globex", vec!["GLOBEX".into()]),
            SystemClock.now_seconds(),
            3600,
        );
        assert_eq!(app.call_as(&stranger, "GET", &format!("{base}/customerBill/{id}"), None).await.status, 404);
        assert_eq!(app.call_as(&stranger, "GET", document, None).await.status, 404, "nor its document");
        assert_eq!(app.call_as(&stranger, "GET", &format!("{base}/customerBill"), None).await.body, json!([]));

        app.wait_for_deliveries_to(&receiver).await;
        let checked = receiver.checked("/customerBillNotification/v2", |_| &events);
        let kinds: Vec<String> = checked.into_iter().map(|(kind, _)| kind).collect();
        assert_eq!(kinds, ["customerBillCreateEvent", "customerBillStateChangeEvent"]);
    }
}
