//! What every API of the SOF shares: its state, whom a request acts for ([`SofAudience`]:
//! Legato's operators, or `lso`'s Allegro and Interlude callers), and the route helpers that
//! read, list, make and delete the caller's documents and hubs.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};
use lso_http::filters::Known;
use lso_http::{
    ApiError, Authenticator, Caller, Callers, ForbiddenCode, MefBody, Operator, Paging, Principal, QueryParams,
    api_error, json_response, list_response,
};
use lso_sof::{LegatoApi, Sof, SofError};
use serde::Deserialize;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Who calls the SOF's APIs at one reference point.
pub trait SofAudience: Send + Sync + 'static {
    /// The client `principal` acts as (taking `buyerId`/`sellerId` from `query` if it uses
    /// them), or why it may not call.
    fn client(&self, principal: &Principal, query: &mut QueryParams) -> Result<String, ApiError>;
    /// Whether `principal` administers performance profiles (W143 R7, R24, R27).
    fn administers(&self, principal: &Principal) -> bool;
    /// Whether `client` may measure interface `name`.
    fn may_measure<'a>(
        &'a self,
        client: &'a str,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ApiError>> + Send + 'a>>;
}

/// Legato's audience: the Seller's own applications (operator tokens), measuring anything.
pub struct Operators;

impl SofAudience for Operators {
    fn client(&self, principal: &Principal, _: &mut QueryParams) -> Result<String, ApiError> {
        Operator::of(principal, "Legato is the Seller's internal interface")?;
        Ok(lso_legato::OPERATORS.to_owned())
    }

    fn administers(&self, _: &Principal) -> bool {
        true
    }

    fn may_measure<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ApiError>> + Send + 'a>> {
        Box::pin(async { Ok(true) })
    }
}

/// What the routes of the SOF's APIs need.
#[derive(Clone)]
pub struct SofState {
    /// The SOF.
    pub sof: Arc<Sof>,
    /// Checks tokens.
    pub auth: Arc<Authenticator>,
    /// Who calls.
    pub audience: Arc<dyn SofAudience>,
}

impl SofState {
    /// The SOF's APIs for Legato's operators.
    pub fn operators(sof: Arc<Sof>, auth: Arc<Authenticator>) -> Self {
        SofState { sof, auth, audience: Arc::new(Operators) }
    }
}

/// Whom a request to the SOF acts as: its client there, and whether it administers profiles.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client's name at the SOF.
    pub id: String,
    administers: bool,
}

impl Client {
    /// The client, if it administers what the SOF's operators change; a 403 saying `why` not.
    fn administering(self, why: &str) -> Result<Client, ApiError> {
        if self.administers {
            Ok(self)
        } else {
            Err(ApiError::Forbidden { code: ForbiddenCode::AccessDenied, reason: why.into() })
        }
    }

    /// The client, if it administers performance profiles; a 403 otherwise (W143 R7).
    pub(crate) fn administrator(self) -> Result<Client, ApiError> {
        self.administering("performance profiles are the Seller's administrators' to change (W143 R7)")
    }

    /// The client, if it is one of the Seller's operators; a 403 otherwise.
    pub(crate) fn operator(self) -> Result<Client, ApiError> {
        self.administering("the service catalog is the Seller's operators' to change")
    }
}

impl Callers for SofState {
    type Acting = Client;

    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    fn acting_for(&self, principal: &Principal, query: &mut QueryParams) -> Result<Client, ApiError> {
        let id = self.audience.client(principal, query)?;
        Ok(Client { id, administers: self.audience.administers(principal) })
    }
}

/// `GET` of one of the caller's documents of `kind`.
pub(crate) fn retriever(kind: &'static str) -> MethodRouter<SofState> {
    get(move |caller: Caller<SofState>, Path(id): Path<String>| async move {
        let (state, client) = caller.plain()?;
        let document = state.sof.document(kind, &client.id, &id).await.map_err(api_error)?;
        Ok::<_, ApiError>(lso_http::ok(&document))
    })
}

/// `GET` of a page of the caller's documents of `kind` matching the filters `known` defines.
pub(crate) fn lister(kind: &'static str, known: &'static Known) -> MethodRouter<SofState> {
    get(move |State(_state): State<SofState>, caller: Caller<SofState>| async move {
        let Caller { state, acting: client, mut query, .. } = caller;
        let paging = Paging::from_query(&mut query)?;
        let filters = lso_http::filters::take(&mut query, known)?;
        query.finish()?;
        let (found, total) =
            state.sof.list(kind, &client.id, filters, paging.offset, paging.limit).await.map_err(api_error)?;
        Ok::<_, ApiError>(list_response(&found, total, paging))
    })
}

/// What a make operation's `make` gives: the document made, or why not.
pub(crate) type Made<'a> = Pin<Box<dyn Future<Output = Result<Value, ApiError>> + Send + 'a>>;

/// `POST` of a document `make` makes of the body for the caller (after checking the caller's
/// right to it): `status` with the document.
pub(crate) fn creator<F>(status: StatusCode, make: F) -> MethodRouter<SofState>
where
    F: for<'a> Fn(&'a SofState, Client, Value) -> Made<'a> + Clone + Send + Sync + 'static,
{
    post(move |caller: Caller<SofState>, body: MefBody<Value>| {
        let make = make.clone();
        async move {
            let (state, client) = caller.plain()?;
            let made = make(&state, client, body.raw).await?;
            Ok::<_, ApiError>(json_response(status, &made))
        }
    })
}

/// What a delete operation's `remove` gives: the caller's document gone, or why not.
pub(crate) type Removed<'a> = Pin<Box<dyn Future<Output = Result<(), SofError>> + Send + 'a>>;

/// `DELETE` of one of the caller's documents by `remove` (an administrator's only when
/// `administrators`): 204 once it is gone.
pub(crate) fn deleter<F>(administrators: bool, remove: F) -> MethodRouter<SofState>
where
    F: for<'a> Fn(&'a Sof, &'a str, &'a str) -> Removed<'a> + Clone + Send + Sync + 'static,
{
    axum::routing::delete(move |caller: Caller<SofState>, Path(id): Path<String>| {
        let remove = remove.clone();
        async move {
            let (state, mut client) = caller.plain()?;
            if administrators {
                client = client.administrator()?;
            }
            remove(&state.sof, &client.id, &id).await.map_err(api_error)?;
            Ok::<_, ApiError>(StatusCode::NO_CONTENT.into_response())
        }
    })
}

/// `EventSubscriptionInput`.
#[derive(Deserialize)]
struct SubscriptionInput {
    callback: String,
    query: Option<String>,
}

/// The hub of `api` for the caller's events: `POST /hub`, `GET` and `DELETE /hub/{id}`.
pub fn hub_routes(api: LegatoApi) -> Router<SofState> {
    Router::new()
        .route(
            "/hub",
            post(move |caller: Caller<SofState>, body: MefBody<SubscriptionInput>| async move {
                let (state, client) = caller.plain()?;
                let input = body.typed;
                let registered = state.sof.register_hub(api, &client.id, &input.callback, input.query.as_deref()).await;
                // The hub operations declare 400, not 422, for a body that cannot be used.
                let hub = registered.map_err(|e| match e {
                    SofError::Invalid(problems) => ApiError::unusable_body(&problems),
                    other => api_error(other),
                })?;
                Ok::<_, ApiError>(json_response(StatusCode::CREATED, &hub))
            }),
        )
        .route(
            "/hub/{id}",
            get(move |caller: Caller<SofState>, Path(id): Path<String>| async move {
                let (state, client) = caller.plain()?;
                let hub = state.sof.hub(api, &client.id, &id).await.map_err(api_error)?;
                Ok::<_, ApiError>(lso_http::ok(&hub))
            })
            .merge(deleter(false, move |sof, client, id| Box::pin(sof.delete_hub(api, client, id)))),
        )
}

/// The routes of `api`'s hub alone, at `base`.
pub fn hub_router(state: SofState, base: &str, api: LegatoApi) -> Router {
    Router::new().nest(base, hub_routes(api).with_state(state))
}
