//! Unit tests of the BUS on a fresh SQLite database, with a fixed clock and a scripted
//! fulfilment where a test needs failures.

use super::*;
use lso_mef_product::{ProductOrder, ProductOrderCreate};
use lso_model::order::{ItemState, OrderState};
use lso_model::product::ProductStatus;
use lso_model::{FixedClock, Irp, SequentialIds, Tenant, ViolationCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

const NOW: i64 = 1_800_000_000_000;
const EVPL: &str = "urn:mef:lso:spec:cantata-sonata:evpl-evc:v1.0.0:all";
const UNI: &str = "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all";

/// Fails the items whose id it was told to fail with the reason given, keeps those told
/// `"wait"` in progress, and completes the others at once; it says it only looks when told
/// (it does only look).
#[derive(Default)]
struct Scripted(Mutex<HashMap<String, String>>, std::sync::atomic::AtomicBool);

impl Fulfilment for Scripted {
    fn progress<'a>(
        &'a self,
        request: FulfilmentRequest<'a>,
    ) -> Pin<Box<dyn Future<Output = FulfilmentStatus> + Send + 'a>> {
        let script = self.0.lock().unwrap().get(request.item_id).cloned();
        Box::pin(std::future::ready(match script.as_deref() {
            Some("wait") => FulfilmentStatus::InProgress { check_at: request.now + 3_600_000 },
            Some(reason) => FulfilmentStatus::Failed { reason: reason.to_owned() },
            None => FulfilmentStatus::Completed,
        }))
    }

    fn only_looks(&self) -> bool {
        self.1.load(std::sync::atomic::Ordering::Relaxed)
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    bus: Arc<Bus>,
    worker: lso_jobs::Worker,
    fulfilment: Arc<Scripted>,
    clock: Arc<FixedClock>,
    tenant: Tenant,
}

fn harness() -> Harness {
    harness_charging(ChargePolicy::default())
}

fn harness_charging(charges: ChargePolicy) -> Harness {
    harness_configured(|config| config.charges = charges)
}

fn harness_configured(adjust: impl FnOnce(&mut BusConfig)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lso.db")).unwrap();
    let catalog = Arc::new(Catalog::built_in().unwrap());
    let fulfilment = Arc::new(Scripted::default());
    let mut config = BusConfig::new(
        json!({"name": "Seller Desk", "emailAddress": "desk@seller.example", "number": "1", "role": "sellerContact"}),
    );
    // The test's callbacks are on loopback.
    config.self_addresses.allow_private_callbacks = true;
    adjust(&mut config);
    let clock = Arc::new(FixedClock::at(NOW));
    let bus = Arc::new(Bus::new(
        store,
        catalog,
        clock.clone(),
        Arc::new(SequentialIds::new("id")),
        fulfilment.clone(),
        config,
    ));
    let worker = lso_jobs::Worker::new(bus.store().clone(), clock.clone()).with_handler(bus.clone());
    Harness { _dir: dir, bus, worker, fulfilment, clock, tenant: Tenant::new(Irp::Sonata, "LSO", "ACME") }
}

fn contact(role: &str) -> Value {
    json!({"name": "N", "emailAddress": "n@buyer.example", "number": "1", "role": role})
}

fn item(id: &str, action: &str, product: Value) -> Value {
    let mut item = json!({
        "id": id,
        "action": action,
        "requestedCompletionDate": "2030-01-01T00:00:00Z",
        "relatedContactInformation": [contact("buyerProductOrderItemContact"), contact("buyerImplementationContact"), contact("buyerTechnicalContact")],
        "product": product,
    });
    if action != "delete" {
        item["requestedItemTerm"] = json!({"name": "1y", "duration": {"amount": 12, "units": "calendarMonths"}, "endOfTermAction": "autoRenew"});
    }
    if action == "add" {
        item["billingAccount"] = json!({"id": "ba-1"});
    }
    item
}

fn add_item(id: &str, spec: &str) -> Value {
    let catalog = Catalog::built_in().unwrap();
    let mut product =
        json!({"productOffering": {"id": "offer-1"}, "productConfiguration": catalog.get(spec).unwrap().example});
    if spec == UNI {
        product["place"] = json!([{"@type": "GeographicSiteRef", "id": "site-1", "role": "INSTALL_LOCATION"}]);
    }
    item(id, "add", product)
}

fn order(items: Vec<Value>) -> Value {
    json!({"externalId": "ext-1", "relatedContactInformation": [contact("productOrderContact")], "productOrderItem": items})
}

impl Harness {
    async fn create(&self, body: Value) -> Result<Value, BusError> {
        let typed: ProductOrderCreate = serde_json::from_value(body.clone()).unwrap();
        self.bus.create_order(&self.tenant, body, typed).await
    }

    async fn settle(&self) {
        for _ in 0..100 {
            if self.worker.try_execute_next().await.unwrap() == lso_jobs::Outcome::Empty {
                return;
            }
        }
        panic!("the worker did not settle in 100 rounds");
    }

    async fn order(&self, id: &str) -> ProductOrder {
        serde_json::from_value(self.bus.order(Some(&self.tenant.key()), id).await.unwrap()).unwrap()
    }
}

fn problems<T: std::fmt::Debug>(result: Result<T, BusError>) -> Vec<(ViolationCode, String)> {
    match result {
        Err(BusError::Invalid(found)) => found.into_iter().map(|v| (v.code, v.property_path)).collect(),
        other => panic!("expected violations, got {other:?}"),
    }
}

#[tokio::test]
async fn an_order_goes_from_acknowledged_to_completed_and_activates_its_products() {
    let h = harness();
    let body = order(vec![add_item("uni", UNI), add_item("evpl", EVPL)]);
    let created = h.create(body.clone()).await.unwrap();
    assert_eq!(created["state"], "acknowledged");
    assert_eq!(created["externalId"], "ext-1");
    assert_eq!(created["productOrderItem"][1]["state"], "acknowledged");
    h.settle().await;
    let done = h.order(created["id"].as_str().unwrap()).await;
    assert_eq!(done.state, OrderState::Completed);
    let states: Vec<_> = done.state_change.unwrap().iter().map(|c| c.state).collect();
    assert_eq!(states, [OrderState::Acknowledged, OrderState::InProgress, OrderState::Completed]);
    assert!(done.completion_date.is_some());
    for item in &done.product_order_item {
        assert_eq!(item.state, ItemState::Completed);
        assert!(item.completion_date.is_some() && item.expected_completion_date.is_some());
        let product_id = item.request.product.as_ref().unwrap().id.clone().unwrap();
        let product = h.bus.product(Some(&h.tenant.key()), &product_id).await.unwrap();
        assert_eq!(product.status, ProductStatus::Active);
    }
}

#[tokio::test]
async fn a_fulfilment_that_only_looks_is_asked_in_the_step_that_starts_the_items() {
    let h = harness();
    h.fulfilment.1.store(true, std::sync::atomic::Ordering::Relaxed);
    let created = h.create(order(vec![add_item("uni", UNI), add_item("evpl", EVPL)])).await.unwrap();
    assert_eq!(h.worker.try_execute_next().await.unwrap(), lso_jobs::Outcome::Done(1));
    let done = h.order(created["id"].as_str().unwrap()).await;
    let states: Vec<_> = done.state_change.unwrap().iter().map(|c| c.state).collect();
    assert_eq!(states, [OrderState::Acknowledged, OrderState::InProgress, OrderState::Completed], "in one step");
    for item in &done.product_order_item {
        let items: Vec<_> = item.state_change.iter().flatten().map(|c| c.state).collect();
        assert_eq!(items, [ItemState::Acknowledged, ItemState::InProgress, ItemState::Completed]);
        let product_id = item.request.product.as_ref().unwrap().id.clone().unwrap();
        let stored = h.bus.store().get("product", None, &product_id).await.unwrap().unwrap();
        assert_eq!(stored.version, 1, "made active where it was made: written once");
        let product = h.bus.product(Some(&h.tenant.key()), &product_id).await.unwrap();
        assert_eq!(product.status, ProductStatus::Active);
    }
    assert_eq!(h.worker.try_execute_next().await.unwrap(), lso_jobs::Outcome::Empty, "nothing left to do");
}

#[tokio::test]
async fn mef123_r16_the_buyers_attributes_come_back_unchanged() {
    let h = harness();
    let mut body = order(vec![add_item("uni", UNI)]);
    body["projectId"] = json!("p-7");
    body["productOrderItem"][0]["billingAccount"]["billingContact"] = json!({"name": "not in the schema"});
    let created = h.create(body.clone()).await.unwrap();
    for (key, value) in body.as_object().unwrap() {
        if key != "relatedContactInformation" && key != "productOrderItem" {
            assert_eq!(&created[key], value, "{key}");
        }
    }
    assert_eq!(created["productOrderItem"][0]["billingAccount"], body["productOrderItem"][0]["billingAccount"]);
    assert_eq!(created["relatedContactInformation"][0], body["relatedContactInformation"][0]);
    assert_eq!(created["relatedContactInformation"][1]["role"], "sellerContact", "MEF 123 R17");
}

#[tokio::test]
async fn mef123_r12_r13_order_level_rules() {
    let h = harness();
    let found = problems(h.create(json!({"productOrderItem": []})).await);
    assert!(found.contains(&(ViolationCode::MissingProperty, "/productOrderItem".into())));
    assert!(found.contains(&(ViolationCode::MissingProperty, "/relatedContactInformation".into())));
}

#[tokio::test]
async fn mef123_r14_r30_r36_item_rules_are_all_reported() {
    let h = harness();
    let mut bad = add_item("a", EVPL);
    let item = bad.as_object_mut().unwrap();
    item.remove("requestedCompletionDate");
    item.remove("billingAccount");
    item.remove("requestedItemTerm");
    item.insert("relatedContactInformation".into(), json!([]));
    bad["product"]["id"] = json!("p-1");
    bad["product"].as_object_mut().unwrap().remove("productOffering");
    let found = problems(h.create(order(vec![bad])).await);
    for expected in [
        (ViolationCode::MissingProperty, "/productOrderItem/0/requestedCompletionDate"),
        (ViolationCode::MissingProperty, "/productOrderItem/0/relatedContactInformation"),
        (ViolationCode::MissingProperty, "/productOrderItem/0/billingAccount"),
        (ViolationCode::MissingProperty, "/productOrderItem/0/requestedItemTerm"),
        (ViolationCode::MissingProperty, "/productOrderItem/0/product/productOffering"),
        (ViolationCode::UnexpectedProperty, "/productOrderItem/0/product/id"),
    ] {
        assert!(found.contains(&(expected.0, expected.1.to_owned())), "{expected:?} in {found:?}");
    }
}

#[tokio::test]
async fn dates_in_the_past_duplicate_ids_and_dangling_relationships_are_refused() {
    let h = harness();
    let mut first = add_item("a", EVPL);
    first["requestedCompletionDate"] = json!("2020-01-01T00:00:00Z");
    first["productOrderItemRelationship"] = json!([{"id": "nope", "relationshipType": "RELIES_ON"}]);
    let found = problems(h.create(order(vec![first, add_item("a", UNI)])).await);
    assert!(found.contains(&(ViolationCode::InvalidValue, "/productOrderItem/0/requestedCompletionDate".into())));
    assert!(
        found.contains(&(
            ViolationCode::ReferenceNotFound,
            "/productOrderItem/0/productOrderItemRelationship/0/id".into()
        ))
    );
    assert!(found.contains(&(ViolationCode::InvalidValue, "/productOrderItem/1/id".into())));
}

#[tokio::test]
async fn items_that_wait_for_each_other_are_refused() {
    let h = harness();
    let mut a = add_item("a", EVPL);
    a["productOrderItemRelationship"] = json!([{"id": "b", "relationshipType": "RELIES_ON"}]);
    let mut b = add_item("b", EVPL);
    b["coordinatedAction"] = json!([{"itemId": "a", "coordinationDependency": "finishToStart", "coordinatedActionDelay": {"amount": 0, "units": "calendarDays"}}]);
    let found = problems(h.create(order(vec![a, b])).await);
    assert_eq!(found, [(ViolationCode::InvalidValue, "/productOrderItem/0/productOrderItemRelationship".to_owned())]);
}

#[tokio::test]
async fn mef123_r9_unknown_types_and_schema_violations_point_into_the_configuration() {
    let h = harness();
    let mut unknown = add_item("a", EVPL);
    unknown["product"]["productConfiguration"]["@type"] = json!("urn:example:nothing");
    let mut invalid = add_item("b", EVPL);
    invalid["product"]["productConfiguration"]["maximumFrameSize"] = json!("big");
    let found = problems(h.create(order(vec![unknown, invalid])).await);
    assert!(
        found.contains(&(ViolationCode::InvalidValue, "/productOrderItem/0/product/productConfiguration/@type".into()))
    );
    assert!(found.contains(&(
        ViolationCode::InvalidValue,
        "/productOrderItem/1/product/productConfiguration/maximumFrameSize".into()
    )));
}

#[tokio::test]
async fn mef123_r35_roll_needs_a_roll_interval() {
    let h = harness();
    let mut roll = add_item("a", EVPL);
    roll["requestedItemTerm"]["endOfTermAction"] = json!("roll");
    let mut interval = add_item("b", EVPL);
    interval["requestedItemTerm"]["rollInterval"] = json!({"amount": 1, "units": "calendarMonths"});
    let found = problems(h.create(order(vec![roll, interval])).await);
    assert!(
        found.contains(&(ViolationCode::MissingProperty, "/productOrderItem/0/requestedItemTerm/rollInterval".into()))
    );
    assert!(
        found.contains(&(
            ViolationCode::UnexpectedProperty,
            "/productOrderItem/1/requestedItemTerm/rollInterval".into()
        ))
    );
}

async fn active_product(h: &Harness, spec: &str) -> String {
    let created = h.create(order(vec![add_item("x", spec)])).await.unwrap();
    h.settle().await;
    let done = h.order(created["id"].as_str().unwrap()).await;
    done.product_order_item[0].request.product.as_ref().unwrap().id.clone().unwrap()
}

#[tokio::test]
async fn modify_replaces_the_configuration_and_delete_terminates() {
    let h = harness();
    let product_id = active_product(&h, EVPL).await;
    let mut config = Catalog::built_in().unwrap().get(EVPL).unwrap().example.clone();
    config["maximumFrameSize"] = json!(2000);
    let modify = item(
        "m",
        "modify",
        json!({"id": product_id, "productOffering": {"id": "offer-1"}, "productConfiguration": config}),
    );
    h.create(order(vec![modify])).await.unwrap();
    h.settle().await;
    let product = h.bus.product(None, &product_id).await.unwrap();
    assert_eq!(product.status, ProductStatus::Active);
    assert_eq!(product.product_configuration.unwrap()["maximumFrameSize"], 2000);
    h.create(order(vec![item("d", "delete", json!({"id": product_id}))])).await.unwrap();
    h.settle().await;
    let product = h.bus.product(None, &product_id).await.unwrap();
    assert_eq!(product.status, ProductStatus::Terminated);
    assert!(product.termination_date.is_some());
    let statuses: Vec<_> = product.status_change.unwrap().iter().map(|c| c.status).collect();
    use ProductStatus::*;
    assert_eq!(statuses, [PendingActive, Active, ActivePendingChange, Active, PendingTerminate, Terminated]);
}

#[tokio::test]
async fn mef123_r39_r40_r44_change_orders_must_match_inventory() {
    let h = harness();
    let product_id = active_product(&h, EVPL).await;
    let config = Catalog::built_in().unwrap().get(EVPL).unwrap().example.clone();
    let other_offer = item(
        "m",
        "modify",
        json!({"id": product_id, "productOffering": {"id": "offer-2"}, "productConfiguration": config}),
    );
    let missing = item(
        "n",
        "modify",
        json!({"id": "no-such-product", "productOffering": {"id": "offer-1"}, "productConfiguration": config}),
    );
    let found = problems(h.create(order(vec![other_offer, missing])).await);
    assert!(found.contains(&(ViolationCode::InvalidValue, "/productOrderItem/0/product/productOffering".into())));
    assert!(found.contains(&(ViolationCode::ReferenceNotFound, "/productOrderItem/1/product/id".into())));
    let delete = item("d", "delete", json!({"id": product_id, "productConfiguration": config}));
    let found = problems(h.create(order(vec![delete])).await);
    assert!(
        found.contains(&(ViolationCode::UnexpectedProperty, "/productOrderItem/0/product/productConfiguration".into()))
    );
}

#[tokio::test]
async fn another_buyers_product_cannot_be_changed() {
    let h = harness();
    let product_id = active_product(&h, EVPL).await;
    let other = Tenant::new(Irp::Sonata, "LSO", "OTHER");
    let body = order(vec![item("d", "delete", json!({"id": product_id}))]);
    let typed: ProductOrderCreate = serde_json::from_value(body.clone()).unwrap();
    let found = problems(h.bus.create_order(&other, body, typed).await);
    assert_eq!(found, [(ViolationCode::ReferenceNotFound, "/productOrderItem/0/product/id".to_owned())]);
}

#[tokio::test]
async fn mef123_r37_an_unoffered_term_rejects_the_order_late_with_termination_errors() {
    let h = harness();
    let mut long = add_item("long", EVPL);
    long["requestedItemTerm"]["duration"]["amount"] = json!(120);
    let created = h.create(order(vec![long, add_item("fine", UNI)])).await.unwrap();
    h.settle().await;
    let done = h.order(created["id"].as_str().unwrap()).await;
    assert_eq!(done.state, OrderState::Rejected);
    assert_eq!(done.product_order_item[0].state, ItemState::Rejected);
    let error = &done.product_order_item[0].termination_error.as_ref().unwrap()[0];
    assert_eq!(error.property_path.as_deref(), Some("/productOrderItem/0/requestedItemTerm/duration"));
    assert_eq!(done.product_order_item[1].state, ItemState::RejectedValidated);
    let products = h
        .bus
        .list_products(lso_store::Selection { tenant: None, filters: vec![], offset: 0, limit: 10 })
        .await
        .unwrap();
    assert_eq!(products.1, lso_store::Total::Exact(0), "a rejected order creates no product");
}

#[tokio::test]
async fn a_failed_item_makes_the_order_partial_cancels_its_product_and_fails_dependants() {
    let h = harness();
    h.fulfilment.0.lock().unwrap().insert("uni-a".into(), "no port free at the site".into());
    let mut evpl = add_item("evpl", EVPL);
    evpl["productOrderItemRelationship"] = json!([{"id": "uni-a", "relationshipType": "CONNECTS_TO_UNI"}]);
    let created = h.create(order(vec![add_item("uni-a", UNI), add_item("uni-b", UNI), evpl])).await.unwrap();
    h.settle().await;
    let done = h.order(created["id"].as_str().unwrap()).await;
    assert_eq!(done.state, OrderState::Partial);
    let states: Vec<_> = done.product_order_item.iter().map(|i| i.state).collect();
    assert_eq!(states, [ItemState::Failed, ItemState::Completed, ItemState::Failed]);
    let failed = &done.product_order_item[0];
    assert!(failed.expected_completion_date.is_none(), "MEF 123 R47");
    assert!(failed.completion_date.is_none(), "MEF 123 R48");
    assert_eq!(failed.termination_error.as_ref().unwrap()[0].value.as_deref(), Some("no port free at the site"));
    let product_id = failed.request.product.as_ref().unwrap().id.clone().unwrap();
    assert_eq!(h.bus.product(None, &product_id).await.unwrap().status, ProductStatus::Cancelled);
}

#[tokio::test]
async fn notifications_reach_only_matching_hubs_in_order() {
    let h = harness();
    let all = h.bus.register_hub(HubApi::Ordering, &h.tenant, "http://127.0.0.1:9/a", None, None, None).await.unwrap();
    h.bus
        .register_hub(
            HubApi::Ordering,
            &h.tenant,
            "http://127.0.0.1:9/b",
            Some("eventType=productOrderStateChangeEvent"),
            Some("ACME"),
            None,
        )
        .await
        .unwrap();
    let other = Tenant::new(Irp::Sonata, "LSO", "OTHER");
    h.bus.register_hub(HubApi::Ordering, &other, "http://127.0.0.1:9/c", None, None, None).await.unwrap();
    h.create(order(vec![add_item("uni", UNI)])).await.unwrap();
    h.settle().await;
    let deliveries = h.bus.store().list_deliveries(None, 100).await.unwrap();
    let to = |prefix: &str| {
        let mut types: Vec<_> =
            deliveries.iter().filter(|d| d.url.starts_with(prefix)).map(|d| (d.id, d.event_type.clone())).collect();
        types.sort();
        types.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
    };
    assert_eq!(
        to("http://127.0.0.1:9/a/"),
        [
            "productOrderItemStateChangeEvent",
            "productOrderItemExpectedCompletionDateSet",
            "productOrderStateChangeEvent",
            "productOrderItemStateChangeEvent",
            "productOrderStateChangeEvent"
        ]
    );
    assert_eq!(to("http://127.0.0.1:9/b/"), ["productOrderStateChangeEvent", "productOrderStateChangeEvent"]);
    assert!(to("http://127.0.0.1:9/c/").is_empty());
    assert!(h.bus.hub(HubApi::Ordering, &other, &all.id).await.is_err(), "hubs are per tenant");
}

mod billing;
mod discovery;
mod legato;
mod quote;
mod tasks;
mod workforce;
