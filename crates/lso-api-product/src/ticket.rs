//! Trouble Ticket and Incident Management routes (MEF 124, 4.0.0 for both reference points).

use crate::{PointState, act, change, hubs, list, retrieve, submit};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::MethodFilter;
use lso_bus::{BusError, HubApi, TicketAction};
use lso_http::MefBody;
use lso_http::filters::Kind;
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
            .merge(list(ticket_filters, |bus, s| Box::pin(bus.list_tickets(s)))),
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
        .route("/incident", list(incident_filters, |bus, s| Box::pin(bus.list_incidents(s))))
        .route("/incident/{id}", retrieve(|bus, tenant, id| Box::pin(bus.incident(tenant, id))))
        .merge(hubs::router(HubApi::Ticket))
}

fn ticket_filters() -> Vec<(&'static str, Kind)> {
    let statuses: Vec<&str> = TicketStatus::ALL.iter().map(|s| s.as_str()).collect();
    vec![
        ("externalId", Kind::Text),
        ("priority", Kind::OneOf(lso_bus::PRIORITIES.to_vec())),
        ("sellerPriority", Kind::OneOf(lso_bus::PRIORITIES.to_vec())),
        ("severity", Kind::OneOf(lso_bus::SEVERITIES.to_vec())),
        ("sellerSeverity", Kind::OneOf(lso_bus::SEVERITIES.to_vec())),
        ("ticketType", Kind::OneOf(lso_bus::TICKET_TYPES.to_vec())),
        ("status", Kind::OneOf(statuses)),
        ("observedImpact", Kind::OneOf(lso_bus::IMPACTS.to_vec())),
        ("relatedEntityId", Kind::Text),
        ("relatedEntityType", Kind::Text),
        ("creationDate", Kind::Date),
        ("expectedResolutionDate", Kind::Date),
        ("resolutionDate", Kind::Date),
    ]
}

fn incident_filters() -> Vec<(&'static str, Kind)> {
    let statuses: Vec<&str> = IncidentStatus::ALL.iter().map(|s| s.as_str()).collect();
    vec![
        ("priority", Kind::OneOf(lso_bus::PRIORITIES.to_vec())),
        ("severity", Kind::OneOf(lso_bus::SEVERITIES.to_vec())),
        ("impact", Kind::OneOf(lso_bus::IMPACTS.to_vec())),
        ("incidentType", Kind::OneOf(lso_bus::INCIDENT_TYPES.to_vec())),
        ("status", Kind::OneOf(statuses)),
        ("relatedEntityId", Kind::Text),
        ("relatedEntityType", Kind::Text),
        ("creationDate", Kind::Date),
        ("situationStartDate", Kind::Date),
        ("expectedClosedDate", Kind::Date),
        ("closedDate", Kind::Date),
    ]
}
