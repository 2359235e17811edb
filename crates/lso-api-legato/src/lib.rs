//! Legato on the wire (BUS → SOF): Service Ordering Management 5.0.0, Service Inventory 5.0.0,
//! Service Catalog 4.0.0-RC and Performance Monitoring 2.0.0-RC, with their notification hubs, under `/mefApi/legato/…`. The caller is the Seller's
//! own business applications, so an operator's token is required; every operator acts as the
//! BUS of this `lso`. [`LegatoClient`] is the BUS's side over HTTP, for a SOF in another process.

mod catalog;
mod client;
pub mod pm;
pub mod streaming;

pub use catalog::CATALOG_BASE;
pub use client::LegatoClient;

use axum::Router;
use axum::extract::{FromRef, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use lso_http::api_error;
use lso_http::filters::{Kind, take};
use lso_http::{
    ApiError, Authenticator, ForbiddenCode, MefBody, Paging, Principal, QueryParams, json_response, list_response,
};
use lso_sof::{LegatoApi, Sof};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// The Service Ordering base path.
pub const ORDERING_BASE: &str = "/mefApi/legato/serviceOrderingManagement/v5";
/// The Service Inventory base path.
pub const INVENTORY_BASE: &str = "/mefApi/legato/serviceInventory/v5";
/// The client name every operator acts as.
const CLIENT: &str = "bus";

const ORDER_STATES: [&str; 8] =
    ["acknowledged", "rejected", "pending", "held", "inProgress", "completed", "failed", "partial"];
const SERVICE_STATES: [&str; 6] = ["feasibilityChecked", "designed", "reserved", "inactive", "active", "terminated"];

/// What the Legato routes need.
#[derive(Clone)]
pub struct LegatoState {
    /// The SOF.
    pub sof: Arc<Sof>,
    /// Checks tokens.
    pub auth: Arc<Authenticator>,
}

impl FromRef<LegatoState> for Arc<Authenticator> {
    fn from_ref(state: &LegatoState) -> Self {
        state.auth.clone()
    }
}

/// Only the Seller's own applications (operator tokens) call Legato.
pub(crate) fn client(principal: &Principal) -> Result<&'static str, ApiError> {
    match principal {
        Principal::Admin { .. } => Ok(CLIENT),
        Principal::Buyer { .. } => Err(ApiError::Forbidden {
            code: ForbiddenCode::AccessDenied,
            reason: "Legato is the Seller's internal interface; a Buyer's token cannot use it".into(),
        }),
    }
}

/// The Legato APIs.
pub fn router(state: LegatoState) -> Router {
    let ordering = Router::new()
        .route("/serviceOrder", get(list_service_order).post(create_service_order))
        .route("/serviceOrder/{id}", get(retrieve_service_order));
    let inventory = Router::new().route("/service", get(list_service)).route("/service/{id}", get(retrieve_service));
    let operators = pm::PmState { sof: state.sof.clone(), auth: state.auth.clone(), audience: Arc::new(pm::Operators) };
    Router::new()
        .nest(ORDERING_BASE, ordering.with_state(state.clone()))
        .nest(INVENTORY_BASE, inventory.with_state(state.clone()))
        .nest(CATALOG_BASE, catalog::router().with_state(state))
        .merge(pm::hub_router(operators.clone(), ORDERING_BASE, LegatoApi::Ordering))
        .merge(pm::hub_router(operators.clone(), INVENTORY_BASE, LegatoApi::Inventory))
        .merge(pm::hub_router(operators.clone(), CATALOG_BASE, LegatoApi::Catalog))
        .merge(pm::router(operators, lso_sof::pm::PM_BASE))
}

/// `createServiceOrder`: `POST /serviceOrder` (MEF 99, Service Ordering 5.0.0).
async fn create_service_order(
    State(state): State<LegatoState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let client = client(&principal)?;
    QueryParams::parse(raw.as_deref()).finish()?;
    let order = state.sof.accept_order(client, body.raw).await.map_err(api_error)?;
    Ok(json_response(StatusCode::CREATED, &order))
}

/// `retrieveServiceOrder`: `GET /serviceOrder/{id}`.
async fn retrieve_service_order(
    state: State<LegatoState>,
    principal: Principal,
    id: Path<String>,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    retrieve(lso_sof::SERVICE_ORDER, state, principal, id, raw).await
}

/// `retrieveService`: `GET /service/{id}` (MEF 135, Service Inventory 5.0.0).
async fn retrieve_service(
    state: State<LegatoState>,
    principal: Principal,
    id: Path<String>,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    retrieve(lso_sof::SERVICE, state, principal, id, raw).await
}

/// A service order or service of the caller.
async fn retrieve(
    kind: &str,
    State(state): State<LegatoState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let client = client(&principal)?;
    QueryParams::parse(raw.as_deref()).finish()?;
    let document = state.sof.document(kind, client, &id).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &document))
}

/// `listServiceOrder`: `GET /serviceOrder`, filtered by state and dates (and `externalId`).
async fn list_service_order(
    state: State<LegatoState>,
    principal: Principal,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let known = [
        ("state", Kind::OneOf(ORDER_STATES.to_vec())),
        ("externalId", Kind::Text),
        ("orderDate", Kind::Date),
        ("completionDate", Kind::Date),
        ("expectedCompletionDate", Kind::Date),
        ("startDate", Kind::Date),
    ];
    list(lso_sof::SERVICE_ORDER, &known, state, principal, raw).await
}

/// `listService`: `GET /service` with the filters of MEF 135 R9.
async fn list_service(state: State<LegatoState>, principal: Principal, raw: RawQuery) -> Result<Response, ApiError> {
    let known = [
        ("state", Kind::OneOf(SERVICE_STATES.to_vec())),
        ("serviceDate", Kind::Date),
        ("startDate", Kind::Date),
        ("endDate", Kind::Date),
        ("serviceOrder.id", Kind::Text),
        ("serviceOrderItem.id", Kind::Text),
        ("externalId", Kind::Text),
        ("geographicSite.id", Kind::Text),
        ("geographicAddress.id", Kind::Text),
        ("serviceType", Kind::Text),
        ("startMode", Kind::Text),
    ];
    list(lso_sof::SERVICE, &known, state, principal, raw).await
}

/// A page of the caller's service orders or services matching the `known` filters.
async fn list(
    kind: &str,
    known: &[(&str, Kind)],
    State(state): State<LegatoState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let client = client(&principal)?;
    let mut query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&mut query)?;
    let filters = take(&mut query, known)?;
    query.finish()?;
    let (found, total) = state.sof.list(kind, client, filters, paging.offset, paging.limit).await.map_err(api_error)?;
    Ok(list_response(&found, total, paging))
}

/// `EventSubscriptionInput`.
#[derive(Deserialize)]
pub(crate) struct SubscriptionInput {
    pub(crate) callback: String,
    pub(crate) query: Option<String>,
}
