//! PATCH, cancellation, modify-delivery-date and charges (MEF 123 UC2, UC5, UC8, UC11–14).

use super::*;
use lso_mef_product::{
    CancelProductOrderCreate, Charge, ChargeUpdate, ModifyDeliveryDateCreate, Money, ProductOrderUpdate,
};
use lso_model::order::{ChargeState, TaskState};
use std::time::Duration;

fn usd(value: u32) -> Money {
    Money { unit: "USD".into(), value: value.into() }
}

fn charging() -> ChargePolicy {
    ChargePolicy { cancellation: Some(usd(250)), expedite: Some(usd(100)), response_window_millis: 3_600_000 }
}

impl Harness {
    /// An order of one EVPL item that stays in progress.
    async fn order_in_progress(&self) -> String {
        self.fulfilment.0.lock().unwrap().insert("slow".into(), "wait".into());
        let created = self.create(order(vec![add_item("slow", EVPL)])).await.unwrap();
        self.settle().await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(self.order(&id).await.state, OrderState::InProgress);
        id
    }

    async fn patch(&self, id: &str, body: Value) -> Result<Value, BusError> {
        let typed: ProductOrderUpdate = serde_json::from_value(body.clone()).unwrap();
        self.bus.patch_order(&self.tenant, id, &body, &typed).await
    }

    async fn cancel(&self, order_id: &str) -> Value {
        let body = json!({
            "productOrder": {"productOrderId": order_id},
            "cancellationReason": "project stopped",
            "cancellationReasonType": "commercial",
            "relatedContactInformation": [contact("cancelProductOrderContact")]
        });
        let typed: CancelProductOrderCreate = serde_json::from_value(body.clone()).unwrap();
        let created = self.bus.create_cancel(&self.tenant, body, typed).await.unwrap();
        self.settle().await;
        self.bus.cancel_request(None, created["id"].as_str().unwrap()).await.unwrap()
    }

    async fn modify(&self, body: Value) -> Result<Value, BusError> {
        let typed: ModifyDeliveryDateCreate = serde_json::from_value(body.clone()).unwrap();
        let created = self.bus.create_modify_date(&self.tenant, body, typed).await?;
        self.settle().await;
        Ok(self.bus.modify_date_request(None, created["id"].as_str().unwrap()).await.unwrap())
    }

    async fn only_charge(&self) -> Charge {
        let (charges, total) = self
            .bus
            .list_charges(lso_store::Selection {
                tenant: Some(self.tenant.key()),
                filters: vec![],
                offset: 0,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(total, lso_store::Total::Exact(1));
        serde_json::from_value(self.bus.charge(None, &charges[0].id).await.unwrap()).unwrap()
    }

    async fn answer(&self, charge: &Charge, acceptance: &str) -> Result<Value, BusError> {
        let update: ChargeUpdate = serde_json::from_value(
            json!({"chargeItem": [{"id": charge.charge_item[0].id, "acceptanceIndicator": acceptance}]}),
        )
        .unwrap();
        let answered = self.bus.answer_charge(&self.tenant, &charge.id, update).await;
        self.settle().await;
        answered
    }
}

#[tokio::test]
async fn mef123_uc2_patch_changes_reference_data_and_appends_notes() {
    let h = harness();
    let id = h.order_in_progress().await;
    let note =
        json!({"id": "n1", "author": "ann", "date": "2030-01-01T00:00:00Z", "source": "buyer", "text": "call first"});
    let patched = h
        .patch(
            &id,
            json!({"projectId": "p-2", "note": [note], "productOrderItem": [{"id": "slow", "endCustomerName": "Zed"}]}),
        )
        .await
        .unwrap();
    assert_eq!(patched["projectId"], "p-2");
    assert_eq!(patched["externalId"], "ext-1", "untouched attributes stay");
    assert_eq!(patched["note"][0]["text"], "call first");
    assert_eq!(patched["productOrderItem"][0]["endCustomerName"], "Zed");
    let again = h.patch(&id, json!({"note": [note]})).await.unwrap();
    assert_eq!(again["note"].as_array().unwrap().len(), 1, "a note is added once");
    let cleared = h.patch(&id, json!({"projectId": null, "externalId": "ext-1"})).await.unwrap();
    assert!(cleared.get("projectId").is_none(), "a null removes the attribute (merge patch): {cleared:#}");
    assert_eq!(h.bus.order(None, &id).await.unwrap()["externalId"], "ext-1");
}

#[tokio::test]
async fn mef123_r52_r56_r21_patch_refuses_what_it_may_not_change() {
    let h = harness();
    let id = h.order_in_progress().await;
    let found = problems(h.patch(&id, json!({})).await);
    assert_eq!(found, [(ViolationCode::MissingProperty, String::new())]);
    let found = problems(
        h.patch(&id, json!({"productOrderItem": [{"id": "slow"}, {"id": "nope", "endCustomerName": "x"}]})).await,
    );
    assert!(found.contains(&(ViolationCode::MissingProperty, "/productOrderItem/0".into())));
    assert!(found.contains(&(ViolationCode::ReferenceNotFound, "/productOrderItem/1/id".into())));
    let mut seller = contact("sellerContact");
    seller["name"] = json!("Someone Else");
    let found =
        problems(h.patch(&id, json!({"relatedContactInformation": [contact("productOrderContact"), seller]})).await);
    assert_eq!(found, [(ViolationCode::InvalidValue, "/relatedContactInformation/1".into())]);
    let note = json!({"id": "n1", "author": "ann", "date": "2030-01-01T00:00:00Z", "source": "buyer", "text": "v1"});
    h.patch(&id, json!({"note": [note]})).await.unwrap();
    let mut changed = note.clone();
    changed["text"] = json!("v2");
    let found = problems(h.patch(&id, json!({"note": [changed]})).await);
    assert_eq!(found, [(ViolationCode::InvalidValue, "/note/0".into())]);
    let kept = h.order(&id).await;
    assert_eq!(kept.related_contact_information.iter().filter(|c| c.role == "sellerContact").count(), 1);
}

#[tokio::test]
async fn mef123_uc8_cancelling_an_order_in_progress_cancels_items_and_products() {
    let h = harness();
    let id = h.order_in_progress().await;
    let cancel = h.cancel(&id).await;
    assert_eq!(cancel["state"], "done");
    assert_eq!(cancel["relatedContactInformation"][1]["role"], "cancelProductOrderSellerContact", "MEF 123 R75");
    let order = h.order(&id).await;
    assert_eq!(order.state, OrderState::Cancelled);
    assert!(order.cancellation_date.is_some());
    assert_eq!(order.cancellation_reason.as_deref(), Some("project stopped"));
    let states: Vec<_> = order.state_change.unwrap().iter().map(|c| c.state).collect();
    use OrderState::*;
    assert_eq!(states, [Acknowledged, InProgress, AssessingCancellation, PendingCancellation, Cancelled]);
    let item = &order.product_order_item[0];
    assert_eq!(item.state, ItemState::Cancelled);
    assert!(item.expected_completion_date.is_none(), "MEF 123 R27");
    let product_id = item.request.product.as_ref().unwrap().id.clone().unwrap();
    assert_eq!(h.bus.product(None, &product_id).await.unwrap().status, ProductStatus::Cancelled);
}

#[tokio::test]
async fn a_completed_order_cannot_be_cancelled() {
    let h = harness();
    let created = h.create(order(vec![add_item("a", UNI)])).await.unwrap();
    h.settle().await;
    let id = created["id"].as_str().unwrap();
    let cancel = h.cancel(id).await;
    assert_eq!(cancel["state"], "rejected");
    assert_eq!(cancel["cancellationDeniedReason"], "the order is completed");
    assert_eq!(h.order(id).await.state, OrderState::Completed);
}

#[tokio::test]
async fn mef123_r73_r74_cancel_requests_need_an_order_and_a_contact() {
    let h = harness();
    let body = json!({"productOrder": {"productOrderId": "nope"}, "relatedContactInformation": []});
    let typed: CancelProductOrderCreate = serde_json::from_value(body.clone()).unwrap();
    let found = problems(h.bus.create_cancel(&h.tenant, body, typed).await);
    assert!(found.contains(&(ViolationCode::MissingProperty, "/relatedContactInformation".into())));
    assert!(found.contains(&(ViolationCode::ReferenceNotFound, "/productOrder/productOrderId".into())));
}

#[tokio::test]
async fn mef123_uc11c_an_accepted_cancellation_charge_cancels_the_order() {
    let h = harness_charging(charging());
    let id = h.order_in_progress().await;
    let cancel = h.cancel(&id).await;
    assert_eq!(cancel["state"], "inProgress.assessingCharge");
    assert_eq!(h.order(&id).await.state, OrderState::AssessingCancellation);
    let charge = h.only_charge().await;
    assert_eq!(charge.state, ChargeState::AwaitingResponse);
    assert_eq!(cancel["charge"]["id"], json!(charge.id));
    h.answer(&charge, "accepted").await.unwrap();
    assert_eq!(h.order(&id).await.state, OrderState::Cancelled);
    let cancel = h.bus.cancel_request(None, cancel["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(cancel["state"], "done");
    assert_eq!(h.only_charge().await.state, ChargeState::Completed);
}

#[tokio::test]
async fn mef123_uc11c_a_declined_cancellation_charge_resumes_the_order() {
    let h = harness_charging(charging());
    let id = h.order_in_progress().await;
    let cancel = h.cancel(&id).await;
    let charge = h.only_charge().await;
    h.answer(&charge, "rejected").await.unwrap();
    assert_eq!(h.order(&id).await.state, OrderState::InProgress);
    let cancel = h.bus.cancel_request(None, cancel["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(cancel["state"], TaskState::DoneDeclined.as_str());
    let again = h.answer(&charge, "accepted").await;
    assert!(matches!(again, Err(BusError::Conflict(_))), "a charge is answered once: {again:?}");
}

#[tokio::test]
async fn mef123_r96_an_unanswered_charge_times_out_as_declined() {
    let h = harness_charging(charging());
    let id = h.order_in_progress().await;
    h.cancel(&id).await;
    h.clock.advance(Duration::from_secs(3601));
    h.settle().await;
    let charge = h.only_charge().await;
    assert_eq!(charge.state, ChargeState::Timeout);
    assert_eq!(charge.charge_item[0].state, lso_model::order::ChargeItemState::DeclinedByBuyer);
    assert_eq!(h.order(&id).await.state, OrderState::InProgress);
}

#[tokio::test]
async fn mef123_r94_r95_a_charge_answer_covers_every_item_once() {
    let h = harness_charging(charging());
    let id = h.order_in_progress().await;
    h.cancel(&id).await;
    let charge = h.only_charge().await;
    let update: ChargeUpdate =
        serde_json::from_value(json!({"chargeItem": [{"id": "9", "acceptanceIndicator": "accepted"}]})).unwrap();
    let found = match h.bus.answer_charge(&h.tenant, &charge.id, update).await {
        Err(BusError::Invalid(found)) => found.into_iter().map(|v| (v.code, v.property_path)).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert!(found.contains(&(ViolationCode::ReferenceNotFound, "/chargeItem/0/id".into())));
    assert!(found.contains(&(ViolationCode::MissingProperty, "/chargeItem".into())));
    assert_eq!(h.only_charge().await.state, ChargeState::AwaitingResponse);
}

#[tokio::test]
async fn mef123_uc5_a_new_delivery_date_is_applied_and_the_order_resumes() {
    let h = harness();
    let id = h.order_in_progress().await;
    let request = json!({"productOrderItem": {"productOrderId": id, "productOrderItemId": "slow"}, "requestedCompletionDate": "2031-02-03T00:00:00Z"});
    let modify = h.modify(request).await.unwrap();
    assert_eq!(modify["state"], "done");
    let order = h.order(&id).await;
    assert_eq!(order.state, OrderState::InProgress);
    let item = &order.product_order_item[0];
    assert_eq!(item.request.requested_completion_date.as_ref().unwrap().as_str(), "2031-02-03T00:00:00Z");
    let states: Vec<_> = item.state_change.as_ref().unwrap().iter().map(|c| c.state).collect();
    assert_eq!(states, [ItemState::Acknowledged, ItemState::InProgress, ItemState::Pending, ItemState::InProgress]);
}

#[tokio::test]
async fn mef123_uc11b_an_accepted_expedite_charge_sets_expedite_accepted() {
    let h = harness_charging(charging());
    let id = h.order_in_progress().await;
    let request =
        json!({"productOrderItem": {"productOrderId": id, "productOrderItemId": "slow"}, "expediteIndicator": true});
    let modify = h.modify(request).await.unwrap();
    assert_eq!(modify["state"], "inProgress.assessingCharge");
    assert_eq!(h.order(&id).await.state, OrderState::PendingAssessingModification);
    h.answer(&h.only_charge().await, "accepted").await.unwrap();
    let order = h.order(&id).await;
    assert_eq!(order.state, OrderState::InProgress);
    assert_eq!(order.product_order_item[0].expedite_accepted_indicator, Some(true), "MEF 123 R25");
}

#[tokio::test]
async fn mef123_r63_r66_modify_requests_need_a_date_or_expedite_and_an_item() {
    let h = harness();
    let id = h.order_in_progress().await;
    let request = json!({"productOrderItem": {"productOrderId": id, "productOrderItemId": "other"}});
    let found = problems(h.modify(request).await);
    assert!(found.contains(&(ViolationCode::MissingProperty, "/requestedCompletionDate".into())));
    assert!(found.contains(&(ViolationCode::ReferenceNotFound, "/productOrderItem/productOrderItemId".into())));
}

#[tokio::test]
async fn mef123_uc11a_a_declined_item_charge_fails_the_item() {
    let h = harness();
    let id = h.order_in_progress().await;
    h.bus.raise_item_charge(&h.tenant, &id, "slow", usd(40)).await.unwrap();
    let held = h.order(&id).await;
    assert_eq!((held.state, held.product_order_item[0].state), (OrderState::HeldAssessingCharge, ItemState::Held));
    h.answer(&h.only_charge().await, "rejected").await.unwrap();
    let order = h.order(&id).await;
    assert_eq!(order.product_order_item[0].state, ItemState::Failed);
    assert_eq!(order.state, OrderState::Failed);
}
