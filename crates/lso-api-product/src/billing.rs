//! Customer Bill Management routes (MEF 141, 2.0 for both reference points).

use crate::{PointState, hubs, list, retrieve};
use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lso_bus::HubApi;
use lso_http::filters::Known;
use lso_http::{ApiError, Caller, api_error};

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        // `listCustomerBill`, `retrieveCustomerBill`, `retrieveCustomerBillItem`.
        .route("/customerBill", list(&BILL_FILTERS, |bus, s| Box::pin(bus.list_customer_bills(s))))
        .route("/customerBill/{id}", retrieve(|bus, tenant, id| Box::pin(bus.customer_bill(tenant, id))))
        .route("/customerBill/{id}/document.pdf", get(retrieve_bill_document))
        .route("/customerBillItem/{id}", retrieve(|bus, tenant, id| Box::pin(bus.customer_bill_item(tenant, id))))
        .merge(hubs::router(HubApi::Billing))
}

const BILL_FILTERS: Known = Known {
    choices: &[("category", &["normal", "duplicate", "trial"]), ("state", &["generated", "paymentDue", "settled"])],
    text: &["billingAccount.id"],
    dates: &["billingPeriod.startDateTime", "billingPeriod.endDateTime"],
};

/// The bill's `billDocument`: `GET /customerBill/{id}/document.pdf`, the printable bill.
async fn retrieve_bill_document(caller: Caller<PointState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (state, acting) = caller.plain()?;
    let tenant = acting.tenant_key();
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
