//! Product Offering Qualification routes (MEF 87: Sonata 7.0.1, Cantata 1.0.1) with the POQ hub.

use crate::{PointState, hubs, list, retrieve, submit};
use axum::Router;
use axum::http::StatusCode;
use lso_bus::HubApi;
use lso_http::MefBody;
use lso_http::filters::Known;
use serde_json::Value;

/// The states of a POQ.
const STATES: [&str; 5] = ["acknowledged", "terminatedWithError", "inProgress", "done.unableToProvide", "done.ready"];

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        // `createProductOfferingQualification` (answered in its final state at once, R16) and
        // `listProductOfferingQualification`.
        .route(
            "/productOfferingQualification",
            submit(StatusCode::CREATED, |bus, tenant, body: MefBody<Value>| Box::pin(bus.create_poq(tenant, body.raw)))
                .merge(list(&POQ_FILTERS, |bus, s| Box::pin(bus.list_poqs(s)))),
        )
        .route("/productOfferingQualification/{id}", retrieve(|bus, tenant, id| Box::pin(bus.poq(tenant, id))))
        .merge(hubs::router(HubApi::Qualification))
}

const POQ_FILTERS: Known = Known {
    choices: &[("state", &STATES)],
    text: &["externalId", "projectId"],
    dates: &["requestedPOQCompletionDate"],
};
