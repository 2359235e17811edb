//! Product Ordering Management routes (`productOrderManagement.api.yaml`: Sonata 10.0.0,
//! Cantata 5.0.0).

use crate::filters::{self, Kind};
use crate::{PointState, api_error, hubs};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lso_bus::HubApi;
use lso_http::{ApiError, MefBody, Paging, Principal, QueryParams, json_response, list_response};
use lso_mef_product::ProductOrderCreate;
use lso_model::order::OrderState;

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        .route("/productOrder", post(create_product_order).get(list_product_order))
        .route("/productOrder/{id}", get(retrieve_product_order))
        .merge(hubs::router(HubApi::Ordering))
}

/// `createProductOrder`: `POST /productOrder` (MEF 123 UC1).
async fn create_product_order(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<ProductOrderCreate>,
) -> Result<Response, ApiError> {
    let mut query = QueryParams::parse(raw.as_deref());
    let party = state.party(&principal, &mut query)?;
    query.finish()?;
    let tenant = party.tenant_for_write()?;
    let order = state.bus().create_order(tenant, body.raw, body.typed).await.map_err(api_error)?;
    let mut response = json_response(StatusCode::CREATED, &order);
    if let Some(location) = order["href"].as_str().and_then(|h| HeaderValue::from_str(h).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `listProductOrder`: `GET /productOrder` (MEF 123 UC3).
async fn list_product_order(
    State(state): State<PointState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut query = QueryParams::parse(raw.as_deref());
    let party = state.party(&principal, &mut query)?;
    let paging = Paging::from_query(&mut query)?;
    let states = OrderState::ALL.iter().map(|s| s.as_str()).collect();
    let filters = filters::take(
        &mut query,
        &[
            ("state", Kind::OneOf(states)),
            ("externalId", Kind::Text),
            ("projectId", Kind::Text),
            ("orderDate", Kind::Date),
            ("completionDate", Kind::Date),
            ("itemRequestedCompletionDate", Kind::Date),
            ("itemExpectedCompletionDate", Kind::Date),
            ("cancellationDate", Kind::Date),
        ],
    )?;
    query.finish()?;
    let (orders, total) =
        state.bus().list_orders(party.tenant_key(), filters, paging.offset, paging.limit).await.map_err(api_error)?;
    Ok(list_response(&orders, total, paging))
}

/// `retrieveProductOrder`: `GET /productOrder/{id}` (MEF 123 UC4).
async fn retrieve_product_order(
    State(state): State<PointState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut query = QueryParams::parse(raw.as_deref());
    let party = state.party(&principal, &mut query)?;
    query.finish()?;
    let order = state.bus().order(party.tenant_key().as_deref(), &id).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &order).into_response())
}
