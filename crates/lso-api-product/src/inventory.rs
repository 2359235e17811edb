//! Product Inventory routes (`productInventoryManagement.api.yaml`: Sonata 7.0.2, Cantata
//! 1.0.2), plus the inventory notification hub `lso` adds.

use crate::{PointState, hubs, list};
use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use lso_bus::HubApi;
use lso_http::filters::Known;
use lso_http::{ApiError, Caller, api_error};
use lso_model::product::ProductStatus;
use serde_json::Value;

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        // `listProduct` (MEF 116), `retrieveProduct`.
        .route("/product", list(&PRODUCT_FILTERS, |bus, s| Box::pin(bus.list_products(s))))
        .route("/product/{id}", get(retrieve_product))
        .merge(hubs::router(HubApi::Inventory))
}

const PRODUCT_FILTERS: Known = Known {
    choices: &[("status", ProductStatus::NAMES)],
    text: &[
        "productSpecificationId",
        "productOfferingId",
        "externalId",
        "geographicalSiteId",
        "relatedProductId",
        "billingAccountId",
        "productOrderId",
    ],
    dates: &["startDate", "lastUpdateDate"],
};

/// `retrieveProduct`: `GET /product/{id}`, with `fields` selecting the attributes returned.
async fn retrieve_product(caller: Caller<PointState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let Caller { state, acting: party, mut query, .. } = caller;
    let fields = query.single("fields")?;
    query.finish()?;
    let product = state.bus().product(party.tenant_key().as_deref(), &id).await.map_err(api_error)?;
    let mut value = serde_json::to_value(&product).map_err(|_| ApiError::Internal)?;
    if let (Some(fields), Value::Object(map)) = (fields, &mut value) {
        let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
        map.retain(|key, _| matches!(key.as_str(), "id" | "startDate" | "status") || wanted.contains(&key.as_str()));
    }
    Ok(lso_http::ok(&value))
}
