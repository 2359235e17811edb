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
use axum::extract::{FromRef, Path, RawQuery, State};
use lso_bus::{Bus, BusError};
use lso_http::{ApiError, Authenticator, Party, Principal, QueryParams, api_error, resolve_party};
use lso_mef_product::{
    address_base, appointment_base, billing_base, catalog_base, discovery_base, inventory_base, ordering_base,
    poq_base, quote_base, site_base, ticket_base, work_order_base,
};
use lso_model::Irp;
use std::sync::Arc;

/// What a retrieve operation's `fetch` gives: the caller's resource, or why not.
type Found<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, BusError>> + Send + 'a>>;

/// A retrieve operation (`GET …/{id}`): what `fetch` finds with that id among the caller's
/// (the Buyer's own, or any for the Seller's operators), as JSON; 404 when it is not there.
pub(crate) fn retrieve<T, F>(fetch: F) -> axum::routing::MethodRouter<PointState>
where
    T: serde::Serialize + 'static,
    F: for<'a> Fn(&'a Bus, Option<&'a str>, &'a str) -> Found<'a, T> + Clone + Send + Sync + 'static,
{
    axum::routing::get(
        move |State(state): State<PointState>,
              principal: Principal,
              Path(id): Path<String>,
              RawQuery(raw): RawQuery| {
            let fetch = fetch.clone();
            async move {
                let party = state.plain_party(&principal, raw.as_deref())?;
                let tenant = party.tenant_key();
                let found = fetch(state.bus(), tenant.as_deref(), &id).await.map_err(api_error)?;
                Ok::<_, ApiError>(lso_http::json_response(axum::http::StatusCode::OK, &found))
            }
        },
    )
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

impl FromRef<PointState> for Arc<Authenticator> {
    fn from_ref(state: &PointState) -> Self {
        state.api.auth.clone()
    }
}

impl PointState {
    /// The parties of a request: `buyerId`/`sellerId` taken from the query and resolved.
    fn party(&self, principal: &Principal, query: &mut QueryParams) -> Result<Party, ApiError> {
        let buyer_id = query.single("buyerId")?;
        let seller_id = query.single("sellerId")?;
        resolve_party(principal, self.irp, &self.api.sellers, buyer_id, seller_id)
    }

    /// The parties of a request whose query holds nothing but `buyerId`/`sellerId`.
    fn plain_party(&self, principal: &Principal, raw: Option<&str>) -> Result<Party, ApiError> {
        let mut query = QueryParams::parse(raw);
        let party = self.party(principal, &mut query)?;
        query.finish()?;
        Ok(party)
    }

    /// Answers a list operation: parties, paging, the filters `known` defines, then `list`
    /// with the tenant, filters, offset and limit.
    async fn list<T: serde::Serialize>(
        &self,
        principal: &Principal,
        raw: Option<&str>,
        known: &[(&str, lso_http::filters::Kind)],
        list: impl AsyncFnOnce(
            &Bus,
            Option<String>,
            Vec<lso_model::query::Filter>,
            u64,
            u64,
        ) -> Result<(Vec<T>, u64), BusError>,
    ) -> Result<axum::response::Response, ApiError> {
        let mut query = QueryParams::parse(raw);
        let party = self.party(principal, &mut query)?;
        let paging = lso_http::Paging::from_query(&mut query)?;
        let filters = lso_http::filters::take(&mut query, known)?;
        query.finish()?;
        let (found, total) =
            list(self.bus(), party.tenant_key(), filters, paging.offset, paging.limit).await.map_err(api_error)?;
        Ok(lso_http::list_response(&found, total, paging))
    }

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
