//! Product Inventory routes (`productInventoryManagement.api.yaml`: Sonata 7.0.2, Cantata
//! 1.0.2), plus the inventory notification hub `lso` adds.

use crate::{PointState, hubs, list};
use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use lso_bus::HubApi;
use lso_http::filters::Kind;
use lso_http::{ApiError, Caller, api_error};
use lso_model::product::ProductStatus;
use serde_json::Value;

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        // `listProduct` (MEF 116), `retrieveProduct`.
        .route("/product", list(product_filters, |bus, s| Box::pin(bus.list_products(s))))
        .route("/product/{id}", get(retrieve_product))
        .merge(hubs::router(HubApi::Inventory))
}

fn product_filters() -> Vec<(&'static str, Kind)> {
    vec![
        ("status", Kind::OneOf(ProductStatus::ALL.iter().map(|s| s.as_str()).collect())),
        ("productSpecificationId", Kind::Text),
        ("productOfferingId", Kind::Text),
        ("externalId", Kind::Text),
        ("geographicalSiteId", Kind::Text),
        ("relatedProductId", Kind::Text),
        ("billingAccountId", Kind::Text),
        ("productOrderId", Kind::Text),
        ("startDate", Kind::Date),
        ("lastUpdateDate", Kind::Date),
    ]
}

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
