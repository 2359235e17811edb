//! Quote Management routes (MEF 115: Sonata 8.0.1, Cantata 2.0.1) with the quote hub.

use crate::{PointState, hubs, list, retrieve, submit};
use axum::Router;
use axum::http::StatusCode;
use lso_bus::HubApi;
use lso_http::MefBody;
use lso_http::filters::Known;
use lso_model::quote::{QuoteEvent, QuoteState};
use serde_json::Value;

pub(crate) fn router() -> Router<PointState> {
    let end = |event: QuoteEvent| {
        submit(StatusCode::OK, move |bus, tenant, body: MefBody<Value>| {
            Box::pin(bus.end_quote(tenant, body.raw, event))
        })
    };
    Router::new()
        // `createQuote`, `listQuote`, `retrieveQuote`.
        .route(
            "/quote",
            submit(StatusCode::CREATED, |bus, tenant, body: MefBody<Value>| {
                Box::pin(bus.create_quote(tenant, body.raw))
            })
            .merge(list(&QUOTE_FILTERS, |bus, s| Box::pin(bus.list_quotes(s)))),
        )
        .route("/quote/{id}", retrieve(|bus, tenant, id| Box::pin(bus.quote(tenant, id))))
        // `cancelQuote` (R53) and `rejectQuote` (R54), which the guide calls `declineQuote`
        // (mef-digest §0.3).
        .route("/cancelQuote", end(QuoteEvent::Cancel))
        .route("/rejectQuote", end(QuoteEvent::Decline))
        .route("/declineQuote", end(QuoteEvent::Decline))
        .merge(hubs::router(HubApi::Quote))
}

const QUOTE_FILTERS: Known = Known {
    choices: &[("state", QuoteState::NAMES), ("quoteLevel", &["budgetary", "firmSubjectToFeasibilityCheck", "firm"])],
    text: &["externalId", "projectId"],
    dates: &[
        "quoteDate",
        "requestedQuoteCompletionDate",
        "expectedQuoteCompletionDate",
        "effectiveQuoteCompletionDate",
    ],
};
