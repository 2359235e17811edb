//! Product Ordering Management routes (`productOrderManagement.api.yaml`: Sonata 10.0.0,
//! Cantata 5.0.0).

use crate::{PointState, change, hubs, list, retrieve, submit};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::MethodFilter;
use lso_bus::HubApi;
use lso_http::MefBody;
use lso_http::filters::Known;
use lso_mef_product::{
    CancelProductOrderCreate, ChargeUpdate, ModifyDeliveryDateCreate, ProductOrderCreate, ProductOrderUpdate,
};
use lso_model::order::OrderState;
use lso_model::order::{CancellationReasonType, TaskState};

/// The routes, each named by the operation of the file it serves (MEF 123 use case).
pub(crate) fn router() -> Router<PointState> {
    Router::new()
        // `createProductOrder` (UC1), `listProductOrder` (UC3).
        .route(
            "/productOrder",
            submit(StatusCode::CREATED, |bus, tenant, body: MefBody<ProductOrderCreate>| {
                Box::pin(bus.create_order(tenant, body.raw, body.typed))
            })
            .merge(list(&ORDER_FILTERS, |bus, s| Box::pin(bus.list_orders(s)))),
        )
        // `retrieveProductOrder`, `patchProductOrder` (UC2).
        .route(
            "/productOrder/{id}",
            retrieve(|bus, tenant, id| Box::pin(bus.order(tenant, id))).merge(change(
                MethodFilter::PATCH,
                StatusCode::OK,
                |bus, tenant, id, body: MefBody<ProductOrderUpdate>| {
                    Box::pin(async move { bus.patch_order(tenant, id, &body.raw, &body.typed).await })
                },
            )),
        )
        // `createCancelProductOrder` (UC8), `listCancelProductOrder` (UC9), `retrieveCancelProductOrder`.
        .route(
            "/cancelProductOrder",
            submit(StatusCode::CREATED, |bus, tenant, body: MefBody<CancelProductOrderCreate>| {
                Box::pin(bus.create_cancel(tenant, body.raw, body.typed))
            })
            .merge(list(&TASK_FILTERS, |bus, s| Box::pin(bus.list_cancel_requests(s)))),
        )
        .route("/cancelProductOrder/{id}", retrieve(|bus, tenant, id| Box::pin(bus.cancel_request(tenant, id))))
        // `createModifyProductOrderItemRequestedDeliveryDate` (UC5), its list (UC6) and retrieve.
        .route(
            "/modifyProductOrderItemRequestedDeliveryDate",
            submit(StatusCode::CREATED, |bus, tenant, body: MefBody<ModifyDeliveryDateCreate>| {
                Box::pin(bus.create_modify_date(tenant, body.raw, body.typed))
            })
            .merge(list(&MODIFY_DATE_FILTERS, |bus, s| Box::pin(bus.list_modify_date_requests(s)))),
        )
        .route(
            "/modifyProductOrderItemRequestedDeliveryDate/{id}",
            retrieve(|bus, tenant, id| Box::pin(bus.modify_date_request(tenant, id))),
        )
        // `listCharge` (UC12), `retrieveCharge`, `patchCharge`: the Buyer's answer (UC14).
        .route("/charge", list(&CHARGE_FILTERS, |bus, s| Box::pin(bus.list_charges(s))))
        .route(
            "/charge/{id}",
            retrieve(|bus, tenant, id| Box::pin(bus.charge(tenant, id))).merge(change(
                MethodFilter::PATCH,
                StatusCode::OK,
                |bus, tenant, id, body: MefBody<ChargeUpdate>| Box::pin(bus.answer_charge(tenant, id, body.typed)),
            )),
        )
        .merge(hubs::router(HubApi::Ordering))
}

const ORDER_FILTERS: Known = Known {
    choices: &[("state", OrderState::NAMES)],
    text: &["externalId", "projectId"],
    dates: &[
        "orderDate",
        "completionDate",
        "itemRequestedCompletionDate",
        "itemExpectedCompletionDate",
        "cancellationDate",
    ],
};

const TASK_FILTERS: Known = Known {
    choices: &[("state", TaskState::NAMES), ("cancellationReasonType", CancellationReasonType::NAMES)],
    text: &["productOrderId"],
    dates: &[],
};

const MODIFY_DATE_FILTERS: Known = Known {
    choices: &[("state", TaskState::NAMES), ("expediteIndicator", &["true", "false"])],
    text: &["productOrderId"],
    dates: &["requestedCompletionDate", "creationDate"],
};

const CHARGE_FILTERS: Known = Known {
    choices: &[],
    text: &["productOrderId", "productOrderItemId"],
    dates: &["creationDate", "responseDueDate"],
};
