//! Trouble Ticket and Incident Management routes (MEF 124, 4.0.0 for both reference points).

use crate::{PointState, hubs};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lso_bus::{HubApi, TicketAction};
use lso_http::api_error;
use lso_http::filters::Kind;
use lso_http::{ApiError, MefBody, Principal, json_response};
use lso_model::Violation;
use lso_model::ticket::{IncidentStatus, TicketStatus};
use serde_json::Value;

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        .route("/troubleTicket", get(list_trouble_ticket).post(create_trouble_ticket))
        .route(
            "/troubleTicket/{id}",
            crate::retrieve(|bus, tenant, id| Box::pin(bus.ticket(tenant, id))).patch(patch_trouble_ticket),
        )
        .route("/troubleTicket/{id}/cancel", post(cancel_trouble_ticket))
        .route("/troubleTicket/{id}/close", post(close_trouble_ticket))
        .route("/troubleTicket/{id}/reopen", post(reopen_trouble_ticket))
        .route("/incident", get(list_incident))
        .route("/incident/{id}", crate::retrieve(|bus, tenant, id| Box::pin(bus.incident(tenant, id))))
        .merge(hubs::router(HubApi::Ticket))
}

/// `createTroubleTicket`: `POST /troubleTicket`.
async fn create_trouble_ticket(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let ticket = state.bus().create_ticket(party.tenant_for_write()?, body.raw).await.map_err(api_error)?;
    Ok(json_response(StatusCode::CREATED, &ticket))
}

/// `patchTroubleTicket`: `PATCH /troubleTicket/{id}`.
async fn patch_trouble_ticket(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let ticket = state.bus().patch_ticket(party.tenant_for_write()?, &id, body.raw).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &ticket))
}

/// `cancelTroubleTicket`: `POST /troubleTicket/{id}/cancel` (R38, R40).
async fn cancel_trouble_ticket(
    state: State<PointState>,
    principal: Principal,
    id: Path<String>,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    act(state, principal, id, raw, TicketAction::Cancel).await
}

/// `closeTroubleTicket`: `POST /troubleTicket/{id}/close` (R47).
async fn close_trouble_ticket(
    state: State<PointState>,
    principal: Principal,
    id: Path<String>,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    act(state, principal, id, raw, TicketAction::Close).await
}

/// `reopenTroubleTicket`: `POST /troubleTicket/{id}/reopen` with the reason (R43).
async fn reopen_trouble_ticket(
    state: State<PointState>,
    principal: Principal,
    id: Path<String>,
    raw: RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let Some(reason) = body.raw["reason"].as_str() else {
        return Err(ApiError::Unprocessable(vec![Violation::missing(
            "/reason",
            "a reopened ticket needs the reason (R43)",
        )]));
    };
    act(state, principal, id, raw, TicketAction::Reopen(reason.to_owned())).await
}

async fn act(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    action: TicketAction,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    state.bus().ticket_action(party.tenant_for_write()?, &id, action).await.map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `listTroubleTicket`: `GET /troubleTicket`.
async fn list_trouble_ticket(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let statuses: Vec<&str> = TicketStatus::ALL.iter().map(|s| s.as_str()).collect();
    let known = [
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
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_tickets(tenant, filters, offset, limit).await
        })
        .await
}

/// `listIncident`: `GET /incident`.
async fn list_incident(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let statuses: Vec<&str> = IncidentStatus::ALL.iter().map(|s| s.as_str()).collect();
    let known = [
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
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_incidents(tenant, filters, offset, limit).await
        })
        .await
}
