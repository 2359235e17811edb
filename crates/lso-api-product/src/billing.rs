//! Customer Bill Management routes (MEF 141, 2.0 for both reference points).

use crate::{PointState, hubs};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lso_bus::HubApi;
use lso_http::api_error;
use lso_http::filters::Kind;
use lso_http::{ApiError, Principal};

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        .route("/customerBill", get(list_customer_bill))
        .route("/customerBill/{id}", crate::retrieve(|bus, tenant, id| Box::pin(bus.customer_bill(tenant, id))))
        .route("/customerBill/{id}/document.pdf", get(retrieve_bill_document))
        .route(
            "/customerBillItem/{id}",
            crate::retrieve(|bus, tenant, id| Box::pin(bus.customer_bill_item(tenant, id))),
        )
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

/// The bill's `billDocument`: `GET /customerBill/{id}/document.pdf`, the printable bill.
async fn retrieve_bill_document(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let tenant = party.tenant_key();
    let bill = state.bus().customer_bill(tenant.as_deref(), &id).await.map_err(api_error)?;
    let mut items = Vec::new();
    for item in bill["customerBillItem"].as_array().into_iter().flatten() {
        let item_id = item["id"].as_str().unwrap_or_default();
        items.push(state.bus().customer_bill_item(tenant.as_deref(), item_id).await.map_err(api_error)?);
    }
    let title = format!("Bill {}", bill["billNo"].as_str().unwrap_or_default());
    let document = crate::pdf::text_document(&title, &crate::pdf::bill_lines(&bill, &items));
    Ok(([(axum::http::header::CONTENT_TYPE, "application/pdf")], document).into_response())
}
