//! Trouble tickets and incidents over both reference points on the demo network: a fault on an
//! element under a Buyer's EVPL is an incident, linked to the Buyer's ticket on the EVPL and
//! resolving it when the fault clears; the Buyer's and the operator's moves; every answer and
//! event valid against the official files.

use crate::support::*;
use lso_server::config::FulfilmentMode;
use serde_json::{Value, json};

fn ticket_on(product: &str) -> Value {
    json!({"description": "no traffic between the sites", "externalId": "buyer-ticket-1", "observedImpact": "down",
           "priority": "high", "severity": "significant", "ticketType": "assistance",
           "relatedEntity": [{"@referredType": "Product", "id": product, "role": "affectedProduct"}],
           "relatedContactInformation": [contact("reporterContact")],
           "note": [{"id": "n-1", "author": "Ann", "date": "2026-01-01T00:00:00Z", "source": "buyer", "text": "since 9:00"}]})
}

/// The element whose loss cuts the connectivity service of a product.
pub(crate) async fn element_under(app: &App) -> String {
    for element in ["pe1", "pe2", "pe3"] {
        let alarm = lso_adagio::Alarm {
            element: element.into(),
            port: None,
            kind: lso_adagio::AlarmKind::ElementUnreachable,
            detail: String::new(),
            raised_at: 0,
        };
        if !app.seller.icm.affected_by(&alarm).await.is_empty() {
            return element.into();
        }
    }
    panic!("no element carries the service");
}

#[tokio::test]
async fn a_fault_under_a_product_is_an_incident_that_resolves_the_buyers_ticket_and_every_answer_meets_the_contract() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app_with(|c| {
            c.fulfilment.by = FulfilmentMode::Network;
            c.network.alarm_poll_millis = 3_600_000; // the test polls for alarms itself
        })
        .await;
        let contract = Contract::load(&format!("{irp}/productApi/troubleTicket/troubleTicketManagement.api.yaml"))
            // MEF 124 R23: `TroubleTicket_Find` carries these only when they are set.
            .without_required("TroubleTicket_Find", &["externalId", "resolutionDate"]);
        let events = Contract::load(&format!("{irp}/productApi/troubleTicket/troubleTicketNotification.api.yaml"));
        let point: lso_model::Irp = irp.to_lowercase().parse().unwrap();
        let base = lso_mef_product::ticket_base(point);
        let (receiver, hub) = app.listening_at(&base).await;
        Contract::assert_valid(&contract.response("/hub", "post", 201), &hub, "the hub");

        let ordering = lso_mef_product::ordering_base(point);
        let order = crate::network::evpl_order(&["site-new-york", "site-boston"], 100, 20);
        let placed = app.call("POST", &format!("{ordering}/productOrder"), Some(&order)).await;
        let done = app.wait_until_final(&ordering, placed.body["id"].as_str().unwrap()).await;
        assert_eq!(done["state"], "completed", "{done:#}");
        let evpl = done["productOrderItem"][2]["product"]["id"].as_str().unwrap().to_owned();

        let created = app.call("POST", &format!("{base}/troubleTicket"), Some(&ticket_on(&evpl))).await;
        assert_eq!(created.status, 201, "{:#}", created.body);
        Contract::assert_valid(&contract.response("/troubleTicket", "post", 201), &created.body, "a ticket");
        assert_eq!(created.body["status"], "acknowledged");
        assert_eq!(created.body["sellerPriority"], "high");
        assert!(
            created.body["relatedContactInformation"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["role"] == "sellerTicketContact")
        );
        let id = created.body["id"].as_str().unwrap().to_owned();
        let ticket_path = format!("{base}/troubleTicket/{id}");
        app.wait_until(&ticket_path, |t| t["status"] == "inProgress").await;

        let element = element_under(&app).await;
        app.seller.ecm.simulated(&element).unwrap().set_down(true);
        assert_eq!(app.seller.check_alarms().await, 1);
        let incidents =
            app.call("GET", &format!("{base}/incident?status=inProgress&relatedEntityId={evpl}"), None).await;
        Contract::assert_valid(&contract.response("/incident", "get", 200), &incidents.body, "incidents");
        assert_eq!(incidents.body.as_array().unwrap().len(), 1, "{:#}", incidents.body);
        let incident = incidents.body[0]["id"].as_str().unwrap().to_owned();
        let read = app.call("GET", &format!("{base}/incident/{incident}"), None).await;
        Contract::assert_valid(&contract.response("/incident/{id}", "get", 200), &read.body, "an incident");
        assert!(read.body["description"].as_str().unwrap().contains(&element));
        let linked = app.call("GET", &ticket_path, None).await.body;
        assert_eq!(linked["relatedIssue"][0]["id"], incident.as_str(), "{linked:#}");
        // The Seller tells the Buyer how the repair goes, and when it should end.
        let noted = format!("/lso/admin/v1/{}/incident/{incident}/note?buyerId=ACME", irp.to_lowercase());
        let eta = days_from_now(1);
        let word = json!({"note": "a technician is on the way", "expectedClosedDate": eta});
        let told = app.call_as(&app.admin, "POST", &noted, Some(&word)).await;
        assert_eq!(told.status, 200, "{:#}", told.body);
        let read = app.call("GET", &format!("{base}/incident/{incident}"), None).await.body;
        Contract::assert_valid(&contract.response("/incident/{id}", "get", 200), &read, "a noted incident");
        assert_eq!(read["note"].as_array().unwrap().last().unwrap()["text"], "a technician is on the way");
        assert_eq!(read["expectedClosedDate"], json!(eta));
        let bad =
            app.call_as(&app.admin, "POST", &noted, Some(&json!({"note": "x", "expectedClosedDate": "soon"}))).await;
        assert_eq!((bad.status, property_paths(&bad.body)), (422, vec!["/expectedClosedDate"]));

        app.seller.ecm.simulated(&element).unwrap().set_down(false);
        assert_eq!(app.seller.check_alarms().await, 1);
        let closed = app.call("GET", &format!("{base}/incident/{incident}"), None).await.body;
        assert_eq!(closed["status"], "closed");
        assert!(closed["closedDate"].is_string());
        let late = app.call_as(&app.admin, "POST", &noted, Some(&json!({"note": "done"}))).await;
        assert_eq!(late.status, 409, "a closed incident does not change: {:#}", late.body);
        let resolved = app.call("GET", &ticket_path, None).await.body;
        Contract::assert_valid(&contract.response("/troubleTicket/{id}", "get", 200), &resolved, "a resolved ticket");
        assert_eq!(resolved["status"], "resolved");
        assert!(resolved["resolutionDate"].is_string(), "R28");
        let last = resolved["note"].as_array().unwrap().last().unwrap();
        assert_eq!(last["source"], "seller");
        assert!(last["text"].as_str().unwrap().contains(&incident), "R28: {last}");

        // The Buyer rejects the resolution; the Seller's operator resolves it again; the Buyer closes.
        let reopen = format!("{ticket_path}/reopen");
        assert_eq!(app.call("POST", &reopen, Some(&json!({}))).await.status, 422, "R43");
        assert_eq!(app.call("POST", &reopen, Some(&json!({"reason": "still dropping frames"}))).await.status, 204);
        let reopened = app.wait_until(&ticket_path, |t| t["status"] == "inProgress").await;
        assert!(
            reopened["note"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["author"] == "closureRejection" && n["source"] == "buyer"),
            "R45, R46"
        );
        let admin = format!("/lso/admin/v1/{}/troubleTicket/{id}", irp.to_lowercase());
        let pend = app
            .call_as(
                &app.admin,
                "POST",
                &format!("{admin}/pending?buyerId=ACME"),
                Some(&json!({"note": "which VLAN drops?"})),
            )
            .await;
        assert_eq!(pend.status, 200, "{:#}", pend.body);
        let answer = json!({"note": [{"id": "n-2", "author": "Ann", "date": "2026-01-01T01:00:00Z", "source": "buyer", "text": "VLAN 100"}]});
        let patched = app.call("PATCH", &ticket_path, Some(&answer)).await;
        Contract::assert_valid(
            &contract.response("/troubleTicket/{id}", "patch", 200),
            &patched.body,
            "a patched ticket",
        );
        assert_eq!(patched.body["status"], "inProgress", "R37");
        let weighty = app.call("PATCH", &ticket_path, Some(&json!({"priority": "critical"}))).await;
        assert_eq!(weighty.status, 422, "R30");
        assert_eq!(weighty.body[0]["propertyPath"], "/note");
        let foreign = app.call("PATCH", &ticket_path, Some(&json!({"status": "closed"}))).await;
        assert_eq!(foreign.body[0]["propertyPath"], "/status", "R34");
        let fixed = app
            .call_as(
                &app.admin,
                "POST",
                &format!("{admin}/resolved?buyerId=ACME"),
                Some(&json!({"note": "replaced the optic"})),
            )
            .await;
        assert_eq!(fixed.body["status"], "resolved");
        assert_eq!(app.call("POST", &format!("{ticket_path}/close"), None).await.status, 204);
        assert_eq!(app.call("GET", &ticket_path, None).await.body["status"], "closed");
        let late = app.call("PATCH", &ticket_path, Some(&answer)).await;
        assert_eq!(late.status, 422, "R35");
        Contract::assert_valid(&contract.response("/troubleTicket/{id}", "patch", 422), &late.body, "422");

        let second = app.call("POST", &format!("{base}/troubleTicket"), Some(&ticket_on(&evpl))).await.body;
        let second_path = format!("{base}/troubleTicket/{}", second["id"].as_str().unwrap());
        assert_eq!(app.call("POST", &format!("{second_path}/cancel"), None).await.status, 204);
        app.wait_until(&second_path, |t| t["status"] == "cancelled").await;
        let again = app.call("POST", &format!("{second_path}/cancel"), None).await;
        assert_eq!(again.status, 422, "R40");
        Contract::assert_valid(&contract.response("/troubleTicket/{id}/cancel", "post", 422), &again.body, "422");

        let mut bad = ticket_on("no-such-product");
        bad.as_object_mut().unwrap().remove("severity");
        let refused = app.call("POST", &format!("{base}/troubleTicket"), Some(&bad)).await;
        Contract::assert_valid(&contract.response("/troubleTicket", "post", 422), &refused.body, "422");
        let paths = property_paths(&refused.body);
        assert_eq!(paths, ["/severity", "/relatedEntity/0/id"]);

        let listed = app.call("GET", &format!("{base}/troubleTicket?status=closed&priority=high"), None).await;
        Contract::assert_valid(&contract.response("/troubleTicket", "get", 200), &listed.body, "the list");
        assert_eq!(listed.body.as_array().unwrap().len(), 1);
        assert_eq!(listed.body[0]["id"], id.as_str());

        app.wait_for_deliveries_to(&receiver).await;
        let checked = receiver.checked("/troubleTicketNotification/v4", |_| &events);
        let kinds: std::collections::BTreeSet<String> = checked.into_iter().map(|(kind, _)| kind).collect();
        let every: std::collections::BTreeSet<String> =
            lso_bus::TICKET_EVENT_TYPES.iter().map(|k| k.to_string()).collect();
        let missing: Vec<_> = every.difference(&kinds).collect();
        assert!(missing.is_empty(), "every event type was sent but {missing:?}");
    }
}
