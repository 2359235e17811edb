//! Appointment and Work Order Management routes (MEF 137, 2.0 for both reference points).

use crate::{PointState, hubs};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lso_bus::HubApi;
use lso_http::api_error;
use lso_http::filters::Kind;
use lso_http::{ApiError, MefBody, Principal, json_response};
use lso_model::workforce::{AppointmentStatus, WorkOrderState};
use serde_json::Value;

pub(crate) fn appointment_router() -> Router<PointState> {
    Router::new()
        .route("/searchTimeSlot", post(create_search_time_slot))
        .route("/appointment", get(list_appointment).post(create_appointment))
        .route(
            "/appointment/{id}",
            crate::retrieve(|bus, tenant, id| Box::pin(bus.appointment(tenant, id))).patch(patch_appointment),
        )
        .route("/appointment/{id}/cancel", post(cancel_appointment))
        .merge(hubs::router(HubApi::Appointment))
}

pub(crate) fn work_order_router() -> Router<PointState> {
    Router::new()
        .route("/workorder", get(list_work_order))
        .route("/workorder/{id}", crate::retrieve(|bus, tenant, id| Box::pin(bus.work_order(tenant, id))))
        .merge(hubs::router(HubApi::WorkOrder))
}

/// `createSearchTimeSlot`: `POST /searchTimeSlot` (R11–R14).
async fn create_search_time_slot(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let found = state.bus().search_time_slots(party.tenant_for_write()?, body.raw).await.map_err(api_error)?;
    Ok(json_response(StatusCode::CREATED, &found))
}

/// `createAppointment`: `POST /appointment` (R15–R25).
async fn create_appointment(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let appointment = state.bus().create_appointment(party.tenant_for_write()?, body.raw).await.map_err(api_error)?;
    Ok(json_response(StatusCode::CREATED, &appointment))
}

/// `patchAppointment`: `PATCH /appointment/{id}` (R40–R44).
async fn patch_appointment(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let appointment =
        state.bus().patch_appointment(party.tenant_for_write()?, &id, body.raw).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &appointment))
}

/// `cancelAppointment`: `POST /appointment/{id}/cancel` (R46–R50).
async fn cancel_appointment(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    state.bus().cancel_appointment(party.tenant_for_write()?, &id).await.map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `listAppointment`: `GET /appointment`.
async fn list_appointment(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let statuses: Vec<&str> = AppointmentStatus::ALL.iter().map(|s| s.as_str()).collect();
    let known = [
        ("workOrderId", Kind::Text),
        ("validFor", Kind::Date),
        ("status", Kind::OneOf(statuses)),
        ("geographicSiteId", Kind::Text),
        ("geographicAddressId", Kind::Text),
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_appointments(tenant, filters, offset, limit).await
        })
        .await
}

/// `listWorkOrder`: `GET /workorder`.
async fn list_work_order(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let states: Vec<&str> = WorkOrderState::ALL.iter().map(|s| s.as_str()).collect();
    let known = [
        ("geographicalSiteId", Kind::Text),
        ("geographicalAddressId", Kind::Text),
        ("relatedEntityType", Kind::Text),
        ("relatedEntityId", Kind::Text),
        ("state", Kind::OneOf(states)),
        ("appointmentRequired", Kind::OneOf(vec!["true", "false"])),
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_work_orders(tenant, filters, offset, limit).await
        })
        .await
}
