//! Quote Management routes (MEF 115: Sonata 8.0.1, Cantata 2.0.1) with the quote hub.

use crate::{PointState, hubs};
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use lso_bus::HubApi;
use lso_http::api_error;
use lso_http::filters::Kind;
use lso_http::{ApiError, MefBody, Principal, json_response};
use lso_model::quote::{QuoteEvent, QuoteState};
use serde_json::Value;

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        .route("/quote", get(list_quote).post(create_quote))
        .route("/quote/{id}", crate::retrieve(|bus, tenant, id| Box::pin(bus.quote(tenant, id))))
        .route("/cancelQuote", post(cancel_quote))
        .route("/rejectQuote", post(reject_quote))
        // The guide calls it `declineQuote` (mef-digest §0.3).
        .route("/declineQuote", post(reject_quote))
        .merge(hubs::router(HubApi::Quote))
}

/// `createQuote`: `POST /quote`.
async fn create_quote(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let quote = state.bus().create_quote(party.tenant_for_write()?, body.raw).await.map_err(api_error)?;
    Ok(json_response(StatusCode::CREATED, &quote))
}

/// `listQuote`: `GET /quote`.
async fn list_quote(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let states: Vec<&str> = QuoteState::ALL.iter().map(|s| s.as_str()).collect();
    let known = [
        ("state", Kind::OneOf(states)),
        ("quoteLevel", Kind::OneOf(vec!["budgetary", "firmSubjectToFeasibilityCheck", "firm"])),
        ("externalId", Kind::Text),
        ("projectId", Kind::Text),
        ("quoteDate", Kind::Date),
        ("requestedQuoteCompletionDate", Kind::Date),
        ("expectedQuoteCompletionDate", Kind::Date),
        ("effectiveQuoteCompletionDate", Kind::Date),
    ];
    state
        .list(&principal, raw.as_deref(), &known, async |bus, tenant, filters, offset, limit| {
            bus.list_quotes(tenant, filters, offset, limit).await
        })
        .await
}

/// `cancelQuote`: `POST /cancelQuote` (R53).
async fn cancel_quote(
    state: State<PointState>,
    principal: Principal,
    raw: RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    end_quote(state, principal, raw, body, QuoteEvent::Cancel).await
}

/// `rejectQuote`: `POST /rejectQuote`, the guide's `declineQuote` (R54).
async fn reject_quote(
    state: State<PointState>,
    principal: Principal,
    raw: RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    end_quote(state, principal, raw, body, QuoteEvent::Decline).await
}

async fn end_quote(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
    event: QuoteEvent,
) -> Result<Response, ApiError> {
    let party = state.plain_party(&principal, raw.as_deref())?;
    let echoed = state.bus().end_quote(party.tenant_for_write()?, body.raw, event).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &echoed))
}
