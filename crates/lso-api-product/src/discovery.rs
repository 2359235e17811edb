//! Product Offering Availability and Pricing Discovery routes (MEF W160, 2.0.0-RC): two
//! synchronous POSTs answering 200.

use crate::{PointState, submit};
use axum::Router;
use axum::http::StatusCode;
use lso_http::MefBody;
use serde_json::Value;

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        // `productOfferingAvailabilityRequest`.
        .route(
            "/productOfferingAvailability",
            submit(StatusCode::OK, |bus, tenant, body: MefBody<Value>| Box::pin(bus.availability(tenant, body.raw))),
        )
        // `pricingDiscoveryRequest`.
        .route(
            "/pricingDiscovery",
            submit(StatusCode::OK, |bus, tenant, body: MefBody<Value>| Box::pin(bus.pricing(tenant, body.raw))),
        )
}
