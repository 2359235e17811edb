//! Work orders and appointments over both reference points: a ticket about an installation
//! opens a work order, the Buyer searches the calendar and books, moves and cancels a visit,
//! and every answer and event meets the official files.

use crate::support::*;
use serde_json::{Value, json};

const UNI: &str = "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all";

#[tokio::test]
async fn a_visit_is_booked_moved_and_cancelled_on_the_technicians_calendar_and_every_answer_meets_the_contract() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app().await;
        let point: lso_model::Irp = irp.to_lowercase().parse().unwrap();
        let appointments =
            Contract::load(&format!("{irp}/productApi/workforce/appointment/appointmentManagement.api.yaml"));
        let work_orders = Contract::load(&format!("{irp}/productApi/workforce/workorder/workorderManagement.api.yaml"));
        let (appointment_base, work_order_base) =
            (lso_mef_product::appointment_base(point), lso_mef_product::work_order_base(point));
        let receiver = Receiver::default();
        let listener = receiver.start().await;
        for base in [&appointment_base, &work_order_base] {
            let hub = app
                .call("POST", &format!("{base}/hub"), Some(&json!({"callback": format!("http://{listener}")})))
                .await;
            assert_eq!(hub.status, 201, "{:#}", hub.body);
        }

        let ordering = lso_mef_product::ordering_base(point);
        let placed = app
            .call("POST", &format!("{ordering}/productOrder"), Some(&order_of(&example(UNI), Some("INSTALL_LOCATION"))))
            .await;
        let done = app.wait_until_final(&ordering, placed.body["id"].as_str().unwrap()).await;
        let uni = done["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned();
        let tickets = lso_mef_product::ticket_base(point);
        let ticket = json!({"description": "no light", "observedImpact": "down", "priority": "high", "severity": "moderate",
            "ticketType": "installation", "relatedEntity": [{"@referredType": "Product", "id": uni, "role": "affectedProduct"}],
            "relatedContactInformation": [contact("reporterContact")]});
        let created = app.call("POST", &format!("{tickets}/troubleTicket"), Some(&ticket)).await;
        let ticket_path = format!("{tickets}/troubleTicket/{}", created.body["id"].as_str().unwrap());
        let pending = app.wait_until(&ticket_path, |t| t["status"] == "pending").await;
        let work_order = pending["workOrder"][0]["id"].as_str().unwrap().to_owned();

        let read = app.call("GET", &format!("{work_order_base}/workorder/{work_order}"), None).await;
        Contract::assert_valid(&work_orders.response("/workorder/{id}", "get", 200), &read.body, "a work order");
        assert_eq!(read.body["appointmentRequired"], true);
        let listed = app
            .call(
                "GET",
                &format!("{work_order_base}/workorder?appointmentRequired=true&geographicalSiteId=site-1"),
                None,
            )
            .await;
        // The file types the list as one `WorkOrder_Find` (mef-digest §0.3): each element is one.
        let find = work_orders.validator("/components/schemas/WorkOrder_Find");
        assert_eq!(listed.body.as_array().unwrap().len(), 1, "{:#}", listed.body);
        Contract::assert_valid(&find, &listed.body[0], "a listed work order");

        let (now, week) = (days_from_now(0), days_from_now(7));
        let window = json!({"startDateTime": now, "endDateTime": week});
        let search = json!({"workOrder": {"id": work_order}, "requestedTimeSlot": [{"validFor": window}]});
        let found = app.call("POST", &format!("{appointment_base}/searchTimeSlot"), Some(&search)).await;
        assert_eq!(found.status, 201, "{:#}", found.body);
        Contract::assert_valid(&appointments.response("/searchTimeSlot", "post", 201), &found.body, "time slots");
        let slots = found.body["availableTimeSlot"].as_array().unwrap().clone();
        assert!(slots.len() >= 2, "a week has visits: {slots:#?}");

        let book = |slot: &Value| {
            json!({"workOrder": {"id": work_order}, "validFor": slot["validFor"],
            "relatedContactInformation": [contact("buyerAppointmentContact"), contact("appointmentPlaceContact")]})
        };
        let booked = app.call("POST", &format!("{appointment_base}/appointment"), Some(&book(&slots[0]))).await;
        assert_eq!(booked.status, 201, "{:#}", booked.body);
        Contract::assert_valid(&appointments.response("/appointment", "post", 201), &booked.body, "an appointment");
        let again = app.call("POST", &format!("{appointment_base}/appointment"), Some(&book(&slots[1]))).await;
        assert_eq!(again.status, 422, "R20");
        Contract::assert_valid(&appointments.response("/appointment", "post", 422), &again.body, "422");
        assert_eq!(app.call("GET", &ticket_path, None).await.body["status"], "inProgress", "R25");

        let id = booked.body["id"].as_str().unwrap();
        let path = format!("{appointment_base}/appointment/{id}");
        let moved = app.call("PATCH", &path, Some(&json!({"validFor": slots[1]["validFor"]}))).await;
        assert_eq!(moved.status, 200, "{:#}", moved.body);
        Contract::assert_valid(
            &appointments.response("/appointment/{id}", "patch", 200),
            &moved.body,
            "a moved appointment",
        );
        let listed = app
            .call("GET", &format!("{appointment_base}/appointment?status=confirmed&workOrderId={work_order}"), None)
            .await;
        Contract::assert_valid(&appointments.response("/appointment", "get", 200), &listed.body, "appointments");
        assert_eq!(listed.body[0]["validFor"], slots[1]["validFor"]);
        assert_eq!(app.call("POST", &format!("{path}/cancel"), None).await.status, 204);
        let cancelled = app.call("GET", &path, None).await;
        Contract::assert_valid(
            &appointments.response("/appointment/{id}", "get", 200),
            &cancelled.body,
            "a cancelled appointment",
        );
        assert_eq!(cancelled.body["status"], "cancelled");
        let refused = app.call("POST", &format!("{path}/cancel"), None).await;
        assert_eq!(refused.status, 422, "R46");
        let work_order_path = format!("{work_order_base}/workorder/{work_order}");
        assert_eq!(app.call("GET", &work_order_path, None).await.body["state"], "open");

        // The Seller notes, then cancels, a second booking: the technician cannot come (R27, R29).
        let rebooked = app.call("POST", &format!("{appointment_base}/appointment"), Some(&book(&slots[0]))).await;
        assert_eq!(rebooked.status, 201, "the cancelled slot is free again: {:#}", rebooked.body);
        let admin =
            format!("/lso/admin/v1/{}/appointment/{}", irp.to_lowercase(), rebooked.body["id"].as_str().unwrap());
        let seller = async |action: &str, note: &str| {
            let path = format!("{admin}/{action}?buyerId=ACME");
            app.call_as(&app.admin, "POST", &path, Some(&json!({"note": note}))).await
        };
        let noted = seller("note", "the technician will call 30 minutes ahead").await;
        assert_eq!(noted.status, 200, "{:#}", noted.body);
        Contract::assert_valid(&appointments.response("/appointment/{id}", "get", 200), &noted.body, "noted");
        assert_eq!(
            (noted.body["note"][0]["source"].clone(), noted.body["status"].clone()),
            (json!("seller"), json!("confirmed"))
        );
        let called_off = seller("cancel", "the technician is ill; please book another visit").await;
        assert_eq!(called_off.status, 200, "{:#}", called_off.body);
        assert_eq!(called_off.body["status"], "cancelled");
        assert_eq!(called_off.body["note"].as_array().unwrap().len(), 2);
        let again = app.call("GET", &work_order_path, None).await.body;
        assert_eq!((again["state"].clone(), again["appointmentRequired"].clone()), (json!("open"), json!(true)), "R27");
        assert_eq!(seller("cancel", "twice").await.status, 422, "only a confirmed appointment is cancelled");
        for outcome in ["failed", "missed"] {
            assert_eq!(
                seller(outcome, "not begun").await.status,
                422,
                "only a visit under way ends unable to complete"
            );
        }
        assert_eq!(seller("reschedule", "no").await.status, 404);
        let stranger =
            app.call_as(&app.admin, "POST", &format!("{admin}/note?buyerId=OTHER"), Some(&json!({"note": "x"}))).await;
        assert_eq!(stranger.status, 404, "another Buyer's appointment is not found");

        app.wait_for_deliveries_to(&receiver).await;
        let appointment_events =
            Contract::load(&format!("{irp}/productApi/workforce/appointment/appointmentNotification.api.yaml"));
        let work_order_events =
            Contract::load(&format!("{irp}/productApi/workforce/workorder/workorderNotification.api.yaml"));
        let contract =
            |kind: &str| if kind.starts_with("appointment") { &appointment_events } else { &work_order_events };
        let mut kinds: Vec<String> = receiver.checked("", contract).into_iter().map(|(kind, _)| kind).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(
            kinds,
            [
                "appointmentAttributeValueChangeEvent",
                "appointmentStatusChangeEvent",
                "workOrderAppointmentRequiredEvent",
                "workOrderCreateEvent",
                "workOrderStateChangeEvent"
            ]
        );
    }
}
