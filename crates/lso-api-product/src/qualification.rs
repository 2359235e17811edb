//! Product Offering Qualification routes (MEF 87: Sonata 7.0.1, Cantata 1.0.1) with the POQ hub.

use crate::{PointState, hubs};
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use lso_bus::HubApi;
use lso_http::api_error;
use lso_http::filters::Kind;
use lso_http::{ApiError, MefBody, Principal, json_response};
use serde_json::Value;

/// The states of a POQ.
const STATES: [&str; 5] = ["acknowledged", "terminatedWithError", "inProgress", "done.unableToProvide", "done.ready"];

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        .route(
            "/productOfferingQualification",
            get(list_product_offering_qualification).post(create_product_offering_qualification),
        )
        .route("/productOfferingQualification/{id}", crate::retrieve(|bus, tenant, id| Box::pin(bus.poq(tenant, id))))
        .merge(hubs::router(HubApi::Qualification))
}

/// `createProductOfferingQualification`: `POST /productOfferingQualification` (MEF 87), answered
/// in its final state at once (R16).
async fn create_product_offering_qualification(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let poq = state.bus().create_poq(party.tenant_for_write()?, body.raw).await.map_err(api_error)?;
    Ok(json_response(StatusCode::CREATED, &poq))
}

/// `listProductOfferingQualification`: `GET /productOfferingQualification`.
async fn list_product_offering_qualification(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let known = [
        ("state", Kind::OneOf(STATES.to_vec())),
        ("externalId", Kind::Text),
        ("projectId", Kind::Text),
        ("requestedPOQCompletionDate", Kind::Date),
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_poqs(tenant, filters, offset, limit).await
        })
        .await
}
