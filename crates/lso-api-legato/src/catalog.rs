//! Legato Service Catalog 4.0.0-RC (`/mefApi/legato/serviceCatalog/v4`): the service
//! specifications the SOF realises, each with the JSON Schema of its configuration (an lso
//! extension at `/serviceSpecification/{id}/schema`, named by `targetServiceSchema`), and the
//! catalog's hub. The catalog is fixed at build time, so its hub never has an event to send.

use crate::SofState;
use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use lso_http::{ApiError, Caller, Paging, list_response};
use lso_sof::services::{CATALOG, ServiceSpecification, configuration_schema};
use serde_json::{Value, json};

/// The Service Catalog base path.
pub const CATALOG_BASE: &str = "/mefApi/legato/serviceCatalog/v4";

const STATUSES: [&str; 8] =
    ["IN_STUDY", "IN_DESIGN", "IN_TEST", "LAUNCHED", "ACTIVE", "RETIRED", "OBSOLETE", "REJECTED"];

pub(crate) fn router() -> Router<SofState> {
    Router::new()
        .route("/serviceSpecification", get(service_specification_find))
        .route("/serviceSpecification/{id}", get(service_specification_get))
        .route("/serviceSpecification/{id}/schema", get(service_specification_schema))
}

fn specification(spec: &ServiceSpecification) -> Value {
    let version = spec.service_type.rsplit(':').nth(1).unwrap_or_default().trim_start_matches('v');
    json!({
        "@type": "ServiceSpecification",
        "id": spec.id,
        "href": format!("urn:lso:legato:serviceCatalog:serviceSpecification:{}", spec.id),
        "name": spec.name,
        "category": spec.category,
        "version": version,
        "isBundle": false,
        "lifecycleStatus": "ACTIVE",
        "targetServiceSchema": {"@type": spec.service_type, "@schemaLocation": format!("urn:lso:legato:serviceCatalog:schema:{}", spec.id)},
    })
}

/// Keeps the attributes `fields` names (and `id`), when given.
fn select(mut value: Value, fields: Option<&str>) -> Value {
    if let (Some(fields), Value::Object(map)) = (fields, &mut value) {
        let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
        map.retain(|key, _| key == "id" || key == "@type" || wanted.contains(&key.as_str()));
    }
    value
}

fn find(id: &str) -> Result<&'static ServiceSpecification, ApiError> {
    CATALOG.iter().find(|s| s.id == id).ok_or_else(|| ApiError::NotFound(format!("no service specification `{id}`")))
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
    let matching: Vec<Value> = CATALOG
        .iter()
        .filter(|s| category.as_deref().is_none_or(|c| c == s.category))
        .filter(|_| status.as_deref().is_none_or(|s| s == "ACTIVE"))
        .map(|s| select(specification(s), fields.as_deref()))
        .collect();
    let total = matching.len() as u64;
    let page: Vec<Value> = matching.into_iter().skip(paging.offset as usize).take(paging.limit as usize).collect();
    Ok(list_response(&page, total, paging))
}

/// `serviceSpecificationGet`: `GET /serviceSpecification/{id}`.
async fn service_specification_get(caller: Caller<SofState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let mut query = caller.query;
    let fields = query.single("fields")?;
    query.finish()?;
    Ok(lso_http::ok(&select(specification(find(&id)?), fields.as_deref())))
}

/// The JSON Schema of a specification's service configuration (lso's own attributes).
async fn service_specification_schema(caller: Caller<SofState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (_state, _) = caller.plain()?;
    Ok(lso_http::ok(&configuration_schema(find(&id)?)))
}
