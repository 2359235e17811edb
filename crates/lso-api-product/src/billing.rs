//! Customer Bill Management routes (MEF 141, 2.0 for both reference points).

use crate::{PointState, api_error, hubs};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use lso_bus::HubApi;
use lso_http::filters::Kind;
use lso_http::{ApiError, Principal, json_response};

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        .route("/customerBill", get(list_customer_bill))
        .route("/customerBill/{id}", get(retrieve_customer_bill))
        .route("/customerBillItem/{id}", get(retrieve_customer_bill_item))
        .merge(hubs::router(HubApi::Billing))
}

/// `listCustomerBill`: `GET /customerBill`.
async fn list_customer_bill(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let known = [
        ("billingAccount.id", Kind::Text),
        ("billingPeriod.startDateTime", Kind::Date),
        ("billingPeriod.endDateTime", Kind::Date),
        ("category", Kind::OneOf(vec!["normal", "duplicate", "trial"])),
        ("state", Kind::OneOf(vec!["generated", "paymentDue", "settled"])),
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_customer_bills(tenant, filters, offset, limit).await
        })
        .await
}

/// `retrieveCustomerBill`: `GET /customerBill/{id}`.
async fn retrieve_customer_bill(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let bill = state.bus().customer_bill(party.tenant_key().as_deref(), &id).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &bill))
}

/// `retrieveCustomerBillItem`: `GET /customerBillItem/{id}`.
async fn retrieve_customer_bill_item(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let item = state.bus().customer_bill_item(party.tenant_key().as_deref(), &id).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &item))
}
