//! `registerListener`, `retrieveHub` and `unregisterListener` (`/hub`, `/hub/{id}`) of an API.

use crate::PointState;
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lso_bus::HubApi;
use lso_http::{ApiError, Caller, MefBody, api_error, json_response};
use lso_mef_product::EventSubscriptionInput;

pub(crate) fn router(api: HubApi) -> Router<PointState> {
    Router::new()
        .route(
            "/hub",
            post(move |caller: Caller<PointState>, body: MefBody<EventSubscriptionInput>| {
                register_listener(api, caller, body)
            }),
        )
        .route(
            "/hub/{id}",
            get(move |caller: Caller<PointState>, id: Path<String>| retrieve_hub(api, caller, id))
                .delete(move |caller: Caller<PointState>, id: Path<String>| unregister_listener(api, caller, id)),
        )
}

/// `registerListener`: `POST /hub` (MEF 123 UC15).
async fn register_listener(
    api: HubApi,
    caller: Caller<PointState>,
    body: MefBody<EventSubscriptionInput>,
) -> Result<Response, ApiError> {
    let (state, party) = caller.plain()?;
    let input = body.typed;
    let (buyer, seller) = (party.buyer_id.as_deref(), party.seller_id.as_deref());
    let hub = state
        .bus()
        .register_hub(api, party.tenant_for_write()?, &input.callback, input.query.as_deref(), buyer, seller)
        .await
        .map_err(|e| match e {
            // The hub operations declare 400, not 422, for a body that cannot be used.
            lso_bus::BusError::Invalid(problems) => ApiError::unusable_body(&problems),
            other => api_error(other),
        })?;
    Ok(json_response(StatusCode::CREATED, &hub))
}

/// `retrieveHub`: `GET /hub/{id}`.
async fn retrieve_hub(api: HubApi, caller: Caller<PointState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (state, party) = caller.plain()?;
    let hub = state.bus().hub(api, party.tenant_for_write()?, &id).await.map_err(api_error)?;
    Ok(lso_http::ok(&hub))
}

/// `unregisterListener`: `DELETE /hub/{id}` (MEF 123 UC16).
async fn unregister_listener(
    api: HubApi,
    caller: Caller<PointState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (state, party) = caller.plain()?;
    state.bus().delete_hub(api, party.tenant_for_write()?, &id).await.map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
