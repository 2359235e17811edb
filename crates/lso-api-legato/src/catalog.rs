//! Legato Service Catalog 4.0.0-RC (`/mefApi/legato/serviceCatalog/v4`): the service
//! specifications the SOF realises, each with the JSON Schema of its configuration (an lso
//! extension at `/serviceSpecification/{id}/schema`, named by `targetServiceSchema`), and the
//! catalog's hub. The operators move a specification along its lifecycle or withdraw it
//! (`/lso/admin/v1/legato/serviceSpecification/{id}`), and the SOF tells the hubs.

use crate::SofState;
use axum::Router;
use axum::extract::Path;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use lso_http::api_error;
use lso_http::{ApiError, Caller, Paging, list_response};
use lso_sof::catalog::{STATUSES, specification_document};
use lso_sof::services::configuration_schema;
use serde_json::Value;

/// The Service Catalog base path.
pub const CATALOG_BASE: &str = "/mefApi/legato/serviceCatalog/v4";

pub(crate) fn router() -> Router<SofState> {
    Router::new()
        .route("/serviceSpecification", get(service_specification_find))
        .route("/serviceSpecification/{id}", get(service_specification_get))
        .route("/serviceSpecification/{id}/schema", get(service_specification_schema))
}

/// The operators' routes of the catalog (under `/lso/admin/v1/legato`).
pub(crate) fn operations() -> Router<SofState> {
    Router::new().route("/serviceSpecification/{id}", axum::routing::put(set_lifecycle_status).delete(withdraw))
}

/// A specification's new `lifecycleStatus`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Lifecycle {
    lifecycle_status: String,
}

/// An operator puts a specification in a `lifecycleStatus` (publishing it again if it was
/// withdrawn).
async fn set_lifecycle_status(
    caller: Caller<SofState>,
    Path(id): Path<String>,
    body: lso_http::MefBody<Lifecycle>,
) -> Result<Response, ApiError> {
    let (state, client) = caller.plain()?;
    client.operator()?;
    let document =
        state.sof.set_service_specification_status(&id, &body.typed.lifecycle_status).await.map_err(api_error)?;
    Ok(lso_http::ok(&document))
}

/// An operator withdraws a specification from the catalog: 204.
async fn withdraw(caller: Caller<SofState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (state, client) = caller.plain()?;
    client.operator()?;
    state.sof.withdraw_service_specification(&id).await.map_err(api_error)?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// Keeps the attributes `fields` names (and `id`), when given.
fn select(mut value: Value, fields: Option<&str>) -> Value {
    if let (Some(fields), Value::Object(map)) = (fields, &mut value) {
        let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
        map.retain(|key, _| key == "id" || key == "@type" || wanted.contains(&key.as_str()));
    }
    value
}

/// `serviceSpecificationFind`: `GET /serviceSpecification`, by `category` and `lifecycleStatus`.
async fn service_specification_find(caller: Caller<SofState>) -> Result<Response, ApiError> {
    let mut query = caller.query;
    let paging = Paging::from_query(&mut query)?;
    let category = query.single("category")?;
    let status = query.single("lifecycleStatus")?;
    let fields = query.single("fields")?;
    query.finish()?;
    if let Some(status) = &status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::invalid_query(format!(
            "`{status}` is not a lifecycleStatus; use one of {}",
            STATUSES.join(", ")
        )));
    }
    let listed = caller.state.sof.service_specifications().await.map_err(api_error)?;
    let matching: Vec<Value> = listed
        .iter()
        .filter(|(s, _)| category.as_deref().is_none_or(|c| c == s.category))
        .filter(|(_, now)| status.as_deref().is_none_or(|s| s == now))
        .map(|(s, now)| select(specification_document(s, now), fields.as_deref()))
        .collect();
    let total = matching.len() as u64;
    let page: Vec<Value> = matching.into_iter().skip(paging.offset as usize).take(paging.limit as usize).collect();
    Ok(list_response(&page, total.into(), paging))
}

/// `serviceSpecificationGet`: `GET /serviceSpecification/{id}`.
async fn service_specification_get(caller: Caller<SofState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let mut query = caller.query;
    let fields = query.single("fields")?;
    query.finish()?;
    let (spec, status) = caller.state.sof.service_specification(&id).await.map_err(api_error)?;
    Ok(lso_http::ok(&select(specification_document(spec, &status), fields.as_deref())))
}

/// The JSON Schema of a specification's service configuration (lso's own attributes).
async fn service_specification_schema(caller: Caller<SofState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (state, _) = caller.plain()?;
    let (spec, _) = state.sof.service_specification(&id).await.map_err(api_error)?;
    Ok(lso_http::ok(&configuration_schema(spec)))
}
