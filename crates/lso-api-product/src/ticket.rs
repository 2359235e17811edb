//! Trouble Ticket and Incident Management routes (MEF 124, 4.0.0 for both reference points).

use crate::{PointState, act, change, hubs, list, retrieve, submit};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::MethodFilter;
use lso_bus::{BusError, HubApi, TicketAction};
use lso_http::MefBody;
use lso_http::filters::Known;
use lso_model::Violation;
use lso_model::ticket::{IncidentStatus, TicketStatus};
use serde_json::Value;

pub(crate) fn router() -> Router<PointState> {
    let on_ticket =
        |action: TicketAction| act(move |bus, tenant, id| Box::pin(bus.ticket_action(tenant, id, action.clone())));
    Router::new()
        // `createTroubleTicket`, `listTroubleTicket`, `retrieveTroubleTicket`, `patchTroubleTicket`.
        .route(
            "/troubleTicket",
            submit(StatusCode::CREATED, |bus, tenant, body: MefBody<Value>| {
                Box::pin(bus.create_ticket(tenant, body.raw))
            })
            .merge(list(&TICKET_FILTERS, |bus, s| Box::pin(bus.list_tickets(s)))),
        )
        .route(
            "/troubleTicket/{id}",
            retrieve(|bus, tenant, id| Box::pin(bus.ticket(tenant, id))).merge(change(
                MethodFilter::PATCH,
                StatusCode::OK,
                |bus, tenant, id, body: MefBody<Value>| Box::pin(bus.patch_ticket(tenant, id, body.raw)),
            )),
        )
        // `cancelTroubleTicket` (R38, R40), `closeTroubleTicket` (R47), and
        // `reopenTroubleTicket` with the reason (R43).
        .route("/troubleTicket/{id}/cancel", on_ticket(TicketAction::Cancel))
        .route("/troubleTicket/{id}/close", on_ticket(TicketAction::Close))
        .route(
            "/troubleTicket/{id}/reopen",
            change(MethodFilter::POST, StatusCode::NO_CONTENT, |bus, tenant, id, body: MefBody<Value>| {
                Box::pin(async move {
                    let Some(reason) = body.raw["reason"].as_str() else {
                        let why = "a reopened ticket needs the reason (R43)";
                        return Err(BusError::Invalid(vec![Violation::missing("/reason", why)]));
                    };
                    bus.ticket_action(tenant, id, TicketAction::Reopen(reason.to_owned())).await
                })
            }),
        )
        // `listIncident`, `retrieveIncident`.
        .route("/incident", list(&INCIDENT_FILTERS, |bus, s| Box::pin(bus.list_incidents(s))))
        .route("/incident/{id}", retrieve(|bus, tenant, id| Box::pin(bus.incident(tenant, id))))
        .merge(hubs::router(HubApi::Ticket))
}

const TICKET_FILTERS: Known = Known {
    choices: &[
        ("priority", &lso_bus::PRIORITIES),
        ("sellerPriority", &lso_bus::PRIORITIES),
        ("severity", &lso_bus::SEVERITIES),
        ("sellerSeverity", &lso_bus::SEVERITIES),
        ("ticketType", &lso_bus::TICKET_TYPES),
        ("status", TicketStatus::NAMES),
        ("observedImpact", &lso_bus::IMPACTS),
    ],
    text: &["externalId", "relatedEntityId", "relatedEntityType"],
    dates: &["creationDate", "expectedResolutionDate", "resolutionDate"],
};

const INCIDENT_FILTERS: Known = Known {
    choices: &[
        ("priority", &lso_bus::PRIORITIES),
        ("severity", &lso_bus::SEVERITIES),
        ("impact", &lso_bus::IMPACTS),
        ("incidentType", &lso_bus::INCIDENT_TYPES),
        ("status", IncidentStatus::NAMES),
    ],
    text: &["relatedEntityId", "relatedEntityType"],
    dates: &["creationDate", "situationStartDate", "expectedClosedDate", "closedDate"],
};
