//! Adagio on the wire (ICM → ECM). MEF publishes no Adagio API; this one is lso's own,
//! described in `docs/adagio.md` and served as OpenAPI at `/lso/adagio/v1/openapi.json`:
//! element inventory, ports and their state, cross-connects (VLAN forwarding with a bandwidth
//! policer per UNI) applied, read back and removed, and the alarms of the elements.
//!
//! [`AdagioClient`] is the same interface over HTTP, so ICM can drive an ECM in another process.

mod client;
mod dto;

pub use client::AdagioClient;
pub use dto::{AlarmDto, CrossConnectDto, EndpointDto};

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lso_adagio::{Adagio, AdagioError, CrossConnect, DriverError};
use lso_ecm::Alarms;
use lso_http::{ApiError, Authenticator, Caller, Internal, MefBody, json_response};
use serde_json::json;
use std::sync::Arc;

/// The base path of Adagio.
pub const BASE: &str = "/lso/adagio/v1";
/// The OpenAPI description of Adagio.
pub const OPENAPI: &str = include_str!("../../../docs/adagio.openapi.json");

/// What the Adagio routes need.
#[derive(Clone)]
pub struct AdagioState {
    /// Element control.
    pub ecm: Arc<dyn Adagio>,
    /// The alarms ECM has raised.
    pub alarms: Arc<Alarms>,
    /// Checks tokens.
    pub auth: Arc<Authenticator>,
}

/// Only the Seller's own orchestration (operator tokens) calls it.
impl Internal for AdagioState {
    const REFUSAL: &str = "Adagio is the Seller's internal interface";

    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }
}

/// The HTTP answer to an element failure: 404 for an unknown element, 422 for a change the
/// element refuses, 503 when it cannot be reached.
fn api_error(err: AdagioError) -> ApiError {
    match err {
        AdagioError::UnknownElement(name) => ApiError::NotFound(format!("no element `{name}`")),
        AdagioError::Driver { element, error: DriverError::Unreachable(reason) } => {
            ApiError::Conflict(format!("element `{element}` cannot be reached: {reason}"))
        }
        AdagioError::Driver { element, error } => ApiError::unprocessable(lso_model::Violation::new(
            lso_model::ViolationCode::InvalidValue,
            "/endpoints",
            format!("element `{element}`: {error}"),
        )),
    }
}

/// The Adagio routes.
pub fn router(state: AdagioState) -> Router {
    let routes = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/element", get(list_elements))
        .route("/element/{name}/port", get(list_ports))
        .route(
            "/element/{name}/crossConnect/{service}",
            get(read_cross_connect).put(apply_cross_connect).delete(remove_cross_connect),
        )
        .route("/element/{name}/crossConnect/{service}/check", post(check_cross_connect))
        .route("/alarm", get(list_alarms));
    Router::new().nest(BASE, routes.with_state(state))
}

/// `GET /openapi.json`: this API's description.
async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `listElements`: the elements ECM manages.
async fn list_elements(Caller { state, .. }: Caller<AdagioState>) -> Result<Response, ApiError> {
    let elements: Vec<_> = state
        .ecm
        .elements()
        .into_iter()
        .map(|(name, simulated)| json!({"name": name, "driver": if simulated { "simulated" } else { "openvswitch" }}))
        .collect();
    Ok(lso_http::ok(&elements))
}

/// `listPorts`: the ports of an element as it reports them.
async fn list_ports(Caller { state, .. }: Caller<AdagioState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let ports = state.ecm.ports(&name).await.map_err(api_error)?;
    let ports: Vec<_> = ports
        .iter()
        .map(|p| {
            let mut port = json!({"port": p.port, "linkUp": p.link_up, "counters": p.counters});
            if let Some(error) = &p.error {
                port["error"] = json!(error);
            }
            port
        })
        .collect();
    Ok(lso_http::ok(&ports))
}

/// The element and the cross-connect of a request an operator made.
fn requested(
    Path((name, service)): Path<(String, String)>,
    body: MefBody<CrossConnectDto>,
) -> Result<(String, CrossConnect), ApiError> {
    Ok((name, body.typed.into_domain(&service)?))
}

/// `applyCrossConnect`: applies a service's cross-connect on an element and reads it back.
async fn apply_cross_connect(
    Caller { state, .. }: Caller<AdagioState>,
    path: Path<(String, String)>,
    body: MefBody<CrossConnectDto>,
) -> Result<Response, ApiError> {
    let (name, connect) = requested(path, body)?;
    state.ecm.apply(&name, &connect).await.map_err(api_error)?;
    Ok(lso_http::ok(&CrossConnectDto::from_domain(&connect)))
}

/// `checkCrossConnect`: whether the element runs exactly the cross-connect given.
async fn check_cross_connect(
    Caller { state, .. }: Caller<AdagioState>,
    path: Path<(String, String)>,
    body: MefBody<CrossConnectDto>,
) -> Result<Response, ApiError> {
    let (name, connect) = requested(path, body)?;
    let runs = state.ecm.check(&name, &connect).await.map_err(api_error)?;
    Ok(lso_http::ok(&json!({"runsAsGiven": runs})))
}

/// `readCrossConnect`: the flows and meters the element holds for a service.
async fn read_cross_connect(
    Caller { state, .. }: Caller<AdagioState>,
    Path((name, service)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let flows = state.ecm.flows(&name, &service).await.map_err(api_error)?;
    if flows.is_empty() {
        return Err(ApiError::NotFound(format!("element `{name}` holds nothing for `{service}`")));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"service": service, "flows": flows.iter().map(dto::flow).collect::<Vec<_>>()}),
    ))
}

/// `removeCrossConnect`: removes what an element holds for a service.
async fn remove_cross_connect(
    Caller { state, .. }: Caller<AdagioState>,
    Path((name, service)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.ecm.remove(&name, &service).await.map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `listAlarms`: the alarms raised and not cleared.
async fn list_alarms(Caller { state, .. }: Caller<AdagioState>) -> Result<Response, ApiError> {
    let alarms: Vec<AlarmDto> = state.alarms.active().iter().map(AlarmDto::from_domain).collect();
    Ok(lso_http::ok(&alarms))
}

#[cfg(test)]
mod tests;
