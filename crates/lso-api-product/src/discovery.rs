//! Product Offering Availability and Pricing Discovery routes (MEF W160, 2.0.0-RC): two
//! synchronous POSTs answering 200.

use crate::PointState;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use lso_bus::Bus;
use lso_http::api_error;
use lso_http::{ApiError, MefBody, Principal, json_response};
use lso_model::Tenant;
use serde_json::Value;

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        .route("/productOfferingAvailability", post(product_offering_availability_request))
        .route("/pricingDiscovery", post(pricing_discovery_request))
}

/// `productOfferingAvailabilityRequest`: `POST /productOfferingAvailability`.
async fn product_offering_availability_request(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    answer(&state, &principal, raw, body, Bus::availability).await
}

/// `pricingDiscoveryRequest`: `POST /pricingDiscovery`.
async fn pricing_discovery_request(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    answer(&state, &principal, raw, body, Bus::pricing).await
}

/// The 200 answer of a discovery request.
async fn answer<F>(
    state: &PointState,
    principal: &Principal,
    raw: Option<String>,
    body: MefBody<Value>,
    discover: F,
) -> Result<Response, ApiError>
where
    F: AsyncFnOnce(&Bus, &Tenant, Value) -> Result<Value, lso_bus::BusError>,
{
    let party = state.plain_party(principal, raw.as_deref())?;
    let found = discover(state.bus(), party.tenant_for_write()?, body.raw).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &found))
}
