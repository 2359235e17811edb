//! Billing runs (MEF 141) on a fixed clock: prorated recurring charges, installation charges,
//! terminations mid-period, reruns that bill nothing twice, and payments.

use super::*;
use std::time::Duration;

const DAY: i64 = 86_400_000;
// NOW is 2027-01-15T08:00Z.
const JANUARY: (i64, i64) = (NOW - 14 * DAY - 8 * 3_600_000, NOW + 17 * DAY - 8 * 3_600_000);
const FEBRUARY: (i64, i64) = (JANUARY.1, JANUARY.1 + 28 * DAY);

async fn bill_of(h: &Harness, start: i64) -> Value {
    let bills = h
        .bus
        .list_customer_bills(lso_store::Selection {
            tenant: Some(h.tenant.key()),
            filters: Vec::new(),
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap()
        .0;
    let find = bills
        .iter()
        .find(|b| b["billingPeriod"]["startDateTime"] == lso_model::DateTime::from_millis(start).as_str())
        .unwrap();
    h.bus.customer_bill(None, find["id"].as_str().unwrap()).await.unwrap()
}

async fn items_of(h: &Harness, bill: &Value) -> Vec<(String, String, f64)> {
    let mut items = Vec::new();
    for reference in bill["customerBillItem"].as_array().unwrap() {
        let item = h.bus.customer_bill_item(None, reference["id"].as_str().unwrap()).await.unwrap();
        items.push((
            item["productName"].as_str().unwrap().to_owned(),
            item["customerBillItemType"].as_str().unwrap().to_owned(),
            item["taxExcludedAmount"]["value"].as_f64().unwrap(),
        ));
    }
    items.sort_by(|a, b| a.partial_cmp(b).unwrap());
    items
}

#[tokio::test]
async fn mef141_a_month_is_billed_per_account_prorated_by_the_days_each_product_was_active() {
    let h = harness();
    let uni = active_product(&h, UNI).await;
    let evpl = active_product(&h, EVPL).await;
    let report = h.bus.billing_run(JANUARY.0, JANUARY.1).await.unwrap();
    assert_eq!((report.products, report.bills, report.items), (2, 1, 4));
    let january = bill_of(&h, JANUARY.0).await;
    assert_eq!(january["billingAccount"]["id"], "ba-1");
    assert_eq!(january["state"], "generated");
    // Active from 15 January 08:00: 16 days and 16 hours of 31. EVPL 60 + 1.5 × 50 Mbit/s a
    // month, UNI 100; installation 300 and 500 on 12-month terms.
    let share = (16.0 + 16.0 / 24.0) / 31.0;
    let cents = |value: f64| (value * 100.0).round() / 100.0;
    let (uni_name, evpl_name) =
        ("Carrier Ethernet Subscriber UNI".to_owned(), "Ethernet Virtual Private Line".to_owned());
    let expected = vec![
        (uni_name.clone(), "nonRecurring".to_owned(), 500.0),
        (uni_name, "recurring".to_owned(), cents(100.0 * share)),
        (evpl_name.clone(), "nonRecurring".to_owned(), 300.0),
        (evpl_name, "recurring".to_owned(), cents(135.0 * share)),
    ];
    let items = items_of(&h, &january).await;
    assert_eq!(items, expected);
    let total: f64 = items.iter().map(|i| i.2).sum();
    assert_eq!(january["amountDue"]["value"].as_f64().unwrap(), (total * 100.0).round() / 100.0);

    // The EVPL is deleted on 10 February at 08:00: 9 days and 8 hours of 28 are billed.
    h.clock.advance(Duration::from_millis((26 * DAY) as u64));
    h.create(order(vec![item("d", "delete", json!({"id": evpl}))])).await.unwrap();
    h.settle().await;
    h.bus.billing_run(FEBRUARY.0, FEBRUARY.1).await.unwrap();
    let february = items_of(&h, &bill_of(&h, FEBRUARY.0).await).await;
    let evpl_share = (9.0 + 8.0 / 24.0) / 28.0;
    let amounts: Vec<f64> = february.iter().map(|i| i.2).collect();
    assert_eq!(amounts, [100.0, cents(135.0 * evpl_share)], "{february:?}");
    assert!(h.bus.product(None, &uni).await.is_ok());

    let again = h.bus.billing_run(FEBRUARY.0, FEBRUARY.1).await.unwrap();
    assert_eq!((again.bills, again.already_billed), (0, 1), "nothing is billed twice");
}

#[tokio::test]
async fn mef141_payments_settle_a_bill() {
    let h = harness();
    active_product(&h, UNI).await;
    h.bus.billing_run(JANUARY.0, JANUARY.1).await.unwrap();
    let bill = bill_of(&h, JANUARY.0).await;
    let id = bill["id"].as_str().unwrap();
    let due = bill["amountDue"]["value"].as_f64().unwrap();
    assert_eq!(
        problems(h.bus.record_payment(&h.tenant, id, due + 1.0, "cash").await),
        [(ViolationCode::InvalidValue, "/amount".into())]
    );
    let part = h.bus.record_payment(&h.tenant, id, 100.0, "wireTransfer").await.unwrap();
    assert_eq!(part["state"], "paymentDue");
    assert_eq!(part["remainingAmount"]["value"].as_f64().unwrap(), ((due - 100.0) * 100.0).round() / 100.0);
    let settled = h.bus.record_payment(&h.tenant, id, due - 100.0, "wireTransfer").await.unwrap();
    assert_eq!(settled["state"], "settled");
    assert_eq!(settled["appliedPayment"].as_array().unwrap().len(), 2);
    let stranger = Tenant::new(Irp::Sonata, "LSO", "GLOBEX");
    assert!(matches!(h.bus.record_payment(&stranger, id, 1.0, "cash").await, Err(BusError::NotFound(_))));
}

#[tokio::test]
async fn mef141_a_change_mid_period_is_billed_at_each_configuration_for_its_share() {
    let h = harness();
    let evpl = active_product(&h, EVPL).await;
    // On 10 February at 08:00 the EVPL goes from 50 to 100 Mbit/s.
    h.clock.advance(Duration::from_millis((26 * DAY) as u64));
    let mut faster = Catalog::built_in().unwrap().get(EVPL).unwrap().example.clone();
    for end in ["evcEndPointA", "evcEndPointZ"] {
        faster[end]["ingressBandwidthProfilePerClassOfServiceName"][0]["bwpFlow"][0]["cir"]["irValue"] = json!(100);
    }
    let modify =
        item("m", "modify", json!({"id": evpl, "productOffering": {"id": "offer-1"}, "productConfiguration": faster}));
    h.create(order(vec![modify])).await.unwrap();
    h.settle().await;
    h.bus.billing_run(FEBRUARY.0, FEBRUARY.1).await.unwrap();
    let february = items_of(&h, &bill_of(&h, FEBRUARY.0).await).await;
    let cents = |value: f64| (value * 100.0).round() / 100.0;
    let before = (9.0 + 8.0 / 24.0) / 28.0;
    let amounts: Vec<f64> = february.iter().map(|i| i.2).collect();
    // 60 + 1.5 × 50 a month before, 60 + 1.5 × 100 after.
    assert_eq!(amounts, [cents(135.0 * before), cents(210.0 * (1.0 - before))], "{february:?}");
}

#[tokio::test]
async fn mef141_a_buyers_agreed_discount_is_billed() {
    let h = harness_configured(|config| {
        config.agreements =
            vec![crate::PriceAgreement { buyer: "ACME".into(), specifications: Vec::new(), discount_percent: 10.0 }]
    });
    active_product(&h, EVPL).await;
    h.bus.billing_run(JANUARY.0, JANUARY.1).await.unwrap();
    let january = bill_of(&h, JANUARY.0).await;
    let share = (16.0 + 16.0 / 24.0) / 31.0;
    let evpl = "Ethernet Virtual Private Line".to_owned();
    assert_eq!(
        items_of(&h, &january).await,
        [
            (evpl.clone(), "nonRecurring".to_owned(), 270.0),
            (evpl, "recurring".to_owned(), (135.0 * 0.9 * share * 100.0_f64).round() / 100.0)
        ],
        "10 % off the EVPL's 300 to install and 135 a month"
    );
    let taken = 30.0 + ((135.0 - 121.5) * share * 100.0_f64).round() / 100.0;
    assert_eq!(january["discounts"]["value"].as_f64().unwrap(), (taken * 100.0_f64).round() / 100.0);
}
