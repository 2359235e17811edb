//! Product Ordering Management routes (`productOrderManagement.api.yaml`: Sonata 10.0.0,
//! Cantata 5.0.0).

use crate::{PointState, hubs};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use lso_bus::HubApi;
use lso_http::api_error;
use lso_http::filters::Kind;
use lso_http::{ApiError, MefBody, Principal, json_response};
use lso_mef_product::{
    CancelProductOrderCreate, ChargeUpdate, ModifyDeliveryDateCreate, ProductOrderCreate, ProductOrderUpdate,
};
use lso_model::order::OrderState;
use lso_model::order::{CancellationReasonType, TaskState};
use serde_json::Value;

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        .route("/productOrder", post(create_product_order).get(list_product_order))
        .route(
            "/productOrder/{id}",
            crate::retrieve(|bus, tenant, id| Box::pin(bus.order(tenant, id))).patch(patch_product_order),
        )
        .route("/cancelProductOrder", post(create_cancel_product_order).get(list_cancel_product_order))
        .route("/cancelProductOrder/{id}", crate::retrieve(|bus, tenant, id| Box::pin(bus.cancel_request(tenant, id))))
        .route(
            "/modifyProductOrderItemRequestedDeliveryDate",
            post(create_modify_product_order_item_requested_delivery_date)
                .get(list_modify_product_order_item_requested_delivery_date),
        )
        .route(
            "/modifyProductOrderItemRequestedDeliveryDate/{id}",
            crate::retrieve(|bus, tenant, id| Box::pin(bus.modify_date_request(tenant, id))),
        )
        .route("/charge", get(list_charge))
        .route("/charge/{id}", crate::retrieve(|bus, tenant, id| Box::pin(bus.charge(tenant, id))).patch(patch_charge))
        .merge(hubs::router(HubApi::Ordering))
}

/// A 201 with the created resource and its `Location`.
fn created(resource: &Value) -> Response {
    let mut response = json_response(StatusCode::CREATED, resource);
    if let Some(location) = resource["href"].as_str().and_then(|h| HeaderValue::from_str(h).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `createProductOrder`: `POST /productOrder` (MEF 123 UC1).
async fn create_product_order(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<ProductOrderCreate>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let order = state.bus().create_order(party.tenant_for_write()?, body.raw, body.typed).await.map_err(api_error)?;
    Ok(created(&order))
}

/// `patchProductOrder`: `PATCH /productOrder/{id}` (MEF 123 UC2).
async fn patch_product_order(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: MefBody<ProductOrderUpdate>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let order =
        state.bus().patch_order(party.tenant_for_write()?, &id, &body.raw, &body.typed).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &order))
}

/// `createCancelProductOrder`: `POST /cancelProductOrder` (MEF 123 UC8).
async fn create_cancel_product_order(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<CancelProductOrderCreate>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let cancel = state.bus().create_cancel(party.tenant_for_write()?, body.raw, body.typed).await.map_err(api_error)?;
    Ok(created(&cancel))
}

/// `listCancelProductOrder`: `GET /cancelProductOrder` (MEF 123 UC9).
async fn list_cancel_product_order(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let known = [
        ("productOrderId", Kind::Text),
        ("state", Kind::OneOf(TaskState::ALL.iter().map(|s| s.as_str()).collect())),
        ("cancellationReasonType", Kind::OneOf(CancellationReasonType::ALL.iter().map(|s| s.as_str()).collect())),
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_cancel_requests(tenant, filters, offset, limit).await
        })
        .await
}

/// `createModifyProductOrderItemRequestedDeliveryDate` (MEF 123 UC5).
async fn create_modify_product_order_item_requested_delivery_date(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<ModifyDeliveryDateCreate>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let modify =
        state.bus().create_modify_date(party.tenant_for_write()?, body.raw, body.typed).await.map_err(api_error)?;
    Ok(created(&modify))
}

/// `listModifyProductOrderItemRequestedDeliveryDate` (MEF 123 UC6).
async fn list_modify_product_order_item_requested_delivery_date(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let known = [
        ("productOrderId", Kind::Text),
        ("state", Kind::OneOf(TaskState::ALL.iter().map(|s| s.as_str()).collect())),
        ("expediteIndicator", Kind::OneOf(vec!["true", "false"])),
        ("requestedCompletionDate", Kind::Date),
        ("creationDate", Kind::Date),
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_modify_date_requests(tenant, filters, offset, limit).await
        })
        .await
}

/// `listCharge`: `GET /charge` (MEF 123 UC12).
async fn list_charge(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let known = [
        ("productOrderId", Kind::Text),
        ("productOrderItemId", Kind::Text),
        ("creationDate", Kind::Date),
        ("responseDueDate", Kind::Date),
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_charges(tenant, filters, offset, limit).await
        })
        .await
}

/// `patchCharge`: `PATCH /charge/{id}`, the Buyer's answer (MEF 123 UC14).
async fn patch_charge(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: MefBody<ChargeUpdate>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let charge = state.bus().answer_charge(party.tenant_for_write()?, &id, body.typed).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &charge))
}

/// `listProductOrder`: `GET /productOrder` (MEF 123 UC3).
async fn list_product_order(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let known = [
        ("state", Kind::OneOf(OrderState::ALL.iter().map(|s| s.as_str()).collect())),
        ("externalId", Kind::Text),
        ("projectId", Kind::Text),
        ("orderDate", Kind::Date),
        ("completionDate", Kind::Date),
        ("itemRequestedCompletionDate", Kind::Date),
        ("itemExpectedCompletionDate", Kind::Date),
        ("cancellationDate", Kind::Date),
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_orders(tenant, filters, offset, limit).await
        })
        .await
}
