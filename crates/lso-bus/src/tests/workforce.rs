//! Work orders and appointments (MEF 137) on a fixed clock: a ticket that needs a visit opens a
//! work order, the Buyer books a technician from the calendar, and the visit resolves the
//! ticket.

use super::*;
use crate::ticket::TicketAction;
use lso_model::workforce::VisitEvent;
use std::time::Duration;

const HOUR: i64 = 3_600_000;

impl Harness {
    /// A ticket of `kind` on a new UNI, taken in (pending) progress; its id and work order's.
    async fn ticket_needing_visit(&self) -> (String, String) {
        let uni = active_product(self, UNI).await;
        let ticket = json!({"description": "no light on the port", "observedImpact": "down", "priority": "high",
            "severity": "moderate", "ticketType": "installation",
            "relatedEntity": [{"@referredType": "Product", "id": uni, "role": "affectedProduct"}],
            "relatedContactInformation": [contact("reporterContact")]});
        let created = self.bus.create_ticket(&self.tenant, ticket).await.unwrap();
        self.settle().await;
        let id = created["id"].as_str().unwrap().to_owned();
        let pending = self.bus.ticket(Some(&self.tenant.key()), &id).await.unwrap();
        assert_eq!(pending["status"], "pending", "R65: {pending:#}");
        (id, pending["workOrder"][0]["id"].as_str().unwrap().to_owned())
    }

    /// The work orders opened for `entity` (an order item is `{order}#{item}`).
    async fn work_orders_for(&self, entity: &str) -> Vec<Value> {
        let filter =
            lso_store::Filter { name: "relatedEntityId".into(), condition: lso_store::Condition::Eq(entity.into()) };
        let selection =
            lso_store::Selection { tenant: Some(self.tenant.key()), filters: vec![filter], offset: 0, limit: 10 };
        self.bus.list_work_orders(selection).await.unwrap().0
    }

    async fn book(&self, work_order: &str, start: i64) -> Result<Value, BusError> {
        let request = json!({"workOrder": {"id": work_order}, "validFor": period(start, start + 2 * HOUR),
            "relatedContactInformation": [contact("buyerAppointmentContact"), contact("appointmentPlaceContact")]});
        self.bus.create_appointment(&self.tenant, request).await
    }
}

fn period(start: i64, end: i64) -> Value {
    json!({"startDateTime": lso_model::DateTime::from_millis(start).as_str(),
           "endDateTime": lso_model::DateTime::from_millis(end).as_str()})
}

// NOW is Friday 2027-01-15 08:00 UTC; technicians work 08:00–18:00 Monday to Friday in visits of
// two hours, two at a time.

#[tokio::test]
async fn mef137_slots_are_the_calendars_free_visits_in_the_windows_asked_for() {
    let h = harness();
    let (_, work_order) = h.ticket_needing_visit().await;
    let search =
        json!({"workOrder": {"id": work_order}, "requestedTimeSlot": [{"validFor": period(NOW, NOW + 74 * HOUR)}]});
    let found = h.bus.search_time_slots(&h.tenant, search).await.unwrap();
    let starts: Vec<&str> = found["availableTimeSlot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["validFor"]["startDateTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2027-01-15T10:00:00.000Z",
            "2027-01-15T12:00:00.000Z",
            "2027-01-15T14:00:00.000Z",
            "2027-01-15T16:00:00.000Z",
            "2027-01-18T08:00:00.000Z"
        ],
        "the slot now has begun; no visits at the weekend"
    );
    let weekend = json!({"workOrder": {"id": work_order}, "requestedTimeSlot": [{"validFor": period(NOW + 24 * HOUR, NOW + 48 * HOUR)}]});
    assert_eq!(h.bus.search_time_slots(&h.tenant, weekend).await.unwrap()["availableTimeSlot"], json!([]), "R13");
    let backwards =
        json!({"workOrder": {"id": work_order}, "requestedTimeSlot": [{"validFor": period(NOW, NOW - HOUR)}]});
    assert_eq!(
        problems(h.bus.search_time_slots(&h.tenant, backwards).await),
        [(ViolationCode::InvalidValue, "/requestedTimeSlot/0/validFor".into())]
    );
    let unknown = json!({"workOrder": {"id": "nothing"}, "requestedTimeSlot": [{"validFor": period(NOW, NOW + HOUR)}]});
    assert_eq!(
        problems(h.bus.search_time_slots(&h.tenant, unknown).await),
        [(ViolationCode::ReferenceNotFound, "/workOrder/id".into())]
    );
}

#[tokio::test]
async fn mef137_three_bookings_of_one_slot_at_once_get_the_two_technicians_and_one_refusal() {
    let h = harness();
    let mut orders = Vec::new();
    for _ in 0..3 {
        orders.push(h.ticket_needing_visit().await.1);
    }
    let slot = NOW + 2 * HOUR;
    let (a, b, c) = tokio::join!(h.book(&orders[0], slot), h.book(&orders[1], slot), h.book(&orders[2], slot));
    let results = [a, b, c];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2, "{results:?}");
    let loser = results.iter().position(Result::is_err).unwrap();
    let refused = results.into_iter().nth(loser).unwrap();
    assert_eq!(problems(refused), [(ViolationCode::InvalidValue, "/validFor".into())], "R17: no technician is free");
    let search =
        json!({"workOrder": {"id": orders[loser]}, "requestedTimeSlot": [{"validFor": period(slot, slot + 2 * HOUR)}]});
    assert_eq!(
        h.bus.search_time_slots(&h.tenant, search).await.unwrap()["availableTimeSlot"],
        json!([]),
        "the slot is full"
    );
}

#[tokio::test]
async fn mef137_a_booked_visit_plans_the_work_order_and_its_completion_resolves_the_ticket() {
    let h = harness();
    let (ticket, work_order) = h.ticket_needing_visit().await;
    assert_eq!(
        problems(h.book(&work_order, NOW + HOUR).await),
        [(ViolationCode::InvalidValue, "/validFor".into())],
        "R16: off the grid"
    );
    let booked = h.book(&work_order, NOW + 2 * HOUR).await.unwrap();
    assert_eq!(booked["status"], "confirmed");
    assert_eq!(booked["relatedPlace"]["id"], "site-1");
    let id = booked["id"].as_str().unwrap().to_owned();
    let planned = h.bus.work_order(None, &work_order).await.unwrap();
    assert_eq!(
        (planned["state"].as_str(), planned["appointmentRequired"].as_bool()),
        (Some("planned"), Some(false)),
        "R22–R24"
    );
    assert_eq!(h.bus.ticket(None, &ticket).await.unwrap()["status"], "inProgress", "R25");
    assert_eq!(
        problems(h.book(&work_order, NOW + 4 * HOUR).await),
        [(ViolationCode::InvalidValue, "/workOrder/id".into())],
        "R20"
    );

    let moved = h
        .bus
        .patch_appointment(&h.tenant, &id, json!({"validFor": period(NOW + 4 * HOUR, NOW + 6 * HOUR)}))
        .await
        .unwrap();
    assert_eq!(moved["validFor"]["startDateTime"], "2027-01-15T12:00:00.000Z");
    h.clock.advance(Duration::from_secs(4 * 3600));
    h.settle().await;
    assert_eq!(h.bus.appointment(None, &id).await.unwrap()["status"], "inProgress");
    assert_eq!(h.bus.work_order(None, &work_order).await.unwrap()["state"], "inProgress");
    assert_eq!(
        problems(h.bus.patch_appointment(&h.tenant, &id, json!({"note": []})).await),
        [(ViolationCode::InvalidValue, "".into())],
        "R40"
    );
    h.clock.advance(Duration::from_secs(2 * 3600));
    h.settle().await;
    assert_eq!(h.bus.appointment(None, &id).await.unwrap()["status"], "completed");
    assert_eq!(h.bus.work_order(None, &work_order).await.unwrap()["state"], "completed");
    let resolved = h.bus.ticket(None, &ticket).await.unwrap();
    assert_eq!(resolved["status"], "resolved");
    h.bus.ticket_action(&h.tenant, &ticket, TicketAction::Close).await.unwrap();
}

#[tokio::test]
async fn mef137_a_cancelled_appointment_frees_the_technician_and_reopens_the_work_order() {
    let h = harness();
    let (_, work_order) = h.ticket_needing_visit().await;
    let booked = h.book(&work_order, NOW + 2 * HOUR).await.unwrap();
    let id = booked["id"].as_str().unwrap();
    h.bus.cancel_appointment(&h.tenant, id).await.unwrap();
    assert_eq!(h.bus.appointment(None, id).await.unwrap()["status"], "cancelled");
    let open = h.bus.work_order(None, &work_order).await.unwrap();
    assert_eq!((open["state"].as_str(), open["appointmentRequired"].as_bool()), (Some("open"), Some(true)), "R48–R50");
    assert_eq!(
        problems(h.bus.cancel_appointment(&h.tenant, id).await),
        [(ViolationCode::InvalidValue, "".into())],
        "R46, R47"
    );
    h.book(&work_order, NOW + 2 * HOUR).await.unwrap();
    let (_, other) = h.ticket_needing_visit().await;
    h.book(&other, NOW + 2 * HOUR).await.expect("the cancelled visit's technician is free again");
}

#[tokio::test]
async fn mef137_a_uni_that_needs_a_visit_is_provisioned_once_the_technician_has_installed_it() {
    let h = harness_configured(|config| config.workforce.installation_visits = true);
    let created = h.create(order(vec![add_item("1", UNI), add_item("2", EVPL)])).await.unwrap();
    let id = created["id"].as_str().unwrap();
    h.settle().await;
    let waiting = h.order(id).await;
    assert_eq!(waiting.state, OrderState::InProgress);
    assert_eq!(waiting.product_order_item[0].state, ItemState::InProgress, "the UNI waits for its visit");
    assert_eq!(waiting.product_order_item[1].state, ItemState::Completed, "nothing is installed on site for an EVPL");
    let orders = h.work_orders_for(&format!("{id}#1")).await;
    assert_eq!(orders.len(), 1, "one work order for the UNI item");
    assert_eq!((orders[0]["state"].as_str(), orders[0]["place"][0]["id"].as_str()), (Some("open"), Some("site-1")));
    let work_order = orders[0]["id"].as_str().unwrap().to_owned();

    h.book(&work_order, NOW + 2 * HOUR).await.unwrap();
    h.clock.advance(Duration::from_secs(2 * 3600));
    h.settle().await;
    assert_eq!(h.order(id).await.product_order_item[0].state, ItemState::InProgress, "the visit is under way");
    h.clock.advance(Duration::from_secs(2 * 3600));
    h.settle().await;
    assert_eq!(h.bus.work_order(None, &work_order).await.unwrap()["state"], "completed");
    let done = h.order(id).await;
    assert_eq!(done.state, OrderState::Completed, "the visit's completion woke the order");
}

#[tokio::test]
async fn mef137_a_visit_the_buyer_was_not_ready_for_fails_and_the_ticket_waits_for_another() {
    let h = harness();
    let (ticket, work_order) = h.ticket_needing_visit().await;
    let booked = h.book(&work_order, NOW + 2 * HOUR).await.unwrap();
    let id = booked["id"].as_str().unwrap().to_owned();
    let not_yet = h.bus.seller_end_visit(&h.tenant, &id, VisitEvent::Fail, "nobody on site").await;
    assert_eq!(problems(not_yet), [(ViolationCode::InvalidValue, "".into())], "R26: only a visit under way");
    h.clock.advance(Duration::from_secs(2 * 3600));
    h.settle().await;

    let failed = h.bus.seller_end_visit(&h.tenant, &id, VisitEvent::Fail, "nobody on site").await.unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["note"][0]["text"], "nobody on site", "R29");
    assert_eq!(h.bus.work_order(None, &work_order).await.unwrap()["state"], "unableToComplete", "R55");
    let waiting = h.bus.ticket(None, &ticket).await.unwrap();
    assert_eq!(waiting["status"], "pending", "the Buyer books another visit: {waiting:#}");
    let orders: Vec<&str> =
        waiting["workOrder"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert_eq!(orders.len(), 2, "{orders:?}");
    let next = h.bus.work_order(None, orders[1]).await.unwrap();
    assert_eq!((next["state"].as_str(), next["appointmentRequired"].as_bool()), (Some("open"), Some(true)));
    assert!(waiting["note"].as_array().unwrap().iter().any(|n| n["text"].as_str().unwrap().contains("nobody on site")));
    assert_eq!(
        problems(h.bus.seller_end_visit(&h.tenant, &id, VisitEvent::Miss, "again").await),
        [(ViolationCode::InvalidValue, "".into())]
    );
    let held = lso_store::ListQuery {
        kind: crate::workforce::HELD.into(),
        tenant: None,
        filters: vec![],
        offset: 0,
        limit: 10,
    };
    assert_eq!(
        h.bus.store().list(held).await.unwrap().total,
        lso_store::Total::Exact(0),
        "the technician is free again"
    );
}

#[tokio::test]
async fn mef137_a_missed_installation_visit_fails_the_item_it_was_for() {
    let h = harness_configured(|config| config.workforce.installation_visits = true);
    let created = h.create(order(vec![add_item("1", UNI)])).await.unwrap();
    let id = created["id"].as_str().unwrap();
    h.settle().await;
    let orders = h.work_orders_for(&format!("{id}#1")).await;
    let work_order = orders[0]["id"].as_str().unwrap().to_owned();
    let booked = h.book(&work_order, NOW + 2 * HOUR).await.unwrap();
    h.clock.advance(Duration::from_secs(2 * 3600));
    h.settle().await;

    let reason = "the technician's van broke down";
    let missed = h.bus.seller_end_visit(&h.tenant, booked["id"].as_str().unwrap(), VisitEvent::Miss, reason).await;
    assert_eq!(missed.unwrap()["status"], "missed");
    h.settle().await;
    let done = h.order(id).await;
    assert_eq!(done.product_order_item[0].state, ItemState::Failed);
    assert_eq!(done.state, OrderState::Failed);
    let said = serde_json::to_value(&done.product_order_item[0]).unwrap().to_string();
    assert!(
        said.contains(&format!("the installation visit of work order {work_order} could not be completed")),
        "{said}"
    );
}
