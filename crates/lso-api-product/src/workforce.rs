//! Appointment and Work Order Management routes (MEF 137, 2.0 for both reference points).

use crate::{PointState, act, change, hubs, list, retrieve, submit};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::MethodFilter;
use lso_bus::HubApi;
use lso_http::MefBody;
use lso_http::filters::Known;
use lso_model::workforce::{AppointmentStatus, WorkOrderState};
use serde_json::Value;

pub(crate) fn appointment_router() -> Router<PointState> {
    Router::new()
        // `createSearchTimeSlot` (R11–R14).
        .route(
            "/searchTimeSlot",
            submit(StatusCode::CREATED, |bus, tenant, body: MefBody<Value>| {
                Box::pin(bus.search_time_slots(tenant, body.raw))
            }),
        )
        // `createAppointment` (R15–R25), `listAppointment`, `retrieveAppointment`,
        // `patchAppointment` (R40–R44), `cancelAppointment` (R46–R50).
        .route(
            "/appointment",
            submit(StatusCode::CREATED, |bus, tenant, body: MefBody<Value>| {
                Box::pin(bus.create_appointment(tenant, body.raw))
            })
            .merge(list(&APPOINTMENT_FILTERS, |bus, s| Box::pin(bus.list_appointments(s)))),
        )
        .route(
            "/appointment/{id}",
            retrieve(|bus, tenant, id| Box::pin(bus.appointment(tenant, id))).merge(change(
                MethodFilter::PATCH,
                StatusCode::OK,
                |bus, tenant, id, body: MefBody<Value>| Box::pin(bus.patch_appointment(tenant, id, body.raw)),
            )),
        )
        .route("/appointment/{id}/cancel", act(|bus, tenant, id| Box::pin(bus.cancel_appointment(tenant, id))))
        .merge(hubs::router(HubApi::Appointment))
}

pub(crate) fn work_order_router() -> Router<PointState> {
    Router::new()
        // `listWorkOrder`, `retrieveWorkOrder`.
        .route("/workorder", list(&WORK_ORDER_FILTERS, |bus, s| Box::pin(bus.list_work_orders(s))))
        .route("/workorder/{id}", retrieve(|bus, tenant, id| Box::pin(bus.work_order(tenant, id))))
        .merge(hubs::router(HubApi::WorkOrder))
}

const APPOINTMENT_FILTERS: Known = Known {
    choices: &[("status", AppointmentStatus::NAMES)],
    text: &["workOrderId", "geographicSiteId", "geographicAddressId"],
    dates: &["validFor"],
};

const WORK_ORDER_FILTERS: Known = Known {
    choices: &[("state", WorkOrderState::NAMES), ("appointmentRequired", &["true", "false"])],
    text: &["geographicalSiteId", "geographicalAddressId", "relatedEntityType", "relatedEntityId"],
    dates: &[],
};
