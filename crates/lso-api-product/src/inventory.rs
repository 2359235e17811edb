//! Product Inventory routes (`productInventoryManagement.api.yaml`: Sonata 7.0.2, Cantata
//! 1.0.2), plus the inventory notification hub `lso` adds.

use crate::{PointState, hubs};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use lso_bus::HubApi;
use lso_http::api_error;
use lso_http::filters::Kind;
use lso_http::{ApiError, Principal, QueryParams, json_response};
use lso_model::product::ProductStatus;
use serde_json::Value;

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        .route("/product", get(list_product))
        .route("/product/{id}", get(retrieve_product))
        .merge(hubs::router(HubApi::Inventory))
}

/// `listProduct`: `GET /product` (MEF 116).
async fn list_product(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let known = [
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
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_products(tenant, filters, offset, limit).await
        })
        .await
}

/// `retrieveProduct`: `GET /product/{id}`, with `fields` selecting the attributes returned.
async fn retrieve_product(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut query = QueryParams::parse(raw.as_deref());
    let party = state.party(&principal, &mut query)?;
    let fields = query.single("fields")?;
    query.finish()?;
    let product = state.bus().product(party.tenant_key().as_deref(), &id).await.map_err(api_error)?;
    let mut value = serde_json::to_value(&product).map_err(|_| ApiError::Internal)?;
    if let (Some(fields), Value::Object(map)) = (fields, &mut value) {
        let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
        map.retain(|key, _| matches!(key.as_str(), "id" | "startDate" | "status") || wanted.contains(&key.as_str()));
    }
    Ok(json_response(StatusCode::OK, &value))
}
