//! The Seller side of the MEF product APIs that Sonata and Cantata share: Product Ordering
//! Management (Sonata v10, Cantata v5) and Product Inventory (Sonata v7, Cantata v1), with
//! their notification hubs, and Address and Site Management (Sonata v7, Cantata v1), mounted
//! under `/mefApi/{sonata|cantata}/…`.
//!
//! Handlers convert the request into a BUS call and its result into the MEF response; the
//! business rules live in `lso-bus`.

mod billing;
mod catalog;
mod discovery;
mod geography;
mod hubs;
mod inventory;
mod ordering;
mod pdf;
mod qualification;
mod quote;
mod ticket;
mod workforce;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use lso_bus::{Bus, BusError};
use lso_http::filters::Known;
use lso_http::{
    ApiError, Authenticator, Caller, Callers, MefBody, Party, Principal, QueryParams, api_error, resolve_party,
};
use lso_mef_product::{
    address_base, appointment_base, billing_base, catalog_base, discovery_base, inventory_base, ordering_base,
    poq_base, quote_base, site_base, ticket_base, work_order_base,
};
use lso_model::query::Selection;
use lso_model::{Irp, Tenant};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What an operation's work gives: the caller's resource, or why not.
type Found<'a, T> = Pin<Box<dyn Future<Output = Result<T, BusError>> + Send + 'a>>;

/// `value` as the JSON answer `status`; a 201 also says where the resource is (`Location`).
fn answer<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let Ok(bytes) = serde_json::to_vec(value) else {
        return lso_http::json_response(status, value);
    };
    #[derive(serde::Deserialize)]
    struct Made {
        href: Option<String>,
    }
    let href = (status == StatusCode::CREATED).then(|| serde_json::from_slice::<Made>(&bytes).ok()).flatten();
    let location = href.and_then(|made| made.href).and_then(|h| HeaderValue::from_str(&h).ok());
    let mut response = lso_http::json_bytes(status, bytes);
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// A retrieve operation (`GET …/{id}`): what `fetch` finds with that id among the caller's
/// (the Buyer's own, or any for the Seller's operators), as JSON; 404 when it is not there.
pub(crate) fn retrieve<T, F>(fetch: F) -> MethodRouter<PointState>
where
    T: Serialize + 'static,
    F: for<'a> Fn(&'a Bus, Option<&'a str>, &'a str) -> Found<'a, T> + Clone + Send + Sync + 'static,
{
    axum::routing::get(move |caller: Caller<PointState>, Path(id): Path<String>| {
        let fetch = fetch.clone();
        async move {
            let (state, party) = caller.plain()?;
            let found = fetch(state.bus(), party.tenant_key().as_deref(), &id).await.map_err(api_error)?;
            Ok::<_, ApiError>(answer(StatusCode::OK, &found))
        }
    })
}

/// A list operation (`GET` of a collection): a page of the caller's resources that match the
/// filters `known` defines, found by `list`.
pub(crate) fn list<T, F>(known: &'static Known, list: F) -> MethodRouter<PointState>
where
    T: Serialize + 'static,
    F: for<'a> Fn(&'a Bus, Selection) -> Found<'a, lso_bus::Listing<T>> + Clone + Send + Sync + 'static,
{
    axum::routing::get(move |caller: Caller<PointState>| {
        let list = list.clone();
        async move {
            let Caller { state, acting: party, mut query, .. } = caller;
            let paging = lso_http::Paging::from_query(&mut query)?;
            let filters = lso_http::filters::take(&mut query, known)?;
            query.finish()?;
            let selection =
                Selection { tenant: party.tenant_key(), filters, offset: paging.offset, limit: paging.limit };
            let (found, total) = list(state.bus(), selection).await.map_err(api_error)?;
            Ok::<_, ApiError>(lso_http::list_response(&found, total, paging))
        }
    })
}

/// A `POST` of a request (a resource to create, a task): what `make` makes of the body for the
/// Buyer named, answered `status` (a 201 with the resource's `Location`).
pub(crate) fn submit<B, T, F>(status: StatusCode, make: F) -> MethodRouter<PointState>
where
    B: DeserializeOwned + Send + 'static,
    T: Serialize + 'static,
    F: for<'a> Fn(&'a Bus, &'a Tenant, MefBody<B>) -> Found<'a, T> + Clone + Send + Sync + 'static,
{
    axum::routing::post(move |caller: Caller<PointState>, body: MefBody<B>| {
        let make = make.clone();
        async move {
            let (state, party) = caller.plain()?;
            let made = make(state.bus(), party.tenant_for_write()?, body).await.map_err(api_error)?;
            Ok::<_, ApiError>(answer(status, &made))
        }
    })
}

/// A change of the Buyer's resource `{id}` by `method` (`PATCH`, or a `POST` of a task on it):
/// what `change` makes of it with the body, answered `status` (204 with no body).
pub(crate) fn change<B, T, F>(method: MethodFilter, status: StatusCode, change: F) -> MethodRouter<PointState>
where
    B: DeserializeOwned + Send + 'static,
    T: Serialize + 'static,
    F: for<'a> Fn(&'a Bus, &'a Tenant, &'a str, MefBody<B>) -> Found<'a, T> + Clone + Send + Sync + 'static,
{
    axum::routing::on(method, move |caller: Caller<PointState>, Path(id): Path<String>, body: MefBody<B>| {
        let change = change.clone();
        async move {
            let (state, party) = caller.plain()?;
            let changed = change(state.bus(), party.tenant_for_write()?, &id, body).await.map_err(api_error)?;
            Ok::<_, ApiError>(if status == StatusCode::NO_CONTENT {
                status.into_response()
            } else {
                answer(status, &changed)
            })
        }
    })
}

/// A task on the Buyer's resource `{id}` that takes no body (`POST …/{id}/cancel`): 204.
pub(crate) fn act<F>(act: F) -> MethodRouter<PointState>
where
    F: for<'a> Fn(&'a Bus, &'a Tenant, &'a str) -> Found<'a, ()> + Clone + Send + Sync + 'static,
{
    axum::routing::post(move |caller: Caller<PointState>, Path(id): Path<String>| {
        let act = act.clone();
        async move {
            let (state, party) = caller.plain()?;
            act(state.bus(), party.tenant_for_write()?, &id).await.map_err(api_error)?;
            Ok::<_, ApiError>(StatusCode::NO_CONTENT.into_response())
        }
    })
}

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The business applications.
    pub bus: Arc<Bus>,
    /// Checks bearer tokens.
    pub auth: Arc<Authenticator>,
    /// The Sellers this server represents.
    pub sellers: Arc<Vec<String>>,
    /// The addresses and sites the Seller knows.
    pub geography: Arc<lso_geo::Geography>,
    /// When the catalog was loaded (its `lastUpdate`), RFC 3339.
    pub catalog_time: String,
    /// This server's origin (`http://host:port`), for the absolute links the catalog gives.
    pub origin: String,
}

/// The state of one reference point's routes.
#[derive(Clone)]
pub(crate) struct PointState {
    api: ApiState,
    irp: Irp,
}

/// A request to a product API acts for the Buyer (and Seller) `buyerId` (and `sellerId`) name,
/// as MEF 123 R2–R6 resolve them at the route's reference point.
impl Callers for PointState {
    type Acting = Party;

    fn authenticator(&self) -> &Authenticator {
        &self.api.auth
    }

    fn acting_for(&self, principal: &Principal, query: &mut QueryParams) -> Result<Party, ApiError> {
        let buyer_id = query.single("buyerId")?;
        let seller_id = query.single("sellerId")?;
        resolve_party(principal, self.irp, &self.api.sellers, buyer_id, seller_id)
    }
}

impl PointState {
    fn bus(&self) -> &Bus {
        &self.api.bus
    }
}

/// The product APIs of both reference points.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new();
    for irp in Irp::ALL {
        let point = PointState { api: state.clone(), irp: *irp };
        router = router
            .nest(&ordering_base(*irp), ordering::router().with_state(point.clone()))
            .nest(&inventory_base(*irp), inventory::router().with_state(point.clone()))
            .nest(&catalog_base(*irp), catalog::router().with_state(point.clone()))
            .nest(&poq_base(*irp), qualification::router().with_state(point.clone()))
            .nest(&discovery_base(*irp), discovery::router().with_state(point.clone()))
            .nest(&quote_base(*irp), quote::router().with_state(point.clone()))
            .nest(&ticket_base(*irp), ticket::router().with_state(point.clone()))
            .nest(&billing_base(*irp), billing::router().with_state(point.clone()))
            .nest(&appointment_base(*irp), workforce::appointment_router().with_state(point.clone()))
            .nest(&work_order_base(*irp), workforce::work_order_router().with_state(point.clone()))
            .nest(&address_base(*irp), geography::address_router().with_state(point.clone()))
            .nest(&site_base(*irp), geography::site_router().with_state(point));
    }
    router
}

#[cfg(test)]
mod tests;
