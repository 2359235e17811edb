//! Allegro (customer ↔ SOF), lso's own design since MEF publishes no Allegro file for it
//! (`docs/allegro.md`, OpenAPI at `/mefApi/allegro/serviceControl/v1/openapi.json`): a customer
//! reads the services realising its products, with what it may change and the faults on their
//! path, and changes a running service within its policy (the CIR of a connection) without a
//! product order. The customer is a Buyer of this Seller on Cantata or Sonata, with its own
//! token; it sees the services of its own products only.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use lso_bus::Bus;
use lso_http::{ApiError, Authenticator, MefBody, Paging, Principal, QueryParams, json_response, list_response};
use lso_model::query::Selection;
use lso_model::{Irp, Tenant};
use lso_sof::{PolicyChange, SERVICE, SERVICE_ORDER, Sof};
use serde_json::{Value, json};
use std::sync::Arc;

mod faults;

pub use faults::{ServiceFaults, fault_of};

/// The base path of Allegro service control.
pub const BASE: &str = "/mefApi/allegro/serviceControl/v1";
/// The OpenAPI description of Allegro service control.
pub const OPENAPI: &str = include_str!("../../../docs/allegro.openapi.json");

/// The legs of off-net services that partner operators carry, as Allegro needs them: a change
/// of a customer's service is made on the partner's leg first, and the partner's faults on its
/// leg are the customer's too. `lso_partners` implements it.
pub trait PartnerLegs: Send + Sync {
    /// Changes the partner's leg of off-net product `product`, if it has one, to the CIR and
    /// CE-VLANs asked for, and waits until the partner has made the change. A change the
    /// partner refuses is refused with its reason (422); one it cannot make in time, with 409.
    fn change_leg<'a>(
        &'a self,
        product: &'a str,
        cir_mbps: Option<i64>,
        ce_vlans: Option<&'a [i64]>,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
    /// The faults a partner shows on its leg of off-net product `product`, each marked with
    /// the partner's name; none if the product has no leg at a partner.
    fn partner_faults<'a>(&'a self, product: &'a str) -> BoxFuture<'a, Vec<Value>>;
}

/// A boxed future, so that [`PartnerLegs`] can be used as `dyn PartnerLegs`.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Who calls: a customer over Allegro, or a partner operator over Interlude.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A Buyer of this Seller on Cantata or Sonata, about the services of its products.
    Allegro,
    /// An operator that bought from this Seller over Sonata, about the services of those
    /// products (`docs/interlude.md`).
    Interlude,
}

/// The base path of Interlude service control.
pub const INTERLUDE_BASE: &str = "/mefApi/interlude/serviceControl/v1";
/// The base path of Interlude service control notifications, on the listener's side.
pub const INTERLUDE_NOTIFICATION_BASE: &str = "/mefApi/interlude/serviceControlNotification/v1";

impl Audience {
    /// The base path of its service control API.
    fn base(self) -> &'static str {
        match self {
            Audience::Allegro => BASE,
            Audience::Interlude => INTERLUDE_BASE,
        }
    }

    /// The base path of its service control notifications, on the listener's side.
    fn notification_base(self) -> &'static str {
        match self {
            Audience::Allegro => "/mefApi/allegro/serviceControlNotification/v1",
            Audience::Interlude => INTERLUDE_NOTIFICATION_BASE,
        }
    }

    /// The key under which the SOF keeps what `tenant` (a Buyer of this Seller) does as this
    /// audience: its jobs, reports and hubs.
    fn client(self, tenant: &Tenant) -> String {
        tenant.key_at(self.name())
    }

    fn irps(self) -> &'static [Irp] {
        match self {
            Audience::Allegro => &[Irp::Cantata, Irp::Sonata],
            Audience::Interlude => &[Irp::Sonata],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Audience::Allegro => "allegro",
            Audience::Interlude => "interlude",
        }
    }
}

/// What the Allegro and Interlude routes need.
#[derive(Clone)]
pub struct AllegroState {
    /// Whom the routes serve.
    pub audience: Audience,
    /// The business applications (whose products the services realise).
    pub bus: Arc<Bus>,
    /// The service orchestration.
    pub sof: Arc<Sof>,
    /// Infrastructure control (which services an alarm touches).
    pub icm: Arc<lso_icm::Icm>,
    /// The alarms element control has raised.
    pub alarms: Arc<lso_ecm::Alarms>,
    /// Checks bearer tokens.
    pub auth: Arc<Authenticator>,
    /// The Sellers this server represents.
    pub sellers: Arc<Vec<String>>,
    /// The partners carrying legs of off-net services, if any.
    pub partners: Option<Arc<dyn PartnerLegs>>,
}

/// Everything `state`'s audience is served: service control and its hub, Performance
/// Monitoring and Streaming Management; `origin` is this server's root URL.
pub fn routers(state: AllegroState, origin: &str) -> Router {
    let audience = state.audience;
    let callers = lso_api_legato::SofState {
        sof: state.sof.clone(),
        auth: state.auth.clone(),
        audience: Arc::new(ServicePm(state.clone())),
    };
    let point = audience.name();
    router(state)
        .merge(lso_api_legato::hub_router(callers.clone(), audience.base(), lso_sof::LegatoApi::ServiceControl))
        .merge(lso_api_legato::pm::router(callers.clone(), &format!("/mefApi/{point}/performanceMonitoring/v2")))
        .merge(lso_api_legato::streaming::router(callers, &format!("/mefApi/{point}/streamingManagement/v1"), origin))
}

/// The service control routes of `state`'s audience.
fn router(state: AllegroState) -> Router {
    let base = state.audience.base();
    let routes = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/service", get(list_services))
        .route("/service/{id}", get(retrieve_service))
        .route("/serviceChange", get(list_changes).post(create_change))
        .route("/serviceChange/{id}", get(retrieve_change));
    Router::new().nest(base, routes.with_state(state))
}

/// `GET /openapi.json`: this API's description (Interlude's differs in its audience alone).
async fn openapi(State(state): State<AllegroState>) -> Response {
    let mut document: Value = serde_json::from_str(OPENAPI).unwrap_or(Value::Null);
    if state.audience == Audience::Interlude {
        document["servers"] = json!([{"url": INTERLUDE_BASE}]);
        document["info"]["title"] = json!("lso Interlude service control (SOF ↔ partner SOF)");
        document["info"]["description"] = json!(
            "A partner operator that bought products from this Seller over Sonata reads the services realising them (what it may change, within which range, and the faults on their path) and changes a running service within its policy (the CIR, the CE-VLANs at the UNI) without a product order. lso's own (docs/interlude.md). Every operation needs the partner's Sonata bearer token; errors are MEF error bodies."
        );
    }
    lso_http::ok(&document)
}

/// The customer a request is from: the Buyer's tenants on both reference points.
pub struct Customer(Vec<Tenant>);

/// A customer acts for the Buyer `buyerId` (and Seller `sellerId`) name, on every reference
/// point the audience covers.
impl lso_http::Callers for AllegroState {
    type Acting = Customer;

    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    fn acting_for(&self, principal: &Principal, query: &mut QueryParams) -> Result<Customer, ApiError> {
        let buyer = query.single("buyerId")?;
        let seller = query.single("sellerId")?;
        let mut tenants = Vec::new();
        for irp in self.audience.irps() {
            let party = lso_http::resolve_party(principal, *irp, &self.sellers, buyer.clone(), seller.clone())?;
            tenants.extend(party.tenant);
        }
        Ok(Customer(tenants))
    }
}

impl AllegroState {
    /// Whether product `id` is the customer's.
    async fn owns(&self, customer: &Customer, id: &str) -> Result<bool, ApiError> {
        for tenant in &customer.0 {
            match self.bus.product(Some(&tenant.key()), id).await {
                Ok(_) => return Ok(true),
                Err(lso_bus::BusError::NotFound(_)) => {}
                Err(other) => return Err(lso_http::api_error(other)),
            }
        }
        Ok(false)
    }

    /// Service `id`, if it realises one of the customer's products.
    async fn service(&self, customer: &Customer, id: &str) -> Result<Value, ApiError> {
        let missing = || ApiError::NotFound(format!("no service `{id}` of yours"));
        let service = match self.sof.document(SERVICE, lso_bus::LEGATO_CLIENT, id).await {
            Ok(service) => service,
            Err(lso_sof::SofError::NotFound(_)) => return Err(missing()),
            Err(other) => return Err(lso_http::api_error(other)),
        };
        let product = service["externalId"].as_str().unwrap_or_default();
        if self.owns(customer, product).await? { Ok(service) } else { Err(missing()) }
    }

    /// The services realising `product`, if it is one of the customer's (none otherwise): one
    /// product read and one service query, whatever the number of the customer's products.
    async fn services_of(&self, customer: &Customer, product: &str) -> Result<Vec<Value>, ApiError> {
        if !self.owns(customer, product).await? {
            return Ok(Vec::new());
        }
        self.sof.find_services(lso_bus::LEGATO_CLIENT, product).await.map_err(lso_http::api_error)
    }

    /// Every service realising one of the customer's products, newest product first.
    async fn services(&self, customer: &Customer) -> Result<Vec<Value>, ApiError> {
        let mut services = Vec::new();
        for tenant in &customer.0 {
            let (products, _) = self
                .bus
                .list_products(Selection { tenant: Some(tenant.key()), filters: Vec::new(), offset: 0, limit: 10_000 })
                .await
                .map_err(lso_http::api_error)?;
            for product in products {
                let found =
                    self.sof.find_services(lso_bus::LEGATO_CLIENT, &product.id).await.map_err(lso_http::api_error)?;
                services.extend(found);
            }
        }
        Ok(services)
    }

    /// The faults raised and not cleared, by the services whose path they are on: worked out
    /// once per request, whatever number of services it shows.
    async fn faults(&self) -> std::collections::HashMap<String, Vec<Value>> {
        let mut by_service: std::collections::HashMap<String, Vec<Value>> = Default::default();
        for alarm in self.alarms.active() {
            for service in self.icm.affected_by(&alarm).await {
                by_service.entry(service).or_default().push(fault_of(&alarm));
            }
        }
        by_service
    }

    /// The customer's view of `service`: what it may change within which range, and the faults
    /// on its path (from `faults`, by service).
    async fn view(
        &self,
        service: &Value,
        faults: &std::collections::HashMap<String, Vec<Value>>,
    ) -> Result<Value, ApiError> {
        let id = service["id"].as_str().unwrap_or_default();
        let policy = match self.sof.policy_of(id).await {
            Ok(policy) => policy,
            Err(lso_sof::SofError::NotFound(_)) => Value::Null,
            Err(other) => return Err(lso_http::api_error(other)),
        };
        let configuration = &service["serviceConfiguration"];
        let ce_vlans =
            lso_sof::ce_vlan_endpoints(configuration).first().map(|&n| configuration["endPoints"][n]["vlans"].clone());
        let attributes = [
            ("cirMbps", configuration["cirMbps"].clone(), "Mbps"),
            ("ceVlans", ce_vlans.unwrap_or(Value::Null), "VLAN ID"),
        ];
        let changeable: Vec<Value> = attributes
            .into_iter()
            .filter_map(|(name, value, unit)| {
                let (min, max) = lso_sof::policy_range(&policy, name)?;
                Some(json!({"name": name, "value": value, "minimum": min, "maximum": max, "unit": unit}))
            })
            .collect();
        let mut faults = faults.get(id).cloned().unwrap_or_default();
        // An off-net EVC shows the faults on the partner's leg too, as its Interlude shows them.
        if let Some(partners) = &self.partners {
            faults.extend(partners.partner_faults(service["externalId"].as_str().unwrap_or_default()).await);
        }
        let mut view = json!({
            "id": id, "href": format!("{}/service/{id}", self.audience.base()), "productId": service["externalId"],
            "serviceType": configuration["@type"], "state": service["state"], "serviceConfiguration": configuration,
            "changeable": changeable, "fault": faults,
        });
        if let Some(interface) = self.sof.interface_of(id).await.map_err(lso_http::api_error)? {
            view["interface"] = json!(interface);
        }
        for date in ["startDate", "endDate"] {
            if let Some(value) = service.get(date) {
                view[date] = value.clone();
            }
        }
        Ok(view)
    }
}

/// A change as the customer sees it (at `base`), from the service order making it.
fn change_view(base: &str, order: &Value) -> Value {
    let item = &order["serviceOrderItem"][0];
    let service = item["service"]["id"].as_str().unwrap_or_default();
    let id = order["id"].as_str().unwrap_or_default();
    // A partial or rejected order of one item did not make the change.
    let state = order["state"].as_str().filter(|s| matches!(*s, "acknowledged" | "inProgress" | "completed"));
    let state = state.unwrap_or("failed");
    let mut view = json!({
        "id": id, "href": format!("{base}/serviceChange/{id}"),
        "service": {"id": service, "href": format!("{base}/service/{service}")},
        "cirMbps": item["service"]["serviceConfiguration"]["cirMbps"], "state": state, "requestedDate": order["orderDate"],
    });
    let configuration = &item["service"]["serviceConfiguration"];
    if let Some(&n) = lso_sof::ce_vlan_endpoints(configuration).first() {
        view["ceVlans"] = configuration["endPoints"][n]["vlans"].clone();
    }
    if let Some(done) = order.get("completionDate") {
        view["completionDate"] = done.clone();
    }
    if let Some(reason) = item["terminationError"][0]["value"].as_str() {
        view["reason"] = json!(reason);
    }
    view
}

/// `listService`: the services realising the customer's products; `state` and `productId`
/// select them.
async fn list_services(caller: lso_http::Caller<AllegroState>) -> Result<Response, ApiError> {
    let lso_http::Caller { state, acting: customer, mut query, .. } = caller;
    let wanted_state = query.single("state")?;
    let product = query.single("productId")?;
    let paging = Paging::from_query(&mut query)?;
    query.finish()?;
    let services = match &product {
        Some(product) => state.services_of(&customer, product).await?,
        None => state.services(&customer).await?,
    };
    let services: Vec<Value> =
        services.into_iter().filter(|s| wanted_state.as_ref().is_none_or(|w| s["state"] == w.as_str())).collect();
    let faults = state.faults().await;
    let mut page = Vec::new();
    for service in services.iter().skip(paging.offset as usize).take(paging.limit as usize) {
        page.push(state.view(service, &faults).await?);
    }
    Ok(list_response(&page, (services.len() as u64).into(), paging))
}

/// `retrieveService`.
async fn retrieve_service(
    caller: lso_http::Caller<AllegroState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (state, customer) = caller.plain()?;
    let service = state.service(&customer, &id).await?;
    Ok(lso_http::ok(&state.view(&service, &state.faults().await).await?))
}

/// A change a customer asks for.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChangeRequest {
    service: ServiceRef,
    cir_mbps: Option<i64>,
    ce_vlans: Option<Vec<i64>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceRef {
    id: String,
}

/// `createServiceChange`: changes a running service within its policy; outside it, a 422
/// naming the range allowed.
async fn create_change(
    caller: lso_http::Caller<AllegroState>,
    body: MefBody<ChangeRequest>,
) -> Result<Response, ApiError> {
    let (state, customer) = caller.plain()?;
    let request = body.typed;
    let service = state.service(&customer, &request.service.id).await.map_err(|err| match err {
        ApiError::NotFound(reason) => ApiError::unprocessable(lso_model::Violation::new(
            lso_model::ViolationCode::ReferenceNotFound,
            "/service/id",
            reason,
        )),
        other => other,
    })?;
    let id = service["id"].as_str().unwrap_or_default();
    let change = PolicyChange {
        by: state.audience.name().into(),
        cir_mbps: request.cir_mbps,
        ce_vlans: request.ce_vlans.clone(),
    };
    // An EVC with a leg at a partner: checked here, then the partner's leg changed first over
    // its Interlude, so a change the partner refuses changes nothing.
    if let Some(partners) = &state.partners
        && state.audience == Audience::Allegro
    {
        state.sof.check_change(lso_bus::LEGATO_CLIENT, id, &change).await.map_err(lso_http::api_error)?;
        let product = service["externalId"].as_str().unwrap_or_default();
        partners.change_leg(product, request.cir_mbps, request.ce_vlans.as_deref()).await?;
    }
    let order =
        state.sof.change_within_policy(lso_bus::LEGATO_CLIENT, id, &change).await.map_err(lso_http::api_error)?;
    Ok(json_response(StatusCode::CREATED, &change_view(state.audience.base(), &order)))
}

/// `retrieveServiceChange`.
async fn retrieve_change(caller: lso_http::Caller<AllegroState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (state, customer) = caller.plain()?;
    let missing = || ApiError::NotFound(format!("no service change `{id}` of yours"));
    let order = match state.sof.document(SERVICE_ORDER, lso_bus::LEGATO_CLIENT, &id).await {
        Ok(order) if Sof::is_policy_change(&order) => order,
        Ok(_) | Err(lso_sof::SofError::NotFound(_)) => return Err(missing()),
        Err(other) => return Err(lso_http::api_error(other)),
    };
    let service = order["serviceOrderItem"][0]["service"]["id"].as_str().unwrap_or_default();
    state.service(&customer, service).await.map_err(|_| missing())?;
    Ok(lso_http::ok(&change_view(state.audience.base(), &order)))
}

/// `listServiceChange`: the changes of the customer's services, newest first; `service.id`
/// and `state` select them.
async fn list_changes(caller: lso_http::Caller<AllegroState>) -> Result<Response, ApiError> {
    let lso_http::Caller { state, acting: customer, mut query, .. } = caller;
    let service = query.single("service.id")?;
    let wanted_state = query.single("state")?;
    let paging = Paging::from_query(&mut query)?;
    query.finish()?;
    let services = match service {
        Some(id) => match state.service(&customer, &id).await {
            Ok(service) => vec![service],
            Err(ApiError::NotFound(_)) => Vec::new(),
            Err(other) => return Err(other),
        },
        None => state.services(&customer).await?,
    };
    let mut changes = Vec::new();
    for service in &services {
        let id = service["id"].as_str().unwrap_or_default();
        let orders = state.sof.changes_of(lso_bus::LEGATO_CLIENT, id).await.map_err(lso_http::api_error)?;
        changes.extend(orders.iter().map(|o| change_view(state.audience.base(), o)));
    }
    changes.retain(|c| wanted_state.as_ref().is_none_or(|w| c["state"] == w.as_str()));
    changes.sort_by(|a, b| b["requestedDate"].as_str().cmp(&a["requestedDate"].as_str()));
    let page: Vec<Value> = changes.iter().skip(paging.offset as usize).take(paging.limit as usize).cloned().collect();
    Ok(list_response(&page, (changes.len() as u64).into(), paging))
}

/// Performance Monitoring for customers (Allegro) and partners (Interlude): each measures the
/// UNIs of its own services, and keeps its own jobs and reports; profiles are the Seller's
/// administrators' (W143 R7).
struct ServicePm(AllegroState);

impl lso_api_legato::SofAudience for ServicePm {
    fn client(&self, principal: &Principal, query: &mut QueryParams) -> Result<String, ApiError> {
        let customer = lso_http::Callers::acting_for(&self.0, principal, query)?;
        let tenant = customer.0.first().ok_or(ApiError::BadRequest {
            code: lso_http::BadRequestCode::MissingQueryParameter,
            reason: "`buyerId` names the Buyer to act for".into(),
        })?;
        Ok(self.0.audience.client(tenant))
    }

    fn administers(&self, principal: &Principal) -> bool {
        principal.is_operator()
    }

    fn may_measure<'a>(
        &'a self,
        client: &'a str,
        name: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, ApiError>> + Send + 'a>> {
        Box::pin(async move {
            let Some((_, seller, buyer)) = lso_model::party_of_key(client) else { return Ok(false) };
            let tenants = self.0.audience.irps().iter().map(|irp| Tenant {
                irp: *irp,
                seller: seller.into(),
                buyer: buyer.into(),
            });
            for service in self.0.services(&Customer(tenants.collect())).await? {
                let id = service["id"].as_str().unwrap_or_default();
                if self.0.sof.interface_of(id).await.map_err(lso_http::api_error)?.as_deref() == Some(name) {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }
}
